//! `lsm/bpf`: every bpf(2) call that got past the kernel's own checks,
//! reported as `bpf` with its command; with enforcement armed for it, a
//! `BPF_PROG_LOAD` from a container is refused (`monitor_common::enforce`).

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::{enforce::BPF_PROG_LOAD, SyscallId};

use crate::globals::enforce_bpf_prog_load;

#[lsm(hook = "bpf")]
pub fn lsm_bpf(ctx: LsmContext) -> i32 {
    // bpf(int cmd, union bpf_attr *attr, unsigned int size) on 6.1; newer
    // kernels add `bool kernel` before the verdict, so the verdict's
    // position varies: take 0 (allowed). A program runs only while the
    // ones before it allowed the call (the trampoline stops at the first
    // refusal), so 0 is the verdict so far either way.
    let cmd: i32 = ctx.arg(0);
    let Some(r) = super::start(SyscallId::Bpf) else {
        return 0;
    };
    r.args[0] = cmd as u32 as u64;
    let verdict = if cmd as u32 == BPF_PROG_LOAD && enforce_bpf_prog_load() {
        super::enforce(r, 0)
    } else {
        0
    };
    super::send(r);
    verdict
}
