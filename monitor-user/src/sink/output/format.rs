//! How an output writes an alert: Falco JSON (the default, what
//! falcosidekick and Falco's own consumers read), OCSF Detection Finding
//! JSON ([`super::ocsf`]) or Falco's one-line text (`output`).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::sink::alert::Alert;

/// An output's alert format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Falco's JSON object (with vigil's `uuid`).
    #[default]
    Falco,
    /// OCSF Detection Finding (class 2004) JSON.
    Ocsf,
    /// Falco's text line: `HH:MM:SS.nnnnnnnnn: Priority message`.
    Text,
}

impl Format {
    /// The alert in this format, without a line end.
    pub fn encode(self, alert: &Alert) -> Vec<u8> {
        match self {
            Format::Falco => json_bytes(&alert.to_json()),
            Format::Ocsf => json_bytes(&super::ocsf::detection_finding(alert)),
            Format::Text => alert.output.as_bytes().to_vec(),
        }
    }

    /// The HTTP `Content-Type` of [`Format::encode`]'s bytes.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Falco | Format::Ocsf => "application/json",
            Format::Text => "text/plain",
        }
    }
}

fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("in-memory JSON serialization")
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "falco" | "json" => Ok(Format::Falco),
            "ocsf" => Ok(Format::Ocsf),
            "text" => Ok(Format::Text),
            _ => Err(format!("unknown format `{s}` (falco, ocsf or text)")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Falco => "falco",
            Format::Ocsf => "ocsf",
            Format::Text => "text",
        })
    }
}
