//! Syscall arguments: raw registers and kernel strings → named, typed values.
//!
//! The kernel side stamps six raw arguments, up to three strings and the
//! return value into a [`SyscallRecord`]; which slot holds what is fixed per
//! syscall by the table in `monitor_common::records`. This module turns that
//! into [`Arg`]s named like Falco's `evt.arg.*` (flags rendered symbolically
//! with the raw value kept), decodes `struct sockaddr` for connect, and names
//! errno values. Constants come from `libc`, so they match the build target.

use monitor_common::decode::Bytes;
use monitor_common::syscalls::{ArgKind as K, ArgSpec, FlagSet, NameSet};
use monitor_common::{syscall_flags, SockTuple, SyscallRecord};
use serde::{Deserialize, Serialize};

use crate::event::name::Name;
use crate::event::text::escape;

/// One decoded argument.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arg {
    /// Falco's argument name where it has one (`evt.arg.<name>`).
    #[serde(deserialize_with = "crate::event::name::deserialize")]
    pub name: Name,
    pub value: ArgValue,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgValue {
    Int(i64),
    Uint(u64),
    /// Escaped text ([`crate::event::text`]).
    Str(String),
    /// A flag set or mode: symbolic `text` (`O_WRONLY|O_CREAT`, `0644`) and the raw value.
    Flags {
        raw: u64,
        text: String,
    },
}

/// A decoded `struct sockaddr` (connect).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SockAddr {
    Inet {
        ip: String,
        port: u16,
    },
    Inet6 {
        ip: String,
        port: u16,
        scope_id: u32,
    },
    /// `path` is escaped text; an abstract socket's name is shown with a
    /// leading `@` (as `ss` does), its embedded NULs as `\x00`.
    Unix {
        path: String,
        abstract_ns: bool,
    },
    Other {
        family: u16,
    },
}

impl SockAddr {
    /// `ip:port`, `[ip6]:port` or the socket path: what `fd.name` shows.
    pub fn display(&self) -> String {
        match self {
            SockAddr::Inet { ip, port } => format!("{ip}:{port}"),
            SockAddr::Inet6 { ip, port, .. } => format!("[{ip}]:{port}"),
            SockAddr::Unix { path, .. } => path.clone(),
            SockAddr::Other { family } => format!("family {family}"),
        }
    }
}

/// An IP socket's two ends as Falco's `fd.*` fields name them: the client
/// (who connected or sent) and the server (who bound, listened or
/// accepted). An end the kernel did not know (a listener's client) is absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conn {
    /// `ipv4` or `ipv6` (`fd.type`).
    pub family: String,
    /// `tcp`, `udp`, `icmp`, `raw` or the protocol number (`fd.l4proto`).
    pub l4proto: String,
    pub client: Option<Endpoint>,
    pub server: Option<Endpoint>,
    /// The socket of this event is the server's end (`fd.is_server`).
    pub local_is_server: bool,
    /// The socket has a peer of its own (`fd.connected`); an unconnected
    /// UDP socket's server is the destination the syscall named.
    pub connected: bool,
    /// The name whose DNS answer gave the server's address to this
    /// container (`fd.sip.name`), set at enrichment (`enrich::dns`).
    pub server_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub ip: String,
    pub port: u16,
}

impl Endpoint {
    fn display(&self) -> String {
        if self.ip.contains(':') {
            format!("[{}]:{}", self.ip, self.port)
        } else {
            format!("{}:{}", self.ip, self.port)
        }
    }
}

impl Conn {
    /// `fd.name` as Falco shows a socket: `client->server`, or the one end known.
    pub fn display(&self) -> String {
        match (&self.client, &self.server) {
            (Some(c), Some(s)) => format!("{}->{}", c.display(), s.display()),
            (Some(e), None) | (None, Some(e)) => e.display(),
            (None, None) => String::new(),
        }
    }

    /// The end of this event's socket (`fd.lip`, `fd.lport`).
    pub fn local(&self) -> Option<&Endpoint> {
        if self.local_is_server {
            self.server.as_ref()
        } else {
            self.client.as_ref()
        }
    }

    /// The other end (`fd.rip`, `fd.rport`).
    pub fn remote(&self) -> Option<&Endpoint> {
        if self.local_is_server {
            self.client.as_ref()
        } else {
            self.server.as_ref()
        }
    }
}

/// Build the [`Conn`] of an IP socket from the kernel's tuple; `dest` is the
/// sockaddr the syscall named, the peer of a socket not connected to one
/// (a UDP `sendto`).
pub fn conn(t: &SockTuple, dest: Option<&SockAddr>, local_is_server: bool) -> Option<Conn> {
    let (family, ip): (&str, fn(&[u8; 16]) -> String) = match i32::from(t.family) {
        libc::AF_INET => ("ipv4", |a| {
            std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()
        }),
        libc::AF_INET6 => ("ipv6", |a| std::net::Ipv6Addr::from(*a).to_string()),
        _ => return None,
    };
    let local = Endpoint {
        ip: ip(&t.local),
        port: t.local_port,
    };
    let connected = t.remote_port != 0;
    let remote = if connected {
        Some(Endpoint {
            ip: ip(&t.remote),
            port: t.remote_port,
        })
    } else {
        match dest {
            Some(SockAddr::Inet { ip, port }) | Some(SockAddr::Inet6 { ip, port, .. })
                if !local_is_server =>
            {
                Some(Endpoint {
                    ip: ip.clone(),
                    port: *port,
                })
            }
            _ => None,
        }
    };
    let l4proto = match i32::from(t.protocol) {
        libc::IPPROTO_TCP => "tcp".to_owned(),
        libc::IPPROTO_UDP => "udp".to_owned(),
        libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6 => "icmp".to_owned(),
        _ if i32::from(t.sock_type) == libc::SOCK_RAW => "raw".to_owned(),
        p => p.to_string(),
    };
    let (client, server) = if local_is_server {
        (remote, Some(local))
    } else {
        (Some(local), remote)
    };
    Some(Conn {
        family: family.to_owned(),
        l4proto,
        client,
        server,
        local_is_server,
        connected,
        server_name: None,
    })
}

/// Everything decoded from one syscall record.
pub struct Decoded {
    pub args: Vec<Arg>,
    /// The file the syscall names (`fd.name`): open paths, connect peers.
    pub path: Option<String>,
    pub sockaddr: Option<SockAddr>,
    /// An IP socket's endpoints (network syscalls).
    pub conn: Option<Conn>,
    /// Falco field names of arguments the kernel cut short.
    pub truncated: Vec<&'static str>,
    /// A relative open path as the kernel resolved it against the working
    /// directory or dirfd (`PATH_AT`).
    pub resolved: Option<String>,
}

/// Decode the arguments of one syscall record, as its row of the syscall
/// table (`monitor_common::syscall_table!`) describes them.
pub fn decode(r: &SyscallRecord) -> Decoded {
    let mut d = Decoded {
        args: Vec::new(),
        path: None,
        sockaddr: None,
        conn: None,
        truncated: Vec::new(),
        resolved: None,
    };
    let Some(id) = r.id() else { return d };
    for spec in id.args() {
        d.arg(r, spec);
    }
    if r.flags & syscall_flags::PATH_AT != 0 {
        match r.str1().bytes {
            // The agent may still resolve it from procfs; the event says
            // the kernel (and so its open filter) could not.
            [] => d.push(
                "unresolved",
                ArgValue::Str("directory too deep or path too long".to_owned()),
            ),
            b => d.resolved = Some(escape(b)),
        }
    }
    // Where it was seen, as extra arguments: which LSM hook (its paths are
    // resolved), and whether io_uring submitted it.
    if r.flags & syscall_flags::LSM != 0 {
        if let Some(h) = monitor_common::lsm::hook_for(id) {
            d.push("lsm_hook", ArgValue::Str(h.hook.to_owned()));
        }
    }
    if r.flags & syscall_flags::IO_URING != 0 {
        d.push("io_uring", ArgValue::Uint(1));
    }
    // Enforcement (docs/enforcement.md): what the kernel did about it.
    if r.flags & syscall_flags::DENIED != 0 {
        d.push("enforcement", ArgValue::Str("denied".to_owned()));
    } else if r.flags & syscall_flags::KILLED != 0 {
        d.push("enforcement", ArgValue::Str("killed".to_owned()));
    } else if r.flags & syscall_flags::WOULD_DENY != 0 {
        d.push("enforcement", ArgValue::Str("would_deny".to_owned()));
    } else if r.flags & syscall_flags::WOULD_KILL != 0 {
        d.push("enforcement", ArgValue::Str("would_kill".to_owned()));
    }
    d
}

impl Decoded {
    fn arg(&mut self, r: &SyscallRecord, spec: &ArgSpec) {
        // A refused attempt's strings were never read (the call did not
        // run): leave them out rather than report them empty.
        if r.flags & syscall_flags::REFUSED != 0
            && matches!(
                spec.kind,
                K::Str0 | K::Str1 | K::Short | K::Path | K::Sockaddr
            )
        {
            return;
        }
        let a = &r.args;
        let slot = |i: u8| a[usize::from(i)];
        let value = match spec.kind {
            K::Int(i) => ArgValue::Int(slot(i) as i32 as i64),
            K::Uint(i) => ArgValue::Uint(slot(i)),
            K::Id(i) => ArgValue::Int(slot(i) as u32 as i32 as i64),
            K::Flags(i, set) => ArgValue::Flags {
                raw: slot(i),
                text: flag_text(slot(i), flag_table(set)),
            },
            K::Name(i, set) => {
                // socket()'s type carries SOCK_NONBLOCK/SOCK_CLOEXEC above its low bits.
                let v = match set {
                    NameSet::SockType => slot(i) & 0xf,
                    _ => slot(i),
                };
                ArgValue::Flags {
                    raw: slot(i),
                    text: table_name(v, name_table(set)),
                }
            }
            K::Mode(i) => ArgValue::Flags {
                raw: slot(i),
                text: format!("0{:o}", slot(i) & 0o7777),
            },
            K::Signal(i) => ArgValue::Flags {
                raw: slot(i),
                text: signal_name(slot(i) as i32),
            },
            K::OpenFlags(i) => open_flags(slot(i)),
            // creat(path, mode) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode).
            K::CreatFlags => open_flags((libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64),
            K::Str0 => return self.string(spec.name, r.str0()),
            K::Str1 => return self.string(spec.name, r.str1()),
            K::Short => return self.string(spec.name, r.short()),
            K::Path => {
                self.path = Some(escape(r.str0().bytes));
                return self.string(spec.name, r.str0());
            }
            K::Sockaddr => {
                if r.flags & syscall_flags::STR0_SOCKADDR == 0 {
                    return;
                }
                // The kernel kept at most addrlen bytes (connect) or the
                // exact sockaddr it built (dup).
                self.sockaddr = decode_sockaddr(r.str0().bytes);
                let Some(sa) = &self.sockaddr else { return };
                self.path = Some(sa.display());
                ArgValue::Str(sa.display())
            }
            K::TupleClient | K::TupleServer => {
                let Some(t) = r.tuple() else { return };
                let server = spec.kind == K::TupleServer;
                let Some(c) = conn(&t, self.sockaddr.as_ref(), server) else {
                    return;
                };
                let shown = c.display();
                self.path = Some(shown.clone());
                self.conn = Some(c);
                ArgValue::Str(shown)
            }
            // The requested sets, unless the kernel could not read them.
            K::CapSet(i) if r.flags & syscall_flags::CAPS_UNREAD == 0 => ArgValue::Uint(slot(i)),
            // args[5] is the caller's effective set before the call: a bit
            // in the new effective set (args[2]) that it lacked.
            K::CapRaised
                if r.flags & (syscall_flags::CAPS_UNREAD | syscall_flags::CAPS_CURRENT_UNKNOWN)
                    == 0 =>
            {
                ArgValue::Uint(a[2] & !a[5])
            }
            K::CapSet(_) | K::CapRaised => return,
        };
        self.push(spec.name, value);
    }

    fn push(&mut self, name: &'static str, value: ArgValue) {
        self.args.push(Arg {
            name: Name::Borrowed(name),
            value,
        });
    }

    fn string(&mut self, name: &'static str, b: Bytes<'_>) {
        if b.truncated {
            self.truncated.push(name);
        }
        self.push(name, ArgValue::Str(escape(b.bytes)));
    }
}

fn flag_table(set: FlagSet) -> &'static [(u64, &'static str)] {
    match set {
        FlagSet::Mount => MOUNT_FLAGS,
        FlagSet::Umount => UMOUNT_FLAGS,
        FlagSet::Clone => CLONE_FLAGS,
        FlagSet::Open => OPEN_FLAGS,
        FlagSet::Memfd => MEMFD_FLAGS,
        FlagSet::At => AT_FLAGS,
        FlagSet::OpenTree => OPEN_TREE_FLAGS,
    }
}

fn name_table(set: NameSet) -> &'static [(u64, &'static str)] {
    match set {
        NameSet::Ptrace => PTRACE_REQUESTS,
        NameSet::BpfCmd => BPF_CMDS,
        NameSet::SockFamily => SOCK_FAMILIES,
        NameSet::SockType => SOCK_TYPES,
    }
}

fn open_flags(raw: u64) -> ArgValue {
    // The access mode is a 2-bit number, not a flag: O_RDONLY is 0.
    let access = match raw & libc::O_ACCMODE as u64 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = flag_text(raw & !(libc::O_ACCMODE as u64), OPEN_FLAGS);
    let text = if rest == "0" {
        access.to_owned()
    } else {
        format!("{access}|{rest}")
    };
    ArgValue::Flags { raw, text }
}

/// Render a flag set: known names joined by `|`, unknown bits as hex, `0` if empty.
pub fn flag_text(raw: u64, table: &[(u64, &str)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut left = raw;
    for &(bits, name) in table {
        if bits != 0 && left & bits == bits {
            parts.push(name.to_owned());
            left &= !bits;
        }
    }
    if left != 0 {
        parts.push(format!("{left:#x}"));
    }
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join("|")
    }
}

fn table_name(raw: u64, table: &[(u64, &str)]) -> String {
    table
        .iter()
        .find(|(v, _)| *v == raw)
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| raw.to_string())
}

/// Decode `struct sockaddr` bytes (already cut to `addrlen`).
pub fn decode_sockaddr(b: &[u8]) -> Option<SockAddr> {
    let family = u16::from_ne_bytes([*b.first()?, *b.get(1)?]);
    let be16 = |i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
    Some(match family as i32 {
        libc::AF_INET => {
            let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            SockAddr::Inet {
                ip: std::net::Ipv4Addr::from(ip).to_string(),
                port: be16(2)?,
            }
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            let scope_id = b
                .get(24..28)
                .map(|s| u32::from_ne_bytes(s.try_into().unwrap_or_default()))
                .unwrap_or(0);
            SockAddr::Inet6 {
                ip: std::net::Ipv6Addr::from(ip).to_string(),
                port: be16(2)?,
                scope_id,
            }
        }
        libc::AF_UNIX => {
            let path = b.get(2..).unwrap_or_default();
            match path.split_first() {
                // Abstract namespace: a length-delimited name after a NUL.
                Some((0, name)) => SockAddr::Unix {
                    path: format!("@{}", escape(name)),
                    abstract_ns: true,
                },
                _ => SockAddr::Unix {
                    path: escape(monitor_common::decode::until_nul(path)),
                    abstract_ns: false,
                },
            }
        }
        _ => SockAddr::Other { family },
    })
}

/// `SUCCESS` for a non-negative return, else the errno name (`ENOENT`).
pub fn res_name(ret: i64) -> Name {
    if ret >= 0 {
        return Name::Borrowed("SUCCESS");
    }
    let errno = ret.unsigned_abs();
    ERRNO_NAMES
        .iter()
        .find(|(v, _)| *v == errno)
        .map(|(_, n)| Name::Borrowed(*n))
        .unwrap_or_else(|| Name::Owned(format!("E{errno}")))
}

/// `SIGKILL`, `SIGRTMIN+3`, `0` (the existence check).
pub fn signal_name(sig: i32) -> String {
    if let Some((_, n)) = SIGNALS.iter().find(|(v, _)| *v as i32 == sig) {
        return (*n).to_owned();
    }
    let rtmin = libc::SIGRTMIN();
    if sig >= rtmin && sig <= libc::SIGRTMAX() {
        return format!("SIGRTMIN+{}", sig - rtmin);
    }
    sig.to_string()
}

/// Clone flags as strace prints them: flag names (namespace flags first,
/// they are what rules look at), then the exit signal in the low byte.
pub fn clone_flags_text(raw: u64) -> String {
    let csignal = libc::CSIGNAL as u64;
    let flags = flag_text(raw & !csignal, CLONE_FLAGS);
    match raw & csignal {
        0 => flags,
        sig if flags == "0" => signal_name(sig as i32),
        sig => format!("{flags}|{}", signal_name(sig as i32)),
    }
}

macro_rules! table {
    ($name:ident: $($c:ident),* $(,)?) => {
        pub const $name: &[(u64, &str)] = &[$((libc::$c as i64 as u64 & 0xffff_ffff, stringify!($c)),)*];
    };
}

table!(MOUNT_FLAGS: MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_REMOUNT,
    MS_MANDLOCK, MS_DIRSYNC, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_MOVE, MS_REC, MS_SILENT,
    MS_POSIXACL, MS_UNBINDABLE, MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_RELATIME, MS_KERNMOUNT,
    MS_I_VERSION, MS_STRICTATIME, MS_LAZYTIME, MS_NOUSER);
table!(UMOUNT_FLAGS: MNT_FORCE, MNT_DETACH, MNT_EXPIRE, UMOUNT_NOFOLLOW);
table!(CLONE_FLAGS: CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
    CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME, CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND,
    CLONE_PIDFD, CLONE_PTRACE, CLONE_VFORK, CLONE_PARENT, CLONE_THREAD, CLONE_SYSVSEM,
    CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_DETACHED, CLONE_UNTRACED,
    CLONE_CHILD_SETTID, CLONE_IO);
// O_SYNC contains O_DSYNC's bit and O_TMPFILE contains O_DIRECTORY's: list
// the composite first so it wins.
table!(OPEN_FLAGS: O_SYNC, O_TMPFILE, O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND, O_NONBLOCK,
    O_DSYNC, O_ASYNC, O_DIRECT, O_LARGEFILE, O_DIRECTORY, O_NOFOLLOW, O_NOATIME, O_CLOEXEC, O_PATH);
table!(AT_FLAGS: AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_NO_AUTOMOUNT,
    AT_EMPTY_PATH, AT_RECURSIVE);
table!(MEMFD_FLAGS: MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_HUGETLB, MFD_NOEXEC_SEAL, MFD_EXEC);
table!(OPEN_TREE_FLAGS: OPEN_TREE_CLONE, O_CLOEXEC, AT_RECURSIVE, AT_EMPTY_PATH,
    AT_SYMLINK_NOFOLLOW, AT_NO_AUTOMOUNT);
table!(SIGNALS: SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL,
    SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGCHLD, SIGCONT, SIGSTOP,
    SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO,
    SIGPWR, SIGSYS);
table!(ERRNO_NAMES: EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, ENOEXEC, EBADF, ECHILD,
    EAGAIN, ENOMEM, EACCES, EFAULT, ENOTBLK, EBUSY, EEXIST, EXDEV, ENODEV, ENOTDIR, EISDIR,
    EINVAL, ENFILE, EMFILE, ENOTTY, ETXTBSY, EFBIG, ENOSPC, ESPIPE, EROFS, EMLINK, EPIPE, EDOM,
    ERANGE, EDEADLK, ENAMETOOLONG, ENOLCK, ENOSYS, ENOTEMPTY, ELOOP, ENOMSG, EIDRM, ECHRNG,
    EL2NSYNC, EL3HLT, EL3RST, ELNRNG, EUNATCH, ENOCSI, EL2HLT, EBADE, EBADR, EXFULL, ENOANO,
    EBADRQC, EBADSLT, EBFONT, ENOSTR, ENODATA, ETIME, ENOSR, ENONET, ENOPKG, EREMOTE, ENOLINK,
    EADV, ESRMNT, ECOMM, EPROTO, EMULTIHOP, EDOTDOT, EBADMSG, EOVERFLOW, ENOTUNIQ, EBADFD,
    EREMCHG, ELIBACC, ELIBBAD, ELIBSCN, ELIBMAX, ELIBEXEC, EILSEQ, ERESTART, ESTRPIPE, EUSERS,
    ENOTSOCK, EDESTADDRREQ, EMSGSIZE, EPROTOTYPE, ENOPROTOOPT, EPROTONOSUPPORT,
    ESOCKTNOSUPPORT, EOPNOTSUPP, EPFNOSUPPORT, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL,
    ENETDOWN, ENETUNREACH, ENETRESET, ECONNABORTED, ECONNRESET, ENOBUFS, EISCONN, ENOTCONN,
    ESHUTDOWN, ETOOMANYREFS, ETIMEDOUT, ECONNREFUSED, EHOSTDOWN, EHOSTUNREACH, EALREADY,
    EINPROGRESS, ESTALE, EUCLEAN, ENOTNAM, ENAVAIL, EISNAM, EREMOTEIO, EDQUOT, ENOMEDIUM,
    EMEDIUMTYPE, ECANCELED, ENOKEY, EKEYEXPIRED, EKEYREVOKED, EKEYREJECTED, EOWNERDEAD,
    ENOTRECOVERABLE, ERFKILL, EHWPOISON);

/// ptrace requests (Linux generic numbering; x86 register requests).
const PTRACE_REQUESTS: &[(u64, &str)] = &[
    (0, "PTRACE_TRACEME"),
    (1, "PTRACE_PEEKTEXT"),
    (2, "PTRACE_PEEKDATA"),
    (3, "PTRACE_PEEKUSR"),
    (4, "PTRACE_POKETEXT"),
    (5, "PTRACE_POKEDATA"),
    (6, "PTRACE_POKEUSR"),
    (7, "PTRACE_CONT"),
    (8, "PTRACE_KILL"),
    (9, "PTRACE_SINGLESTEP"),
    (12, "PTRACE_GETREGS"),
    (13, "PTRACE_SETREGS"),
    (14, "PTRACE_GETFPREGS"),
    (15, "PTRACE_SETFPREGS"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (24, "PTRACE_SYSCALL"),
    (0x4200, "PTRACE_SETOPTIONS"),
    (0x4201, "PTRACE_GETEVENTMSG"),
    (0x4202, "PTRACE_GETSIGINFO"),
    (0x4203, "PTRACE_SETSIGINFO"),
    (0x4204, "PTRACE_GETREGSET"),
    (0x4205, "PTRACE_SETREGSET"),
    (0x4206, "PTRACE_SEIZE"),
    (0x4207, "PTRACE_INTERRUPT"),
    (0x4208, "PTRACE_LISTEN"),
    (0x4209, "PTRACE_PEEKSIGINFO"),
];

/// `enum bpf_cmd` (stable uapi numbering).
const SOCK_FAMILIES: &[(u64, &str)] = &[
    (libc::AF_UNIX as u64, "AF_UNIX"),
    (libc::AF_INET as u64, "AF_INET"),
    (libc::AF_INET6 as u64, "AF_INET6"),
    (libc::AF_NETLINK as u64, "AF_NETLINK"),
    (libc::AF_PACKET as u64, "AF_PACKET"),
    (libc::AF_VSOCK as u64, "AF_VSOCK"),
    (libc::AF_XDP as u64, "AF_XDP"),
    (libc::AF_ALG as u64, "AF_ALG"),
];

/// The type's low bits; SOCK_NONBLOCK and SOCK_CLOEXEC are flags on top.
const SOCK_TYPES: &[(u64, &str)] = &[
    (libc::SOCK_STREAM as u64, "SOCK_STREAM"),
    (libc::SOCK_DGRAM as u64, "SOCK_DGRAM"),
    (libc::SOCK_RAW as u64, "SOCK_RAW"),
    (libc::SOCK_SEQPACKET as u64, "SOCK_SEQPACKET"),
    // SOCK_PACKET: obsolete, still accepted by the kernel.
    (10, "SOCK_PACKET"),
];

const BPF_CMDS: &[(u64, &str)] = &[
    (0, "BPF_MAP_CREATE"),
    (1, "BPF_MAP_LOOKUP_ELEM"),
    (2, "BPF_MAP_UPDATE_ELEM"),
    (3, "BPF_MAP_DELETE_ELEM"),
    (4, "BPF_MAP_GET_NEXT_KEY"),
    (5, "BPF_PROG_LOAD"),
    (6, "BPF_OBJ_PIN"),
    (7, "BPF_OBJ_GET"),
    (8, "BPF_PROG_ATTACH"),
    (9, "BPF_PROG_DETACH"),
    (10, "BPF_PROG_TEST_RUN"),
    (11, "BPF_PROG_GET_NEXT_ID"),
    (12, "BPF_MAP_GET_NEXT_ID"),
    (13, "BPF_PROG_GET_FD_BY_ID"),
    (14, "BPF_MAP_GET_FD_BY_ID"),
    (15, "BPF_OBJ_GET_INFO_BY_FD"),
    (16, "BPF_PROG_QUERY"),
    (17, "BPF_RAW_TRACEPOINT_OPEN"),
    (18, "BPF_BTF_LOAD"),
    (19, "BPF_BTF_GET_FD_BY_ID"),
    (20, "BPF_TASK_FD_QUERY"),
    (21, "BPF_MAP_LOOKUP_AND_DELETE_ELEM"),
    (22, "BPF_MAP_FREEZE"),
    (23, "BPF_BTF_GET_NEXT_ID"),
    (24, "BPF_MAP_LOOKUP_BATCH"),
    (25, "BPF_MAP_LOOKUP_AND_DELETE_BATCH"),
    (26, "BPF_MAP_UPDATE_BATCH"),
    (27, "BPF_MAP_DELETE_BATCH"),
    (28, "BPF_LINK_CREATE"),
    (29, "BPF_LINK_UPDATE"),
    (30, "BPF_LINK_GET_FD_BY_ID"),
    (31, "BPF_LINK_GET_NEXT_ID"),
    (32, "BPF_ENABLE_STATS"),
    (33, "BPF_ITER_CREATE"),
    (34, "BPF_LINK_DETACH"),
    (35, "BPF_PROG_BIND_MAP"),
    (36, "BPF_TOKEN_CREATE"),
];

/// Capability names of a mask, space separated as Falco prints them.
pub fn cap_names(mask: u64) -> String {
    const CAPS: [&str; 41] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    (0..64)
        .filter(|b| mask & (1u64 << b) != 0)
        .map(|b| {
            CAPS.get(b)
                .map(|s| (*s).to_owned())
                .unwrap_or_else(|| format!("CAP_{b}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
