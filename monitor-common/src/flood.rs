//! What keeps one noisy cgroup from blinding the sensor (docs/performance.md,
//! "Floods").
//!
//! Two guards, both in the kernel: every cgroup may send each syscall's
//! records at a bounded rate (per CPU, in fixed windows); what it sends
//! beyond is counted and reported as one [`crate::ThrottledRecord`] when the
//! window closes. And syscall records never fill the last
//! [`LIFECYCLE_RESERVE_SHIFT`] part of the ring buffer: that reserve is kept
//! for process lifecycle and the other kernel sources, so a flood that gets
//! through anyway (many cgroups at once) still cannot hide an exec, a fork
//! or an exit.

/// Length of one throttling window.
pub const WINDOW_NS: u64 = 1_000_000_000;

/// Default of `vigil run --throttle`: syscall records per cgroup, per
/// syscall, per CPU and per window. Far above what a container does in
/// normal work (a busy web server's accepts), far below what the ring and
/// the agent carry (a flood of two CPUs is held at 2 × this per second).
pub const DEFAULT_RATE: u32 = 4096;

/// Syscall records are dropped once the ring buffer has less than
/// `size >> LIFECYCLE_RESERVE_SHIFT` bytes free (a quarter).
pub const LIFECYCLE_RESERVE_SHIFT: u32 = 2;

/// Entries of the throttle map (cgroup, syscall) → window; the least
/// recently used is forgotten beyond this (and starts a fresh window).
pub const THROTTLE_MAX: u32 = 16384;

/// The throttle map's key.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleKey {
    pub cgroup_id: u64,
    /// [`crate::SyscallId`].
    pub syscall: u16,
    pub _pad: [u16; 3],
}

/// One (cgroup, syscall)'s current window on one CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleWindow {
    /// `bpf_ktime_get_boot_ns` at the window's first record.
    pub start_ns: u64,
    /// Records sent in this window.
    pub sent: u32,
    pub _pad: u32,
    /// Records held back in this window.
    pub held: u64,
}
