//! Issue 2's host integration test at the agent level, against real podman.
//!
//! `vigil run --events FILE` runs while the `vigil-actions` helper performs
//! one act at a time inside a real container (through `podman exec`), in a
//! container that lives for a single act (`podman run --rm`), and on the
//! host. Each act must arrive as its event, attributed to the right
//! container (`container.full_id`, 12-char `container.id`) or to `host`,
//! with the right process, arguments and result.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use vigil_tests::actions::{actions_binary, actions_image, ACTIONS_IN_IMAGE};
use vigil_tests::events::s;
use vigil_tests::podman::TempDir;
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container, EventFile};

/// One agent at a time: two would double the load on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());
const WAIT: Duration = Duration::from_secs(15);

fn can_run() -> bool {
    require_podman() && require_vigil_binary().is_some()
}

/// Starts `vigil run --events <dir>/events.jsonl`.
fn agent_with_events(dir: &Path) -> (Agent, EventFile) {
    let path = dir.join("events.jsonl");
    let agent = Agent::builder(["run", "--events"])
        .arg(&path)
        .echo(false)
        .start()
        .expect("start vigil run");
    (agent, EventFile::new(path))
}

fn in_container<'a>(id: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |v| s(v, "container.full_id") == id
}

/// Asserts the process fields of an event from the helper.
fn assert_helper_process(ev: &Value, exepath: &str, args: &str) {
    assert_eq!(s(ev, "proc.name"), "vigil-actions", "{ev}");
    assert_eq!(s(ev, "proc.exepath"), exepath, "{ev}");
    assert_eq!(s(ev, "proc.args"), args, "{ev}");
}

fn assert_attributed(ev: &Value, id: &str) {
    assert_eq!(s(ev, "container.full_id"), id, "{ev}");
    assert_eq!(s(ev, "container.id"), &id[..12], "{ev}");
    assert_eq!(s(ev, "container.runtime"), "podman", "{ev}");
}

#[test]
fn container_and_host_acts_are_attributed() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = actions_image().expect("build the actions image");
    let host_bin = actions_binary().expect("build vigil-actions");
    let dir = TempDir::new("vigil-live-events").expect("temp dir");
    let (agent, mut events) = agent_with_events(dir.path());

    let c = Container::start_image(&image).expect("start container");
    let id = c.id().to_string();
    let exec = |args: &[&str]| {
        let mut cmd = vec![ACTIONS_IN_IMAGE];
        cmd.extend_from_slice(args);
        let out = c.exec(&cmd).expect("podman exec");
        assert!(
            out.status.success(),
            "vigil-actions {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };

    // The exec itself: the runtime starts the helper inside the container.
    exec(&["open-read", "/etc/shadow"]);
    let ev = events.expect(
        "execve of vigil-actions in the container",
        WAIT,
        |v| {
            in_container(&id)(v)
                && s(v, "evt.type") == "execve"
                && s(v, "proc.args") == "open-read /etc/shadow"
        },
        in_container(&id),
    );
    assert_attributed(&ev, &id);
    assert_helper_process(&ev, ACTIONS_IN_IMAGE, "open-read /etc/shadow");
    assert_eq!(s(&ev, "evt.arg.filename"), ACTIONS_IN_IMAGE, "{ev}");

    // The sensitive file: /etc/shadow of the image, read successfully.
    let ev = events.expect(
        "openat /etc/shadow in the container",
        WAIT,
        |v| {
            in_container(&id)(v)
                && s(v, "evt.type").starts_with("open")
                && s(v, "fd.name") == "/etc/shadow"
        },
        in_container(&id),
    );
    assert_attributed(&ev, &id);
    assert_helper_process(&ev, ACTIONS_IN_IMAGE, "open-read /etc/shadow");
    assert_eq!(s(&ev, "evt.res"), "SUCCESS", "{ev}");
    assert!(s(&ev, "evt.arg.flags").contains("O_RDONLY"), "{ev}");

    // A mount attempt: refused (no CAP_SYS_ADMIN), still reported.
    let out = exec(&["mount", "proc", "/mnt", "proc"]);
    let ev = events.expect(
        "mount of proc in the container",
        WAIT,
        |v| in_container(&id)(v) && s(v, "evt.type") == "mount" && s(v, "evt.arg.dir") == "/mnt",
        in_container(&id),
    );
    assert_attributed(&ev, &id);
    assert_helper_process(&ev, ACTIONS_IN_IMAGE, "mount proc /mnt proc");
    assert_eq!(s(&ev, "evt.arg.type"), "proc", "{ev}");
    assert_eq!(s(&ev, "evt.arg.dev"), "proc", "{ev}");
    assert_eq!(s(&ev, "evt.res"), "EPERM", "{ev} (helper said {out})");
    assert_eq!(ev["evt.failed"], true, "{ev}");

    // unshare of user + mount namespaces.
    let out = exec(&["unshare"]);
    let ev = events.expect(
        "unshare in the container",
        WAIT,
        |v| in_container(&id)(v) && s(v, "evt.type") == "unshare" && s(v, "proc.args") == "unshare",
        in_container(&id),
    );
    assert_attributed(&ev, &id);
    assert_helper_process(&ev, ACTIONS_IN_IMAGE, "unshare");
    let flags = s(&ev, "evt.arg.flags");
    assert!(
        flags.contains("CLONE_NEWUSER") && flags.contains("CLONE_NEWNS"),
        "{ev}"
    );
    assert_eq!(
        s(&ev, "evt.res") == "SUCCESS",
        out == "unshare: ok",
        "{ev} vs helper `{out}`"
    );

    // connect to a unix socket (the helper listens on it first).
    exec(&["unix-connect", "/tmp/vigil-test.sock"]);
    let ev = events.expect(
        "connect to a unix socket in the container",
        WAIT,
        |v| in_container(&id)(v) && s(v, "evt.type") == "connect",
        in_container(&id),
    );
    assert_attributed(&ev, &id);
    assert_helper_process(&ev, ACTIONS_IN_IMAGE, "unix-connect /tmp/vigil-test.sock");
    assert_eq!(s(&ev, "fd.name"), "/tmp/vigil-test.sock", "{ev}");
    assert_eq!(s(&ev, "fd.sockfamily"), "unix", "{ev}");
    assert_eq!(s(&ev, "evt.res"), "SUCCESS", "{ev}");

    // The same acts on the host are `host`.
    let host_dir = TempDir::new("vigil-live-host").expect("temp dir");
    let mnt = host_dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mnt = mnt.to_str().unwrap().to_string();
    let sock = host_dir.path().join("s.sock").to_str().unwrap().to_string();
    let exe = std::fs::canonicalize(&host_bin).unwrap();
    let exe = exe.to_str().unwrap();
    // A filesystem type that does not exist: the mount is refused (ENODEV),
    // so the host's mount table is never touched.
    let acts: [(&[&str], &str); 4] = [
        (&["open-read", "/etc/shadow"], "openat"),
        (&["mount", "none", &mnt, "vigil-nofs"], "mount"),
        (&["unshare"], "unshare"),
        (&["unix-connect", &sock], "connect"),
    ];
    for (args, evt_type) in acts {
        let child = std::process::Command::new(&host_bin)
            .args(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("run vigil-actions on the host");
        let pid = u64::from(child.id());
        let status = child.wait_with_output().expect("wait").status;
        assert!(status.success(), "{args:?}");
        let args_joined = args.join(" ");
        let ev = events.expect(
            &format!("{evt_type} of `vigil-actions {args_joined}` on the host"),
            WAIT,
            |v| {
                v["proc.pid"].as_u64() == Some(pid)
                    && s(v, "evt.type").starts_with(evt_type)
                    && s(v, "proc.name") == "vigil-actions"
                    && s(v, "proc.args") == args_joined
                    && (evt_type != "openat" || s(v, "fd.name") == "/etc/shadow")
            },
            |v| s(v, "proc.name") == "vigil-actions" && s(v, "container.id") == "host",
        );
        assert_eq!(s(&ev, "container.id"), "host", "{ev}");
        assert!(ev.get("container.full_id").is_none(), "{ev}");
        assert_helper_process(&ev, exe, &args_joined);
        let expect_res = match evt_type {
            "mount" => "ENODEV",
            _ => "SUCCESS",
        };
        assert_eq!(s(&ev, "evt.res"), expect_res, "{ev}");
    }

    drop(c);
    let stopped = agent.stop().expect("stop the agent");
    assert!(stopped.status.success(), "agent exit: {}", stopped.status);
    let stats = stopped.stats.expect("final stats line").expect("stats");
    assert_eq!(stats.total_drops, 0, "events were dropped: {stats:?}");
}

#[test]
fn short_lived_containers_are_attributed() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = actions_image().expect("build the actions image");
    let dir = TempDir::new("vigil-live-short").expect("temp dir");
    let (agent, mut events) = agent_with_events(dir.path());

    // Three containers, each doing one act and exiting at once.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (id, _out) =
            Container::run_to_exit(&[], &image, &[ACTIONS_IN_IMAGE, "open-read", "/etc/shadow"])
                .expect("podman run --rm");
        ids.push(id);
    }
    for id in &ids {
        let ev = events.expect(
            "openat /etc/shadow of a short-lived container",
            WAIT,
            |v| in_container(id)(v) && s(v, "fd.name") == "/etc/shadow",
            |v| s(v, "proc.name") == "vigil-actions",
        );
        assert_attributed(&ev, id);
        assert_helper_process(&ev, ACTIONS_IN_IMAGE, "open-read /etc/shadow");
        assert_eq!(s(&ev, "evt.res"), "SUCCESS", "{ev}");
        // The entrypoint's exec and exit are the container's too.
        for kind in ["execve", "procexit"] {
            let ev = events.expect(
                &format!("{kind} of the short-lived helper"),
                WAIT,
                |v| {
                    in_container(id)(v)
                        && s(v, "evt.type") == kind
                        && s(v, "proc.name") == "vigil-actions"
                },
                |v| s(v, "proc.name") == "vigil-actions",
            );
            assert_attributed(&ev, id);
        }
    }
    // Nothing the helper did was attributed to anything but its container.
    events.poll().expect("read events");
    let stray: Vec<&Value> = events
        .events()
        .iter()
        .filter(|v| s(v, "proc.name") == "vigil-actions")
        .filter(|v| !ids.iter().any(|id| s(v, "container.full_id") == id))
        .collect();
    assert!(
        stray.is_empty(),
        "helper events not attributed to their container: {stray:?}"
    );
    drop(agent);
}
