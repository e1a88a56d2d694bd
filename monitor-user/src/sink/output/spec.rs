//! What an output is, as the config file (`outputs:` list, `type:` key)
//! and the `--output TYPE[:TARGET][,KEY=VALUE]...` flag describe it: one
//! typed, serde-deserialisable spec per output type.

use std::str::FromStr;

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::{FileOptions, HttpOptions, StdoutOptions, SyslogOptions, DEFAULT_QUEUE};

/// One output, as the config file (`outputs:` list, `type:` key) or the
/// `--output` flag ([`OutputSpec::from_str`]) describes it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum OutputSpec {
    Stdout(StdoutOptions),
    File(FileOptions),
    Http(HttpOptions),
    Syslog(SyslogOptions),
}

impl OutputSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            OutputSpec::Stdout(_) => "stdout",
            OutputSpec::File(_) => "file",
            OutputSpec::Http(_) => "http",
            OutputSpec::Syslog(_) => "syslog",
        }
    }

    /// The name in logs and counters: the type and where it goes.
    pub fn name(&self) -> String {
        match self {
            OutputSpec::Stdout(_) => "stdout".into(),
            OutputSpec::File(o) => format!("file:{}", o.path.display()),
            OutputSpec::Http(o) => format!("http:{}", o.url),
            OutputSpec::Syslog(o) => format!("syslog:{}", o.address),
        }
    }

    pub(super) fn queue(&self) -> usize {
        match self {
            OutputSpec::Stdout(o) => o.queue,
            OutputSpec::File(o) => o.queue,
            OutputSpec::Http(o) => o.queue,
            OutputSpec::Syslog(o) => o.queue,
        }
        .unwrap_or(DEFAULT_QUEUE)
        .max(1)
    }
}

/// The flag syntax: `TYPE[:TARGET][,KEY=VALUE]...`, the keys those of the
/// config file (`header=` may repeat), e.g.
/// `http:http://127.0.0.1:2801/,header=Authorization: Bearer x,retries=5`,
/// `file:/var/log/vigil.json,format=ocsf,max_bytes=104857600,keep=3`,
/// `syslog:udp://10.0.0.5:514,protocol=rfc3164`, `stdout,format=ocsf`.
impl FromStr for OutputSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<OutputSpec, String> {
        let mut parts = s.split(',');
        let head = parts.next().unwrap_or_default();
        let (kind, target) = match head.split_once(':') {
            Some((k, t)) => (k, Some(t)),
            None => (head, None),
        };
        let mut m = Map::new();
        m.insert("type".into(), kind.into());
        let target_key = match kind {
            "stdout" => None,
            "file" => Some("path"),
            "http" => Some("url"),
            "syslog" => Some("address"),
            _ => {
                return Err(format!(
                    "unknown output type `{kind}` (stdout, file, http, syslog)"
                ))
            }
        };
        match (target_key, target) {
            (Some(k), Some(t)) => {
                m.insert(k.into(), t.into());
            }
            (None, Some(_)) => return Err(format!("`{kind}` takes no target (`{head}`)")),
            _ => {}
        }
        for kv in parts {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("`{kv}` is not KEY=VALUE"))?;
            if k == "header" || k == "headers" {
                let list = m
                    .entry("headers")
                    .or_insert_with(|| Json::Array(Vec::new()));
                if let Json::Array(a) = list {
                    a.push(v.into());
                }
                continue;
            }
            let value = if let Ok(n) = v.parse::<u64>() {
                Json::from(n)
            } else {
                Json::from(v)
            };
            m.insert(k.into(), value);
        }
        serde_json::from_value(Json::Object(m)).map_err(|e| format!("output `{s}`: {e}"))
    }
}
