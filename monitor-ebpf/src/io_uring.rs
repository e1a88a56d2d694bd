//! Operations submitted through io_uring (`monitor_common::io_uring`).
//!
//! `io_uring_submit` runs at `io_uring/io_uring_submit_req`, after the
//! kernel prepared the request: an open's path is already a kernel
//! `struct filename`, a connect's sockaddr pointer is in `struct
//! io_connect`. It fills the record of the syscall the request stands for
//! (openat, openat2, connect) as that syscall's enter program would, applies
//! the same open filter and network filter, and parks it by request address.
//! An open whose path the filter cannot judge as given (relative, or with
//! a `.`, `..` or empty component) goes on for the agent to resolve.
//! `io_uring_complete` adds the result and sends it. The header (pid,
//! cgroup, comm) is the submitter's: the task inside `io_uring_enter`, or
//! its SQPOLL thread. Tracepoint mode only: in LSM mode `file_open` and
//! `socket_connect` see these operations.

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid, macros::tracepoint, programs::TracePointContext,
};
use monitor_common::io_uring::{self as iou, op};
use monitor_common::syscalls::Extra;
use monitor_common::{syscall_flags, EventKind, SyscallId, SyscallRecord, PATH_LEN};

use crate::globals::{agent_tgid, off};
use crate::kread::{kernel_str, ptr, read};
use crate::maps::{count_drop, lazy_wake, EVENTS, IO_URING_PENDING, SYSCALL_SCRATCH};
use crate::{enforce, net, open_filter, syscall_record};

#[tracepoint]
pub fn io_uring_submit(ctx: TracePointContext) -> u32 {
    on_submit(&ctx);
    0
}

#[tracepoint]
pub fn io_uring_complete(ctx: TracePointContext) -> u32 {
    on_complete(&ctx);
    0
}

#[inline(always)]
fn on_submit(ctx: &TracePointContext) {
    // SAFETY: constant offsets inside the tracepoint record (checked
    // against its format by the agent).
    let (req, user_data, opcode) = unsafe {
        (
            ctx.read_at::<u64>(iou::REQ_OFFSET).unwrap_or(0),
            ctx.read_at::<u64>(iou::USER_DATA_OFFSET).unwrap_or(0),
            ctx.read_at::<u8>(iou::OPCODE_OFFSET).unwrap_or(0),
        )
    };
    let id = match opcode {
        op::OPENAT => SyscallId::Openat,
        op::OPENAT2 => SyscallId::Openat2,
        op::CONNECT => SyscallId::Connect,
        _ => return,
    };
    if req == 0 || (bpf_get_current_pid_tgid() >> 32) as u32 == agent_tgid() {
        return;
    }
    let Some(p) = SYSCALL_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    let cmd = req + off!(io_kiocb_cmd) as u64;
    // SAFETY: `p` is this CPU's scratch value.
    let p = unsafe { &mut *p };
    // The pending entry's `nr` holds the request's user_data, checked at
    // completion: a request slot reused after a lost completion must not
    // be reported as this one.
    p.nr = user_data as i64;
    p.tuple = net::TUPLE_NONE;
    p._pad = 0;
    let r = &mut p.rec;
    syscall_record::start(r, id as u16, syscall_flags::IO_URING);
    r.args = [0; 6];
    let keep = match id {
        SyscallId::Connect => {
            let req_flags = read::<u64>(req, off!(io_kiocb_flags)).unwrap_or(0);
            r.args[0] = read::<i32>(req, off!(io_kiocb_cqe_fd)).unwrap_or(-1) as i64 as u64;
            r.args[1] = read::<u64>(cmd, off!(io_connect_addr)).unwrap_or(0);
            r.args[2] = read::<i32>(cmd, off!(io_connect_addr_len)).unwrap_or(0) as u64;
            let (keep, tuple) = net::on_enter(r, Extra::Connect);
            // A fixed file's fd indexes the ring's table, not the
            // process's: the socket's endpoints cannot be read by fd.
            p.tuple = if req_flags & iou::FIXED_FILE != 0 {
                net::TUPLE_NONE
            } else {
                tuple
            };
            keep
        }
        _ => {
            // openat(dfd, path, flags, mode) / openat2(dfd, path, how, size)
            r.args[0] = read::<i32>(cmd, off!(io_open_dfd)).unwrap_or(0) as i64 as u64;
            let how = read::<[u64; 3]>(cmd, off!(io_open_how)).unwrap_or([0; 3]);
            if id == SyscallId::Openat {
                r.args[2] = how[0];
                r.args[3] = how[1];
            } else {
                r.args[3] = how[0];
                r.args[4] = how[1];
                r.args[5] = how[2];
            }
            let name = ptr(cmd, off!(io_open_filename)).and_then(|f| ptr(f, off!(filename_name)));
            if let Some(name) = name {
                let s = kernel_str(r.str0.as_mut_ptr(), PATH_LEN as u32, name);
                r.str0_len = s.len;
                if s.truncated {
                    r.flags |= syscall_flags::STR0_TRUNCATED;
                }
            }
            enforce::open_checked(r, open_filter::is_write(how[0]), false)
                || open_filter::goes_on_as_given(r)
        }
    };
    if !keep {
        return;
    }
    syscall_record::stamp(r);
    let _ = IO_URING_PENDING.insert(req, &*p, 0);
}

#[inline(always)]
fn on_complete(ctx: &TracePointContext) {
    // SAFETY: constant offsets inside the tracepoint record.
    let (req, user_data, res) = unsafe {
        (
            ctx.read_at::<u64>(iou::REQ_OFFSET).unwrap_or(0),
            ctx.read_at::<u64>(iou::USER_DATA_OFFSET).unwrap_or(0),
            ctx.read_at::<i32>(iou::RES_OFFSET).unwrap_or(0),
        )
    };
    let Some(p) = IO_URING_PENDING.get_ptr_mut(req) else {
        return;
    };
    // SAFETY: `p` is a live map value.
    unsafe {
        if (*p).nr == user_data as i64 {
            let ret = res as i64;
            (*p).rec.ret = ret;
            if net::on_exit(&mut (*p).rec, (*p).tuple, ret)
                && EVENTS
                    .output::<SyscallRecord>(&(*p).rec, lazy_wake())
                    .is_err()
            {
                count_drop(EventKind::Syscall);
            }
        }
    }
    let _ = IO_URING_PENDING.remove(req);
}
