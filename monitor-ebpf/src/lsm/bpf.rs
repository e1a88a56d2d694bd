//! `lsm/bpf`: every bpf(2) call that got past the kernel's own checks,
//! reported as `bpf` with its command.

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::SyscallId;

#[lsm(hook = "bpf")]
pub fn lsm_bpf(ctx: LsmContext) -> i32 {
    // bpf(int cmd, union bpf_attr *attr, unsigned int size) on 6.1; newer
    // kernels add `bool kernel` before the verdict, so the verdict's
    // position varies: return 0 (allowed). A program runs only while the
    // ones before it allowed the call (the trampoline stops at the first
    // refusal), so 0 is the verdict so far either way.
    let cmd: i32 = ctx.arg(0);
    if let Some(r) = super::start(SyscallId::Bpf) {
        r.args[0] = cmd as u32 as u64;
        super::send(r);
    }
    0
}
