//! What runs beside a workload (nothing, the agent, a probe-only hook
//! design, Linux audit), starting it, and the agent's own counters read
//! around each workload.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use vigil_tests::Agent;

use super::usage::Usage;
use super::{auditd, Counted};

/// What runs beside the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Condition {
    Without,
    Vigil,
    RawSysEnter,
    Auditd,
    /// The agent with `--watch-untraceable` (global `raw_syscalls/sys_exit`),
    /// measured on the getpid workload only.
    VigilUntraceable,
    /// Empty programs on `openat`'s tracepoints (`vigil bench-hook
    /// open-tracepoints`), measured on the open+close workload only: the
    /// floor under the sensor's open hooks.
    OpenHooks,
}

impl Condition {
    pub fn key(self) -> &'static str {
        match self {
            Condition::Without => "without",
            Condition::Vigil => "vigil",
            Condition::RawSysEnter => "raw_sys_enter",
            Condition::Auditd => "auditd",
            Condition::VigilUntraceable => "vigil_untraceable",
            Condition::OpenHooks => "open_hooks",
        }
    }

    /// The workload a condition is limited to, if any.
    pub fn only_workload(self) -> Option<&'static str> {
        match self {
            Condition::VigilUntraceable => Some("getpid"),
            Condition::OpenHooks => Some("open_close"),
            _ => None,
        }
    }

    /// The `vigil bench-hook` design of a probe-only condition.
    pub fn bench_hook(self) -> Option<&'static str> {
        match self {
            Condition::RawSysEnter => Some("raw-sys-enter"),
            Condition::OpenHooks => Some("open-tracepoints"),
            _ => None,
        }
    }
}

pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Longer than the agent's one-second publishing of `/metrics`.
const PUBLISH_WAIT: Duration = Duration::from_millis(1500);
/// How long the agent runs before its idle memory is read.
pub const IDLE_SETTLE: Duration = Duration::from_secs(3);

/// What runs beside one block of workloads.
pub enum Beside {
    Nothing,
    /// The agent, and its `/metrics` listener for vigil itself.
    Agent(Agent, Option<SocketAddr>),
    Audit(auditd::Audit),
}

pub fn start_condition(cond: Condition, agent_args: &[String], audit_dir: &Path) -> Result<Beside> {
    let mut listen = None;
    let args: Vec<String> = match cond {
        Condition::Without => return Ok(Beside::Nothing),
        Condition::Auditd => return Ok(Beside::Audit(auditd::Audit::start(audit_dir)?)),
        Condition::Vigil | Condition::VigilUntraceable => {
            let addr = SocketAddr::from(([127, 0, 0, 1], vigil_tests::http::free_port()?));
            listen = Some(addr);
            [
                "run",
                "--stats-interval",
                "3600",
                "--listen",
                &addr.to_string(),
            ]
            .iter()
            .map(|s| s.to_string())
            .chain(agent_args.iter().cloned())
            .chain((cond == Condition::VigilUntraceable).then(|| "--watch-untraceable".to_string()))
            .collect()
        }
        Condition::RawSysEnter | Condition::OpenHooks => {
            let hook = cond.bench_hook().unwrap_or_default();
            vec!["bench-hook".into(), hook.into()]
        }
    };
    let agent = Agent::builder(&args)
        .echo(false)
        .ready_timeout(READY_TIMEOUT)
        .start()
        .with_context(|| format!("starting vigil {}", args.join(" ")))?;
    Ok(Beside::Agent(agent, listen))
}

/// The agent's CPU ticks and records read so far (vigil condition only).
pub fn counters(cond: Condition, beside: &Beside) -> Result<Option<Counted>> {
    let Beside::Agent(agent, Some(addr)) = beside else {
        return Ok(None);
    };
    if cond != Condition::Vigil {
        return Ok(None);
    }
    // The agent publishes its counters once a second while the ring is
    // quiet: wait for that, so a workload's records are all counted.
    std::thread::sleep(PUBLISH_WAIT);
    let cpu_ticks = Usage::read(agent.pid())?.cpu_ticks;
    let r = vigil_tests::http::get(*addr, "/metrics")?;
    Ok(Some(Counted {
        iterations: 0,
        records: records_in(&r.body),
        cpu_ticks,
    }))
}

/// The sum of `vigil_events_total` (every kind) in a `/metrics` text.
fn records_in(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("vigil_events_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Whether the agent's hidden `bench-hook` command attaches `hook`
/// (`raw-sys-enter`, `open-tracepoints`).
pub fn probe_hook(hook: &str) -> Result<(), String> {
    let what = format!("`vigil bench-hook {hook}`");
    match Agent::builder(["bench-hook", hook])
        .echo(false)
        .ready_timeout(READY_TIMEOUT)
        .start()
    {
        Ok(agent) => {
            agent
                .stop()
                .map_err(|e| format!("{what} did not stop: {e}"))?;
            Ok(())
        }
        Err(e) => {
            let text = e.to_string();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let first = text.lines().next().unwrap_or("").trim_end_matches(':');
            Err(format!(
                "{what} is not available ({first}: {last}); it should attach its probe-only \
                 programs, log `ready`, and exit 0 on SIGTERM"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_records_from_metrics() {
        let text = "# HELP vigil_events Events.\n# TYPE vigil_events counter\n\
                    vigil_events_total{kind=\"exec\"} 3\nvigil_events_total{kind=\"open\"} 40\n\
                    vigil_kernel_drops_total{kind=\"open\"} 9\n";
        assert_eq!(records_in(text), 43);
        assert_eq!(records_in(""), 0);
    }
}
