//! `lsm/sb_mount`: every mount(2) request, checked before the kernel's
//! own capability check (so refused attempts are seen too), with the
//! target resolved to an absolute path.

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::{syscall_flags, SyscallId, PATH_LEN, SHORT_LEN};

use crate::kread::kernel_str;

#[lsm(hook = "sb_mount")]
pub fn lsm_sb_mount(ctx: LsmContext) -> i32 {
    // sb_mount(const char *dev_name, const struct path *path,
    //          const char *type, unsigned long flags, void *data), verdict.
    let verdict: i32 = ctx.arg(5);
    let dev: u64 = ctx.arg(0);
    let path: u64 = ctx.arg(1);
    let fstype: u64 = ctx.arg(2);
    let flags: u64 = ctx.arg(3);
    let Some(r) = super::start(SyscallId::Mount) else {
        return verdict;
    };
    r.args[3] = flags;
    // dev_name and type are the kernel's copies of the user strings.
    let s = kernel_str(r.str0.as_mut_ptr(), PATH_LEN as u32, dev);
    r.str0_len = s.len;
    if s.truncated {
        r.flags |= syscall_flags::STR0_TRUNCATED;
    }
    r.str1_len = super::d_path(path, r.str1.as_mut_ptr());
    let s = kernel_str(r.short.as_mut_ptr(), SHORT_LEN as u32, fstype);
    r.short_len = s.len;
    if s.truncated {
        r.flags |= syscall_flags::SHORT_TRUNCATED;
    }
    super::send(r);
    verdict
}
