//! Attempts the kernel refuses before a syscall runs. A seccomp filter
//! (every container runtime installs one) answers `bpf`, `keyctl`,
//! `userfaultfd`, module and mount calls with an error before the
//! syscall's enter tracepoint fires, so the enter program never sees them;
//! the exit tracepoint still fires, with the error. For the syscalls listed
//! here the exit program reports such a call (an exit with an error and no
//! enter before it) as a syscall record flagged
//! [`crate::syscall_flags::REFUSED`], with the arguments read from the
//! task's saved registers.

use crate::SyscallId;

/// The security-relevant syscalls whose refused attempts are reported.
/// Each reads no struct at entry ([`crate::syscalls::Extra::None`]), so a
/// missing enter record means the enter tracepoint did not fire.
pub const ATTEMPTS: &[SyscallId] = &[
    SyscallId::Mount,
    SyscallId::Umount2,
    SyscallId::Fsopen,
    SyscallId::Fsmount,
    SyscallId::MoveMount,
    SyscallId::OpenTree,
    SyscallId::Setns,
    SyscallId::Unshare,
    SyscallId::PivotRoot,
    SyscallId::Chroot,
    SyscallId::Ptrace,
    SyscallId::InitModule,
    SyscallId::FinitModule,
    SyscallId::DeleteModule,
    SyscallId::Bpf,
    SyscallId::KexecLoad,
    SyscallId::KexecFileLoad,
    SyscallId::ProcessVmReadv,
    SyscallId::ProcessVmWritev,
    SyscallId::OpenByHandleAt,
    SyscallId::Keyctl,
    SyscallId::AddKey,
    SyscallId::RequestKey,
    SyscallId::Userfaultfd,
    SyscallId::PerfEventOpen,
    SyscallId::IoUringSetup,
];

/// Syscall numbers below this index the `ATTEMPT_IDS` map.
pub const NR_MAX: u32 = 1024;

/// Byte offsets of the six syscall argument registers in x86-64's
/// `struct pt_regs` (di, si, dx, r10, r8, r9): a stable layout, the one
/// `ptrace(PTRACE_GETREGS)` exposes.
pub const PT_REGS_ARGS: [u32; 6] = [112, 104, 96, 56, 72, 64];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::Extra;

    #[test]
    fn attempts_read_nothing_at_entry() {
        for id in ATTEMPTS {
            assert_eq!(id.read().extra, Extra::None, "{}", id.name());
        }
    }
}
