//! The rules engine's view of an [`Event`]: [`EventFields`] answers
//! `monitor_rules` field lookups (Falco's names, see monitor-rules/README.md)
//! with values borrowed from the event.
//!
//! Most fields are plain borrows. The few that Falco defines as derived
//! text (`proc.cmdline`, `proc.args`, `evt.args`, `evt.time`, the ancestor
//! name list) are built at most once per event, on first use, and cached in
//! the view, so rules that do not look at them cost nothing. The caches
//! the default rules seldom fill sit together in one lazily made part
//! ([`Rare`]): a view is made and dropped per event, and most events then
//! set up and check three caches, not twenty.
//!
//! `fd.name` is Falco's: an absolute path is lexically normalised
//! (`/srv/../etc/passwd` is `/etc/passwd`); `fd.nameraw` is the path as the
//! process passed it.

use std::cell::OnceCell;

use monitor_rules::{Field, FieldArg, FieldId, FieldSource, StrList, Value};

use crate::enrich::environ;

mod args;
mod context;
mod paths;

use crate::event::sysargs::{ArgValue, SockAddr};
use crate::event::{rfc3339, Ancestor, Data, DnsData, Event, Leader, SyscallData};
use args::{arg_value, is_open, named_arg, open_flags, raw_value};
pub use context::{is_command_field, is_context_field};
pub use paths::proc_is_other;
use paths::{needs_normalising, normalise, split_path};

/// An event as the rules engine sees it.
pub struct EventFields<'a> {
    ev: &'a Event,
    hostname: &'a str,
    cmdline: OnceCell<String>,
    /// `Some` when `fd.name` differs from the raw name.
    fd_norm: OnceCell<Option<String>>,
    rare: OnceCell<Rare<'a>>,
}

/// The caches of the fields rules seldom read (see the module's head).
#[derive(Default)]
struct Rare<'a> {
    args: OnceCell<String>,
    evt_args: OnceCell<String>,
    time: OnceCell<String>,
    anames: OnceCell<Vec<&'a str>>,
    /// `proc.aexepath`, `proc.aexe`: the ancestors' known executable
    /// paths and argv[0]s.
    aexepaths: OnceCell<Vec<&'a str>>,
    aexes: OnceCell<Vec<&'a str>>,
    container: super::container_fields::Cache<'a>,
    caps: [OnceCell<String>; 2],
    /// `dns.answers`: the answers' data.
    dns_answers: OnceCell<Vec<&'a str>>,
    /// `proc.env`, and the ancestors' (`proc.aenv`, parent first).
    env: OnceCell<String>,
    aenvs: OnceCell<Vec<String>>,
}

/// A socket's end, as the `fd.*` fields name them.
#[derive(Clone, Copy)]
enum End {
    Client,
    Server,
    Local,
    Remote,
}

impl<'a> EventFields<'a> {
    pub fn new(ev: &'a Event, hostname: &'a str) -> EventFields<'a> {
        EventFields {
            ev,
            hostname,
            cmdline: OnceCell::new(),
            fd_norm: OnceCell::new(),
            rare: OnceCell::new(),
        }
    }

    fn rare(&self) -> &Rare<'a> {
        self.rare.get_or_init(Rare::default)
    }

    /// The environment `level` steps up the ancestry (0: the process);
    /// an ancestor without its own entry has the one below it.
    fn env_at(&self, level: usize) -> Option<&'a [String]> {
        let exec = &self.ev.process.exec;
        let mut env = exec.env.as_deref();
        for a in exec.ancestors.get(..level)? {
            if let Some(e) = &a.env {
                env = Some(e);
            }
        }
        env
    }

    /// The ancestors' environments as `proc.aenv` prints them, parent first.
    fn aenvs(&self) -> &[String] {
        self.rare().aenvs.get_or_init(|| {
            (1..=self.ev.process.exec.ancestors.len())
                .map(|level| self.env_at(level).map(environ::joined).unwrap_or_default())
                .collect()
        })
    }

    pub fn event(&self) -> &'a Event {
        self.ev
    }

    pub fn hostname(&self) -> &'a str {
        self.hostname
    }

    /// One end of the event's socket as (`ip`, `port`) values. Without the
    /// kernel's tuple only the peer a connect named is known (the server).
    fn end(&self, which: End) -> Option<(Value<'a>, Value<'a>)> {
        let s = self.syscall()?;
        let e = match &s.conn {
            Some(c) => match which {
                End::Server => c.server.as_ref(),
                End::Client => c.client.as_ref(),
                End::Local => c.local(),
                End::Remote => c.remote(),
            }?,
            None => {
                return match (&s.sockaddr, which) {
                    (
                        Some(SockAddr::Inet { ip, port } | SockAddr::Inet6 { ip, port, .. }),
                        End::Server | End::Remote,
                    ) => Some((Value::Str(ip), Value::Num(i64::from(*port)))),
                    _ => None,
                }
            }
        };
        Some((Value::Str(&e.ip), Value::Num(i64::from(e.port))))
    }

    fn syscall(&self) -> Option<&'a SyscallData> {
        match &self.ev.data {
            Data::Syscall(s) => Some(s),
            _ => None,
        }
    }

    fn dns(&self) -> Option<&'a DnsData> {
        match &self.ev.data {
            Data::Dns(d) => Some(d),
            _ => None,
        }
    }

    fn anames(&self) -> &[&'a str] {
        self.rare().anames.get_or_init(|| {
            self.ev
                .process
                .exec
                .ancestors
                .iter()
                .map(|a| &*a.name)
                .collect()
        })
    }

    /// `fd.nameraw`: the syscall's path (its `name` argument) or peer as
    /// passed.
    fn fd_name_raw(&self) -> Option<&'a str> {
        let s = self.syscall()?;
        let name = s.fd_name.as_deref()?;
        if s.sockaddr.is_none() {
            if let Some(ArgValue::Str(raw)) =
                s.args.iter().find(|a| a.name == "name").map(|a| &a.value)
            {
                return Some(raw);
            }
        }
        Some(name)
    }

    /// `fd.name`: the path as the agent resolved it (relative names against
    /// the working directory or dirfd, see `enrich::cwd`), lexically
    /// normalised when it has `.`, `..` or empty components (built once).
    fn fd_name(&self) -> Option<&str> {
        let name = self.syscall()?.fd_name.as_deref()?;
        // Rules ask for fd.name several times per event: decide once.
        let norm = self
            .fd_norm
            .get_or_init(|| needs_normalising(name).then(|| normalise(name)));
        Some(norm.as_deref().unwrap_or(name))
    }

    /// `thread.cap_effective` (0) / `thread.cap_permitted` (1) as names.
    fn caps(&self, which: usize) -> Option<&str> {
        let (eff, perm) = match &self.ev.data {
            Data::Exec(x) => (Some(x.cap_effective), Some(x.cap_permitted)),
            _ => (
                self.ev.process.exec.cap_effective,
                self.ev.process.exec.cap_permitted,
            ),
        };
        let mask = [eff, perm][which]?;
        Some(self.rare().caps[which].get_or_init(|| crate::event::sysargs::cap_names(mask)))
    }

    fn arg(&self, field: &Field) -> Option<Value<'_>> {
        let ev = self.ev;
        match &field.arg {
            FieldArg::Name(n) => named_arg(ev, n),
            FieldArg::Index(i) => match &ev.data {
                Data::Syscall(s) => s.args.get(*i as usize).map(|a| arg_value(&a.value)),
                _ => None,
            },
            FieldArg::None => None,
        }
    }
}

fn num(n: impl Into<i64>) -> Option<Value<'static>> {
    Some(Value::Num(n.into()))
}

impl FieldSource for EventFields<'_> {
    fn evt_type(&self) -> &str {
        self.ev.evt_type()
    }

    fn get(&self, field: &Field) -> Option<Value<'_>> {
        let ev = self.ev;
        let p = &ev.process;
        let c = &ev.container;
        use FieldId as F;
        match field.id {
            F::EvtType => Some(Value::Str(ev.evt_type())),
            F::EvtNum => Some(Value::Num(i64::try_from(ev.num).unwrap_or(i64::MAX))),
            F::EvtTime => Some(Value::Str(
                self.rare().time.get_or_init(|| rfc3339(ev.wall_ns)),
            )),
            F::EvtRes => Some(Value::Str(match &ev.data {
                Data::Syscall(s) => &s.res,
                Data::Exec(x) if x.denied() => "EPERM",
                _ => "SUCCESS",
            })),
            F::EvtRawres => Some(Value::Num(match &ev.data {
                Data::Syscall(s) => s.ret,
                Data::Exec(x) if x.denied() => -(libc::EPERM as i64),
                _ => 0,
            })),
            F::EvtFailed => Some(Value::Bool(
                matches!(&ev.data, Data::Syscall(s) if s.ret < 0)
                    || matches!(&ev.data, Data::Exec(x) if x.denied()),
            )),
            // vigil reports syscalls at exit, like Falco's `<` events.
            F::EvtDir => Some(Value::Str("<")),
            F::EvtArg => self.arg(field),
            F::EvtRawarg => match (&ev.data, &field.arg) {
                (Data::Syscall(s), FieldArg::Name(n)) => s
                    .args
                    .iter()
                    .find(|a| *a.name == **n)
                    .map(|a| raw_value(&a.value)),
                (Data::Syscall(s), FieldArg::Index(i)) => {
                    s.args.get(*i as usize).map(|a| raw_value(&a.value))
                }
                // Other kinds carry no flags: the decoded value is the raw one.
                _ => self.arg(field),
            },
            F::EvtArgs => {
                let s = self.syscall()?;
                Some(Value::Str(self.rare().evt_args.get_or_init(|| {
                    let mut out = String::new();
                    for a in &s.args {
                        if !out.is_empty() {
                            out.push(' ');
                        }
                        out.push_str(&a.name);
                        out.push('=');
                        out.push_str(&arg_value(&a.value).to_string());
                    }
                    out
                })))
            }
            F::EvtIsOpenRead | F::EvtIsOpenWrite | F::EvtIsOpenExec => {
                let flags = open_flags(self.syscall()?)?;
                let acc = flags & libc::O_ACCMODE as u64;
                Some(Value::Bool(match field.id {
                    F::EvtIsOpenRead => acc == libc::O_RDONLY as u64 || acc == libc::O_RDWR as u64,
                    F::EvtIsOpenWrite => acc == libc::O_WRONLY as u64 || acc == libc::O_RDWR as u64,
                    // open(2) has no exec access mode (only the kernel's FMODE_EXEC).
                    _ => false,
                }))
            }
            F::EvtHostname => Some(Value::Str(self.hostname)),
            F::ProcPid => num(p.pid),
            F::ThreadTid => num(p.tid),
            F::ProcPpid => num(p.ppid),
            F::ProcVpid => p.vpid.map(|v| Value::Num(v.into())),
            F::ProcName => Some(Value::Str(&p.name)),
            F::ProcExe => p.exec.exe.as_deref().map(Value::Str),
            F::ProcExepath => p.exec.exepath.as_deref().map(Value::Str),
            F::ProcCmdline => Some(Value::Str(self.cmdline.get_or_init(|| p.cmdline()))),
            F::ProcArgs => Some(Value::Str(
                self.rare().args.get_or_init(|| p.exec.args.join(" ")),
            )),
            F::ProcPname => p.exec.pname.as_deref().map(Value::Str),
            F::ProcPexepath => p.exec.pexepath.as_deref().map(Value::Str),
            // Not known: the parent's argv.
            F::ProcPexe => p.exec.pexe.as_deref().map(Value::Str),
            F::ProcPcmdline => p.exec.pcmdline.as_deref().map(Value::Str),
            F::ProcAname => match field.arg {
                FieldArg::Index(0) => Some(Value::Str(&p.name)),
                FieldArg::Index(i) => p
                    .exec
                    .ancestors
                    .get(i as usize - 1)
                    .map(|a| Value::Str(&a.name)),
                _ => Some(Value::List(StrList::Strs(self.anames()))),
            },
            F::ProcAnames => Some(Value::List(StrList::Strs(self.anames()))),
            F::ProcAexepath | F::ProcAexe => {
                let exepath = field.id == F::ProcAexepath;
                let of: fn(&Ancestor) -> Option<&str> = if exepath {
                    ancestor_exepath
                } else {
                    ancestor_exe
                };
                let (own, all) = if exepath {
                    (&p.exec.exepath, &self.rare().aexepaths)
                } else {
                    (&p.exec.exe, &self.rare().aexes)
                };
                match field.arg {
                    FieldArg::Index(0) => own.as_deref().map(Value::Str),
                    FieldArg::Index(i) => of(p.exec.ancestors.get(i as usize - 1)?).map(Value::Str),
                    _ => Some(Value::List(StrList::Strs(all.get_or_init(|| {
                        p.exec.ancestors.iter().filter_map(of).collect()
                    })))),
                }
            }
            F::ProcApid => match field.arg {
                FieldArg::Index(0) => num(p.pid),
                FieldArg::Index(i) => p
                    .exec
                    .ancestors
                    .get(i as usize - 1)
                    .map(|a| Value::Num(a.pid.into())),
                _ => None,
            },
            F::ProcCwd => p.exec.cwd.as_deref().map(Value::Str),
            F::ProcEnv => {
                let env = p.exec.env.as_deref()?;
                match &field.arg {
                    FieldArg::Name(n) => environ::lookup(env, n).map(Value::Str),
                    FieldArg::Index(i) => environ::lookup(env, &i.to_string()).map(Value::Str),
                    FieldArg::None => Some(Value::Str(
                        self.rare().env.get_or_init(|| environ::joined(env)),
                    )),
                }
            }
            F::ProcAenv => match &field.arg {
                FieldArg::Index(0) => {
                    let env = p.exec.env.as_deref()?;
                    Some(Value::Str(
                        self.rare().env.get_or_init(|| environ::joined(env)),
                    ))
                }
                FieldArg::Index(i) => self.aenvs().get(*i as usize - 1).map(|e| Value::Str(e)),
                // The first value from the parent up.
                FieldArg::Name(n) => (1..=p.exec.ancestors.len())
                    .find_map(|level| environ::lookup(self.env_at(level)?, n))
                    .map(Value::Str),
                FieldArg::None => Some(Value::List(StrList::Strings(self.aenvs()))),
            },
            F::ProcStdinType => p.exec.stdin.as_ref().map(|f| Value::Str(&f.kind)),
            F::ProcStdinName => p.exec.stdin.as_ref().map(|f| Value::Str(&f.name)),
            F::ProcStdoutType => p.exec.stdout.as_ref().map(|f| Value::Str(&f.kind)),
            F::ProcStdoutName => p.exec.stdout.as_ref().map(|f| Value::Str(&f.name)),
            F::ProcDuration => {
                let start = p.start_boot_ns?;
                Some(Value::Num(
                    i64::try_from(ev.boot_ns.saturating_sub(start)).unwrap_or(i64::MAX),
                ))
            }
            F::ThreadCapEffective => self.caps(0).map(Value::Str),
            F::ThreadCapPermitted => self.caps(1).map(Value::Str),
            F::ProcIsExeUpperLayer => p.exec.is_exe_upper_layer.map(Value::Bool),
            F::ProcIsExeLowerLayer => p.exec.is_exe_lower_layer.map(Value::Bool),
            F::ProcIsExeWritable => p.exec.is_exe_writable.map(Value::Bool),
            F::ProcIsExeFromMemfd => p.exec.is_exe_from_memfd.map(Value::Bool),
            F::UserUid => num(p.uid),
            F::UserEuid => num(p.euid),
            F::UserName => p.user_name.as_deref().map(Value::Str),
            F::GroupGid => num(p.gid),
            F::GroupName => p.group_name.as_deref().map(Value::Str),
            F::ProcTty => p.session.map(|s| Value::Num(s.tty.into())),
            F::ProcSid => p.session.map(|s| Value::Num(s.sid.into())),
            F::ProcVpgid => p.session.map(|s| Value::Num(s.vpgid.into())),
            // Falco's -1 for a login uid never set (`AUDIT_UID_UNSET`).
            F::UserLoginuid => p.loginuid.map(|u| Value::Num(u as i32 as i64)),
            F::UserLoginname => p.login_name.as_deref().map(Value::Str),
            F::ProcSname | F::ProcSidExe | F::ProcSidExepath => {
                leader_field(p.exec.sid_leader.as_ref()?, field.id)
            }
            F::ProcVpgidName | F::ProcVpgidExe | F::ProcVpgidExepath => {
                leader_field(p.exec.vpgid_leader.as_ref()?, field.id)
            }
            F::ProcIsSidLeader | F::ProcIsVpgidLeader => {
                let (vpid, s) = (p.vpid?, p.session?);
                let id = if field.id == F::ProcIsSidLeader {
                    s.sid
                } else {
                    s.vpgid
                };
                Some(Value::Bool(vpid == id))
            }
            F::ContainerId => Some(Value::Str(&c.id)),
            F::ContainerFullId => c.full_id.as_deref().map(Value::Str),
            F::ContainerName => c.name.as_deref().map(Value::Str),
            F::ContainerImage => c.image.as_deref().map(Value::Str),
            F::ContainerImageRepository => c.image.as_deref().map(|i| Value::Str(image_split(i).0)),
            F::ContainerImageTag => c
                .image
                .as_deref()
                .and_then(|i| image_split(i).1)
                .map(Value::Str),
            F::ContainerType => Some(Value::Str(c.runtime.as_str())),
            F::K8sPodUid => c.pod_uid.as_deref().map(Value::Str),
            id if super::container_fields::is_metadata_field(id) => {
                super::container_fields::get(c, field, &self.rare().container)
            }
            id if super::container_fields::is_creator_field(id) => {
                super::container_fields::creator(c, field, &self.rare().container)
            }
            F::CgroupId => Some(Value::Num(i64::try_from(ev.cgroup.id).unwrap_or(i64::MAX))),
            F::CgroupPath => ev.cgroup.path.as_deref().map(Value::Str),
            F::NsMnt => num(p.ns.mnt),
            F::NsPid => num(p.ns.pid),
            F::NsNet => num(p.ns.net),
            F::NsUser => num(p.ns.user),
            F::NsUts => num(p.ns.uts),
            F::NsIpc => num(p.ns.ipc),
            F::NsCgroup => num(p.ns.cgroup),
            F::FdNum => {
                let s = self.syscall()?;
                // A failed open has fd -1, as in Falco (`open_file_failed`);
                // accept's fd is the new socket, as in Falco.
                if is_open(&s.name) || matches!(&*s.name, "accept" | "accept4") {
                    return Some(Value::Num(s.ret.max(-1)));
                }
                s.args.iter().find_map(|a| match (&*a.name, &a.value) {
                    // dup's fd is the one duplicated, as in Falco.
                    ("fd" | "oldfd", ArgValue::Int(i)) => Some(Value::Num(*i)),
                    _ => None,
                })
            }
            F::FdName => self.fd_name().map(Value::Str),
            F::FdNameraw => self.fd_name_raw().map(Value::Str),
            F::FdDirectory => self
                .fd_name()
                .and_then(split_path)
                .map(|(d, _)| Value::Str(d)),
            F::FdFilename => self
                .fd_name()
                .and_then(split_path)
                .map(|(_, f)| Value::Str(f)),
            F::FdType | F::FdTypechar => {
                let s = self.syscall()?;
                let (ty, ch) = match (&s.conn, &s.sockaddr) {
                    (Some(c), _) if c.family == "ipv6" => ("ipv6", "6"),
                    (Some(_), _) => ("ipv4", "4"),
                    (None, Some(SockAddr::Inet { .. })) => ("ipv4", "4"),
                    (None, Some(SockAddr::Inet6 { .. })) => ("ipv6", "6"),
                    (None, Some(SockAddr::Unix { .. })) => ("unix", "u"),
                    (None, Some(SockAddr::Other { .. })) => return None,
                    (None, None) if s.fd_name.is_some() => ("file", "f"),
                    (None, None) => return None,
                };
                Some(Value::Str(if field.id == F::FdType { ty } else { ch }))
            }
            F::FdSockfamily => {
                let s = self.syscall()?;
                match (&s.conn, &s.sockaddr) {
                    (Some(_), _) => Some(Value::Str("ip")),
                    (None, Some(SockAddr::Inet { .. } | SockAddr::Inet6 { .. })) => {
                        Some(Value::Str("ip"))
                    }
                    (None, Some(SockAddr::Unix { .. })) => Some(Value::Str("unix")),
                    _ => None,
                }
            }
            // `fd.ip`/`fd.net` match either end in Falco; vigil gives the
            // server's, the end rules about destinations mean.
            F::FdSip | F::FdIp | F::FdNet | F::FdSnet => self.end(End::Server).map(|e| e.0),
            F::FdSport | F::FdPort => self.end(End::Server).map(|e| e.1),
            F::FdCip | F::FdCnet => self.end(End::Client).map(|e| e.0),
            F::FdCport => self.end(End::Client).map(|e| e.1),
            F::FdLip | F::FdLnet => self.end(End::Local).map(|e| e.0),
            F::FdLport => self.end(End::Local).map(|e| e.1),
            F::FdRip | F::FdRnet => self.end(End::Remote).map(|e| e.0),
            F::FdRport => self.end(End::Remote).map(|e| e.1),
            F::FdL4proto => Some(Value::Str(&self.syscall()?.conn.as_ref()?.l4proto)),
            F::FdSipName | F::FdCipName | F::FdLipName | F::FdRipName => {
                let c = self.syscall()?.conn.as_ref()?;
                let server = match field.id {
                    F::FdSipName => true,
                    F::FdCipName => false,
                    F::FdLipName => c.local_is_server,
                    _ => !c.local_is_server,
                };
                let name = if server {
                    &c.server_name
                } else {
                    &c.client_name
                };
                name.as_deref().map(Value::Str)
            }
            F::DnsName => Some(Value::Str(&self.dns()?.name)),
            F::DnsType => Some(Value::Str(&self.dns()?.qtype)),
            F::DnsRcode => Some(Value::Str(self.dns()?.rcode.as_deref()?)),
            F::DnsIsResponse => Some(Value::Bool(self.dns()?.response)),
            F::DnsAnswers => {
                let d = self.dns()?;
                let list = self
                    .rare()
                    .dns_answers
                    .get_or_init(|| d.answers.iter().map(|a| a.data.as_str()).collect());
                Some(Value::List(StrList::Strs(list)))
            }
            F::FdIsServer => Some(Value::Bool(self.syscall()?.conn.as_ref()?.local_is_server)),
            F::FdConnected => Some(Value::Bool(self.syscall()?.conn.as_ref()?.connected)),
            // vigil reports a send only for a new destination (the kernel
            // filter), and a connect always names one.
            F::FdNameChanged => {
                let s = self.syscall()?;
                s.conn.as_ref()?;
                Some(Value::Bool(matches!(
                    &*s.name,
                    "connect" | "sendto" | "sendmsg" | "sendmmsg"
                )))
            }
            F::FdHostPath => {
                super::container_fields::host_path(c, self.fd_name()?, &self.rare().container)
            }
            F::FdProcIsOther => {
                let path = self.fd_name()?;
                Some(Value::Bool(proc_is_other(ev, path)))
            }
            F::TargetIsVigil => ev.target_is_vigil.map(Value::Bool),
            F::Resource => match (&ev.data, &field.arg) {
                // The engine compares integers: values are rounded (docs/resources.md).
                (Data::ContainerStats(st), FieldArg::Name(n)) => {
                    st.get(n).map(|v| Value::Num(v.round() as i64))
                }
                _ => None,
            },
            F::ProcInBaseline => ev.baseline.as_ref().map(|b| Value::Bool(b.in_baseline)),
            F::ProcBaselineDiff => ev.baseline.as_ref().map(|b| Value::Str(&b.diff)),
            F::UserNprocTopContainer => match &ev.data {
                Data::ContainerStats(st) => st.nproc_top_container.as_deref().map(Value::Str),
                _ => None,
            },
            F::UserInotifyTopContainer => match &ev.data {
                Data::ContainerStats(st) => st.inotify_top_container.as_deref().map(Value::Str),
                _ => None,
            },
            F::HostIoStalledContainer => match &ev.data {
                Data::ContainerStats(st) => st.io_stalled_container.as_deref().map(Value::Str),
                _ => None,
            },
            F::FsPath | F::FsTopWriter | F::FsWriters => match &ev.data {
                Data::ContainerStats(st) => st.fs.as_ref().and_then(|fs| match field.id {
                    F::FsPath => Some(Value::Str(&fs.path)),
                    F::FsTopWriter => fs.top_writer.as_deref().map(Value::Str),
                    _ => Some(Value::Str(&fs.writers)),
                }),
                _ => None,
            },
            _ => None,
        }
    }
}

fn ancestor_exepath(a: &Ancestor) -> Option<&str> {
    a.exepath.as_deref()
}

fn ancestor_exe(a: &Ancestor) -> Option<&str> {
    a.exe.as_deref()
}

/// `proc.sname`/`proc.vpgid.name`, `.exe`, `.exepath` of a leader.
fn leader_field(l: &Leader, id: FieldId) -> Option<Value<'_>> {
    match id {
        FieldId::ProcSname | FieldId::ProcVpgidName => Some(Value::Str(&l.name)),
        FieldId::ProcSidExe | FieldId::ProcVpgidExe => l.exe.as_deref().map(Value::Str),
        _ => l.exepath.as_deref().map(Value::Str),
    }
}

/// `registry/repo:tag` → (`registry/repo`, `tag`). A digest (`@sha256:...`)
/// has no tag; a `:` inside the registry host (a port) is not a tag.
pub fn image_split(image: &str) -> (&str, Option<&str>) {
    let name = image.split('@').next().unwrap_or(image);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (&name[..at], Some(&name[at + 1..]))
        }
        None => (name, None),
    }
}

#[cfg(test)]
pub(crate) mod tests;
