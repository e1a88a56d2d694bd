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

/// Whether this kernel has the per-syscall tracepoints of `name`.
fn has_tracepoints(name: &str) -> bool {
    let dir = Path::new("/sys/kernel/tracing/events/syscalls");
    dir.join(format!("sys_enter_{name}")).is_dir() && dir.join(format!("sys_exit_{name}")).is_dir()
}

/// Module and kexec calls on a kernel built without them (this host) have no
/// tracepoints of their own: `vigil probe` says their attempts are not seen
/// by default, and with `--watch-untraceable` the global
/// `raw_syscalls/sys_exit` hook reports them (ENOSYS without seccomp, EPERM
/// from the runtime's default profile) and the default rules alert. On a
/// kernel that has their tracepoints the same alerts come from those.
#[test]
fn untraceable_module_and_kexec_attempts_are_reported_with_the_opt_in() {
    let Some(bin) = (require_podman().then(require_vigil_binary)).flatten() else {
        return;
    };
    // Off (the default): the probe says what is not seen.
    let probe = std::process::Command::new(&bin)
        .arg("probe")
        .output()
        .expect("vigil probe");
    let text = String::from_utf8_lossy(&probe.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("untraceable attempts"))
        .unwrap_or("");
    let untraceable: Vec<&str> = ["init_module", "kexec_load"]
        .into_iter()
        .filter(|n| !has_tracepoints(n))
        .collect();
    for name in ["init_module", "kexec_load"] {
        assert_eq!(
            line.contains(name),
            untraceable.contains(&name),
            "probe line for {name}: {line:?}\n{text}"
        );
    }
    if !untraceable.is_empty() {
        assert!(
            line.contains("NOT seen by default") && line.contains("--watch-untraceable"),
            "{line}"
        );
    }

    let tmp = TempDir::new("vigil-untraceable").expect("temp dir");
    let events = tmp.path().join("events.jsonl");
    let agent = Agent::builder([
        "run",
        "--alert-rate",
        "off",
        "--watch-untraceable",
        "--events",
    ])
    .arg(&events)
    .echo(false)
    .start()
    .expect("start vigil run");
    if !untraceable.is_empty() {
        let hook = agent.wait_stderr(WAIT, |l| l.contains("--watch-untraceable:"));
        assert!(
            hook.as_deref().is_some_and(
                |h| h.contains("(attached;") && untraceable.iter().all(|n| h.contains(n))
            ),
            "{hook:?}\n{}",
            agent.stderr_lines().join("\n")
        );
    }
    let image = actions_image().expect("actions image");
    // Without seccomp the kernel itself answers (ENOSYS here); with the
    // runtime's default profile seccomp answers first (EPERM).
    let unconfined = Container::run(
        &["--security-opt", "seccomp=unconfined"],
        &image,
        &["sleep", "86400"],
    )
    .expect("container");
    let confined = Container::run(&[], &image, &["sleep", "86400"]).expect("container");
    let cases = [
        (
            "init-module",
            "init_module",
            "Kernel module load from container",
        ),
        ("kexec-load", "kexec_load", "Kexec load"),
    ];
    for c in [&unconfined, &confined] {
        for (action, _, _) in &cases {
            let out = c.exec(&[ACTIONS_IN_IMAGE, action]).expect("podman exec");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(!text.contains(": ok"), "{action} was not refused: {text}");
        }
    }
    for c in [&unconfined, &confined] {
        for (action, _, rule) in &cases {
            let alert = agent.wait_stdout_json(WAIT, |v| {
                s(v, "rule") == *rule && field(v, "container.id") == c.short_id()
            });
            assert!(
                alert.is_some(),
                "no alert `{rule}` for {action} in {}; alerts:\n{}\nagent log:\n{}",
                c.short_id(),
                agent.stdout_lines().join("\n"),
                agent.stderr_lines().join("\n")
            );
        }
    }
    let stopped = agent.stop().expect("stop");
    assert!(stopped.status.success(), "{:?}", stopped.status);
    for (c, errno) in [(&unconfined, "ENOSYS"), (&confined, "EPERM")] {
        for (action, ty, _) in &cases {
            let evs = events_of(&events, c.id(), ty);
            // Without seccomp a kernel that implements the call answers
            // otherwise (EPERM: no CAP_SYS_MODULE / CAP_SYS_BOOT).
            let want = if c.id() == unconfined.id() && !untraceable.contains(ty) {
                "E"
            } else {
                errno
            };
            assert!(
                evs.iter()
                    .any(|e| s(e, "evt.res").starts_with(want) && e["evt.failed"] == true),
                "{action}: no failed {ty} event with {want}: {evs:?}"
            );
        }
    }
}
