//! A minimal HTTP/1.1 GET for tests that talk to the agent's listener or to
//! Prometheus, also from inside another network namespace (a pod's).
//!
//! Plain `std::net` and one request per connection (`Connection: close`):
//! enough for `/readyz`, `/metrics` and Prometheus's query API, with no
//! client crate to pull in.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::Error;

/// A response: status code and body.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

fn io_err(what: String, source: std::io::Error) -> Error {
    Error::Io {
        path: what.into(),
        source,
    }
}

/// `GET path` from `addr` (path may carry a query string, already encoded).
pub fn get(addr: SocketAddr, path: &str) -> Result<Response, Error> {
    let what = format!("http://{addr}{path}");
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| io_err(what.clone(), e))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| io_err(what.clone(), e))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| io_err(what.clone(), e))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| io_err(what.clone(), e))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            io_err(
                what.clone(),
                std::io::Error::other(format!("not an HTTP response: {head:?}")),
            )
        })?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(Response { status, body })
}

/// [`get`] from inside the network namespace of process `pid` (a pod's
/// container): the request runs on a thread that joins that namespace, so
/// the test process itself stays where it is.
pub fn get_in_netns(pid: u32, addr: SocketAddr, path: &str) -> Result<Response, Error> {
    let ns = format!("/proc/{pid}/ns/net");
    let path = path.to_string();
    std::thread::spawn(move || {
        let f = std::fs::File::open(&ns).map_err(|e| io_err(ns.clone(), e))?;
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a valid namespace fd; it changes only this thread.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io_err(ns, std::io::Error::last_os_error()));
        }
        get(addr, &path)
    })
    .join()
    .unwrap_or_else(|_| {
        Err(io_err(
            "netns thread".into(),
            std::io::Error::other("panicked"),
        ))
    })
}

/// Percent-encodes a query parameter value.
pub fn encode_query(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A free TCP port on loopback (bound, then released).
pub fn free_port() -> Result<u16, Error> {
    let l =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| io_err("127.0.0.1:0".into(), e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| io_err("127.0.0.1:0".into(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            "hello world"
        );
        assert_eq!(encode_query("up{job=\"v\"}"), "up%7Bjob%3D%22v%22%7D");
    }
}
