//! Memory made executable: `lsm/mmap_file` and `lsm/file_mprotect`,
//! reported as `mmap` and `mprotect`, and the filter they share with those
//! syscalls' tracepoints ([`exec_mem`]), so both modes report the same.
//!
//! What counts: memory both writable and executable (the shellcode
//! loader's RWX mapping), and an executable mapping of anonymous memory.
//! Loading a library (a read-only executable file mapping) does not, nor
//! does a JIT's flip of its code pages from writable to executable
//! (V8, .NET and others do that thousands of times a second).

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::lsm::prot::{EXEC, MAP_ANONYMOUS, WRITE};
use monitor_common::{lsm::nr, SyscallId};

/// Does a call `id` with `prot` (and mmap's `flags`) make memory
/// executable that counts?
#[inline(always)]
pub fn exec_mem(id: SyscallId, prot: u64, flags: u64) -> bool {
    let anon = id == SyscallId::Mmap && flags & MAP_ANONYMOUS != 0;
    prot & EXEC != 0 && (anon || prot & WRITE != 0)
}

#[lsm(hook = "mmap_file")]
pub fn lsm_mmap_file(ctx: LsmContext) -> i32 {
    // mmap_file(struct file *file, unsigned long reqprot,
    //           unsigned long prot, unsigned long flags), verdict.
    let verdict: i32 = ctx.arg(4);
    let prot: u64 = ctx.arg(2);
    let flags: u64 = ctx.arg(3);
    if exec_mem(SyscallId::Mmap, prot, flags) {
        report(SyscallId::Mmap, prot, flags, [nr::MMAP, nr::MMAP]);
    }
    verdict
}

#[lsm(hook = "file_mprotect")]
pub fn lsm_file_mprotect(ctx: LsmContext) -> i32 {
    // file_mprotect(struct vm_area_struct *vma, unsigned long reqprot,
    //               unsigned long prot), verdict.
    let verdict: i32 = ctx.arg(3);
    let prot: u64 = ctx.arg(2);
    if exec_mem(SyscallId::Mprotect, prot, 0) {
        report(
            SyscallId::Mprotect,
            prot,
            0,
            [nr::MPROTECT, nr::PKEY_MPROTECT],
        );
    }
    verdict
}

/// The record: address and length from the syscall's arguments (when the
/// hook runs inside one of `nrs`: the hooks are not given them), `prot`
/// (as the kernel applies it: READ_IMPLIES_EXEC added), mmap's `flags`.
#[inline(always)]
fn report(id: SyscallId, prot: u64, flags: u64, nrs: [u64; 2]) {
    let (nr, regs) = super::syscall_regs();
    let Some(r) = super::start(id) else {
        return;
    };
    if nr == nrs[0] || nr == nrs[1] {
        r.args[0] = super::syscall_arg(regs, 0);
        r.args[1] = super::syscall_arg(regs, 1);
    }
    r.args[2] = prot;
    r.args[3] = flags;
    super::send(r);
}
