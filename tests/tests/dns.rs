//! DNS, live: names a container looks up, the addresses it gets back, and
//! `fd.sip.name` on its later connections, in a podman container on a
//! network namespace of its own (`--net=none`: loopback only).
//!
//! In the glibc image (the host's dynamically linked `wget`, so glibc's own
//! resolver: connect, sendmmsg, recvfrom) `vigil-actions dns-serve` answers
//! on 127.0.0.1:53 and `wget` looks up `c2.example.com` (→ 127.0.0.7) and
//! `kubernetes.default.svc.cluster.local` (→ 127.0.0.8), then connects
//! there (refused: nothing listens). Then `vigil-actions` resolves the
//! way Go's and musl's resolvers do (write/read on a connected UDP socket)
//! and over TCP. The DNS events (captured where the packets pass, so every
//! one of these ways) must carry the container, process, name and answer;
//! the connects their `fd.sip.name`; a rule on `fd.sip.name` and Falco's
//! "Contact K8S API Server From Container" must fire, and not for a
//! connection to an address nobody looked up.

use std::time::Duration;

use serde_json::Value;
use vigil_tests::actions::{glibc_image, ACTIONS_IN_IMAGE};
use vigil_tests::events::{s, EventFile};
use vigil_tests::podman::TempDir;
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

const WAIT: Duration = Duration::from_secs(20);

const C2_RULE: &str = "\
- rule: Connection to a looked-up C2 name
  desc: test rule on the name the container resolved
  condition: evt.type=connect and fd.sip.name=\"c2.example.com\"
  output: c2 connection (name=%fd.sip.name ip=%fd.sip proc=%proc.name)
  priority: WARNING
";

#[path = "../../monitor-rules/tests/common/falco_file.rs"]
mod falco_file;
use falco_file::falco_rules;

#[test]
fn container_lookups_name_their_answers_and_later_connections() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let image = glibc_image().expect("build the glibc image");
    let dir = TempDir::new("vigil-live-dns").expect("temp dir");
    let events_path = dir.path().join("events.jsonl");
    let rules = dir.path().join("c2.yaml");
    std::fs::write(&rules, C2_RULE).expect("write the rule file");
    let agent = Agent::builder(["run", "--net-loopback", "--alert-rate", "off", "--rules"])
        .arg(&rules)
        .arg("--rules")
        .arg(falco_rules())
        .arg("--events")
        .arg(&events_path)
        .echo(false)
        .start()
        .expect("start vigil run");
    let c = Container::run(
        &[],
        &image,
        &[ACTIONS_IN_IMAGE, "dns-serve", "127.0.0.1:53", "60"],
    )
    .expect("start container");
    let id = c.id().to_owned();
    let a = ACTIONS_IN_IMAGE;
    let script = format!(
        "echo 'nameserver 127.0.0.1' > /etc/resolv.conf || exit 1; \
         wget -q -T 3 -t 1 http://c2.example.com:8080/; \
         wget -q -T 3 -t 1 http://kubernetes.default.svc.cluster.local:8443/; \
         {a} tcp-connect 127.0.0.9:8080; \
         {a} dns-udp-connected 127.0.0.1:53 c2.example.com; \
         {a} dns-tcp 127.0.0.1:53 kubernetes.default.svc.cluster.local; echo done"
    );
    let out = c.exec(&["sh", "-c", &script]).expect("podman exec");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("done"),
        "the script in the container: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut ev = EventFile::new(&events_path);
    let here = |v: &Value| s(v, "container.full_id") == id;
    let dns = |v: &Value| here(v) && s(v, "evt.type") == "dns";
    // The answer wget received, parsed, in the container.
    let answer = ev.expect(
        "the answer for c2.example.com A",
        WAIT,
        |v| {
            dns(v)
                && v.get("dns.is_response") == Some(&Value::Bool(true))
                && s(v, "dns.name") == "c2.example.com"
                && s(v, "dns.type") == "A"
        },
        dns,
    );
    assert_eq!(s(&answer, "dns.rcode"), "NOERROR", "{answer}");
    assert_eq!(s(&answer, "proc.name"), "wget", "{answer}");
    assert_eq!(answer["dns.answers"][0]["data"], "127.0.0.7", "{answer}");
    assert_eq!(s(&answer, "fd.sip"), "127.0.0.1", "{answer}");
    assert_eq!(answer["fd.sport"], 53, "{answer}");
    // Its query, as sent.
    ev.expect(
        "the query for c2.example.com",
        WAIT,
        |v| {
            dns(v)
                && v.get("dns.is_response") == Some(&Value::Bool(false))
                && s(v, "dns.name") == "c2.example.com"
        },
        dns,
    );
    // glibc sends A and AAAA in one sendmmsg: the second message is seen.
    ev.expect(
        "wget's AAAA query (sendmmsg's second message)",
        WAIT,
        |v| {
            dns(v)
                && s(v, "proc.name") == "wget"
                && v.get("dns.is_response") == Some(&Value::Bool(false))
                && s(v, "dns.type") == "AAAA"
        },
        dns,
    );
    // write/read on a connected UDP socket, and TCP: query and answer,
    // each the process's own (the answer arrives in softirq context).
    for (l4, name, ip) in [
        ("udp", "c2.example.com", "127.0.0.7"),
        ("tcp", "kubernetes.default.svc.cluster.local", "127.0.0.8"),
    ] {
        let by_actions = move |v: &Value, response: bool| {
            dns(v)
                && s(v, "proc.name") == "vigil-actions"
                && s(v, "dns.name") == name
                && v.get("dns.is_response") == Some(&Value::Bool(response))
        };
        let what = format!("the {l4} query for {name} by vigil-actions");
        ev.expect(&what, WAIT, |v| by_actions(v, false), dns);
        let what = format!("the {l4} answer for {name} to vigil-actions");
        let answer = ev.expect(&what, WAIT, |v| by_actions(v, true), dns);
        assert_eq!(answer["dns.answers"][0]["data"], ip, "{answer}");
        assert_eq!(s(&answer, "fd.sip"), "127.0.0.1", "{answer}");
        assert_eq!(answer["fd.sport"], 53, "{answer}");
        assert_eq!(answer.get("dns.error"), None, "{answer}");
    }
    // The connection to the answer carries the name.
    let connect = |ip: &'static str| {
        move |v: &Value| here(v) && s(v, "evt.type") == "connect" && s(v, "fd.sip") == ip
    };
    let c2 = ev.expect("connect to 127.0.0.7", WAIT, connect("127.0.0.7"), here);
    assert_eq!(s(&c2, "fd.sip.name"), "c2.example.com", "{c2}");
    let k8s = ev.expect("connect to 127.0.0.8", WAIT, connect("127.0.0.8"), here);
    assert_eq!(
        s(&k8s, "fd.sip.name"),
        "kubernetes.default.svc.cluster.local",
        "{k8s}"
    );
    // Nobody looked 127.0.0.9 up: no name.
    let plain = ev.expect("connect to 127.0.0.9", WAIT, connect("127.0.0.9"), here);
    assert_eq!(plain.get("fd.sip.name"), None, "{plain}");

    let alert = |rule: &str| agent.expect_alert(WAIT, rule, &id);
    let hit = alert("Connection to a looked-up C2 name");
    assert!(
        s(&hit, "output").contains("name=c2.example.com ip=127.0.0.7"),
        "{hit}"
    );
    alert("Contact K8S API Server From Container");
    // Near miss: the connection to an address nobody looked up.
    for a in agent.stdout_json().expect("alerts") {
        let rule = s(&a, "rule");
        let named = rule == "Connection to a looked-up C2 name"
            || rule == "Contact K8S API Server From Container";
        assert!(!(named && s(&a, "output").contains("127.0.0.9")), "{a}");
    }
    drop(c);
    drop(agent);
}
