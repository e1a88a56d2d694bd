//! Booting the guest under qemu (TCG: a KVM guest hangs at boot on this
//! kind of host) and deciding the result from the console.
//!
//! The console is streamed to a log file (and optionally to stdout) line by
//! line as it arrives; the run passes only if the log holds this run's
//! marker `VIGIL-VM-RESULT <run id> exit=0`. qemu is killed by its pid when
//! the timeout passes.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// LSMs to enable in the guest: Debian's default list plus `bpf`.
/// `loglevel=5` after `quiet` keeps the boot quiet but lets the kernel's
/// stack dumps (a soft lockup's, a warning's) reach the console log.
const CMDLINE: &str = "console=ttyS0 quiet loglevel=5 panic=-1 \
     lsm=lockdown,capability,landlock,yama,apparmor,bpf";

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The marker, with the tests' exit code.
    Exit(i32),
    /// qemu stopped without printing the marker.
    NoMarker,
    /// Killed after the timeout.
    TimedOut(Duration),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exit(c) => write!(f, "tests exited with {c}"),
            Outcome::NoMarker => write!(
                f,
                "the guest stopped without a result marker (crash or panic before the end)"
            ),
            Outcome::TimedOut(d) => write!(f, "no result after {} s; qemu killed", d.as_secs()),
        }
    }
}

pub fn boot(
    vmlinuz: &Path,
    initrd: &Path,
    log: &Path,
    run_id: &str,
    timeout: Duration,
    echo: bool,
) -> Result<Outcome> {
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            // One host thread runs both vCPUs: multi-threaded TCG can
            // livelock a vCPU at a tracepoint site the other is patching
            // (attaching a program flips its static key), seen as soft
            // lockups in `copy_process` at `task_newtask`.
            "-machine",
            "q35",
            "-accel",
            "tcg,thread=single",
            "-cpu",
            "max",
            "-m",
            "1024",
            "-smp",
            "2",
        ])
        .args(["-nographic", "-no-reboot"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", CMDLINE])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start qemu-system-x86_64 (cargo xtask setup installs it)")?;
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let mut file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let tx2 = tx.clone();
    let readers = [
        std::thread::spawn(move || forward(stdout, tx)),
        std::thread::spawn(move || forward(stderr, tx2)),
    ];
    let marker = format!("VIGIL-VM-RESULT {run_id} exit=");
    let deadline = Instant::now() + timeout;
    let mut code = None;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(Duration::from_millis(500))) {
            Ok(line) => {
                writeln!(file, "{line}")?;
                if echo {
                    println!("guest| {line}");
                }
                if code.is_none() {
                    code = parse_marker(&line, &marker);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() >= deadline {
            timed_out = true;
            // SAFETY: kill(2) on the pid of our own qemu child, not yet reaped.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            break;
        }
    }
    let _ = child.wait();
    for r in readers {
        let _ = r.join();
    }
    // Lines that arrived between the kill and EOF.
    while let Ok(line) = rx.try_recv() {
        writeln!(file, "{line}")?;
        if code.is_none() {
            code = parse_marker(&line, &marker);
        }
    }
    file.flush()?;
    Ok(match code {
        Some(c) => Outcome::Exit(c),
        None if timed_out => Outcome::TimedOut(timeout),
        None => Outcome::NoMarker,
    })
}

fn forward(pipe: impl std::io::Read, tx: std::sync::mpsc::Sender<String>) {
    let mut r = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf)
                    .trim_end_matches(['\n', '\r'])
                    .replace('\r', "");
                if tx.send(line).is_err() {
                    return;
                }
            }
        }
    }
}

/// The exit code in a line holding `marker` (`VIGIL-VM-RESULT <id> exit=`).
fn parse_marker(line: &str, marker: &str) -> Option<i32> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

/// The last `n` lines of the log.
pub fn tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_needs_this_run_id() {
        let m = "VIGIL-VM-RESULT abc exit=";
        assert_eq!(parse_marker("VIGIL-VM-RESULT abc exit=0", m), Some(0));
        assert_eq!(
            parse_marker("[  3.1] x VIGIL-VM-RESULT abc exit=101", m),
            Some(101)
        );
        assert_eq!(parse_marker("VIGIL-VM-RESULT zzz exit=0", m), None);
        assert_eq!(parse_marker("VIGIL-VM-RESULT abc exit=", m), None);
        assert_eq!(
            parse_marker("echo VIGIL-VM-RESULT $VIGIL_RUN_ID exit=$rc", m),
            None
        );
    }
}
