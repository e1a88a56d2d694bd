//! BPF-LSM programs (LSM mode): each reports what a syscall tracepoint
//! reports in tracepoint mode, as the same `SyscallRecord` with the same
//! `SyscallId`, flagged `LSM` (the table of hooks and the syscalls they
//! stand for is `monitor_common::lsm::HOOKS`). The record is complete at
//! the hook: `ret` is the verdict (0, allowed), and it goes straight to the
//! ring buffer (no `PENDING` round trip).
//!
//! Every program returns the verdict of the LSM programs before it
//! (`retval`, the hook's last argument) unless it refuses the operation
//! itself ([`enforce`]): observing never turns a refusal into a permission.

mod bpf;
mod cred;
mod exec;
mod file;
mod load;
mod mem;
mod mount;
mod ptrace;
mod root;
mod signal;
mod socket;

pub use exec::take_would_deny_exec;
pub use mem::exec_mem;

use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid,
        generated::{bpf_d_path, bpf_get_current_task, bpf_get_current_task_btf, bpf_task_pt_regs},
    },
    macros::map,
    maps::PerCpuArray,
};
use monitor_common::{
    enforce::{mode, EPERM},
    lsm::nr,
    syscall_flags, SyscallId, SyscallRecord, PATH_LEN,
};

use crate::globals::{agent_tgid, enforce_mode, off};
use crate::kread::read;
use crate::syscall_record;

/// Where LSM records are assembled (records are bigger than the stack).
/// Separate from the tracepoints' scratch: an LSM hook can run inside a
/// syscall whose enter program is still using that one.
#[map]
static LSM_SCRATCH: PerCpuArray<SyscallRecord> = PerCpuArray::with_max_entries(1, 0);

/// `PF_IO_WORKER`: io_uring's worker and SQPOLL threads.
const PF_IO_WORKER: u32 = 0x10;
/// x86_64: `pt_regs.orig_ax` holds the syscall number.
const PT_REGS_ORIG_AX: u64 = 15 * 8;

/// A cleared record for `id` in this CPU's scratch, or None for the
/// agent's own activity (and if the scratch is unavailable).
#[inline(always)]
fn start(id: SyscallId) -> Option<&'static mut SyscallRecord> {
    if (bpf_get_current_pid_tgid() >> 32) as u32 == agent_tgid() {
        return None;
    }
    let p = LSM_SCRATCH.get_ptr_mut(0)?;
    // SAFETY: this CPU's scratch value; BPF programs do not nest on a CPU
    // for the same hook.
    let r = unsafe { &mut *p };
    syscall_record::start(r, id as u16, syscall_flags::LSM);
    r.args = [0; 6];
    Some(r)
}

/// Stamp the header and the io_uring origin, and send.
#[inline(always)]
fn send(r: &mut SyscallRecord) {
    if from_io_uring() {
        r.flags |= syscall_flags::IO_URING;
    }
    syscall_record::send(r);
}

/// Was the current operation submitted through io_uring? Either an
/// io_uring thread does it (async work, SQPOLL), or the submitter itself
/// inside `io_uring_enter` (requests issued inline).
#[inline(always)]
fn from_io_uring() -> bool {
    // SAFETY: helpers without preconditions.
    let task = unsafe { bpf_get_current_task() };
    if read::<u32>(task, off!(task_flags)).is_some_and(|f| f & PF_IO_WORKER != 0) {
        return true;
    }
    // SAFETY: the BTF task pointer is what bpf_task_pt_regs takes.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as u64;
    read::<u64>(regs, PT_REGS_ORIG_AX as u32) == Some(nr::IO_URING_ENTER)
}

/// The current task's user registers at syscall entry, and the syscall
/// number (`orig_ax`). Hooks whose kernel arguments no longer hold what
/// the caller passed (a set*id's ids, chroot's path as given) read the
/// syscall's own arguments here, so they report what the tracepoint
/// would; hooks that the same syscall always reaches need no check of the
/// number.
#[inline(always)]
fn syscall_regs() -> (u64, u64) {
    // SAFETY: the BTF task pointer is what bpf_task_pt_regs takes.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as u64;
    let nr = read::<u64>(regs, PT_REGS_ORIG_AX as u32).unwrap_or(u64::MAX);
    (nr, regs)
}

/// Argument `i` (0 to 2) of the syscall whose registers are `regs`
/// (x86_64: rdi, rsi, rdx).
#[inline(always)]
fn syscall_arg(regs: u64, i: u32) -> u64 {
    let off = match i {
        0 => 14 * 8,
        1 => 13 * 8,
        2 => 12 * 8,
        _ => return 0,
    };
    read::<u64>(regs, off).unwrap_or(0)
}

/// `bpf_d_path(path)` into `dst` (PATH_LEN bytes): the length without
/// the NUL, 0 if the path could not be resolved (or is longer than
/// PATH_LEN, which d_path refuses rather than cuts).
#[inline(always)]
fn d_path(path: u64, dst: *mut u8) -> u16 {
    if path == 0 {
        return 0;
    }
    // SAFETY: `path` is a kernel `struct path` the verifier types from the
    // hook's BTF; `dst` holds PATH_LEN bytes.
    let n = unsafe { bpf_d_path(path as *mut _, dst as *mut _, PATH_LEN as u32) };
    if n <= 0 {
        0
    } else {
        (n - 1) as u16
    }
}

/// Enforcement (`monitor_common::enforce`) for an operation an armed check
/// matched: in a container's cgroup, refuse it (or, in dry run, flag what
/// would have been refused). Returns the verdict the hook gives: `verdict`
/// unchanged unless this refuses.
#[inline(always)]
fn enforce(r: &mut SyscallRecord, verdict: i32) -> i32 {
    let m = enforce_mode();
    if m == mode::OFF || verdict != 0 {
        return verdict;
    }
    if !crate::enforce::in_container() {
        return verdict;
    }
    if m == mode::DENY {
        r.flags |= syscall_flags::DENIED;
        r.ret = -(EPERM as i64);
        -EPERM
    } else {
        r.flags |= syscall_flags::WOULD_DENY;
        verdict
    }
}
