//! Network syscalls reach the agent with both endpoints, filtered in the
//! kernel: loopback only when asked for, UDP only for a flow's first
//! datagram, socket() only for packet and raw sockets.
//!
//! The acts are `vigil-actions` subcommands run as child processes (the
//! test process is the "agent" whose own syscalls the sensor ignores);
//! records are picked by the child's pid, so concurrent activity on the
//! host does not matter.

use super::*;
use monitor_common::SyscallRecord;
use monitor_user::event::sysargs::{self, Conn};

/// Run `vigil-actions ARGS...` to completion; returns its pid.
fn act(args: &[&str]) -> u32 {
    let bin = vigil_tests::actions::actions_binary().expect("build vigil-actions");
    let child = std::process::Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn vigil-actions");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait vigil-actions");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(": ok"),
        "vigil-actions {args:?}: {text}"
    );
    pid
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
    let cfg = SensorConfig {
        net_loopback: true,
        ..SensorConfig::default()
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
    let tcp4 = act(&["tcp-pair", "127.0.0.1"]);
    let tcp6 = act(&["tcp-pair", "::1"]);
    let udp = act(&["udp-send", "127.0.0.1:9", "3"]);
    let udp_other = act(&["udp-send", "127.0.0.2:9", "1"]);
    let msg = act(&["udp-sendmsg", "127.0.0.1:9"]);
    let packet = act(&["packet-socket"]);
    let inet = act(&["inet-socket"]);
    // The last act: once its record is in, the earlier ones are too.
    let marker = act(&["udp-send", "127.0.0.3:9", "1"]);
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
    let m = of(&recs, msg, SyscallId::Sendmsg);
    assert_eq!(m.len(), 1, "sendmsg with a destination");
    assert_eq!(conn(&m[0]).server.map(|e| e.port), Some(9));

    // socket(): packet sockets are reported, plain TCP sockets are not.
    let p = of(&recs, packet, SyscallId::Socket);
    assert_eq!(p.len(), 1, "packet socket");
    let args = sysargs::decode(&p[0]).args;
    let domain = args.iter().find(|a| a.name == "domain").expect("domain");
    assert!(format!("{:?}", domain.value).contains("AF_PACKET"));
    assert!(of(&recs, inet, SyscallId::Socket).is_empty());
    assert!(of(&recs, tcp4, SyscallId::Socket).is_empty());
}

#[tokio::test]
async fn loopback_is_filtered_in_the_kernel_by_default() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let mut sensor = Sensor::load(&SensorConfig::default()).expect("load sensor");
    let tcp = act(&["tcp-pair", "127.0.0.1"]);
    let udp = act(&["udp-send", "127.0.0.1:9", "2"]);
    let sock = std::env::temp_dir().join(format!("vigil-net-{}.sock", std::process::id()));
    let marker = act(&["unix-connect", sock.to_str().unwrap()]);
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
