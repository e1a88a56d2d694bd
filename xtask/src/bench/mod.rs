//! `cargo xtask bench`: what the agent costs the workloads around it.
//!
//! A benchmark, not a test. Each workload runs without the agent and with
//! it in one invocation, in many short repetitions; within a repetition
//! the conditions run back to back (their order rotates each repetition),
//! and every ratio is the median of the per-repetition pairs (with ÷
//! without), reported with its spread. The workloads: an untraced syscall
//! loop (getpid), an open/close loop on a path the in-kernel filter drops,
//! a fork+exec loop, loopback network loops. Beside "without" and "vigil",
//! the conditions are one program on every raw `sys_enter` (`vigil
//! bench-hook raw-sys-enter`, the syscall-hook design comparison) and the
//! Linux audit subsystem with rules equivalent to vigil's hooks
//! ([`auditd`]); either is skipped, with the reason, where unavailable.
//! The getpid loop also runs beside the agent with `--watch-untraceable`
//! (a program on every syscall's exit), the opt-in's cost; the open+close
//! loop beside empty programs on `openat`'s tracepoints (`vigil bench-hook
//! open-tracepoints`), the floor under what vigil's open hooks can cost.
//! Where a cost can be counted it is: the agent's CPU ticks and the records
//! it read per workload (its `/metrics`), its resident memory ([`usage`]).
//! Then: stepped rates of sensitive opens find the highest event rate the
//! agent takes, recording, with nothing lost (from its final `stats`
//! line); a flood; the agent's idle cost beside 100 to 1,000 containers
//! ([`node`]).
//! Workloads run in a child cgroup with CPU, pid and memory limits.

mod auditd;
mod cgroup;
mod condition;
mod flood;
mod node;
mod rate;
mod report;
mod stats;
mod usage;
pub mod worker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use vigil_tests::{Agent, AgentStats};

use condition::{counters, probe_hook, start_condition, Beside, IDLE_SETTLE};
pub use condition::{Condition, READY_TIMEOUT};
use usage::Usage;
use worker::{Sample, Workload};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Repetitions per workload and condition (the report uses medians of
    /// the per-repetition ratios).
    #[arg(long, default_value_t = 9)]
    reps: usize,
    #[arg(long, default_value_t = 1_000_000)]
    getpid_iterations: u64,
    #[arg(long, default_value_t = 100_000)]
    open_iterations: u64,
    #[arg(long, default_value_t = 150)]
    exec_iterations: u64,
    /// Iterations of the TCP connect/accept and UDP send workloads (64 KiB
    /// writes for the established-flow one).
    #[arg(long, default_value_t = 5_000)]
    net_iterations: u64,
    /// Seconds per step of the event-rate test.
    #[arg(long, default_value_t = 5.0)]
    rate_seconds: f64,
    /// Event-rate steps (opens/s, comma-separated); default 1k..500k.
    #[arg(long, value_delimiter = ',')]
    rates: Vec<u64>,
    /// Ring buffer for the rate test, in bytes (default: the agent's own,
    /// 8 MiB). A step's 5 s at 300K records/s pass over 100 such rings, so
    /// it measures sustained throughput either way; a smaller ring also
    /// shows how little a burst it absorbs.
    #[arg(long)]
    rate_ring_bytes: Option<u32>,
    /// Bisection steps between the last clean rate and the first that dropped.
    #[arg(long, default_value_t = 3)]
    rate_refine: usize,
    /// A file the default open filter reports (opened read-only).
    #[arg(long, default_value = "/etc/shadow")]
    sensitive_path: PathBuf,
    /// Leave out the event-rate test.
    #[arg(long)]
    no_rate: bool,
    /// Seconds of the flood test: one process opens the sensitive file as
    /// fast as it can, with the agent's defaults (ring, throttle) and
    /// recording on; 0 leaves it out.
    #[arg(long, default_value_t = 60)]
    flood_seconds: u64,
    /// Leave out the auditd comparison.
    #[arg(long)]
    no_auditd: bool,
    /// Container counts of the node-growth section (comma-separated); each
    /// is a cgroup with a sleeping process. `0` leaves the section out.
    #[arg(long, value_delimiter = ',', default_values_t = [100, 500, 1000])]
    node_sizes: Vec<usize>,
    /// Seconds the agent idles at each node size.
    #[arg(long, default_value_t = 20.0)]
    node_idle_seconds: f64,
    /// Run only the node-growth section (no workloads, rates or flood);
    /// its results go to target/bench/node.json.
    #[arg(long)]
    only_node: bool,
    /// Use the existing target/release/vigil instead of setup + build.
    #[arg(long)]
    no_build: bool,
    /// The agent binary (default: target/release/vigil).
    #[arg(long, env = "VIGIL_BIN")]
    vigil_bin: Option<PathBuf>,
    /// Extra arguments for `vigil run`.
    #[arg(long = "agent-arg", allow_hyphen_values = true)]
    agent_args: Vec<String>,
}

/// One workload of the comparison.
pub struct WorkloadDef {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    /// Divides ns per iteration into the unit.
    pub scale: f64,
    pub workload: Workload,
}

/// Samples per (workload key, condition), in the workload's unit, one per
/// repetition in repetition order (so index i of two conditions is a pair).
pub type Samples = BTreeMap<(&'static str, Condition), Vec<f64>>;

/// What the agent did during one workload, counted (vigil condition).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counted {
    pub iterations: u64,
    /// Records it read from the ring (its `vigil_events_total`).
    pub records: u64,
    pub cpu_ticks: u64,
}

/// Counts per workload key, summed over the repetitions.
pub type Counts = BTreeMap<&'static str, Counted>;

pub fn run(root: &Path, args: &BenchArgs) -> Result<()> {
    if !args.no_build {
        crate::setup::run(root)?;
        crate::agent::build(root)?;
    }
    if !crate::sh::is_root() {
        bail!("the benchmark loads the agent's eBPF programs and needs root");
    }
    let bin = args
        .vigil_bin
        .clone()
        .unwrap_or_else(|| crate::agent::vigil_bin(root));
    if !bin.is_file() {
        bail!("{} not found: run `cargo xtask build`", bin.display());
    }
    std::env::set_var("VIGIL_BIN", &bin);
    if args.reps < 5 {
        println!(
            "bench: note: {} repetitions; medians of at least 5 are what the report is meant for",
            args.reps
        );
    }
    let out_dir = crate::agent::target_dir(root).join("bench");
    std::fs::create_dir_all(&out_dir)?;
    if args.only_node {
        let steps = node::section(args)?;
        for s in &steps {
            println!("node: {}", s.line());
        }
        let path = out_dir.join("node.json");
        std::fs::write(&path, serde_json::to_string_pretty(&steps)?)?;
        println!("bench: node section written to {}", path.display());
        return Ok(());
    }
    let plain = out_dir.join("plain-file");
    std::fs::write(&plain, "not sensitive\n")?;

    let sandbox = cgroup::Sandbox::create(&format!("vigil-bench-{}", std::process::id()))?;
    println!(
        "bench: workloads run in a cgroup with {}",
        sandbox.limits.join(", ")
    );

    let workloads = workload_defs(args, &plain);
    let raw = probe_hook("raw-sys-enter");
    let mut conditions = vec![
        Condition::Without,
        Condition::Vigil,
        Condition::VigilUntraceable,
    ];
    match &raw {
        Ok(()) => conditions.push(Condition::RawSysEnter),
        Err(why) => println!("bench: syscall-hook comparison skipped: {why}"),
    }
    let open_hooks = probe_hook("open-tracepoints");
    match &open_hooks {
        Ok(()) => conditions.push(Condition::OpenHooks),
        Err(why) => println!("bench: the open hooks' floor skipped: {why}"),
    }
    let audit = if args.no_auditd {
        Err("--no-auditd".to_string())
    } else {
        auditd::available()
    };
    match &audit {
        Ok(()) => conditions.push(Condition::Auditd),
        Err(why) => println!("bench: auditd comparison skipped: {why}"),
    }
    let audit_dir = out_dir.join("auditd");

    // One unrecorded pass warms caches and page tables for every workload.
    for w in &workloads {
        run_worker(&sandbox, &w.workload)?;
    }
    let mut samples = Samples::new();
    let mut agent_stats = Vec::new();
    let mut counts = Counts::new();
    let mut idle = Vec::new();
    let mut audit_rules = 0;
    for rep in 0..args.reps {
        let mut order = conditions.clone();
        let n = order.len();
        order.rotate_left(rep % n);
        for cond in order {
            println!(
                "bench: repetition {}/{}: {}",
                rep + 1,
                args.reps,
                cond.key()
            );
            let beside = start_condition(cond, &args.agent_args, &audit_dir)?;
            if let Beside::Audit(a) = &beside {
                audit_rules = a.rules;
            }
            if let Beside::Agent(agent, _) = &beside {
                if cond == Condition::Vigil {
                    // Idle: after start-up has settled, before any workload.
                    std::thread::sleep(IDLE_SETTLE);
                    idle.push(Usage::read(agent.pid())?);
                }
            }
            for w in workloads
                .iter()
                .filter(|w| cond.only_workload().is_none_or(|k| k == w.key))
            {
                let before = counters(cond, &beside)?;
                let s = run_worker(&sandbox, &w.workload)?;
                samples
                    .entry((w.key, cond))
                    .or_default()
                    .push(s.per_iteration_ns() / w.scale);
                if let (Some(b), Some(a)) = (before, counters(cond, &beside)?) {
                    let c = counts.entry(w.key).or_default();
                    c.iterations += s.iterations;
                    c.records += a.records.saturating_sub(b.records);
                    c.cpu_ticks += a.cpu_ticks.saturating_sub(b.cpu_ticks);
                }
            }
            if let Beside::Agent(agent, _) = beside {
                let stopped = agent.stop()?;
                if !stopped.status.success() {
                    bail!(
                        "{} exited with {} after the workloads",
                        cond.key(),
                        stopped.status
                    );
                }
                if cond == Condition::Vigil {
                    match stopped.stats {
                        Some(s) => agent_stats.push(s?),
                        None => bail!("the agent printed no final `stats` line"),
                    }
                }
            }
        }
    }

    let steps = if args.no_rate {
        Vec::new()
    } else {
        rate_test(args, &sandbox, &out_dir)?
    };
    let flood = if args.flood_seconds == 0 {
        None
    } else {
        Some(flood::run(args, &sandbox, &out_dir)?)
    };
    let node = if args.node_sizes.iter().all(|&n| n == 0) {
        Vec::new()
    } else {
        node::section(args)?
    };
    let mut rep = report::Report::new(
        args.reps,
        &sandbox.limits,
        &workloads,
        &samples,
        raw.err(),
        open_hooks.err(),
        agent_stats,
        steps,
        args,
    );
    rep.flood = flood;
    rep.counts = counts;
    rep.idle = idle;
    rep.node = node;
    rep.auditd = match audit {
        Ok(()) => Ok(audit_rules),
        Err(why) => Err(why),
    };
    rep.print();
    let path = out_dir.join("report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&rep.json())?)?;
    println!("bench: report written to {}", path.display());
    Ok(())
}

fn workload_defs(args: &BenchArgs, plain: &Path) -> Vec<WorkloadDef> {
    vec![
        WorkloadDef {
            key: "getpid",
            label: "untraced syscall (getpid)",
            unit: "ns/call",
            scale: 1.0,
            workload: Workload::Getpid {
                iterations: args.getpid_iterations,
            },
        },
        WorkloadDef {
            key: "open_close",
            label: "filtered open+close",
            unit: "ns/iter",
            scale: 1.0,
            workload: Workload::OpenClose {
                path: plain.to_path_buf(),
                iterations: args.open_iterations,
            },
        },
        WorkloadDef {
            key: "fork_exec",
            label: "fork+exec /bin/true",
            unit: "us/iter",
            scale: 1000.0,
            workload: Workload::ForkExec {
                program: "/bin/true".into(),
                iterations: args.exec_iterations,
            },
        },
        // Loopback: the agent drops these in the kernel unless it runs
        // with `--agent-arg=--net-loopback` (then each flow is an event).
        WorkloadDef {
            key: "tcp_connect",
            label: "TCP connect+accept (loopback)",
            unit: "us/iter",
            scale: 1000.0,
            workload: Workload::TcpConnect {
                iterations: args.net_iterations,
            },
        },
        WorkloadDef {
            key: "udp_send",
            label: "UDP sendto, one flow",
            unit: "ns/call",
            scale: 1.0,
            workload: Workload::UdpSend {
                iterations: args.net_iterations,
            },
        },
        WorkloadDef {
            key: "tcp_stream",
            label: "established TCP flow, 64 KiB writes",
            unit: "us/write",
            scale: 1000.0,
            workload: Workload::TcpStream {
                iterations: args.net_iterations,
            },
        },
    ]
}

fn worker_args(w: &Workload) -> Vec<String> {
    let s = |x: &dyn ToString| x.to_string();
    match w {
        Workload::Getpid { iterations } => {
            vec!["getpid".into(), "--iterations".into(), s(iterations)]
        }
        Workload::OpenClose { path, iterations } => vec![
            "open-close".into(),
            "--path".into(),
            path.display().to_string(),
            "--iterations".into(),
            s(iterations),
        ],
        Workload::ForkExec {
            program,
            iterations,
        } => vec![
            "fork-exec".into(),
            "--program".into(),
            program.display().to_string(),
            "--iterations".into(),
            s(iterations),
        ],
        Workload::TcpConnect { iterations } => {
            vec!["tcp-connect".into(), "--iterations".into(), s(iterations)]
        }
        Workload::UdpSend { iterations } => {
            vec!["udp-send".into(), "--iterations".into(), s(iterations)]
        }
        Workload::TcpStream { iterations } => {
            vec!["tcp-stream".into(), "--iterations".into(), s(iterations)]
        }
        Workload::Rate {
            path,
            rate,
            seconds,
        } => vec![
            "rate".into(),
            "--path".into(),
            path.display().to_string(),
            "--rate".into(),
            s(rate),
            "--seconds".into(),
            s(seconds),
        ],
    }
}

/// Runs one workload in a worker process inside the sandbox cgroup.
fn run_worker(sandbox: &cgroup::Sandbox, w: &Workload) -> Result<Sample> {
    let exe = std::env::current_exe()?;
    let mut c = Command::new(exe);
    c.arg("bench-worker");
    for p in &sandbox.procs {
        c.arg("--join").arg(p);
    }
    c.args(worker_args(w))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    let out = c.output().context("cannot start the bench worker")?;
    if !out.status.success() {
        bail!("bench worker {w:?} failed: {}", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or("");
    serde_json::from_str(last)
        .with_context(|| format!("bench worker printed `{last}`, not a sample"))
}

/// Stepped rates of sensitive opens, one fresh agent per step.
fn rate_test(
    args: &BenchArgs,
    sandbox: &cgroup::Sandbox,
    out_dir: &Path,
) -> Result<Vec<rate::Step>> {
    let rates = if args.rates.is_empty() {
        rate::DEFAULT_RATES.to_vec()
    } else {
        args.rates.clone()
    };
    let mut steps = Vec::new();
    for target in rates {
        let step = rate_step(args, sandbox, out_dir, target)?;
        let go_on = step.keep_going();
        steps.push(step);
        if !go_on {
            break;
        }
    }
    // Narrow the gap between the last clean step and the first that dropped.
    let mut bracket = rate::bracket(&steps);
    for _ in 0..args.rate_refine {
        let Some((lo, hi)) = bracket else { break };
        let Some(mid) = rate::midpoint(lo, hi) else {
            break;
        };
        let step = rate_step(args, sandbox, out_dir, mid)?;
        bracket = rate::narrow(lo, hi, mid, step.verdict);
        steps.push(step);
    }
    Ok(steps)
}

/// One step: a fresh agent, `target` sensitive opens per second, its final stats.
fn rate_step(
    args: &BenchArgs,
    sandbox: &cgroup::Sandbox,
    out_dir: &Path,
    target: u64,
) -> Result<rate::Step> {
    let rec = out_dir.join("rate-record");
    let _ = std::fs::remove_dir_all(&rec);
    let mut agent_args = vec![
        "run".to_string(),
        "--stats-interval".into(),
        "3600".into(),
        // Recording on, as a node runs it: the recorder must keep up too.
        "--record".into(),
        rec.display().to_string(),
        // The ring and the agent's throughput, not the per-container rate
        // limit (the flood test measures that).
        "--throttle".into(),
        "0".into(),
    ];
    if let Some(bytes) = args.rate_ring_bytes {
        agent_args.extend(["--ring-bytes".into(), bytes.to_string()]);
    }
    agent_args.extend(args.agent_args.iter().cloned());
    let agent = Agent::builder(&agent_args)
        .echo(false)
        .ready_timeout(READY_TIMEOUT)
        .start()?;
    let sample = run_worker(
        sandbox,
        &Workload::Rate {
            path: args.sensitive_path.clone(),
            rate: target,
            seconds: args.rate_seconds,
        },
    )?;
    // Let the agent drain the ring buffer before asking for its totals.
    std::thread::sleep(Duration::from_millis(500));
    let stopped = agent.stop()?;
    let stats: AgentStats = match stopped.stats {
        Some(s) => s?,
        None => bail!("the agent printed no final `stats` line"),
    };
    let _ = std::fs::remove_dir_all(&rec);
    if stats.recorder.is_none() {
        bail!("the agent's final `stats` line has no recorder counters although it recorded");
    }
    let step = rate::Step::new(target, &sample, stats);
    println!(
        "bench: rate {target}/s: achieved {:.0}/s, {} records, {} lost: {:?}",
        step.achieved_rate,
        step.stats.records,
        step.stats.losses(),
        step.verdict
    );
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct W {
        #[command(flatten)]
        w: worker::WorkerArgs,
    }

    /// The arguments the bench builds parse back into the same workload.
    #[test]
    fn worker_args_round_trip() {
        let all = [
            Workload::Getpid { iterations: 7 },
            Workload::OpenClose {
                path: "/tmp/x".into(),
                iterations: 3,
            },
            Workload::ForkExec {
                program: "/bin/true".into(),
                iterations: 2,
            },
            Workload::Rate {
                path: "/etc/shadow".into(),
                rate: 1000,
                seconds: 2.5,
            },
            Workload::TcpConnect { iterations: 4 },
            Workload::UdpSend { iterations: 5 },
            Workload::TcpStream { iterations: 6 },
        ];
        for w in all {
            let argv = std::iter::once("w".to_string())
                .chain([
                    "--join".to_string(),
                    "/sys/fs/cgroup/x/cgroup.procs".to_string(),
                ])
                .chain(worker_args(&w));
            let parsed = W::try_parse_from(argv).unwrap();
            assert_eq!(format!("{:?}", parsed.w.workload), format!("{w:?}"));
            assert_eq!(parsed.w.join.len(), 1);
        }
    }
}
