//! Monotonic timestamps shared by every windowed value in this crate.
//!
//! The kernel stamps records with `bpf_ktime_get_boot_ns()` (CLOCK_BOOTTIME),
//! so samples taken here use the same clock: a counter pushed from a kernel
//! record and a value read from cgroupfs then sit on one time axis. Tests
//! build timestamps from plain nanoseconds, so window math is deterministic.

use std::time::Duration;

/// Nanoseconds on CLOCK_BOOTTIME.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current CLOCK_BOOTTIME.
    pub fn now() -> Timestamp {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on
        // every kernel this agent supports, so the call cannot fail.
        unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
        Timestamp(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }

    pub const fn from_nanos(ns: u64) -> Timestamp {
        Timestamp(ns)
    }

    pub const fn from_secs(s: u64) -> Timestamp {
        Timestamp(s * 1_000_000_000)
    }

    pub fn from_secs_f64(s: f64) -> Timestamp {
        Timestamp((s * 1e9) as u64)
    }

    pub const fn nanos(self) -> u64 {
        self.0
    }

    /// `self - d`, saturating at zero.
    pub fn saturating_sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(d.as_nanos() as u64))
    }

    pub fn saturating_add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.as_nanos() as u64))
    }

    /// Seconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        self.0.saturating_sub(earlier.0) as f64 / 1e9
    }
}
