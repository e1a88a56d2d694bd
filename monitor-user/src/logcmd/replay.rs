//! `vigil replay`: recorded events through the same output stage as `vigil
//! run` ([`vigil::pipeline::Outputs`]), via [`vigil::replay::replay`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use vigil::pipeline::Outputs;

use super::{open_inputs, FilterArgs, Problems};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Also write every replayed event as a JSON line to FILE (`-`: stdout).
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,
}

pub fn replay(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let query = a.filter.query()?;
    let log = open_inputs(&a.filter.paths, Some(&query))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut problems = Problems::default();
    let started = Instant::now();
    let summary = rt.block_on(async {
        let report = |e: &vigil_recorder::ReadError| problems.report(e);
        match a.events.as_deref() {
            None => {
                let mut out = Outputs::new(None::<&mut tokio::io::Stdout>, None);
                vigil::replay::replay(&log, &query, &mut out, report).await
            }
            Some(p) if p.as_os_str() == "-" => {
                let mut w = tokio::io::stdout();
                let mut out = Outputs::new(Some(&mut w), None);
                vigil::replay::replay(&log, &query, &mut out, report).await
            }
            Some(p) => {
                let mut w = tokio::fs::File::create(p)
                    .await
                    .with_context(|| format!("creating {}", p.display()))?;
                let mut out = Outputs::new(Some(&mut w), None);
                vigil::replay::replay(&log, &query, &mut out, report).await
            }
        }
        .map_err(anyhow::Error::from)
    })?;
    let secs = started.elapsed().as_secs_f64();
    let lost: u64 = summary.lost.values().sum();
    log::info!(
        "replayed {} of {} events in {secs:.3} s ({:.0} events/s); {lost} events lost when recording",
        summary.replayed,
        summary.read,
        summary.read as f64 / secs.max(1e-9)
    );
    Ok(problems.exit_code())
}
