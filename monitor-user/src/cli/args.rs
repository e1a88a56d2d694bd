//! The flags several subcommands share, and their parsers: which rules run
//! and where alerts and event lines go ([`AlertArgs`], [`open_events`]; one
//! definition, so a replay is set up exactly like the live run it
//! reproduces), the log filters of `vigil log` and `vigil replay`
//! ([`FilterArgs`]), the recorder flags of `vigil run` ([`RecordArgs`]), and
//! the size, duration and ring-size parsers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use monitor_stateful::units;
use monitor_user::detect::{self, Detector, Reloader, RuleSpec};
use monitor_user::pipeline::alerts::Alerting;
use monitor_user::pipeline::query::{parse_time, Query};
use monitor_user::sink::events::EventsFormat;
use monitor_user::sink::output::{Fanout, FileOptions, OutputSpec};
use monitor_user::sink::recorder::RecordConfig;
use monitor_user::sink::throttle::AlertRate;
use monitor_user::sink::writer::{AlertSink, Delivery};
use tokio::io::AsyncWrite;

#[derive(Args, Debug)]
pub struct AlertArgs {
    /// Extra rule file or directory, loaded after the defaults in the order
    /// given; may append to or override earlier rules, lists and macros
    /// (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Do not load the embedded default rules.
    #[arg(long)]
    pub no_default_rules: bool,
    /// Append alerts (Falco JSON lines) to FILE instead of writing them to
    /// stdout; the same as `--output file:FILE`.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// Send alerts to an output (repeatable; several at once, each with its
    /// own queue): `stdout`, `file:PATH`, `http:URL`, `syslog[:ADDRESS]`,
    /// then `,key=value` options, e.g. `http:http://127.0.0.1:2801/`,
    /// `file:/var/log/vigil.json,format=ocsf,max_bytes=104857600,keep=5`,
    /// `syslog:udp://10.0.0.5:514,protocol=rfc3164`. Without any, alerts go
    /// to stdout as Falco JSON. See docs/outputs.md.
    #[arg(long = "output", value_name = "SPEC")]
    pub outputs: Vec<OutputSpec>,
    /// At exit, how long the outputs may take to deliver queued alerts.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub output_flush_timeout: Duration,
    /// Alert throttle per rule and container: each may raise BURST alerts
    /// at once, then one per SECS; the next alert written carries the
    /// count held back (`vigil.suppressed`), and the `stats` line the
    /// totals. `off` writes every alert.
    #[arg(long, value_name = "BURST/SECS|off", default_value_t = AlertRate::default())]
    pub alert_rate: AlertRate,
}

impl AlertArgs {
    /// The outputs the flags name (none: the default, stdout).
    pub fn output_specs(&self) -> Vec<OutputSpec> {
        let mut specs = self.outputs.clone();
        if let Some(p) = &self.alerts {
            specs.push(OutputSpec::File(FileOptions::new(p.clone())));
        }
        specs
    }

    /// Load the rules (a bad rule file fails here, naming file:line:column)
    /// and start the alert outputs (inside a tokio runtime): the flags'
    /// and the config file's `named` ones.
    pub fn alerting(
        &self,
        hostname: String,
        delivery: Delivery,
        named: &[(String, OutputSpec)],
    ) -> anyhow::Result<(Alerting, Reloader)> {
        let spec = RuleSpec {
            paths: self.rules.clone(),
            no_defaults: self.no_default_rules,
            strict: false,
        };
        let (rules, report) = spec
            .load()
            .map_err(|e| anyhow::anyhow!("{}", detect::error_lines(&e).join("\n")))
            .context("loading rules")?;
        detect::log_report("rules", &report);
        for l in detect::unhooked_lines(&rules) {
            log::warn!("{l}");
        }
        let mut specs: Vec<(String, OutputSpec)> = self
            .output_specs()
            .into_iter()
            .map(|s| (s.name(), s))
            .collect();
        specs.extend(named.iter().cloned());
        let fan = Fanout::start_named(&specs).context("starting the alert outputs")?;
        let sink = AlertSink::outputs(fan, delivery, self.output_flush_timeout);
        let (detector, reloader) = Detector::new(rules, spec, hostname);
        Ok((Alerting::new(detector, sink, self.alert_rate), reloader))
    }
}

/// The event lines of `vigil run` and `vigil replay`.
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Write every event as one line to FILE, or to stdout with `-`
    /// (schema: docs/events.md).
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,
    /// The --events lines: `json` (vigil's flat event JSON) or `ocsf`
    /// (OCSF Process, File System and Network Activity; docs/outputs.md).
    #[arg(
        long,
        value_name = "json|ocsf",
        default_value = "json",
        requires = "events"
    )]
    pub events_format: EventsFormat,
}

/// Where event JSON lines go.
pub type EventsOut = Box<dyn AsyncWrite + Unpin + Send>;

/// Open `--events`: nothing, stdout for `-`, or a new file.
pub async fn open_events(path: Option<&Path>) -> anyhow::Result<Option<EventsOut>> {
    Ok(match path {
        None => None,
        Some(p) if p == Path::new("-") => Some(Box::new(tokio::io::stdout())),
        Some(p) => Some(Box::new(
            tokio::fs::File::create(p)
                .await
                .with_context(|| format!("creating {}", p.display()))?,
        )),
    })
}

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
        let now = monitor_recorder::writer::now_ns();
        let t = |s: &Option<String>| s.as_deref().map(|s| parse_time(s, now)).transpose();
        let (since, until) = (t(&self.since)?, t(&self.until)?);
        if let (Some(a), Some(b)) = (since, until) {
            anyhow::ensure!(a < b, "--since must be before --until");
        }
        let condition = match &self.condition {
            None => None,
            Some(text) => {
                let spec = monitor_user::detect::RuleSpec::default();
                let (rules, _) = spec.load().map_err(|e| {
                    anyhow::anyhow!("{}", monitor_user::detect::error_lines(&e).join("\n"))
                })?;
                let filter = rules.filter(text).map_err(|e| {
                    anyhow::anyhow!(
                        "invalid --where condition:\n{}",
                        monitor_user::detect::error_lines(&e).join("\n")
                    )
                })?;
                Some(monitor_user::pipeline::query::Condition {
                    filter,
                    hostname: monitor_user::detect::hostname(),
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
    /// Syscall events one container may put in the log per kind and
    /// minute; beyond it the log keeps one `throttled` event with the
    /// count, so a flood cannot push everyone else's history out of the
    /// retention budget. Execs, forks, exits and events a rule matched
    /// are always kept (`none`: keep everything).
    #[arg(long, value_name = "N", default_value = "1000", value_parser = parse_opt_count, requires = "record")]
    pub record_budget: Limit<u32>,
}

impl RecordArgs {
    pub fn config(&self) -> RecordConfig {
        RecordConfig {
            segment_bytes: self.record_segment_size,
            segment_age: self.record_segment_age,
            retention_bytes: self.record_retention_size.0,
            retention_age: self.record_retention_age.0,
            flood_budget: self.record_budget.0,
        }
    }
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    units::parse_size(s).map_err(|e| e.to_string())
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    units::parse_duration(s).map_err(|e| e.to_string())
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

fn parse_opt_count(s: &str) -> Result<Limit<u32>, String> {
    if s == "none" {
        return Ok(Limit(None));
    }
    match s.parse::<u32>() {
        Ok(n) if n > 0 => Ok(Limit(Some(n))),
        _ => Err(format!("{s:?} is not a count above 0 or `none`")),
    }
}

fn parse_opt_duration(s: &str) -> Result<Limit<Duration>, String> {
    if s == "none" {
        return Ok(Limit(None));
    }
    parse_duration(s).map(|v| Limit(Some(v)))
}

pub fn parse_ring_bytes(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .parse()
        .map_err(|e| format!("not a number of bytes: {e}"))?;
    let page = monitor_user::sensor::page_size() as u32;
    if !n.is_power_of_two() || !n.is_multiple_of(page) {
        return Err(format!(
            "{n} is not a power of two that is a multiple of the page size ({page})"
        ));
    }
    Ok(n)
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
