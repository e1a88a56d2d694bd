//! DNS messages: the payload of what a process sends to port 53 and of
//! what it then receives on the same socket, as [`DnsRecord`]s the agent
//! parses.
//!
//! A send to port 53 (sendto/sendmsg/sendmmsg, called from `net.rs`) marks
//! the socket in `DNS_SOCKS` by (tgid, fd), with its inode so that a later
//! socket on the same fd number is not mistaken for it; a connected socket
//! that sends without a destination (glibc's resolver) is recognised by
//! that mark, as is a socket connected to port 53 (`connect`). The receive
//! syscalls' enter programs cost one hash lookup for unmarked sockets; on a
//! marked one they park the user buffer in `DNS_RECV` and the exit copies
//! what the kernel wrote there.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_probe_read_user},
    macros::{map, tracepoint},
    maps::LruHashMap,
    programs::TracePointContext,
};
use core::ffi::c_void;
use core::mem::size_of;
use monitor_common::{dns_direction, DnsRecord, EventKind, SockTuple, DNS_PAYLOAD_LEN};

use crate::header;
use crate::kread::user;
use crate::maps::{count_drop, EVENTS};
use crate::net;

const DNS_PORT_BE: [u8; 2] = 53u16.to_be_bytes();
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
/// `struct msghdr`: `msg_iov` after the name pointer and its padded length.
const MSG_IOV_OFFSET: u64 = 16;
/// `struct mmsghdr { struct msghdr msg_hdr; unsigned msg_len; }`.
const MMSG_LEN_OFFSET: u64 = 56;
/// Classic tracepoint record: the syscall's arguments, then (exit) `ret`.
const ARGS_OFFSET: usize = 16;
const RET_OFFSET: usize = 16;

/// Sockets used for DNS: (tgid << 32 | fd) → the socket's inode.
#[map]
static DNS_SOCKS: LruHashMap<u64, u64> = LruHashMap::with_max_entries(4096, 0);

/// A receive on a DNS socket between its enter and exit.
#[repr(C)]
struct Recv {
    fd: u64,
    buf: u64,
    cap: u64,
    /// recvmmsg: where the kernel writes the first message's length (its
    /// return value is a message count); 0 for the others.
    msg_len_at: u64,
}

#[map]
static DNS_RECV: LruHashMap<u64, Recv> = LruHashMap::with_max_entries(1024, 0);

#[inline(always)]
fn sock_key(fd: u64) -> u64 {
    (bpf_get_current_pid_tgid() & 0xffff_ffff_0000_0000) | (fd & 0xffff_ffff)
}

/// Whether `fd` is a socket this process marked for DNS (and still the
/// same socket).
#[inline(always)]
fn is_dns_socket(fd: u64) -> bool {
    let key = sock_key(fd);
    // SAFETY: a plain value read; the entry may be replaced concurrently,
    // which at worst mismatches the inode below.
    let Some(ino) = (unsafe { DNS_SOCKS.get(&key) }).copied() else {
        return false;
    };
    if net::socket_ino(fd) == Some(ino) {
        return true;
    }
    let _ = DNS_SOCKS.remove(&key);
    false
}

/// Whether the user sockaddr at `addr` is an IP address on port 53.
#[inline(always)]
fn to_dns_port(addr: u64) -> bool {
    let Some(sa) = user::<[u8; 4]>(addr) else {
        return false;
    };
    let family = u16::from_ne_bytes([sa[0], sa[1]]);
    (family == AF_INET || family == AF_INET6) && [sa[2], sa[3]] == DNS_PORT_BE
}

#[inline(always)]
fn mark(fd: u64) {
    if let Some(ino) = net::socket_ino(fd) {
        let _ = DNS_SOCKS.insert(&sock_key(fd), &ino, 0);
    }
}

/// connect(fd, addr): a socket connected to port 53 is a DNS socket.
#[inline(always)]
pub fn on_connect(fd: u64, addr: u64) {
    if to_dns_port(addr) {
        mark(fd);
    }
}

/// sendto (`msghdr` 0: `buf`, `len`) or sendmsg/sendmmsg (`msghdr`: the
/// first message's header) to `dest` (0: the socket's peer). Sends to port
/// 53, or on a DNS socket, are reported with their payload.
#[inline(always)]
pub fn on_send(fd: u64, dest: u64, buf: u64, len: u64, msghdr: u64) {
    if dest != 0 {
        if !to_dns_port(dest) {
            return;
        }
        mark(fd);
    } else if !is_dns_socket(fd) {
        return;
    }
    let (buf, len) = if msghdr != 0 {
        match first_iov(msghdr) {
            Some(iov) => iov,
            None => return,
        }
    } else {
        (buf, len)
    };
    emit(fd, buf, len, dns_direction::SENT);
}

/// The first `iovec` (base, len) of the message header at `msghdr`.
#[inline(always)]
fn first_iov(msghdr: u64) -> Option<(u64, u64)> {
    let iov = user::<u64>(msghdr + MSG_IOV_OFFSET)?;
    let [base, len] = user::<[u64; 2]>(iov)?;
    Some((base, len))
}

/// Send one record with up to [`DNS_PAYLOAD_LEN`] bytes of the user
/// buffer `buf` (`len` bytes).
#[inline(always)]
fn emit(fd: u64, buf: u64, len: u64, direction: u16) {
    if buf == 0 || len == 0 {
        return;
    }
    let Some(mut entry) = EVENTS.reserve::<DnsRecord>(0) else {
        count_drop(EventKind::Dns);
        return;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: whole-record reservation; `n` <= the payload's size.
    unsafe {
        header::fill(
            &raw mut (*rec).header,
            EventKind::Dns,
            size_of::<DnsRecord>(),
        );
        let mut t = SockTuple::default();
        if let Some(sk) = net::sock_of(fd) {
            net::fill_tuple(sk, &mut t);
        }
        (*rec).tuple = t;
        (*rec).direction = direction;
        (*rec).truncated = u16::from(len > DNS_PAYLOAD_LEN as u64);
        (*rec)._pad = 0;
        (*rec).len = len.min(DNS_PAYLOAD_LEN as u64) as u16;
        // 1..=512 for the verifier (512 is a power of two), computed from
        // a fresh load right before the copy: a bound the compiler can
        // prove redundant is dropped, and one spilled across the calls
        // above is lost by 6.1's verifier ("R2 min value is negative");
        // a stack slot for it would overflow this program's 512 bytes.
        let n = core::ptr::read_volatile(&raw const (*rec).len) as u32;
        let n = (n.wrapping_sub(1) & (DNS_PAYLOAD_LEN as u32 - 1)) + 1;
        let ok = bpf_probe_read_user(
            (*rec).payload.as_mut_ptr() as *mut c_void,
            n,
            buf as *const c_void,
        ) == 0;
        if !ok {
            entry.discard(0);
            return;
        }
        (*rec).len = n as u16;
    }
    entry.submit(0);
}

#[inline(always)]
fn arg(ctx: &TracePointContext, i: usize) -> u64 {
    // SAFETY: in-bounds offset of the syscall tracepoint record.
    unsafe { ctx.read_at::<u64>(ARGS_OFFSET + 8 * i) }.unwrap_or(0)
}

/// Park a receive on a DNS socket for [`dns_exit_recv`].
#[inline(always)]
fn park(fd: u64, buf: u64, cap: u64, msg_len_at: u64) {
    let r = Recv {
        fd,
        buf,
        cap,
        msg_len_at,
    };
    let _ = DNS_RECV.insert(&bpf_get_current_pid_tgid(), &r, 0);
}

/// recvfrom(fd, buf, len, flags, src, addrlen).
#[tracepoint]
pub fn dns_enter_recvfrom(ctx: TracePointContext) -> u32 {
    let fd = arg(&ctx, 0);
    if is_dns_socket(fd) {
        park(fd, arg(&ctx, 1), arg(&ctx, 2), 0);
    }
    0
}

/// recvmsg(fd, msghdr, flags).
#[tracepoint]
pub fn dns_enter_recvmsg(ctx: TracePointContext) -> u32 {
    let fd = arg(&ctx, 0);
    if is_dns_socket(fd) {
        if let Some((buf, cap)) = first_iov(arg(&ctx, 1)) {
            park(fd, buf, cap, 0);
        }
    }
    0
}

/// recvmmsg(fd, mmsghdr, vlen, flags, timeout): the first message.
#[tracepoint]
pub fn dns_enter_recvmmsg(ctx: TracePointContext) -> u32 {
    let fd = arg(&ctx, 0);
    if is_dns_socket(fd) {
        let hdr = arg(&ctx, 1);
        if let Some((buf, cap)) = first_iov(hdr) {
            park(fd, buf, cap, hdr + MMSG_LEN_OFFSET);
        }
    }
    0
}

/// The exit of every receive syscall above: the bytes received.
#[tracepoint]
pub fn dns_exit_recv(ctx: TracePointContext) -> u32 {
    let key = bpf_get_current_pid_tgid();
    // SAFETY: the value is copied out before the entry is removed.
    let Some(r) = (unsafe { DNS_RECV.get(&key) }) else {
        return 0;
    };
    let (fd, buf, cap, msg_len_at) = (r.fd, r.buf, r.cap, r.msg_len_at);
    let _ = DNS_RECV.remove(&key);
    // SAFETY: in-bounds offset of the sys_exit record.
    let ret = unsafe { ctx.read_at::<i64>(RET_OFFSET) }.unwrap_or(-1);
    if ret <= 0 {
        return 0;
    }
    let got = if msg_len_at != 0 {
        user::<u32>(msg_len_at).unwrap_or(0) as u64
    } else {
        ret as u64
    };
    // MSG_TRUNC makes recv return the datagram's length, beyond the buffer.
    let got = if got > cap { cap } else { got };
    emit(fd, buf, got, dns_direction::RECEIVED);
    0
}
