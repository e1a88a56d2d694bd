//! Who started a container (`container.creator.*`): the host process and
//! user that asked the runtime, from what the event stream already shows.
//!
//! - A runtime started through its socket (Docker's, podman's API socket, a
//!   CRI socket) was asked by a client that `connect`ed to that socket
//!   shortly before the container's cgroup appeared and was still running
//!   then. Kubelet keeps one gRPC connection for its whole life, so for a
//!   CRI socket a client connected earlier and still running counts too
//!   when nobody connected recently.
//! - The `podman` command without its API socket forks conmon, which forks
//!   the OCI runtime that makes the cgroup and the container's first
//!   process: the fork lineage (kept here, since conmon daemonizes and its
//!   parent pid changes) leads back to the `podman` process.
//!
//! - A client connected before the agent started (kubelet) is found at
//!   start from the kernel's socket diagnostics ([`peers`]).
//!
//! One candidate is the creator. Several are all listed
//! (`container.creator.candidates`) and none is picked; none says why.
//! Memory: one entry per recent runtime-socket client, per recent podman
//! descendant and per live container, each bounded and expired.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::event::container::Creator;
use crate::event::{Process, Runtime};

pub mod peers;

/// Which runtimes a socket starts containers for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    Docker,
    Podman,
    Cri,
}

impl SocketKind {
    fn serves(self, runtime: Runtime) -> bool {
        match self {
            SocketKind::Docker => runtime == Runtime::Docker,
            SocketKind::Podman => runtime == Runtime::Podman,
            SocketKind::Cri => matches!(runtime, Runtime::Containerd | Runtime::Crio),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CreatorConfig {
    /// The runtime sockets whose clients are watched.
    pub sockets: Vec<(PathBuf, SocketKind)>,
    /// How long before a container's cgroup appears a client's connect
    /// still makes it a candidate.
    pub window_ns: u64,
}

impl Default for CreatorConfig {
    fn default() -> Self {
        let mut sockets = vec![
            (PathBuf::from("/run/docker.sock"), SocketKind::Docker),
            (PathBuf::from("/run/podman/podman.sock"), SocketKind::Podman),
        ];
        for s in crate::enrich::metadata::remote::DEFAULT_CRI_SOCKETS {
            sockets.push((PathBuf::from(s), SocketKind::Cri));
        }
        CreatorConfig {
            sockets,
            window_ns: 30_000_000_000,
        }
    }
}

/// `/var/run` is a symlink to `/run` on every current distribution; clients
/// name either.
fn canonical(path: &str) -> &str {
    path.strip_prefix("/var")
        .filter(|p| p.starts_with("/run/"))
        .unwrap_or(path)
}

fn socket_name(p: &Path) -> String {
    canonical(&p.to_string_lossy()).to_owned()
}

/// Rootless podman's API socket: `/run/user/UID/podman/podman.sock`.
fn is_rootless_podman(path: &str) -> bool {
    path.strip_prefix("/run/user/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(uid, rest)| {
            uid.bytes().all(|b| b.is_ascii_digit()) && rest == "podman/podman.sock"
        })
}

/// A process that connected to a runtime socket.
struct Client {
    socket: Arc<str>,
    kind: SocketKind,
    /// Boot time of its last connect.
    last_ns: u64,
    process: Arc<Process>,
    /// The client's own container (12 hex), `None`: the host.
    container: Option<String>,
}

/// A descendant of a `podman` command: the command, and when it forked.
struct Spawned {
    origin: Arc<Process>,
    at_ns: u64,
}

/// What is known about one container's creator.
struct Known {
    creator: Arc<Creator>,
    /// podman found nobody at the cgroup's birth (systemd made it): its
    /// first processes' lineage may still say.
    provisional: bool,
    /// When its cgroup was removed: late events still carry it a while.
    gone_ns: Option<u64>,
}

const MAX_CLIENTS: usize = 4096;
const MAX_SPAWNED: usize = 16_384;
const MAX_CONTAINERS: usize = 16_384;
/// How long a removed container's creator stays known (its late events).
const GRACE_NS: u64 = 60_000_000_000;

pub struct Creators {
    sockets: Vec<(String, SocketKind)>,
    window_ns: u64,
    own_pid: u32,
    clients: HashMap<u32, Client>,
    spawned: HashMap<u32, Spawned>,
    containers: HashMap<String, Known>,
    /// Containers whose start was not seen (running before the agent).
    not_seen: Arc<Creator>,
}

impl Creators {
    /// `own_pid`: the agent, which asks the runtimes' APIs itself.
    pub fn new(cfg: CreatorConfig, own_pid: u32) -> Creators {
        // `/var/run/x` and `/run/x` are one socket.
        let mut sockets: Vec<(String, SocketKind)> = Vec::new();
        for (p, k) in &cfg.sockets {
            let s = (socket_name(p), *k);
            if !sockets.contains(&s) {
                sockets.push(s);
            }
        }
        Creators {
            sockets,
            window_ns: cfg.window_ns,
            own_pid,
            clients: HashMap::new(),
            spawned: HashMap::new(),
            containers: HashMap::new(),
            not_seen: Arc::new(Creator {
                unresolved: Some(
                    "its start was not seen (it ran before vigil started, \
                     or its cgroup_mkdir record was lost)"
                        .into(),
                ),
                ..Creator::default()
            }),
        }
    }

    fn kind_of(&self, path: &str) -> Option<(&str, SocketKind)> {
        let path = canonical(path);
        if let Some((s, k)) = self.sockets.iter().find(|(s, _)| s == path) {
            return Some((s, *k));
        }
        is_rootless_podman(path).then_some(("", SocketKind::Podman))
    }

    /// A successful `connect` to the unix socket `path` by `process`, in
    /// `container` (12 hex; `None`: the host).
    pub fn on_connect(
        &mut self,
        process: &Arc<Process>,
        container: Option<&str>,
        path: &str,
        now_ns: u64,
    ) {
        if process.pid == self.own_pid {
            return;
        }
        let Some((name, kind)) = self.kind_of(path) else {
            return;
        };
        let socket: Arc<str> = if name.is_empty() {
            Arc::from(canonical(path))
        } else {
            Arc::from(name)
        };
        if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(&process.pid) {
            let oldest = self.clients.iter().min_by_key(|(_, c)| c.last_ns);
            if let Some(&pid) = oldest.map(|(pid, _)| pid) {
                self.clients.remove(&pid);
            }
        }
        self.clients.insert(
            process.pid,
            Client {
                socket,
                kind,
                last_ns: now_ns,
                process: process.clone(),
                container: container.map(str::to_owned),
            },
        );
    }

    /// Whether `path` (a socket's bound path) is a watched runtime socket.
    pub fn watches(&self, path: &str) -> bool {
        self.kind_of(path).is_some()
    }

    /// `process` was connected to the runtime socket `path` when the agent
    /// started ([`peers`]): a client since long ago (kubelet's one CRI
    /// connection), never a recent one.
    pub fn connected_before(
        &mut self,
        process: &Arc<Process>,
        container: Option<&str>,
        path: &str,
    ) {
        self.on_connect(process, container, path, 0);
    }

    /// `parent` forked `child`: a `podman` command's descendants are
    /// remembered, so the runtime it forks leads back to it.
    pub fn on_fork(&mut self, parent: &Arc<Process>, child: u32, now_ns: u64) {
        let origin = match self.spawned.get(&parent.pid) {
            Some(s) => s.origin.clone(),
            None if is_podman(parent) => parent.clone(),
            None => return,
        };
        if self.spawned.len() >= MAX_SPAWNED {
            self.expire(now_ns);
            if self.spawned.len() >= MAX_SPAWNED {
                return;
            }
        }
        self.spawned.insert(
            child,
            Spawned {
                origin,
                at_ns: now_ns,
            },
        );
    }

    /// A container's cgroup appeared, made by `maker` (the OCI runtime, or
    /// systemd): name its creator now. `alive(pid)` says whether a process
    /// is still running.
    pub fn on_container_start(
        &mut self,
        runtime: Runtime,
        full_id: &str,
        maker: u32,
        now_ns: u64,
        alive: impl Fn(u32) -> bool,
    ) {
        if self.containers.contains_key(full_id) {
            return;
        }
        let (creator, provisional) = self.find(runtime, maker, now_ns, alive);
        if self.containers.len() >= MAX_CONTAINERS {
            // Containers whose gone() was lost; drop an arbitrary one.
            if let Some(k) = self.containers.keys().next().cloned() {
                self.containers.remove(&k);
            }
        }
        self.containers.insert(
            full_id.to_owned(),
            Known {
                creator: Arc::new(creator),
                provisional,
                gone_ns: None,
            },
        );
    }

    /// The creator of container `full_id` for an event of its process
    /// `pid` (whose lineage may name a podman command the cgroup's birth
    /// did not).
    pub fn get(&mut self, full_id: &str, pid: u32) -> Arc<Creator> {
        let Some(known) = self.containers.get_mut(full_id) else {
            return self.not_seen.clone();
        };
        if known.provisional {
            let origin = self.spawned.get(&pid).map(|s| &s.origin);
            if let Some(p) = origin.filter(|p| !is_podman_service(p)) {
                known.creator = Arc::new(named(p, "podman".into()));
                known.provisional = false;
            }
        }
        known.creator.clone()
    }

    /// The container's cgroup is gone; it is forgotten a grace period later.
    pub fn gone(&mut self, full_id: &str, now_ns: u64) {
        if let Some(k) = self.containers.get_mut(full_id) {
            k.gone_ns.get_or_insert(now_ns);
        }
    }

    /// Forget clients and podman descendants older than the window that
    /// are no longer running.
    pub fn maintain(&mut self, now_ns: u64, alive: impl Fn(u32) -> bool) {
        let w = self.window_ns;
        self.clients
            .retain(|pid, c| now_ns.saturating_sub(c.last_ns) < w || alive(*pid));
        self.expire(now_ns);
        self.containers.retain(|_, k| {
            k.gone_ns
                .is_none_or(|t| now_ns.saturating_sub(t) < GRACE_NS)
        });
    }

    fn expire(&mut self, now_ns: u64) {
        let w = self.window_ns;
        self.spawned
            .retain(|_, s| now_ns.saturating_sub(s.at_ns) < w);
    }

    fn find(
        &self,
        runtime: Runtime,
        maker: u32,
        now_ns: u64,
        alive: impl Fn(u32) -> bool,
    ) -> (Creator, bool) {
        // podman's own process tree: unless it is the API service, whose
        // clients are the ones that asked.
        let podman = (runtime == Runtime::Podman)
            .then(|| self.spawned.get(&maker))
            .flatten()
            .map(|s| &s.origin);
        if let Some(p) = podman.filter(|p| !is_podman_service(p)) {
            return (named(p, "podman".into()), false);
        }
        let watched = |c: &Client| c.kind.serves(runtime) && alive(c.process.pid);
        let recent = |c: &Client| now_ns.saturating_sub(c.last_ns) < self.window_ns;
        let mut found: Vec<&Client> = self
            .clients
            .values()
            .filter(|c| watched(c) && recent(c))
            .collect();
        if found.is_empty() && runtime != Runtime::Docker && runtime != Runtime::Podman {
            // Kubelet: one connection, made long ago.
            found = self.clients.values().filter(|c| watched(c)).collect();
        }
        found.sort_by_key(|c| c.process.pid);
        match found.as_slice() {
            [one] => {
                let mut c = named(&one.process, one.socket.to_string());
                c.container_id = one.container.clone();
                (c, false)
            }
            [] => {
                let why = self.why_none(runtime);
                let provisional = runtime == Runtime::Podman;
                (
                    Creator {
                        unresolved: Some(why),
                        ..Creator::default()
                    },
                    provisional,
                )
            }
            many => (
                Creator {
                    via: Some(many[0].socket.to_string()),
                    candidates: many
                        .iter()
                        .map(|c| {
                            let p = &c.process;
                            format!("{}:{}:{}", p.pid, p.uid, p.cmdline())
                        })
                        .collect(),
                    unresolved: Some(format!(
                        "{} clients of the runtime's socket were connected when it started",
                        many.len()
                    )),
                    ..Creator::default()
                },
                false,
            ),
        }
    }
}

impl Creators {
    /// Why nobody is named: which of the runtime's sockets (those that
    /// exist here) had no client.
    fn why_none(&self, runtime: Runtime) -> String {
        let present: Vec<&str> = self
            .sockets
            .iter()
            .filter(|(s, k)| k.serves(runtime) && Path::new(s).exists())
            .map(|(s, _)| s.as_str())
            .collect();
        let socks = present.join(", ");
        match (runtime, present.is_empty()) {
            (Runtime::Podman, true) => {
                "no podman command forked its runtime, and no podman API socket exists".into()
            }
            (Runtime::Podman, false) => format!(
                "no podman command forked its runtime, and no client of {socks} was connected"
            ),
            (_, true) => format!(
                "no {} socket exists on this host (--cri-socket, --docker-socket name others)",
                runtime.as_str()
            ),
            (_, false) => format!(
                "no client of {socks} was connected in the {} s before it started",
                self.window_ns / 1_000_000_000
            ),
        }
    }
}

fn is_podman(p: &Process) -> bool {
    &*p.name == "podman"
}

/// `podman system service`: starts containers for its API clients.
fn is_podman_service(p: &Process) -> bool {
    let args = &p.exec.args;
    args.windows(2)
        .any(|w| w[0] == "system" && w[1] == "service")
}

fn named(p: &Process, via: String) -> Creator {
    Creator {
        via: Some(via),
        pid: Some(p.pid),
        uid: Some(p.uid),
        loginuid: p.loginuid,
        user: p.user_name.as_deref().map(str::to_owned),
        cmdline: Some(p.cmdline()),
        container_id: None,
        candidates: Vec::new(),
        unresolved: None,
    }
}

#[cfg(test)]
mod tests;
