//! `vigil log net`: "which connections did this container make, to where,
//! and which names did it look up?" The recorded network events (connect,
//! accept, bind, listen, the first datagram of each UDP flow, packet and raw
//! IP sockets, DNS answers) a filter selects, one line each: who, which way,
//! to and from where (with the name that resolved to the server, when the
//! container looked it up), with what result.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use monitor_user::event::sysargs::{ArgValue, SockAddr};
use monitor_user::event::{rfc3339, Data, Event, SyscallData};

use super::show::Format;
use super::FilterArgs;

/// The event types `vigil log net` shows unless `--type` narrows them.
pub const NET_TYPES: &[&str] = &[
    "connect", "accept", "accept4", "bind", "listen", "sendto", "sendmsg", "sendmmsg", "socket",
    "dns",
];

#[derive(Args, Debug)]
pub struct NetArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output format (default: table).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub fn run(mut a: NetArgs) -> anyhow::Result<ExitCode> {
    if let Some(t) = a
        .filter
        .types
        .iter()
        .find(|t| !NET_TYPES.contains(&t.as_str()))
    {
        anyhow::bail!(
            "--type {t}: not a network event type (one of {})",
            NET_TYPES.join(", ")
        );
    }
    if a.filter.types.is_empty() {
        a.filter.types = NET_TYPES.iter().map(|t| (*t).to_owned()).collect();
    }
    let header = format!(
        "{:<30} {:<16} {:>7} {:<15} {:<8} {:<5} CONNECTION = RESULT",
        "TIME", "CONTAINER", "PID", "PROCESS", "TYPE", "PROTO"
    );
    super::show::print(&a.filter, a.format.unwrap_or(Format::Table), &header, row)
}

fn row(ev: &Event, out: &mut Vec<u8>) {
    let c = &ev.container;
    let container = c.name.as_deref().unwrap_or(&c.id);
    if let Data::Dns(d) = &ev.data {
        // Queries are left out: their answers say what was asked too.
        if d.response || d.error.is_some() {
            let _ = writeln!(
                out,
                "{:<30} {:<16} {:>7} {:<15} {:<8} {:<5} {}",
                rfc3339(ev.wall_ns),
                container,
                ev.process.pid,
                ev.process.name,
                "dns",
                "udp",
                super::show::dns_line(d),
            );
        }
        return;
    }
    let Data::Syscall(s) = &ev.data else { return };
    let proto = match (&s.conn, &s.sockaddr) {
        (Some(conn), _) => conn.l4proto.as_str(),
        (None, Some(SockAddr::Unix { .. })) => "unix",
        _ => "-",
    };
    let _ = writeln!(
        out,
        "{:<30} {:<16} {:>7} {:<15} {:<8} {:<5} {} = {}",
        rfc3339(ev.wall_ns),
        container,
        ev.process.pid,
        ev.process.name,
        s.name,
        proto,
        connection(s),
        s.res
    );
}

/// `client -> server` with the arrow pointing away from this process's
/// end (`<-` for what it accepted), the path of a unix socket, or the
/// domain and type of a new socket.
fn connection(s: &SyscallData) -> String {
    if let Some(c) = &s.conn {
        let end = |e: &Option<monitor_user::event::sysargs::Endpoint>| match e {
            Some(e) if e.ip.contains(':') => format!("[{}]:{}", e.ip, e.port),
            Some(e) => format!("{}:{}", e.ip, e.port),
            None => "*".to_owned(),
        };
        // The server as the process knew it: `c2.example.com (203.0.113.7:443)`.
        let server = match &c.server_name {
            Some(name) => format!("{name} ({})", end(&c.server)),
            None => end(&c.server),
        };
        return match (c.local_is_server, &c.client) {
            (true, None) => format!("listening on {server}"),
            (true, Some(_)) => format!("{server} <- {}", end(&c.client)),
            (false, _) => format!("{} -> {server}", end(&c.client)),
        };
    }
    if let Some(name) = &s.fd_name {
        return name.clone();
    }
    s.args
        .iter()
        .filter_map(|a| match &a.value {
            ArgValue::Flags { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}
