//! Network syscalls reach the agent with both endpoints, filtered in the
//! kernel: loopback only when asked for, UDP only for a flow's first
//! datagram, socket() only for packet and raw IP sockets.
//!
//! Each act runs in a forked child (the test process is the "agent" whose
//! own syscalls the sensor ignores) making raw syscalls only, so the test
//! also runs in the VM; records are picked by the child's pid, so
//! concurrent activity on the host does not matter.

use std::mem::{size_of, zeroed};

use super::*;
use monitor_common::SyscallRecord;
use monitor_user::event::sysargs::{self, Conn};

/// Runs `f` in a forked child that exits with its result; returns the
/// child's pid once it exited 0. `f` may only make raw syscalls.
fn act(f: impl FnOnce() -> i32) -> u32 {
    // SAFETY: the child makes raw syscalls on stack data and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let rc = f();
        unsafe { libc::_exit(rc) };
    }
    assert_eq!(wait_exit(pid), 0, "act in child {pid} failed");
    pid as u32
}

/// An IPv4 or IPv6 loopback sockaddr with `port`, and its length.
/// `last` is the last byte of the IPv4 address (127.0.0.`last`).
fn loopback(v6: bool, last: u8, port: u16) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero sockaddr_storage is valid.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let p = &raw mut ss;
    if v6 {
        // SAFETY: sockaddr_storage is large enough for sockaddr_in6.
        let a = unsafe { &mut *p.cast::<libc::sockaddr_in6>() };
        a.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        a.sin6_port = port.to_be();
        a.sin6_addr.s6_addr[15] = 1;
        (ss, size_of::<libc::sockaddr_in6>() as libc::socklen_t)
    } else {
        // SAFETY: as above, for sockaddr_in.
        let a = unsafe { &mut *p.cast::<libc::sockaddr_in>() };
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_port = port.to_be();
        a.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, last]);
        (ss, size_of::<libc::sockaddr_in>() as libc::socklen_t)
    }
}

/// A listener on loopback port 0, a connection to it, accepted.
fn tcp_pair(v6: bool) -> i32 {
    let (mut addr, mut len) = loopback(v6, 1, 0);
    let sa = (&raw mut addr).cast::<libc::sockaddr>();
    let fam = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: raw socket calls on fds we own and a local address buffer.
    unsafe {
        let l = libc::socket(fam, libc::SOCK_STREAM, 0);
        if l < 0 || libc::bind(l, sa, len) != 0 || libc::listen(l, 1) != 0 {
            return 1;
        }
        if libc::getsockname(l, sa, &mut len) != 0 {
            return 2;
        }
        let c = libc::socket(fam, libc::SOCK_STREAM, 0);
        if libc::connect(c, sa, len) != 0 {
            return 3;
        }
        if libc::accept4(l, std::ptr::null_mut(), std::ptr::null_mut(), 0) < 0 {
            return 4;
        }
    }
    0
}

/// `n` datagrams to 127.0.0.`last`:9 from one unconnected UDP socket.
fn udp_send(last: u8, n: u32) -> i32 {
    let (addr, len) = loopback(false, last, 9);
    let sa = (&raw const addr).cast::<libc::sockaddr>();
    // SAFETY: raw socket calls on an fd we own and local buffers.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        for _ in 0..n {
            if libc::sendto(s, b"x".as_ptr().cast(), 1, 0, sa, len) != 1 {
                return 1;
            }
        }
    }
    0
}

/// One datagram to 127.0.0.1:9 with sendmsg().
fn udp_sendmsg() -> i32 {
    let (mut addr, len) = loopback(false, 1, 9);
    let mut data = *b"sendmsg";
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: a zeroed msghdr is valid; its pointers are to live locals.
    unsafe {
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = (&raw mut addr).cast();
        msg.msg_namelen = len;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if libc::sendmsg(s, &msg, 0) < 0 {
            return 1;
        }
    }
    0
}

fn socket_of(domain: i32, ty: i32) -> i32 {
    // SAFETY: creating a socket; the fd dies with the child.
    if unsafe { libc::socket(domain, ty, 0) } < 0 {
        1
    } else {
        0
    }
}

/// A unix listener at `path` and a connection to it.
fn unix_connect(path: &std::ffi::CStr) -> i32 {
    // SAFETY: all-zero sockaddr_un is valid; the path fits (checked by the caller).
    let mut addr: libc::sockaddr_un = unsafe { zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.to_bytes();
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = (size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    let sa = (&raw const addr).cast::<libc::sockaddr>();
    // SAFETY: raw socket calls on fds we own and a local address.
    unsafe {
        let l = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        if libc::bind(l, sa, len) != 0 || libc::listen(l, 1) != 0 {
            return 1;
        }
        let c = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        if libc::connect(c, sa, len) != 0 {
            return 2;
        }
    }
    0
}

fn of(records: &[Record], pid: u32, id: SyscallId) -> Vec<SyscallRecord> {
    records
        .iter()
        .filter_map(syscall)
        .filter(|s| s.header.tgid == pid && s.id() == Some(id))
        .copied()
        .collect()
}

fn conn(r: &SyscallRecord) -> Conn {
    sysargs::decode(r)
        .conn
        .unwrap_or_else(|| panic!("{:?} without a socket tuple", r.id()))
}

fn name(r: &SyscallRecord) -> String {
    sysargs::decode(r).path.unwrap_or_default()
}

#[tokio::test]
async fn sensor_reports_both_ends_of_tcp_and_udp() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    // The tracepoints' records (a connect's local port, its result): LSM
    // mode's socket_connect/socket_bind are checked by tests/tests/lsm.
    let cfg = SensorConfig {
        net_loopback: true,
        ..tracepoint_config()
    };
    let mut sensor = Sensor::load(&cfg).expect("load sensor");
    for tp in [
        "socket", "bind", "listen", "accept4", "connect", "sendto", "sendmsg",
    ] {
        let name = format!("syscalls/sys_enter_{tp}");
        assert!(
            sensor
                .hooks()
                .iter()
                .any(|h| h.name == name && h.attached.is_ok()),
            "hook {name} not attached"
        );
    }
    let tcp4 = act(|| tcp_pair(false));
    let tcp6 = act(|| tcp_pair(true));
    let udp = act(|| udp_send(1, 3));
    let udp_other = act(|| udp_send(2, 1));
    // A new socket to the same destination is a new flow, even where it
    // reuses the freed memory of the last one's `struct sock`.
    let udp_again = act(|| udp_send(1, 1));
    let msg = act(udp_sendmsg);
    let packet = act(|| socket_of(libc::AF_PACKET, libc::SOCK_RAW));
    let inet = act(|| socket_of(libc::AF_INET, libc::SOCK_STREAM));
    let netlink = act(|| socket_of(libc::AF_NETLINK, libc::SOCK_RAW));
    // The last act: once its record is in, the earlier ones are too.
    let marker = act(|| udp_send(3, 1));
    let recs = collect(&mut sensor, 20, |all| {
        !of(all, marker, SyscallId::Sendto).is_empty()
    })
    .await;

    let name_of = |ip: &str, p: u16| {
        if ip.contains(':') {
            format!("[{ip}]:{p}")
        } else {
            format!("{ip}:{p}")
        }
    };
    for (pid, ip) in [(tcp4, "127.0.0.1"), (tcp6, "::1")] {
        let bind = of(&recs, pid, SyscallId::Bind);
        let listen = of(&recs, pid, SyscallId::Listen);
        let connect = of(&recs, pid, SyscallId::Connect);
        let accept = of(&recs, pid, SyscallId::Accept4);
        // The listener bound port 0 (any): a bind that names no port is
        // filtered out, listen says which port it got.
        assert_eq!(
            (bind.len(), listen.len(), connect.len(), accept.len()),
            (0, 1, 1, 1),
            "tcp-pair {ip}: listen, connect, accept4 once each"
        );
        let l = conn(&listen[0]);
        let server = l.server.clone().expect("listen: server end");
        assert_eq!((server.ip.as_str(), l.l4proto.as_str()), (ip, "tcp"));
        assert!(server.port > 0 && l.local_is_server && l.client.is_none());

        let c = conn(&connect[0]);
        assert_eq!(c.server, Some(server.clone()), "connect's server");
        let client = c.client.clone().expect("connect: client end");
        assert_eq!(client.ip, ip);
        assert!(client.port > 0 && client.port != server.port);
        assert!(!c.local_is_server && c.connected);
        assert_eq!(
            name(&connect[0]),
            format!("{}->{}", name_of(ip, client.port), name_of(ip, server.port))
        );

        // accept: the same flow seen from the server; fd.name alike.
        let a = conn(&accept[0]);
        assert_eq!((a.client, a.server), (Some(client), Some(server)));
        assert!(a.local_is_server && accept[0].ret >= 0);
        assert_eq!(name(&accept[0]), name(&connect[0]));
    }

    // UDP: three datagrams to one destination are one flow.
    let sends = of(&recs, udp, SyscallId::Sendto);
    assert_eq!(
        sends.len(),
        1,
        "one sendto of three to the same destination"
    );
    let u = conn(&sends[0]);
    assert_eq!(u.l4proto, "udp");
    assert!(!u.connected);
    let server = u.server.expect("sendto: destination");
    assert_eq!((server.ip.as_str(), server.port), ("127.0.0.1", 9));
    assert!(u.client.expect("sendto: source").port > 0);
    assert_eq!(of(&recs, udp_other, SyscallId::Sendto).len(), 1);
    assert_eq!(
        of(&recs, udp_again, SyscallId::Sendto).len(),
        1,
        "a new socket's first datagram to a destination seen before"
    );
    let m = of(&recs, msg, SyscallId::Sendmsg);
    assert_eq!(m.len(), 1, "sendmsg with a destination");
    assert_eq!(conn(&m[0]).server.map(|e| e.port), Some(9));

    // socket(): packet sockets are reported; TCP and netlink sockets are not.
    let p = of(&recs, packet, SyscallId::Socket);
    assert_eq!(p.len(), 1, "packet socket");
    let args = sysargs::decode(&p[0]).args;
    let domain = args.iter().find(|a| a.name == "domain").expect("domain");
    assert!(format!("{:?}", domain.value).contains("AF_PACKET"));
    assert!(of(&recs, inet, SyscallId::Socket).is_empty());
    assert!(
        of(&recs, netlink, SyscallId::Socket).is_empty(),
        "netlink sockets are SOCK_RAW but not raw IP sockets"
    );
    assert!(of(&recs, tcp4, SyscallId::Socket).is_empty());
}

#[tokio::test]
async fn loopback_is_filtered_in_the_kernel_by_default() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let mut sensor = Sensor::load(&SensorConfig::default()).expect("load sensor");
    let tmp = TempDir::new("net");
    let sock = tmp.0.join("sock");
    let sock_c = cstr(&sock);
    assert!(sock_c.to_bytes().len() < 100, "socket path too long");
    let tcp = act(|| tcp_pair(false));
    let udp = act(|| udp_send(1, 2));
    let marker = act(|| unix_connect(&sock_c));
    let recs = collect(&mut sensor, 20, |all| {
        !of(all, marker, SyscallId::Connect).is_empty()
    })
    .await;
    // Unix sockets are kept, with their path.
    let unix = of(&recs, marker, SyscallId::Connect);
    assert_eq!(unix.len(), 1, "unix connect reported");
    assert_eq!(name(&unix[0]), sock.to_str().unwrap());
    assert_eq!(of(&recs, marker, SyscallId::Bind).len(), 1, "unix bind");
    for id in [
        SyscallId::Bind,
        SyscallId::Listen,
        SyscallId::Connect,
        SyscallId::Accept4,
        SyscallId::Sendto,
    ] {
        assert!(
            of(&recs, tcp, id).is_empty() && of(&recs, udp, id).is_empty(),
            "loopback {} reported without net_loopback",
            id.name()
        );
    }
}
