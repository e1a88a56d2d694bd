//! Falco's own stable rule file, run by the real agent against real podman
//! containers: the fields that Falco rules need and that vigil now supplies
//! from live data — `user.name` from the container's own `/etc/passwd`,
//! `fd.name` normalised and `fd.nameraw` as passed, `proc.cwd` read at the
//! exec, `thread.cap_effective` and `proc.tty` from the exec record,
//! symlink/link and dup of a socket — make Falco's rules fire for what they
//! describe and stay quiet for the near misses.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use vigil_tests::events::{field, s};
use vigil_tests::podman::{ImageBuilder, TempDir};
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

#[path = "../../monitor-rules/tests/common/falco_file.rs"]
mod falco_file;
use falco_file::falco_rules;

static SERIAL: Mutex<()> = Mutex::new(());
const WAIT: Duration = Duration::from_secs(20);

/// A user that exists in the test image's `/etc/passwd` only (not on the
/// host), so its name can only come from the container's file.
const USER: &str = "vigilfalco";
const UID: &str = "4321";
const IMAGE: &str = "localhost/vigil-falco-rules:2";

fn image() -> &'static str {
    ImageBuilder::new(IMAGE)
        .text(
            "/etc/passwd",
            &format!("root:x:0:0:root:/root:/bin/sh\n{USER}:x:{UID}:{UID}::/:/bin/sh\n"),
            0o644,
        )
        .text("/etc/shadow", "root:!:19000:0:99999:7:::\n", 0o600)
        .ensure()
        .expect("build the test image");
    IMAGE
}

/// `vigil run` with Falco's stable file only.
fn agent(dir: &Path) -> Agent {
    Agent::builder([
        "run",
        "--no-default-rules",
        "--alert-rate",
        "off",
        "--rules",
    ])
    .arg(falco_rules())
    .arg("--events")
    .arg(dir.join("events.jsonl"))
    .echo(false)
    .start()
    .expect("start vigil run")
}

/// `podman exec [--user U] <c> <cmd>`; requires success when `must`.
fn exec(c: &Container, user: Option<&str>, cmd: &[&str], must: bool) {
    let mut p = Command::new("podman");
    p.arg("exec");
    if let Some(u) = user {
        p.args(["--user", u]);
    }
    let out = p
        .arg(c.id())
        .args(cmd)
        .stdin(Stdio::null())
        .output()
        .expect("podman exec");
    assert!(
        !must || out.status.success(),
        "podman exec {cmd:?}: {out:?}"
    );
}

fn wait_alert(agent: &Agent, dir: &Path, rule: &str, c: &Container) -> Value {
    agent
        .wait_stdout_json(WAIT, |v| {
            s(v, "rule") == rule && field(v, "container.id") == c.short_id()
        })
        .unwrap_or_else(|| {
            panic!(
                "no alert `{rule}` within {WAIT:?}; alerts:\n{}\nevents of the container:\n{}",
                agent.stdout_lines().join("\n"),
                std::fs::read_to_string(dir.join("events.jsonl"))
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains(c.id()))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
}

fn alerts_of(agent: &Agent, rule: &str, c: &Container) -> usize {
    agent
        .stdout_lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| s(v, "rule") == rule && field(v, "container.id") == c.short_id())
        .count()
}

#[test]
fn falco_stable_rules_fire_on_live_container_activity() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = image();
    let dir = TempDir::new("vigil-falco-rules").expect("temp dir");
    let agent = agent(dir.path());
    // /dev/shm executable (podman mounts it noexec by default).
    let plain = Container::run(&["--tmpfs", "/dev/shm:rw,exec"], image, &["sleep", "86400"])
        .expect("start container");
    let admin = Container::run(&["--cap-add", "SYS_ADMIN"], image, &["sleep", "86400"])
        .expect("start container");

    // A credential file opened through `../` by a user only the container
    // knows (denied: Falco's rule covers failed opens too): the traversal
    // rule reads fd.nameraw and fd.name (normalised), and prints user.name.
    // (The sensor reports opens of sensitive paths only — `shadow` is one —
    // so Falco's rules on other files see nothing yet.)
    // The `cat` is the runtime's child and may be gone before the agent
    // reads its passwd: the container's is then read through another
    // process of the container in its mount namespace (its `sleep`).
    exec(
        &plain,
        Some(UID),
        &["cat", "/etc/../etc/../etc/shadow"],
        false,
    );
    let a = wait_alert(
        &agent,
        dir.path(),
        "Directory traversal monitored file read",
        &plain,
    );
    assert_eq!(field(&a, "fd.name"), "/etc/shadow", "{a}");
    assert_eq!(field(&a, "fd.nameraw"), "/etc/../etc/../etc/shadow", "{a}");
    assert_eq!(field(&a, "user.name"), USER, "{a}");

    // A binary run from /dev/shm by a relative path: proc.cwd.
    exec(
        &plain,
        None,
        &[
            "sh",
            "-c",
            "cp /bin/busybox /dev/shm/sleep && cd /dev/shm && exec ./sleep 2",
        ],
        true,
    );
    let a = wait_alert(&agent, dir.path(), "Execution from /dev/shm", &plain);
    assert_eq!(field(&a, "proc.cwd"), "/dev/shm/", "{a}");

    // Writing a file named release_agent: only with CAP_SYS_ADMIN
    // (thread.cap_effective from the exec). The plain container's attempt
    // comes first; the admin one's alert then proves the plain one was seen
    // and stayed quiet.
    let rule = "Detect release_agent File Container Escapes";
    exec(&plain, None, &["touch", "/tmp/release_agent"], true);
    exec(&admin, None, &["touch", "/tmp/release_agent"], true);
    let a = wait_alert(&agent, dir.path(), rule, &admin);
    assert!(
        field(&a, "thread.cap_effective").contains("CAP_SYS_ADMIN"),
        "{a}"
    );
    assert_eq!(
        alerts_of(&agent, rule, &plain),
        0,
        "no CAP_SYS_ADMIN, no alert"
    );

    // A shell without a terminal first (quiet), then `podman exec -t`:
    // proc.tty from the exec record.
    let rule = "Terminal shell in container";
    exec(&admin, None, &["sh", "-c", "exit 0"], true);
    exec_tty(&plain, &["sh", "-c", "exit 0"]);
    let a = wait_alert(&agent, dir.path(), rule, &plain);
    let tty = a["output_fields"]["proc.tty"].as_u64().unwrap_or(0);
    assert_ne!(tty, 0, "a terminal: {a}");
    assert_eq!(alerts_of(&agent, rule, &admin), 0, "no terminal, no alert");

    // Links over a credential file, and to an ordinary one (quiet).
    exec(
        &admin,
        None,
        &["ln", "-s", "/etc/hosts", "/tmp/hosts-link"],
        true,
    );
    exec(
        &plain,
        None,
        &["ln", "-s", "/etc/shadow", "/tmp/shadow-link"],
        true,
    );
    let a = wait_alert(
        &agent,
        dir.path(),
        "Create Symlink Over Sensitive Files",
        &plain,
    );
    assert_eq!(field(&a, "evt.arg.target"), "/etc/shadow", "{a}");
    assert_eq!(field(&a, "evt.arg.linkpath"), "/tmp/shadow-link", "{a}");
    exec(
        &plain,
        None,
        &["ln", "/etc/shadow", "/tmp/shadow-hard"],
        true,
    );
    let a = wait_alert(
        &agent,
        dir.path(),
        "Create Hardlink Over Sensitive Files",
        &plain,
    );
    assert_eq!(field(&a, "evt.arg.oldpath"), "/etc/shadow", "{a}");
    assert_eq!(
        alerts_of(&agent, "Create Symlink Over Sensitive Files", &admin),
        0,
        "a link to an ordinary file"
    );

    // A reverse shell: busybox nc -e moves the connected socket onto
    // stdin and stdout (dup2) before it runs the program.
    exec(
        &admin,
        None,
        &[
            "sh",
            "-c",
            "nc -l -p 4444 >/dev/null & sleep 0.5; nc 127.0.0.1 4444 -e /bin/true; kill $!",
        ],
        false,
    );
    let a = wait_alert(
        &agent,
        dir.path(),
        "Redirect STDOUT/STDIN to Network Connection in Container",
        &admin,
    );
    assert_eq!(field(&a, "fd.sip"), "127.0.0.1", "{a}");
    assert_eq!(field(&a, "fd.type"), "ipv4", "{a}");
    assert_eq!(field(&a, "proc.name"), "nc", "{a}");
}

/// Falco's session, process group and login user fields on a live
/// container: the runtime makes what `podman exec` starts the leader of a
/// new session and process group (the kernel's sid and pgid in the
/// container's pid namespace); a read two processes below it names that
/// leader, and the login uid set on the host side (inherited through
/// podman, conmon and runc) is named from the container's passwd. Near
/// misses: the same read under another leader, and without a login uid.
#[test]
fn session_leaders_and_login_user_on_live_container() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = image();
    let dir = TempDir::new("vigil-falco-session").expect("temp dir");
    let rules = dir.path().join("session.yaml");
    let rule = "Shadow read in a login session";
    std::fs::write(
        &rules,
        format!(
            "- rule: {rule}\n  desc: test\n  condition: >\n    evt.type in (open, openat) and fd.name = /etc/shadow\n    \
             and proc.sname = ash and proc.sid.exepath endswith busybox and proc.vpgid.name = ash\n    \
             and proc.is_sid_leader = false and proc.is_vpgid_leader = false and user.loginname = {USER}\n  \
             output: shadow read (sname=%proc.sname sid.exe=%proc.sid.exe vpgid=%proc.vpgid.name \
             vpgid.exepath=%proc.vpgid.exepath login=%user.loginname loginuid=%user.loginuid)\n  \
             priority: WARNING\n"
        ),
    )
    .unwrap();
    let agent = Agent::builder([
        "run",
        "--no-default-rules",
        "--alert-rate",
        "off",
        "--rules",
    ])
    .arg(&rules)
    .arg("--events")
    .arg(dir.path().join("events.jsonl"))
    .echo(false)
    .start()
    .expect("start vigil run");
    let c = Container::run(&[], image, &["sleep", "86400"]).expect("start container");
    // `podman exec <c> LEADER -c 'SHELL -c "cat /etc/shadow FILE; true"; true'`,
    // with the login uid set to the container user's uid first when `login`.
    let run = |login: bool, leader: &str, shell: &str, file: &str| {
        let inner = format!("{shell} -c \"cat /etc/shadow {file}; true\"; true");
        let set = if login {
            format!("echo {UID} > /proc/self/loginuid && ")
        } else {
            String::new()
        };
        let out = Command::new("sh")
            .args(["-c", &format!("{set}exec \"$@\""), "sh"])
            .args(["podman", "exec", c.id(), leader, "-c", &inner])
            .stdin(Stdio::null())
            .output()
            .expect("podman exec");
        assert!(out.status.success(), "{out:?}");
    };
    run(true, "sh", "ash", "/dev/null");
    run(false, "ash", "sh", "/etc/passwd");
    run(true, "ash", "sh", "/etc/hostname");
    let a = wait_alert(&agent, dir.path(), rule, &c);
    assert_eq!(field(&a, "proc.sname"), "ash", "{a}");
    assert_eq!(field(&a, "proc.vpgid.name"), "ash", "{a}");
    assert_eq!(field(&a, "proc.sid.exe"), "ash", "{a}");
    assert!(field(&a, "proc.vpgid.exepath").ends_with("busybox"), "{a}");
    assert_eq!(field(&a, "user.loginname"), USER, "{a}");
    assert!(field(&a, "proc.cmdline").contains("/etc/hostname"), "{a}");
    // The near misses ran first, so the agent has handled them by now.
    let alerts = agent.stdout_lines();
    for (near, why) in [
        ("/dev/null", "another leader"),
        ("/etc/passwd", "no login uid"),
    ] {
        let n = alerts
            .iter()
            .filter(|l| l.contains(rule) && l.contains(near))
            .count();
        assert_eq!(n, 0, "{why}: no alert");
    }
}

/// `podman exec -t <c> <cmd>`: with a terminal (podman allocates a
/// pseudo-terminal even without one on this side).
fn exec_tty(c: &Container, cmd: &[&str]) {
    let out = Command::new("podman")
        .args(["exec", "-t", c.id()])
        .args(cmd)
        .stdin(Stdio::null())
        .output()
        .expect("podman exec -t");
    assert!(out.status.success(), "podman exec -t {cmd:?}: {out:?}");
}
