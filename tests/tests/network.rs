//! Network events and rules, live, in a podman container on a network
//! namespace of its own (`--net=none`, as every test container: loopback only, nothing leaves
//! the machine).
//!
//! `vigil run --net-loopback` watches while `vigil-actions` in the
//! container serves TCP on a mining-pool port and on 8080, connects to both
//! (the first with a stratum `mining.subscribe`), sends UDP datagrams,
//! opens a packet socket, and a copy of itself named `bash` connects out
//! like a reverse shell. Each event must carry the container and both
//! endpoints; each rule must fire (the default rules', and Falco's packet
//! socket rule from its stable file), and its near miss (port 8080, a
//! connection made by a non-shell) must not.

use std::time::Duration;

use serde_json::Value;
use vigil_tests::actions::{actions_image, ACTIONS_IN_IMAGE};
use vigil_tests::events::{field, s, EventFile};
use vigil_tests::podman::TempDir;
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

const WAIT: Duration = Duration::from_secs(20);

#[path = "../../monitor-rules/tests/common/falco_file.rs"]
mod falco_file;
use falco_file::falco_rules;

fn num(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(-1)
}

#[test]
fn container_connections_carry_both_ends_and_raise_the_network_rules() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let image = actions_image().expect("build the actions image");
    let dir = TempDir::new("vigil-live-net").expect("temp dir");
    let events_path = dir.path().join("events.jsonl");
    // The default rules, and Falco's stable file next to them (its
    // "Packet socket created in container" watches socket()).
    let agent = Agent::builder(["run", "--net-loopback", "--rules"])
        .arg(falco_rules())
        .arg("--events")
        .arg(&events_path)
        .echo(false)
        .start()
        .expect("start vigil run");
    let c = Container::run(&["--cap-add", "NET_RAW"], &image, &["sleep", "86400"])
        .expect("start container");
    let id = c.id().to_owned();
    let a = ACTIONS_IN_IMAGE;
    let script = format!(
        "{a} tcp-serve 127.0.0.1:3333 6 & {a} tcp-serve 127.0.0.1:8080 6 & sleep 1; \
         {a} stratum 127.0.0.1:3333; {a} tcp-connect 127.0.0.1:8080; \
         cp {a} /tmp/bash && /tmp/bash tcp-connect 127.0.0.1:8080; \
         {a} udp-send 127.0.0.1:5353 3; {a} packet-socket; wait"
    );
    let out = c.exec(&["sh", "-c", &script]).expect("podman exec");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.matches(": ok").count() >= 7,
        "actions in the container: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut ev = EventFile::new(&events_path);
    let here = |v: &Value| s(v, "container.full_id") == id;
    let near = |v: &Value| here(v) && s(v, "fd.sockfamily") == "ip";
    // The stratum connection, with both ends.
    let connect = ev.expect(
        "connect to :3333 in the container",
        WAIT,
        |v| here(v) && s(v, "evt.type") == "connect" && num(v, "fd.sport") == 3333,
        near,
    );
    let cport = num(&connect, "fd.cport");
    assert_eq!(s(&connect, "fd.sip"), "127.0.0.1", "{connect}");
    assert_eq!(s(&connect, "fd.cip"), "127.0.0.1", "{connect}");
    assert_eq!(s(&connect, "fd.l4proto"), "tcp", "{connect}");
    assert!(cport > 0 && cport != 3333, "{connect}");
    assert_eq!(
        s(&connect, "fd.name"),
        format!("127.0.0.1:{cport}->127.0.0.1:3333")
    );
    assert_eq!(s(&connect, "proc.name"), "vigil-actions", "{connect}");
    // The server's side of the same flow: listen, then accept.
    ev.expect(
        "listen on :3333",
        WAIT,
        |v| here(v) && s(v, "evt.type") == "listen" && num(v, "fd.sport") == 3333,
        near,
    );
    let accept = ev.expect(
        "accept of the stratum connection",
        WAIT,
        |v| {
            here(v)
                && s(v, "evt.type").starts_with("accept")
                && num(v, "fd.sport") == 3333
                && num(v, "fd.cport") == cport
        },
        near,
    );
    assert_eq!(accept.get("fd.is_server"), Some(&Value::Bool(true)));
    // UDP: three datagrams, one flow, one event.
    ev.expect(
        "sendto :5353",
        WAIT,
        |v| here(v) && s(v, "evt.type") == "sendto" && num(v, "fd.sport") == 5353,
        near,
    );
    ev.expect(
        "packet socket",
        WAIT,
        |v| here(v) && s(v, "evt.type") == "socket" && s(v, "evt.arg.domain") == "AF_PACKET",
        here,
    );

    let in_c = |v: &Value| field(v, "container.id") == &id[..12];
    let alert = |rule: &str| agent.expect_alert(WAIT, rule, &id);
    let mining = alert("Connection to mining pool port from container");
    assert!(
        s(&mining, "output").contains("->127.0.0.1:3333"),
        "{mining}"
    );
    let shell = alert("Outbound connection from shell in container");
    assert!(s(&shell, "output").contains("proc=bash"), "{shell}");
    alert("Packet or raw socket in container");
    alert("Packet socket created in container");
    // Near misses: port 8080 is no pool; vigil-actions is no shell.
    for a in agent.stdout_json().expect("alerts") {
        if !in_c(&a) {
            continue;
        }
        let out = s(&a, "output");
        let rule = s(&a, "rule");
        assert!(
            !(rule == "Connection to mining pool port from container" && out.contains(":8080")),
            "{a}"
        );
        assert!(
            !(rule == "Outbound connection from shell in container"
                && out.contains("proc=vigil-actions")),
            "{a}"
        );
    }
    drop(c);
    drop(agent);
}

/// TCP and UDP across a real link: a server container on one network
/// namespace, a client container on another, joined by a veth pair the
/// test makes (private /30, no route anywhere else). The client's connect,
/// the server's accept and the client's datagram each carry both
/// endpoints, and a dup2 of the connected socket onto stdin (the kernel
/// does not describe the socket there) gets them from the agent's
/// per-socket table.
#[test]
fn tcp_and_udp_across_a_veth_pair_carry_both_ends() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let image = actions_image().expect("build the actions image");
    let pair = vigil_tests::netns::VethPair::new("veth").expect("veth pair");
    let dir = TempDir::new("vigil-veth").expect("temp dir");
    let events_path = dir.path().join("events.jsonl");
    let agent = Agent::builder(["run", "--events"])
        .arg(&events_path)
        .echo(false)
        .start()
        .expect("start vigil run");
    let net = vigil_tests::netns::VethPair::network;
    let server = Container::run_on(&net(&pair.ns_b), &[], &image, &["sleep", "600"])
        .expect("server container");
    let client = Container::run_on(&net(&pair.ns_a), &[], &image, &["sleep", "600"])
        .expect("client container");
    let a = ACTIONS_IN_IMAGE;
    let mut serve = std::process::Command::new("podman")
        .args(["exec", server.id(), a, "tcp-serve", "0.0.0.0:8080", "8"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("podman exec tcp-serve");
    std::thread::sleep(Duration::from_secs(1));
    let dst = format!("{}:8080", pair.addr_b);
    let udp = format!("{}:5353", pair.addr_b);
    let script = format!("{a} tcp-connect {dst} && {a} udp-send {udp} 2 && {a} tcp-dup {dst}");
    let out = client.exec(&["sh", "-c", &script]).expect("podman exec");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.matches(": ok").count() == 3,
        "actions in the client: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut ev = EventFile::new(&events_path);
    let (ca, sa) = (pair.addr_a.as_str(), pair.addr_b.as_str());
    let in_c = |c: &Container, v: &Value| s(v, "container.full_id") == c.id();
    let connect = ev.expect(
        "the client's connect across the link",
        WAIT,
        |v| in_c(&client, v) && s(v, "evt.type") == "connect" && s(v, "fd.sip") == sa,
        |v| in_c(&client, v),
    );
    let cport = num(&connect, "fd.cport");
    assert_eq!(s(&connect, "fd.cip"), ca, "{connect}");
    assert_eq!(num(&connect, "fd.sport"), 8080, "{connect}");
    assert_eq!(s(&connect, "fd.l4proto"), "tcp", "{connect}");
    assert_eq!(s(&connect, "fd.name"), format!("{ca}:{cport}->{sa}:8080"));
    let accept = ev.expect(
        "the server's accept of that connection",
        WAIT,
        |v| {
            in_c(&server, v)
                && s(v, "evt.type").starts_with("accept")
                && num(v, "fd.cport") == cport
        },
        |v| in_c(&server, v),
    );
    assert_eq!(s(&accept, "fd.cip"), ca, "{accept}");
    assert_eq!(s(&accept, "fd.sip"), sa, "{accept}");
    assert_eq!(num(&accept, "fd.sport"), 8080, "{accept}");
    assert_eq!(accept.get("fd.is_server"), Some(&Value::Bool(true)));
    let send = ev.expect(
        "the client's first datagram",
        WAIT,
        |v| in_c(&client, v) && s(v, "evt.type") == "sendto" && num(v, "fd.sport") == 5353,
        |v| in_c(&client, v),
    );
    // An unconnected UDP socket has no local address of its own (the
    // kernel picks one per datagram): 0.0.0.0, as Falco shows it.
    assert!(["0.0.0.0", ca].contains(&s(&send, "fd.cip")), "{send}");
    assert_eq!(s(&send, "fd.sip"), sa, "{send}");
    assert_eq!(s(&send, "fd.l4proto"), "udp", "{send}");
    assert!(num(&send, "fd.cport") > 0, "{send}");
    // dup2(socket, 0): the record names only the fd; the endpoints come
    // from the connect of the same process's socket.
    let dup = ev.expect(
        "dup2 of the connected socket",
        WAIT,
        |v| in_c(&client, v) && s(v, "evt.type") == "dup2",
        |v| in_c(&client, v),
    );
    assert_eq!(s(&dup, "fd.cip"), ca, "{dup}");
    assert_eq!(s(&dup, "fd.sip"), sa, "{dup}");
    assert_eq!(num(&dup, "fd.sport"), 8080, "{dup}");
    assert_eq!(s(&dup, "fd.l4proto"), "tcp", "{dup}");
    let _ = serve.wait();
    drop(client);
    drop(server);
    drop(agent);
    drop(pair);
}
