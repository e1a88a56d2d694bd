//! The field catalog: every field name a condition or output may use, its
//! type and its argument form. Names are Falco's wherever the concept is the
//! same. Fields Falco has but vigil does not supply are known here too, so a
//! rule using them is *unsupported* (skipped with a clear line) rather than
//! *wrong* (an error); a name neither knows is an error.

mod lookup;
pub mod resource;
mod unsupported;

use std::fmt;

/// Type of a field's value, which decides the operators it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Str,
    Num,
    Bool,
    /// A list of strings (`in` means subset, `intersects` means overlap).
    StrList,
    /// Syscall arguments: a number or a string depending on the event.
    Dyn,
    /// An IP address (given as text) compared with CIDR networks
    /// (`fd.snet in (10.0.0.0/8)`).
    Net,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::Str => "string",
            FieldType::Num => "numeric",
            FieldType::Bool => "boolean",
            FieldType::StrList => "list",
            FieldType::Dyn => "argument",
            FieldType::Net => "network",
        })
    }
}

/// Identity of a supported field. The agent matches on this in its
/// [`crate::FieldSource`] implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldId {
    EvtType,
    EvtNum,
    EvtTime,
    EvtRes,
    EvtRawres,
    EvtFailed,
    EvtDir,
    /// `evt.arg.NAME` ([`FieldArg::Name`]) or `evt.arg[N]` ([`FieldArg::Index`]).
    EvtArg,
    /// `evt.rawarg.NAME` / `evt.rawarg[N]`: the argument's raw value
    /// (flags as their number, not their names).
    EvtRawarg,
    EvtArgs,
    EvtIsOpenRead,
    EvtIsOpenWrite,
    EvtIsOpenExec,
    EvtHostname,
    ProcPid,
    ThreadTid,
    ProcPpid,
    ProcName,
    ProcExe,
    ProcExepath,
    ProcCmdline,
    ProcArgs,
    ProcPname,
    ProcPexe,
    ProcPexepath,
    ProcPcmdline,
    /// `proc.aname[N]` (N=0 is the process itself, 1 its parent, ...) or
    /// `proc.aname` without index: any ancestor ([`Value::List`](crate::Value)).
    ProcAname,
    /// vigil: the ancestor names up to the container's init, as a list.
    ProcAnames,
    /// `proc.apid[N]` (N=0 is the process itself, 1 its parent, ...).
    ProcApid,
    /// The pid as seen in the process's own pid namespace.
    ProcVpid,
    ProcIsExeUpperLayer,
    ProcIsExeLowerLayer,
    ProcIsExeWritable,
    ProcIsExeFromMemfd,
    UserUid,
    UserEuid,
    /// The uid's name in the process's own `/etc/passwd`.
    UserName,
    GroupGid,
    ContainerId,
    ContainerFullId,
    ContainerName,
    ContainerImage,
    ContainerImageRepository,
    ContainerImageTag,
    ContainerType,
    ContainerImageId,
    ContainerImageDigest,
    ContainerPrivileged,
    /// Falco's `source:dest:mode:rdwr:propagation,...` text of all mounts.
    ContainerMounts,
    /// `container.mount.source[DEST]` (or `[N]`): the host path mounted at DEST.
    ContainerMountSource,
    /// `container.mount.dest[SOURCE]` (or `[N]`): where SOURCE is mounted.
    ContainerMountDest,
    /// vigil: the host paths (sources) of all mounts, as a list.
    ContainerMountSources,
    /// Creation time, ns since the epoch.
    ContainerStartTs,
    /// `container.label[KEY]`.
    ContainerLabel,
    /// `KEY:VALUE` of every container label, as a list.
    ContainerLabels,
    /// vigil: why the runtime metadata is missing (empty when it is not).
    ContainerUnresolved,
    K8sPodUid,
    K8sPodName,
    K8sNsName,
    /// `k8s.pod.label[KEY]`.
    K8sPodLabel,
    /// `KEY:VALUE` of every pod label, as a list.
    K8sPodLabels,
    CgroupId,
    CgroupPath,
    NsMnt,
    NsPid,
    NsNet,
    NsUser,
    NsUts,
    NsIpc,
    NsCgroup,
    FdNum,
    FdName,
    FdDirectory,
    FdFilename,
    FdType,
    FdTypechar,
    FdSip,
    FdSport,
    FdRip,
    FdRport,
    /// Either end's address (vigil: the peer, the only end it knows).
    FdIp,
    /// Either end's port (vigil: the peer's).
    FdPort,
    /// Network fields ([`FieldType::Net`]): the agent gives the address as
    /// text (or a list for `fd.net`); conditions compare it with CIDRs.
    FdNet,
    FdCnet,
    FdSnet,
    FdLnet,
    FdRnet,
    /// `fd.name` as the process passed it, before normalisation.
    FdNameraw,
    /// Nanoseconds since the process started.
    ProcDuration,
    /// The working directory of the process's last exec.
    ProcCwd,
    /// Capability names (`CAP_SYS_ADMIN CAP_NET_RAW ...`), space separated.
    ThreadCapEffective,
    ThreadCapPermitted,
    /// vigil: `fd.name` is under `/proc/<pid>/` of a process other than the caller.
    FdProcIsOther,
    /// vigil: the host path behind `fd.name` when it lies in a host mount
    /// of the container (`/host/etc/shadow` with `/` at `/host`: `/etc/shadow`).
    FdHostPath,
    /// vigil: the target of kill/tkill/tgkill/ptrace is the vigil agent.
    TargetIsVigil,
    /// vigil: a sampled resource number of the event's container, host or
    /// UID (`container.fork_rate[10s]`, `user.nproc`, ...). The argument is
    /// [`FieldArg::Name`] with the whole canonical text, window included;
    /// see [`resource`].
    Resource,
    /// vigil: the container holding most of the UID's tasks (`user.nproc`).
    UserNprocTopContainer,
    /// vigil: the exec is covered by its image's learned process baseline.
    ProcInBaseline,
    /// vigil: how an exec differs from its image's baseline.
    ProcBaselineDiff,
    /// What the process's standard input / output is at its last exec:
    /// Falco's fd types (`ipv4`, `ipv6`, `unix`, `file`, `pipe`, ...) and
    /// names (`local->remote` for a network socket).
    ProcStdinType,
    ProcStdinName,
    ProcStdoutType,
    ProcStdoutName,
    /// vigil, `container_stats`: another container stalling on I/O the
    /// most (`ID (N% stalled on I/O)`).
    HostIoStalledContainer,
    /// vigil, `container_stats`: the container holding most inotify
    /// instances of the UID behind `user.inotify_*`.
    UserInotifyTopContainer,
    /// The controlling terminal (`tty_nr` of `/proc/PID/stat`; 0: none).
    ProcTty,
    /// Session id and process group id in the process's pid namespace.
    ProcSid,
    ProcVpgid,
    /// The audit login uid (-1: never set).
    UserLoginuid,
    /// The gid's name in the process's own `/etc/group`.
    GroupName,
    // Network (issue 16).
    FdCip,
    FdCport,
    FdLip,
    FdLport,
    FdL4proto,
    FdSockfamily,
    FdIsServer,
    FdConnected,
    FdNameChanged,
    /// DNS (issue 16): the name whose answer gave the server's address.
    FdSipName,
    /// The name a DNS event asked for, its type, response code and the
    /// answers' addresses or aliases.
    DnsName,
    DnsType,
    DnsRcode,
    DnsAnswers,
    DnsIsResponse,
    // Who started the container (issue 17).
    /// vigil: one line saying who started the container, or why not known.
    ContainerCreator,
    ContainerCreatorPid,
    ContainerCreatorUid,
    /// -1: never set.
    ContainerCreatorLoginuid,
    ContainerCreatorUser,
    ContainerCreatorCmdline,
    /// The runtime socket the creator connected to, or `podman`.
    ContainerCreatorVia,
    /// The creator's own container (a runtime socket mounted into it).
    ContainerCreatorContainerId,
    /// `pid:uid:cmdline` of each possible creator when there were several.
    ContainerCreatorCandidates,
    ContainerCreatorUnresolved,
    // Environments (issue 14).
    /// The environment (`NAME=value ...`), or `proc.env[NAME]`'s value.
    ProcEnv,
    /// `proc.aenv[N]`: the Nth ancestor's environment (0 the process);
    /// `proc.aenv[NAME]`: the first value of NAME from the parent up;
    /// `proc.aenv`: any ancestor's ([`Value::List`](crate::Value)).
    ProcAenv,
    // Session and process group leaders, the login user, the names of a
    // socket's other ends (issue 14).
    /// `proc.sname`, `proc.sid.exe`, `proc.sid.exepath`: the session
    /// leader's name, argv[0] and executable path.
    ProcSname,
    ProcSidExe,
    ProcSidExepath,
    /// `proc.vpgid.name`, `.exe`, `.exepath`: the process group leader's.
    ProcVpgidName,
    ProcVpgidExe,
    ProcVpgidExepath,
    /// The process leads its session / process group.
    ProcIsSidLeader,
    ProcIsVpgidLeader,
    /// The login uid's name in the process's own `/etc/passwd`.
    UserLoginname,
    /// Names from DNS answers, like `fd.sip.name`: the client's, the local
    /// end's, the remote end's.
    FdCipName,
    FdLipName,
    FdRipName,
    // Host storage filling up (issue 13), on `container_stats`.
    /// The watched storage root on the fullest filesystem the container
    /// writes to.
    FsPath,
    /// The container whose layer or volumes grew most on that filesystem.
    FsTopWriter,
    /// The growing containers, most first, with where they grew.
    FsWriters,
    /// `proc.aexepath[N]` (0 the process, 1 its parent, ...) or, without
    /// an index, any ancestor's ([`Value::List`](crate::Value)).
    ProcAexepath,
    /// `proc.aexe[N]`, the same for argv[0].
    ProcAexe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgSpec {
    None,
    /// `[N]` optional: without it the field means "any of them".
    OptIndex,
    /// `.NAME` suffix or `[N]`/`[NAME]`.
    Key,
    /// `[N]` or `[ANY TEXT]` (a label key, a path), required.
    Text,
    /// `[N]` or `[ANY TEXT]`, optional.
    OptText,
}

struct FieldDef {
    name: &'static str,
    id: FieldId,
    ty: FieldType,
    arg: ArgSpec,
}

macro_rules! defs {
    ($($name:literal => $id:ident, $ty:ident, $arg:ident;)*) => {
        const FIELDS: &[FieldDef] = &[
            $(FieldDef { name: $name, id: FieldId::$id, ty: FieldType::$ty, arg: ArgSpec::$arg },)*
        ];
    };
}

// The first row for an id gives its canonical name; later rows are aliases.
defs! {
    "evt.type" => EvtType, Str, None;
    "evt.num" => EvtNum, Num, None;
    "evt.time" => EvtTime, Str, None;
    "evt.res" => EvtRes, Str, None;
    "evt.rawres" => EvtRawres, Num, None;
    "evt.failed" => EvtFailed, Bool, None;
    "evt.dir" => EvtDir, Str, None;
    "evt.arg" => EvtArg, Dyn, Key;
    "evt.rawarg" => EvtRawarg, Dyn, Key;
    "evt.args" => EvtArgs, Str, None;
    "evt.is_open_read" => EvtIsOpenRead, Bool, None;
    "evt.is_open_write" => EvtIsOpenWrite, Bool, None;
    "evt.is_open_exec" => EvtIsOpenExec, Bool, None;
    "evt.hostname" => EvtHostname, Str, None;
    "proc.pid" => ProcPid, Num, None;
    "thread.tid" => ThreadTid, Num, None;
    "proc.tid" => ThreadTid, Num, None;
    "proc.ppid" => ProcPpid, Num, None;
    "proc.name" => ProcName, Str, None;
    "proc.exe" => ProcExe, Str, None;
    "proc.exepath" => ProcExepath, Str, None;
    "proc.cmdline" => ProcCmdline, Str, None;
    "proc.args" => ProcArgs, Str, None;
    "proc.pname" => ProcPname, Str, None;
    "proc.pexe" => ProcPexe, Str, None;
    "proc.pexepath" => ProcPexepath, Str, None;
    "proc.pcmdline" => ProcPcmdline, Str, None;
    "proc.aname" => ProcAname, Str, OptIndex;
    "proc.anames" => ProcAnames, StrList, None;
    "proc.apid" => ProcApid, Num, OptIndex;
    "proc.vpid" => ProcVpid, Num, None;
    "proc.is_exe_upper_layer" => ProcIsExeUpperLayer, Bool, None;
    "proc.is_exe_lower_layer" => ProcIsExeLowerLayer, Bool, None;
    "proc.is_exe_writable" => ProcIsExeWritable, Bool, None;
    "proc.is_exe_from_memfd" => ProcIsExeFromMemfd, Bool, None;
    "user.uid" => UserUid, Num, None;
    "user.euid" => UserEuid, Num, None;
    "user.name" => UserName, Str, None;
    "group.gid" => GroupGid, Num, None;
    "container.id" => ContainerId, Str, None;
    "container.full_id" => ContainerFullId, Str, None;
    "container.name" => ContainerName, Str, None;
    "container.image" => ContainerImage, Str, None;
    "container.image.repository" => ContainerImageRepository, Str, None;
    "container.image.tag" => ContainerImageTag, Str, None;
    "container.type" => ContainerType, Str, None;
    "container.runtime" => ContainerType, Str, None;
    "container.image.id" => ContainerImageId, Str, None;
    "container.image.digest" => ContainerImageDigest, Str, None;
    "container.privileged" => ContainerPrivileged, Bool, None;
    "container.mounts" => ContainerMounts, Str, None;
    "container.mount.source" => ContainerMountSource, Str, Text;
    "container.mount.dest" => ContainerMountDest, Str, Text;
    "container.mount.sources" => ContainerMountSources, StrList, None;
    "container.start_ts" => ContainerStartTs, Num, None;
    "container.label" => ContainerLabel, Str, Text;
    "container.labels" => ContainerLabels, StrList, None;
    "container.unresolved" => ContainerUnresolved, Str, None;
    "k8s.pod.uid" => K8sPodUid, Str, None;
    "k8s.pod.name" => K8sPodName, Str, None;
    "k8s.ns.name" => K8sNsName, Str, None;
    "k8s.pod.label" => K8sPodLabel, Str, Text;
    "k8s.pod.labels" => K8sPodLabels, StrList, None;
    "cgroup.id" => CgroupId, Num, None;
    "cgroup.path" => CgroupPath, Str, None;
    "ns.mnt" => NsMnt, Num, None;
    "ns.pid" => NsPid, Num, None;
    "ns.net" => NsNet, Num, None;
    "ns.user" => NsUser, Num, None;
    "ns.uts" => NsUts, Num, None;
    "ns.ipc" => NsIpc, Num, None;
    "ns.cgroup" => NsCgroup, Num, None;
    "fd.num" => FdNum, Num, None;
    "fd.name" => FdName, Str, None;
    "fd.directory" => FdDirectory, Str, None;
    "fd.filename" => FdFilename, Str, None;
    "fd.type" => FdType, Str, None;
    "fd.typechar" => FdTypechar, Str, None;
    "fd.sip" => FdSip, Str, None;
    "fd.sport" => FdSport, Num, None;
    "fd.rip" => FdRip, Str, None;
    "fd.rport" => FdRport, Num, None;
    "fd.ip" => FdIp, Str, None;
    "fd.port" => FdPort, Num, None;
    "fd.net" => FdNet, Net, None;
    "fd.cnet" => FdCnet, Net, None;
    "fd.snet" => FdSnet, Net, None;
    "fd.lnet" => FdLnet, Net, None;
    "fd.rnet" => FdRnet, Net, None;
    "fd.nameraw" => FdNameraw, Str, None;
    "proc.duration" => ProcDuration, Num, None;
    "proc.cwd" => ProcCwd, Str, None;
    "thread.cap_effective" => ThreadCapEffective, Str, None;
    "thread.cap_permitted" => ThreadCapPermitted, Str, None;
    "fd.proc_is_other" => FdProcIsOther, Bool, None;
    "fd.host_path" => FdHostPath, Str, None;
    "target.is_vigil" => TargetIsVigil, Bool, None;
    "user.nproc_top_container" => UserNprocTopContainer, Str, None;
    "proc.in_baseline" => ProcInBaseline, Bool, None;
    "proc.baseline_diff" => ProcBaselineDiff, Str, None;
    "proc.stdin.type" => ProcStdinType, Str, None;
    "proc.stdin.name" => ProcStdinName, Str, None;
    "proc.stdout.type" => ProcStdoutType, Str, None;
    "proc.stdout.name" => ProcStdoutName, Str, None;
    "host.io_stalled_container" => HostIoStalledContainer, Str, None;
    "user.inotify_top_container" => UserInotifyTopContainer, Str, None;
    "proc.tty" => ProcTty, Num, None;
    "proc.sid" => ProcSid, Num, None;
    "proc.vpgid" => ProcVpgid, Num, None;
    "user.loginuid" => UserLoginuid, Num, None;
    "group.name" => GroupName, Str, None;
    // Network (issue 16): the socket's ends as the kernel saw them.
    "fd.cip" => FdCip, Str, None;
    "fd.cport" => FdCport, Num, None;
    "fd.lip" => FdLip, Str, None;
    "fd.lport" => FdLport, Num, None;
    "fd.l4proto" => FdL4proto, Str, None;
    "fd.sockfamily" => FdSockfamily, Str, None;
    "fd.is_server" => FdIsServer, Bool, None;
    "fd.connected" => FdConnected, Bool, None;
    "fd.name_changed" => FdNameChanged, Bool, None;
    // DNS (issue 16): names from the answers a container received.
    "fd.sip.name" => FdSipName, Str, None;
    "dns.name" => DnsName, Str, None;
    "dns.type" => DnsType, Str, None;
    "dns.rcode" => DnsRcode, Str, None;
    "dns.answers" => DnsAnswers, StrList, None;
    "dns.is_response" => DnsIsResponse, Bool, None;
    // Who started the container (issue 17).
    "container.creator" => ContainerCreator, Str, None;
    "container.creator.pid" => ContainerCreatorPid, Num, None;
    "container.creator.uid" => ContainerCreatorUid, Num, None;
    "container.creator.loginuid" => ContainerCreatorLoginuid, Num, None;
    "container.creator.user" => ContainerCreatorUser, Str, None;
    "container.creator.cmdline" => ContainerCreatorCmdline, Str, None;
    "container.creator.via" => ContainerCreatorVia, Str, None;
    "container.creator.container_id" => ContainerCreatorContainerId, Str, None;
    "container.creator.candidates" => ContainerCreatorCandidates, StrList, None;
    "container.creator.unresolved" => ContainerCreatorUnresolved, Str, None;
    // Environments (issue 14).
    "proc.env" => ProcEnv, Str, OptText;
    "proc.aenv" => ProcAenv, Str, OptText;
    // Leaders, login user, socket names (issue 14).
    "proc.sname" => ProcSname, Str, None;
    "proc.sid.exe" => ProcSidExe, Str, None;
    "proc.sid.exepath" => ProcSidExepath, Str, None;
    "proc.vpgid.name" => ProcVpgidName, Str, None;
    "proc.vpgid.exe" => ProcVpgidExe, Str, None;
    "proc.vpgid.exepath" => ProcVpgidExepath, Str, None;
    "proc.is_sid_leader" => ProcIsSidLeader, Bool, None;
    "proc.is_vpgid_leader" => ProcIsVpgidLeader, Bool, None;
    "user.loginname" => UserLoginname, Str, None;
    "fd.cip.name" => FdCipName, Str, None;
    "fd.lip.name" => FdLipName, Str, None;
    "fd.rip.name" => FdRipName, Str, None;
    "fs.path" => FsPath, Str, None;
    "fs.top_writer" => FsTopWriter, Str, None;
    "fs.writers" => FsWriters, Str, None;
    "proc.aexepath" => ProcAexepath, Str, OptIndex;
    "proc.aexe" => ProcAexe, Str, OptIndex;
    // Never looked up by this name: resource fields resolve through
    // `resource`, this row only gives the id a type.
    "vigil.resource" => Resource, Num, Key;
}

/// Argument given to a field: `proc.aname[2]`, `evt.arg.flags`, `evt.arg[1]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldArg {
    None,
    Index(u32),
    Name(Box<str>),
}

/// A resolved, supported field with its argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    pub id: FieldId,
    pub arg: FieldArg,
}

/// Result of looking a field name up in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Supported(Field, FieldType),
    /// A Falco field vigil does not supply.
    Unsupported,
    /// Not a field anyone knows (or a bad argument), with the reason.
    Unknown(String),
}

#[cfg(test)]
mod tests;
