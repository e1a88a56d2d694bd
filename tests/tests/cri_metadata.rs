//! The agent's CRI client against a real containerd (Debian's package, CRI
//! plugin), with pods and containers made through the CRI as kubelet makes
//! them: what it reads back is what an alert will say.

use std::time::Duration;

use monitor_user::enrich::metadata::cri::CriClient;
use vigil_tests::containerd::{uuid, ContainerSpec, Containerd, PodSpec};
use vigil_tests::podman::ImageBuilder;
use vigil_tests::require_daemon;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn cri_client_reads_pod_image_mounts_and_privilege() {
    if !require_daemon("containerd") {
        return;
    }
    let mut ctrd = Containerd::start().expect("start containerd");
    let image = "localhost/vigil-cri-app:1.0";
    let archive = ctrd
        .image_with(&ImageBuilder::new(image), image, &["/bin/sh"])
        .expect("build image");
    ctrd.import(&archive).expect("import image");
    let pod = PodSpec {
        name: "web-0".into(),
        namespace: "shop".into(),
        uid: uuid(),
        labels: vec![
            ("app".into(), "web".into()),
            ("tier".into(), "front".into()),
        ],
        privileged: true,
    };
    let sandbox = ctrd.run_pod(&pod).expect("run pod");
    let spec = ContainerSpec {
        name: "nginx".into(),
        image: image.into(),
        command: vec!["sleep".into(), "3600".into()],
        privileged: true,
        mounts: vec![("/etc".into(), "/host-etc".into(), true)],
    };
    let id = ctrd
        .create(&sandbox, &pod, &spec)
        .expect("create container");
    ctrd.start_container(&id).expect("start container");

    let rt = rt();
    let _in_rt = rt.enter();
    let mut client = CriClient::new(&ctrd.socket(), Duration::from_secs(5));
    let v = rt.block_on(client.version()).expect("version");
    assert_eq!(v.runtime_name, "containerd");
    let meta = rt.block_on(client.container(&id)).expect("container");
    assert_eq!(meta.name.as_deref(), Some("nginx"));
    assert_eq!(meta.image.as_deref(), Some(image));
    assert_eq!(
        meta.image_digest.as_deref(),
        Some(archive.manifest_digest.as_str())
    );
    assert_eq!(meta.privileged, Some(true));
    let pod_meta = meta.pod.as_ref().expect("pod");
    assert_eq!(pod_meta.name, "web-0");
    assert_eq!(pod_meta.namespace, "shop");
    assert_eq!(pod_meta.uid, pod.uid);
    assert_eq!(pod_meta.labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(
        pod_meta.labels.get("tier").map(String::as_str),
        Some("front")
    );
    assert!(
        !pod_meta
            .labels
            .keys()
            .any(|k| k.starts_with("io.kubernetes.")),
        "{:?}",
        pod_meta.labels
    );
    let etc = meta
        .mounts
        .iter()
        .find(|m| m.dest == "/host-etc")
        .expect("mount");
    assert_eq!(etc.source, "/etc");
    assert!(etc.read_only);
    let created = meta.created_ns.expect("creation time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    assert!(
        (now - created).abs() < 120_000_000_000,
        "{created} vs {now}"
    );

    // The sandbox's own (pause) container answers with its pod.
    let pause = rt.block_on(client.container(&sandbox)).expect("sandbox");
    assert_eq!(pause.pod.as_ref().map(|p| p.name.as_str()), Some("web-0"));

    // An unknown id is "not found", not a transport error.
    let err = rt
        .block_on(client.container(&"0".repeat(64)))
        .expect_err("unknown id");
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn cri_client_on_a_missing_socket_fails_fast() {
    let rt = rt();
    let _in_rt = rt.enter();
    let mut client = CriClient::new(
        std::path::Path::new("/nonexistent/vigil/cri.sock"),
        Duration::from_millis(500),
    );
    let t = std::time::Instant::now();
    let err = rt.block_on(client.version()).expect_err("no socket");
    assert!(!err.is_not_found(), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5));
}
