//! Record → Event: attach process, container and decoded arguments.
//!
//! The [`Enricher`] owns the agent's state about the host (process table,
//! container registry, runtime metadata) and is the only place that state
//! changes: fork/exec/exit records update the process table, cgroup records
//! the registry, in record order, before or after building the event as the
//! record's meaning requires (an exec event shows the new program; an exit
//! event shows the process that is leaving).

pub mod applet;
pub mod cgroup;
pub mod containers;
pub mod creator;
pub mod cwd;
pub mod dns;
pub mod environ;
pub mod hold;
pub mod metadata;
pub mod pidfd;
pub mod proctable;
pub mod sockets;
pub mod stdio;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use monitor_common::decode::Record;
use monitor_common::records::{exec_flags, Header};

use crate::enrich::cgroup::CgroupInfo;
use crate::enrich::containers::{Registry, RegistryConfig};
use crate::enrich::creator::{CreatorConfig, Creators};
use crate::enrich::metadata::{Metadata, MetadataConfig};
use crate::enrich::proctable::{ContainerKey, ExecInfo, ProcTable, ProcTableConfig};
use crate::enrich::users::UserNames;
use crate::event::sysargs;
use crate::event::text::escape;
use crate::event::{
    cmdline, Cgroup, CgroupData, Clock, CloneData, Container, Data, Event, ExecContext, ExecData,
    ExitData, Process, Session, SyscallData,
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

/// Who the agent is, as kill/ptrace callers name it: its pid in its pid
/// namespace. A caller in another pid namespace names other processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentId {
    pub pid: u32,
    /// Inode of the agent's pid namespace; 0 if unknown (then any caller's
    /// namespace is accepted).
    pub pid_ns: u32,
}

impl AgentId {
    /// This process.
    pub fn current() -> AgentId {
        use std::os::unix::fs::MetadataExt;
        AgentId {
            pid: std::process::id(),
            pid_ns: std::fs::metadata("/proc/self/ns/pid")
                .map(|m| m.ino() as u32)
                .unwrap_or(0),
        }
    }

    /// `Some(is it us)` for syscalls that target a process, else `None`.
    /// `pidfd_target` is the pid (in the agent's namespace) a
    /// pidfd_send_signal's pidfd refers to, when it could be read.
    pub fn is_target(
        &self,
        caller_pid_ns: u32,
        data: &Data,
        pidfd_target: Option<u32>,
    ) -> Option<bool> {
        let Data::Syscall(s) = data else { return None };
        let key = match &*s.name {
            "kill" | "tgkill" | "ptrace" | "rt_sigqueueinfo" | "rt_tgsigqueueinfo" => "pid",
            "tkill" => "tid",
            "pidfd_send_signal" => return Some(pidfd_target == Some(self.pid)),
            _ => return None,
        };
        let same_ns = self.pid_ns == 0 || caller_pid_ns == 0 || caller_pid_ns == self.pid_ns;
        let target = s
            .args
            .iter()
            .find(|a| a.name == key)
            .and_then(|a| match a.value {
                sysargs::ArgValue::Int(i) => Some(i),
                _ => None,
            });
        // kill(-1, sig) signals every process the caller may signal.
        let everyone = key == "pid" && s.name == "kill" && target == Some(-1);
        Some(same_ns && (everyone || target == Some(i64::from(self.pid))))
    }
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
}

impl Enricher {
    pub fn new(procs: ProcTable, containers: Registry, meta: Metadata, clock: Clock) -> Enricher {
        Enricher {
            procs,
            containers,
            meta,
            creators: Creators::new(CreatorConfig::default(), std::process::id()),
            clock,
            next_num: 1,
            agent: None,
            enforced: None,
            users: UserNames::new(None),
            groups: UserNames::groups(None),
            proc_root: None,
            names: dns::Names::default(),
            sockets: sockets::SocketTable::new(),
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
        }
        match cfg.agent {
            Some(a) => e.with_agent(a),
            None => e,
        }
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
        let h = rec.header();
        let (container, cgroup, key) = self.container(h.cgroup_id, h.tgid, now);
        let boot = h.boot_ns;
        self.procs
            .observe(h.tgid, h.ppid, h.uid, h.comm(), key.clone(), boot);
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
                let (stdin, stdout) = self
                    .proc_root
                    .as_deref()
                    .map(|root| stdio::exec_stdio(root, h.tgid))
                    .unwrap_or_default();
                let env = self
                    .proc_root
                    .as_deref()
                    .and_then(|root| environ::read(&root.join(h.tgid.to_string())));
                if env.as_ref().is_some_and(|(_, cut)| *cut) {
                    truncated.push("proc.env".into());
                }
                let info = ExecInfo {
                    exe,
                    exepath: (!unknown).then(|| escape(exepath.bytes)),
                    args,
                    upper_layer: r.flags & exec_flags::EXE_UPPER_LAYER != 0,
                    memfd: r.flags & exec_flags::EXE_MEMFD != 0,
                    vpid: (r.vpid != 0).then_some(r.vpid),
                    session: (r.flags & exec_flags::SESSION_KNOWN != 0).then_some(Session {
                        tty: r.tty,
                        sid: r.sid,
                        vpgid: r.vpgid,
                    }),
                    loginuid: (r.flags & exec_flags::LOGINUID_KNOWN != 0).then_some(r.loginuid),
                    caps: Some((r.cap_effective, r.cap_permitted)),
                    cwd: self
                        .proc_root
                        .as_deref()
                        .and_then(|root| crate::enrich::cwd::exec_cwd(root, h.tgid, h.ppid)),
                    stdin,
                    stdout,
                    env: env.map(|(env, _)| env),
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
                    c.server_name = c
                        .server
                        .as_ref()
                        .and_then(|s| self.names.name_of(&key, &s.ip, boot))
                        .map(|n| n.to_string());
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
                victim_name: self.procs.get(r.victim_tgid).map(|p| p.name().to_owned()),
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
        let process = Arc::new(self.process(h, now));
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

    /// The container (with metadata) and cgroup of a cgroup id, as events
    /// of that cgroup carry them.
    pub fn container_of(&mut self, cgroup_id: u64, now: Instant) -> (Arc<Container>, Arc<Cgroup>) {
        let (c, g, _) = self.container(cgroup_id, 0, now);
        (c, g)
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

    /// The container of `cgroup_id` as an event of its process `pid`
    /// carries it (0: no process).
    fn container(
        &mut self,
        cgroup_id: u64,
        pid: u32,
        now: Instant,
    ) -> (Arc<Container>, Arc<Cgroup>, ContainerKey) {
        let Some(entry) = self.containers.resolve(cgroup_id, now) else {
            return (
                Arc::default(),
                Arc::new(Cgroup {
                    id: cgroup_id,
                    path: None,
                }),
                None,
            );
        };
        let cgroup = Arc::new(Cgroup {
            id: cgroup_id,
            path: Some(entry.path.to_string()),
        });
        let info = entry.info.clone();
        let key = container_key(&info);
        let Some(full) = info.container_id.clone() else {
            let c = Container {
                pod_uid: info.pod_uid.clone(),
                qos: info.qos,
                ..Container::default()
            };
            return (Arc::new(c), cgroup, key);
        };
        let meta = self.meta.resolve(info.runtime, &full, now);
        let (meta, unresolved) = match meta {
            Ok(m) => (Some(m), None),
            Err(why) => (None, Some(why)),
        };
        let creator = Some(self.creators.get(&full, pid));
        let container = Container {
            id: full[..12].to_owned(),
            full_id: Some(full),
            runtime: info.runtime,
            name: meta.as_ref().and_then(|m| m.name.clone()),
            image: meta.as_ref().and_then(|m| m.image.clone()),
            // The runtime knows the pod even where the cgroup path does not say.
            pod_uid: info
                .pod_uid
                .clone()
                .or_else(|| meta.as_ref()?.pod.as_ref().map(|p| p.uid.clone())),
            qos: info.qos,
            meta,
            unresolved,
            creator,
        };
        (Arc::new(container), cgroup, key)
    }

    fn process(&mut self, h: &Header, now: Instant) -> Process {
        let user_name = self.users.name(h.tgid, h.ppid, h.ns.mnt, h.uid, now);
        let group_name = self.groups.name(h.tgid, h.ppid, h.ns.mnt, h.gid, now);
        let entry = self.procs.get(h.tgid);
        let parent = self.procs.get(h.ppid);
        Process {
            pid: h.tgid,
            tid: h.tid,
            ppid: h.ppid,
            vpid: entry.and_then(|p| p.vpid),
            session: entry.and_then(|p| p.session),
            loginuid: entry.and_then(|p| p.loginuid),
            uid: h.uid,
            gid: h.gid,
            euid: h.euid,
            egid: h.egid,
            name: {
                let comm = escape(h.comm());
                match entry {
                    Some(p) => p.name_for(&comm).to_owned(),
                    None => comm,
                }
            },
            start_boot_ns: entry.and_then(|p| p.start_boot_ns),
            user_name,
            group_name,
            ns: h.ns.into(),
            exec: Arc::new(ExecContext {
                exe: entry.and_then(|p| p.exe.clone()),
                exepath: entry.and_then(|p| p.exepath.clone()),
                args: entry.map(|p| p.args.clone()).unwrap_or_default(),
                is_exe_upper_layer: entry.and_then(|p| p.is_exe_upper_layer),
                is_exe_from_memfd: entry.and_then(|p| p.is_exe_from_memfd),
                pname: parent.map(|p| p.name().to_owned()),
                pexe: parent.and_then(|p| p.exe.clone()),
                pexepath: parent.and_then(|p| p.exepath.clone()),
                pcmdline: parent.map(|p| cmdline(p.name(), &p.args)),
                ancestors: self.procs.ancestry(h.tgid),
                cap_effective: entry.and_then(|p| p.caps).map(|c| c.0),
                cap_permitted: entry.and_then(|p| p.caps).map(|c| c.1),
                cwd: entry.and_then(|p| p.cwd.clone()),
                stdin: entry.and_then(|p| p.stdin.clone()),
                stdout: entry.and_then(|p| p.stdout.clone()),
                env: entry.and_then(|p| p.env.clone()),
            }),
        }
    }
}

fn container_key(info: &CgroupInfo) -> ContainerKey {
    info.container_id.as_deref().map(Arc::from)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::sysargs::{ArgValue, SockAddr};
    use crate::event::Runtime;
    use monitor_common::records::*;
    use monitor_common::{EventKind, SyscallId};
    use std::time::Duration;

    pub(crate) const CID: &str = "82ac0468654e2b83c032a86b876f3a797504f4fe22bf26f1510d37739331c198";

    pub(crate) fn header(
        kind: EventKind,
        pid: u32,
        ppid: u32,
        comm: &[u8],
        cgroup_id: u64,
        boot_ns: u64,
    ) -> Header {
        let mut c = [0u8; COMM_LEN];
        let n = comm.len().min(COMM_LEN);
        c[..n].copy_from_slice(&comm[..n]);
        Header {
            kind: kind as u16,
            version: RECORD_VERSION,
            size: 0,
            boot_ns,
            cgroup_id,
            tgid: pid,
            tid: pid,
            ppid,
            uid: 0,
            gid: 0,
            euid: 0,
            egid: 0,
            _pad: 0,
            comm: c,
            ns: Namespaces {
                mnt: 4026531841,
                pid: 4026531836,
                ..Default::default()
            },
        }
    }

    pub(crate) fn exec(
        pid: u32,
        ppid: u32,
        cg: u64,
        boot: u64,
        argv: &[&[u8]],
        exe: &[u8],
        flags: u32,
    ) -> Record {
        let comm = argv
            .first()
            .map(|a| a.rsplit(|&b| b == b'/').next().unwrap_or(a))
            .unwrap_or(b"");
        let mut r = ExecRecord {
            header: header(EventKind::Exec, pid, ppid, comm, cg, boot),
            cap_effective: 0x1ff,
            cap_permitted: 0x1ff,
            exe_ino: 42,
            flags,
            args_len: 0,
            filename_len: 0,
            exe_start: 0,
            exe_len: 0,
            argc: argv.len() as u16,
            filename: [0; PATH_LEN],
            exe: [0; EXE_BUF_LEN],
            args: [0; ARGS_LEN],
            vpid: pid,
            _pad2: 0,
            tty: 0,
            loginuid: u32::MAX,
            sid: pid,
            vpgid: pid,
        };
        let mut off = 0;
        for a in argv {
            let n = a.len().min(ARGS_LEN - off);
            r.args[off..off + n].copy_from_slice(&a[..n]);
            off = (off + n + 1).min(ARGS_LEN);
        }
        r.args_len = off as u32;
        let f = argv.first().copied().unwrap_or(b"");
        r.filename[..f.len()].copy_from_slice(f);
        r.filename_len = f.len() as u16;
        let start = EXE_BUF_LEN - exe.len();
        r.exe[start..].copy_from_slice(exe);
        r.exe_start = start as u16;
        r.exe_len = exe.len() as u16;
        Record::Exec(Box::new(r))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn syscall(
        pid: u32,
        cg: u64,
        boot: u64,
        id: SyscallId,
        ret: i64,
        args: [u64; 6],
        s0: &[u8],
        s1: &[u8],
        short: &[u8],
    ) -> Record {
        let mut r = SyscallRecord {
            header: header(EventKind::Syscall, pid, 1, b"sh", cg, boot),
            syscall: id as u16,
            flags: 0,
            str0_len: s0.len() as u16,
            str1_len: s1.len() as u16,
            short_len: short.len() as u16,
            _pad: [0; 3],
            ret,
            args,
            str0: [0; PATH_LEN],
            str1: [0; PATH_LEN],
            short: [0; SHORT_LEN],
        };
        r.str0[..s0.len()].copy_from_slice(s0);
        r.str1[..s1.len()].copy_from_slice(s1);
        r.short[..short.len()].copy_from_slice(short);
        Record::Syscall(Box::new(r))
    }

    /// connect(3, 127.0.0.1:6379) as the sensor records it: the raw
    /// `sockaddr_in` in str0, the socket's tuple (from port 40000) in str1.
    pub(crate) fn connect_loopback(pid: u32, cg: u64, boot: u64, ret: i64) -> Record {
        let mut sa = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        sa.extend(6379u16.to_be_bytes());
        sa.extend([127, 0, 0, 1]);
        sa.extend([0; 8]);
        let mut r = syscall(
            pid,
            cg,
            boot,
            SyscallId::Connect,
            ret,
            [3, 0, 16, 0, 0, 0],
            &sa,
            b"",
            b"",
        );
        if let Record::Syscall(s) = &mut r {
            s.flags |= monitor_common::records::syscall_flags::STR0_SOCKADDR
                | monitor_common::records::syscall_flags::STR1_TUPLE;
            let mut t = monitor_common::SockTuple {
                family: libc::AF_INET as u16,
                sock_type: libc::SOCK_STREAM as u16,
                protocol: libc::IPPROTO_TCP as u16,
                local_port: 40000,
                remote_port: 6379,
                ..Default::default()
            };
            t.local[..4].copy_from_slice(&[127, 0, 0, 1]);
            t.remote[..4].copy_from_slice(&[127, 0, 0, 1]);
            // SAFETY: SockTuple is plain integers without padding.
            let bytes = unsafe {
                std::slice::from_raw_parts(
                    (&raw const t).cast::<u8>(),
                    std::mem::size_of::<monitor_common::SockTuple>(),
                )
            };
            s.str1[..bytes.len()].copy_from_slice(bytes);
            s.str1_len = bytes.len() as u16;
        }
        r
    }

    /// The answer to "`name` A?" (`name` → `ip`, TTL 300) as the sensor
    /// captures it from a resolver at 10.88.0.1:53.
    pub(crate) fn dns_answer(pid: u32, cg: u64, boot: u64, name: &str, ip: [u8; 4]) -> Record {
        let msg = dns::tests::answer_bytes(0x1234, name, ip, 300);
        let mut r = DnsRecord {
            header: header(EventKind::Dns, pid, 1, b"sh", cg, boot),
            tuple: monitor_common::SockTuple {
                family: libc::AF_INET as u16,
                sock_type: libc::SOCK_DGRAM as u16,
                protocol: libc::IPPROTO_UDP as u16,
                local_port: 40001,
                remote_port: 53,
                ..Default::default()
            },
            direction: dns_direction::RECEIVED,
            len: msg.len() as u16,
            truncated: 0,
            _pad: 0,
            payload: [0; DNS_PAYLOAD_LEN],
        };
        r.tuple.local[..4].copy_from_slice(&[10, 88, 0, 5]);
        r.tuple.remote[..4].copy_from_slice(&[10, 88, 0, 1]);
        r.payload[..msg.len()].copy_from_slice(&msg);
        Record::Dns(Box::new(r))
    }

    pub(crate) fn cgroup_rec(mkdir: bool, id: u64, path: &str, boot: u64) -> Record {
        let kind = if mkdir {
            EventKind::CgroupMkdir
        } else {
            EventKind::CgroupRmdir
        };
        let mut r = CgroupRecord {
            header: header(kind, 900, 1, b"runc", 1, boot),
            id,
            hierarchy_id: 0,
            level: 2,
            path_len: path.len() as u16,
            truncated: 0,
            _pad: 0,
            path: [0; PATH_LEN],
        };
        r.path[..path.len()].copy_from_slice(path.as_bytes());
        if mkdir {
            Record::CgroupMkdir(r)
        } else {
            Record::CgroupRmdir(r)
        }
    }

    pub(crate) fn fork(
        parent: u32,
        pparent: u32,
        child: u32,
        cg: u64,
        boot: u64,
        flags: u64,
    ) -> Record {
        Record::Fork(ForkRecord {
            header: header(EventKind::Fork, parent, pparent, b"sh", cg, boot),
            clone_flags: flags,
            child_tgid: child,
            child_tid: child,
        })
    }

    pub(crate) fn exit(pid: u32, ppid: u32, cg: u64, boot: u64, code: u32) -> Record {
        Record::Exit(ExitRecord {
            header: header(EventKind::Exit, pid, ppid, b"ls", cg, boot),
            exit_code: code,
            _pad: 0,
        })
    }

    #[test]
    fn user_names_come_from_the_process_own_passwd() {
        let dir = crate::testutil::TempDir::new("usernames");
        let etc = dir.path().join("50/root/etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("passwd"), "toor:x:0:0::/root:/bin/sh\n").unwrap();
        let mut e = bare().with_procfs(dir.path().to_owned());
        let now = Instant::now();
        let ev = e.enrich(
            &exec(50, 40, 777, 20, &[b"/bin/ls"], b"/usr/bin/ls", 0),
            now,
        );
        assert_eq!(ev.process.user_name.as_deref(), Some("toor"));
        // Without a readable passwd (another namespace, no such pid) there is no name.
        let mut e = bare();
        let ev = e.enrich(
            &exec(50, 40, 777, 20, &[b"/bin/ls"], b"/usr/bin/ls", 0),
            now,
        );
        assert_eq!(ev.process.user_name, None);
    }

    /// An enricher with no host state: only records teach it.
    pub(crate) fn bare() -> Enricher {
        with_state(
            Clock::with_offset(1_000_000_000_000_000_000),
            MetadataConfig {
                podman_roots: vec![],
                docker_root: None,
                ..Default::default()
            },
        )
    }

    pub(crate) fn with_state(clock: Clock, meta: MetadataConfig) -> Enricher {
        Enricher::new(
            ProcTable::new(ProcTableConfig {
                reap_delay_ns: 1_000,
                ..Default::default()
            }),
            Registry::new(
                None,
                RegistryConfig {
                    rescan_interval: Duration::ZERO,
                    grace: Duration::from_secs(5),
                },
            ),
            Metadata::new(meta),
            clock,
        )
    }

    #[test]
    fn short_lived_container_is_attributed_from_mkdir() {
        let mut e = bare();
        let now = Instant::now();
        let path = format!("/libpod_parent/libpod-{CID}");
        e.enrich(&cgroup_rec(true, 777, &path, 10), now);
        let ev = e.enrich(
            &exec(
                50,
                40,
                777,
                20,
                &[b"/bin/ls", b"-la"],
                b"/usr/bin/ls",
                exec_flags::EXE_UPPER_LAYER,
            ),
            now,
        );
        assert_eq!(ev.container.id, &CID[..12]);
        assert_eq!(ev.container.full_id.as_deref(), Some(CID));
        assert_eq!(ev.container.runtime, Runtime::Podman);
        assert_eq!(ev.cgroup.path.as_deref(), Some(path.as_str()));
        assert_eq!(ev.process.exec.exe.as_deref(), Some("/bin/ls"));
        assert_eq!(ev.process.exec.exepath.as_deref(), Some("/usr/bin/ls"));
        assert_eq!(ev.process.exec.args, ["-la"]);
        assert_eq!(ev.process.exec.is_exe_upper_layer, Some(true));
        assert_eq!(ev.process.exec.cap_effective, Some(0x1ff));
        assert_eq!(ev.process.exec.cap_permitted, Some(0x1ff));
        assert_eq!(ev.wall_ns, 1_000_000_000_000_000_020);
        assert_eq!(ev.evt_type(), "execve");
        // The cgroup is removed; queued records still resolve during grace.
        e.enrich(&cgroup_rec(false, 777, &path, 30), now);
        let ev = e.enrich(&exit(50, 40, 777, 40, 0), now + Duration::from_secs(1));
        assert_eq!(ev.container.id, &CID[..12]);
        // Later events of the process keep the capabilities of its exec.
        assert_eq!(ev.process.exec.cap_effective, Some(0x1ff));
        e.maintain(now + Duration::from_secs(10), 10_000);
        let ev = e.enrich(&exit(51, 40, 777, 50, 0), now + Duration::from_secs(10));
        assert_eq!(ev.container.id, "host");
        assert_eq!(ev.cgroup.path, None);
    }

    #[test]
    fn fork_exec_exit_keeps_the_process_table() {
        let mut e = bare();
        let now = Instant::now();
        e.enrich(&exec(10, 1, 1, 1, &[b"sh"], b"/usr/bin/sh", 0), now);
        let ev = e.enrich(&fork(10, 1, 11, 1, 2, libc::SIGCHLD as u64), now);
        let Data::Clone(c) = &ev.data else { panic!() };
        assert_eq!(c.child_pid, 11);
        e.enrich(
            &exec(11, 10, 1, 3, &[b"curl", b"http://x"], b"/usr/bin/curl", 0),
            now,
        );
        let mut rec = syscall(
            11,
            1,
            4,
            SyscallId::Openat,
            -2,
            [libc::AT_FDCWD as u64, 0, 0, 0, 0, 0],
            b"/etc/shadow",
            b"",
            b"",
        );
        if let Record::Syscall(r) = &mut rec {
            r.header.ppid = 10;
        }
        let ev = e.enrich(&rec, now);
        assert_eq!(ev.process.exec.pname.as_deref(), Some("sh"));
        assert_eq!(ev.process.exec.pexepath.as_deref(), Some("/usr/bin/sh"));
        assert_eq!(ev.process.exec.ancestors.first().map(|a| a.pid), Some(10));
        let Data::Syscall(s) = &ev.data else { panic!() };
        assert_eq!(s.res, "ENOENT");
        assert_eq!(s.fd_name.as_deref(), Some("/etc/shadow"));
        assert!(s.args.iter().any(|a| a.name == "flags"
            && matches!(&a.value, ArgValue::Flags { text, .. } if text == "O_RDONLY")));
        let ev = e.enrich(&exit(11, 10, 1, 5, 9), now);
        let Data::Exit(x) = &ev.data else { panic!() };
        assert_eq!((x.signal, x.status), (9, 0));
        assert_eq!(
            ev.process.exec.exepath.as_deref(),
            Some("/usr/bin/curl"),
            "exit shows the leaving process"
        );
        assert!(e.procs().get(11).is_some());
        e.maintain(now, 5 + 1_000);
        assert!(e.procs().get(11).is_none(), "reaped");
    }

    /// An exec the LSM hook refused describes the would-be process (its
    /// memfd exe) and leaves the process table as it was; a dry-run one
    /// is an exec like any other, flagged.
    #[test]
    fn a_refused_exec_describes_the_attempt_and_changes_nothing() {
        let mut e = bare();
        let now = Instant::now();
        e.enrich(&exec(10, 1, 1, 1, &[b"sh"], b"/usr/bin/sh", 0), now);
        let memfd = exec_flags::EXE_MEMFD;
        let ev = e.enrich(
            &exec(
                10,
                1,
                1,
                2,
                &[b"/proc/self/fd/3"],
                b"/memfd:x (deleted)",
                memfd | exec_flags::DENIED,
            ),
            now,
        );
        let Data::Exec(x) = &ev.data else { panic!() };
        assert!(x.denied());
        assert_eq!(x.enforcement.as_deref(), Some("denied"));
        assert_eq!(ev.process.exec.is_exe_from_memfd, Some(true));
        assert_eq!(
            ev.process.exec.exepath.as_deref(),
            Some("/memfd:x (deleted)")
        );
        let p = e.procs().get(10).unwrap();
        assert_eq!(p.exepath.as_deref(), Some("/usr/bin/sh"), "still sh");
        assert_eq!(p.is_exe_from_memfd, Some(false));
        let ev = e.enrich(
            &exec(
                10,
                1,
                1,
                3,
                &[b"3"],
                b"/memfd:x (deleted)",
                memfd | exec_flags::WOULD_DENY,
            ),
            now,
        );
        let Data::Exec(x) = &ev.data else { panic!() };
        assert!(!x.denied());
        assert_eq!(x.enforcement.as_deref(), Some("would_deny"));
        let p = e.procs().get(10).unwrap();
        assert_eq!(p.exepath.as_deref(), Some("/memfd:x (deleted)"));
    }

    #[test]
    fn environments_are_read_at_exec_and_passed_down_once() {
        let dir = crate::testutil::TempDir::new("enrich-env");
        let root = dir.path();
        for (pid, env) in [
            (10, &b"HOME=/root\0MODE=parent\0"[..]),
            (11, b"HOME=/root\0MODE=parent\0"),
            (12, b"MODE=child\0"),
        ] {
            std::fs::create_dir_all(root.join(pid.to_string())).unwrap();
            std::fs::write(root.join(format!("{pid}/environ")), env).unwrap();
        }
        let mut e = bare().with_procfs(root.to_path_buf());
        let now = Instant::now();
        e.enrich(&exec(10, 1, 1, 1, &[b"sh"], b"/bin/sh", 0), now);
        e.enrich(&fork(10, 1, 11, 1, 2, libc::SIGCHLD as u64), now);
        e.enrich(&exec(11, 10, 1, 3, &[b"sh"], b"/bin/sh", 0), now);
        e.enrich(&fork(11, 10, 12, 1, 4, libc::SIGCHLD as u64), now);
        let ev = e.enrich(&exec(12, 11, 1, 5, &[b"env"], b"/usr/bin/env", 0), now);
        let x = &ev.process.exec;
        assert_eq!(x.env.as_deref(), Some(&["MODE=child".to_owned()][..]));
        let envs: Vec<_> = x
            .ancestors
            .iter()
            .map(|a| a.env.as_deref().map(<[String]>::len))
            .collect();
        // The parent's differs from the child's; the grandparent's is the
        // parent's, said once.
        assert_eq!(envs, [Some(2), None]);
        // Gone before its exec is handled: it keeps what it had (its
        // parent's, from the fork).
        e.enrich(&fork(12, 11, 13, 1, 6, libc::SIGCHLD as u64), now);
        let ev = e.enrich(&exec(13, 12, 1, 7, &[b"id"], b"/usr/bin/id", 0), now);
        assert_eq!(
            ev.process.exec.env.as_deref(),
            Some(&["MODE=child".to_owned()][..])
        );
    }

    #[test]
    fn relative_opens_take_the_kernels_resolution() {
        let mut e = bare().with_procfs("/nonexistent-proc".into());
        let mut rec = syscall(
            30,
            1,
            1,
            SyscallId::Openat,
            3,
            [libc::AT_FDCWD as u64, 0, 0, 0, 0, 0],
            b"../admin.conf",
            b"/etc/kubernetes/admin.conf",
            b"",
        );
        if let Record::Syscall(r) = &mut rec {
            r.flags |= syscall_flags::PATH_AT;
        }
        let ev = e.enrich(&rec, Instant::now());
        let Data::Syscall(s) = &ev.data else { panic!() };
        assert_eq!(s.fd_name.as_deref(), Some("/etc/kubernetes/admin.conf"));
        // Without it (nor procfs, nor an exec's cwd) the name stays relative.
        if let Record::Syscall(r) = &mut rec {
            r.str1_len = 0;
        }
        let ev = e.enrich(&rec, Instant::now());
        let Data::Syscall(s) = &ev.data else { panic!() };
        assert_eq!(s.fd_name.as_deref(), Some("../admin.conf"));
        assert!(s.args.iter().any(|a| a.name == "unresolved"));
    }

    #[test]
    fn connect_and_truncation() {
        let mut e = bare();
        let mut sa = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        sa.extend(6379u16.to_be_bytes());
        sa.extend([127, 0, 0, 1]);
        sa.extend([0; 8]);
        let mut rec = syscall(
            5,
            1,
            1,
            SyscallId::Connect,
            0,
            [3, 0, 16, 0, 0, 0],
            &sa,
            b"",
            b"",
        );
        if let Record::Syscall(r) = &mut rec {
            r.flags |= syscall_flags::STR0_SOCKADDR;
        }
        let ev = e.enrich(&rec, Instant::now());
        let Data::Syscall(s) = &ev.data else { panic!() };
        assert_eq!(
            s.sockaddr,
            Some(SockAddr::Inet {
                ip: "127.0.0.1".into(),
                port: 6379
            })
        );
        assert_eq!(s.fd_name.as_deref(), Some("127.0.0.1:6379"));
        let mut rec = syscall(
            5,
            1,
            1,
            SyscallId::Mount,
            0,
            [0, 0, 0, libc::MS_BIND, 0, 0],
            b"/dev/sda1",
            b"/mnt",
            b"ext4",
        );
        if let Record::Syscall(r) = &mut rec {
            r.flags |= syscall_flags::STR1_TRUNCATED;
        }
        let ev = e.enrich(&rec, Instant::now());
        assert_eq!(ev.truncated, ["evt.arg.dir"]);
    }

    #[test]
    fn serde_round_trip_of_every_kind() {
        let mut e = bare();
        let now = Instant::now();
        let recs = [
            cgroup_rec(true, 5, &format!("/docker/{CID}"), 1),
            exec(10, 1, 5, 2, &[b"sh", b"-c", b"x\xff"], b"/bin/sh", 0),
            fork(10, 1, 11, 5, 3, 0),
            syscall(
                10,
                5,
                4,
                SyscallId::Setns,
                -1,
                [3, libc::CLONE_NEWNS as u64, 0, 0, 0, 0],
                b"",
                b"",
                b"",
            ),
            exit(10, 1, 5, 5, 256),
            Record::ModuleLoad(ModuleRecord {
                header: header(EventKind::ModuleLoad, 1, 0, b"insmod", 1, 6),
                name_len: 3,
                _pad: [0; 3],
                name: [b'x'; SHORT_LEN],
            }),
            Record::OomKill(OomRecord {
                header: header(EventKind::OomKill, 1, 0, b"a", 1, 7),
                victim_tgid: 10,
                _pad: 0,
            }),
            cgroup_rec(false, 5, &format!("/docker/{CID}"), 8),
        ];
        for r in &recs {
            let ev = e.enrich(r, now);
            let text = serde_json::to_string(&ev).unwrap();
            let back: Event = serde_json::from_str(&text).unwrap();
            assert_eq!(back, ev, "{text}");
        }
    }
}

/// The enricher against a real podman container: cgroup id from the real
/// v2 hierarchy, metadata from podman's real storage.
#[cfg(test)]
mod podman_tests {
    use super::tests::*;
    use super::*;
    use crate::event::Runtime;
    use crate::testutil::{is_root, podman, podman_ready, skip, PodmanCleanup};
    use monitor_common::SyscallId;
    use std::os::unix::fs::MetadataExt;
    use std::time::Duration;

    struct Started {
        _guard: PodmanCleanup,
        name: String,
        image: String,
        full_id: String,
        pid: u32,
        cgroup_path: String,
        cgroup_id: u64,
    }

    /// Start a container running `sleep`; `None` (after saying why) if this
    /// machine cannot.
    fn start(tag: &str) -> Option<Started> {
        if !is_root() {
            skip("needs root for podman");
            return None;
        }
        if let Err(e) = podman_ready() {
            skip(&e);
            return None;
        }
        let Ok(root) = crate::enrich::containers::find_cgroup2_root() else {
            skip("no cgroup2 mount");
            return None;
        };
        let n = format!("{tag}-{}", std::process::id());
        let guard = PodmanCleanup {
            container: format!("vigil-{n}"),
            image: format!("localhost/vigil-{n}:1"),
            tar: std::env::temp_dir().join(format!("vigil-{n}.tar")),
        };
        crate::testutil::busybox_image(&guard.image, &guard.tar).expect("busybox image");
        let full_id = podman(&[
            "run",
            "-d",
            "--net=none",
            "--name",
            &guard.container,
            &guard.image,
            "/bin/sleep",
            "60",
        ])
        .expect("podman run");
        let pid: u32 = podman(&["inspect", "--format", "{{.State.Pid}}", &full_id])
            .unwrap()
            .parse()
            .unwrap();
        // Test setup may read /proc; the code under test never does per event.
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let cgroup_path = cg
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap()
            .to_owned();
        let cgroup_id = std::fs::metadata(root.join(cgroup_path.trim_start_matches('/')))
            .unwrap()
            .ino();
        Some(Started {
            name: guard.container.clone(),
            image: guard.image.clone(),
            _guard: guard,
            full_id,
            pid,
            cgroup_path,
            cgroup_id,
        })
    }

    #[test]
    fn attributes_a_running_podman_container() {
        let Some(c) = start("enrich") else { return };
        let mut e = Enricher::from_host(EnrichConfig {
            proc_root: Some("/proc".into()),
            ..Default::default()
        });
        let rec = syscall(
            c.pid,
            c.cgroup_id,
            1,
            SyscallId::Openat,
            -2,
            [0; 6],
            b"/etc/shadow",
            b"",
            b"",
        );
        let ev = e.enrich(&rec, Instant::now());
        assert_eq!(ev.container.id, c.full_id[..12]);
        assert_eq!(ev.container.full_id.as_deref(), Some(c.full_id.as_str()));
        assert_eq!(ev.container.runtime, Runtime::Podman);
        assert_eq!(ev.container.name.as_deref(), Some(c.name.as_str()));
        assert_eq!(ev.container.image.as_deref(), Some(c.image.as_str()));
        assert_eq!(ev.cgroup.path.as_deref(), Some(c.cgroup_path.as_str()));
        // Seeded from /proc: the container's init is sleep, run by busybox;
        // its parent (conmon) is on the host, so the ancestry is empty.
        assert_eq!(ev.process.exec.exepath.as_deref(), Some("/bin/busybox"));
        assert_eq!(ev.process.exec.args, ["60"]);
        assert!(
            ev.process.exec.ancestors.is_empty(),
            "{:?}",
            ev.process.exec.ancestors
        );
    }

    #[test]
    fn short_lived_container_keeps_its_name_after_it_is_gone() {
        let Some(c) = start("shortlived") else { return };
        // No scanning: the registry only learns from the cgroup_mkdir record,
        // as it would for a container that lives for a millisecond.
        let mut e = Enricher::new(
            ProcTable::new(ProcTableConfig::default()),
            Registry::new(None, RegistryConfig::default()),
            Metadata::new(MetadataConfig::default()),
            Clock::measure(),
        );
        let now = Instant::now();
        e.enrich(&cgroup_rec(true, c.cgroup_id, &c.cgroup_path, 1), now);
        podman(&["rm", "-f", "-t", "0", &c.full_id]).expect("podman rm");
        assert!(
            podman(&["inspect", &c.full_id]).is_err(),
            "container is gone"
        );
        e.enrich(&cgroup_rec(false, c.cgroup_id, &c.cgroup_path, 2), now);
        let ev = e.enrich(
            &exit(c.pid, 1, c.cgroup_id, 3, 9),
            now + Duration::from_secs(1),
        );
        assert_eq!(ev.container.id, c.full_id[..12]);
        assert_eq!(ev.container.name.as_deref(), Some(c.name.as_str()));
        assert_eq!(ev.container.image.as_deref(), Some(c.image.as_str()));
    }
}
