//! DNS actions: a resolver of the test's own (UDP and TCP) and clients
//! that query it the ways real resolvers do (a connected UDP socket with
//! write/read, TCP with its length prefix).

use std::io::Error;

use crate::net::sock_addr;

/// Names [`dns_serve`] answers, with their address.
const DNS_NAMES: &[(&str, [u8; 4])] = &[
    ("c2.example.com", [127, 0, 0, 7]),
    ("kubernetes.default.svc.cluster.local", [127, 0, 0, 8]),
];

/// A DNS resolver on `addr` for `secs` seconds, UDP and TCP: an A query
/// for one of [`DNS_NAMES`] gets its address (TTL 60), another type for it
/// an empty answer, any other name NXDOMAIN.
pub fn dns_serve(addr: &str, secs: std::time::Duration) -> Result<(), Error> {
    let s = std::net::UdpSocket::bind(sock_addr(addr))?;
    let tcp = std::net::TcpListener::bind(sock_addr(addr))?;
    std::thread::spawn(move || {
        for conn in tcp.incoming().flatten() {
            let _ = dns_serve_tcp(conn);
        }
    });
    let end = std::time::Instant::now() + secs;
    let mut buf = [0u8; 512];
    while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
        s.set_read_timeout(Some(left.max(std::time::Duration::from_millis(1))))?;
        let Ok((n, from)) = s.recv_from(&mut buf) else {
            continue;
        };
        if let Some(reply) = dns_reply(&buf[..n]) {
            s.send_to(&reply, from)?;
        }
    }
    Ok(())
}

/// The reply to one query (header, one question), `None` if it is not one.
fn dns_reply(q: &[u8]) -> Option<Vec<u8>> {
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*q.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).into_owned());
        i += len;
    }
    let question = q.get(12..i + 4)?;
    let qtype = u16::from_be_bytes([q[i], q[i + 1]]);
    let name = labels.join(".");
    let known = DNS_NAMES.iter().find(|(n, _)| *n == name);
    let answer = known.filter(|_| qtype == 1).map(|(_, ip)| ip);
    let mut r = Vec::with_capacity(q.len() + 16);
    r.extend_from_slice(&q[..2]);
    r.extend([0x81, if known.is_some() { 0x80 } else { 0x83 }, 0, 1, 0]);
    r.push(u8::from(answer.is_some()));
    r.extend([0, 0, 0, 0]);
    r.extend_from_slice(question);
    if let Some(ip) = answer {
        r.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        r.extend(ip);
    }
    Some(r)
}

/// The queries of one TCP connection, each with its 2-byte length prefix.
fn dns_serve_tcp(mut conn: std::net::TcpStream) -> Result<(), Error> {
    use std::io::{Read, Write};
    conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    loop {
        let mut len = [0u8; 2];
        conn.read_exact(&mut len)?;
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        conn.read_exact(&mut q)?;
        let reply = dns_reply(&q).unwrap_or_default();
        let mut out = (reply.len() as u16).to_be_bytes().to_vec();
        out.extend(reply);
        conn.write_all(&out)?;
    }
}

/// An A query for `name` (id 0x5151, recursion desired).
fn dns_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x51, 0x51, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend(label.as_bytes());
    }
    q.extend([0, 0, 1, 0, 1]);
    q
}

/// The first A record's address of a reply, for the action's output.
fn dns_first_a(r: &[u8]) -> String {
    match r.len() {
        n if n >= 4 && r.get(n - 6..n - 4) == Some(&[0, 4]) => {
            std::net::Ipv4Addr::new(r[n - 4], r[n - 3], r[n - 2], r[n - 1]).to_string()
        }
        _ => "no address".to_owned(),
    }
}

/// An A query for `name` to `addr` with plain write() and read() on a
/// connected UDP socket, the way Go's and musl's resolvers send.
pub fn dns_udp_connected(addr: &str, name: &str) -> Result<(), Error> {
    use std::os::fd::AsRawFd;
    let to = sock_addr(addr);
    let any = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let s = std::net::UdpSocket::bind(sock_addr(any))?;
    s.connect(to)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
    let q = dns_query(name);
    // SAFETY: a buffer of ours, on a socket of ours.
    let sent = unsafe { libc::write(s.as_raw_fd(), q.as_ptr().cast(), q.len()) };
    if sent < 0 {
        return Err(Error::last_os_error());
    }
    let mut buf = [0u8; 512];
    // SAFETY: as above; the kernel writes at most `buf.len()` bytes.
    let got = unsafe { libc::read(s.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if got < 0 {
        return Err(Error::last_os_error());
    }
    println!(
        "dns-udp-connected: {name} -> {}",
        dns_first_a(&buf[..got as usize])
    );
    Ok(())
}

/// An A query for `name` to `addr` over TCP (RFC 1035's 2-byte length
/// prefix before each message, the query in one segment).
pub fn dns_tcp(addr: &str, name: &str) -> Result<(), Error> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(sock_addr(addr))?;
    conn.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
    let q = dns_query(name);
    let mut out = (q.len() as u16).to_be_bytes().to_vec();
    out.extend(q);
    conn.write_all(&out)?;
    let mut len = [0u8; 2];
    conn.read_exact(&mut len)?;
    let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
    conn.read_exact(&mut r)?;
    println!("dns-tcp: {name} -> {}", dns_first_a(&r));
    Ok(())
}
