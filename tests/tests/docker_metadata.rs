//! The agent's Docker Engine API client against a real dockerd (Debian's
//! `docker.io`), started by the test on its own socket and directories.

use std::time::Duration;

use monitor_user::enrich::metadata::docker_api::DockerApi;
use vigil_tests::docker::Dockerd;
use vigil_tests::podman::ImageBuilder;
use vigil_tests::require_daemon;

#[tokio::test(flavor = "current_thread")]
async fn docker_api_reads_name_image_labels_privilege_and_mounts() {
    if !require_daemon("dockerd") {
        return;
    }
    let mut d = Dockerd::start().expect("start dockerd");
    let image = format!("localhost/vigil-docker-meta:{}", std::process::id());
    d.import(&ImageBuilder::new(&image), &image)
        .expect("import image");
    let name = format!("shop-web-{}", std::process::id());
    // Privileged Docker containers cannot start here (the bounding set
    // lacks CAP_SYS_RESOURCE): this one is created, and inspected as such.
    let id = d
        .create(
            &[
                "--name",
                &name,
                "--privileged",
                "-v",
                "/etc:/host-etc:ro",
                "--label",
                "com.docker.compose.project=shop",
                "--label",
                "com.docker.compose.service=web",
            ],
            &image,
            &["sleep", "3600"],
        )
        .expect("docker create");

    let api = DockerApi::new(&d.socket(), Duration::from_secs(5));
    assert!(!api.version().await.expect("version").is_empty());
    let meta = api.container(&id).await.expect("inspect");
    assert_eq!(meta.name.as_deref(), Some(name.as_str()));
    assert_eq!(meta.image.as_deref(), Some(image.as_str()));
    assert!(meta
        .image_id
        .as_deref()
        .is_some_and(|i| i.starts_with("sha256:")));
    assert_eq!(meta.privileged, Some(true));
    assert_eq!(meta.labels["com.docker.compose.project"], "shop");
    assert_eq!(meta.labels["com.docker.compose.service"], "web");
    let etc = meta
        .mounts
        .iter()
        .find(|m| m.dest == "/host-etc")
        .expect("mount");
    assert_eq!(etc.source, "/etc");
    assert!(etc.read_only);
    assert!(meta.created_ns.is_some());

    // Not privileged, no mounts: said so, not left unknown.
    let plain = d.run(&[], &image, &["sleep", "3600"]).expect("docker run");
    let meta = api.container(&plain).await.expect("inspect");
    assert_eq!(meta.privileged, Some(false));
    assert!(meta.mounts.is_empty());

    let err = api.container(&"0".repeat(64)).await.expect_err("unknown");
    assert!(err.is_not_found(), "{err}");

    // The file reader (the fallback) agrees on name and image.
    let file = monitor_user::enrich::metadata::load_docker_config(&d.data_root(), &id)
        .expect("config.v2.json");
    assert_eq!(file.name.as_deref(), Some(name.as_str()));
    assert_eq!(file.image.as_deref(), Some(image.as_str()));
}

#[test]
fn background_lookups_resolve_a_docker_container_without_blocking() {
    use monitor_user::enrich::metadata::remote::{Remote, RemoteConfig};
    use monitor_user::event::Runtime;
    use std::time::Instant;
    if !require_daemon("dockerd") {
        return;
    }
    let mut d = Dockerd::start().expect("start dockerd");
    let image = format!("localhost/vigil-docker-bg:{}", std::process::id());
    d.import(&ImageBuilder::new(&image), &image)
        .expect("import image");
    let id = d.run(&[], &image, &["sleep", "3600"]).expect("docker run");
    let remote = Remote::start(RemoteConfig {
        cri_sockets: vec![],
        docker_socket: Some(d.socket()),
        ..Default::default()
    })
    .expect("start lookups");
    let t0 = Instant::now();
    assert!(
        remote.lookup(Runtime::Docker, &id, t0).is_err(),
        "asked, not known yet"
    );
    let meta = loop {
        match remote.lookup(Runtime::Docker, &id, Instant::now()) {
            Ok(m) => break m,
            Err(why) if t0.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(10));
                let _ = why;
            }
            Err(why) => panic!("not resolved in 10 s: {why}"),
        }
    };
    eprintln!("resolved in {:?}", t0.elapsed());
    assert_eq!(meta.image.as_deref(), Some(image.as_str()));
    assert_eq!(remote.stats().resolved, 1);
}
