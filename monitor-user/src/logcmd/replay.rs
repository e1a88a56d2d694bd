//! `vigil replay`: recorded events through the same output stage as `vigil
//! run` ([`vigil::pipeline::Outputs`]: the same rules engine and alert
//! writer), via [`vigil::replay::replay`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use vigil::alerts::AlertSink;
use vigil::engine::{self, Detector, RuleSpec};
use vigil::pipeline::Outputs;

use super::{open_inputs, FilterArgs, Problems};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Extra rule file or directory, loaded after the defaults (repeatable), as for `vigil run`.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Do not load the embedded default rules.
    #[arg(long)]
    pub no_default_rules: bool,
    /// Append alerts (Falco JSON lines) to FILE instead of writing them to stdout.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// Alert throttle per rule and container, as for `vigil run`: a burst,
    /// then one alert per period (`BURST/SECONDS`), or `off`.
    #[arg(long, value_name = "BURST/SECS|off", default_value_t = vigil::throttle::AlertRate::default())]
    pub alert_rate: vigil::throttle::AlertRate,
    /// The `hostname` of alerts (default: this machine's; give the recording host's to reproduce its alerts exactly).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Also write every replayed event as a JSON line to FILE (`-`: stdout).
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,
}

pub fn replay(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let query = a.filter.query()?;
    let spec = RuleSpec {
        paths: a.rules.clone(),
        no_defaults: a.no_default_rules,
        strict: false,
    };
    let (rules, report) = spec
        .load()
        .map_err(|e| anyhow::anyhow!("{}", engine::error_lines(&e).join("\n")))
        .context("loading rules")?;
    engine::log_report("rules", &report);
    let sink = match &a.alerts {
        None => AlertSink::stdout(),
        Some(p) => AlertSink::append_to(p).with_context(|| format!("opening {}", p.display()))?,
    };
    let hostname = a.hostname.clone().unwrap_or_else(engine::hostname);
    let (mut detector, _reloader) = Detector::new(rules, spec, hostname, sink);
    detector.set_alert_rate(a.alert_rate);
    let log = open_inputs(&a.filter.paths, Some(&query))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut problems = Problems::default();
    let started = Instant::now();
    let (summary, alerts) = rt.block_on(async {
        let report = |e: &vigil_recorder::ReadError| problems.report(e);
        let det = Some(detector);
        match a.events.as_deref() {
            None => {
                let mut out = Outputs::new(None::<&mut tokio::io::Stdout>, det, None);
                let s = vigil::replay::replay(&log, &query, &mut out, report).await;
                s.map(|s| (s, out.alerts()))
            }
            Some(p) if p.as_os_str() == "-" => {
                let mut w = tokio::io::stdout();
                let mut out = Outputs::new(Some(&mut w), det, None);
                let s = vigil::replay::replay(&log, &query, &mut out, report).await;
                s.map(|s| (s, out.alerts()))
            }
            Some(p) => {
                let mut w = tokio::fs::File::create(p)
                    .await
                    .with_context(|| format!("creating {}", p.display()))?;
                let mut out = Outputs::new(Some(&mut w), det, None);
                let s = vigil::replay::replay(&log, &query, &mut out, report).await;
                s.map(|s| (s, out.alerts()))
            }
        }
        .map_err(anyhow::Error::from)
    })?;
    let secs = started.elapsed().as_secs_f64();
    let lost: u64 = summary.lost.values().sum();
    log::info!(
        "replayed {} of {} events in {secs:.3} s ({:.0} events/s), {alerts} alerts; {lost} events lost when recording",
        summary.replayed,
        summary.read,
        summary.read as f64 / secs.max(1e-9)
    );
    Ok(problems.exit_code())
}
