//! Network syscalls: what their enter and exit programs do beyond the
//! generic syscall record (`syscalls.rs` calls in here by [`Extra`]).
//!
//! At entry the destination sockaddr is copied into `str0` and the kernel
//! filter decides: loopback peers are dropped unless the agent asked for
//! them (`NET_LOOPBACK`), `socket()` is kept only for packet and raw IP
//! sockets, and a UDP `sendto`/`sendmsg` only for the first datagram of a
//! socket to a destination (`NET_FLOWS`). Data on an established flow
//! (send without a destination, write, read) never gets past the first test.
//! At exit the socket's endpoints are read from its `struct sock` into a
//! [`SockTuple`] in `str1`, so the agent sees both ends (the local port of
//! a connect is only chosen by the kernel during the call).
//!
//! In LSM mode `lsm/socket_connect` and `lsm/socket_bind` report connect
//! and bind instead ([`lsm_sockaddr`], [`tuple_before`]): the kernel's
//! copy of the address and the same filter, at the hook.

use aya_ebpf::helpers::generated::{
    bpf_get_current_task, bpf_probe_read_kernel, bpf_probe_read_user,
};
use core::ffi::c_void;
use monitor_common::syscalls::Extra;
use monitor_common::{syscall_flags, SockTuple, SyscallRecord};

use crate::globals::{net_loopback, off};
use crate::kread::{ptr, read, user};
use crate::maps::{FlowKey, NET_FLOWS};

/// Which fd's socket the exit program describes (`Pending::tuple`).
pub const TUPLE_NONE: u32 = 0;
/// The fd argument (`args[0]`).
pub const TUPLE_ARG0: u32 = 1;
/// The return value (accept's new socket).
pub const TUPLE_RET: u32 = 2;
/// The fd argument, loopback peers included (dup: a reverse shell to a
/// local listener is still one).
pub const TUPLE_ARG0_ANY: u32 = 3;

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const AF_PACKET: u64 = 17;
const SOCK_RAW: u64 = 3;
/// `type` of socket() carries SOCK_NONBLOCK/SOCK_CLOEXEC in its high bits.
const SOCK_TYPE_MASK: u64 = 0xf;
const EAGAIN: i64 = 11;
/// Longest sockaddr we copy (sockaddr_storage).
const SOCKADDR_MAX: u32 = 128;
/// `struct msghdr { void *msg_name; int msg_namelen; ... }`.
const MSG_NAMELEN_OFFSET: u64 = 8;

/// The enter-side work of a network syscall. Returns whether to keep the
/// record and which socket the exit program should describe.
#[inline(always)]
pub fn on_enter(r: &mut SyscallRecord, extra: Extra) -> (bool, u32) {
    match extra {
        Extra::Socket => {
            // Netlink sockets are SOCK_RAW too (runc, ip, getifaddrs open
            // them all the time): only IP raw sockets count.
            let raw_ip = (r.args[0] == AF_INET as u64 || r.args[0] == AF_INET6 as u64)
                && r.args[1] & SOCK_TYPE_MASK == SOCK_RAW;
            (r.args[0] == AF_PACKET || raw_ip, TUPLE_NONE)
        }
        Extra::Connect => {
            read_sockaddr(r, r.args[1], r.args[2]);
            (connect_kept(r), TUPLE_ARG0)
        }
        Extra::Bind => {
            read_sockaddr(r, r.args[1], r.args[2]);
            (bind_kept(r), TUPLE_ARG0)
        }
        // Shells dup files for every redirection: only a socket is news.
        // The exit describes the socket as it is now, so the new fd never
        // inherits the endpoints of a dead socket that had its number.
        Extra::Dup => (socket_peer(r), TUPLE_ARG0_ANY),
        Extra::Listen => (true, TUPLE_ARG0),
        Extra::Accept => (true, TUPLE_RET),
        Extra::Sendto => (first_datagram(r, r.args[4], r.args[5]), TUPLE_ARG0),
        Extra::Sendmsg => {
            // sendmmsg's `struct mmsghdr` starts with the msghdr of its
            // first message.
            let hdr = r.args[1];
            let name = user::<u64>(hdr).unwrap_or(0);
            let len = user::<u32>(hdr + MSG_NAMELEN_OFFSET).unwrap_or(0);
            (first_datagram(r, name, len as u64), TUPLE_ARG0)
        }
        _ => (true, TUPLE_NONE),
    }
}

/// A connect to the sockaddr in `str0` is reported unless its peer is
/// loopback (and loopback is filtered).
#[inline(always)]
pub fn connect_kept(r: &SyscallRecord) -> bool {
    !sockaddr_is_loopback(r)
}

/// A bind to the sockaddr in `str0` is reported for unix sockets and for
/// IP with a port: netlink and other families bind all the time and say
/// nothing about the network; neither does an IP client asking for any
/// port (0) before it sends.
#[inline(always)]
pub fn bind_kept(r: &SyscallRecord) -> bool {
    let port = u16::from_ne_bytes([r.str0[2], r.str0[3]]);
    match sockaddr_family(r) {
        AF_UNIX => true,
        AF_INET | AF_INET6 => port != 0 && !sockaddr_is_loopback(r),
        _ => false,
    }
}

/// The exit-side work: the socket tuple into `str1`. Returns whether to
/// send the record (accept from a loopback peer or with nothing to accept
/// is dropped).
#[inline(always)]
pub fn on_exit(r: &mut SyscallRecord, tuple: u32, ret: i64) -> bool {
    if tuple == TUPLE_RET && ret == -EAGAIN {
        return false;
    }
    let fd = match tuple {
        TUPLE_ARG0 | TUPLE_ARG0_ANY => r.args[0],
        TUPLE_RET if ret >= 0 => ret as u64,
        _ => return true,
    };
    let Some(sk) = sock_of(fd) else {
        return true;
    };
    let mut t = SockTuple::default();
    fill_tuple(sk, &mut t);
    if tuple != TUPLE_ARG0_ANY && !net_loopback() && tuple_is_loopback(&t) {
        return false;
    }
    // SAFETY: str1 is PATH_LEN bytes, more than a SockTuple.
    unsafe { core::ptr::write_unaligned(r.str1.as_mut_ptr() as *mut SockTuple, t) };
    r.str1_len = core::mem::size_of::<SockTuple>() as u16;
    r.flags |= syscall_flags::STR1_TUPLE;
    true
}

/// sendto/sendmsg: keep only a datagram with an IP destination, not
/// loopback, that this socket has not sent to before.
#[inline(always)]
fn first_datagram(r: &mut SyscallRecord, addr: u64, len: u64) -> bool {
    if addr == 0 || len == 0 {
        return false;
    }
    read_sockaddr(r, addr, len);
    let family = sockaddr_family(r);
    if (family != AF_INET && family != AF_INET6) || sockaddr_is_loopback(r) {
        return false;
    }
    let Some(ino) = socket_ino(r.args[0]) else {
        return false;
    };
    let mut key = FlowKey {
        ino,
        family,
        port: u16::from_ne_bytes([r.str0[2], r.str0[3]]),
        _pad: 0,
        addr: [0; 16],
    };
    if family == AF_INET {
        key.addr[..4].copy_from_slice(&r.str0[4..8]);
    } else {
        key.addr.copy_from_slice(&r.str0[8..24]);
    }
    if NET_FLOWS.get_ptr(&key).is_some() {
        return false;
    }
    let _ = NET_FLOWS.insert(&key, &1, 0);
    true
}

/// Copy the user sockaddr at `addr` (`len` bytes, at most 128) into `str0`.
#[inline(always)]
fn read_sockaddr(r: &mut SyscallRecord, addr: u64, len: u64) {
    copy_sockaddr(r, addr, len, false);
}

/// Copy the kernel's copy of a sockaddr (an LSM hook's argument) into
/// `str0`, as [`read_sockaddr`] copies the caller's.
#[inline(always)]
pub fn lsm_sockaddr(r: &mut SyscallRecord, addr: u64, len: u64) {
    copy_sockaddr(r, addr, len, true);
}

#[inline(always)]
fn copy_sockaddr(r: &mut SyscallRecord, addr: u64, len: u64, kernel: bool) {
    if addr == 0 || len == 0 {
        return;
    }
    let len = if len > SOCKADDR_MAX as u64 {
        SOCKADDR_MAX
    } else {
        len as u32
    };
    let len = ((len - 1) & (SOCKADDR_MAX - 1)) + 1;
    let dst = r.str0.as_mut_ptr() as *mut c_void;
    // SAFETY: `len` <= 128 <= PATH_LEN.
    let ok = unsafe {
        if kernel {
            bpf_probe_read_kernel(dst, len, addr as *const c_void)
        } else {
            bpf_probe_read_user(dst, len, addr as *const c_void)
        }
    } == 0;
    if ok {
        r.str0_len = len as u16;
        r.flags |= syscall_flags::STR0_SOCKADDR;
    }
}

#[inline(always)]
fn sockaddr_family(r: &SyscallRecord) -> u16 {
    if r.flags & syscall_flags::STR0_SOCKADDR == 0 {
        return 0;
    }
    u16::from_ne_bytes([r.str0[0], r.str0[1]])
}

/// The sockaddr in `str0` is a loopback address (and loopback is filtered).
#[inline(always)]
fn sockaddr_is_loopback(r: &SyscallRecord) -> bool {
    if net_loopback() {
        return false;
    }
    match sockaddr_family(r) {
        AF_INET => r.str0[4] == 127,
        AF_INET6 => {
            let a: &[u8; 16] = r.str0[8..24].try_into().unwrap_or(&[0; 16]);
            v6_is_loopback(a)
        }
        _ => false,
    }
}

/// The tuple's peer is loopback; without a peer (bind, listen), its local
/// address is.
#[inline(always)]
fn tuple_is_loopback(t: &SockTuple) -> bool {
    let peer = t.remote_port != 0;
    let a = if peer { &t.remote } else { &t.local };
    match t.family {
        AF_INET => a[0] == 127,
        AF_INET6 => v6_is_loopback(a),
        _ => false,
    }
}

/// `::1`, or an IPv4-mapped `::ffff:127.x.x.x`.
#[inline(always)]
fn v6_is_loopback(a: &[u8; 16]) -> bool {
    let hi = u64::from_ne_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]]);
    let lo = u64::from_be_bytes([a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]]);
    hi == 0 && (lo == 1 || lo >> 24 == 0xffff_7f)
}

/// The `struct file` of the current task's `fd`.
#[inline(always)]
pub(crate) fn file_of(fd: u64) -> Option<u64> {
    // SAFETY: helper without arguments.
    let task = unsafe { bpf_get_current_task() };
    let files = ptr(task, off!(task_files))?;
    let fdt = ptr(files, off!(files_fdt))?;
    let max = read::<u32>(fdt, off!(fdtable_max_fds))?;
    if fd >= max as u64 {
        return None;
    }
    let fds = ptr(fdt, off!(fdtable_fd))?;
    ptr(fds + fd * 8, 0)
}

/// The `struct sock` behind `fd`, if it is a socket (callers ask only for
/// fds the syscall used as one).
#[inline(always)]
fn sock_of(fd: u64) -> Option<u64> {
    let socket = ptr(file_of(fd)?, off!(file_private_data))?;
    ptr(socket, off!(socket_sk))
}

const S_IFMT: u16 = 0o170000;
const S_IFSOCK: u16 = 0o140000;

/// dup*(): whether `oldfd` (args[0]) is an IPv4/IPv6 socket; if so its
/// peer, as a `sockaddr_in`/`sockaddr_in6`, into str0 (connect's format),
/// loopback included (a reverse shell to a local listener is still one).
#[inline(always)]
fn socket_peer(r: &mut SyscallRecord) -> bool {
    let Some(file) = file_of(r.args[0]) else {
        return false;
    };
    let mode = ptr(file, off!(file_f_inode))
        .and_then(|i| read::<u16>(i, off!(inode_i_mode)))
        .unwrap_or(0);
    if mode & S_IFMT != S_IFSOCK {
        return false;
    }
    let Some(sk) = ptr(file, off!(file_private_data)).and_then(|s| ptr(s, off!(socket_sk))) else {
        return false;
    };
    let family = read::<u16>(sk, off!(sk_family)).unwrap_or(0);
    let port = read::<u16>(sk, off!(sk_dport)).unwrap_or(0);
    let out = r.str0.as_mut_ptr();
    // SAFETY: str0 is PATH_LEN (256) bytes, more than a sockaddr_in6 (28).
    unsafe {
        match family {
            AF_INET => {
                let addr = read::<u32>(sk, off!(sk_daddr)).unwrap_or(0);
                (out as *mut [u8; 16]).write_unaligned([0; 16]);
                (out as *mut u16).write_unaligned(AF_INET);
                (out.add(2) as *mut u16).write_unaligned(port);
                (out.add(4) as *mut u32).write_unaligned(addr);
                r.str0_len = 16;
            }
            AF_INET6 => {
                let addr = read::<[u8; 16]>(sk, off!(sk_v6_daddr)).unwrap_or([0; 16]);
                (out as *mut [u8; 28]).write_unaligned([0; 28]);
                (out as *mut u16).write_unaligned(AF_INET6);
                (out.add(2) as *mut u16).write_unaligned(port);
                (out.add(8) as *mut [u8; 16]).write_unaligned(addr);
                r.str0_len = 28;
            }
            _ => return false,
        }
    }
    r.flags |= syscall_flags::STR0_SOCKADDR;
    true
}

/// The tuple of `sock` (a `struct socket`) before a connect or bind runs,
/// into `str1` (LSM mode). A connect's peer is not set yet (the agent
/// takes the sockaddr's), nor is its local port unless bound; a bind's
/// local end is the sockaddr asked for, as the kernel is about to set it.
#[inline(always)]
pub fn tuple_before(r: &mut SyscallRecord, sock: u64, bind: bool) {
    let Some(sk) = ptr(sock, off!(socket_sk)) else {
        return;
    };
    let mut t = SockTuple::default();
    fill_tuple(sk, &mut t);
    if bind {
        let port = u16::from_be_bytes([r.str0[2], r.str0[3]]);
        match sockaddr_family(r) {
            AF_INET => {
                t.local = [0; 16];
                t.local[..4].copy_from_slice(&r.str0[4..8]);
                t.local_port = port;
            }
            AF_INET6 => {
                t.local.copy_from_slice(&r.str0[8..24]);
                t.local_port = port;
            }
            _ => {}
        }
    }
    // SAFETY: str1 is PATH_LEN bytes, more than a SockTuple.
    unsafe { core::ptr::write_unaligned(r.str1.as_mut_ptr() as *mut SockTuple, t) };
    r.str1_len = core::mem::size_of::<SockTuple>() as u16;
    r.flags |= syscall_flags::STR1_TUPLE;
}

/// The inode number of `fd`'s socket: unlike the `struct sock` address,
/// never reused by a later socket (a freed sock's memory is).
#[inline(always)]
fn socket_ino(fd: u64) -> Option<u64> {
    let inode = ptr(file_of(fd)?, off!(file_f_inode))?;
    read::<u64>(inode, off!(inode_i_ino))
}

/// Family, type, protocol and both ends of `sk`.
#[inline(always)]
pub(crate) fn fill_tuple(sk: u64, t: &mut SockTuple) {
    t.family = read::<u16>(sk, off!(sk_family)).unwrap_or(0);
    t.sock_type = read::<u16>(sk, off!(sk_type)).unwrap_or(0);
    t.protocol = read::<u16>(sk, off!(sk_protocol)).unwrap_or(0);
    t.local_port = read::<u16>(sk, off!(sk_num)).unwrap_or(0);
    t.remote_port = u16::from_be(read::<u16>(sk, off!(sk_dport)).unwrap_or(0));
    match t.family {
        AF_INET => {
            let l = read::<[u8; 4]>(sk, off!(sk_rcv_saddr)).unwrap_or([0; 4]);
            let r = read::<[u8; 4]>(sk, off!(sk_daddr)).unwrap_or([0; 4]);
            t.local[..4].copy_from_slice(&l);
            t.remote[..4].copy_from_slice(&r);
        }
        AF_INET6 => {
            t.local = read::<[u8; 16]>(sk, off!(sk_v6_rcv_saddr)).unwrap_or([0; 16]);
            t.remote = read::<[u8; 16]>(sk, off!(sk_v6_daddr)).unwrap_or([0; 16]);
        }
        _ => {}
    }
}
