//! The clients already connected to a runtime socket when the agent
//! starts: kubelet connects to its CRI socket once and keeps that
//! connection, so the `connect` the sensor would see happened before vigil
//! ran. The kernel's socket diagnostics (`sock_diag`, `UNIX_DIAG_PEER`)
//! list every accepted connection of a listening unix socket with the
//! inode of the client's end; `/proc/PID/fd` says which processes hold
//! that end.
//!
//! Socket diagnostics see the agent's own network namespace: on a node the
//! agent runs with the host's (as its DaemonSet does), as kubelet and the
//! runtimes do.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::unix::{nlas::UnixDiagName, ShowFlags, StateFlags, UnixRequest};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PeersError {
    #[error("socket diagnostics (sock_diag netlink): {0}")]
    Netlink(#[from] std::io::Error),
    #[error("socket diagnostics: undecodable answer: {0}")]
    Decode(String),
    #[error("socket diagnostics: no end of the dump after {0} messages")]
    Endless(usize),
}

/// More accepted connections than any host has: a dump that goes on longer
/// is not trusted to end.
const MAX_MESSAGES: usize = 1 << 20;

/// A process holding the client end of a connection to a runtime socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The socket's path as its server bound it.
    pub socket: String,
    pub pid: u32,
}

/// The processes connected to the listening unix sockets whose bound path
/// `wanted` accepts, found under `proc_root` (`/proc`). Sorted by pid.
pub fn connected(proc_root: &Path, wanted: impl Fn(&str) -> bool) -> Result<Vec<Peer>, PeersError> {
    let ends = client_ends(wanted)?;
    if ends.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<Peer> = holders(proc_root, |ino| ends.contains_key(&ino))
        .into_iter()
        .map(|(pid, ino)| Peer {
            socket: ends[&ino].clone(),
            pid,
        })
        .collect();
    out.sort_by_key(|p| p.pid);
    out.dedup();
    Ok(out)
}

/// Client-end inode → the path of the socket it is connected to, for every
/// accepted connection of a socket bound to a path `wanted` accepts. The
/// server's end of an accepted connection carries its listener's path.
fn client_ends(wanted: impl Fn(&str) -> bool) -> Result<HashMap<u32, String>, PeersError> {
    let socket = Socket::new(NETLINK_SOCK_DIAG)?;
    set_timeout(&socket)?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut req = NetlinkMessage::new(
        {
            let mut h = NetlinkHeader::default();
            h.flags = NLM_F_REQUEST | NLM_F_DUMP;
            h
        },
        SockDiagMessage::UnixRequest(UnixRequest {
            state_flags: StateFlags::ESTABLISHED,
            inode: 0,
            show_flags: ShowFlags::NAME | ShowFlags::PEER,
            cookie: [0xff; 8],
        })
        .into(),
    );
    req.finalize();
    let mut buf = vec![0u8; req.buffer_len()];
    req.serialize(&mut buf);
    socket.send(&buf, 0)?;

    let mut ends = HashMap::new();
    let mut rx = vec![0u8; 64 * 1024];
    let mut seen = 0usize;
    loop {
        let n = socket.recv(&mut &mut rx[..], 0)?.min(rx.len());
        if n == 0 {
            return Err(PeersError::Decode("empty datagram".into()));
        }
        let mut at = 0;
        while at < n {
            let msg = NetlinkMessage::<SockDiagMessage>::deserialize(&rx[at..n])
                .map_err(|e| PeersError::Decode(e.to_string()))?;
            let len = msg.header.length as usize;
            if len == 0 {
                return Err(PeersError::Decode("zero-length message".into()));
            }
            seen += 1;
            if seen > MAX_MESSAGES {
                return Err(PeersError::Endless(seen));
            }
            match msg.payload {
                NetlinkPayload::Done(_) => return Ok(ends),
                NetlinkPayload::Error(e) => return Err(PeersError::Netlink(e.to_io())),
                NetlinkPayload::InnerMessage(SockDiagMessage::UnixResponse(r)) => {
                    if let (Some(UnixDiagName::Pathname(path)), Some(peer)) = (r.name(), r.peer()) {
                        let path = String::from_utf8_lossy(path.as_bytes());
                        if peer != 0 && wanted(&path) {
                            ends.insert(peer, path.into_owned());
                        }
                    }
                }
                _ => {}
            }
            // Netlink messages are 4-byte aligned.
            at += len.next_multiple_of(4);
        }
    }
}

/// A dump that stops answering fails instead of stalling the start.
fn set_timeout(socket: &Socket) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: 2,
        tv_usec: 0,
    };
    // SAFETY: a valid socket and a timeval of the size passed.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// (pid, socket inode) of every process under `proc_root` with an open
/// socket whose inode `wanted` accepts. Processes that exit meanwhile, or
/// whose fds cannot be read, are skipped.
pub fn holders(proc_root: &Path, wanted: impl Fn(u32) -> bool) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for (pid, dir) in crate::enrich::proctable::pid_dirs(proc_root) {
        let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let ino = target
                .as_os_str()
                .as_bytes()
                .strip_prefix(b"socket:[")
                .and_then(|r| r.strip_suffix(b"]"))
                .and_then(|r| std::str::from_utf8(r).ok())
                .and_then(|r| r.parse::<u32>().ok());
            if let Some(ino) = ino.filter(|&i| wanted(i)) {
                out.push((pid, ino));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::{UnixListener, UnixStream};

    /// A real listener and a client connected to it before the lookup:
    /// the lookup names this process, and only for that path.
    #[test]
    fn finds_the_process_connected_to_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runtime.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let client = UnixStream::connect(&path).unwrap();
        let (_server_end, _) = listener.accept().unwrap();
        let path_s = path.to_str().unwrap().to_owned();
        let found = connected(Path::new("/proc"), |p| p == path_s).expect("sock_diag");
        assert_eq!(
            found,
            vec![Peer {
                socket: path_s.clone(),
                pid: std::process::id()
            }]
        );
        // The client end's inode is what /proc shows for it.
        let ino = std::fs::metadata(format!("/proc/self/fd/{}", client.as_raw_fd()))
            .unwrap()
            .ino() as u32;
        assert!(holders(Path::new("/proc"), |i| i == ino).contains(&(std::process::id(), ino)));
        // Another path: nobody.
        assert!(
            connected(Path::new("/proc"), |p| p == "/nonexistent/vigil.sock")
                .unwrap()
                .is_empty()
        );
        drop(client);
    }
}
