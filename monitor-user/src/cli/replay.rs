//! `vigil replay`: recorded events through the same output stage as `vigil
//! run` ([`monitor_user::pipeline::Outputs`]: the same rules engine and alert
//! writer), via [`monitor_user::pipeline::replay::replay`].

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use monitor_user::detect;
use monitor_user::pipeline::Outputs;
use monitor_user::sink::writer::Delivery;

use super::args::{open_events, AlertArgs, EventsArgs, FilterArgs};

use super::log::{open_inputs, Problems};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub alerting: AlertArgs,
    /// The `hostname` of alerts (default: this machine's; give the recording host's to reproduce its alerts exactly).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    #[command(flatten)]
    pub events: EventsArgs,
}

pub fn replay(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let query = a.filter.query()?;
    let hostname = a.hostname.clone().unwrap_or_else(detect::hostname);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The outputs' tasks live on this runtime; a replay waits for room in
    // their queues rather than drop an alert.
    let (alerting, _reloader) = {
        let _in_rt = rt.enter();
        a.alerting.alerting(hostname, Delivery::Wait, &[])?
    };
    let log = open_inputs(&a.filter.paths, Some(&query))?;
    let mut problems = Problems::default();
    let started = Instant::now();
    let (summary, alerts) = rt.block_on(async {
        let report = |e: &monitor_recorder::ReadError| problems.report(e);
        let mut events = open_events(a.events.events.as_deref()).await?;
        let mut out = Outputs::new(events.as_mut(), Some(alerting), None);
        out.set_events_format(a.events.events_format);
        let s = monitor_user::pipeline::replay::replay(&log, &query, &mut out, report).await;
        out.close_alerts().await;
        s.map(|s| (s, out.alerts())).map_err(anyhow::Error::from)
    })?;
    let secs = started.elapsed().as_secs_f64();
    let lost: u64 = summary.lost.values().sum();
    log::info!(
        "replayed {} of {} events in {secs:.3} s ({:.0} events/s; {} of a type no rule matches, not decoded), {alerts} alerts; {lost} events lost when recording",
        summary.replayed,
        summary.read,
        summary.read as f64 / secs.max(1e-9),
        summary.passed_over
    );
    Ok(problems.exit_code())
}
