//! The two steps every producer of a [`SyscallRecord`] shares (syscall
//! tracepoints, refused attempts, LSM hooks, io_uring submissions): clear
//! the scratch record before filling it, and stamp its header once it is
//! kept.

use core::mem::size_of;
use monitor_common::{EventKind, SyscallRecord};

use crate::header;
use crate::store::put;

/// Reset `r` for syscall `id` with `flags`: no strings, return value 0.
/// The arguments are the caller's to fill.
#[inline(always)]
pub fn start(r: &mut SyscallRecord, id: u16, flags: u16) {
    put(&mut r.syscall, id);
    put(&mut r.flags, flags);
    put(&mut r.str0_len, 0);
    put(&mut r.str1_len, 0);
    put(&mut r.short_len, 0);
    put(&mut r._pad[0], 0);
    put(&mut r._pad[1], 0);
    put(&mut r._pad[2], 0);
    put(&mut r.ret, 0);
}

/// Stamp the header of a finished record for the current task.
#[inline(always)]
pub fn stamp(r: &mut SyscallRecord) {
    header::fill(
        &raw mut r.header,
        EventKind::Syscall,
        size_of::<SyscallRecord>(),
    );
}

/// Stamp the header and send the record through the flood limit.
#[inline(always)]
pub fn send(r: &mut SyscallRecord) {
    stamp(r);
    crate::flood::send_syscall(r);
}
