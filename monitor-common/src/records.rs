//! Ring-buffer records: one `#[repr(C)]` struct per [`crate::EventKind`].
//!
//! Every record starts with a [`Header`]. Strings travel in fixed-size
//! buffers with an explicit length and a truncation flag; the kernel never
//! relies on a NUL terminator reaching userspace. All structs are padded by
//! hand so that no byte is implicit padding (they are `aya::Pod`).

/// Length of `task_struct::comm`.
pub const COMM_LEN: usize = 16;
/// Bytes kept of a path (open, mount, exec filename, cgroup path).
pub const PATH_LEN: usize = 256;
/// Bytes kept of an exe path, which the kernel builds right to left.
pub const EXE_BUF_LEN: usize = 512;
/// Bytes kept of a process's argv (NUL-separated).
pub const ARGS_LEN: usize = 2048;
/// Bytes kept of a process's environment (`environ`, NUL-separated):
/// Falco's bound.
pub const ENV_LEN: usize = 4096;
/// Bytes kept of a short string argument (mount fstype, module name).
pub const SHORT_LEN: usize = 64;

shared_struct! {
    /// Namespace inode numbers of the task that caused the event.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Namespaces {
        pub mnt: u32,
        pub pid: u32,
        pub net: u32,
        pub user: u32,
        pub uts: u32,
        pub ipc: u32,
        pub cgroup: u32,
        pub _pad: u32,
    }
}

shared_struct! {
    /// Common prefix of every record.
    #[derive(Clone, Copy, Debug)]
    pub struct Header {
        /// [`crate::EventKind`] as u16.
        pub kind: u16,
        /// Record layout version; bump when a record's layout changes.
        pub version: u16,
        /// Size in bytes of the whole record (the kernel writes `size_of`).
        pub size: u32,
        /// `bpf_ktime_get_boot_ns()`: monotonic, includes suspend.
        pub boot_ns: u64,
        /// cgroup v2 id of the task (`bpf_get_current_cgroup_id()`).
        pub cgroup_id: u64,
        /// Thread-group id (what userspace calls the pid).
        pub tgid: u32,
        /// Thread id.
        pub tid: u32,
        /// tgid of `real_parent`.
        pub ppid: u32,
        /// Real uid/gid.
        pub uid: u32,
        pub gid: u32,
        /// Effective uid/gid.
        pub euid: u32,
        pub egid: u32,
        pub _pad: u32,
        pub comm: [u8; COMM_LEN],
        pub ns: Namespaces,
    }
}

/// Current layout version written into [`Header::version`].
///
/// Version 2 appended [`ExecRecord::vpid`], version 3 the session fields
/// (`tty`, `loginuid`, `sid`, `vpgid`), version 4 the exec context (the
/// executable's owner, standard fds, working directory, environment);
/// every other record is laid out as in version 1, and older exec records
/// still decode (the new fields 0, flagged unknown by
/// [`exec_flags::SESSION_KNOWN`] and [`exec_flags::CONTEXT_KNOWN`] being
/// clear).
pub const RECORD_VERSION: u16 = 4;
/// Oldest layout version the decoder still reads.
pub const MIN_RECORD_VERSION: u16 = 1;

/// Flags of [`ExecRecord::flags`].
pub mod exec_flags {
    /// The executable lives on an overlayfs upper layer (written after the
    /// container started, not part of the image).
    pub const EXE_UPPER_LAYER: u32 = 1 << 0;
    /// The executable is a memfd (fileless execution).
    pub const EXE_MEMFD: u32 = 1 << 1;
    pub const ARGS_TRUNCATED: u32 = 1 << 2;
    pub const FILENAME_TRUNCATED: u32 = 1 << 3;
    pub const EXE_TRUNCATED: u32 = 1 << 4;
    /// The exe path could not be resolved at all.
    pub const EXE_UNKNOWN: u32 = 1 << 5;
    /// The executable is on an overlay filesystem (upper or lower).
    pub const EXE_OVERLAY: u32 = 1 << 6;
    /// The session fields (`tty`, `sid`, `vpgid`) were read; clear on
    /// records before version 3 or when the kernel lacks the members.
    pub const SESSION_KNOWN: u32 = 1 << 7;
    /// `loginuid` was read (the kernel has `task_struct.loginuid`, i.e.
    /// CONFIG_AUDIT).
    pub const LOGINUID_KNOWN: u32 = 1 << 8;
    // Enforcement (`crate::enforce`).
    /// The exec LSM hook refused the exec (`-EPERM`): the record is sent
    /// by the hook, the task still runs its old image, `args` are empty.
    pub const DENIED: u32 = 1 << 9;
    /// Dry run: the exec LSM hook would have refused this exec.
    pub const WOULD_DENY: u32 = 1 << 10;
    /// The exec context was read (`exe_mode` .. `env`): clear on records
    /// before version 4, on a refused exec, and when the kernel lacks the
    /// members. Without it the agent reads the context from `/proc`.
    pub const CONTEXT_KNOWN: u32 = 1 << 11;
    /// The environment was longer than [`super::ENV_LEN`]: `env` is its
    /// start, the last entry cut.
    pub const ENV_TRUNCATED: u32 = 1 << 12;
}

shared_struct! {
    /// A successful execve/execveat (`sched_process_exec`). The header describes
    /// the task after the exec.
    #[derive(Clone, Copy)]
    pub struct ExecRecord {
        pub header: Header,
        pub cap_effective: u64,
        pub cap_permitted: u64,
        /// Inode number of the executable.
        pub exe_ino: u64,
        /// [`exec_flags`].
        pub flags: u32,
        /// Bytes used in `args`.
        pub args_len: u32,
        pub filename_len: u16,
        /// The exe path is `exe[exe_start..exe_start + exe_len]`.
        pub exe_start: u16,
        pub exe_len: u16,
        /// Number of argv entries (may exceed what fits in `args`).
        pub argc: u16,
        /// `bprm->filename`: the path as passed to exec.
        pub filename: [u8; PATH_LEN],
        pub exe: [u8; EXE_BUF_LEN],
        /// argv, NUL-separated.
        pub args: [u8; ARGS_LEN],
        /// Since version 2: the task's pid in its own pid namespace
        /// (`thread_pid->numbers[level].nr`); 1 for a container's init.
        /// 0 when unknown (version-1 record, or the kernel lacks the members).
        pub vpid: u32,
        pub _pad2: u32,
        /// Since version 3: the controlling terminal as `/proc/PID/stat`'s
        /// `tty_nr` encodes it (Falco's `proc.tty`); 0 for none.
        pub tty: u32,
        /// Since version 3: the audit login uid (`u32::MAX`: never set).
        pub loginuid: u32,
        /// Since version 3: the session id and process group id as seen
        /// in the task's own pid namespace (0 when outside it).
        pub sid: u32,
        pub vpgid: u32,
        /// Since version 4, with [`exec_flags::CONTEXT_KNOWN`]: what the
        /// agent would otherwise read from `/proc` while the new program
        /// may already be gone. The executable's mode, owner and group
        /// (`proc.is_exe_writable`).
        pub exe_mode: u32,
        pub exe_uid: u32,
        pub exe_gid: u32,
        /// Bytes used in `env`.
        pub env_len: u32,
        /// The working directory is `cwd[cwd_start..cwd_start + cwd_len]`
        /// (built right to left like `exe`); `cwd_len` 0: not resolved.
        pub cwd_start: u16,
        pub cwd_len: u16,
        pub _pad3: u32,
        /// Standard input and output (`proc.stdin.*`, `proc.stdout.*`).
        pub stdin: StdFdRecord,
        pub stdout: StdFdRecord,
        pub cwd: [u8; EXE_BUF_LEN],
        /// `environ` as the program started with it, NUL-separated. It
        /// also gives the `cwd` walk the room past its buffer the
        /// verifier asks for.
        pub env: [u8; ENV_LEN],
    }
}

/// Size of a version-1 [`ExecRecord`] (before `vpid` was appended).
pub const EXEC_RECORD_V1_SIZE: usize = core::mem::offset_of!(ExecRecord, vpid);
/// Size of a version-2 [`ExecRecord`] (before the session fields).
pub const EXEC_RECORD_V2_SIZE: usize = core::mem::offset_of!(ExecRecord, tty);
/// Size of a version-3 [`ExecRecord`] (before the exec context).
pub const EXEC_RECORD_V3_SIZE: usize = core::mem::offset_of!(ExecRecord, exe_mode);

shared_struct! {
    /// One standard fd of an exec'd program, as the kernel found it.
    #[derive(Clone, Copy, Debug)]
    pub struct StdFdRecord {
        /// The inode's `i_mode` (type and permissions); 0: the fd is not
        /// open.
        pub mode: u32,
        /// `s_magic` of the file's filesystem: pipes and anonymous inodes
        /// have their own.
        pub fs_magic: u32,
        pub ino: u64,
        /// Bytes used in `name`: a file's path, a unix socket's bound
        /// path (`sun_path`, a leading NUL for an abstract one), an
        /// anonymous inode's name (`[eventfd]`); 0 when there is none or
        /// it did not fit.
        pub name_len: u16,
        pub _pad: [u16; 3],
        /// A socket's family, type and ends.
        pub tuple: SockTuple,
        pub name: [u8; PATH_LEN],
    }
}

impl StdFdRecord {
    /// An fd that is not open.
    pub const CLOSED: StdFdRecord = StdFdRecord {
        mode: 0,
        fs_magic: 0,
        ino: 0,
        name_len: 0,
        _pad: [0; 3],
        tuple: SockTuple {
            family: 0,
            sock_type: 0,
            protocol: 0,
            local_port: 0,
            remote_port: 0,
            _pad: [0; 3],
            local: [0; 16],
            remote: [0; 16],
        },
        name: [0; PATH_LEN],
    };
}

shared_struct! {
    /// A new process (`task_newtask`); threads are not reported. The header
    /// describes the parent.
    #[derive(Clone, Copy, Debug)]
    pub struct ForkRecord {
        pub header: Header,
        pub clone_flags: u64,
        pub child_tgid: u32,
        pub child_tid: u32,
    }
}

shared_struct! {
    /// A process exit (`sched_process_exit` of the thread-group leader).
    #[derive(Clone, Copy, Debug)]
    pub struct ExitRecord {
        pub header: Header,
        /// `task_struct::exit_code`: `(status << 8) | termsig`.
        pub exit_code: u32,
        pub _pad: u32,
    }
}

/// Flags of [`SyscallRecord::flags`].
pub mod syscall_flags {
    pub const STR0_TRUNCATED: u16 = 1 << 0;
    pub const STR1_TRUNCATED: u16 = 1 << 1;
    pub const SHORT_TRUNCATED: u16 = 1 << 2;
    /// `str0` holds a raw `struct sockaddr` (connect), not a string.
    pub const STR0_SOCKADDR: u16 = 1 << 3;
    /// capset: the user's cap data could not be read (args[2..5] are 0).
    pub const CAPS_UNREAD: u16 = 1 << 4;
    /// capset: the caller's current `cap_effective` is unknown (args[5] is 0).
    pub const CAPS_CURRENT_UNKNOWN: u16 = 1 << 5;
    // BPF-LSM (`crate::lsm`)
    /// Reported by an LSM hook, at the kernel's security check: `ret` is
    /// the hook's verdict (0 allowed), not the syscall's result.
    pub const LSM: u16 = 1 << 6;
    /// The operation was submitted through io_uring (an io_uring worker
    /// thread, or the submitter inside `io_uring_enter`).
    pub const IO_URING: u16 = 1 << 7;
    /// The kernel refused the call before it ran and before its enter
    /// tracepoint (a seccomp filter): `ret` is the error, `args` are the
    /// registers at exit, strings are not read ([`crate::attempts`]).
    pub const REFUSED: u16 = 1 << 8;
    // Network syscalls (bits from 9 up).
    /// `str1` holds a [`crate::SockTuple`]: the socket's endpoints as the
    /// kernel saw them when the syscall returned.
    pub const STR1_TUPLE: u16 = 1 << 9;
    /// Opens: `str0` is relative, so the kernel resolved it against the
    /// working directory or the dirfd into `str1` (by walking the
    /// directory's dentries); `str1` empty: it could not (the walk was
    /// too deep or the result longer than `PATH_LEN`).
    pub const PATH_AT: u16 = 1 << 10;
    // Enforcement (`crate::enforce`), from the top bit down.
    /// The LSM hook refused the operation (`ret` is `-EPERM`).
    pub const DENIED: u16 = 1 << 15;
    /// Dry run: the LSM hook would have refused the operation.
    pub const WOULD_DENY: u16 = 1 << 14;
    /// The process was sent SIGKILL after the call (the open ran).
    pub const KILLED: u16 = 1 << 13;
    /// Dry run: the process would have been killed.
    pub const WOULD_KILL: u16 = 1 << 12;
}

shared_struct! {
    /// One hooked syscall: raw arguments at entry, string/struct arguments read
    /// at entry, and the return value at exit.
    ///
    /// Which argument lands in which slot, per syscall (unused slots are empty):
    ///
    /// | syscall | str0 | str1 | short |
    /// |---|---|---|---|
    /// | mount | source | target | fstype |
    /// | umount2, chroot, chmod, fchmodat(2), execveat, memfd_create | path/name | | |
    /// | open, openat(2), creat | path as passed | a relative path resolved (`PATH_AT`) | |
    /// | pivot_root | new_root | put_old | |
    /// | move_mount | from path | to path | |
    /// | fsopen | | | fs name |
    /// | open_tree | path | | |
    /// | init_module | | | module params (prefix) |
    /// | delete_module | | | module name |
    /// | kexec_file_load | cmdline | | |
    /// | add_key, request_key | description | | key type |
    /// | connect, bind, sendto, sendmsg, sendmmsg | sockaddr (raw, `STR0_SOCKADDR`) | socket tuple (`STR1_TUPLE`) | |
    /// | listen, accept, accept4 | | socket tuple (`STR1_TUPLE`) | |
    /// | dup, dup2, dup3 | peer (sockaddr, `STR0_SOCKADDR`) | socket tuple (`STR1_TUPLE`) | |
    ///
    /// openat2 and clone3 read their struct argument into `args[3..]`:
    /// openat2's `open_how {flags, mode, resolve}` into args[3], args[4], args[5];
    /// clone3's `clone_args.flags` into args[3].
    ///
    /// capset reads its `__user_cap_data_struct[2]` into `args[2..5]`, each
    /// 64-bit set as `data[0] | data[1] << 32`: args[2] effective, args[3]
    /// permitted, args[4] inheritable; args[5] is the caller's `cap_effective`
    /// before the call (from its cred). A set that could not be read is
    /// flagged with [`syscall_flags::CAPS_UNREAD`].
    #[derive(Clone, Copy)]
    pub struct SyscallRecord {
        pub header: Header,
        /// [`crate::SyscallId`] as u16.
        pub syscall: u16,
        /// [`syscall_flags`].
        pub flags: u16,
        pub str0_len: u16,
        pub str1_len: u16,
        pub short_len: u16,
        pub _pad: [u16; 3],
        /// Return value; negative errno on failure.
        pub ret: i64,
        /// Raw syscall arguments.
        pub args: [u64; 6],
        pub str0: [u8; PATH_LEN],
        pub str1: [u8; PATH_LEN],
        pub short: [u8; SHORT_LEN],
    }
}

shared_struct! {
    /// A socket's endpoints, read from its `struct sock` at syscall exit and
    /// carried in [`SyscallRecord::str1`] (flag
    /// [`syscall_flags::STR1_TUPLE`]). Ports are in host order; an IPv4
    /// address fills the first 4 bytes of its array. `remote` is all zero
    /// for a socket that is not connected (bind, listen, unconnected UDP:
    /// the destination is then the sockaddr in `str0`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct SockTuple {
        /// `AF_INET`, `AF_INET6`, `AF_UNIX`, ...
        pub family: u16,
        /// `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_RAW`, ...
        pub sock_type: u16,
        /// `IPPROTO_TCP`, `IPPROTO_UDP`, ...
        pub protocol: u16,
        pub local_port: u16,
        pub remote_port: u16,
        pub _pad: [u16; 3],
        pub local: [u8; 16],
        pub remote: [u8; 16],
    }
}

shared_struct! {
    /// A kernel module finished loading (`module_load`).
    #[derive(Clone, Copy, Debug)]
    pub struct ModuleRecord {
        pub header: Header,
        pub name_len: u16,
        pub _pad: [u16; 3],
        pub name: [u8; SHORT_LEN],
    }
}

shared_struct! {
    /// A cgroup v2 directory was created or removed (`cgroup_mkdir`/`cgroup_rmdir`).
    /// This is how short-lived containers get attributed: the agent learns the
    /// id → path mapping when the cgroup is born, before any process runs in it.
    #[derive(Clone, Copy, Debug)]
    pub struct CgroupRecord {
        pub header: Header,
        /// The cgroup's id (its kernfs node id, as `bpf_get_current_cgroup_id`).
        pub id: u64,
        /// Hierarchy id; 0 is the cgroup v2 (default) hierarchy.
        pub hierarchy_id: u32,
        pub level: u32,
        pub path_len: u16,
        pub truncated: u16,
        pub _pad: u32,
        /// Path relative to the hierarchy root, e.g. `/libpod_parent/libpod-<id>`.
        pub path: [u8; PATH_LEN],
    }
}

shared_struct! {
    /// The OOM killer chose a victim (`oom/mark_victim`). The header describes
    /// the task that triggered the OOM.
    #[derive(Clone, Copy, Debug)]
    pub struct OomRecord {
        pub header: Header,
        pub victim_tgid: u32,
        pub _pad: u32,
    }
}

/// Bytes kept of a DNS message (the classic UDP maximum).
pub const DNS_PAYLOAD_LEN: usize = 512;

/// [`DnsRecord::direction`] values.
pub mod dns_direction {
    /// The process sent the message (a query).
    pub const SENT: u16 = 0;
    /// The process received the message (an answer).
    pub const RECEIVED: u16 = 1;
}

shared_struct! {
    /// A DNS message a process sent to or received from port 53, as the
    /// bytes of its payload (parsed by the agent). The header is the
    /// sending or receiving task.
    #[derive(Clone, Copy, Debug)]
    pub struct DnsRecord {
        pub header: Header,
        /// The socket's endpoints at the time (the remote end is empty for
        /// an unconnected UDP socket).
        pub tuple: SockTuple,
        /// [`dns_direction`].
        pub direction: u16,
        /// Bytes of `payload` that hold the message.
        pub len: u16,
        /// The message was longer than [`DNS_PAYLOAD_LEN`].
        pub truncated: u16,
        pub _pad: u16,
        pub payload: [u8; DNS_PAYLOAD_LEN],
    }
}

shared_struct! {
    /// One cgroup sent more records of one syscall than its rate allows
    /// ([`crate::flood`]): `count` records were held back in the `window_ns`
    /// before this record. The header describes the task whose record
    /// closed the window (a task of that cgroup).
    #[derive(Clone, Copy, Debug)]
    pub struct ThrottledRecord {
        pub header: Header,
        /// [`crate::SyscallId`] of the records held back.
        pub syscall: u16,
        pub _pad: [u16; 3],
        pub count: u64,
        pub window_ns: u64,
    }
}

shared_struct! {
    /// Per-cgroup resource counters, kept in the kernel map
    /// [`crate::names::CGROUP_COUNTERS`] (an LRU per-CPU hash keyed by cgroup v2
    /// id) and never sent as records. Userspace sums the per-CPU values.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct CgroupCounters {
        /// New processes (`task_newtask` without CLONE_THREAD).
        pub forks: u64,
        /// New threads (`task_newtask` with CLONE_THREAD).
        pub threads: u64,
        /// clone/clone3/fork/vfork that failed with EAGAIN or ENOMEM.
        pub fork_failures: u64,
        /// fd-creating syscalls that failed with EMFILE (per-process fd limit).
        pub emfile: u64,
        /// fd-creating syscalls that failed with ENFILE (system-wide file limit).
        pub enfile: u64,
        /// Records of the cgroup lost because the ring buffer was full (or
        /// its lifecycle reserve reached: docs/performance.md).
        pub dropped: u64,
        /// Syscall records of the cgroup held back over its rate
        /// ([`ThrottledRecord`]).
        pub throttled: u64,
        /// Network packets and their bytes (from the IP header on) received
        /// and sent by the cgroup's sockets (`cgroup_skb` ingress/egress,
        /// keyed by the socket's cgroup, not the CPU's current task).
        pub net_rx_packets: u64,
        pub net_rx_bytes: u64,
        pub net_tx_packets: u64,
        pub net_tx_bytes: u64,
    }
}

impl CgroupCounters {
    /// Field-wise sum (for per-CPU values).
    pub fn add(&mut self, o: &CgroupCounters) {
        self.forks = self.forks.wrapping_add(o.forks);
        self.threads = self.threads.wrapping_add(o.threads);
        self.fork_failures = self.fork_failures.wrapping_add(o.fork_failures);
        self.emfile = self.emfile.wrapping_add(o.emfile);
        self.enfile = self.enfile.wrapping_add(o.enfile);
        self.dropped = self.dropped.wrapping_add(o.dropped);
        self.throttled = self.throttled.wrapping_add(o.throttled);
        self.net_rx_packets = self.net_rx_packets.wrapping_add(o.net_rx_packets);
        self.net_rx_bytes = self.net_rx_bytes.wrapping_add(o.net_rx_bytes);
        self.net_tx_packets = self.net_tx_packets.wrapping_add(o.net_tx_packets);
        self.net_tx_bytes = self.net_tx_bytes.wrapping_add(o.net_tx_bytes);
    }

    /// Packets received and sent.
    pub fn net_packets(&self) -> u64 {
        self.net_rx_packets.wrapping_add(self.net_tx_packets)
    }

    /// Bytes received and sent.
    pub fn net_bytes(&self) -> u64 {
        self.net_rx_bytes.wrapping_add(self.net_tx_bytes)
    }
}

/// Entries of the per-cgroup counter map; the least recently updated cgroup
/// is evicted beyond this.
pub const CGROUP_COUNTERS_MAX: u32 = 4096;
