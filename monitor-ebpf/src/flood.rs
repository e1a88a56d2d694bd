//! The one way syscall records reach the ring buffer: through a
//! per-cgroup, per-syscall rate limit and above the lifecycle reserve
//! (`monitor_common::flood`, docs/performance.md "Floods").
//!
//! Windows are per CPU (an LRU per-CPU hash), so no two programs ever
//! update one window and no atomics are needed; a cgroup flooding from N
//! CPUs gets N times the rate, which is still bounded.

use aya_ebpf::{macros::map, maps::LruPerCpuHashMap};
use core::mem::size_of;
use monitor_common::flood::{
    ThrottleKey, ThrottleWindow, LIFECYCLE_RESERVE_SHIFT, THROTTLE_MAX, WINDOW_NS,
};
use monitor_common::{EventKind, SyscallRecord, ThrottledRecord};

use crate::globals::throttle_rate;
use crate::maps::{count_drop, lazy_wake, ring_fill, wake_for, EVENTS};
use crate::{counters, header};

#[map]
static THROTTLE: LruPerCpuHashMap<ThrottleKey, ThrottleWindow> =
    LruPerCpuHashMap::with_max_entries(THROTTLE_MAX, 0);

const BPF_NOEXIST: u64 = 1;

/// Send a finished syscall record, unless its cgroup is over its rate
/// (counted, reported when the window closes) or the ring is down to the
/// lifecycle reserve (counted as a drop).
#[inline(always)]
pub fn send_syscall(r: &SyscallRecord) {
    if !within_rate(r) {
        return;
    }
    let (avail, size) = ring_fill();
    if avail > size - (size >> LIFECYCLE_RESERVE_SHIFT) {
        count_drop(EventKind::Syscall);
        return;
    }
    if EVENTS
        .output::<SyscallRecord>(r, wake_for(avail, size))
        .is_err()
    {
        count_drop(EventKind::Syscall);
    }
}

/// Whether `r` fits its (cgroup, syscall)'s window on this CPU; closes a
/// finished window first, reporting what it held back.
#[inline(always)]
fn within_rate(r: &SyscallRecord) -> bool {
    let rate = throttle_rate();
    if rate == 0 {
        return true;
    }
    let key = ThrottleKey {
        cgroup_id: r.header.cgroup_id,
        syscall: r.syscall,
        _pad: [0; 3],
    };
    let now = r.header.boot_ns;
    let w = match THROTTLE.get_ptr_mut(&key) {
        Some(w) => w,
        None => {
            let fresh = ThrottleWindow {
                start_ns: now,
                ..ThrottleWindow::default()
            };
            let _ = THROTTLE.insert(&key, &fresh, BPF_NOEXIST);
            match THROTTLE.get_ptr_mut(&key) {
                Some(w) => w,
                // No room even after LRU eviction: never throttle blind.
                None => return true,
            }
        }
    };
    // SAFETY: this CPU's slot of a live per-CPU value; no other writer.
    let w = unsafe { &mut *w };
    let elapsed = now.saturating_sub(w.start_ns);
    if elapsed >= WINDOW_NS {
        if w.held > 0 {
            report(r.syscall, w.held, elapsed);
        }
        w.start_ns = now;
        w.sent = 0;
        w.held = 0;
    }
    if w.sent >= rate {
        w.held += 1;
        counters::count(|c| c.throttled += 1);
        return false;
    }
    w.sent += 1;
    true
}

/// The throttled record of a closed window.
#[inline(always)]
fn report(syscall: u16, count: u64, window_ns: u64) {
    let Some(mut entry) = EVENTS.reserve::<ThrottledRecord>(0) else {
        count_drop(EventKind::Throttled);
        return;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: whole-record reservation.
    unsafe {
        header::fill(
            &raw mut (*rec).header,
            EventKind::Throttled,
            size_of::<ThrottledRecord>(),
        );
        (*rec).syscall = syscall;
        (*rec)._pad = [0; 3];
        (*rec).count = count;
        (*rec).window_ns = window_ns;
    }
    entry.submit(lazy_wake());
}
