//! Network acts: unix and TCP connections, a shell on a socket,
//! loopback streams and servers, UDP datagrams, a tiny DNS server.

use std::io::Error;

use crate::{check, cstr, usage};

pub fn unix_addr(path: &str) -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: sockaddr_un is plain data; all zeroes is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let b = path.as_bytes();
    if b.len() >= addr.sun_path.len() {
        usage("socket path too long");
    }
    for (d, s) in addr.sun_path.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + b.len() + 1;
    (addr, len as libc::socklen_t)
}

/// Listens on `path`, then connects to it (so the connect succeeds).
pub fn unix_connect(path: &str) -> Result<(), Error> {
    let _ = std::fs::remove_file(path);
    let (addr, len) = unix_addr(path);
    let sa = &addr as *const libc::sockaddr_un as *const libc::sockaddr;
    // SAFETY: plain socket calls on fds we own, with a valid address.
    unsafe {
        let server = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if server < 0 {
            return Err(Error::last_os_error());
        }
        check(libc::bind(server, sa, len))?;
        check(libc::listen(server, 1))?;
        let client = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        let r = check(libc::connect(client, sa, len));
        libc::close(client);
        libc::close(server);
        let _ = std::fs::remove_file(path);
        r
    }
}

/// Runs SHELL with its stdin and stdout on one end of a connected socket
/// pair (a loopback TCP connection, or a unix socketpair for the benign
/// look-alike) and feeds it `sleep 2; exit` through the other end.
pub fn shell_on(kind: &str, shell: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::fd::{AsRawFd, OwnedFd};
    let (ours, theirs): (OwnedFd, OwnedFd) = match kind {
        "tcp" => {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            let c = std::net::TcpStream::connect(l.local_addr()?)?;
            let (a, _) = l.accept()?;
            (a.into(), c.into())
        }
        "unix" => {
            let (a, b) = std::os::unix::net::UnixStream::pair()?;
            (a.into(), b.into())
        }
        _ => usage("shell-on: tcp or unix"),
    };
    let sh = cstr(shell);
    let theirs_fd = theirs.as_raw_fd();
    // SAFETY: the child only dup2s and execs (async-signal-safe).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::last_os_error());
    }
    if pid == 0 {
        unsafe {
            libc::dup2(theirs_fd, 0);
            libc::dup2(theirs_fd, 1);
            let argv = [sh.as_ptr(), std::ptr::null()];
            libc::execv(sh.as_ptr(), argv.as_ptr());
            libc::_exit(127);
        }
    }
    drop(theirs);
    let mut s = std::fs::File::from(ours);
    let fed = s.write_all(b"sleep 2; exit\n");
    let mut status = 0;
    // SAFETY: our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    fed?;
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(Error::other(format!("{shell} exited with status {status}")))
    }
}

/// What a miner sends first to a stratum pool.
pub const STRATUM_SUBSCRIBE: &[u8] =
    b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"vigil-test/1.0\"]}\n";

pub fn sock_addr(addr: &str) -> std::net::SocketAddr {
    addr.parse()
        .unwrap_or_else(|_| usage(&format!("not an IP:PORT address: {addr}")))
}

/// A listener on `ip` (kernel-chosen port), one connection to it, accepted:
/// bind, listen, connect and accept of one TCP flow.
pub fn tcp_pair(ip: &str) -> Result<(), Error> {
    let ip: std::net::IpAddr = ip.parse().unwrap_or_else(|_| usage("IP"));
    let listener = std::net::TcpListener::bind((ip, 0))?;
    let client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (server, peer) = listener.accept()?;
    println!("tcp-pair: {} -> {}", peer, server.local_addr()?);
    drop(client);
    Ok(())
}

/// Stream zeros over loopback TCP to a reader in this process for `secs`,
/// at `kib_per_s` KiB/s (0: as fast as the CPU allows): traffic that stays
/// in the container's own network namespace.
pub fn tcp_stream(secs: std::time::Duration, kib_per_s: u64) -> Result<(), Error> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        while let Ok(n @ 1..) = server.read(&mut buf) {
            total += n as u64;
        }
        total
    });
    let chunk = vec![0u8; 1 << 16];
    let start = std::time::Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < secs {
        if kib_per_s > 0 {
            let due = sent as f64 / (kib_per_s * 1024) as f64;
            let ahead = due - start.elapsed().as_secs_f64();
            if ahead > 0.0 {
                std::thread::sleep(std::time::Duration::from_secs_f64(ahead.min(0.1)));
                continue;
            }
        }
        client.write_all(&chunk)?;
        sent += chunk.len() as u64;
    }
    drop(client);
    let got = reader.join().unwrap_or(0);
    println!("tcp-stream: sent {sent} received {got} bytes");
    Ok(())
}

/// Listen on `addr` and accept connections for `secs` (answers each with a line).
pub fn tcp_serve(addr: &str, secs: std::time::Duration) -> Result<(), Error> {
    use std::io::Write;
    let listener = std::net::TcpListener::bind(sock_addr(addr))?;
    listener.set_nonblocking(true)?;
    let end = std::time::Instant::now() + secs;
    while std::time::Instant::now() < end {
        match listener.accept() {
            Ok((mut s, _)) => {
                let _ = s.write_all(b"hello\n");
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Connect to `addr`, then dup2 the socket onto stdin (as a reverse shell
/// does before it execs): a later event on another fd of the same socket.
pub fn tcp_dup(addr: &str) -> Result<(), Error> {
    use std::os::fd::AsRawFd;
    let s =
        std::net::TcpStream::connect_timeout(&sock_addr(addr), std::time::Duration::from_secs(3))?;
    // SAFETY: two valid descriptors; fd 0 is replaced, as intended.
    check(unsafe { libc::dup2(s.as_raw_fd(), 0) })
}

/// Connect to `addr` and send `payload` if given.
pub fn tcp_connect(addr: &str, payload: Option<&[u8]>) -> Result<(), Error> {
    use std::io::Write;
    let mut s =
        std::net::TcpStream::connect_timeout(&sock_addr(addr), std::time::Duration::from_secs(3))?;
    if let Some(p) = payload {
        s.write_all(p)?;
    }
    Ok(())
}

/// `n` datagrams from one unconnected UDP socket to `addr` (sendto).
pub fn udp_send(addr: &str, n: u32) -> Result<(), Error> {
    let to = sock_addr(addr);
    let any: std::net::SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let s = std::net::UdpSocket::bind(any)?;
    for i in 0..n {
        s.send_to(format!("datagram {i}").as_bytes(), to)?;
    }
    Ok(())
}

/// One datagram to an IPv4 `addr` with sendmsg().
pub fn udp_sendmsg(addr: &str) -> Result<(), Error> {
    let std::net::SocketAddr::V4(to) = sock_addr(addr) else {
        usage("udp-sendmsg takes an IPv4 address");
    };
    // SAFETY: a zeroed sockaddr_in is valid; filled below.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_port = to.port().to_be();
    sin.sin_addr.s_addr = u32::from_ne_bytes(to.ip().octets());
    let mut data = *b"sendmsg";
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: a zeroed msghdr is valid; its pointers are set to live locals.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut sin).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: plain socket calls on an fd we own, with valid pointers.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(Error::last_os_error());
        }
        let r = libc::sendmsg(fd, &msg, 0);
        libc::close(fd);
        if r < 0 {
            return Err(Error::last_os_error());
        }
    }
    Ok(())
}

/// `addr` as raw `sockaddr_in`/`sockaddr_in6` bytes and their length.
pub fn raw_sockaddr(addr: std::net::SocketAddr) -> (Vec<u8>, libc::socklen_t) {
    let mut buf = vec![0u8; std::mem::size_of::<libc::sockaddr_in6>()];
    let len = match addr {
        std::net::SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: buf is larger than a sockaddr_in.
            unsafe { std::ptr::write_unaligned(buf.as_mut_ptr() as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        std::net::SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: buf is exactly a sockaddr_in6.
            unsafe { std::ptr::write_unaligned(buf.as_mut_ptr() as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (buf, len as libc::socklen_t)
}
