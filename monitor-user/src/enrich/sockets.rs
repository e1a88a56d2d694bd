//! Per-socket state: what each process's IP socket fds are connected to,
//! so `fd.*` fields mean on later events of a socket what Falco's do.
//!
//! The kernel describes a socket's two ends on the calls that set them up
//! (connect, accept, bind, listen, a datagram's first send) and on `dup`,
//! `dup2` and `dup3` of a socket, reading them from the socket itself at
//! that moment. The table remembers each description per `(tgid, fd)`,
//! overwriting what the fd number held before; a dup gives the new fd the
//! socket (a shell's stdin turned into a connection keeps both
//! endpoints). A fork copies the parent's sockets to the child, as the
//! kernel copies its fd table; a process's exit drops its entries.
//!
//! `close` is not hooked (it is among the most frequent syscalls), so an
//! entry can outlive its socket. It is never handed to a later socket on
//! the same fd number: every event that names a socket carries the
//! kernel's own description of the live socket, which wins over the
//! table. The table completes only records without one (logs recorded
//! before dup carried it); there a dup whose peer (the kernel reports it)
//! differs from the entry's drops the entry instead of trusting it.
//!
//! Memory is bounded: at most [`MAX_PER_PROCESS`] sockets per process and
//! [`MAX_SOCKETS`] in all; past that new sockets are not remembered (their
//! own events still carry their endpoints).

use std::collections::HashMap;
use std::sync::Arc;

use crate::event::sysargs::{Conn, SockAddr};
use crate::event::SyscallData;

/// Sockets remembered per process.
pub const MAX_PER_PROCESS: usize = 1024;
/// Sockets remembered in all.
pub const MAX_SOCKETS: usize = 65_536;

/// `(tgid, fd)` → the socket's endpoints.
#[derive(Default)]
pub struct SocketTable {
    by_process: HashMap<u32, HashMap<i64, Arc<Conn>>>,
    len: usize,
}

impl SocketTable {
    pub fn new() -> SocketTable {
        SocketTable::default()
    }

    /// Sockets remembered.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, tgid: u32, fd: i64) -> Option<&Arc<Conn>> {
        self.by_process.get(&tgid)?.get(&fd)
    }

    fn insert(&mut self, tgid: u32, fd: i64, conn: Arc<Conn>) {
        if fd < 0 {
            return;
        }
        let full = self.len >= MAX_SOCKETS;
        let fds = self.by_process.entry(tgid).or_default();
        if fds.contains_key(&fd) {
            fds.insert(fd, conn);
        } else if !full && fds.len() < MAX_PER_PROCESS {
            fds.insert(fd, conn);
            self.len += 1;
        }
    }

    fn remove(&mut self, tgid: u32, fd: i64) {
        if let Some(fds) = self.by_process.get_mut(&tgid) {
            if fds.remove(&fd).is_some() {
                self.len -= 1;
            }
        }
    }

    /// Learn from, or complete, one syscall event of process `tgid`.
    pub fn on_syscall(&mut self, tgid: u32, s: &mut SyscallData) {
        let arg = |i: usize| s.raw_args[i] as i32 as i64;
        match &*s.name {
            // The socket is the fd argument; a connect in progress
            // (EINPROGRESS) already has both ends.
            "connect" | "bind" | "listen" | "sendto" | "sendmsg" | "sendmmsg"
                if s.ret >= 0 || s.ret == -i64::from(libc::EINPROGRESS) =>
            {
                if let Some(c) = &s.conn {
                    self.insert(tgid, arg(0), Arc::new(c.clone()));
                }
            }
            // The new socket is the return value.
            "accept" | "accept4" if s.ret >= 0 => {
                if let Some(c) = &s.conn {
                    self.insert(tgid, s.ret, Arc::new(c.clone()));
                }
            }
            "dup" | "dup2" | "dup3" => self.on_dup(tgid, s, arg(0), arg(1)),
            _ => {}
        }
    }

    fn on_dup(&mut self, tgid: u32, s: &mut SyscallData, oldfd: i64, newfd_arg: i64) {
        let newfd = if &*s.name == "dup" { s.ret } else { newfd_arg };
        // The kernel described the live socket: it replaces whatever the
        // fd numbers held.
        if let Some(c) = &s.conn {
            let c = Arc::new(c.clone());
            self.insert(tgid, oldfd, c.clone());
            if s.ret >= 0 {
                self.insert(tgid, newfd, c);
            }
            return;
        }
        let Some(conn) = self.get(tgid, oldfd).cloned() else {
            return;
        };
        // The kernel reports a dup'd socket's peer: an entry with another
        // peer is a stale one (the fd was closed and reused).
        let peer = match &s.sockaddr {
            Some(SockAddr::Inet { ip, port } | SockAddr::Inet6 { ip, port, .. }) => {
                Some((ip.as_str(), *port))
            }
            _ => None,
        };
        let remote = conn.remote().map(|e| (e.ip.as_str(), e.port));
        if peer.is_some_and(|p| p.1 != 0) && remote.is_some() && peer != remote {
            self.remove(tgid, oldfd);
            return;
        }
        if s.ret >= 0 {
            self.insert(tgid, newfd, conn.clone());
        }
        if s.conn.is_none() {
            s.conn = Some((*conn).clone());
        }
    }

    /// A new process: it inherits its parent's sockets.
    pub fn on_fork(&mut self, parent: u32, child: u32) {
        let Some(fds) = self.by_process.get(&parent) else {
            return;
        };
        let copied: Vec<(i64, Arc<Conn>)> = fds.iter().map(|(&f, c)| (f, c.clone())).collect();
        for (fd, c) in copied {
            self.insert(child, fd, c);
        }
    }

    /// A process exited: its fds are gone.
    pub fn on_exit(&mut self, tgid: u32) {
        if let Some(fds) = self.by_process.remove(&tgid) {
            self.len -= fds.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::sysargs::Endpoint;

    fn conn(lport: u16, rip: &str, rport: u16) -> Conn {
        Conn {
            family: "ipv4".into(),
            l4proto: "tcp".into(),
            client: Some(Endpoint {
                ip: "10.0.0.2".into(),
                port: lport,
            }),
            server: Some(Endpoint {
                ip: rip.into(),
                port: rport,
            }),
            local_is_server: false,
            connected: true,
            server_name: None,
            client_name: None,
        }
    }

    fn call(name: &'static str, ret: i64, args: [u64; 2], c: Option<Conn>) -> SyscallData {
        let peer = c.as_ref().and_then(|c| c.remote()).map(|e| SockAddr::Inet {
            ip: e.ip.clone(),
            port: e.port,
        });
        SyscallData {
            name: name.into(),
            ret,
            res: "SUCCESS".into(),
            raw_args: [args[0], args[1], 0, 0, 0, 0],
            args: Vec::new(),
            fd_name: None,
            sockaddr: peer,
            conn: c,
        }
    }

    #[test]
    fn a_connected_socket_duped_onto_stdin_keeps_its_endpoints() {
        let mut t = SocketTable::new();
        let c = conn(40000, "10.0.0.9", 4444);
        t.on_syscall(10, &mut call("connect", 0, [3, 0], Some(c.clone())));
        // The child of a fork dup2s it onto fd 0 (the kernel reports the peer).
        t.on_fork(10, 11);
        let mut d = call("dup2", 0, [3, 0], None);
        d.sockaddr = Some(SockAddr::Inet {
            ip: "10.0.0.9".into(),
            port: 4444,
        });
        t.on_syscall(11, &mut d);
        assert_eq!(d.conn.as_ref(), Some(&c));
        assert_eq!(t.get(11, 0).map(|c| c.remote().unwrap().port), Some(4444));
        // Exit drops the process's sockets, not the parent's.
        t.on_exit(11);
        assert!(t.get(11, 0).is_none());
        assert!(t.get(10, 3).is_some());
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn accept_learns_the_returned_fd_and_failures_learn_nothing() {
        let mut t = SocketTable::new();
        t.on_syscall(
            5,
            &mut call("accept4", 7, [3, 0], Some(conn(80, "10.0.0.3", 5555))),
        );
        assert!(t.get(5, 7).is_some());
        assert!(t.get(5, 3).is_none());
        t.on_syscall(
            5,
            &mut call("connect", -111, [8, 0], Some(conn(1, "10.0.0.4", 1))),
        );
        assert!(t.get(5, 8).is_none());
        // A dup of `dup` style returns the new fd.
        let mut d = call("dup", 9, [7, 0], None);
        t.on_syscall(5, &mut d);
        assert!(d.conn.is_some());
        assert!(t.get(5, 9).is_some());
    }

    #[test]
    fn a_stale_entry_is_dropped_not_trusted() {
        let mut t = SocketTable::new();
        t.on_syscall(
            5,
            &mut call("connect", 0, [3, 0], Some(conn(1, "10.0.0.4", 80))),
        );
        // fd 3 was closed and reused for a socket to another peer.
        let mut d = call("dup2", 0, [3, 0], Some(conn(2, "10.0.0.5", 443)));
        d.conn = None;
        t.on_syscall(5, &mut d);
        assert!(d.conn.is_none());
        assert!(t.get(5, 3).is_none());
        assert!(t.get(5, 0).is_none());
    }

    #[test]
    fn a_reused_fd_never_carries_a_dead_sockets_endpoints() {
        let mut t = SocketTable::new();
        let dead = conn(1, "10.0.0.4", 80);
        t.on_syscall(5, &mut call("connect", 0, [3, 0], Some(dead)));
        // fd 3 closed (unseen), reused for a listening socket (no peer,
        // so nothing to compare), then dup2'd: the kernel's tuple of the
        // live socket rides on the dup and replaces the dead entry.
        let live = Conn {
            family: "ipv4".into(),
            l4proto: "tcp".into(),
            client: Some(Endpoint {
                ip: "0.0.0.0".into(),
                port: 8080,
            }),
            server: None,
            local_is_server: false,
            connected: false,
            server_name: None,
            client_name: None,
        };
        let mut d = call("dup2", 0, [3, 0], Some(live.clone()));
        d.sockaddr = Some(SockAddr::Inet {
            ip: "0.0.0.0".into(),
            port: 0,
        });
        t.on_syscall(5, &mut d);
        assert_eq!(d.conn.as_ref(), Some(&live));
        assert_eq!(t.get(5, 0).map(|c| &**c), Some(&live));
        assert_eq!(t.get(5, 3).map(|c| &**c), Some(&live));
        // A socket accepted onto a reused number replaces it too.
        let accepted = conn(80, "10.0.0.3", 5555);
        t.on_syscall(5, &mut call("accept4", 0, [9, 0], Some(accepted.clone())));
        assert_eq!(t.get(5, 0).map(|c| &**c), Some(&accepted));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn bounded_per_process_and_overall() {
        let mut t = SocketTable::new();
        for fd in 0..(MAX_PER_PROCESS as u64 + 10) {
            t.on_syscall(
                1,
                &mut call("connect", 0, [fd, 0], Some(conn(1, "10.0.0.4", 80))),
            );
        }
        assert_eq!(t.len(), MAX_PER_PROCESS);
        // Replacing a known fd still works when full.
        let c = conn(1, "10.0.0.6", 81);
        t.on_syscall(1, &mut call("connect", 0, [0, 0], Some(c.clone())));
        assert_eq!(t.get(1, 0).map(|c| &**c), Some(&c));
        for pid in 2..(MAX_SOCKETS / MAX_PER_PROCESS + 3) as u32 {
            t.on_fork(1, pid);
        }
        assert_eq!(t.len(), MAX_SOCKETS);
    }
}
