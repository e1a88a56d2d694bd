//! Who started a container (`container.creator.*`), on real runtimes: a
//! `docker run` by an unprivileged user of a login session (audit login uid
//! set, as pam_loginuid does) against a dockerd the test starts, and a
//! `podman run` (no API socket: the command forks the runtime itself), and
//! a CRI client connected to containerd before the agent started (as
//! kubelet is). The start alert of each container names the process, its
//! uid, login uid, user and command line in one alert.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use vigil_tests::containerd::{uuid, ContainerSpec, Containerd, PodSpec};
use vigil_tests::docker::Dockerd;
use vigil_tests::events::{field, s};
use vigil_tests::podman::{self, ImageBuilder, TempDir};
use vigil_tests::{require_daemon, require_podman, require_vigil_binary, Agent};

static SERIAL: Mutex<()> = Mutex::new(());
const WAIT: Duration = Duration::from_secs(30);
const RULE: &str = "Sensitive host path mounted in container";
/// `nobody`: a uid every host's /etc/passwd names.
const NOBODY: u32 = 65534;
const LOGINUID: u32 = 1001;

/// Runs `cmd` as `uid` in a login session of `LOGINUID`: the audit login
/// uid is set first (it needs root), then the ids dropped. Returns the
/// command's pid (it execs in the child, so the child's) and its output.
fn run_as(cmd: &mut Command, uid: u32) -> (u32, Output) {
    // SAFETY: only async-signal-safe calls (open/write/close through std's
    // thin wrappers, setgroups/setgid/setuid) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            std::fs::write("/proc/self/loginuid", LOGINUID.to_string())?;
            if uid != 0
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(uid) != 0
                    || libc::setuid(uid) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (pid, out)
}

fn agent(dir: &Path, args: &[&str]) -> Agent {
    let mut b = Agent::builder(["run", "--events"]).arg(dir.join("events.jsonl"));
    for a in args {
        b = b.arg(a);
    }
    b.echo(false).start().expect("start vigil run")
}

fn of<'a>(alert: &'a Value, key: &str) -> &'a Value {
    &alert["output_fields"][key]
}

#[test]
fn a_docker_run_by_an_unprivileged_user_names_them_in_the_start_alert() {
    if !(require_daemon("dockerd") && require_vigil_binary().is_some()) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut d = Dockerd::start().expect("start dockerd");
    let image = format!("localhost/vigil-creator:{}", std::process::id());
    d.import(&ImageBuilder::new(&image), &image)
        .expect("import image");
    // The user is in no docker group here: the socket is opened to all.
    let sock = d.socket();
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .expect("chmod socket");
    let home = TempDir::new("vigil-creator-home").expect("temp dir");
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod home");
    let dir = TempDir::new("vigil-creator-docker").expect("temp dir");
    let sock_s = sock.display().to_string();
    let agent = agent(dir.path(), &["--docker-socket", &sock_s]);

    let name = format!("alice-debug-{}", std::process::id());
    let (pid, out) = run_as(
        Command::new("docker")
            .env("DOCKER_CONFIG", home.path())
            .arg("--host")
            .arg(format!("unix://{sock_s}"))
            .args(["run", "-d", "--net=none", "--name", &name])
            .args(["-v", "/etc:/host-etc:ro", &image, "sleep", "3600"]),
        NOBODY,
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    d.adopt(&id);
    let a = agent.expect_alert(WAIT, RULE, &id);
    assert_eq!(of(&a, "container.creator.pid"), &Value::from(pid), "{a}");
    assert_eq!(of(&a, "container.creator.uid"), &Value::from(NOBODY), "{a}");
    assert_eq!(
        of(&a, "container.creator.loginuid"),
        &Value::from(LOGINUID),
        "{a}"
    );
    assert_eq!(field(&a, "container.creator.user"), "nobody", "{a}");
    assert_eq!(field(&a, "container.creator.via"), sock_s.as_str(), "{a}");
    let cmdline = field(&a, "container.creator.cmdline");
    assert!(
        cmdline.starts_with("docker ") && cmdline.contains(&name),
        "{a}"
    );
    // One line says it all.
    let line = field(&a, "container.creator");
    assert!(
        line.starts_with(&format!(
            "uid {NOBODY} (nobody) loginuid {LOGINUID} pid {pid} via {sock_s}: docker "
        )),
        "{a}"
    );
    assert!(s(&a, "output").contains(line), "{a}");

    // A container started by another client names that one (the test's
    // own `docker` process, root, no login session).
    let other = d
        .run(&["-v", "/etc:/host-etc:ro"], &image, &["sleep", "3600"])
        .expect("docker run");
    let a = agent.expect_alert(WAIT, RULE, &other);
    assert_eq!(of(&a, "container.creator.uid"), &Value::from(0), "{a}");
    assert_ne!(of(&a, "container.creator.pid"), &Value::from(pid), "{a}");
    assert!(of(&a, "container.creator.unresolved").is_null(), "{a}");
    agent.stop().expect("stop agent");
}

#[test]
fn a_podman_run_names_the_podman_command_in_the_start_alert() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = podman::ensure_test_image().expect("test image");
    let dir = TempDir::new("vigil-creator-podman").expect("temp dir");
    let agent = agent(dir.path(), &[]);
    let name = format!("creator-{}", std::process::id());
    let (pid, out) = run_as(
        Command::new("podman")
            .args(["run", "-d", "--rm", "--net=none", "--name", &name])
            .args(["-v", "/etc:/host-etc:ro", image, "sleep", "3600"]),
        0,
    );
    let c = podman::Container::adopt(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let a = agent.expect_alert(WAIT, RULE, c.id());
    assert_eq!(of(&a, "container.creator.pid"), &Value::from(pid), "{a}");
    assert_eq!(field(&a, "container.creator.via"), "podman", "{a}");
    assert_eq!(of(&a, "container.creator.uid"), &Value::from(0), "{a}");
    assert_eq!(
        of(&a, "container.creator.loginuid"),
        &Value::from(LOGINUID),
        "{a}"
    );
    assert_eq!(field(&a, "container.creator.user"), "root", "{a}");
    let cmdline = field(&a, "container.creator.cmdline");
    assert!(
        cmdline.starts_with("podman run") && cmdline.contains(&name),
        "{a}"
    );
    drop(c);
    agent.stop().expect("stop agent");
}

/// Kubelet connects to its CRI socket once and keeps the connection: the
/// test process plays it (its CRI client connects when containerd starts,
/// before the agent), then creates a pod and a container with /etc
/// mounted. The start alert names this process as the creator, found at
/// the agent's start from the kernel's socket diagnostics.
#[test]
fn a_cri_client_connected_before_the_agent_is_named_for_its_containers() {
    if !(require_daemon("containerd") && require_vigil_binary().is_some()) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut ctrd = Containerd::start().expect("start containerd");
    let image = "localhost/vigil-creator-cri:1.0";
    let archive = ctrd
        .image_with(&ImageBuilder::new(image), image, &["/bin/sh"])
        .expect("build image");
    ctrd.import(&archive).expect("import image");
    let dir = TempDir::new("vigil-creator-cri").expect("temp dir");
    let socket = ctrd.socket().display().to_string();
    let agent = agent(dir.path(), &["--cri-socket", &socket]);
    // The agent found this process connected when it started.
    agent
        .wait_stderr(WAIT, |l| {
            l.contains("clients connected to runtime sockets before start")
                && !l.contains(" 0 clients")
        })
        .unwrap_or_else(|| panic!("no seeded client:\n{}", agent.stderr_lines().join("\n")));

    let pod = PodSpec {
        name: "node-debugger".into(),
        namespace: "ops".into(),
        uid: uuid(),
        labels: vec![],
        privileged: false,
    };
    let sandbox = ctrd.run_pod(&pod).expect("run pod");
    let spec = ContainerSpec {
        name: "debug".into(),
        image: image.into(),
        command: vec!["sleep".into(), "3600".into()],
        privileged: false,
        mounts: vec![("/etc".into(), "/host-etc".into(), true)],
    };
    let id = ctrd.create(&sandbox, &pod, &spec).expect("create");
    ctrd.start_container(&id).expect("start");
    let a = agent.expect_alert(WAIT, RULE, &id);
    assert_eq!(
        of(&a, "container.creator.pid"),
        &Value::from(std::process::id()),
        "{a}"
    );
    assert_eq!(field(&a, "container.creator.via"), socket.as_str(), "{a}");
    assert_eq!(of(&a, "container.creator.uid"), &Value::from(0), "{a}");
    assert!(of(&a, "container.creator.unresolved").is_null(), "{a}");
    let exe = std::env::current_exe().expect("own exe");
    let own = exe.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(
        field(&a, "container.creator.cmdline").contains(&own[..own.len().min(15)]),
        "{a}"
    );
    assert_eq!(field(&a, "k8s.ns.name"), "ops", "{a}");
    assert!(
        field(&a, "container.mounts").contains("/etc:/host-etc::false:"),
        "{a}"
    );
    assert_eq!(field(&a, "k8s.pod.name"), "node-debugger", "{a}");
    agent.stop().expect("stop agent");
}
