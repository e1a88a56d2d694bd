//! `lsm/kernel_read_file` and `lsm/kernel_load_data`: the kernel about to
//! take a module or a kexec image, from a file (finit_module,
//! kexec_file_load) or from a user buffer (init_module, kexec_load).
//! Firmware, policies and certificates are not reported.

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::lsm::load_id;
use monitor_common::SyscallId;

use crate::globals::enforce_modules;

#[lsm(hook = "kernel_read_file")]
pub fn lsm_kernel_read_file(ctx: LsmContext) -> i32 {
    // kernel_read_file(struct file *file, enum kernel_read_file_id id,
    //                  bool contents), verdict.
    let verdict: i32 = ctx.arg(3);
    let id: u32 = ctx.arg(1);
    let syscall = match id {
        load_id::MODULE => SyscallId::FinitModule,
        load_id::KEXEC_IMAGE => SyscallId::KexecFileLoad,
        _ => return verdict,
    };
    report(syscall, verdict)
}

#[lsm(hook = "kernel_load_data")]
pub fn lsm_kernel_load_data(ctx: LsmContext) -> i32 {
    // kernel_load_data(enum kernel_load_data_id id, bool contents), verdict.
    let verdict: i32 = ctx.arg(2);
    let id: u32 = ctx.arg(0);
    let syscall = match id {
        load_id::MODULE => SyscallId::InitModule,
        load_id::KEXEC_IMAGE => SyscallId::KexecLoad,
        _ => return verdict,
    };
    report(syscall, verdict)
}

/// Reports the load; returns the hook's verdict (module loads from
/// containers may be refused).
#[inline(always)]
fn report(syscall: SyscallId, verdict: i32) -> i32 {
    let Some(r) = super::start(syscall) else {
        return verdict;
    };
    // No file descriptor at this hook: report it as unknown (-1).
    r.args[0] = u64::MAX;
    let module = matches!(syscall, SyscallId::InitModule | SyscallId::FinitModule);
    let verdict = if module && enforce_modules() {
        super::enforce(r, verdict)
    } else {
        verdict
    };
    super::send(r);
    verdict
}
