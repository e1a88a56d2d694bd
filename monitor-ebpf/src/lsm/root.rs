//! `lsm/sb_pivotroot` and `lsm/path_chroot`: a root change the kernel is
//! about to make (its permission checks passed), reported as `pivot_root`
//! and `chroot` with the paths as the caller gave them (read from the
//! syscall's arguments: `bpf_d_path` is not allowed at these hooks).
//! `path_chroot` needs CONFIG_SECURITY_PATH.

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::{lsm::nr, syscall_flags, SyscallId, PATH_LEN};

use crate::kread::user_str;

#[lsm(hook = "sb_pivotroot")]
pub fn lsm_sb_pivotroot(ctx: LsmContext) -> i32 {
    // sb_pivotroot(const struct path *old_path, const struct path *new_path),
    // verdict.
    let verdict: i32 = ctx.arg(2);
    report(SyscallId::PivotRoot, nr::PIVOT_ROOT, true);
    verdict
}

#[lsm(hook = "path_chroot")]
pub fn lsm_path_chroot(ctx: LsmContext) -> i32 {
    // path_chroot(const struct path *path), verdict.
    let verdict: i32 = ctx.arg(1);
    report(SyscallId::Chroot, nr::CHROOT, false);
    verdict
}

/// pivot_root(new_root, put_old) / chroot(path): the strings into str0
/// (and str1), as the tracepoint reads them.
#[inline(always)]
fn report(id: SyscallId, nr: u64, two: bool) {
    let (now, regs) = super::syscall_regs();
    let Some(r) = super::start(id) else {
        return;
    };
    if now == nr {
        let s = user_str(
            r.str0.as_mut_ptr(),
            PATH_LEN as u32,
            super::syscall_arg(regs, 0),
        );
        r.str0_len = s.len;
        if s.truncated {
            r.flags |= syscall_flags::STR0_TRUNCATED;
        }
        if two {
            let s = user_str(
                r.str1.as_mut_ptr(),
                PATH_LEN as u32,
                super::syscall_arg(regs, 1),
            );
            r.str1_len = s.len;
            if s.truncated {
                r.flags |= syscall_flags::STR1_TRUNCATED;
            }
        }
    }
    super::send(r);
}
