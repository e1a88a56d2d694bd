//! Globals that userspace sets with `EbpfLoader::set_global` before load.
//!
//! They live in `.rodata`, which aya freezes, so the verifier sees the
//! values as constants: offsets become constant displacements and branches
//! on a `MISSING` offset are pruned as dead code. Every read goes through
//! `read_volatile` so rustc cannot fold in the compile-time defaults.

use monitor_common::KernelOffsets;

#[unsafe(no_mangle)]
static OFFSETS: KernelOffsets = KernelOffsets::missing();

#[unsafe(no_mangle)]
static AGENT_TGID: u32 = 0;

/// Non-zero: report loopback connections too (`net.rs`).
#[unsafe(no_mangle)]
static NET_LOOPBACK: u32 = 0;
/// `monitor_common::enforce::mode`.
#[unsafe(no_mangle)]
static ENFORCE_MODE: u32 = 0;

/// Non-zero: module loads from containers are refused (or flagged).
#[unsafe(no_mangle)]
static ENFORCE_MODULES: u32 = 0;

/// Non-zero: signals from containers to the agent are refused.
#[unsafe(no_mangle)]
static ENFORCE_SIGNALS: u32 = 0;

/// Syscall records per cgroup, syscall, CPU and window; 0: no throttling
/// (`monitor_common::flood`).
#[unsafe(no_mangle)]
static THROTTLE_RATE: u32 = 0;

/// Non-zero: exec of a memfd from a container is refused (or flagged).
#[unsafe(no_mangle)]
static ENFORCE_MEMFD_EXEC: u32 = 0;

/// Non-zero: ptrace of the agent from a container is refused.
#[unsafe(no_mangle)]
static ENFORCE_PTRACE: u32 = 0;

/// Non-zero: BPF program loads from a container are refused (or flagged).
#[unsafe(no_mangle)]
static ENFORCE_BPF_PROG_LOAD: u32 = 0;

/// Read one field of the global `OFFSETS`.
macro_rules! off {
    ($field:ident) => {
        $crate::globals::offsets_field(|o| core::ptr::addr_of!(o.$field))
    };
}
pub(crate) use off;

#[inline(always)]
pub fn offsets_field(f: impl FnOnce(&'static KernelOffsets) -> *const u32) -> u32 {
    // SAFETY: the pointer is to a field of a static.
    unsafe { core::ptr::read_volatile(f(&OFFSETS)) }
}

/// The agent's own tgid; its syscalls are not reported.
#[inline(always)]
pub fn agent_tgid() -> u32 {
    // SAFETY: reading a static.
    unsafe { core::ptr::read_volatile(&AGENT_TGID) }
}

/// Whether loopback peers are reported.
#[inline(always)]
pub fn net_loopback() -> bool {
    // SAFETY: reading a static.
    unsafe { core::ptr::read_volatile(&NET_LOOPBACK) != 0 }
}

/// `monitor_common::enforce::mode`: off, dry run or deny.
#[inline(always)]
pub fn enforce_mode() -> u32 {
    // SAFETY: reading a static.
    unsafe { core::ptr::read_volatile(&ENFORCE_MODE) }
}

/// Are module loads from containers enforced on?
#[inline(always)]
pub fn enforce_modules() -> bool {
    // SAFETY: reading a static.
    unsafe { core::ptr::read_volatile(&ENFORCE_MODULES) != 0 }
}

/// Are signals from containers to the agent refused?
#[inline(always)]
pub fn enforce_signals() -> bool {
    // SAFETY: reading a static.
    unsafe { core::ptr::read_volatile(&ENFORCE_SIGNALS) != 0 }
}

/// `THROTTLE_RATE`: the per-window budget of a (cgroup, syscall) on a CPU.
#[inline(always)]
pub fn throttle_rate() -> u32 {
    // SAFETY: reading a static.
    unsafe { core::ptr::read_volatile(&THROTTLE_RATE) }
}

/// Is exec of a memfd from a container enforced on?
#[inline(always)]
pub fn enforce_memfd_exec() -> bool {
    // SAFETY: reading a static.
    unsafe { core::ptr::read_volatile(&ENFORCE_MEMFD_EXEC) != 0 }
}

/// Is ptrace of the agent from a container refused?
#[inline(always)]
pub fn enforce_ptrace() -> bool {
    // SAFETY: reading a static.
    unsafe { core::ptr::read_volatile(&ENFORCE_PTRACE) != 0 }
}

/// Are BPF program loads from a container enforced on?
#[inline(always)]
pub fn enforce_bpf_prog_load() -> bool {
    // SAFETY: reading a static.
    unsafe { core::ptr::read_volatile(&ENFORCE_BPF_PROG_LOAD) != 0 }
}
