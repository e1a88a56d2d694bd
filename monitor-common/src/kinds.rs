//! Stable event ids.
//!
//! Ids are grouped by source (1xx process lifecycle, 2xx syscalls, 3xx other
//! kernel sources). Never renumber: retired ids stay holes so that recorded
//! logs keep their meaning.

/// What a ring-buffer record is. Stored in [`crate::Header::kind`].
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Exec = 100,
    Fork = 101,
    Exit = 102,
    /// Any hooked syscall; [`crate::SyscallRecord::syscall`] says which.
    Syscall = 200,
    ModuleLoad = 300,
    CgroupMkdir = 301,
    CgroupRmdir = 302,
    OomKill = 303,
}

/// Number of drop-counter slots ([`EventKind::slot`]).
pub const NUM_KIND_SLOTS: u32 = 8;

impl EventKind {
    pub const ALL: [EventKind; NUM_KIND_SLOTS as usize] = [
        EventKind::Exec,
        EventKind::Fork,
        EventKind::Exit,
        EventKind::Syscall,
        EventKind::ModuleLoad,
        EventKind::CgroupMkdir,
        EventKind::CgroupRmdir,
        EventKind::OomKill,
    ];

    pub const fn from_u16(v: u16) -> Option<EventKind> {
        Some(match v {
            100 => EventKind::Exec,
            101 => EventKind::Fork,
            102 => EventKind::Exit,
            200 => EventKind::Syscall,
            300 => EventKind::ModuleLoad,
            301 => EventKind::CgroupMkdir,
            302 => EventKind::CgroupRmdir,
            303 => EventKind::OomKill,
            _ => return None,
        })
    }

    /// Dense index into the `DROPS` per-CPU array.
    pub const fn slot(self) -> u32 {
        match self {
            EventKind::Exec => 0,
            EventKind::Fork => 1,
            EventKind::Exit => 2,
            EventKind::Syscall => 3,
            EventKind::ModuleLoad => 4,
            EventKind::CgroupMkdir => 5,
            EventKind::CgroupRmdir => 6,
            EventKind::OomKill => 7,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            EventKind::Exec => "execve",
            EventKind::Fork => "clone",
            EventKind::Exit => "procexit",
            EventKind::Syscall => "syscall",
            EventKind::ModuleLoad => "module_load",
            EventKind::CgroupMkdir => "cgroup_mkdir",
            EventKind::CgroupRmdir => "cgroup_rmdir",
            EventKind::OomKill => "oom_kill",
        }
    }
}

macro_rules! syscall_ids {
    ($($name:ident = $id:literal => $str:literal,)*) => {
        /// Our own stable syscall ids (not the arch's syscall numbers, which
        /// differ between architectures). The enter program of each hooked
        /// syscall stamps its id into the record.
        #[repr(u16)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum SyscallId { $($name = $id,)* }

        impl SyscallId {
            pub const ALL: &'static [SyscallId] = &[$(SyscallId::$name,)*];

            pub const fn from_u16(v: u16) -> Option<SyscallId> {
                match v { $($id => Some(SyscallId::$name),)* _ => None }
            }

            /// The syscall's name, as Falco's `evt.type` spells it and as
            /// the `syscalls/sys_enter_<name>` tracepoint is named.
            pub const fn name(self) -> &'static str {
                match self { $(SyscallId::$name => $str,)* }
            }
        }
    };
}

syscall_ids! {
    Mount = 1 => "mount",
    Umount2 = 2 => "umount2",
    Fsmount = 3 => "fsmount",
    MoveMount = 4 => "move_mount",
    Setns = 5 => "setns",
    Unshare = 6 => "unshare",
    PivotRoot = 7 => "pivot_root",
    Chroot = 8 => "chroot",
    Ptrace = 9 => "ptrace",
    InitModule = 10 => "init_module",
    FinitModule = 11 => "finit_module",
    DeleteModule = 12 => "delete_module",
    Bpf = 13 => "bpf",
    KexecLoad = 14 => "kexec_load",
    KexecFileLoad = 15 => "kexec_file_load",
    ProcessVmReadv = 16 => "process_vm_readv",
    ProcessVmWritev = 17 => "process_vm_writev",
    MemfdCreate = 18 => "memfd_create",
    Execveat = 19 => "execveat",
    OpenByHandleAt = 20 => "open_by_handle_at",
    Capset = 21 => "capset",
    Setuid = 22 => "setuid",
    Setgid = 23 => "setgid",
    Setreuid = 24 => "setreuid",
    Setregid = 25 => "setregid",
    Setresuid = 26 => "setresuid",
    Setresgid = 27 => "setresgid",
    Setfsuid = 28 => "setfsuid",
    Setfsgid = 29 => "setfsgid",
    Keyctl = 30 => "keyctl",
    AddKey = 31 => "add_key",
    RequestKey = 32 => "request_key",
    Userfaultfd = 33 => "userfaultfd",
    PerfEventOpen = 34 => "perf_event_open",
    IoUringSetup = 35 => "io_uring_setup",
    Kill = 36 => "kill",
    Tkill = 37 => "tkill",
    Tgkill = 38 => "tgkill",
    Connect = 39 => "connect",
    Chmod = 40 => "chmod",
    Fchmod = 41 => "fchmod",
    Fchmodat = 42 => "fchmodat",
    Fchmodat2 = 43 => "fchmodat2",
    Open = 44 => "open",
    Openat = 45 => "openat",
    Openat2 = 46 => "openat2",
    Clone = 47 => "clone",
    Clone3 = 48 => "clone3",
    Fsopen = 49 => "fsopen",
    OpenTree = 50 => "open_tree",
    Creat = 51 => "creat",
    Unlink = 52 => "unlink",
    Unlinkat = 53 => "unlinkat",
}
