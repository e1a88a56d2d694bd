//! Arguments shared by several commands: the inputs and filters of
//! `vigil log`/`vigil replay`, and the `--record*` flags of `vigil run`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use vigil::query::{parse_time, Query};
use vigil::record::RecordConfig;

#[derive(Args, Debug)]
pub struct FilterArgs {
    /// Log directories and/or segment files (`*.vlog`), read in the order given.
    #[arg(required = true, value_name = "DIR|FILE")]
    pub paths: Vec<PathBuf>,
    /// Only events at or after T: RFC 3339 (2026-11-22T06:18:23Z), an age (10m, 2h, 1d ago) or ns since the epoch.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only events before T (same forms as --since).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Only events of this container: id prefix, name, or `host`.
    #[arg(long, value_name = "ID|NAME")]
    pub container: Option<String>,
    /// Only events of this process id.
    #[arg(long, value_name = "N")]
    pub pid: Option<u32>,
    /// Only events of these types (evt.type: execve, openat, procexit, ...); repeat or comma-separate.
    #[arg(long = "type", value_name = "EVT", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Only events for which this rule-language condition holds, e.g.
    /// 'proc.name = cat and fd.name startswith /etc' (the default rules'
    /// macros and lists may be used).
    #[arg(long = "where", value_name = "CONDITION")]
    pub condition: Option<String>,
}

impl FilterArgs {
    pub fn query(&self) -> anyhow::Result<Query> {
        let now = vigil_recorder::writer::now_ns();
        let t = |s: &Option<String>| s.as_deref().map(|s| parse_time(s, now)).transpose();
        let (since, until) = (t(&self.since)?, t(&self.until)?);
        if let (Some(a), Some(b)) = (since, until) {
            anyhow::ensure!(a < b, "--since must be before --until");
        }
        let condition = match &self.condition {
            None => None,
            Some(text) => {
                let spec = vigil::engine::RuleSpec::default();
                let (rules, _) = spec.load().map_err(|e| {
                    anyhow::anyhow!("{}", vigil::engine::error_lines(&e).join("\n"))
                })?;
                let filter = rules.filter(text).map_err(|e| {
                    anyhow::anyhow!(
                        "invalid --where condition:\n{}",
                        vigil::engine::error_lines(&e).join("\n")
                    )
                })?;
                Some(vigil::query::Condition {
                    filter,
                    hostname: vigil::engine::hostname(),
                })
            }
        };
        Ok(Query {
            since,
            until,
            container: self.container.clone(),
            pid: self.pid,
            types: self.types.clone(),
            condition,
        })
    }
}

/// The flight recorder flags of `vigil run`.
#[derive(Args, Debug, Default)]
pub struct RecordArgs {
    /// Record every event to a segmented, checksummed log in DIR (docs/log-format.md).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Start a new segment before one exceeds this size (K/M/G/KiB/MiB/GiB).
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size, requires = "record")]
    pub record_segment_size: u64,
    /// Start a new segment once the current one is this old (s/m/h/d).
    #[arg(long, value_name = "AGE", default_value = "1h", value_parser = parse_duration, requires = "record")]
    pub record_segment_age: Duration,
    /// Delete the oldest segments while the log is larger (`none`: never).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_opt_size, requires = "record")]
    pub record_retention_size: Limit<u64>,
    /// Delete segments older than this (`none`: never).
    #[arg(long, value_name = "AGE", default_value = "24h", value_parser = parse_opt_duration, requires = "record")]
    pub record_retention_age: Limit<Duration>,
}

impl RecordArgs {
    pub fn config(&self) -> RecordConfig {
        RecordConfig {
            segment_bytes: self.record_segment_size,
            segment_age: self.record_segment_age,
            retention_bytes: self.record_retention_size.0,
            retention_age: self.record_retention_age.0,
        }
    }
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 64MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        u => {
            return Err(format!(
                "unknown size unit {u:?} (use K, M, G, T, KiB, MiB, GiB, TiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30m"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: use a number with s, m, h or d")),
    };
    let d = Duration::from_secs(n.checked_mul(secs).ok_or("too long")?);
    if d.is_zero() {
        return Err("must be positive".into());
    }
    Ok(d)
}

/// A limit that may be switched off with `none` (a newtype, because clap
/// reads a field of type `Option` as "flag may be absent").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limit<T>(pub Option<T>);

fn parse_opt_size(s: &str) -> Result<Limit<u64>, String> {
    if s == "none" {
        return Ok(Limit(None));
    }
    parse_size(s).map(|v| Limit(Some(v)))
}

fn parse_opt_duration(s: &str) -> Result<Limit<Duration>, String> {
    if s == "none" {
        return Ok(Limit(None));
    }
    parse_duration(s).map(|v| Limit(Some(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1_000_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12parsecs").unwrap_err().contains("unit"));
        assert!(parse_size("MiB").is_err());
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1w").is_err());
        assert_eq!(parse_opt_size("none"), Ok(Limit(None)));
        assert_eq!(parse_opt_duration("none"), Ok(Limit(None)));
    }

    #[test]
    fn defaults_are_the_recorders() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            r: RecordArgs,
        }
        let t = T::try_parse_from(["t", "--record", "/tmp/x"]).unwrap();
        assert_eq!(t.r.config(), RecordConfig::default());
        assert!(T::try_parse_from(["t", "--record-segment-size", "1MiB"]).is_err());
    }
}
