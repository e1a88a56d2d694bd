//! Probe-only programs for the hook-design benchmark (`cargo xtask bench`),
//! never attached by the sensor; `vigil bench-hook` attaches them:
//!
//! - `raw-sys-enter`: one program on the raw `sys_enter` tracepoint that
//!   does what a global syscall hook must do at minimum (look the syscall
//!   id up in a map), so its cost on untraced syscalls can be compared
//!   with the per-syscall tracepoints the sensor uses;
//! - `open-tracepoints`: empty programs on `openat`'s enter and exit
//!   tracepoints, the floor under what the sensor's open filter costs an
//!   open (the hooks' dispatch, without any work of their own).

use aya_ebpf::{
    macros::{map, raw_tracepoint, tracepoint},
    maps::Array,
    programs::{RawTracePointContext, TracePointContext},
    EbpfContext,
};

/// Which syscall numbers a global hook would care about (left all zero:
/// the lookup itself is what is measured).
#[map]
static BENCH_SYSCALLS: Array<u32> = Array::with_max_entries(1024, 0);

// sys_enter(struct pt_regs *regs, long id)
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn bench_raw_sys_enter(ctx: RawTracePointContext) -> i32 {
    // SAFETY: raw tracepoint args are u64s; sys_enter has two.
    let id = unsafe { *(ctx.as_ptr() as *const u64).add(1) } as u32;
    match BENCH_SYSCALLS.get(id) {
        Some(&v) if v != 0 => 1,
        _ => 0,
    }
}

/// Attached to `syscalls/sys_enter_openat`: does nothing.
#[tracepoint]
pub fn bench_open_enter(_ctx: TracePointContext) -> u32 {
    0
}

/// Attached to `syscalls/sys_exit_openat`: does nothing.
#[tracepoint]
pub fn bench_open_exit(_ctx: TracePointContext) -> u32 {
    0
}
