//! Attempts the kernel refuses before the syscall runs: in a podman
//! container with the runtime's default seccomp profile, `bpf`,
//! `userfaultfd` and `open_by_handle_at` are answered with an error before
//! their enter tracepoints fire. vigil still reports each attempt (from the
//! syscall's exit tracepoint), with its numeric arguments and the error, and
//! the default rules alert on it.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use vigil_tests::actions::{actions_image, ACTIONS_IN_IMAGE};
use vigil_tests::events::{field, s};
use vigil_tests::podman::TempDir;
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

const WAIT: Duration = Duration::from_secs(20);

/// The events of `container` with `evt.type` `ty`.
fn events_of(path: &Path, container: &str, ty: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| s(v, "evt.type") == ty && s(v, "container.full_id") == container)
        .collect()
}

#[test]
fn seccomp_refused_attempts_are_reported_and_alerted() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let tmp = TempDir::new("vigil-refused").expect("temp dir");
    let events = tmp.path().join("events.jsonl");
    let agent = Agent::builder(["run", "--alert-rate", "off", "--events"])
        .arg(&events)
        .echo(false)
        .start()
        .expect("start vigil run");
    let image = actions_image().expect("actions image");
    // The runtime's default seccomp profile: no --security-opt.
    let c = Container::run(&[], &image, &["sleep", "86400"]).expect("container");
    let cases = [
        (
            "bpf-prog-load",
            None,
            "bpf",
            "BPF program load from container",
        ),
        (
            "userfaultfd",
            None,
            "userfaultfd",
            "Exploit primitive syscall in container",
        ),
        (
            "open-by-handle",
            Some("/etc/shadow"),
            "open_by_handle_at",
            "open_by_handle_at in container",
        ),
    ];
    for (action, arg, _, _) in &cases {
        let mut cmd = vec![ACTIONS_IN_IMAGE, action];
        cmd.extend(arg);
        let out = c.exec(&cmd).expect("podman exec");
        let text = String::from_utf8_lossy(&out.stdout);
        // Refused: the helper reports the error, not "ok".
        assert!(!text.contains(": ok"), "{action} was not refused: {text}");
    }
    for (action, _, _, rule) in &cases {
        let alert = agent.wait_stdout_json(WAIT, |v| {
            s(v, "rule") == *rule && field(v, "container.id") == c.short_id()
        });
        if alert.is_none() {
            panic!(
                "no alert `{rule}` for the refused {action}; alerts:\n{}\nagent log:\n{}",
                agent.stdout_lines().join("\n"),
                agent.stderr_lines().join("\n")
            );
        }
    }
    let stopped = agent.stop().expect("stop");
    assert!(stopped.status.success(), "{:?}", stopped.status);
    let id = c.id().to_owned();
    // The events: the error and the numeric arguments read from the
    // registers (bpf's command, userfaultfd's flags).
    let bpf = events_of(&events, &id, "bpf");
    assert!(
        bpf.iter()
            .any(|e| s(e, "evt.res") != "SUCCESS" && s(e, "evt.arg.cmd") == "BPF_PROG_LOAD"),
        "{bpf:?}"
    );
    for (action, _, ty, _) in &cases {
        let evs = events_of(&events, &id, ty);
        assert!(
            evs.iter()
                .any(|e| s(e, "evt.res").starts_with('E') && e["evt.failed"] == true),
            "{action}: no failed {ty} event: {evs:?}"
        );
    }
}
