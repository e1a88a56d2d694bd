//! OOM kills (`oom/mark_victim` classic tracepoint). The record's header is
//! the task that ran into the OOM; the victim's pid is the first field after
//! the tracepoint's 8-byte common header.

use aya_ebpf::{macros::tracepoint, programs::TracePointContext, EbpfContext};
use core::mem::size_of;
use monitor_common::{EventKind, OomRecord};

use crate::header;
use crate::maps::{count_drop, lazy_wake, EVENTS};

const PID_OFFSET: usize = 8;

#[tracepoint]
pub fn oom_mark_victim(ctx: TracePointContext) -> u32 {
    // SAFETY: constant in-bounds ctx offset, checked by the verifier.
    let victim = unsafe { *((ctx.as_ptr() as *const u8).add(PID_OFFSET) as *const i32) };
    let Some(mut entry) = EVENTS.reserve::<OomRecord>(0) else {
        count_drop(EventKind::OomKill);
        return 0;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: whole-record reservation.
    unsafe {
        header::fill(
            &raw mut (*rec).header,
            EventKind::OomKill,
            size_of::<OomRecord>(),
        );
        (*rec).victim_tgid = victim as u32;
        (*rec)._pad = 0;
    }
    entry.submit(lazy_wake());
    0
}
