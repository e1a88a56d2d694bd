//! Symbolic names for raw syscall values, as Falco prints them: open and
//! other flags (the raw value kept beside the text), errno, signals,
//! clone flags, ptrace requests, socket families and types, bpf commands
//! and capability masks. Constants come from `libc`, so they match the
//! build target.

use monitor_common::syscalls::{FlagSet, NameSet};

use super::ArgValue;
use crate::event::name::Name;

pub(super) fn flag_table(set: FlagSet) -> &'static [(u64, &'static str)] {
    match set {
        FlagSet::Mount => MOUNT_FLAGS,
        FlagSet::Umount => UMOUNT_FLAGS,
        FlagSet::Clone => CLONE_FLAGS,
        FlagSet::Open => OPEN_FLAGS,
        FlagSet::Memfd => MEMFD_FLAGS,
        FlagSet::At => AT_FLAGS,
        FlagSet::OpenTree => OPEN_TREE_FLAGS,
        FlagSet::Prot => PROT_FLAGS,
        FlagSet::Mmap => MMAP_FLAGS,
    }
}

pub(super) fn name_table(set: NameSet) -> &'static [(u64, &'static str)] {
    match set {
        NameSet::Ptrace => PTRACE_REQUESTS,
        NameSet::BpfCmd => BPF_CMDS,
        NameSet::SockFamily => SOCK_FAMILIES,
        NameSet::SockType => SOCK_TYPES,
    }
}

pub(super) fn open_flags(raw: u64) -> ArgValue {
    // The access mode is a 2-bit number, not a flag: O_RDONLY is 0.
    let access = match raw & libc::O_ACCMODE as u64 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    // One allocation: an open's flags are rendered for every open event.
    let mut text = String::with_capacity(32);
    text.push_str(access);
    push_flags(&mut text, raw & !(libc::O_ACCMODE as u64), OPEN_FLAGS);
    ArgValue::Flags { raw, text }
}

/// Render a flag set: known names joined by `|`, unknown bits as hex, `0` if empty.
pub fn flag_text(raw: u64, table: &[(u64, &str)]) -> String {
    let mut out = String::new();
    push_flags(&mut out, raw, table);
    if out.is_empty() {
        out.push('0');
    }
    out
}

/// Appends the names of `raw`'s flags to `out`, each after a `|` unless
/// it is the first thing in `out`; unknown bits last, as hex.
fn push_flags(out: &mut String, raw: u64, table: &[(u64, &str)]) {
    use std::fmt::Write;
    let mut left = raw;
    for &(bits, name) in table {
        if bits != 0 && left & bits == bits {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
            left &= !bits;
        }
    }
    if left != 0 {
        if !out.is_empty() {
            out.push('|');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{left:#x}");
    }
}

pub(super) fn table_name(raw: u64, table: &[(u64, &str)]) -> String {
    table
        .iter()
        .find(|(v, _)| *v == raw)
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| raw.to_string())
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
table!(PROT_FLAGS: PROT_READ, PROT_WRITE, PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP);
table!(MMAP_FLAGS: MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS, MAP_GROWSDOWN,
    MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED, MAP_NORESERVE, MAP_POPULATE, MAP_NONBLOCK,
    MAP_STACK, MAP_HUGETLB, MAP_FIXED_NOREPLACE);
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
