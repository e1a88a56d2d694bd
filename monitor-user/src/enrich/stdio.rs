//! `proc.stdin.*` and `proc.stdout.*`: what a program's standard input and
//! output are when it starts. A shell reading commands from a TCP
//! connection is a reverse shell, however the connection was set up
//! (`nc -e`, bash's `/dev/tcp`, a Python one-liner, `socat`, a dup2 in an
//! exploit). The kernel describes both fds in the exec record
//! ([`from_record`]); where it could not, they are read from procfs when
//! the agent handles the exec, like `proc.cwd`: the fd links
//! (`/proc/<pid>/fd/0`, `socket:[INODE]`) and, for a socket, the process's
//! own network namespace tables (`/proc/<pid>/net/tcp`, ...), which give
//! its family and both ends. A program that is already gone when the
//! agent reads leaves the fields absent. Both ways name an fd alike.

use std::net::{IpAddr, Ipv6Addr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use monitor_common::StdFdRecord;

use crate::event::text::escape;
use crate::event::StdFd;

/// `s_magic` of the filesystems anonymous pipes and anonymous inodes
/// live on.
const PIPEFS_MAGIC: u32 = 0x5049_5045;
const ANON_INODE_FS_MAGIC: u32 = 0x0904_1934;
const IPPROTO_UDPLITE: i32 = 136;

/// What the kernel's exec record says an fd was; `None`: it was not open.
pub fn from_record(fd: &StdFdRecord) -> Option<StdFd> {
    if fd.mode == 0 {
        return None;
    }
    Some(if fd.mode & libc::S_IFMT == libc::S_IFSOCK {
        socket_of_record(fd)
    } else if fd.fs_magic == PIPEFS_MAGIC {
        of_link(format!("pipe:[{}]", fd.ino))
    } else if fd.fs_magic == ANON_INODE_FS_MAGIC {
        of_link(format!("anon_inode:{}", escape(fd.name())))
    } else {
        StdFd {
            kind: "file".into(),
            name: escape(fd.name()),
        }
    })
}

/// A socket as `/proc/<pid>/net/*` would show it: a TCP or UDP socket
/// with both ends, a unix socket with its bound path.
fn socket_of_record(fd: &StdFdRecord) -> StdFd {
    let t = &fd.tuple;
    let ip = matches!(
        i32::from(t.protocol),
        libc::IPPROTO_TCP | libc::IPPROTO_UDP | IPPROTO_UDPLITE
    );
    // Both ends, the address's bytes as long as the family's.
    let ends = |n: usize| {
        let end = |a: &[u8; 16], port| ip_port(&a[..n], port).unwrap_or_default();
        format!(
            "{}->{}",
            end(&t.local, t.local_port),
            end(&t.remote, t.remote_port)
        )
    };
    let (kind, name) = match i32::from(t.family) {
        libc::AF_INET if ip => ("ipv4", ends(4)),
        libc::AF_INET6 if ip => ("ipv6", ends(16)),
        libc::AF_UNIX => ("unix", unix_name(fd.name())),
        _ => ("socket", format!("socket:[{}]", fd.ino)),
    };
    StdFd {
        kind: kind.into(),
        name,
    }
}

/// A `sun_path` as `/proc/net/unix` prints it: an abstract name (leading
/// NUL) with `@`, trailing NULs dropped.
fn unix_name(path: &[u8]) -> String {
    let end = path.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    match &path[..end] {
        [0, rest @ ..] => format!("@{}", escape(rest)),
        p => escape(p),
    }
}

/// Standard input and output of `pid`.
pub fn exec_stdio(proc_root: &Path, pid: u32) -> (Option<StdFd>, Option<StdFd>) {
    let dir = proc_root.join(pid.to_string());
    let one = |fd: u32| {
        let link = std::fs::read_link(dir.join("fd").join(fd.to_string())).ok()?;
        Some(classify(&dir, link.as_os_str().as_bytes()))
    };
    (one(0), one(1))
}

/// What is between `prefix` and a closing `]` (`socket:[123]`).
fn bracketed(text: &str, prefix: &str) -> Option<String> {
    text.strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(']'))
        .map(str::to_owned)
}

fn classify(proc_dir: &Path, link: &[u8]) -> StdFd {
    let text = escape(link);
    if let Some(ino) = bracketed(&text, "socket:[") {
        return socket(proc_dir, &ino).unwrap_or(StdFd {
            kind: "socket".into(),
            name: text,
        });
    }
    of_link(text)
}

/// Anything but a socket, by its fd link's text.
fn of_link(text: String) -> StdFd {
    if text.starts_with("pipe:[") {
        return StdFd {
            kind: "pipe".into(),
            name: text,
        };
    }
    if let Some(kind) = bracketed(&text, "anon_inode:[")
        .or_else(|| text.strip_prefix("anon_inode:").map(str::to_owned))
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
    ip_port(&bytes, port)
}

/// `ip:port` of a 4- or 16-byte address, an IPv4-mapped IPv6 one shown
/// as IPv4 (as the two tables list it).
fn ip_port(addr: &[u8], port: u16) -> Option<String> {
    let ip = match <[u8; 4]>::try_from(addr) {
        Ok(v4) => IpAddr::from(v4),
        Err(_) => {
            let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(addr).ok()?);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
    };
    Some(format!("{ip}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::process::{Command, Stdio};

    fn record(mode: u32, fs_magic: u32, name: &[u8]) -> StdFdRecord {
        let mut r = StdFdRecord::CLOSED;
        (r.mode, r.fs_magic, r.ino) = (mode, fs_magic, 77);
        r.name[..name.len()].copy_from_slice(name);
        r.name_len = name.len() as u16;
        r
    }

    /// The kernel's description names each kind of fd as procfs does.
    #[test]
    fn records_name_fds_like_procfs() {
        let kind_name = |r: &StdFdRecord| from_record(r).map(|f| (f.kind, f.name));
        let s = |k: &str, n: &str| Some((k.to_owned(), n.to_owned()));
        assert_eq!(kind_name(&record(0, 0, b"")), None, "not open");
        let tty = record(libc::S_IFCHR | 0o620, 0x1cd1, b"/dev/pts/0");
        assert_eq!(kind_name(&tty), s("file", "/dev/pts/0"));
        assert_eq!(
            kind_name(&record(libc::S_IFIFO | 0o600, PIPEFS_MAGIC, b"")),
            s("pipe", "pipe:[77]")
        );
        // A named FIFO is a file with a path.
        let fifo = record(libc::S_IFIFO | 0o644, 0xef53, b"/run/f");
        assert_eq!(kind_name(&fifo), s("file", "/run/f"));
        // Anonymous inodes have no file type bits.
        let anon = |name: &[u8]| record(0o600, ANON_INODE_FS_MAGIC, name);
        assert_eq!(
            kind_name(&anon(b"[eventfd]")),
            s("eventfd", "anon_inode:[eventfd]")
        );
        assert_eq!(
            kind_name(&anon(b"inotify")),
            s("inotify", "anon_inode:inotify")
        );

        let sock = |family: i32, protocol: i32, local: &[u8], remote: &[u8], name: &[u8]| {
            let mut r = record(libc::S_IFSOCK | 0o777, 0x534f_434b, name);
            r.tuple.family = family as u16;
            r.tuple.protocol = protocol as u16;
            (r.tuple.local_port, r.tuple.remote_port) = (41234, 4444);
            r.tuple.local[..local.len()].copy_from_slice(local);
            r.tuple.remote[..remote.len()].copy_from_slice(remote);
            r
        };
        let tcp4 = sock(
            libc::AF_INET,
            libc::IPPROTO_TCP,
            &[10, 88, 0, 5],
            &[198, 51, 100, 7],
            b"",
        );
        assert_eq!(
            kind_name(&tcp4),
            s("ipv4", "10.88.0.5:41234->198.51.100.7:4444")
        );
        let v6 = std::net::Ipv6Addr::LOCALHOST.octets();
        let mapped = std::net::Ipv4Addr::new(127, 0, 0, 1)
            .to_ipv6_mapped()
            .octets();
        let udp6 = sock(libc::AF_INET6, libc::IPPROTO_UDP, &v6, &mapped, b"");
        assert_eq!(kind_name(&udp6), s("ipv6", "::1:41234->127.0.0.1:4444"));
        let icmp = sock(libc::AF_INET, libc::IPPROTO_ICMP, &[1, 2, 3, 4], &[], b"");
        assert_eq!(kind_name(&icmp), s("socket", "socket:[77]"));
        let unix = sock(libc::AF_UNIX, 0, &[], &[], b"/run/systemd/journal/stdout\0");
        assert_eq!(kind_name(&unix), s("unix", "/run/systemd/journal/stdout"));
        let abstract_ = sock(libc::AF_UNIX, 0, &[], &[], b"\0vigil");
        assert_eq!(kind_name(&abstract_), s("unix", "@vigil"));
        assert_eq!(
            kind_name(&sock(libc::AF_UNIX, 0, &[], &[], b"")),
            s("unix", "")
        );
        assert_eq!(
            kind_name(&sock(libc::AF_NETLINK, 0, &[], &[], b"")),
            s("socket", "socket:[77]")
        );
    }

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
