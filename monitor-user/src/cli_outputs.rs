//! The output flags `vigil run` and `vigil replay` share, and their openers:
//! which rules run and where alerts go ([`AlertArgs`]), and the events
//! JSON-lines file ([`open_events`]). One definition, so a replay is set up
//! exactly like the live run it reproduces.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use tokio::io::AsyncWrite;
use vigil::alerts::AlertSink;
use vigil::engine::{self, Detector, Reloader, RuleSpec};
use vigil::throttle::AlertRate;

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
    /// Append alerts (Falco JSON lines) to FILE instead of writing them to stdout.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// Alert throttle per rule and container: each may raise BURST alerts
    /// at once, then one per SECS; the next alert written carries the
    /// count held back (`vigil.suppressed`), and the `stats` line the
    /// totals. `off` writes every alert.
    #[arg(long, value_name = "BURST/SECS|off", default_value_t = AlertRate::default())]
    pub alert_rate: AlertRate,
}

impl AlertArgs {
    /// Load the rules (a bad rule file fails here, naming file:line:column)
    /// and open the alert sink.
    pub fn detector(&self, hostname: String) -> anyhow::Result<(Detector, Reloader)> {
        let spec = RuleSpec {
            paths: self.rules.clone(),
            no_defaults: self.no_default_rules,
            strict: false,
        };
        let (rules, report) = spec
            .load()
            .map_err(|e| anyhow::anyhow!("{}", engine::error_lines(&e).join("\n")))
            .context("loading rules")?;
        engine::log_report("rules", &report);
        let sink = match &self.alerts {
            None => AlertSink::stdout(),
            Some(p) => {
                AlertSink::append_to(p).with_context(|| format!("opening {}", p.display()))?
            }
        };
        let (mut detector, reloader) = Detector::new(rules, spec, hostname, sink);
        detector.set_alert_rate(self.alert_rate);
        Ok((detector, reloader))
    }
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
