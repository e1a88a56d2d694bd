//! Syscall arguments: raw registers and kernel strings → named, typed values.
//!
//! The kernel side stamps six raw arguments, up to three strings and the
//! return value into a [`SyscallRecord`]; which slot holds what is fixed per
//! syscall by the table in `monitor_common::records`. This module turns that
//! into [`Arg`]s named like Falco's `evt.arg.*` (flags rendered symbolically
//! with the raw value kept), decodes `struct sockaddr` for connect, and names
//! errno values. Constants come from `libc`, so they match the build target.

use monitor_common::decode::Bytes;
use monitor_common::syscalls::{ArgKind as K, ArgSpec, NameSet};
use monitor_common::{syscall_flags, SockTuple, SyscallRecord};
use serde::{Deserialize, Serialize};

use crate::event::name::Name;
use crate::event::text::escape;

mod names;

pub(crate) use names::ERRNO_NAMES;
pub use names::{cap_names, clone_flags_text, flag_text, res_name, signal_name};
use names::{flag_table, name_table, open_flags, table_name};

/// One decoded argument.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arg {
    /// Falco's argument name where it has one (`evt.arg.<name>`).
    #[serde(deserialize_with = "crate::event::name::deserialize")]
    pub name: Name,
    pub value: ArgValue,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgValue {
    Int(i64),
    Uint(u64),
    /// Escaped text ([`crate::event::text`]).
    Str(#[serde(deserialize_with = "crate::event::string::deserialize")] String),
    /// A flag set or mode: symbolic `text` (`O_WRONLY|O_CREAT`, `0644`) and the raw value.
    Flags {
        raw: u64,
        #[serde(deserialize_with = "crate::event::string::deserialize")]
        text: String,
    },
}

/// A decoded `struct sockaddr` (connect).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SockAddr {
    Inet {
        ip: String,
        port: u16,
    },
    Inet6 {
        ip: String,
        port: u16,
        scope_id: u32,
    },
    /// `path` is escaped text; an abstract socket's name is shown with a
    /// leading `@` (as `ss` does), its embedded NULs as `\x00`.
    Unix {
        path: String,
        abstract_ns: bool,
    },
    Other {
        family: u16,
    },
}

impl SockAddr {
    /// `ip:port`, `[ip6]:port` or the socket path: what `fd.name` shows.
    pub fn display(&self) -> String {
        match self {
            SockAddr::Inet { ip, port } => format!("{ip}:{port}"),
            SockAddr::Inet6 { ip, port, .. } => format!("[{ip}]:{port}"),
            SockAddr::Unix { path, .. } => path.clone(),
            SockAddr::Other { family } => format!("family {family}"),
        }
    }
}

/// An IP socket's two ends as Falco's `fd.*` fields name them: the client
/// (who connected or sent) and the server (who bound, listened or
/// accepted). An end the kernel did not know (a listener's client) is absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conn {
    /// `ipv4` or `ipv6` (`fd.type`).
    pub family: String,
    /// `tcp`, `udp`, `icmp`, `raw` or the protocol number (`fd.l4proto`).
    pub l4proto: String,
    pub client: Option<Endpoint>,
    pub server: Option<Endpoint>,
    /// The socket of this event is the server's end (`fd.is_server`).
    pub local_is_server: bool,
    /// The socket has a peer of its own (`fd.connected`); an unconnected
    /// UDP socket's server is the destination the syscall named.
    pub connected: bool,
    /// The name whose DNS answer gave the server's address to this
    /// container (`fd.sip.name`), set at enrichment (`enrich::dns`).
    pub server_name: Option<String>,
    /// The same for the client's address (`fd.cip.name`).
    pub client_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub ip: String,
    pub port: u16,
}

impl Endpoint {
    fn display(&self) -> String {
        if self.ip.contains(':') {
            format!("[{}]:{}", self.ip, self.port)
        } else {
            format!("{}:{}", self.ip, self.port)
        }
    }
}

impl Conn {
    /// `fd.name` as Falco shows a socket: `client->server`, or the one end known.
    pub fn display(&self) -> String {
        match (&self.client, &self.server) {
            (Some(c), Some(s)) => format!("{}->{}", c.display(), s.display()),
            (Some(e), None) | (None, Some(e)) => e.display(),
            (None, None) => String::new(),
        }
    }

    /// The end of this event's socket (`fd.lip`, `fd.lport`).
    pub fn local(&self) -> Option<&Endpoint> {
        if self.local_is_server {
            self.server.as_ref()
        } else {
            self.client.as_ref()
        }
    }

    /// The other end (`fd.rip`, `fd.rport`).
    pub fn remote(&self) -> Option<&Endpoint> {
        if self.local_is_server {
            self.client.as_ref()
        } else {
            self.server.as_ref()
        }
    }
}

/// Build the [`Conn`] of an IP socket from the kernel's tuple; `dest` is the
/// sockaddr the syscall named, the peer of a socket not connected to one
/// (a UDP `sendto`).
pub fn conn(t: &SockTuple, dest: Option<&SockAddr>, local_is_server: bool) -> Option<Conn> {
    let (family, ip): (&str, fn(&[u8; 16]) -> String) = match i32::from(t.family) {
        libc::AF_INET => ("ipv4", |a| {
            std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()
        }),
        libc::AF_INET6 => ("ipv6", |a| std::net::Ipv6Addr::from(*a).to_string()),
        _ => return None,
    };
    let local = Endpoint {
        ip: ip(&t.local),
        port: t.local_port,
    };
    let connected = t.remote_port != 0;
    let remote = if connected {
        Some(Endpoint {
            ip: ip(&t.remote),
            port: t.remote_port,
        })
    } else {
        match dest {
            Some(SockAddr::Inet { ip, port }) | Some(SockAddr::Inet6 { ip, port, .. })
                if !local_is_server =>
            {
                Some(Endpoint {
                    ip: ip.clone(),
                    port: *port,
                })
            }
            _ => None,
        }
    };
    let l4proto = match i32::from(t.protocol) {
        libc::IPPROTO_TCP => "tcp".to_owned(),
        libc::IPPROTO_UDP => "udp".to_owned(),
        libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6 => "icmp".to_owned(),
        _ if i32::from(t.sock_type) == libc::SOCK_RAW => "raw".to_owned(),
        p => p.to_string(),
    };
    let (client, server) = if local_is_server {
        (remote, Some(local))
    } else {
        (Some(local), remote)
    };
    Some(Conn {
        family: family.to_owned(),
        l4proto,
        client,
        server,
        local_is_server,
        connected,
        server_name: None,
        client_name: None,
    })
}

/// Everything decoded from one syscall record.
pub struct Decoded {
    pub args: Vec<Arg>,
    /// The file the syscall names (`fd.name`): open paths, connect peers.
    pub path: Option<String>,
    pub sockaddr: Option<SockAddr>,
    /// An IP socket's endpoints (network syscalls).
    pub conn: Option<Conn>,
    /// Falco field names of arguments the kernel cut short.
    pub truncated: Vec<&'static str>,
    /// A relative open path as the kernel resolved it against the working
    /// directory or dirfd (`PATH_AT`).
    pub resolved: Option<String>,
}

/// Decode the arguments of one syscall record, as its row of the syscall
/// table (`monitor_common::syscall_table!`) describes them.
pub fn decode(r: &SyscallRecord) -> Decoded {
    let mut d = Decoded {
        args: Vec::new(),
        path: None,
        sockaddr: None,
        conn: None,
        truncated: Vec::new(),
        resolved: None,
    };
    let Some(id) = r.id() else { return d };
    for spec in id.args() {
        d.arg(r, spec);
    }
    if r.flags & syscall_flags::PATH_AT != 0 {
        match r.str1().bytes {
            // The agent may still resolve it from procfs; the event says
            // the kernel (and so its open filter) could not.
            [] => d.push(
                "unresolved",
                ArgValue::Str("directory too deep or path too long".to_owned()),
            ),
            b => d.resolved = Some(escape(b)),
        }
    }
    // Where it was seen, as extra arguments: which LSM hook (its paths are
    // resolved), and whether io_uring submitted it.
    if r.flags & syscall_flags::LSM != 0 {
        if let Some(h) = monitor_common::lsm::hook_for(id) {
            d.push("lsm_hook", ArgValue::Str(h.hook.to_owned()));
        }
    }
    if r.flags & syscall_flags::IO_URING != 0 {
        d.push("io_uring", ArgValue::Uint(1));
    }
    // Enforcement (docs/enforcement.md): what the kernel did about it.
    if r.flags & syscall_flags::DENIED != 0 {
        d.push("enforcement", ArgValue::Str("denied".to_owned()));
    } else if r.flags & syscall_flags::KILLED != 0 {
        d.push("enforcement", ArgValue::Str("killed".to_owned()));
    } else if r.flags & syscall_flags::WOULD_DENY != 0 {
        d.push("enforcement", ArgValue::Str("would_deny".to_owned()));
    } else if r.flags & syscall_flags::WOULD_KILL != 0 {
        d.push("enforcement", ArgValue::Str("would_kill".to_owned()));
    }
    d
}

impl Decoded {
    fn arg(&mut self, r: &SyscallRecord, spec: &ArgSpec) {
        // A refused attempt's strings were never read (the call did not
        // run): leave them out rather than report them empty.
        if r.flags & syscall_flags::REFUSED != 0
            && matches!(
                spec.kind,
                K::Str0 | K::Str1 | K::Short | K::Path | K::Sockaddr
            )
        {
            return;
        }
        let a = &r.args;
        let slot = |i: u8| a[usize::from(i)];
        let value = match spec.kind {
            K::Int(i) => ArgValue::Int(slot(i) as i32 as i64),
            K::Uint(i) => ArgValue::Uint(slot(i)),
            K::Id(i) => ArgValue::Int(slot(i) as u32 as i32 as i64),
            K::Flags(i, set) => ArgValue::Flags {
                raw: slot(i),
                text: flag_text(slot(i), flag_table(set)),
            },
            K::Name(i, set) => {
                // socket()'s type carries SOCK_NONBLOCK/SOCK_CLOEXEC above its low bits.
                let v = match set {
                    NameSet::SockType => slot(i) & 0xf,
                    _ => slot(i),
                };
                ArgValue::Flags {
                    raw: slot(i),
                    text: table_name(v, name_table(set)),
                }
            }
            K::Mode(i) => ArgValue::Flags {
                raw: slot(i),
                text: format!("0{:o}", slot(i) & 0o7777),
            },
            K::Signal(i) => ArgValue::Flags {
                raw: slot(i),
                text: signal_name(slot(i) as i32),
            },
            K::OpenFlags(i) => open_flags(slot(i)),
            // creat(path, mode) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode).
            K::CreatFlags => open_flags((libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64),
            K::Str0 => return self.string(spec.name, r.str0()),
            K::Str1 => return self.string(spec.name, r.str1()),
            K::Short => return self.string(spec.name, r.short()),
            K::Path => {
                self.path = Some(escape(r.str0().bytes));
                return self.string(spec.name, r.str0());
            }
            K::Sockaddr => {
                if r.flags & syscall_flags::STR0_SOCKADDR == 0 {
                    return;
                }
                // The kernel kept at most addrlen bytes (connect) or the
                // exact sockaddr it built (dup).
                self.sockaddr = decode_sockaddr(r.str0().bytes);
                let Some(sa) = &self.sockaddr else { return };
                self.path = Some(sa.display());
                ArgValue::Str(sa.display())
            }
            K::TupleClient | K::TupleServer => {
                let Some(t) = r.tuple() else { return };
                let server = spec.kind == K::TupleServer;
                let Some(c) = conn(&t, self.sockaddr.as_ref(), server) else {
                    return;
                };
                let shown = c.display();
                self.path = Some(shown.clone());
                self.conn = Some(c);
                ArgValue::Str(shown)
            }
            // The requested sets, unless the kernel could not read them.
            K::CapSet(i) if r.flags & syscall_flags::CAPS_UNREAD == 0 => ArgValue::Uint(slot(i)),
            // args[5] is the caller's effective set before the call: a bit
            // in the new effective set (args[2]) that it lacked.
            K::CapRaised
                if r.flags & (syscall_flags::CAPS_UNREAD | syscall_flags::CAPS_CURRENT_UNKNOWN)
                    == 0 =>
            {
                ArgValue::Uint(a[2] & !a[5])
            }
            K::CapSet(_) | K::CapRaised => return,
        };
        self.push(spec.name, value);
    }

    fn push(&mut self, name: &'static str, value: ArgValue) {
        self.args.push(Arg {
            name: Name::Borrowed(name),
            value,
        });
    }

    fn string(&mut self, name: &'static str, b: Bytes<'_>) {
        if b.truncated {
            self.truncated.push(name);
        }
        self.push(name, ArgValue::Str(escape(b.bytes)));
    }
}

/// Decode `struct sockaddr` bytes (already cut to `addrlen`).
pub fn decode_sockaddr(b: &[u8]) -> Option<SockAddr> {
    let family = u16::from_ne_bytes([*b.first()?, *b.get(1)?]);
    let be16 = |i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
    Some(match family as i32 {
        libc::AF_INET => {
            let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            SockAddr::Inet {
                ip: std::net::Ipv4Addr::from(ip).to_string(),
                port: be16(2)?,
            }
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            let scope_id = b
                .get(24..28)
                .map(|s| u32::from_ne_bytes(s.try_into().unwrap_or_default()))
                .unwrap_or(0);
            SockAddr::Inet6 {
                ip: std::net::Ipv6Addr::from(ip).to_string(),
                port: be16(2)?,
                scope_id,
            }
        }
        libc::AF_UNIX => {
            let path = b.get(2..).unwrap_or_default();
            match path.split_first() {
                // Abstract namespace: a length-delimited name after a NUL.
                Some((0, name)) => SockAddr::Unix {
                    path: format!("@{}", escape(name)),
                    abstract_ns: true,
                },
                _ => SockAddr::Unix {
                    path: escape(monitor_common::decode::until_nul(path)),
                    abstract_ns: false,
                },
            }
        }
        _ => SockAddr::Other { family },
    })
}

#[cfg(test)]
mod tests;
