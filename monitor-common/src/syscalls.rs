//! Every hooked syscall, described once.
//!
//! One row of [`syscall_table!`] says everything both sides need: our stable
//! id (not the arch's syscall number), the name (Falco's `evt.type`), the
//! kernel's tracepoint name, the eBPF enter program, what that program reads
//! ([`ReadSpec`]: how many raw arguments, which ones are strings, any
//! per-syscall extra) and how the agent names and types the arguments
//! ([`ArgSpec`], Falco's `evt.arg.*`). The eBPF crate generates its enter
//! programs from the same rows (`syscall_table!(its_macro)`), so adding a
//! syscall is one row here plus, where needed, one [`Extra`] or [`ArgKind`].
//!
//! Ids are stable: never renumber; a retired id stays a hole so recorded
//! logs keep their meaning.

/// "No argument" in a [`ReadSpec`] string slot.
pub const NONE: u8 = u8::MAX;

/// What the enter program of one syscall reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadSpec {
    /// Raw arguments copied into `SyscallRecord::args`.
    pub nargs: u8,
    /// The argument (index) read as a string into `str0`, `str1` and
    /// `short`, or [`NONE`].
    pub str0: u8,
    pub str1: u8,
    pub short: u8,
    pub extra: Extra,
}

/// Per-syscall work of the enter program beyond copying arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    None,
    /// clone(flags, ...): keep only with namespace flags.
    Clone,
    /// clone3(struct clone_args *, size): flags into args[3].
    Clone3,
    /// open/openat: flags are this argument; apply the open filter.
    Open(u8),
    /// openat2: open_how into args[3..6]; apply the open filter.
    Openat2,
    /// creat, unlink, unlinkat: always a write; apply the open filter.
    Creat,
    /// connect(fd, sockaddr, addrlen): raw sockaddr into str0.
    Connect,
    /// capset(hdr, data): the new sets into args[2..5], the caller's
    /// current effective set into args[5].
    Capset,
    /// dup/dup2/dup3(oldfd, ...): kept only when `oldfd` is an IPv4 or
    /// IPv6 socket, whose peer address goes into str0 as a raw sockaddr
    /// (as connect's), and the socket's tuple as it is at exit into str1
    /// (`STR1_TUPLE`, loopback included): shells dup constantly, a socket
    /// onto stdin is news.
    Dup,
    // Network (monitor-ebpf/src/net.rs): each fills the socket tuple
    // (`STR1_TUPLE`) at exit and drops loopback peers unless asked for.
    /// socket(domain, type, proto): kept only for packet and raw IP sockets.
    Socket,
    /// bind(fd, sockaddr, addrlen): raw sockaddr into str0; IP and unix only.
    Bind,
    /// listen(fd, backlog).
    Listen,
    /// accept/accept4(fd, ...): the tuple of the new socket (the return
    /// value); failures that only say "nothing yet" (EAGAIN) are dropped.
    Accept,
    /// sendto(fd, buf, len, flags, sockaddr, addrlen): only with a
    /// destination, once per socket and destination (the flow's first datagram).
    Sendto,
    /// sendmsg(fd, msghdr, flags) and sendmmsg(fd, mmsghdr, vlen, flags):
    /// as sendto, with the destination of the (first) message header.
    Sendmsg,
    /// mmap(addr, len, prot, flags, ...) and mprotect(addr, len, prot):
    /// kept only when memory becomes executable and writable at once, or
    /// (mmap) executable anonymous memory is mapped.
    ExecMem,
}

impl Extra {
    /// Does the kernel report this syscall only when the open filter
    /// selects its path?
    pub const fn open_filtered(self) -> bool {
        matches!(self, Extra::Open(_) | Extra::Openat2 | Extra::Creat)
    }
}

/// One argument as the agent reports it: Falco's name and how to decode it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ArgKind,
}

/// How an argument is decoded; the number is the `args` slot it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Signed 32-bit integer (fds, pids).
    Int(u8),
    Uint(u8),
    /// uid or gid (`-1` is "unchanged").
    Id(u8),
    /// A flag set rendered symbolically.
    Flags(u8, FlagSet),
    /// One value of an enumeration, by name.
    Name(u8, NameSet),
    /// File mode bits, octal.
    Mode(u8),
    /// A signal number, by name.
    Signal(u8),
    /// open(2) flags (access mode plus flags).
    OpenFlags(u8),
    /// creat(2)'s implied `O_CREAT|O_WRONLY|O_TRUNC`.
    CreatFlags,
    /// The string slots.
    Str0,
    Str1,
    Short,
    /// `str0` is the path the syscall acts on (`fd.name`).
    Path,
    /// `str0` holds a `struct sockaddr` of `args[2]` bytes (`fd.name`).
    Sockaddr,
    /// A capability set capset() asks for (absent when unread).
    CapSet(u8),
    /// Capabilities in the new effective set the caller lacked.
    CapRaised,
    /// `str1` holds a [`crate::SockTuple`] whose local end is the client
    /// (connect, send): `fd.cip`/`fd.sip`, `fd.name` as `client->server`.
    TupleClient,
    /// As [`ArgKind::TupleClient`], the local end being the server (bind,
    /// listen, accept).
    TupleServer,
}

/// Flag tables the agent renders ([`ArgKind::Flags`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagSet {
    Mount,
    Umount,
    Clone,
    Open,
    Memfd,
    At,
    OpenTree,
    /// mmap/mprotect's `prot`.
    Prot,
    /// mmap's `flags`.
    Mmap,
}

/// Enumerations the agent names ([`ArgKind::Name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameSet {
    Ptrace,
    BpfCmd,
    /// Address families (`AF_INET`).
    SockFamily,
    /// Socket types (`SOCK_STREAM`; flags such as `SOCK_CLOEXEC` dropped).
    SockType,
}

/// The table. Invoke with the name of a macro that takes the rows:
/// `Name = id, "name", "tracepoint", enter_program, (nargs, str0, str1,
/// short, extra), [("arg", kind), ...];`.
#[macro_export]
macro_rules! syscall_table {
    ($cb:ident) => {
        $cb! {
            Mount = 1, "mount", "mount", sys_enter_mount, (5, 0, 1, 2, None),
                [("dev", Str0), ("dir", Str1), ("type", Short), ("flags", Flags(3, Mount))];
            Umount2 = 2, "umount2", "umount", sys_enter_umount2, (2, 0, NONE, NONE, None),
                [("name", Str0), ("flags", Flags(1, Umount))];
            Fsmount = 3, "fsmount", "fsmount", sys_enter_fsmount, (3, NONE, NONE, NONE, None),
                [("fd", Int(0)), ("flags", Uint(1)), ("attr_flags", Uint(2))];
            MoveMount = 4, "move_mount", "move_mount", sys_enter_move_mount, (5, 1, 3, NONE, None),
                [("fromfd", Int(0)), ("frompath", Str0), ("tofd", Int(2)), ("topath", Str1), ("flags", Uint(4))];
            Setns = 5, "setns", "setns", sys_enter_setns, (2, NONE, NONE, NONE, None),
                [("fd", Int(0)), ("nstype", Flags(1, Clone))];
            Unshare = 6, "unshare", "unshare", sys_enter_unshare, (1, NONE, NONE, NONE, None),
                [("flags", Flags(0, Clone))];
            PivotRoot = 7, "pivot_root", "pivot_root", sys_enter_pivot_root, (2, 0, 1, NONE, None),
                [("new_root", Str0), ("put_old", Str1)];
            Chroot = 8, "chroot", "chroot", sys_enter_chroot, (1, 0, NONE, NONE, None),
                [("path", Str0)];
            Ptrace = 9, "ptrace", "ptrace", sys_enter_ptrace, (4, NONE, NONE, NONE, None),
                [("request", Name(0, Ptrace)), ("pid", Int(1))];
            InitModule = 10, "init_module", "init_module", sys_enter_init_module, (3, NONE, NONE, 2, None),
                [("len", Uint(1)), ("uargs", Short)];
            FinitModule = 11, "finit_module", "finit_module", sys_enter_finit_module, (3, NONE, NONE, NONE, None),
                [("fd", Int(0)), ("flags", Uint(2))];
            DeleteModule = 12, "delete_module", "delete_module", sys_enter_delete_module, (2, NONE, NONE, 0, None),
                [("name", Short), ("flags", Flags(1, Open))];
            Bpf = 13, "bpf", "bpf", sys_enter_bpf, (3, NONE, NONE, NONE, None),
                [("cmd", Name(0, BpfCmd))];
            KexecLoad = 14, "kexec_load", "kexec_load", sys_enter_kexec_load, (4, NONE, NONE, NONE, None),
                [("flags", Uint(3))];
            KexecFileLoad = 15, "kexec_file_load", "kexec_file_load", sys_enter_kexec_file_load, (5, 3, NONE, NONE, None),
                [("kernel_fd", Int(0)), ("initrd_fd", Int(1)), ("cmdline", Str0), ("flags", Uint(4))];
            ProcessVmReadv = 16, "process_vm_readv", "process_vm_readv", sys_enter_process_vm_readv, (6, NONE, NONE, NONE, None),
                [("pid", Int(0))];
            ProcessVmWritev = 17, "process_vm_writev", "process_vm_writev", sys_enter_process_vm_writev, (6, NONE, NONE, NONE, None),
                [("pid", Int(0))];
            MemfdCreate = 18, "memfd_create", "memfd_create", sys_enter_memfd_create, (2, 0, NONE, NONE, None),
                [("name", Str0), ("flags", Flags(1, Memfd))];
            Execveat = 19, "execveat", "execveat", sys_enter_execveat, (5, 1, NONE, NONE, None),
                [("dirfd", Int(0)), ("pathname", Str0), ("flags", Flags(4, At))];
            OpenByHandleAt = 20, "open_by_handle_at", "open_by_handle_at", sys_enter_open_by_handle_at, (3, NONE, NONE, NONE, None),
                [("mountfd", Int(0)), ("flags", OpenFlags(2))];
            Capset = 21, "capset", "capset", sys_enter_capset, (2, NONE, NONE, NONE, Capset),
                [("cap_effective", CapSet(2)), ("cap_permitted", CapSet(3)), ("cap_inheritable", CapSet(4)), ("cap_raised", CapRaised)];
            Setuid = 22, "setuid", "setuid", sys_enter_setuid, (1, NONE, NONE, NONE, None),
                [("uid", Id(0))];
            Setgid = 23, "setgid", "setgid", sys_enter_setgid, (1, NONE, NONE, NONE, None),
                [("gid", Id(0))];
            Setreuid = 24, "setreuid", "setreuid", sys_enter_setreuid, (2, NONE, NONE, NONE, None),
                [("ruid", Id(0)), ("euid", Id(1))];
            Setregid = 25, "setregid", "setregid", sys_enter_setregid, (2, NONE, NONE, NONE, None),
                [("rgid", Id(0)), ("egid", Id(1))];
            Setresuid = 26, "setresuid", "setresuid", sys_enter_setresuid, (3, NONE, NONE, NONE, None),
                [("ruid", Id(0)), ("euid", Id(1)), ("suid", Id(2))];
            Setresgid = 27, "setresgid", "setresgid", sys_enter_setresgid, (3, NONE, NONE, NONE, None),
                [("rgid", Id(0)), ("egid", Id(1)), ("sgid", Id(2))];
            Setfsuid = 28, "setfsuid", "setfsuid", sys_enter_setfsuid, (1, NONE, NONE, NONE, None),
                [("uid", Id(0))];
            Setfsgid = 29, "setfsgid", "setfsgid", sys_enter_setfsgid, (1, NONE, NONE, NONE, None),
                [("gid", Id(0))];
            Keyctl = 30, "keyctl", "keyctl", sys_enter_keyctl, (5, NONE, NONE, NONE, None),
                [("option", Int(0))];
            AddKey = 31, "add_key", "add_key", sys_enter_add_key, (5, 1, NONE, 0, None),
                [("type", Short), ("description", Str0), ("keyring", Int(4))];
            RequestKey = 32, "request_key", "request_key", sys_enter_request_key, (4, 1, NONE, 0, None),
                [("type", Short), ("description", Str0)];
            Userfaultfd = 33, "userfaultfd", "userfaultfd", sys_enter_userfaultfd, (1, NONE, NONE, NONE, None),
                [("flags", Flags(0, Open))];
            PerfEventOpen = 34, "perf_event_open", "perf_event_open", sys_enter_perf_event_open, (5, NONE, NONE, NONE, None),
                [("pid", Int(1)), ("cpu", Int(2)), ("group_fd", Int(3)), ("flags", Uint(4))];
            IoUringSetup = 35, "io_uring_setup", "io_uring_setup", sys_enter_io_uring_setup, (2, NONE, NONE, NONE, None),
                [("entries", Uint(0))];
            Kill = 36, "kill", "kill", sys_enter_kill, (2, NONE, NONE, NONE, None),
                [("pid", Int(0)), ("sig", Signal(1))];
            Tkill = 37, "tkill", "tkill", sys_enter_tkill, (2, NONE, NONE, NONE, None),
                [("tid", Int(0)), ("sig", Signal(1))];
            Tgkill = 38, "tgkill", "tgkill", sys_enter_tgkill, (3, NONE, NONE, NONE, None),
                [("pid", Int(0)), ("tid", Int(1)), ("sig", Signal(2))];
            Connect = 39, "connect", "connect", sys_enter_connect, (3, NONE, NONE, NONE, Connect),
                [("fd", Int(0)), ("addr", Sockaddr), ("tuple", TupleClient)];
            Chmod = 40, "chmod", "chmod", sys_enter_chmod, (2, 0, NONE, NONE, None),
                [("filename", Str0), ("mode", Mode(1))];
            Fchmod = 41, "fchmod", "fchmod", sys_enter_fchmod, (2, NONE, NONE, NONE, None),
                [("fd", Int(0)), ("mode", Mode(1))];
            Fchmodat = 42, "fchmodat", "fchmodat", sys_enter_fchmodat, (3, 1, NONE, NONE, None),
                [("dirfd", Int(0)), ("filename", Str0), ("mode", Mode(2))];
            Fchmodat2 = 43, "fchmodat2", "fchmodat2", sys_enter_fchmodat2, (4, 1, NONE, NONE, None),
                [("dirfd", Int(0)), ("filename", Str0), ("mode", Mode(2)), ("flags", Flags(3, At))];
            Open = 44, "open", "open", sys_enter_open, (3, 0, NONE, NONE, Open(1)),
                [("name", Path), ("flags", OpenFlags(1)), ("mode", Mode(2))];
            Openat = 45, "openat", "openat", sys_enter_openat, (4, 1, NONE, NONE, Open(2)),
                [("dirfd", Int(0)), ("name", Path), ("flags", OpenFlags(2)), ("mode", Mode(3))];
            Openat2 = 46, "openat2", "openat2", sys_enter_openat2, (4, 1, NONE, NONE, Openat2),
                [("dirfd", Int(0)), ("name", Path), ("flags", OpenFlags(3)), ("mode", Mode(4)), ("resolve", Uint(5))];
            Clone = 47, "clone", "clone", sys_enter_clone, (5, NONE, NONE, NONE, Clone),
                [("flags", Flags(0, Clone))];
            Clone3 = 48, "clone3", "clone3", sys_enter_clone3, (2, NONE, NONE, NONE, Clone3),
                [("flags", Flags(3, Clone))];
            Fsopen = 49, "fsopen", "fsopen", sys_enter_fsopen, (2, NONE, NONE, 0, None),
                [("fsname", Short), ("flags", Uint(1))];
            OpenTree = 50, "open_tree", "open_tree", sys_enter_open_tree, (3, 1, NONE, NONE, None),
                [("dirfd", Int(0)), ("path", Str0), ("flags", Flags(2, OpenTree))];
            Creat = 51, "creat", "creat", sys_enter_creat, (2, 0, NONE, NONE, Creat),
                [("name", Path), ("flags", CreatFlags), ("mode", Mode(1))];
            Unlink = 52, "unlink", "unlink", sys_enter_unlink, (1, 0, NONE, NONE, Creat),
                [("name", Path)];
            Unlinkat = 53, "unlinkat", "unlinkat", sys_enter_unlinkat, (3, 1, NONE, NONE, Creat),
                [("dirfd", Int(0)), ("name", Path), ("flags", Flags(2, At))];
            // Signals by the other syscalls that send them (tamper), and
            // failed program starts (ids from 80: a block of its own).
            RtSigqueueinfo = 80, "rt_sigqueueinfo", "rt_sigqueueinfo", sys_enter_rt_sigqueueinfo, (3, NONE, NONE, NONE, None),
                [("pid", Int(0)), ("sig", Signal(1))];
            RtTgsigqueueinfo = 81, "rt_tgsigqueueinfo", "rt_tgsigqueueinfo", sys_enter_rt_tgsigqueueinfo, (4, NONE, NONE, NONE, None),
                [("pid", Int(0)), ("tid", Int(1)), ("sig", Signal(2))];
            PidfdSendSignal = 82, "pidfd_send_signal", "pidfd_send_signal", sys_enter_pidfd_send_signal, (4, NONE, NONE, NONE, None),
                [("pidfd", Int(0)), ("sig", Signal(1)), ("flags", Uint(3))];
            Execve = 83, "execve", "execve", sys_enter_execve, (1, 0, NONE, NONE, None),
                [("filename", Str0)];
            // Links and dup (Falco's create_symlink, create_hardlink and dup
            // macros); ids from 100 so parallel additions do not collide.
            Symlink = 100, "symlink", "symlink", sys_enter_symlink, (2, 0, 1, NONE, None),
                [("target", Str0), ("linkpath", Str1)];
            Symlinkat = 101, "symlinkat", "symlinkat", sys_enter_symlinkat, (3, 0, 2, NONE, None),
                [("target", Str0), ("linkdirfd", Int(1)), ("linkpath", Str1)];
            Link = 102, "link", "link", sys_enter_link, (2, 0, 1, NONE, None),
                [("oldpath", Str0), ("newpath", Str1)];
            Linkat = 103, "linkat", "linkat", sys_enter_linkat, (5, 1, 3, NONE, None),
                [("olddir", Int(0)), ("oldpath", Str0), ("newdir", Int(2)), ("newpath", Str1), ("flags", Flags(4, At))];
            Dup = 104, "dup", "dup", sys_enter_dup, (1, NONE, NONE, NONE, Dup),
                [("oldfd", Int(0)), ("addr", Sockaddr), ("tuple", TupleClient)];
            Dup2 = 105, "dup2", "dup2", sys_enter_dup2, (2, NONE, NONE, NONE, Dup),
                [("oldfd", Int(0)), ("newfd", Int(1)), ("addr", Sockaddr), ("tuple", TupleClient)];
            Dup3 = 106, "dup3", "dup3", sys_enter_dup3, (3, NONE, NONE, NONE, Dup),
                [("oldfd", Int(0)), ("newfd", Int(1)), ("flags", Flags(2, Open)), ("addr", Sockaddr), ("tuple", TupleClient)];
            // Network (issue 16): ids from 120 up.
            Socket = 120, "socket", "socket", sys_enter_socket, (3, NONE, NONE, NONE, Socket),
                [("domain", Name(0, SockFamily)), ("type", Name(1, SockType)), ("proto", Int(2))];
            Bind = 121, "bind", "bind", sys_enter_bind, (3, NONE, NONE, NONE, Bind),
                [("fd", Int(0)), ("addr", Sockaddr), ("tuple", TupleServer)];
            Listen = 122, "listen", "listen", sys_enter_listen, (2, NONE, NONE, NONE, Listen),
                [("fd", Int(0)), ("backlog", Int(1)), ("tuple", TupleServer)];
            Accept = 123, "accept", "accept", sys_enter_accept, (3, NONE, NONE, NONE, Accept),
                [("fd", Int(0)), ("tuple", TupleServer)];
            Accept4 = 124, "accept4", "accept4", sys_enter_accept4, (4, NONE, NONE, NONE, Accept),
                [("fd", Int(0)), ("tuple", TupleServer), ("flags", Uint(3))];
            Sendto = 125, "sendto", "sendto", sys_enter_sendto, (6, NONE, NONE, NONE, Sendto),
                [("fd", Int(0)), ("size", Uint(2)), ("addr", Sockaddr), ("tuple", TupleClient)];
            Sendmsg = 126, "sendmsg", "sendmsg", sys_enter_sendmsg, (3, NONE, NONE, NONE, Sendmsg),
                [("fd", Int(0)), ("addr", Sockaddr), ("tuple", TupleClient)];
            Sendmmsg = 127, "sendmmsg", "sendmmsg", sys_enter_sendmmsg, (4, NONE, NONE, NONE, Sendmsg),
                [("fd", Int(0)), ("vlen", Uint(2)), ("addr", Sockaddr), ("tuple", TupleClient)];
            // Memory made executable (issue 12, BPF-LSM): ids from 160 up.
            Mmap = 160, "mmap", "mmap", sys_enter_mmap, (4, NONE, NONE, NONE, ExecMem),
                [("addr", Uint(0)), ("length", Uint(1)), ("prot", Flags(2, Prot)), ("flags", Flags(3, Mmap))];
            Mprotect = 161, "mprotect", "mprotect", sys_enter_mprotect, (3, NONE, NONE, NONE, ExecMem),
                [("addr", Uint(0)), ("length", Uint(1)), ("prot", Flags(2, Prot))];
        }
    };
}

macro_rules! define_syscalls {
    ($($name:ident = $id:literal, $str:literal, $tp:literal, $prog:ident,
        ($nargs:literal, $s0:tt, $s1:tt, $short:tt, $extra:ident $(($ex:literal))?),
        [$(($aname:literal, $akind:ident $(($($aarg:tt),*))?)),* $(,)?];)*) => {
        /// Our own stable syscall ids. The enter program of each hooked
        /// syscall stamps its id into the record.
        #[repr(u16)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum SyscallId { $($name = $id,)* }

        impl SyscallId {
            pub const ALL: &'static [SyscallId] = &[$(SyscallId::$name,)*];

            pub const fn from_u16(v: u16) -> Option<SyscallId> {
                match v { $($id => Some(SyscallId::$name),)* _ => None }
            }

            /// The syscall's name, as Falco's `evt.type` spells it.
            pub const fn name(self) -> &'static str {
                match self { $(SyscallId::$name => $str,)* }
            }

            /// The name of its tracepoints (`sys_enter_<this>`): the kernel
            /// names them after its `SYSCALL_DEFINE`, which differs from the
            /// syscall's name in a few cases (umount2 → umount).
            pub const fn tracepoint(self) -> &'static str {
                match self { $(SyscallId::$name => $tp,)* }
            }

            /// The eBPF enter program's name.
            pub const fn program(self) -> &'static str {
                match self { $(SyscallId::$name => stringify!($prog),)* }
            }

            /// What the enter program reads.
            #[inline(always)]
            pub const fn read(self) -> ReadSpec {
                match self {
                    $(SyscallId::$name => ReadSpec {
                        nargs: $nargs,
                        str0: $s0,
                        str1: $s1,
                        short: $short,
                        extra: Extra::$extra $(($ex))?,
                    },)*
                }
            }

            /// The arguments the agent reports, in order.
            pub const fn args(self) -> &'static [ArgSpec] {
                use ArgKind::*;
                use FlagSet::*;
                use NameSet::*;
                match self {
                    $(SyscallId::$name => &[$(ArgSpec {
                        name: $aname,
                        kind: $akind $(($($aarg),*))?,
                    }),*],)*
                }
            }
        }
    };
}

syscall_table!(define_syscalls);

impl SyscallId {
    /// Syscalls reported only when they fail, and then not for these
    /// errors. A successful execve is the exec record (`sched_process_exec`);
    /// a failed one is an attempt, except the ENOENT/ENOTDIR of every
    /// `$PATH` search, which would drown it.
    #[inline(always)]
    pub const fn failures_only(self) -> Option<[i64; 2]> {
        match self {
            SyscallId::Execve => Some([-2, -20]),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_programs_are_unique_and_consistent() {
        for (i, a) in SyscallId::ALL.iter().enumerate() {
            assert_eq!(SyscallId::from_u16(*a as u16), Some(*a));
            assert_eq!(a.program().strip_prefix("sys_enter_"), Some(a.name()));
            for b in &SyscallId::ALL[i + 1..] {
                assert_ne!(a.name(), b.name());
                assert_ne!(*a as u16, *b as u16);
            }
            let r = a.read();
            for slot in [r.str0, r.str1, r.short] {
                assert!(slot == NONE || slot < r.nargs, "{}", a.name());
            }
        }
    }
}
