//! The support library against real podman: build the busybox test image,
//! run a container, exec into it, find its cgroup, and remove it on drop.

use vigil_tests::{require_podman, Container};

#[test]
fn container_runs_execs_and_is_removed() {
    if !require_podman() {
        return;
    }
    let c = Container::start().expect("start container");
    let id = c.id().to_string();
    assert_eq!(id.len(), 64);

    // The image is busybox: applets work, and we are root inside.
    let out = c
        .exec_ok(&["sh", "-c", "id -u; cat /etc/passwd | head -1"])
        .expect("exec");
    assert!(out.starts_with("0\n"), "{out}");
    assert!(out.contains("root:x:0:0"), "{out}");

    // A failing command is reported, not hidden.
    let out = c.exec(&["sh", "-c", "exit 7"]).expect("exec");
    assert_eq!(out.status.code(), Some(7));

    // --net=none: only loopback.
    let links = c.exec_ok(&["ls", "/sys/class/net"]).expect("exec");
    assert_eq!(
        links.split_whitespace().collect::<Vec<_>>(),
        vec!["lo"],
        "{links}"
    );

    // Its processes live in a cgroup v2 directory named after the full id,
    // and that directory's inode is the cgroup id the eBPF side reports.
    let dir = c.cgroup_dir().expect("cgroup dir");
    let pid = c.pid().expect("pid");
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).expect("cgroup.procs");
    assert!(
        procs.lines().any(|l| l.trim() == pid.to_string()),
        "{pid} not in {}",
        dir.display()
    );
    assert!(c.cgroup_id().expect("cgroup id") > 1);

    drop(c);
    let out = std::process::Command::new("podman")
        .args(["ps", "-a", "-q", "--no-trunc"])
        .output()
        .expect("podman ps");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&id),
        "container {id} survived drop"
    );
}

#[test]
fn container_is_removed_when_a_test_panics() {
    if !require_podman() {
        return;
    }
    let id = std::sync::Mutex::new(String::new());
    let r = std::panic::catch_unwind(|| {
        let c = Container::start().expect("start container");
        *id.lock().unwrap() = c.id().to_string();
        panic!("test failure inside the container's scope");
    });
    assert!(r.is_err());
    let id = id.into_inner().unwrap();
    assert_eq!(id.len(), 64);
    let out = std::process::Command::new("podman")
        .args(["ps", "-a", "-q", "--no-trunc"])
        .output()
        .expect("podman ps");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&id),
        "container {id} survived a panic"
    );
}
