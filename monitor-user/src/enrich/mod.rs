//! Record → Event: attach process, container and decoded arguments.
//!
//! The [`Enricher`] owns the agent's state about the host (process table,
//! container registry, runtime metadata) and is the only place that state
//! changes: fork/exec/exit records update the process table, cgroup records
//! the registry, in record order, before or after building the event as the
//! record's meaning requires (an exec event shows the new program; an exit
//! event shows the process that is leaving).

pub mod agent;
pub mod applet;
pub mod cgroup;
mod container_cache;
pub mod containers;
mod context;
pub mod creator;
pub mod cwd;
pub mod dns;
pub mod environ;
pub mod exe_access;
mod exec_cache;
pub mod hold;
pub mod metadata;
pub mod pidfd;
mod process_cache;
pub mod proctable;
pub(crate) mod recent;
pub mod sockets;
pub mod startup;
pub mod stdio;
pub mod users;

pub use agent::AgentId;
use context::container_key;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use monitor_common::decode::Record;
use monitor_common::records::exec_flags;

use crate::enrich::containers::{Registry, RegistryConfig};
use crate::enrich::creator::{CreatorConfig, Creators};
use crate::enrich::metadata::{Metadata, MetadataConfig};
use crate::enrich::proctable::{ExecInfo, ProcTable, ProcTableConfig};
use crate::enrich::startup::Startup;
use crate::enrich::users::UserNames;
use crate::event::sysargs;
use crate::event::text::escape;
use crate::event::{
    CgroupData, Clock, CloneData, Container, Data, Event, ExecData, ExitData, Process, Session,
    SyscallData, Text,
};
use crate::sensor::ContainerCgroups;

/// Where the enricher finds the host's state.
#[derive(Clone, Debug, Default)]
pub struct EnrichConfig {
    /// procfs to seed the process table from (`/proc`); `None`: start empty.
    pub proc_root: Option<PathBuf>,
    /// cgroup v2 mount; `None`: find it in /proc/self/mountinfo.
    pub cgroup_root: Option<PathBuf>,
    pub registry: RegistryConfig,
    pub metadata: MetadataConfig,
    pub proctable: ProcTableConfig,
    /// The runtime sockets whose clients start containers.
    pub creator: CreatorConfig,
    /// The agent's own identity, for `target.is_vigil`; `None`: never set.
    pub agent: Option<AgentId>,
}

pub struct Enricher {
    procs: ProcTable,
    containers: Registry,
    meta: Metadata,
    /// Who started each container (`container.creator.*`).
    creators: Creators,
    clock: Clock,
    next_num: u64,
    agent: Option<AgentId>,
    /// The kernel's container cgroups for enforcement, kept in sync with
    /// the registry's containers; `None`: not enforcing.
    enforced: Option<ContainerCgroups>,
    users: UserNames,
    groups: UserNames,
    /// procfs for what exec records do not carry (`proc.cwd`); `None`: not read.
    proc_root: Option<PathBuf>,
    /// Per container, the names DNS answers gave for addresses.
    names: dns::Names,
    /// Each process's IP sockets, for `fd.*` on later events of a socket.
    sockets: sockets::SocketTable,
    /// The exec contexts built last, reused while the table stands still.
    exec_contexts: exec_cache::ExecContexts,
    /// The container contexts built last, reused while their sources stay.
    container_contexts: container_cache::ContainerContexts,
    /// The process contexts built last, reused while their sources stay.
    process_contexts: process_cache::ProcessContexts,
}

impl Enricher {
    pub fn new(procs: ProcTable, containers: Registry, meta: Metadata, clock: Clock) -> Enricher {
        Enricher {
            procs,
            containers,
            meta,
            // No host's sockets (tests, replay): what it says is the same
            // everywhere. `from_host` watches the real ones.
            creators: Creators::new(
                CreatorConfig {
                    sockets: Vec::new(),
                    ..CreatorConfig::default()
                },
                std::process::id(),
            ),
            clock,
            next_num: 1,
            agent: None,
            enforced: None,
            users: UserNames::new(None),
            groups: UserNames::groups(None),
            proc_root: None,
            names: dns::Names::default(),
            sockets: sockets::SocketTable::new(),
            exec_contexts: exec_cache::ExecContexts::default(),
            container_contexts: container_cache::ContainerContexts::default(),
            process_contexts: process_cache::ProcessContexts::default(),
        }
    }

    /// Read what records do not carry from procfs at `proc_root` (`/proc`):
    /// `user.name` and `group.name` through each process's own
    /// `/etc/passwd` and `/etc/group`, and an exec's
    /// working directory (`proc.cwd`).
    pub fn with_procfs(mut self, proc_root: PathBuf) -> Enricher {
        self.users = UserNames::new(Some(proc_root.clone()));
        self.groups = UserNames::groups(Some(proc_root.clone()));
        self.proc_root = Some(proc_root);
        self
    }

    /// `fd.name` of a syscall: a relative path resolved against the
    /// caller's working directory or `dirfd` (the path as passed stays in
    /// its argument, `fd.nameraw`): as the kernel resolved it at the call
    /// (opens), else from procfs now. A process already gone has its
    /// working directory at exec used (`proc.cwd`); otherwise the name
    /// stays relative.
    fn resolve(&self, tgid: u32, d: &sysargs::Decoded) -> Option<String> {
        let raw = d.path.as_deref()?;
        if let Some(resolved) = &d.resolved {
            return Some(resolved.clone());
        }
        let (Some(root), None) = (&self.proc_root, &d.sockaddr) else {
            return Some(raw.to_owned());
        };
        if raw.is_empty() || raw.starts_with('/') {
            return Some(raw.to_owned());
        }
        let dirfd = d
            .args
            .iter()
            .find(|a| a.name == "dirfd")
            .map(|a| match a.value {
                sysargs::ArgValue::Int(fd) => fd,
                _ => -1,
            });
        let at_cwd = matches!(dirfd, None | Some(cwd::AT_FDCWD));
        let resolved = cwd::resolve_at(root, tgid, dirfd, raw).or_else(|| {
            let exec_cwd = self.procs.get(tgid)?.cwd.as_deref()?;
            (at_cwd && exec_cwd.starts_with('/')).then(|| format!("{exec_cwd}{raw}"))
        });
        Some(resolved.unwrap_or_else(|| raw.to_owned()))
    }

    /// Mark events whose kill/ptrace target is this agent (`target.is_vigil`).
    pub fn with_agent(mut self, agent: AgentId) -> Enricher {
        self.agent = Some(agent);
        self
    }

    /// Keep the kernel's set of container cgroups (where enforcement
    /// applies) in sync with the registry: every container cgroup known now,
    /// then each one as its `cgroup_mkdir` arrives, until its `cgroup_rmdir`.
    /// A container's first acts can precede its mkdir record's processing
    /// (docs/enforcement.md says so).
    pub fn with_enforcement(mut self, cgroups: ContainerCgroups) -> Enricher {
        let now = Instant::now();
        let mut n = 0;
        for id in self.containers.live_ids() {
            let is_container = self
                .containers
                .resolve(id, now)
                .is_some_and(|e| e.info.container_id.is_some());
            if is_container && cgroups.insert(id).is_ok() {
                n += 1;
            }
        }
        log::info!("enforcement: {n} container cgroups known at start");
        self.enforced = Some(cgroups);
        self
    }

    /// Build from the running host: find cgroup v2, seed processes from /proc.
    pub fn from_host(cfg: EnrichConfig) -> Enricher {
        let root =
            cfg.cgroup_root.clone().or_else(
                || match crate::enrich::containers::find_cgroup2_root() {
                    Ok(r) => Some(r),
                    Err(e) => {
                        log::warn!("container attribution limited to cgroup_mkdir records: {e}");
                        None
                    }
                },
            );
        let mut containers = Registry::new(root, cfg.registry);
        // Know every existing cgroup before the first record arrives.
        match containers.scan(Instant::now()) {
            Ok(n) => log::info!("{n} cgroups known at start"),
            Err(e) => log::warn!("initial cgroup scan: {e}"),
        }
        let mut procs = ProcTable::new(cfg.proctable);
        if let Some(proc_root) = &cfg.proc_root {
            let n = procs.seed_from_proc(proc_root, |path| {
                container_key(&crate::enrich::cgroup::parse(path))
            });
            log::info!(
                "process table seeded with {n} processes from {}",
                proc_root.display()
            );
        }
        let mut e = Enricher::new(
            procs,
            containers,
            Metadata::new(cfg.metadata),
            Clock::measure(),
        );
        e.creators = Creators::new(cfg.creator, std::process::id());
        if let Some(proc_root) = &cfg.proc_root {
            e = e.with_procfs(proc_root.clone());
            e.seed_creators(proc_root);
        }
        match cfg.agent {
            Some(a) => e.with_agent(a),
            None => e,
        }
    }

    /// The clients connected to a runtime socket before the agent started
    /// (kubelet's one CRI connection): the creators' table starts with them.
    fn seed_creators(&mut self, proc_root: &Path) {
        let creators = &self.creators;
        let peers = match creator::peers::connected(proc_root, |p| creators.watches(p)) {
            Ok(p) => p,
            Err(e) => {
                log::warn!("clients connected to runtime sockets before start not known: {e}");
                return;
            }
        };
        let now = Instant::now();
        let mut n = 0;
        for peer in &peers {
            let own = peer.pid == std::process::id();
            let Some(p) = self.procs.get(peer.pid).filter(|_| !own) else {
                continue;
            };
            n += 1;
            let container = p
                .container
                .as_deref()
                .map(|id| id[..12.min(id.len())].to_owned());
            let process = Arc::new(self.seeded_process(proc_root, peer.pid, now));
            self.creators
                .connected_before(&process, container.as_deref(), &peer.socket);
        }
        log::info!("{n} clients connected to runtime sockets before start");
    }

    pub fn procs(&self) -> &ProcTable {
        &self.procs
    }

    pub fn containers(&self) -> &Registry {
        &self.containers
    }

    pub fn cgroup_root(&self) -> Option<&Path> {
        self.containers.root()
    }

    /// Periodic housekeeping: reap exited processes, expire removed cgroups.
    pub fn maintain(&mut self, now: Instant, boot_now_ns: u64) {
        self.procs.reap(boot_now_ns);
        self.containers.expire(now);
        self.meta.expire(now);
        let procs = &self.procs;
        self.creators.maintain(boot_now_ns, |pid| {
            procs.get(pid).is_some_and(|p| !p.exited())
        });
    }

    /// How the runtime API lookups went (`None` when they are off).
    pub fn metadata_stats(&self) -> Option<metadata::remote::RemoteStats> {
        self.meta.remote_stats()
    }

    /// Turn one record into an event, updating the host state it implies.
    pub fn enrich(&mut self, rec: &Record, now: Instant) -> Event {
        // A DNS record's header comes from a packet: its task is the
        // socket's owner, whose parent the kernel did not read there (the
        // process table knows it), and it says nothing new about it.
        let packet = matches!(rec, Record::Dns(_));
        let mut header = *rec.header();
        if packet {
            header.ppid = self.procs.get(header.tgid).map_or(0, |p| p.ppid);
        }
        let h = &header;
        let (container, cgroup, key) = self.container(h.cgroup_id, h.tgid, now);
        let boot = h.boot_ns;
        if !packet {
            self.procs
                .observe(h.tgid, h.ppid, h.uid, h.comm(), key.clone(), boot);
        }
        let mut truncated: Vec<String> = Vec::new();
        // A refused exec describes the process it would have become, and
        // then the process table goes back to what still runs.
        let mut undo_exec = None;
        let data = match rec {
            Record::Exec(r) => {
                let mut argv = r.args().map(escape);
                let exe = argv.next();
                let args: Vec<String> = argv.collect();
                let exepath = r.exe();
                let unknown = r.flags & exec_flags::EXE_UNKNOWN != 0 || exepath.bytes.is_empty();
                if r.args_truncated() || (r.argc as usize) > args.len() + usize::from(exe.is_some())
                {
                    truncated.extend(["proc.args".into(), "proc.cmdline".into()]);
                }
                if exepath.truncated {
                    truncated.push("proc.exepath".into());
                }
                if r.filename().truncated {
                    truncated.push("evt.arg.filename".into());
                }
                let before = self.procs.get(h.tgid).and_then(|p| p.env.as_ref());
                let ctx = Startup::of(r, self.proc_root.as_deref(), before);
                if ctx.env_truncated {
                    truncated.push("proc.env".into());
                }
                let info = ExecInfo {
                    exe: exe.map(Text::from),
                    exepath: (!unknown).then(|| escape(exepath.bytes).into()),
                    args: args.into(),
                    upper_layer: r.flags & exec_flags::EXE_UPPER_LAYER != 0,
                    lower_layer: r.flags
                        & (exec_flags::EXE_OVERLAY
                            | exec_flags::EXE_UPPER_LAYER
                            | exec_flags::EXE_UNKNOWN)
                        == exec_flags::EXE_OVERLAY,
                    exe_writable: ctx.exe_writable,
                    memfd: r.flags & exec_flags::EXE_MEMFD != 0,
                    vpid: (r.vpid != 0).then_some(r.vpid),
                    session: (r.flags & exec_flags::SESSION_KNOWN != 0).then_some(Session {
                        tty: r.tty,
                        sid: r.sid,
                        vpgid: r.vpgid,
                    }),
                    loginuid: (r.flags & exec_flags::LOGINUID_KNOWN != 0).then_some(r.loginuid),
                    caps: Some((r.cap_effective, r.cap_permitted)),
                    cwd: ctx.cwd,
                    stdin: ctx.stdin,
                    stdout: ctx.stdout,
                    env: ctx.env,
                };
                let enforcement = if r.flags & exec_flags::DENIED != 0 {
                    undo_exec = self.procs.get(h.tgid).cloned();
                    Some("denied")
                } else if r.flags & exec_flags::WOULD_DENY != 0 {
                    Some("would_deny")
                } else {
                    None
                };
                self.procs.on_exec(h.tgid, info, boot);
                Data::Exec(ExecData {
                    enforcement: enforcement.map(str::to_owned),
                    filename: escape(r.filename().bytes),
                    argc: r.argc as u32,
                    cap_effective: r.cap_effective,
                    cap_permitted: r.cap_permitted,
                    exe_ino: r.exe_ino,
                    exe_on_overlay: r.flags & exec_flags::EXE_OVERLAY != 0,
                })
            }
            Record::Fork(r) => Data::Clone(CloneData {
                child_pid: r.child_tgid,
                child_tid: r.child_tid,
                flags: r.clone_flags,
                flags_text: sysargs::clone_flags_text(r.clone_flags),
            }),
            Record::Exit(r) => Data::Exit(ExitData {
                raw: r.exit_code,
                status: (r.exit_code >> 8) & 0xff,
                signal: r.exit_code & 0x7f,
                core_dumped: r.exit_code & 0x80 != 0,
            }),
            Record::Syscall(r) => {
                let d = sysargs::decode(r);
                truncated.extend(d.truncated.iter().map(|n| format!("evt.arg.{n}")));
                if d.path.is_some() && r.str0().truncated {
                    truncated.push("fd.name".into());
                }
                let fd_name = self.resolve(h.tgid, &d);
                let mut conn = d.conn;
                if let Some(c) = &mut conn {
                    let name_of = |e: Option<&sysargs::Endpoint>| {
                        self.names
                            .name_of(&key, &e?.ip, boot)
                            .map(|n| n.to_string())
                    };
                    c.server_name = name_of(c.server.as_ref());
                    c.client_name = name_of(c.client.as_ref());
                }
                let mut s = SyscallData {
                    name: r.id().map(|i| i.name()).unwrap_or("syscall").into(),
                    ret: r.ret,
                    res: sysargs::res_name(r.ret),
                    raw_args: r.args,
                    args: d.args,
                    fd_name,
                    sockaddr: d.sockaddr,
                    conn,
                };
                self.sockets.on_syscall(h.tgid, &mut s);
                Data::Syscall(Box::new(s))
            }
            Record::ModuleLoad(r) => Data::ModuleLoad {
                name: escape(r.name()),
            },
            Record::CgroupMkdir(r) | Record::CgroupRmdir(r) => {
                let path = escape(r.path().bytes);
                if r.path().truncated {
                    truncated.push("evt.arg.path".into());
                }
                // Only the v2 hierarchy's ids are what records carry.
                let v2 = r.hierarchy_id == 0;
                let cg = CgroupData {
                    id: r.id,
                    path: path.clone(),
                    level: r.level,
                    hierarchy_id: r.hierarchy_id,
                };
                if matches!(rec, Record::CgroupMkdir(_)) {
                    if v2 && !r.path().truncated {
                        self.containers.learn(r.id, &path);
                        // Read the runtime's metadata now, while the
                        // container certainly still exists.
                        let info = crate::enrich::cgroup::parse(&path);
                        if let (Some(_), Some(k)) = (&info.container_id, &self.enforced) {
                            if let Err(e) = k.insert(r.id) {
                                log::warn!("enforcement: cgroup {path}: {e}");
                            }
                        }
                        if let Some(id) = &info.container_id {
                            // The result is cached (files) or arrives in
                            // the background (APIs); nothing waits here.
                            let _ = self.meta.resolve(info.runtime, id, now);
                            let procs = &self.procs;
                            self.creators.on_container_start(
                                info.runtime,
                                id,
                                h.tgid,
                                boot,
                                |pid| procs.get(pid).is_some_and(|p| !p.exited()),
                            );
                        }
                    }
                    Data::CgroupMkdir(cg)
                } else {
                    if v2 {
                        self.containers.on_rmdir(r.id, now);
                        if let Some(k) = &self.enforced {
                            k.remove(r.id);
                        }
                        if let Some(id) = crate::enrich::cgroup::parse(&path).container_id {
                            self.meta.gone(&id, now);
                            self.names.forget(&id);
                            self.creators.gone(&id, boot);
                        }
                    }
                    Data::CgroupRmdir(cg)
                }
            }
            Record::OomKill(r) => Data::OomKill {
                victim_pid: r.victim_tgid,
                victim_name: self.procs.get(r.victim_tgid).map(|p| p.name().to_string()),
            },
            Record::Dns(r) => {
                let d = dns::parse(r);
                if d.truncated {
                    truncated.push("dns.answers".into());
                }
                self.names.learn(&key, &d, boot);
                Data::Dns(Box::new(d))
            }
            Record::Throttled(r) => Data::Throttled(crate::event::ThrottleData {
                by: crate::event::Throttler::Kernel,
                kind: monitor_common::SyscallId::from_u16(r.syscall)
                    .map_or("syscall", |s| s.name())
                    .to_owned(),
                count: r.count,
                window_ns: r.window_ns,
            }),
        };
        let process = self.process_context(h, now);
        self.watch_creators(&process, &container, &data, boot);
        if let Some(p) = undo_exec {
            self.procs.restore(p);
        }
        match rec {
            Record::Fork(r) => {
                // CLONE_PARENT: the child's parent is the forker's parent.
                let ppid = if r.clone_flags & libc::CLONE_PARENT as u64 != 0 {
                    h.ppid
                } else {
                    h.tgid
                };
                self.procs.on_fork(h.tgid, r.child_tgid, ppid, boot);
                self.sockets.on_fork(h.tgid, r.child_tgid);
            }
            Record::Exit(_) => {
                self.procs.on_exit(h.tgid, boot);
                self.sockets.on_exit(h.tgid);
            }
            _ => {}
        }
        let num = self.next_num;
        self.next_num += 1;
        Event {
            num,
            boot_ns: boot,
            wall_ns: self.clock.wall_ns(boot),
            process,
            container,
            cgroup,
            target_is_vigil: self.agent.and_then(|a| {
                let pidfd = self
                    .proc_root
                    .as_deref()
                    .and_then(|root| pidfd::target(root, h.tgid, &data));
                a.is_target(h.ns.pid, &data, pidfd)
            }),
            baseline: None,
            data,
            truncated,
        }
    }

    /// What tells who starts containers: a client connecting to a runtime
    /// socket, a fork in a `podman` command's tree.
    fn watch_creators(&mut self, p: &Arc<Process>, c: &Container, data: &Data, boot: u64) {
        match data {
            Data::Syscall(s)
                if s.name == "connect"
                    && (s.ret >= 0 || s.ret == -i64::from(libc::EINPROGRESS)) =>
            {
                if let Some(sysargs::SockAddr::Unix { path, .. }) = &s.sockaddr {
                    let own = c.full_id.as_ref().map(|_| c.id.as_str());
                    self.creators.on_connect(p, own, path, boot);
                }
            }
            Data::Clone(x) => self.creators.on_fork(p, x.child_pid, boot),
            _ => {}
        }
    }
}
#[cfg(test)]
mod identity_tests;
#[cfg(test)]
pub(crate) mod tests;

/// The enricher against a real podman container: cgroup id from the real
/// v2 hierarchy, metadata from podman's real storage.
#[cfg(test)]
mod podman_tests;
