//! The bench's flood section: one process floods the agent with the
//! sensitive open for a minute, beside an agent with its defaults and
//! recording on; what reached it, was throttled, was lost, and what the
//! agent and its log cost.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Result};
use vigil_tests::{Agent, AgentStats};

use super::usage::{self, Usage};
use super::worker::Workload;
use super::{cgroup, report, run_worker, BenchArgs, READY_TIMEOUT};

/// The flood: one process of the sandbox opens the sensitive file as fast
/// as it can for `--flood-seconds`, beside an agent with its defaults and
/// recording on. Reports what reached the agent, what the kernel held back
/// (throttled) and what it lost, per kind.
pub fn run(args: &BenchArgs, sandbox: &cgroup::Sandbox, out_dir: &Path) -> Result<report::Flood> {
    let rec = out_dir.join("flood-record");
    let _ = std::fs::remove_dir_all(&rec);
    let mut agent_args = vec![
        "run".to_string(),
        "--stats-interval".into(),
        "3600".into(),
        "--record".into(),
        rec.display().to_string(),
    ];
    agent_args.extend(args.agent_args.iter().cloned());
    let agent = Agent::builder(&agent_args)
        .echo(false)
        .ready_timeout(READY_TIMEOUT)
        .start()?;
    println!(
        "bench: flood: {} s of opens as fast as they go",
        args.flood_seconds
    );
    let start = Usage::read(agent.pid())?;
    let (sample, max_rss_kib) = max_rss_while(agent.pid(), || {
        run_worker(
            sandbox,
            &Workload::Rate {
                path: args.sensitive_path.clone(),
                // Beyond any machine: as fast as it can.
                rate: 1_000_000_000,
                seconds: args.flood_seconds as f64,
            },
        )
    })?;
    std::thread::sleep(Duration::from_millis(500));
    let end = Usage::read(agent.pid())?;
    let stopped = agent.stop()?;
    let stats: AgentStats = match stopped.stats {
        Some(s) => s?,
        None => bail!("the agent printed no final `stats` line"),
    };
    let record_bytes = dir_bytes(&rec);
    let cpu_seconds =
        end.cpu_ticks.saturating_sub(start.cpu_ticks) as f64 / usage::ticks_per_second();
    let _ = std::fs::remove_dir_all(&rec);
    let flood = report::Flood {
        seconds: args.flood_seconds,
        opens: sample.iterations,
        opens_per_second: sample.per_second(),
        records: stats.records,
        throttled: stats.throttled,
        kernel_drops: stats.kernel_drops.clone(),
        total_drops: stats.total_drops,
        record_bytes,
        logged_events: stats.recorder.as_ref().map_or(0, |r| r.written),
        rss_mib: end.rss_mib(),
        max_rss_mib: max_rss_kib as f64 / 1024.0,
        peak_rss_mib: end.peak_rss_kib as f64 / 1024.0,
        agent_cpu_seconds: cpu_seconds,
    };
    println!(
        "bench: flood: {} opens ({:.0}/s), {} records, {} throttled, drops {:?}",
        flood.opens, flood.opens_per_second, flood.records, flood.throttled, flood.kernel_drops
    );
    Ok(flood)
}

/// Runs `f`, sampling the resident memory of process `pid` every 250 ms
/// meanwhile; returns `f`'s result and the highest sample (KiB). `VmHWM`
/// would not do: start-up's peak is in it.
fn max_rss_while<T>(pid: u32, f: impl FnOnce() -> Result<T>) -> Result<(T, u64)> {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut max = 0;
            while !done.load(Ordering::Relaxed) {
                if let Ok(u) = Usage::read(pid) {
                    max = max.max(u.rss_kib);
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            max
        });
        let r = f();
        done.store(true, Ordering::Relaxed);
        let max = sampler.join().unwrap_or(0);
        Ok((r?, max))
    })
}

/// Bytes of the files in `dir` (a recorded log).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}
