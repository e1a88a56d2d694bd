//! Ordinary container workloads raise no alerts.
//!
//! With `vigil run` and the default rules watching, several containers are
//! started, do ordinary work from their entrypoint (ls, cat of ordinary
//! files, echo, sleep, a small loop), are stopped and removed. The runtime
//! itself (podman, conmon, runc re-exec, runc init's mounts, pivot_root,
//! setns, capset, setuid) does its usual start/stop work meanwhile. Zero
//! alerts may name these containers or the runtime processes that served
//! them: false positives on routine container life are what makes a SOC
//! stop reading alerts.

use std::time::Duration;

use serde_json::Value;
use vigil_tests::actions::actions_image;
use vigil_tests::events::{field, s};
use vigil_tests::podman::TempDir;
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

/// Processes of the container runtime, as the kernel names them.
const RUNTIME: &[&str] = &[
    "podman",
    "conmon",
    "runc",
    "exe",
    "runc:[0:PARENT]",
    "runc:[1:CHILD]",
    "runc:[2:INIT]",
    "catatonit",
];

const WORKLOAD: &str = "ls / >/dev/null; cat /etc/passwd /etc/group >/dev/null; \
    echo started; i=0; while [ $i -lt 5 ]; do i=$((i+1)); echo tick $i; sleep 0.1; done; \
    head -c 64 /dev/urandom | wc -c; date >/tmp/stamp; cat /tmp/stamp >/dev/null; \
    exec sleep 30";

#[test]
fn ordinary_container_lifecycles_raise_no_alerts() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    // The actions image: busybox plus an /etc/shadow for the control below.
    let image = actions_image().expect("actions image");
    let image = image.as_str();
    let dir = TempDir::new("vigil-live-benign").expect("temp dir");
    let agent = Agent::builder(["run", "--events"])
        .arg(dir.path().join("events.jsonl"))
        .echo(false)
        .start()
        .expect("start vigil run");

    let mut ids = Vec::new();
    let mut containers = Vec::new();
    for opts in [&[][..], &["--init"][..], &["--read-only"][..]] {
        let c = Container::run(opts, image, &["sh", "-c", WORKLOAD]).expect("start container");
        ids.push(c.id().to_string());
        containers.push(c);
    }
    // A container that runs to completion in the foreground.
    let (id, out) = Container::run_to_exit(&[], image, &["sh", "-c", "echo done; ls /etc"])
        .expect("podman run --rm");
    assert!(String::from_utf8_lossy(&out.stdout).contains("done"));
    ids.push(id);

    // Let the entrypoints finish their work.
    std::thread::sleep(Duration::from_secs(3));
    for c in &containers {
        let logs = std::process::Command::new("podman")
            .args(["logs", c.id()])
            .output()
            .expect("podman logs");
        let text = String::from_utf8_lossy(&logs.stdout);
        assert!(text.contains("tick 5"), "workload did not run: {text}");
        c.stop(2).expect("podman stop");
    }
    drop(containers);
    // Give late events (teardown) time to be read and matched.
    std::thread::sleep(Duration::from_secs(2));

    // Control: the rules are live in this agent, so the silence above means
    // something. One container reads /etc/shadow: that one must alert.
    let (control, _) = Container::run_to_exit(&[], image, &["cat", "/etc/shadow"])
        .expect("podman run --rm cat /etc/shadow");
    let alert = agent.wait_stdout_json(Duration::from_secs(15), |a| {
        field(a, "container.id") == &control[..12]
    });
    assert!(
        alert.is_some_and(|a| s(&a, "rule") == "Read of shadow or sudoers file in container"),
        "the control container's shadow read raised no (or another) alert: {:?}",
        agent.stdout_lines()
    );

    let stopped = agent.stop().expect("stop agent");
    let alerts = vigil_tests::agent::parse_json_lines(&stopped.stdout).expect("JSON lines");
    for a in &alerts {
        eprintln!(
            "alert seen: {} [{}]",
            s(a, "rule"),
            field(a, "container.id")
        );
    }
    let ours: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            let cid = field(a, "container.id");
            ids.iter().any(|id| cid == &id[..12])
                || (cid == "host" && RUNTIME.contains(&field(a, "proc.name")))
        })
        .collect();
    assert!(
        ours.is_empty(),
        "{} alert(s) on ordinary container life:\n{}",
        ours.len(),
        ours.iter()
            .map(|a| format!("{}: {}", s(a, "rule"), s(a, "output")))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The agent did see these containers: the silence is not blindness.
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).expect("events");
    for id in &ids {
        assert!(
            events.contains(&format!("\"container.full_id\":\"{id}\"")),
            "no event at all from container {id}"
        );
    }
}
