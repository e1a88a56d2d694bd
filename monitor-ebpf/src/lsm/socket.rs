//! `lsm/socket_connect` and `lsm/socket_bind`: a connect or bind the
//! kernel is about to make, whichever way it was asked for (connect(2),
//! bind(2), io_uring's IORING_OP_CONNECT), reported as `connect` and
//! `bind` with the tracepoints' fields: the sockaddr (the kernel's copy,
//! which the caller can no longer change) in `str0`, the socket's tuple in
//! `str1` as it stands before the call ([`net::tuple_before`]), through the
//! same network filter.

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::{lsm::nr, SyscallId};

use crate::net;

#[lsm(hook = "socket_connect")]
pub fn lsm_socket_connect(ctx: LsmContext) -> i32 {
    // socket_connect(struct socket *sock, struct sockaddr *address,
    //                int addrlen), verdict.
    let verdict: i32 = ctx.arg(3);
    report(&ctx, SyscallId::Connect, nr::CONNECT);
    verdict
}

#[lsm(hook = "socket_bind")]
pub fn lsm_socket_bind(ctx: LsmContext) -> i32 {
    // socket_bind(struct socket *sock, struct sockaddr *address,
    //             int addrlen), verdict.
    let verdict: i32 = ctx.arg(3);
    report(&ctx, SyscallId::Bind, nr::BIND);
    verdict
}

#[inline(always)]
fn report(ctx: &LsmContext, id: SyscallId, nr: u64) {
    let sock: u64 = ctx.arg(0);
    let addr: u64 = ctx.arg(1);
    let len: i32 = ctx.arg(2);
    let (now, regs) = super::syscall_regs();
    let Some(r) = super::start(id) else {
        return;
    };
    // The fd and the user's address pointer, as the tracepoint reports
    // them, when the syscall itself got here; io_uring's (and the
    // kernel's own) connects have no fd of the process: -1.
    if now == nr {
        r.args[0] = super::syscall_arg(regs, 0);
        r.args[1] = super::syscall_arg(regs, 1);
    } else {
        r.args[0] = u64::MAX;
    }
    r.args[2] = len as u32 as u64;
    net::lsm_sockaddr(r, addr, len as u32 as u64);
    let keep = if id == SyscallId::Bind {
        net::bind_kept(r)
    } else {
        net::connect_kept(r)
    };
    if !keep {
        return;
    }
    net::tuple_before(r, sock, id == SyscallId::Bind);
    super::send(r);
}
