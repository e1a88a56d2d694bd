//! A running `vigil` agent, as a Drop guard.
//!
//! [`Agent`] spawns the agent binary ([`crate::paths::vigil_bin`]), waits for
//! its `ready` log line, and collects its stdout (JSON lines: alerts or
//! events) and stderr (log lines) on background threads so tests can wait
//! for a line to appear. [`Agent::stop`] sends SIGTERM and returns the exit
//! status and the final `stats` line; dropping an agent that was not stopped
//! (a panicking test) does the same, escalating to SIGKILL if it hangs.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::child::wait_timeout;
use crate::logline::{self, AgentStats};
use crate::Error;

/// How long a stopped agent may take to flush and exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of log quoted in errors.
const TAIL_LINES: usize = 30;

#[derive(Default)]
struct Logs {
    stdout: Vec<String>,
    stderr: Vec<String>,
    stdout_eof: bool,
    stderr_eof: bool,
}

#[derive(Default)]
struct Shared {
    logs: Mutex<Logs>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Logs> {
        // A reader thread cannot panic while holding the lock, but do not let
        // a poisoned lock turn into a second panic in Drop either.
        self.logs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until `done` holds or `timeout` passes; returns the final guard.
    fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&Logs) -> bool,
    ) -> (MutexGuard<'_, Logs>, bool) {
        let deadline = Instant::now() + timeout;
        let mut logs = self.lock();
        loop {
            if done(&logs) {
                return (logs, true);
            }
            let now = Instant::now();
            if now >= deadline {
                return (logs, false);
            }
            logs = self
                .changed
                .wait_timeout(logs, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// How to start an agent; see [`Agent::builder`].
pub struct AgentBuilder {
    bin: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    ready_timeout: Duration,
    wait_ready: bool,
    echo: bool,
}

impl AgentBuilder {
    /// The binary to run instead of [`crate::paths::vigil_bin`].
    pub fn bin(mut self, bin: impl Into<PathBuf>) -> Self {
        self.bin = bin.into();
        self
    }

    /// Appends one more argument (e.g. a path).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// How long to wait for `ready` (default 60 s).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Do not wait for `ready` (for commands that never print it).
    pub fn no_wait_ready(mut self) -> Self {
        self.wait_ready = false;
        self
    }

    /// Whether to copy the agent's lines to this process's stderr as they
    /// arrive (default yes: the test harness shows them when a test fails).
    pub fn echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Spawns the agent and (unless disabled) waits for `ready`.
    pub fn start(self) -> Result<Agent, Error> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let describe = format!("{} {}", self.bin.display(), join_os(&self.args));
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            cmd: describe,
            source,
        })?;
        let shared = Arc::new(Shared::default());
        let readers = vec![
            spawn_reader(
                child.stdout.take().expect("piped"),
                shared.clone(),
                Stream::Stdout,
                self.echo,
            ),
            spawn_reader(
                child.stderr.take().expect("piped"),
                shared.clone(),
                Stream::Stderr,
                self.echo,
            ),
        ];
        let mut agent = Agent {
            child: Some(child),
            shared,
            readers,
        };
        if self.wait_ready {
            agent.wait_ready(self.ready_timeout)?;
        }
        Ok(agent)
    }
}

fn join_os(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

fn spawn_reader(
    pipe: impl Read + Send + 'static,
    shared: Arc<Shared>,
    which: Stream,
    echo: bool,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    // Keep invalid UTF-8 visible rather than dropping the line:
                    // a test asserting "valid JSON lines" must see it.
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    if echo {
                        let tag = match which {
                            Stream::Stdout => "vigil stdout",
                            Stream::Stderr => "vigil",
                        };
                        eprintln!("{tag}: {line}");
                    }
                    let mut logs = shared.lock();
                    match which {
                        Stream::Stdout => logs.stdout.push(line),
                        Stream::Stderr => logs.stderr.push(line),
                    }
                    drop(logs);
                    shared.changed.notify_all();
                }
            }
        }
        let mut logs = shared.lock();
        match which {
            Stream::Stdout => logs.stdout_eof = true,
            Stream::Stderr => logs.stderr_eof = true,
        }
        drop(logs);
        shared.changed.notify_all();
    })
}

/// A running agent; stopped with SIGTERM when dropped.
pub struct Agent {
    child: Option<Child>,
    shared: Arc<Shared>,
    readers: Vec<JoinHandle<()>>,
}

/// What an agent left behind once it exited.
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    /// The last `stats` line (the final report), if any.
    pub stats: Option<Result<AgentStats, Error>>,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Agent {
    /// `vigil run <args>`, waiting for `ready` (60 s).
    pub fn run(args: &[&str]) -> Result<Agent, Error> {
        Agent::builder(std::iter::once("run").chain(args.iter().copied())).start()
    }

    /// A builder for `vigil <args>` (the full command line after the binary).
    pub fn builder<I, S>(args: I) -> AgentBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        AgentBuilder {
            bin: crate::paths::vigil_bin(),
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            envs: Vec::new(),
            ready_timeout: Duration::from_secs(60),
            wait_ready: true,
            echo: true,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), Error> {
        let (logs, _) = self.shared.wait_until(timeout, |l| {
            l.stderr.iter().any(|s| logline::is_ready(s)) || l.stderr_eof
        });
        if logs.stderr.iter().any(|s| logline::is_ready(s)) {
            return Ok(());
        }
        let tail = tail(&logs.stderr);
        let eof = logs.stderr_eof;
        drop(logs);
        if eof {
            // stderr closed: the agent exited (or is about to).
            let status = self.reap(Duration::from_secs(5));
            return Err(Error::AgentExited { status, tail });
        }
        Err(Error::AgentNotReady { timeout, tail })
    }

    fn reap(&mut self, within: Duration) -> String {
        let Some(child) = self.child.as_mut() else {
            return "already reaped".into();
        };
        match wait_timeout(child, within) {
            Some(status) => {
                self.child = None;
                status.to_string()
            }
            None => "still running".into(),
        }
    }

    /// Every stdout line so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.shared.lock().stdout.clone()
    }

    /// Every stderr (log) line so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.shared.lock().stderr.clone()
    }

    /// Every stdout line so far, each parsed as exactly one JSON value.
    pub fn stdout_json(&self) -> Result<Vec<Value>, Error> {
        parse_json_lines(&self.shared.lock().stdout)
    }

    /// Waits until a stdout JSON line satisfies `pred`; returns it.
    /// Lines that are not JSON never match (see [`Agent::stdout_json`]).
    pub fn wait_stdout_json(
        &self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let mut found = None;
        let _ = self.shared.wait_until(timeout, |l| {
            found = l
                .stdout
                .iter()
                .filter_map(|s| serde_json::from_str::<Value>(s).ok())
                .find(|v| pred(v));
            found.is_some() || l.stdout_eof
        });
        found
    }

    /// Waits for the alert of `rule` from container `id` (full or short
    /// id); panics naming what is missing, with the alerts and the log.
    pub fn expect_alert(&self, timeout: Duration, rule: &str, id: &str) -> Value {
        let short = &id[..id.len().min(12)];
        self.wait_stdout_json(timeout, |v| {
            crate::events::s(v, "rule") == rule && crate::events::field(v, "container.id") == short
        })
        .unwrap_or_else(|| {
            panic!(
                "no `{rule}` alert for {id} within {timeout:?}; alerts:\n{}\nlog:\n{}",
                self.stdout_lines().join("\n"),
                self.stderr_lines().join("\n")
            )
        })
    }

    /// Waits until a log line satisfies `pred`; returns it.
    pub fn wait_stderr(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let mut found = None;
        let _ = self.shared.wait_until(timeout, |l| {
            found = l.stderr.iter().find(|s| pred(s)).cloned();
            found.is_some() || l.stderr_eof
        });
        found
    }

    /// SIGTERM, wait for exit (30 s), and return what the agent left behind.
    pub fn stop(mut self) -> Result<Stopped, Error> {
        let status = self
            .terminate(STOP_TIMEOUT)
            .ok_or(Error::AgentStuck(STOP_TIMEOUT))?;
        self.finish_readers();
        let logs = std::mem::take(&mut *self.shared.lock());
        let stats = AgentStats::last_in(logs.stderr.iter().map(String::as_str));
        Ok(Stopped {
            status,
            stats,
            stdout: logs.stdout,
            stderr: logs.stderr,
        })
    }

    /// Joins the reader threads once both pipes reach EOF. A grandchild that
    /// inherited a pipe could keep it open forever: then they stay detached.
    fn finish_readers(&mut self) {
        if self.readers.is_empty() {
            return;
        }
        let eof = self
            .shared
            .wait_until(Duration::from_secs(5), |l| l.stdout_eof && l.stderr_eof)
            .1;
        if eof {
            for r in self.readers.drain(..) {
                let _ = r.join();
            }
        }
    }

    /// SIGTERM, wait up to `within`, then SIGKILL. None if it had to be killed.
    fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        crate::child::terminate(&mut self.child.take()?, within)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate(Duration::from_secs(10));
        }
        self.finish_readers();
    }
}

fn tail(lines: &[String]) -> String {
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// Parses each line as one JSON value; the first bad line is an error.
pub fn parse_json_lines(lines: &[String]) -> Result<Vec<Value>, Error> {
    lines
        .iter()
        .enumerate()
        .map(|(i, text)| {
            serde_json::from_str(text).map_err(|source| Error::StdoutJson {
                line: i + 1,
                text: text.clone(),
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in agent: a shell script that speaks the log contract.
    fn fake(script: &str) -> AgentBuilder {
        Agent::builder(["-c", script])
            .bin("/bin/sh")
            .ready_timeout(Duration::from_secs(10))
    }

    #[test]
    fn waits_for_ready_collects_output_and_reads_final_stats() {
        let agent = fake(
            r#"trap 'echo "[t INFO  vigil] stats {\"records\":3,\"events\":3,\"malformed\":0,\"kernel_drops\":{\"execve\":0},\"total_drops\":0}" >&2; exit 0' TERM
               echo "[t INFO  vigil] hook x attached" >&2
               echo "[t INFO  vigil] ready" >&2
               echo '{"evt.type":"execve"}'
               while true; do sleep 0.05; done"#,
        )
        .echo(false)
        .start()
        .unwrap();
        let v = agent.wait_stdout_json(Duration::from_secs(5), |v| v["evt.type"] == "execve");
        assert!(v.is_some());
        let t0 = Instant::now();
        let stopped = agent.stop().unwrap();
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "stop took {:?}",
            t0.elapsed()
        );
        assert!(stopped.status.success());
        let stats = stopped.stats.unwrap().unwrap();
        assert_eq!(stats.records, 3);
        assert_eq!(stats.total_drops, 0);
    }

    #[test]
    fn exit_before_ready_is_an_error_with_the_log() {
        let err = fake(r#"echo "[t ERROR vigil] cannot load: EPERM" >&2; exit 3"#)
            .echo(false)
            .start()
            .err()
            .unwrap();
        match err {
            Error::AgentExited { status, tail } => {
                assert!(status.contains('3'), "{status}");
                assert!(tail.contains("EPERM"));
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn ready_timeout_is_an_error_and_drop_kills() {
        let started = Instant::now();
        let err = fake("exec sleep 30")
            .ready_timeout(Duration::from_millis(300))
            .start()
            .err()
            .unwrap();
        assert!(matches!(err, Error::AgentNotReady { .. }), "{err}");
        // The guard was dropped inside start(): the child did not outlive it.
        assert!(started.elapsed() < Duration::from_secs(12));
    }

    #[test]
    fn drop_terminates_the_agent() {
        let agent = fake(r#"echo "[t INFO  vigil] ready" >&2; exec sleep 30"#)
            .echo(false)
            .start()
            .unwrap();
        let pid = agent.pid() as libc::pid_t;
        drop(agent);
        // SAFETY: signal 0 only checks existence.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        assert!(!alive, "agent {pid} survived drop");
    }

    #[test]
    fn invalid_json_lines_are_reported() {
        let lines = vec!["{\"a\":1}".to_string(), "{\"a\":".to_string()];
        match parse_json_lines(&lines) {
            Err(Error::StdoutJson { line, .. }) => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
    }
}
