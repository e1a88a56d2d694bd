//! Cost as the node grows: the agent's idle CPU and memory beside 100, 500
//! and 1,000 containers.
//!
//! A "container" here is what the agent sees of one: a cgroup named like a
//! containerd one (`/<namespace>/<64 hex>`, in every hierarchy the host
//! mounts) holding a sleeping process. All of them live under one parent
//! cgroup of the bench's own, limited in pids and memory (on a hybrid host
//! through the v1 controllers, on pure v2 through the parent's own files).
//! The agent starts after the containers exist, so it seeds them all and
//! samples every one each `--resource-interval` (1 s): its idle CPU is
//! then mostly the sampling passes. [`Node`] kills its sleepers (by pid)
//! and removes every cgroup when dropped, also on error.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use vigil_tests::Agent;

use super::condition::IDLE_SETTLE;
use super::usage::{self, Usage};
use super::{BenchArgs, READY_TIMEOUT};

/// v1 controllers limited (and mirrored) on a hybrid host.
const V1_CONTROLLERS: &[&str] = &["pids", "memory", "cpu", "cpuacct", "blkio"];
/// Memory for every sleeper together.
const MEMORY_MAX: u64 = 1 << 30;

/// One size of the node.
#[derive(Debug, Serialize)]
pub struct Step {
    pub containers: usize,
    /// What the agent said it samples (its `resources: sampling N` line).
    pub sampled: Option<usize>,
    pub idle_seconds: f64,
    /// Agent CPU over the idle window, in % of one core.
    pub idle_cpu_pct: f64,
    /// Agent CPU per resource-sampling pass (one pass a second), ms.
    pub cpu_ms_per_pass: f64,
    /// The agent's read syscalls per second of idling (one pass a
    /// second): counted, so steady on a busy machine.
    pub reads_per_pass: f64,
    pub rss_mib: f64,
    pub peak_rss_mib: f64,
}

impl Step {
    /// One line of the report.
    pub fn line(&self) -> String {
        format!(
            "{:>5} containers: idle CPU {:>5.2}% of a core, {:>6.1} ms CPU and {:>6.0} read syscalls per sampling pass, RSS {:>6.1} MiB (peak {:.1})",
            self.containers,
            self.idle_cpu_pct,
            self.cpu_ms_per_pass,
            self.reads_per_pass,
            self.rss_mib,
            self.peak_rss_mib
        )
    }
}

/// The bench's container cgroups and their sleepers.
pub struct Node {
    /// Parent directories, one per hierarchy (v2 first).
    parents: Vec<PathBuf>,
    /// Per container, its directory in each hierarchy.
    cgroups: Vec<Vec<PathBuf>>,
    sleepers: Vec<Child>,
    pid: u32,
}

impl Node {
    pub fn new() -> Result<Node> {
        let pid = std::process::id();
        let name = format!("vigil-bench-node-{pid}");
        let root = Path::new("/sys/fs/cgroup");
        let mut node = Node {
            parents: Vec::new(),
            cgroups: Vec::new(),
            sleepers: Vec::new(),
            pid,
        };
        let pids_max = "4096".to_string();
        if root.join("cgroup.controllers").exists() {
            for c in ["+pids", "+memory", "+cpu", "+io"] {
                let _ = std::fs::write(root.join("cgroup.subtree_control"), c);
            }
            let p = node.parent(&root.join(&name))?;
            write(&p, "pids.max", &pids_max)?;
            write(&p, "memory.max", &MEMORY_MAX.to_string())?;
            for c in ["+pids", "+memory", "+cpu", "+io"] {
                let _ = std::fs::write(p.join("cgroup.subtree_control"), c);
            }
        } else {
            let unified = root.join("unified");
            if !unified.join("cgroup.procs").exists() {
                bail!("no cgroup v2 hierarchy at {}", unified.display());
            }
            node.parent(&unified.join(&name))?;
            let mut limited = false;
            for c in V1_CONTROLLERS {
                let base = root.join(c);
                if !base.join("cgroup.procs").exists() {
                    continue;
                }
                let p = node.parent(&base.join(&name))?;
                match *c {
                    "pids" => limited |= write(&p, "pids.max", &pids_max).is_ok(),
                    "memory" => {
                        limited |=
                            write(&p, "memory.limit_in_bytes", &MEMORY_MAX.to_string()).is_ok()
                    }
                    _ => {}
                }
            }
            if !limited {
                bail!("could not limit the node's cgroups (no v1 pids or memory controller)");
            }
        }
        Ok(node)
    }

    fn parent(&mut self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        self.parents.push(dir.to_path_buf());
        Ok(dir.to_path_buf())
    }

    pub fn len(&self) -> usize {
        self.sleepers.len()
    }

    /// Adds containers until there are `n`.
    pub fn grow(&mut self, n: usize) -> Result<()> {
        while self.sleepers.len() < n {
            let i = self.sleepers.len();
            // 64 hex digits, like a runtime's container id; unique per bench.
            let id = format!("{:016x}{:048x}", self.pid, i + 1);
            let dirs: Vec<PathBuf> = self.parents.iter().map(|p| p.join(&id)).collect();
            for d in &dirs {
                std::fs::create_dir(d).with_context(|| format!("creating {}", d.display()))?;
            }
            self.cgroups.push(dirs.clone());
            let child = Command::new("sleep")
                .arg("86400")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start `sleep`")?;
            let pid = child.id().to_string();
            self.sleepers.push(child);
            // The limited hierarchies first (v2 last on hybrid, where it
            // has no controllers).
            for d in dirs.iter().rev() {
                write(d, "cgroup.procs", &pid)?;
            }
        }
        Ok(())
    }
}

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    std::fs::write(dir.join(file), value)
        .with_context(|| format!("writing {value} to {}", dir.join(file).display()))
}

impl Drop for Node {
    fn drop(&mut self) {
        for c in &mut self.sleepers {
            let _ = c.kill();
        }
        for c in &mut self.sleepers {
            let _ = c.wait();
        }
        for dirs in &self.cgroups {
            for d in dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
        for p in self.parents.iter().rev() {
            let _ = std::fs::remove_dir(p);
        }
    }
}

/// The number in the agent's `resources: sampling N running containers`.
pub fn sampled_in(stderr: &[String]) -> Option<usize> {
    stderr.iter().find_map(|l| {
        let rest = &l[l.find("resources: sampling ")? + "resources: sampling ".len()..];
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The node-growth section: for each size, the containers are created (on
/// top of the previous size's), then a fresh agent idles beside them.
pub fn section(args: &BenchArgs) -> Result<Vec<Step>> {
    let mut sizes: Vec<usize> = args.node_sizes.iter().copied().filter(|&n| n > 0).collect();
    sizes.sort_unstable();
    let mut n = Node::new()?;
    let mut steps = Vec::new();
    for size in sizes {
        println!(
            "bench: node: {size} containers, agent idle {} s",
            args.node_idle_seconds
        );
        n.grow(size)?;
        let mut agent_args = vec!["run".to_string(), "--stats-interval".into(), "3600".into()];
        agent_args.extend(args.agent_args.iter().cloned());
        let agent = Agent::builder(&agent_args)
            .echo(false)
            .ready_timeout(READY_TIMEOUT)
            .start()?;
        std::thread::sleep(IDLE_SETTLE);
        let a = Usage::read(agent.pid())?;
        std::thread::sleep(Duration::from_secs_f64(args.node_idle_seconds));
        let b = Usage::read(agent.pid())?;
        let sampled = sampled_in(&agent.stderr_lines());
        let stopped = agent.stop()?;
        if !stopped.status.success() {
            bail!(
                "the agent exited with {} beside {size} containers",
                stopped.status
            );
        }
        let cpu_s = b.cpu_ticks.saturating_sub(a.cpu_ticks) as f64 / usage::ticks_per_second();
        let step = Step {
            containers: n.len(),
            sampled,
            idle_seconds: args.node_idle_seconds,
            idle_cpu_pct: cpu_s / args.node_idle_seconds * 100.0,
            // One pass per second (--resource-interval 1).
            cpu_ms_per_pass: cpu_s * 1000.0 / args.node_idle_seconds,
            reads_per_pass: b.read_syscalls.saturating_sub(a.read_syscalls) as f64
                / args.node_idle_seconds,
            rss_mib: b.rss_mib(),
            peak_rss_mib: b.peak_rss_kib as f64 / 1024.0,
        };
        println!(
            "bench: node: {} ({} sampled)",
            step.line(),
            step.sampled.map_or("?".into(), |n| n.to_string()),
        );
        steps.push(step);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sampled_count() {
        let lines = vec![
            "[2026-12-02T18:00:00Z INFO  vigil] ready".to_string(),
            "[2026-12-02T18:00:00Z INFO  monitor_user::pipeline] resources: sampling 1000 running containers".to_string(),
        ];
        assert_eq!(sampled_in(&lines), Some(1000));
        assert_eq!(sampled_in(&lines[..1]), None);
    }
}
