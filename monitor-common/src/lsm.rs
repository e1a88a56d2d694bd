//! The BPF-LSM hooks, described once for both sides.
//!
//! In LSM mode each hook below reports what the listed syscalls' tracepoints
//! report in tracepoint mode: the same [`crate::SyscallRecord`] with the
//! same [`SyscallId`] (so rules do not care which sensor saw it), flagged
//! with [`crate::syscall_flags::LSM`]. Those syscalls' tracepoints are then
//! not attached. The hook sees the object the kernel acts on, so paths are
//! resolved (`bpf_d_path`: absolute, after symlinks and relative paths) and
//! operations submitted through io_uring are seen too
//! ([`crate::syscall_flags::IO_URING`]).

use crate::SyscallId;

/// One LSM hook vigil attaches in LSM mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LsmHook {
    /// The kernel's hook name (`lsm/<hook>`, `security_<hook>`).
    pub hook: &'static str,
    /// The eBPF program's name.
    pub program: &'static str,
    /// The syscalls this hook reports for; their tracepoints stay detached
    /// in LSM mode.
    pub reports: &'static [SyscallId],
}

/// Every LSM hook of the sensor.
pub const HOOKS: &[LsmHook] = &[
    LsmHook {
        hook: "file_open",
        program: "lsm_file_open",
        reports: &[
            SyscallId::Open,
            SyscallId::Openat,
            SyscallId::Openat2,
            SyscallId::Creat,
        ],
    },
    LsmHook {
        hook: "sb_mount",
        program: "lsm_sb_mount",
        reports: &[SyscallId::Mount],
    },
    LsmHook {
        hook: "kernel_read_file",
        program: "lsm_kernel_read_file",
        reports: &[SyscallId::FinitModule, SyscallId::KexecFileLoad],
    },
    LsmHook {
        hook: "kernel_load_data",
        program: "lsm_kernel_load_data",
        reports: &[SyscallId::InitModule, SyscallId::KexecLoad],
    },
    // Self-protection (`crate::enforce`): reports nothing (the kill
    // syscalls' tracepoints do), refuses signals from containers to the
    // agent when enforcement asks.
    LsmHook {
        hook: "task_kill",
        program: "lsm_task_kill",
        reports: &[],
    },
    // Exec: successful execs are reported by `sched_process_exec` in both
    // modes; this hook refuses exec of a memfd from a container when
    // enforcement asks (and reports the refused exec itself).
    LsmHook {
        hook: "bprm_creds_for_exec",
        program: "lsm_bprm_creds_for_exec",
        reports: &[],
    },
    // Self-protection: refuses ptrace of the agent from containers when
    // enforcement asks; the ptrace syscall's tracepoints report it.
    LsmHook {
        hook: "ptrace_access_check",
        program: "lsm_ptrace_access_check",
        reports: &[],
    },
    // Issue 12's second set: bpf(), credentials, the root, executable
    // memory (monitor-ebpf/src/lsm/{bpf,cred,root,mem}.rs). These hooks
    // run once the kernel's own checks passed: calls it refused (EPERM,
    // EINVAL) are not reported in LSM mode.
    LsmHook {
        hook: "bpf",
        program: "lsm_bpf",
        reports: &[SyscallId::Bpf],
    },
    LsmHook {
        hook: "task_fix_setuid",
        program: "lsm_task_fix_setuid",
        reports: &[
            SyscallId::Setuid,
            SyscallId::Setreuid,
            SyscallId::Setresuid,
            SyscallId::Setfsuid,
        ],
    },
    LsmHook {
        hook: "task_fix_setgid",
        program: "lsm_task_fix_setgid",
        reports: &[
            SyscallId::Setgid,
            SyscallId::Setregid,
            SyscallId::Setresgid,
            SyscallId::Setfsgid,
        ],
    },
    LsmHook {
        hook: "capset",
        program: "lsm_capset",
        reports: &[SyscallId::Capset],
    },
    LsmHook {
        hook: "sb_pivotroot",
        program: "lsm_sb_pivotroot",
        reports: &[SyscallId::PivotRoot],
    },
    // Needs CONFIG_SECURITY_PATH (Debian, Ubuntu, RHEL, COS: AppArmor and
    // TOMOYO select it).
    LsmHook {
        hook: "path_chroot",
        program: "lsm_path_chroot",
        reports: &[SyscallId::Chroot],
    },
    LsmHook {
        hook: "mmap_file",
        program: "lsm_mmap_file",
        reports: &[SyscallId::Mmap],
    },
    LsmHook {
        hook: "file_mprotect",
        program: "lsm_file_mprotect",
        reports: &[SyscallId::Mprotect],
    },
    // Network (monitor-ebpf/src/lsm/socket.rs): io_uring's connects too,
    // so io_uring's tracepoints are not needed in LSM mode.
    LsmHook {
        hook: "socket_connect",
        program: "lsm_socket_connect",
        reports: &[SyscallId::Connect],
    },
    LsmHook {
        hook: "socket_bind",
        program: "lsm_socket_bind",
        reports: &[SyscallId::Bind],
    },
];

/// `LSM_SETID_*`: which set*id call `task_fix_setuid`/`task_fix_setgid`
/// stand for.
pub mod setid {
    pub const ID: u32 = 1;
    pub const RE: u32 = 2;
    pub const RES: u32 = 4;
    pub const FS: u32 = 8;
}

/// x86_64 syscall numbers the LSM programs compare with `pt_regs.orig_ax`
/// (which syscall, if any, a hook runs inside).
pub mod nr {
    pub const MMAP: u64 = 9;
    pub const MPROTECT: u64 = 10;
    pub const CONNECT: u64 = 42;
    pub const BIND: u64 = 49;
    pub const PIVOT_ROOT: u64 = 155;
    pub const CHROOT: u64 = 161;
    pub const PKEY_MPROTECT: u64 = 329;
    pub const IO_URING_ENTER: u64 = 426;
}

/// Memory protection and mapping bits (x86_64 and the generic ABI).
pub mod prot {
    pub const WRITE: u64 = 0x2;
    pub const EXEC: u64 = 0x4;
    pub const MAP_ANONYMOUS: u64 = 0x20;
}

/// The LSM hook that reports `id` in LSM mode, if any.
pub fn hook_for(id: SyscallId) -> Option<&'static LsmHook> {
    HOOKS.iter().find(|h| h.reports.contains(&id))
}

/// `enum kernel_read_file_id` / `enum kernel_load_data_id` values (the two
/// enums share their order): what the kernel is reading or loading.
pub mod load_id {
    pub const MODULE: u32 = 2;
    pub const KEXEC_IMAGE: u32 = 3;
}

/// What [`HOOKS`] do not see, so what tracepoint mode misses or gets
/// weaker; `vigil probe`, the start log, `/readyz` and a metric name these
/// when BPF-LSM programs are refused. (io_uring's opens are reported by its
/// own tracepoints in tracepoint mode, [`crate::io_uring`]; where those
/// cannot attach, the sensor adds [`crate::io_uring::GAP`].)
pub const TRACEPOINT_MODE_GAPS: &[&str] = &[
    "final paths (a relative open is resolved against the working directory or dirfd, but not through symbolic links, whose creation the default rules watch instead; a path with `.` or `..` components is normalised by the agent, as are io_uring's relative opens; mounts are reported with the path as given)",
    "module and kexec loads are reported at the syscall, not at the kernel's read of the file",
    "refusing operations (a deny verdict needs the LSM hooks)",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_syscall_has_at_most_one_hook() {
        for id in SyscallId::ALL {
            let n = HOOKS.iter().filter(|h| h.reports.contains(id)).count();
            assert!(n <= 1, "{} reported by {n} LSM hooks", id.name());
        }
        for h in HOOKS {
            assert!(h.program.starts_with("lsm_"), "{}", h.program);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn syscall_numbers_are_the_kernels() {
        let n = |x: libc::c_long| x as u64;
        assert_eq!(nr::MMAP, n(libc::SYS_mmap));
        assert_eq!(nr::MPROTECT, n(libc::SYS_mprotect));
        assert_eq!(nr::CONNECT, n(libc::SYS_connect));
        assert_eq!(nr::BIND, n(libc::SYS_bind));
        assert_eq!(nr::PIVOT_ROOT, n(libc::SYS_pivot_root));
        assert_eq!(nr::CHROOT, n(libc::SYS_chroot));
        assert_eq!(nr::PKEY_MPROTECT, n(libc::SYS_pkey_mprotect));
        assert_eq!(nr::IO_URING_ENTER, n(libc::SYS_io_uring_enter));
    }
}
