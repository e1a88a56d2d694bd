//! Trivial programs that exist only so `vigil probe` can ask the kernel
//! whether it loads BPF LSM and fentry (trampoline) programs at all. The
//! sensor never attaches them.

use aya_ebpf::{
    macros::{fentry, lsm},
    programs::{FEntryContext, LsmContext},
};

#[lsm(hook = "bprm_check_security")]
pub fn probe_lsm(_ctx: LsmContext) -> i32 {
    0
}

#[fentry(function = "vfs_read")]
pub fn probe_fentry(_ctx: FEntryContext) -> u32 {
    0
}
