use super::tests::*;
use super::*;
use crate::event::Runtime;
use crate::testutil::{is_root, podman, podman_ready, skip, PodmanCleanup};
use monitor_common::SyscallId;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

struct Started {
    _guard: PodmanCleanup,
    name: String,
    image: String,
    full_id: String,
    pid: u32,
    cgroup_path: String,
    cgroup_id: u64,
}

/// Start a container running `sleep`; `None` (after saying why) if this
/// machine cannot.
fn start(tag: &str) -> Option<Started> {
    if !is_root() {
        skip("needs root for podman");
        return None;
    }
    if let Err(e) = podman_ready() {
        skip(&e);
        return None;
    }
    let Ok(root) = crate::enrich::containers::find_cgroup2_root() else {
        skip("no cgroup2 mount");
        return None;
    };
    let n = format!("{tag}-{}", std::process::id());
    let guard = PodmanCleanup {
        container: format!("vigil-{n}"),
        image: format!("localhost/vigil-{n}:1"),
        tar: std::env::temp_dir().join(format!("vigil-{n}.tar")),
    };
    crate::testutil::busybox_image(&guard.image, &guard.tar).expect("busybox image");
    let full_id = podman(&[
        "run",
        "-d",
        "--net=none",
        "--name",
        &guard.container,
        &guard.image,
        "/bin/sleep",
        "60",
    ])
    .expect("podman run");
    let pid: u32 = podman(&["inspect", "--format", "{{.State.Pid}}", &full_id])
        .unwrap()
        .parse()
        .unwrap();
    // Test setup may read /proc; the code under test never does per event.
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let cgroup_path = cg
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap()
        .to_owned();
    let cgroup_id = std::fs::metadata(root.join(cgroup_path.trim_start_matches('/')))
        .unwrap()
        .ino();
    Some(Started {
        name: guard.container.clone(),
        image: guard.image.clone(),
        _guard: guard,
        full_id,
        pid,
        cgroup_path,
        cgroup_id,
    })
}

#[test]
fn attributes_a_running_podman_container() {
    let Some(c) = start("enrich") else { return };
    let mut e = Enricher::from_host(EnrichConfig {
        proc_root: Some("/proc".into()),
        ..Default::default()
    });
    let rec = syscall(
        c.pid,
        c.cgroup_id,
        1,
        SyscallId::Openat,
        -2,
        [0; 6],
        b"/etc/shadow",
        b"",
        b"",
    );
    let ev = e.enrich(&rec, Instant::now());
    assert_eq!(ev.container.id, c.full_id[..12]);
    assert_eq!(ev.container.full_id.as_deref(), Some(c.full_id.as_str()));
    assert_eq!(ev.container.runtime, Runtime::Podman);
    assert_eq!(ev.container.name.as_deref(), Some(c.name.as_str()));
    assert_eq!(ev.container.image.as_deref(), Some(c.image.as_str()));
    assert_eq!(ev.cgroup.path.as_deref(), Some(c.cgroup_path.as_str()));
    // Seeded from /proc: the container's init is sleep, run by busybox;
    // its parent (conmon) is on the host, so the ancestry is empty.
    assert_eq!(ev.process.exec.exepath.as_deref(), Some("/bin/busybox"));
    assert_eq!(*ev.process.exec.args, ["60"]);
    assert!(
        ev.process.exec.ancestors.is_empty(),
        "{:?}",
        ev.process.exec.ancestors
    );
}

#[test]
fn short_lived_container_keeps_its_name_after_it_is_gone() {
    let Some(c) = start("shortlived") else { return };
    // No scanning: the registry only learns from the cgroup_mkdir record,
    // as it would for a container that lives for a millisecond.
    let mut e = Enricher::new(
        ProcTable::new(ProcTableConfig::default()),
        Registry::new(None, RegistryConfig::default()),
        Metadata::new(MetadataConfig::default()),
        Clock::measure(),
    );
    let now = Instant::now();
    e.enrich(&cgroup_rec(true, c.cgroup_id, &c.cgroup_path, 1), now);
    podman(&["rm", "-f", "-t", "0", &c.full_id]).expect("podman rm");
    assert!(
        podman(&["inspect", &c.full_id]).is_err(),
        "container is gone"
    );
    e.enrich(&cgroup_rec(false, c.cgroup_id, &c.cgroup_path, 2), now);
    let ev = e.enrich(
        &exit(c.pid, 1, c.cgroup_id, 3, 9),
        now + Duration::from_secs(1),
    );
    assert_eq!(ev.container.id, c.full_id[..12]);
    assert_eq!(ev.container.name.as_deref(), Some(c.name.as_str()));
    assert_eq!(ev.container.image.as_deref(), Some(c.image.as_str()));
}
