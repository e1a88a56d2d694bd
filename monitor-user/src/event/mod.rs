//! The enriched event: one kernel record plus everything the agent knows.
//!
//! An [`Event`] is self-contained: it carries its times, the process (with
//! exe, argv, parent and ancestry), the container, the namespaces and the
//! typed per-kind data, so it can be recorded to disk and replayed later with
//! no access to the host it came from. It is serde (de)serializable for that
//! purpose (externally tagged enums and no skipped fields, so compact
//! non-self-describing encodings such as postcard work); [`crate::sink::events`]
//! renders the flat Falco-style view of it.
//!
//! Strings that come from the kernel are escaped text ([`crate::event::text`]).

pub mod container;
mod exec_wire;
pub mod name;
pub mod shared;
pub mod string;
pub mod sysargs;
pub mod text;
pub mod time;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::name::Name;
use crate::event::sysargs::{Arg, Conn, SockAddr};
pub use container::{Container, QosClass, Runtime};
pub use time::{rfc3339, Clock};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Per-kind data. First, so a reader learns the event's type from the
    /// first bytes of its encoding ([`peek_evt_type`]).
    pub data: Data,
    /// Sequence number in this agent run (Falco's `evt.num`).
    pub num: u64,
    /// Nanoseconds since boot (`CLOCK_BOOTTIME`), as stamped by the kernel.
    pub boot_ns: u64,
    /// Nanoseconds since the Unix epoch ([`Clock::wall_ns`]).
    pub wall_ns: u64,
    /// Shared with the process's other events ([`crate::event::shared`]).
    #[serde(with = "crate::event::shared")]
    pub process: Arc<Process>,
    /// Shared with the container's other events.
    #[serde(with = "crate::event::shared")]
    pub container: Arc<Container>,
    /// Shared with the cgroup's other events.
    #[serde(with = "crate::event::shared")]
    pub cgroup: Arc<Cgroup>,
    /// Falco field names whose value the kernel cut short.
    #[serde(default)]
    pub truncated: Vec<String>,
    /// For kill/tkill/tgkill/ptrace: whether the target is the vigil agent
    /// that recorded the event (`target.is_vigil`). Decided at enrichment
    /// time, so a replay elsewhere still knows.
    #[serde(default)]
    pub target_is_vigil: Option<bool>,
    /// For execs in a container whose image has a learned baseline
    /// (`vigil run --learn-baselines`): whether it is covered
    /// ([`crate::stage::baselines`]). Decided when the event was enriched.
    #[serde(default)]
    pub baseline: Option<BaselineMark>,
}

/// An exec checked against its image's process baseline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineMark {
    /// `proc.in_baseline`: false only when an enforcing baseline does not
    /// cover the exec.
    pub in_baseline: bool,
    /// `proc.baseline_diff`: how it differs (empty when covered).
    pub diff: String,
}

impl Event {
    /// Falco's `evt.type`: the syscall name for syscalls, else the kind.
    pub fn evt_type(&self) -> &str {
        match &self.data {
            Data::Exec(_) => "execve",
            Data::Clone(_) => "clone",
            Data::Exit(_) => "procexit",
            Data::Syscall(s) => &s.name,
            Data::ModuleLoad { .. } => "module_load",
            Data::CgroupMkdir(_) => "cgroup_mkdir",
            Data::CgroupRmdir(_) => "cgroup_rmdir",
            Data::OomKill { .. } => "oom_kill",
            Data::ContainerStats(_) => "container_stats",
            Data::Dns(_) => "dns",
            Data::Throttled(_) => "throttled",
        }
    }
}

/// [`Event::evt_type`] by variant index of [`Data`] (syscalls: None).
const KINDS: [Option<&str>; 11] = [
    Some("execve"),
    Some("clone"),
    Some("procexit"),
    None,
    Some("module_load"),
    Some("cgroup_mkdir"),
    Some("cgroup_rmdir"),
    Some("oom_kill"),
    Some("container_stats"),
    Some("dns"),
    Some("throttled"),
];

/// Every `evt.type` vigil's events can have: the event kinds and the
/// hooked syscalls. A rule whose types are all outside it cannot fire.
pub fn evt_types() -> impl Iterator<Item = &'static str> {
    KINDS
        .into_iter()
        .flatten()
        .chain(monitor_common::SyscallId::ALL.iter().map(|s| s.name()))
}

/// `evt.type` of an event in its recorded encoding, read without decoding
/// the rest: the kind of its `data` (the first field), and a syscall's
/// name. `None` when the payload does not parse that far. Replay uses it
/// to pass over the events no rule can match.
pub fn peek_evt_type(payload: &[u8]) -> Option<&str> {
    // [`Data`]'s variant index.
    let (kind, rest) = monitor_recorder::typed::decode_prefix::<u32>(payload).ok()?;
    match KINDS.get(kind as usize)? {
        Some(kind) => Some(kind),
        // SyscallData starts with the name.
        None => monitor_recorder::typed::decode_prefix::<&str>(rest)
            .ok()
            .map(|(name, _)| name),
    }
}

/// A test of recorded events by `evt.type`, made once from `wanted`:
/// the event kinds are answered from a table, only syscalls' names go to
/// `wanted`. `None` when the payload does not parse that far (as
/// [`peek_evt_type`]). Replay asks it of every record, so it spares the
/// lookup of a type name for most of them.
pub fn evt_type_test(wanted: impl Fn(&str) -> bool) -> impl Fn(&[u8]) -> Option<bool> {
    let kinds = KINDS.map(|k| k.is_some_and(&wanted));
    move |payload| {
        let (kind, rest) = monitor_recorder::typed::decode_prefix::<u32>(payload).ok()?;
        match KINDS.get(kind as usize)? {
            Some(_) => Some(kinds[kind as usize]),
            None => monitor_recorder::typed::decode_prefix::<&str>(rest)
                .ok()
                .map(|(name, _)| wanted(name)),
        }
    }
}

/// A process's environment (`proc.env`): `NAME=value` entries, escaped,
/// in the order of `/proc/<pid>/environ` ([`crate::enrich::environ`]).
pub type Env = Arc<[String]>;

/// Escaped text that the process table and every event of a process
/// share (names, executables): a clone is a count, not a copy, which
/// matters on every fork and exec.
pub type Text = Arc<str>;

/// A process's escaped argv[1..], shared like [`Text`].
pub type Args = Arc<[String]>;

/// The process that caused the event (for exec: after the exec).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    /// The pid in the process's own pid namespace (`proc.vpid`; 1 for a
    /// container's init), from the kernel's exec record; kept per process
    /// so its later events carry it too. None for processes that already
    /// ran when the agent started and have not exec'd since.
    pub vpid: Option<u32>,
    /// Controlling terminal, session and process group (`proc.tty`,
    /// `proc.sid`, `proc.vpgid`), from the kernel's exec record; None
    /// like `vpid`.
    pub session: Option<Session>,
    /// The audit login uid (`user.loginuid`; `u32::MAX`: never set, which
    /// Falco shows as -1), from the exec record.
    pub loginuid: Option<u32>,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    /// `comm` (Falco's `proc.name`).
    #[serde(deserialize_with = "crate::event::string::arc")]
    pub name: Text,
    /// Process start, ns since boot.
    pub start_boot_ns: Option<u64>,
    /// `user.name`: the uid's name in the process's own `/etc/passwd`
    /// (the container's, for a container process).
    pub user_name: Option<Arc<str>>,
    /// `group.name`: the gid's name in the process's own `/etc/group`.
    pub group_name: Option<Arc<str>>,
    /// `user.loginname`: the login uid's name, read like `user_name`.
    pub login_name: Option<Arc<str>>,
    /// The namespaces it runs in.
    pub ns: Namespaces,
    /// What it runs and who started it: the same for all the children a
    /// shell forks to run one command, so shared between them
    /// ([`crate::event::shared`]) and decoded once in a replay.
    #[serde(with = "crate::event::shared")]
    pub exec: Arc<ExecContext>,
}

/// A process's terminal and session, as of its last exec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The controlling terminal as `/proc/PID/stat`'s `tty_nr` encodes it
    /// (`(minor & 0xff) | major << 8 | (minor & !0xff) << 12`); 0: none.
    pub tty: u32,
    /// Session id and process group id in the process's own pid
    /// namespace (0 when the leader lives outside it).
    pub sid: u32,
    pub vpgid: u32,
}

/// What a process's last exec loaded, and its parent and ancestors.
/// Encoded by hand: ancestors' environments are written as changes
/// ([`exec_wire`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecContext {
    /// argv[0] (`proc.exe`).
    pub exe: Option<Text>,
    /// Resolved executable path (`proc.exepath`).
    pub exepath: Option<Text>,
    /// argv[1..] (`proc.args`).
    pub args: Args,
    pub is_exe_upper_layer: Option<bool>,
    /// The executable is in an overlayfs lower layer (the image's).
    pub is_exe_lower_layer: Option<bool>,
    /// The user the process runs as could write its executable.
    pub is_exe_writable: Option<bool>,
    pub is_exe_from_memfd: Option<bool>,
    pub pname: Option<Text>,
    /// The parent's argv[0] (`proc.pexe`).
    pub pexe: Option<Text>,
    pub pexepath: Option<Text>,
    /// The parent's name and arguments (`proc.pcmdline`).
    pub pcmdline: Option<String>,
    /// Ancestors from the parent up to the container's init (or pid 1).
    pub ancestors: Vec<Ancestor>,
    /// Capability bitmasks the last exec left the process with
    /// (`thread.cap_effective`, `thread.cap_permitted`); None when the
    /// agent has not seen an exec of it.
    pub cap_effective: Option<u64>,
    pub cap_permitted: Option<u64>,
    /// Working directory the last exec ran in (`proc.cwd`), from the exec
    /// record (else procfs: `enrich::startup`).
    pub cwd: Option<String>,
    /// Standard input and output at the last exec (`proc.stdin.*`,
    /// `proc.stdout.*`), likewise (`enrich::stdio`).
    pub stdin: Option<StdFd>,
    pub stdout: Option<StdFd>,
    /// The environment the last exec started with (`proc.env`), likewise
    /// (`enrich::environ`); None when it could not be read.
    pub env: Option<Env>,
    /// The leaders of its session and process group (`proc.sname`,
    /// `proc.sid.exe`, `proc.vpgid.name`, ...), as the process table knew
    /// them when the event was enriched (`ProcTable::leader`).
    pub sid_leader: Option<Leader>,
    pub vpgid_leader: Option<Leader>,
}

/// The process leading a session or a process group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leader {
    #[serde(deserialize_with = "crate::event::string::arc")]
    pub name: Text,
    /// argv[0].
    #[serde(default, deserialize_with = "crate::event::string::arc_option")]
    pub exe: Option<Text>,
    #[serde(default, deserialize_with = "crate::event::string::arc_option")]
    pub exepath: Option<Text>,
}

/// One standard fd, as Falco's `fd.type` and `fd.name` would name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StdFd {
    /// `ipv4`, `ipv6`, `unix`, `file`, `pipe`, `socket` (a socket of another
    /// family), or the anon inode's kind (`eventfd`, ...).
    pub kind: String,
    /// `local->remote` for a network socket, the path of a file or unix
    /// socket, the link text otherwise.
    pub name: String,
}

impl StdFd {
    /// A network (TCP/UDP) socket.
    pub fn is_network(&self) -> bool {
        self.kind == "ipv4" || self.kind == "ipv6"
    }
}

impl Process {
    /// `proc.cmdline`: name and args joined by spaces, as Falco prints it.
    pub fn cmdline(&self) -> String {
        cmdline(&self.name, &self.exec.args)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ancestor {
    pub pid: u32,
    pub name: Text,
    /// argv[0] (`proc.aexe[N]`).
    pub exe: Option<Text>,
    pub exepath: Option<Text>,
    /// Its environment (`proc.aenv`); None: the same as the level below's
    /// (the child's), which is how environments mostly pass down and
    /// keeps a record from carrying one copy per level.
    pub env: Option<Env>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    pub id: u64,
    /// Path relative to the cgroup v2 root; `None` if it could not be resolved.
    pub path: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    pub mnt: u32,
    pub pid: u32,
    pub net: u32,
    pub user: u32,
    pub uts: u32,
    pub ipc: u32,
    pub cgroup: u32,
}

impl From<monitor_common::Namespaces> for Namespaces {
    fn from(n: monitor_common::Namespaces) -> Self {
        Namespaces {
            mnt: n.mnt,
            pid: n.pid,
            net: n.net,
            user: n.user,
            uts: n.uts,
            ipc: n.ipc,
            cgroup: n.cgroup,
        }
    }
}

/// Per-kind data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Data {
    Exec(ExecData),
    Clone(CloneData),
    Exit(ExitData),
    Syscall(Box<SyscallData>),
    ModuleLoad {
        name: String,
    },
    CgroupMkdir(CgroupData),
    CgroupRmdir(CgroupData),
    OomKill {
        victim_pid: u32,
        victim_name: Option<String>,
    },
    /// Synthetic, once per container per sampling interval
    /// ([`crate::stage::resources`]): the container's resource numbers.
    ContainerStats(Box<StatsData>),
    /// A DNS message a process sent to or received from port 53
    /// ([`crate::enrich::dns`]).
    Dns(Box<DnsData>),
    /// Events of one kind from one container held back during a flood:
    /// by the kernel's rate limit, or by the recorder's budget (recorded
    /// logs only). docs/performance.md, "Floods".
    Throttled(ThrottleData),
}

/// One DNS query or response, parsed from the bytes the process sent or
/// received.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsData {
    /// Received (an answer) rather than sent (a query).
    pub response: bool,
    /// The message id (pairs a response with its query).
    pub id: u16,
    /// The name asked for (the first question), without the final dot.
    pub name: String,
    /// The record type asked for (`A`, `AAAA`, ...).
    pub qtype: String,
    /// A response's code (`NOERROR`, `NXDOMAIN`, ...).
    pub rcode: Option<String>,
    /// A response's address, alias and pointer records.
    pub answers: Vec<DnsAnswer>,
    /// The resolver, when the socket is connected to it.
    pub server: Option<sysargs::Endpoint>,
    /// The message was longer than the bytes the kernel kept.
    pub truncated: bool,
    /// Why the payload did not parse as DNS (something else on port 53).
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAnswer {
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, `PTR`.
    pub rtype: String,
    /// The address, alias or pointer target.
    pub data: String,
    pub ttl: u32,
}

/// What a [`Data::Throttled`] event says was held back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleData {
    /// Who held them back.
    pub by: Throttler,
    /// `evt.type` of the events held back (a syscall's name).
    pub kind: String,
    /// How many were held back.
    pub count: u64,
    /// Over how long (the window that closed), in nanoseconds.
    pub window_ns: u64,
}

/// Where events were held back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Throttler {
    /// The kernel's per-cgroup rate limit: the events never reached the
    /// agent, no rule saw them (`vigil run --throttle`).
    Kernel,
    /// The flight recorder's per-container budget: rules saw every event,
    /// the log keeps this count instead (`vigil run --record-budget`).
    Recorder,
    /// Lost in the kernel because the ring buffer was full (or down to its
    /// lifecycle reserve), host-wide: the agent's own event, raised when
    /// the loss lasts (`crate::pipeline::loss`).
    Ring,
}

impl Throttler {
    pub fn name(self) -> &'static str {
        match self {
            Throttler::Kernel => "kernel",
            Throttler::Recorder => "recorder",
            Throttler::Ring => "ring",
        }
    }
}

/// What the resource stage measured for one container at one instant.
/// The numbers are stored, not recomputed, so a replay sees exactly what
/// the live rules saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsData {
    /// Resource field text (`container.fork_rate[10s]`, `user.nproc`) →
    /// value, sorted by field; a field without a value is absent.
    pub values: Vec<(String, f64)>,
    /// The container holding most tasks of the UID behind `user.nproc`.
    pub nproc_top_container: Option<String>,
    /// The container holding most inotify instances of the UID behind
    /// `user.inotify_*`.
    pub inotify_top_container: Option<String>,
    /// Another container stalling on I/O the most (`host.io_stalled_container`):
    /// `ID (N% stalled on I/O)`.
    pub io_stalled_container: Option<String>,
    /// The fullest watched storage filesystem this container writes to
    /// (`fs.*`; its numbers are in `values`).
    pub fs: Option<FsFill>,
}

/// Who fills a host storage filesystem (`fs.path`, `fs.top_writer`,
/// `fs.writers`), as the resource stage attributed it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FsFill {
    pub path: String,
    pub top_writer: Option<String>,
    pub writers: String,
}

impl StatsData {
    /// The value stored for resource field `field` (canonical text).
    pub fn get(&self, field: &str) -> Option<f64> {
        self.values
            .binary_search_by(|(k, _)| k.as_str().cmp(field))
            .ok()
            .map(|i| self.values[i].1)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecData {
    /// The path as passed to exec (`bprm->filename`).
    #[serde(deserialize_with = "crate::event::string::deserialize")]
    pub filename: String,
    /// argv entries in the record (argv may be longer: see `truncated`).
    pub argc: u32,
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub exe_ino: u64,
    pub exe_on_overlay: bool,
    /// What enforcement did (docs/enforcement.md): `denied` (the exec LSM
    /// hook refused it: the process still runs its old image) or
    /// `would_deny` (dry run); `None` for a plain exec.
    pub enforcement: Option<String>,
}

impl ExecData {
    /// Was the exec refused (so it did not happen)?
    pub fn denied(&self) -> bool {
        self.enforcement.as_deref() == Some("denied")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloneData {
    pub child_pid: u32,
    pub child_tid: u32,
    pub flags: u64,
    /// Symbolic flags (`CLONE_NEWNS|CLONE_NEWPID|...`).
    #[serde(deserialize_with = "crate::event::string::deserialize")]
    pub flags_text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitData {
    /// Raw `exit_code`: `(status << 8) | termsig`.
    pub raw: u32,
    pub status: u32,
    /// Terminating signal, 0 for a normal exit.
    pub signal: u32,
    pub core_dumped: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallData {
    #[serde(deserialize_with = "crate::event::name::deserialize")]
    pub name: Name,
    pub ret: i64,
    /// `SUCCESS` or the errno name.
    #[serde(deserialize_with = "crate::event::name::deserialize")]
    pub res: Name,
    /// Raw argument registers.
    pub raw_args: [u64; 6],
    /// Decoded, named arguments.
    pub args: Vec<Arg>,
    /// `fd.name`: the path opened, the socket's `client->server`, or the
    /// peer the syscall named.
    #[serde(default, deserialize_with = "crate::event::string::option")]
    pub fd_name: Option<String>,
    pub sockaddr: Option<SockAddr>,
    /// An IP socket's endpoints (network syscalls).
    pub conn: Option<Conn>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupData {
    pub id: u64,
    pub path: String,
    pub level: u32,
    pub hierarchy_id: u32,
}

/// A command line as Falco prints it: the name, then each argument after a
/// space.
pub fn cmdline(name: &str, args: &[String]) -> String {
    let len = name.len() + args.iter().map(|a| a.len() + 1).sum::<usize>();
    let mut s = String::with_capacity(len);
    s.push_str(name);
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

#[cfg(test)]
mod tests;
