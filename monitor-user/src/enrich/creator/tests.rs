use super::*;
use crate::event::ExecContext;

const S: u64 = 1_000_000_000;
const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn proc(pid: u32, uid: u32, name: &str, args: &[&str]) -> Arc<Process> {
    Arc::new(Process {
        pid,
        uid,
        loginuid: Some(1001),
        name: name.into(),
        user_name: Some(Arc::from("alice")),
        exec: Arc::new(ExecContext {
            args: args.iter().map(|a| a.to_string()).collect(),
            ..ExecContext::default()
        }),
        ..Process::default()
    })
}

fn creators() -> Creators {
    Creators::new(CreatorConfig::default(), 1)
}

#[test]
fn the_one_docker_client_connected_is_the_creator() {
    let mut c = creators();
    let docker = proc(500, 1001, "docker", &["run", "--privileged", "img"]);
    // The agent's own lookups are not clients.
    c.on_connect(&proc(1, 0, "vigil", &[]), None, "/run/docker.sock", 9 * S);
    // /var/run is /run.
    c.on_connect(&docker, None, "/var/run/docker.sock", 10 * S);
    // Other sockets are not the runtime's.
    c.on_connect(&proc(600, 0, "curl", &[]), None, "/run/other.sock", 10 * S);
    c.on_container_start(Runtime::Docker, ID, 700, 11 * S, |_| true);
    let k = c.get(ID, 0);
    assert_eq!(k.pid, Some(500));
    assert_eq!(k.uid, Some(1001));
    assert_eq!(k.user.as_deref(), Some("alice"));
    assert_eq!(k.cmdline.as_deref(), Some("docker run --privileged img"));
    assert_eq!(k.via.as_deref(), Some("/run/docker.sock"));
    assert_eq!(k.unresolved, None);
}

#[test]
fn several_clients_are_listed_not_guessed() {
    let mut c = creators();
    c.on_connect(
        &proc(500, 1001, "docker", &["run", "a"]),
        None,
        "/run/docker.sock",
        S,
    );
    c.on_connect(
        &proc(501, 0, "docker", &["run", "b"]),
        Some("abc"),
        "/run/docker.sock",
        S,
    );
    c.on_container_start(Runtime::Docker, ID, 700, 2 * S, |_| true);
    let k = c.get(ID, 0);
    assert_eq!(k.pid, None);
    assert_eq!(
        k.candidates,
        vec![
            "500:1001:docker run a".to_owned(),
            "501:0:docker run b".to_owned()
        ]
    );
    assert!(
        k.unresolved.as_deref().unwrap().contains("2 clients"),
        "{k:?}"
    );
}

#[test]
fn exited_stale_and_other_runtime_clients_do_not_count() {
    let mut c = creators();
    // Exited before the container started (a `docker ps`).
    c.on_connect(
        &proc(500, 0, "docker", &["ps"]),
        None,
        "/run/docker.sock",
        10 * S,
    );
    // Connected long before.
    c.on_connect(
        &proc(501, 0, "docker", &["events"]),
        None,
        "/run/docker.sock",
        S,
    );
    // A CRI client does not start Docker containers.
    c.on_connect(
        &proc(502, 0, "crictl", &[]),
        None,
        "/run/containerd/containerd.sock",
        10 * S,
    );
    c.on_container_start(Runtime::Docker, ID, 700, 40 * S, |pid| pid != 500);
    let k = c.get(ID, 0);
    assert_eq!(k.pid, None);
    assert!(k.unresolved.is_some(), "{k:?}");
}

#[test]
fn the_reason_names_only_the_sockets_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let present = dir.path().join("docker.sock");
    std::fs::write(&present, "").unwrap();
    let cfg = CreatorConfig {
        sockets: vec![
            (
                PathBuf::from("/nonexistent/vigil/docker.sock"),
                SocketKind::Docker,
            ),
            (present.clone(), SocketKind::Docker),
            (
                PathBuf::from("/nonexistent/vigil/crio.sock"),
                SocketKind::Cri,
            ),
        ],
        ..CreatorConfig::default()
    };
    let mut c = Creators::new(cfg, 1);
    c.on_container_start(Runtime::Docker, ID, 700, 40 * S, |_| true);
    let why = c.get(ID, 0).unresolved.clone().unwrap();
    assert_eq!(
        why,
        format!(
            "no client of {} was connected in the 30 s before it started",
            present.display()
        )
    );
    let other = "f".repeat(64);
    c.on_container_start(Runtime::Crio, &other, 700, 40 * S, |_| true);
    let why = c.get(&other, 0).unresolved.clone().unwrap();
    assert!(
        why.starts_with("no cri-o socket exists on this host"),
        "{why}"
    );
}

#[test]
fn a_client_connected_before_the_agent_counts_for_the_cri_only() {
    let mut c = creators();
    let kubelet = proc(300, 0, "kubelet", &[]);
    let compose = proc(301, 0, "docker-compose", &["up"]);
    c.connected_before(&kubelet, None, "/var/run/containerd/containerd.sock");
    c.connected_before(&compose, None, "/run/docker.sock");
    // Seen at start, long before: kubelet for the CRI's containers...
    c.on_container_start(Runtime::Containerd, ID, 700, 3600 * S, |_| true);
    let k = c.get(ID, 0);
    assert_eq!(k.pid, Some(300), "{k:?}");
    assert_eq!(k.via.as_deref(), Some("/run/containerd/containerd.sock"));
    // ...but a Docker client connected long ago did not ask now.
    let other = "f".repeat(64);
    c.on_container_start(Runtime::Docker, &other, 700, 3600 * S, |_| true);
    assert_eq!(c.get(&other, 0).pid, None);
}

#[test]
fn kubelet_long_lived_connection_counts_for_the_cri() {
    let mut c = creators();
    let kubelet = proc(
        300,
        0,
        "kubelet",
        &["--config", "/var/lib/kubelet/config.yaml"],
    );
    c.on_connect(&kubelet, None, "/run/containerd/containerd.sock", S);
    c.on_container_start(Runtime::Containerd, ID, 700, 3600 * S, |_| true);
    assert_eq!(c.get(ID, 0).pid, Some(300));
}

#[test]
fn a_podman_command_is_found_through_its_fork_lineage() {
    let mut c = creators();
    let podman = proc(400, 0, "podman", &["run", "--rm", "img"]);
    c.on_fork(&podman, 401, S); // conmon
    c.on_fork(&proc(401, 0, "conmon", &[]), 402, S); // conmon, daemonized
    c.on_fork(&proc(402, 0, "conmon", &[]), 403, S); // runc
    c.on_fork(&proc(9, 0, "bash", &[]), 10, S); // unrelated
    assert!(!c.spawned.contains_key(&10));
    c.on_container_start(Runtime::Podman, ID, 403, 2 * S, |_| true);
    let k = c.get(ID, 0);
    assert_eq!(k.pid, Some(400));
    assert_eq!(k.via.as_deref(), Some("podman"));
    assert_eq!(k.loginuid, Some(1001));
}

#[test]
fn podman_lineage_may_come_with_the_first_process() {
    let mut c = creators();
    let podman = proc(400, 0, "podman", &["run", "img"]);
    c.on_fork(&podman, 401, S);
    // systemd made the cgroup: not in the lineage.
    c.on_container_start(Runtime::Podman, ID, 1, 2 * S, |_| true);
    assert!(c.get(ID, 999).pid.is_none());
    assert_eq!(c.get(ID, 401).pid, Some(400));
    // Settled: stays.
    assert_eq!(c.get(ID, 999).pid, Some(400));
}

#[test]
fn the_podman_service_defers_to_its_socket_clients() {
    let mut c = creators();
    let service = proc(400, 0, "podman", &["system", "service", "--time=0"]);
    c.on_fork(&service, 401, S);
    let curl = proc(
        600,
        1001,
        "curl",
        &[
            "--unix-socket",
            "/run/podman/podman.sock",
            "http://d/containers/create",
        ],
    );
    c.on_connect(&curl, None, "/run/podman/podman.sock", S);
    c.on_container_start(Runtime::Podman, ID, 401, 2 * S, |_| true);
    let k = c.get(ID, 0);
    assert_eq!(k.pid, Some(600));
    assert_eq!(k.via.as_deref(), Some("/run/podman/podman.sock"));
    // The service's own descendants in the container do not name it.
    assert_eq!(c.get(ID, 401).pid, Some(600));
    // Nobody connected: the service's lineage does not name it either.
    let mut c = creators();
    c.on_fork(&service, 401, S);
    c.on_container_start(Runtime::Podman, ID, 401, 2 * S, |_| true);
    assert_eq!(c.get(ID, 401).pid, None);
    // Rootless podman's socket too.
    assert!(is_rootless_podman("/run/user/1001/podman/podman.sock"));
    assert!(!is_rootless_podman("/run/user/x/y/podman/podman.sock"));
}

#[test]
fn unseen_starts_say_so_and_gone_containers_expire() {
    let mut c = creators();
    assert!(c
        .get(ID, 0)
        .unresolved
        .as_deref()
        .unwrap()
        .contains("not seen"));
    c.on_container_start(Runtime::Docker, ID, 700, S, |_| true);
    c.gone(ID, 2 * S);
    c.maintain(3 * S, |_| false);
    assert!(c.containers.contains_key(ID), "kept for late events");
    c.maintain(2 * S + GRACE_NS, |_| false);
    assert!(c.containers.is_empty());
}
