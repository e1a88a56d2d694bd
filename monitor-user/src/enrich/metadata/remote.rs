//! Asking the runtimes' APIs (CRI, Docker Engine) without ever blocking
//! the pipeline.
//!
//! The enricher is synchronous and must not wait on a socket. [`Remote`]
//! owns one background thread with its own small tokio runtime; the
//! enricher asks for a container (at its cgroup's creation, and on any
//! event of a container not yet known) with a non-blocking send on a
//! bounded queue, and reads answers from a shared table: `Pending`, `Known`,
//! or `Failed` with the reason. Each lookup has a deadline and is retried
//! with backoff (a container can be seen before its runtime has recorded
//! it); at most [`MAX_IN_FLIGHT`] run at once. Counters say how lookups
//! went. Entries of containers whose cgroup is gone are dropped after a
//! grace period, so memory follows the live containers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};

use super::cri::CriClient;
use super::docker_api::DockerApi;
use super::ContainerMeta;
use crate::event::container::Unresolved;
use crate::event::Runtime;

/// Lookup attempts talking to a runtime at once (each is a few small RPCs).
pub const MAX_IN_FLIGHT: usize = 8;
/// Lookups under way (talking, or waiting to retry); past this, requests
/// wait in the queue.
const MAX_LOOKUPS: usize = 256;
/// Requests waiting to be started; past this, a request is refused (and
/// asked again later) rather than queued without bound.
const QUEUE: usize = 1024;

/// Where the runtimes' APIs are and how patient to be with them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteConfig {
    /// CRI sockets (containerd, CRI-O, k3s); those that exist are asked.
    pub cri_sockets: Vec<PathBuf>,
    /// The Docker Engine API socket.
    pub docker_socket: Option<PathBuf>,
    /// Deadline of one lookup attempt.
    pub timeout: Duration,
    /// Attempts per lookup (first try included).
    pub attempts: u32,
    /// How long a failed lookup stands before it is asked again.
    pub retry_after: Duration,
    /// How long a container's entry outlives its cgroup.
    pub grace: Duration,
}

/// The sockets a node usually has, in the order they are tried.
pub const DEFAULT_CRI_SOCKETS: &[&str] = &[
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/k3s/containerd/containerd.sock",
];
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            cri_sockets: DEFAULT_CRI_SOCKETS.iter().map(PathBuf::from).collect(),
            docker_socket: Some(PathBuf::from(DEFAULT_DOCKER_SOCKET)),
            timeout: Duration::from_secs(2),
            attempts: 3,
            retry_after: Duration::from_secs(5),
            grace: Duration::from_secs(60),
        }
    }
}

/// How lookups went, for the stats line and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RemoteStats {
    pub requested: u64,
    pub resolved: u64,
    pub failed: u64,
    pub retries: u64,
    /// Attempts the runtime did not answer within the timeout.
    pub timeouts: u64,
    /// Requests refused because the queue was full.
    pub refused: u64,
}

#[derive(Default)]
struct Counters {
    requested: AtomicU64,
    resolved: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    refused: AtomicU64,
}

#[derive(Clone, Debug)]
enum State {
    Pending,
    Known(Arc<ContainerMeta>),
    Failed(Unresolved, Instant),
}

struct Entry {
    state: State,
    gone_since: Option<Instant>,
    /// Last asked for: an entry whose removal was missed (a lost
    /// `cgroup_rmdir` record) still goes once idle long enough.
    used: Instant,
}

/// An entry nobody asked for this long is dropped (and asked again if
/// its container shows up after all).
const IDLE: Duration = Duration::from_secs(600);

type Table = Arc<Mutex<HashMap<String, Entry>>>;

/// The enricher's side of the background lookups; see the module doc.
pub struct Remote {
    cfg: RemoteConfig,
    tx: mpsc::Sender<(Runtime, String)>,
    table: Table,
    counters: Arc<Counters>,
}

impl Remote {
    /// Starts the lookup thread.
    pub fn start(cfg: RemoteConfig) -> std::io::Result<Remote> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let table: Table = Arc::default();
        let counters: Arc<Counters> = Arc::default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let worker = Worker {
            cfg: cfg.clone(),
            talking: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            table: table.clone(),
            counters: counters.clone(),
        };
        std::thread::Builder::new()
            .name("vigil-metadata".into())
            .spawn(move || rt.block_on(worker.run(rx)))?;
        Ok(Remote {
            cfg,
            tx,
            table,
            counters,
        })
    }

    /// The metadata of a container if known; otherwise why not, asking for
    /// it when it was never asked (or its last failure is old enough).
    pub fn lookup(
        &self,
        runtime: Runtime,
        full_id: &str,
        now: Instant,
    ) -> Result<Arc<ContainerMeta>, Unresolved> {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = table.get_mut(full_id) {
            e.used = now;
            match &e.state {
                State::Known(m) => return Ok(m.clone()),
                State::Pending => return Err(Unresolved::Pending),
                State::Failed(why, at) if now.duration_since(*at) < self.cfg.retry_after => {
                    return Err(why.clone())
                }
                State::Failed(..) => {}
            }
        }
        if self.tx.try_send((runtime, full_id.to_owned())).is_err() {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Unresolved::Unreachable("lookup queue full".into()));
        }
        self.counters.requested.fetch_add(1, Ordering::Relaxed);
        table.insert(
            full_id.to_owned(),
            Entry {
                state: State::Pending,
                gone_since: None,
                used: now,
            },
        );
        Err(Unresolved::Pending)
    }

    /// The container's cgroup is gone: drop its entry after the grace period.
    pub fn gone(&self, full_id: &str, now: Instant) {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = table.get_mut(full_id) {
            e.gone_since.get_or_insert(now);
        }
    }

    /// Drops entries of containers gone longer than the grace period, and
    /// entries idle for ten minutes.
    pub fn expire(&self, now: Instant) -> usize {
        let grace = self.cfg.grace;
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let before = table.len();
        table.retain(|_, e| {
            e.gone_since.is_none_or(|t| now.duration_since(t) < grace)
                && now.duration_since(e.used) < IDLE
        });
        before - table.len()
    }

    pub fn len(&self) -> usize {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> RemoteStats {
        let c = &self.counters;
        RemoteStats {
            requested: c.requested.load(Ordering::Relaxed),
            resolved: c.resolved.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
        }
    }
}

struct Worker {
    cfg: RemoteConfig,
    /// Attempts talking to a runtime; a lookup waiting to retry holds none.
    talking: Arc<Semaphore>,
    table: Table,
    counters: Arc<Counters>,
}

/// One attempt's outcome.
enum Attempt {
    Found(Box<ContainerMeta>),
    NotFound,
    /// The runtime failed to answer; `timeout`: it did not answer in time.
    Error {
        message: String,
        timeout: bool,
    },
    /// No socket to ask: retrying would not help.
    NoSocket(String),
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<(Runtime, String)>) {
        let cri: Vec<CriClient> = self
            .cfg
            .cri_sockets
            .iter()
            .map(|s| CriClient::new(s, self.cfg.timeout))
            .collect();
        let docker = self
            .cfg
            .docker_socket
            .as_ref()
            .map(|s| DockerApi::new(s, self.cfg.timeout));
        let lookups = Arc::new(Semaphore::new(MAX_LOOKUPS));
        let this = Arc::new(self);
        // Ends when the enricher (the sender) is dropped.
        while let Some((runtime, id)) = rx.recv().await {
            let Ok(permit) = lookups.clone().acquire_owned().await else {
                break;
            };
            let (this, cri, docker) = (this.clone(), cri.clone(), docker.clone());
            tokio::spawn(async move {
                let state = this.resolve(runtime, &id, cri, docker).await;
                let mut table = this.table.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(e) = table.get_mut(&id) {
                    e.state = state;
                }
                drop(permit);
            });
        }
    }

    async fn resolve(
        &self,
        runtime: Runtime,
        id: &str,
        mut cri: Vec<CriClient>,
        docker: Option<DockerApi>,
    ) -> State {
        let mut last = Unresolved::NoSource;
        for attempt in 0..self.cfg.attempts.max(1) {
            if attempt > 0 {
                // "Not found" is most likely a container of another daemon
                // or one already gone: one quick retry is enough.
                if last == Unresolved::NotFound && attempt > 1 {
                    break;
                }
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
            }
            let Ok(_talking) = self.talking.acquire().await else {
                break;
            };
            let outcome = match runtime {
                Runtime::Containerd | Runtime::Crio => ask_cri(&mut cri, id).await,
                Runtime::Docker => match &docker {
                    Some(d) if d.socket().exists() => match d.container(id).await {
                        Ok(m) => Attempt::Found(Box::new(m)),
                        Err(e) if e.is_not_found() => Attempt::NotFound,
                        Err(e) => Attempt::Error {
                            timeout: e.is_timeout(),
                            message: e.to_string(),
                        },
                    },
                    Some(d) => Attempt::NoSocket(format!("no socket {}", d.socket().display())),
                    None => return self.failed(Unresolved::NoSource),
                },
                Runtime::Podman | Runtime::Host => return self.failed(Unresolved::NoSource),
            };
            last = match outcome {
                Attempt::Found(m) => {
                    self.counters.resolved.fetch_add(1, Ordering::Relaxed);
                    return State::Known(Arc::new(*m));
                }
                Attempt::NotFound => Unresolved::NotFound,
                Attempt::Error { message, timeout } => {
                    if timeout {
                        self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                    Unresolved::Unreachable(message)
                }
                Attempt::NoSocket(e) => return self.failed(Unresolved::Unreachable(e)),
            };
        }
        self.failed(last)
    }

    fn failed(&self, why: Unresolved) -> State {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        State::Failed(why, Instant::now())
    }
}

/// Asks each CRI socket that exists; the first that knows the container wins.
async fn ask_cri(clients: &mut [CriClient], id: &str) -> Attempt {
    let mut errors = Vec::new();
    let mut asked = false;
    let mut timeout = false;
    for c in clients.iter_mut().filter(|c| c.socket().exists()) {
        asked = true;
        match c.container(id).await {
            Ok(m) => return Attempt::Found(Box::new(m)),
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                timeout |= e.is_timeout();
                errors.push(format!("{}: {e}", c.socket().display()))
            }
        }
    }
    if !asked {
        Attempt::NoSocket("no CRI socket present".into())
    } else if errors.is_empty() {
        Attempt::NotFound
    } else {
        Attempt::Error {
            message: errors.join("; "),
            timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RemoteConfig {
        RemoteConfig {
            cri_sockets: vec![PathBuf::from("/nonexistent/vigil/cri.sock")],
            docker_socket: Some(PathBuf::from("/nonexistent/vigil/docker.sock")),
            timeout: Duration::from_millis(200),
            attempts: 2,
            retry_after: Duration::from_secs(60),
            grace: Duration::from_secs(1),
        }
    }

    #[test]
    fn missing_sockets_fail_with_a_reason_without_blocking() {
        let r = Remote::start(cfg()).unwrap();
        let id = "a".repeat(64);
        let t0 = Instant::now();
        assert_eq!(
            r.lookup(Runtime::Containerd, &id, t0),
            Err(Unresolved::Pending)
        );
        assert!(t0.elapsed() < Duration::from_millis(50), "never waits");
        let deadline = Instant::now() + Duration::from_secs(5);
        let why = loop {
            match r.lookup(Runtime::Containerd, &id, Instant::now()) {
                Err(Unresolved::Pending) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                other => break other,
            }
        };
        assert_eq!(
            why,
            Err(Unresolved::Unreachable("no CRI socket present".into()))
        );
        let s = r.stats();
        assert_eq!(
            (s.requested, s.failed, s.retries),
            (1, 1, 0),
            "no retry without a socket"
        );
        // Dead containers are dropped after the grace period.
        let now = Instant::now();
        r.gone(&id, now);
        assert_eq!(r.expire(now), 0);
        assert_eq!(r.expire(now + Duration::from_secs(2)), 1);
        assert!(r.is_empty());
        // One whose removal was never seen goes once idle.
        let other = "b".repeat(64);
        let _ = r.lookup(Runtime::Docker, &other, now);
        assert_eq!(r.expire(now + IDLE / 2), 0);
        assert_eq!(r.expire(now + IDLE), 1);
    }
}
