//! `proc.stdin.*` and `proc.stdout.*`: what a program's standard input and
//! output are when it starts. A shell reading commands from a TCP
//! connection is a reverse shell, however the connection was set up
//! (`nc -e`, bash's `/dev/tcp`, a Python one-liner, `socat`, a dup2 in an
//! exploit). The exec record does not carry it, so it is read from procfs
//! when the agent handles the exec, like `proc.cwd`: the fd links
//! (`/proc/<pid>/fd/0`, `socket:[INODE]`) and, for a socket, the process's
//! own network namespace tables (`/proc/<pid>/net/tcp`, ...), which give
//! its family and both ends. A program that is already gone when the
//! agent reads leaves the fields absent.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::event::text::escape;
use crate::event::StdFd;

/// Standard input and output of `pid`.
pub fn exec_stdio(proc_root: &Path, pid: u32) -> (Option<StdFd>, Option<StdFd>) {
    let dir = proc_root.join(pid.to_string());
    let one = |fd: u32| {
        let link = std::fs::read_link(dir.join("fd").join(fd.to_string())).ok()?;
        Some(classify(&dir, link.as_os_str().as_bytes()))
    };
    (one(0), one(1))
}

fn classify(proc_dir: &Path, link: &[u8]) -> StdFd {
    let text = escape(link);
    let inner = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(']'))
            .map(str::to_owned)
    };
    if let Some(ino) = inner("socket:[") {
        return socket(proc_dir, &ino).unwrap_or(StdFd {
            kind: "socket".into(),
            name: text,
        });
    }
    if text.starts_with("pipe:[") {
        return StdFd {
            kind: "pipe".into(),
            name: text,
        };
    }
    if let Some(kind) =
        inner("anon_inode:[").or_else(|| text.strip_prefix("anon_inode:").map(str::to_owned))
    {
        return StdFd { kind, name: text };
    }
    StdFd {
        kind: "file".into(),
        name: text,
    }
}

/// Finds socket inode `ino` in the process's network namespace tables.
fn socket(proc_dir: &Path, ino: &str) -> Option<StdFd> {
    let net = proc_dir.join("net");
    for (table, kind) in [
        ("tcp", "ipv4"),
        ("udp", "ipv4"),
        ("tcp6", "ipv6"),
        ("udp6", "ipv6"),
    ] {
        let Ok(text) = std::fs::read_to_string(net.join(table)) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.get(9) == Some(&ino) {
                let (local, remote) = (endpoint(f.get(1)?)?, endpoint(f.get(2)?)?);
                return Some(StdFd {
                    kind: kind.into(),
                    name: format!("{local}->{remote}"),
                });
            }
        }
    }
    let text = std::fs::read_to_string(net.join("unix")).ok()?;
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.get(6) == Some(&ino)).then(|| StdFd {
            kind: "unix".into(),
            name: f.get(7).map_or_else(String::new, |p| (*p).to_owned()),
        })
    })
}

/// `0100007F:115C` (IPv4) or 32 hex digits (IPv6), each 32-bit word in
/// host (little-endian) order, then the port in hex → `ip:port`.
fn endpoint(s: &str) -> Option<String> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..addr.len() / 8)
        .map(|i| u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    match bytes.len() {
        4 => Some(format!(
            "{}:{port}",
            std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
        )),
        16 => {
            let a: [u8; 16] = bytes.try_into().ok()?;
            let ip = std::net::Ipv6Addr::from(a);
            Some(match ip.to_ipv4_mapped() {
                Some(v4) => format!("{v4}:{port}"),
                None => format!("{ip}:{port}"),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::process::{Command, Stdio};

    #[test]
    fn endpoints_decode() {
        assert_eq!(endpoint("0100007F:115C").as_deref(), Some("127.0.0.1:4444"));
        assert_eq!(
            endpoint("0000000000000000FFFF00000100007F:0050").as_deref(),
            Some("127.0.0.1:80")
        );
        assert_eq!(
            endpoint("00000000000000000000000001000000:0016").as_deref(),
            Some("::1:22")
        );
        assert_eq!(endpoint("zz:1"), None);
    }

    /// A real child whose stdin is a TCP connection and whose stdout is a
    /// pipe, then one with a file and /dev/null.
    #[test]
    fn reads_a_live_process_stdio() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let conn = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let stdin = std::os::fd::OwnedFd::from(conn.try_clone().unwrap());
        let mut child = Command::new("sleep")
            .arg("5")
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (i, o) = exec_stdio(Path::new("/proc"), child.id());
        let _ = child.kill();
        let _ = child.wait();
        let i = i.unwrap();
        assert_eq!(i.kind, "ipv4", "{i:?}");
        assert!(i.is_network());
        let local = conn.local_addr().unwrap();
        let remote = listener.local_addr().unwrap();
        assert_eq!(i.name, format!("{local}->{remote}"));
        assert_eq!(o.unwrap().kind, "pipe");
        let _ = peer.write_all(b"x");

        let mut child = Command::new("sleep")
            .arg("5")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(std::env::temp_dir().join("vigil-stdio-test")).unwrap())
            .spawn()
            .unwrap();
        let (i, o) = exec_stdio(Path::new("/proc"), child.id());
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(std::env::temp_dir().join("vigil-stdio-test"));
        assert_eq!(
            i.as_ref().map(|f| (f.kind.as_str(), f.name.as_str())),
            Some(("file", "/dev/null"))
        );
        assert!(!i.unwrap().is_network());
        assert_eq!(o.unwrap().kind, "file");
        // Gone: nothing.
        assert_eq!(exec_stdio(Path::new("/proc"), u32::MAX), (None, None));
    }
}
