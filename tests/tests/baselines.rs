//! Live process baselines: `vigil run --learn-baselines DIR` learns what a
//! real podman container of the actions image runs for a few seconds, then
//! enforces. Afterwards the baseline's own processes raise nothing, and an
//! exec outside it raises "Process not in image baseline" naming the image,
//! the process and how it differs. The learned baseline is saved to DIR and
//! `vigil baseline show` prints it. Listening ports are learned the same
//! way: a port the image served while learning is quiet afterwards, a new
//! one raises "New listening port in container".

use std::time::{Duration, Instant};

use vigil_tests::actions::{actions_image, ACTIONS_IN_IMAGE};
use vigil_tests::events::{field, has_tag, s};
use vigil_tests::podman::TempDir;
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

const RULE: &str = "Process not in image baseline";
const LISTEN_RULE: &str = "New listening port in container";
const LEARN_SECS: u64 = 6;

/// One test at a time: each agent learns the same image from every
/// container it sees, the other test's included.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// An agent learning baselines for LEARN_SECS into a fresh directory:
/// the directory (kept while the test runs), its `baselines` folder, and
/// the agent.
fn learning_agent(tag: &str) -> (TempDir, std::path::PathBuf, Agent) {
    let dir = TempDir::new(tag).expect("temp dir");
    let bdir = dir.path().join("baselines");
    let agent = Agent::builder(["run", "--learn-baselines"])
        .arg(&bdir)
        .arg("--baseline-learn-secs")
        .arg(LEARN_SECS.to_string())
        .echo(false)
        .start()
        .expect("start vigil run");
    (dir, bdir, agent)
}

#[test]
fn learned_baseline_then_unexpected_exec_alerts() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = actions_image().expect("build the actions image");
    let (_dir, bdir, agent) = learning_agent("vigil-baselines");
    // Learning starts at the image's first exec (the container's sleep).
    let c = Container::run(&[], &image, &["sleep", "600"]).expect("start container");
    let learn_start = Instant::now();
    for _ in 0..2 {
        c.exec_ok(&["ls", "/"]).expect("ls");
        c.exec_ok(&["cat", "/etc/hostname"]).expect("cat");
    }
    let left = Duration::from_secs(LEARN_SECS + 2).saturating_sub(learn_start.elapsed());
    std::thread::sleep(left);

    // Enforcing: the learned commands pass, new ones alert.
    c.exec_ok(&["ls", "/"]).expect("ls");
    c.exec_ok(&["cat", "/etc/hostname"]).expect("cat");
    let out = c
        .exec(&[ACTIONS_IN_IMAGE, "open-read", "/etc/hostname"])
        .expect("vigil-actions");
    assert!(out.status.success(), "{out:?}");
    let alert = agent
        .wait_stdout_json(Duration::from_secs(15), |v| {
            s(v, "rule") == RULE && field(v, "proc.exepath") == ACTIONS_IN_IMAGE
        })
        .unwrap_or_else(|| {
            panic!(
                "no `{RULE}` alert for {ACTIONS_IN_IMAGE}; stdout:\n{}\nlog:\n{}",
                agent.stdout_lines().join("\n"),
                agent.stderr_lines().join("\n")
            )
        });
    assert!(has_tag(&alert, "unexpected-exec"), "{alert}");
    assert_eq!(field(&alert, "container.id"), c.short_id(), "{alert}");
    assert_eq!(field(&alert, "container.image"), image, "{alert}");
    assert!(
        field(&alert, "proc.baseline_diff").contains(ACTIONS_IN_IMAGE),
        "{alert}"
    );
    // A known executable (busybox) with a command line never seen.
    c.exec_ok(&["cat", "/etc/shadow"]).expect("cat shadow");
    let argv_alert = agent
        .wait_stdout_json(Duration::from_secs(15), |v| {
            s(v, "rule") == RULE && field(v, "proc.cmdline") == "cat /etc/shadow"
        })
        .expect("an alert for a new argv shape");
    assert!(
        !field(&argv_alert, "proc.baseline_diff").is_empty(),
        "{argv_alert}"
    );
    // The baseline's own processes, run after learning, raised nothing.
    let own: Vec<String> = agent
        .stdout_json()
        .unwrap_or_default()
        .iter()
        .filter(|v| s(v, "rule") == RULE)
        .filter(|v| {
            let cmd = field(v, "proc.cmdline");
            cmd == "ls /" || cmd == "cat /etc/hostname"
        })
        .map(|v| v.to_string())
        .collect();
    assert!(own.is_empty(), "baseline processes alerted: {own:#?}");

    // Saved on exit, readable with `vigil baseline show`.
    agent.stop().expect("stop vigil");
    let bin = require_vigil_binary().expect("vigil binary");
    let show = std::process::Command::new(bin)
        .args(["baseline", "show", "--dir"])
        .arg(&bdir)
        .arg(&image)
        .output()
        .expect("vigil baseline show");
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{show:?}");
    assert!(text.contains(&format!("image = \"{image}\"")), "{text}");
    assert!(text.contains("\"ls\", \"/\""), "{text}");
    assert!(
        !text.contains(ACTIONS_IN_IMAGE),
        "learned after learning ended: {text}"
    );
}

#[test]
fn learned_listening_ports_then_new_port_alerts() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = actions_image().expect("build the actions image");
    let (_dir, bdir, agent) = learning_agent("vigil-baselines-listen");
    // The container has its own network namespace (--net=none): its ports
    // are its own. While learning it serves TCP 8080.
    let c = Container::run(&[], &image, &["sleep", "600"]).expect("start container");
    let learn_start = Instant::now();
    let serve = |addr: &str| {
        c.exec_ok(&[ACTIONS_IN_IMAGE, "tcp-serve", addr, "1"])
            .expect("tcp-serve")
    };
    serve("0.0.0.0:8080");
    let left = Duration::from_secs(LEARN_SECS + 2).saturating_sub(learn_start.elapsed());
    std::thread::sleep(left);

    // Enforcing: 8080 again is quiet, 4444 alerts.
    serve("0.0.0.0:8080");
    serve("0.0.0.0:4444");
    let alert = agent
        .wait_stdout_json(Duration::from_secs(15), |v| {
            s(v, "rule") == LISTEN_RULE && field(v, "container.id") == c.short_id()
        })
        .unwrap_or_else(|| {
            panic!(
                "no `{LISTEN_RULE}` alert; stdout:\n{}\nlog:\n{}",
                agent.stdout_lines().join("\n"),
                agent.stderr_lines().join("\n")
            )
        });
    assert!(has_tag(&alert, "network"), "{alert}");
    assert_eq!(field(&alert, "container.image"), image, "{alert}");
    assert_eq!(alert["output_fields"]["fd.lport"], 4444, "{alert}");
    assert_eq!(
        field(&alert, "proc.baseline_diff"),
        "listening on tcp/4444, baseline ports: tcp/8080",
        "{alert}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let ports: Vec<serde_json::Value> = agent
        .stdout_json()
        .unwrap_or_default()
        .iter()
        .filter(|v| s(v, "rule") == LISTEN_RULE && field(v, "container.id") == c.short_id())
        .map(|v| v["output_fields"]["fd.lport"].clone())
        .collect();
    assert_eq!(ports, [4444], "the learned port alerted too");

    // Saved with the baseline.
    agent.stop().expect("stop vigil");
    let bin = require_vigil_binary().expect("vigil binary");
    let show = std::process::Command::new(bin)
        .args(["baseline", "show", "--dir"])
        .arg(&bdir)
        .arg(&image)
        .output()
        .expect("vigil baseline show");
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{show:?}");
    assert!(text.contains("listen = [\n    \"tcp/8080\",\n]"), "{text}");
}
