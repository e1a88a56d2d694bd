//! io_uring submissions, live, in a podman container (tracepoint or LSM
//! mode, whichever this kernel runs).
//!
//! `vigil-actions` in the container (without the default seccomp profile,
//! which refuses io_uring altogether) opens `/etc/shadow` and connects to a
//! mining-pool port through io_uring (IORING_OP_OPENAT, IORING_OP_CONNECT),
//! never through the open or connect syscalls. Each must come out as the
//! syscall's event, flagged `evt.arg.io_uring = 1`, and raise the same
//! alert a plain open or connect raises, marked `vigil.io_uring`. A user
//! rule on a directory prefix fires for io_uring opens by a relative name
//! and through `..`, `.` and `//` (the kernel forwards what it cannot
//! judge as given; the agent resolves and normalises `fd.name`). The near
//! misses must stay quiet: an io_uring read of an unwatched file
//! (`/etc/hostname`) is dropped by the in-kernel open filter (no event at
//! all), and an io_uring connect to port 8080 raises no mining alert.

use std::time::Duration;

use serde_json::Value;
use vigil_tests::actions::{actions_image, ACTIONS_IN_IMAGE};
use vigil_tests::events::{field, s, EventFile};
use vigil_tests::podman::TempDir;
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

const WAIT: Duration = Duration::from_secs(20);
const PREFIX_RULE: &str = "io_uring test prefix";
const RULES: &str = r#"- rule: io_uring test prefix
  desc: opens under one directory, however the path was written
  condition: evt.type in (open, openat, openat2) and container.id != host and fd.name startswith /srv/vigil-uring/
  output: prefix open (file=%fd.name raw=%fd.nameraw container=%container.id)
  priority: WARNING
"#;

#[test]
fn io_uring_opens_and_connects_raise_the_same_alerts_as_syscalls() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let image = actions_image().expect("build the actions image");
    let dir = TempDir::new("vigil-live-uring").expect("temp dir");
    let events_path = dir.path().join("events.jsonl");
    let rules = dir.path().join("uring.yaml");
    std::fs::write(&rules, RULES).expect("write rules");
    let agent = Agent::builder(["run", "--net-loopback", "--rules"])
        .arg(&rules)
        .arg("--events")
        .arg(&events_path)
        .echo(false)
        .start()
        .expect("start vigil run");
    // io_uring's own hooks attached (or, where they cannot, the gap named).
    let ready = agent.stderr_lines().join("\n");
    // Podman's (and Docker's) default seccomp profile refuses io_uring_setup
    // (ENOSYS); a container that runs without it, as many images that use
    // io_uring ask for, is the one an attacker gets this path in.
    let c = Container::run(
        &["--security-opt", "seccomp=unconfined"],
        &image,
        &["sleep", "86400"],
    )
    .expect("start container");
    let id = c.id().to_owned();
    let a = ACTIONS_IN_IMAGE;
    // The relative open's subshell outlives the opener by a second, so
    // that an agent reading the opener's working directory after it is
    // gone (a busy machine, SCHED_BATCH: docs/performance.md) falls back
    // to its parent's, the same directory (`enrich::cwd`). Without it the
    // shell execs the opener in its own place and both are gone at once.
    let script = format!(
        "{a} uring-open /etc/shadow; {a} uring-open /etc/hostname; \
         {a} tcp-serve 127.0.0.1:3333 4 & {a} tcp-serve 127.0.0.1:8080 4 & sleep 1; \
         {a} uring-connect 127.0.0.1:3333; {a} uring-connect 127.0.0.1:8080; wait; \
         mkdir -p /srv/vigil-uring/conf && echo s > /srv/vigil-uring/conf/x.txt; \
         (cd /srv/vigil-uring/conf && {a} uring-open x.txt; sleep 1); \
         {a} uring-open /tmp/../srv//vigil-uring/./conf/x.txt"
    );
    let out = c.exec(&["sh", "-c", &script]).expect("podman exec");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.matches(": ok").count() >= 8,
        "actions in the container: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut ev = EventFile::new(&events_path);
    let here = |v: &Value| s(v, "container.full_id") == id;
    let uring = |v: &Value| v.get("evt.arg.io_uring") == Some(&Value::from(1));
    let open = ev.expect(
        "io_uring open of /etc/shadow in the container",
        WAIT,
        |v| here(v) && s(v, "fd.name") == "/etc/shadow" && uring(v),
        |v| here(v) && s(v, "evt.type").starts_with("open"),
    );
    assert_eq!(s(&open, "evt.type"), "openat", "{open}");
    assert_eq!(s(&open, "proc.name"), "vigil-actions", "{open}");
    assert!(open["evt.rawres"].as_i64().unwrap_or(-1) >= 0, "{open}");
    let connect = ev.expect(
        "io_uring connect to :3333 in the container",
        WAIT,
        |v| here(v) && s(v, "evt.type") == "connect" && v["fd.sport"] == 3333 && uring(v),
        |v| here(v) && s(v, "evt.type") == "connect",
    );
    assert_eq!(s(&connect, "fd.sip"), "127.0.0.1", "{connect}");
    assert_eq!(connect["evt.rawres"], 0, "{connect}");

    let in_c = |v: &Value| field(v, "container.id") == &id[..12];
    let alert = |rule: &str, what: &str| {
        agent
            .wait_stdout_json(WAIT, |v| {
                s(v, "rule") == rule && in_c(v) && s(v, "output").contains(what)
            })
            .unwrap_or_else(|| {
                panic!(
                    "no alert `{rule}` for {what}; alerts:\n{}\nagent log:\n{ready}",
                    agent.stdout_lines().join("\n")
                )
            })
    };
    for (rule, what) in [
        ("Read of shadow or sudoers file in container", "/etc/shadow"),
        ("Connection to mining pool port from container", ":3333"),
    ] {
        let a = alert(rule, what);
        assert_eq!(a["output_fields"]["vigil.io_uring"], true, "{a}");
        assert!(
            s(&a, "output").ends_with("(submitted through io_uring)"),
            "{a}"
        );
    }

    // Paths the filter cannot judge as given reach the agent, which
    // resolves and normalises them.
    for raw in ["x.txt", "/tmp/../srv//vigil-uring/./conf/x.txt"] {
        let a = alert(PREFIX_RULE, &format!("raw={raw} "));
        assert_eq!(
            s(&a["output_fields"], "fd.name"),
            "/srv/vigil-uring/conf/x.txt",
            "{a}"
        );
        assert_eq!(a["output_fields"]["vigil.io_uring"], true, "{a}");
    }

    // Near misses. The 8080 connect is reported (so it was seen) but is no
    // pool; the unwatched file never leaves the kernel.
    ev.expect(
        "io_uring connect to :8080",
        WAIT,
        |v| here(v) && s(v, "evt.type") == "connect" && v["fd.sport"] == 8080 && uring(v),
        |v| here(v) && s(v, "evt.type") == "connect",
    );
    assert!(
        !ev.events()
            .iter()
            .any(|v| here(v) && s(v, "fd.name") == "/etc/hostname"),
        "the open filter let an unwatched io_uring open through"
    );
    for a in agent.stdout_json().expect("alerts") {
        if !in_c(&a) {
            continue;
        }
        // (The exec session's shell alert names both in its command line.)
        let f = &a["output_fields"];
        assert!(
            f["fd.name"] != "/etc/hostname"
                && f["fd.sport"] != 8080
                && !s(f, "fd.name").ends_with(":8080"),
            "alert for a benign io_uring request: {a}"
        );
    }
    drop(c);
    drop(agent);
}
