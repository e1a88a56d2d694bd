//! The Linux audit subsystem as the bench's point of comparison: what a
//! user would run instead of vigil on a plain host (`auditd` from Debian,
//! installed by `cargo xtask setup`).
//!
//! [`Audit::start`] loads audit rules equivalent to vigil's default hooks:
//! one syscall rule for every syscall vigil hooks (from
//! `monitor_common::syscalls`, the same table the eBPF programs come from)
//! except the open family, plus the process lifecycle the agent takes from
//! scheduler tracepoints (exec, fork, exit); and, for the open family, file
//! watches on the default open filter's sensitive paths (what vigil's
//! in-kernel filter reports; an audit rule on every open would cost far
//! more). If no audit daemon runs, it starts one of its own (`auditd -n`,
//! logging under the bench's directory with bounded rotation). Dropping
//! the [`Audit`] always restores the state found: rules deleted by their
//! key, the daemon stopped if the bench started it, the kernel's enabled
//! flag and backlog limit put back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use monitor_common::syscalls::SyscallId;

use crate::sh::{self, cmd};

/// The key every rule of the bench carries (what `auditctl -D -k` removes).
const KEY: &str = "vigil-bench";

/// Paths watched for reads and writes, and for writes only: the default
/// open filter's prefixes (`monitor-user/src/sensor/filter.rs`) that exist
/// as files or directories on a plain host.
const WATCH_ANY: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/ssh",
    "/root/.ssh",
    "/etc/kubernetes",
    "/etc/ld.so.preload",
    "/proc/sysrq-trigger",
];
const WATCH_WRITE: &[&str] = &[
    "/etc/passwd",
    "/etc/group",
    "/etc/pam.d",
    "/etc/crontab",
    "/etc/cron.d",
    "/var/spool/cron",
    "/etc/systemd",
    "/etc/ld.so.conf",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
];

/// Process lifecycle vigil reads from scheduler tracepoints.
const LIFECYCLE: &[&str] = &[
    "execve",
    "execveat",
    "fork",
    "vfork",
    "clone",
    "clone3",
    "exit_group",
];

/// Whether auditd can be used here (installed, and the kernel has audit).
pub fn available() -> Result<(), String> {
    if which("auditd").is_none() || which("auditctl").is_none() {
        return Err("auditd is not installed: run `cargo xtask setup`".into());
    }
    let ok = sh::succeeds(
        cmd("auditctl", ["-s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    if !ok {
        return Err("`auditctl -s` failed: this kernel has no audit support".into());
    }
    Ok(())
}

fn which(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file())
}

/// The kernel's audit status (`auditctl -s`), the fields we change.
struct Status {
    enabled: String,
    pid: u32,
    backlog_limit: String,
}

fn status() -> Result<Status> {
    let text = sh::output(&mut cmd("auditctl", ["-s"]))?;
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix(' ').map(str::trim))
            .map(str::to_string)
    };
    Ok(Status {
        enabled: field("enabled").context("`auditctl -s` shows no `enabled`")?,
        pid: field("pid").and_then(|p| p.parse().ok()).unwrap_or(0),
        backlog_limit: field("backlog_limit").unwrap_or_else(|| "64".into()),
    })
}

/// Syscall names for the rule: vigil's hooked syscalls minus the open
/// family (watched by path instead), plus the lifecycle, deduplicated, and
/// only those this auditctl knows on x86_64.
pub fn syscalls() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = SyscallId::ALL
        .iter()
        .filter(|s| !s.read().extra.open_filtered())
        .map(|s| s.name())
        .chain(LIFECYCLE.iter().copied())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn known_to_auditctl(name: &str) -> bool {
    sh::succeeds(
        cmd("ausyscall", ["x86_64", name, "--exact"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// Audit running with the bench's rules; restores everything when dropped.
pub struct Audit {
    before: Status,
    daemon: Option<Child>,
    dir: PathBuf,
    pub rules: usize,
}

impl Audit {
    /// Loads the rules, starting an audit daemon logging under `dir` if
    /// none runs.
    pub fn start(dir: &Path) -> Result<Audit> {
        let before = status()?;
        let mut a = Audit {
            before,
            daemon: None,
            dir: dir.to_path_buf(),
            rules: 0,
        };
        // The guard exists from here on: any error below restores.
        if a.before.pid == 0 {
            a.daemon = Some(start_daemon(dir)?);
        }
        sh::run(cmd("auditctl", ["-e", "1", "-b", "8192"]).stdout(Stdio::null()))?;
        let names: Vec<&str> = syscalls()
            .into_iter()
            .filter(|n| known_to_auditctl(n))
            .collect();
        let mut rule = vec!["-a", "always,exit", "-F", "arch=b64"];
        for n in &names {
            rule.extend(["-S", n]);
        }
        rule.extend(["-k", KEY]);
        sh::run(cmd("auditctl", &rule).stdout(Stdio::null()))?;
        a.rules = 1;
        for (paths, perm) in [(WATCH_ANY, "rwa"), (WATCH_WRITE, "wa")] {
            for p in paths.iter().filter(|p| Path::new(p).exists()) {
                sh::run(cmd("auditctl", ["-w", p, "-p", perm, "-k", KEY]).stdout(Stdio::null()))?;
                a.rules += 1;
            }
        }
        Ok(a)
    }
}

/// `auditd -n` (foreground: the bench owns the pid) with a configuration
/// of its own: the log under `dir`, rotated at 8 MiB, two files.
fn start_daemon(dir: &Path) -> Result<Child> {
    let conf = dir.join("conf");
    let plugins = conf.join("plugins.d");
    std::fs::create_dir_all(&plugins)?;
    let log = dir.join("audit.log");
    std::fs::write(
        conf.join("auditd.conf"),
        format!(
            "log_file = {}\nlog_format = RAW\nflush = INCREMENTAL_ASYNC\nfreq = 50\n\
             max_log_file = 8\nnum_logs = 2\nmax_log_file_action = ROTATE\n\
             space_left = 75\nspace_left_action = IGNORE\nadmin_space_left = 50\n\
             admin_space_left_action = IGNORE\ndisk_full_action = IGNORE\n\
             disk_error_action = IGNORE\nq_depth = 2000\noverflow_action = IGNORE\n\
             plugin_dir = {}\nlocal_events = yes\nwrite_logs = yes\n",
            log.display(),
            plugins.display()
        ),
    )?;
    let mut child = Command::new("auditd")
        .args(["-n", "-s", "nochange", "-c"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start auditd")?;
    // Registered once the kernel reports its pid.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if status().is_ok_and(|s| s.pid == child.id()) {
            return Ok(child);
        }
        if let Some(st) = child.try_wait()? {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            bail!("auditd exited with {st}: {}", err.trim());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("auditd did not register with the kernel within 10 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Audit {
    fn drop(&mut self) {
        let quiet = |c: &mut Command| {
            let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
        };
        quiet(&mut cmd("auditctl", ["-D", "-k", KEY]));
        quiet(&mut cmd("auditctl", ["-b", &self.before.backlog_limit]));
        if let Some(mut d) = self.daemon.take() {
            // SIGTERM: auditd flushes its log and unregisters.
            // SAFETY: d is our own child, not yet waited for.
            unsafe { libc::kill(d.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while !matches!(d.try_wait(), Ok(Some(_))) {
                if Instant::now() > deadline {
                    let _ = d.kill();
                    let _ = d.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        quiet(&mut cmd("auditctl", ["-e", &self.before.enabled]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_covers_hooks_but_not_the_open_family() {
        let s = syscalls();
        for n in [
            "execve",
            "clone",
            "exit_group",
            "mount",
            "ptrace",
            "connect",
        ] {
            assert!(s.contains(&n), "{n} missing from {s:?}");
        }
        for n in ["open", "openat"] {
            assert!(
                !s.contains(&n),
                "{n} is watched by path, not a syscall rule"
            );
        }
        let mut sorted = s.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), s.len());
    }
}
