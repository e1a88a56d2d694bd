//! Alerts from containers of real runtimes say which pod, namespace,
//! container and image, and whether it is privileged, from the runtime's own
//! API: containerd's CRI (pods made through the CRI as kubelet makes them)
//! and the Docker Engine API. Short-lived containers (a command that exits
//! at once) keep their names too: the agent asks when the cgroup appears,
//! and events wait briefly for the answer. Baselines and exceptions on
//! `container.image` use the runtime's image on containerd and Docker as
//! on podman.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use vigil_tests::containerd::{uuid, ContainerSpec, Containerd, PodSpec};
use vigil_tests::docker::Dockerd;
use vigil_tests::events::{field, s};
use vigil_tests::podman::{ImageBuilder, TempDir};
use vigil_tests::{require_daemon, require_vigil_binary, Agent};

static SERIAL: Mutex<()> = Mutex::new(());
const WAIT: Duration = Duration::from_secs(20);
const RULE: &str = "Read of shadow or sudoers file in container";

fn can_run(daemon: &str) -> bool {
    require_daemon(daemon) && require_vigil_binary().is_some()
}

/// A test image with a shadow file to read. Its own name is written into
/// it, so two images of one test never share a digest: containerd (and
/// Docker) would otherwise report either name for both containers.
fn image(name: &str) -> ImageBuilder {
    ImageBuilder::new(name)
        .text("/etc/shadow", "root:*:19000:0:99999:7:::\n", 0o600)
        .text("/etc/vigil-test-image", name, 0o644)
}

fn agent(dir: &Path, runtime_args: &[&str]) -> Agent {
    let mut b = Agent::builder(["run", "--events"]).arg(dir.join("events.jsonl"));
    for a in runtime_args {
        b = b.arg(a);
    }
    b.echo(false).start().expect("start vigil run")
}

fn of<'a>(alert: &'a Value, key: &str) -> &'a Value {
    &alert["output_fields"][key]
}

#[test]
fn containerd_alerts_name_pod_namespace_labels_image_and_digest() {
    if !can_run("containerd") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut ctrd = Containerd::start().expect("start containerd");
    let name = "localhost/vigil-meta-cri:1.0";
    let archive = ctrd
        .image_with(&image(name), name, &["/bin/sh"])
        .expect("build image");
    ctrd.import(&archive).expect("import image");
    let dir = TempDir::new("vigil-meta-cri").expect("temp dir");
    let socket = ctrd.socket().display().to_string();
    let agent = agent(dir.path(), &["--cri-socket", &socket]);

    let pod = PodSpec {
        name: "web-0".into(),
        namespace: "shop".into(),
        uid: uuid(),
        labels: vec![("app".into(), "web".into())],
        // One of its containers is (the sandbox must be too).
        privileged: true,
    };
    let sandbox = ctrd.run_pod(&pod).expect("run pod");
    let web = ContainerSpec {
        name: "web".into(),
        image: name.into(),
        command: vec!["sleep".into(), "3600".into()],
        privileged: false,
        mounts: vec![],
    };
    let id = ctrd.create(&sandbox, &pod, &web).expect("create");
    ctrd.start_container(&id).expect("start");
    // `kubectl exec`: through the CRI.
    let (code, _) = ctrd.exec(&id, &["cat", "/etc/shadow"]).expect("exec");
    assert_eq!(code, 0);
    let a = agent.expect_alert(WAIT, RULE, &id);
    assert_eq!(field(&a, "container.name"), "web", "{a}");
    assert_eq!(field(&a, "container.image"), name, "{a}");
    assert_eq!(
        field(&a, "container.image.repository"),
        "localhost/vigil-meta-cri"
    );
    assert_eq!(field(&a, "container.image.tag"), "1.0");
    assert_eq!(field(&a, "container.image.digest"), archive.manifest_digest);
    assert_eq!(of(&a, "container.privileged"), &Value::Bool(false), "{a}");
    assert_eq!(field(&a, "k8s.pod.name"), "web-0", "{a}");
    assert_eq!(field(&a, "k8s.ns.name"), "shop");
    assert_eq!(field(&a, "k8s.pod.uid"), pod.uid);
    assert_eq!(of(&a, "k8s.pod.labels"), &serde_json::json!(["app:web"]));
    assert!(of(&a, "container.unresolved").is_null(), "{a}");

    // A container that reads and exits at once, then is removed.
    let job = ContainerSpec {
        name: "job".into(),
        command: vec!["cat".into(), "/etc/shadow".into()],
        mounts: vec![],
        ..web
    };
    let short = ctrd.create(&sandbox, &pod, &job).expect("create job");
    ctrd.start_container(&short).expect("start job");
    let a = agent.expect_alert(WAIT, RULE, &short);
    assert_eq!(field(&a, "container.name"), "job", "{a}");
    assert_eq!(field(&a, "k8s.pod.name"), "web-0", "{a}");
    assert_eq!(field(&a, "container.image"), name);
    let _ = ctrd.remove(&short);

    // A privileged container with the host's root mounted: both start rules.
    let priv_spec = ContainerSpec {
        name: "debug".into(),
        image: name.into(),
        command: vec!["sleep".into(), "3600".into()],
        privileged: true,
        mounts: vec![("/".into(), "/host".into(), true)],
    };
    let debug = ctrd
        .create(&sandbox, &pod, &priv_spec)
        .expect("create debug");
    ctrd.start_container(&debug).expect("start debug");
    for rule in [
        "Privileged container started",
        "Sensitive host path mounted in container",
    ] {
        let a = agent
            .wait_stdout_json(WAIT, |v| {
                s(v, "rule") == rule && field(v, "container.id") == &debug[..12]
            })
            .unwrap_or_else(|| {
                panic!(
                    "no `{rule}` alert for the debug container; alerts:\n{}",
                    agent.stdout_lines().join("\n")
                )
            });
        assert_eq!(field(&a, "k8s.pod.name"), "web-0", "{a}");
        assert_eq!(field(&a, "container.name"), "debug", "{a}");
        assert_eq!(of(&a, "container.privileged"), &Value::Bool(true), "{a}");
    }
    // The host's own shadow file, read through the mount (read only).
    let (code, _) = ctrd
        .exec(&debug, &["cat", "/host/etc/shadow"])
        .expect("exec in debug");
    assert_eq!(code, 0);
    let rule = "Host credential file read through a mount in container";
    let a = agent
        .wait_stdout_json(WAIT, |v| {
            s(v, "rule") == rule && field(v, "container.id") == &debug[..12]
        })
        .unwrap_or_else(|| {
            panic!(
                "no `{rule}` alert; alerts:\n{}",
                agent.stdout_lines().join("\n")
            )
        });
    assert!(s(&a, "output").contains("host_file=/etc/shadow"), "{a}");
    // The ordinary containers (started before) raised neither.
    let start_rules = agent.stdout_json().expect("alerts");
    for a in &start_rules {
        let rule = s(a, "rule");
        if rule.ends_with("container started") || rule.starts_with("Sensitive host path") {
            let cid = field(a, "container.id");
            assert!(cid != &id[..12] && cid != &short[..12], "{a}");
        }
    }
    agent.stop().expect("stop agent");
}

#[test]
fn docker_alerts_name_image_privilege_and_compose_labels() {
    if !can_run("dockerd") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut d = Dockerd::start().expect("start dockerd");
    let name = format!("localhost/vigil-meta-docker:{}", std::process::id());
    d.import(&image(&name), &name).expect("import image");
    let dir = TempDir::new("vigil-meta-docker").expect("temp dir");
    let socket = d.socket().display().to_string();
    let agent = agent(dir.path(), &["--docker-socket", &socket]);

    let cname = format!("shop-web-{}", std::process::id());
    let id = d
        .run(
            &[
                "--name",
                &cname,
                "-v",
                "/etc:/host-etc:ro",
                "--label",
                "com.docker.compose.project=shop",
                "--label",
                "com.docker.compose.service=web",
            ],
            &name,
            &["sleep", "3600"],
        )
        .expect("docker run");
    d.exec(&id, &["cat", "/etc/shadow"]).expect("docker exec");
    let a = agent.expect_alert(WAIT, RULE, &id);
    assert_eq!(
        field(&a, "container.name"),
        cname,
        "{a}\nlog:\n{}",
        agent.stderr_lines().join("\n")
    );
    assert_eq!(field(&a, "container.image"), name, "{a}");
    assert_eq!(of(&a, "container.privileged"), &Value::Bool(false), "{a}");
    assert!(of(&a, "container.unresolved").is_null(), "{a}");
    assert!(
        of(&a, "k8s.pod.name").is_null(),
        "no pod outside Kubernetes: {a}"
    );

    // `docker run --rm`: reads, exits and is removed within a second.
    let job = format!("shop-job-{}", std::process::id());
    d.docker(&[
        "run",
        "--rm",
        "--net=none",
        "--name",
        &job,
        &name,
        "cat",
        "/etc/shadow",
    ])
    .expect("docker run --rm");
    let a = agent
        .wait_stdout_json(WAIT, |v| {
            s(v, "rule") == RULE && field(v, "container.name") == job
        })
        .unwrap_or_else(|| {
            panic!(
                "no `{RULE}` alert naming {job}; alerts:\n{}",
                agent.stdout_lines().join("\n")
            )
        });
    assert_eq!(field(&a, "container.image"), name, "{a}");
    let stopped = agent.stop().expect("stop agent");
    drop(stopped);

    // The events carry the Compose labels and the mount.
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).expect("events");
    let ev: Value = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| s(v, "container.full_id") == id && v.get("container.labels").is_some())
        .expect("an event of the container with its labels");
    assert_eq!(ev["container.labels"]["com.docker.compose.project"], "shop");
    assert_eq!(ev["container.labels"]["com.docker.compose.service"], "web");
    let mounts = ev["container.mounts"].as_array().expect("mounts");
    assert!(
        mounts
            .iter()
            .any(|m| m["source"] == "/etc" && m["dest"] == "/host-etc" && m["read_only"] == true),
        "{ev}"
    );
}

#[test]
fn probe_says_which_runtime_sockets_answer() {
    let Some(bin) = require_vigil_binary() else {
        return;
    };
    if !require_daemon("containerd") || !require_daemon("dockerd") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let ctrd = Containerd::start().expect("start containerd");
    let d = Dockerd::start().expect("start dockerd");
    let out = std::process::Command::new(bin)
        .arg("probe")
        .arg("--cri-socket")
        .arg(ctrd.socket())
        .args(["--cri-socket", "/nonexistent/vigil/crio.sock"])
        .arg("--docker-socket")
        .arg(d.socket())
        .output()
        .expect("run vigil probe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}:\n{text}"))
            .to_owned()
    };
    assert!(
        line(&ctrd.socket().display().to_string()).contains("answers: containerd"),
        "{text}"
    );
    assert!(
        line("/nonexistent/vigil/crio.sock").ends_with("absent"),
        "{text}"
    );
    assert!(
        line(&d.socket().display().to_string()).contains("answers: Docker Engine 20."),
        "{text}"
    );
}

#[test]
fn podman_privileged_container_with_host_root_raises_the_start_rules() {
    if !vigil_tests::require_podman() || require_vigil_binary().is_none() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = vigil_tests::ensure_test_image().expect("test image");
    let dir = TempDir::new("vigil-meta-podman").expect("temp dir");
    let agent = agent(dir.path(), &["--no-runtime-api"]);
    let plain = vigil_tests::Container::run(&[], image, &["sleep", "3600"]).expect("run plain");
    let c = vigil_tests::Container::run(
        &["--privileged", "-v", "/:/host:ro"],
        image,
        &["sleep", "3600"],
    )
    .expect("run privileged");
    for rule in [
        "Privileged container started",
        "Sensitive host path mounted in container",
    ] {
        let a = agent
            .wait_stdout_json(WAIT, |v| {
                s(v, "rule") == rule && field(v, "container.id") == c.short_id()
            })
            .unwrap_or_else(|| {
                panic!(
                    "no `{rule}` alert for {}; alerts:\n{}",
                    c.short_id(),
                    agent.stdout_lines().join("\n")
                )
            });
        assert_eq!(of(&a, "container.privileged"), &Value::Bool(true), "{a}");
        assert!(s(&a, "output").contains("/:/host::false:"), "{a}");
    }
    for a in agent.stdout_json().expect("alerts") {
        if s(&a, "rule").starts_with("Privileged container") {
            assert_ne!(field(&a, "container.id"), plain.short_id(), "{a}");
        }
    }
}

/// A podman pod's name (`podman pod create`, `podman run --pod`), which
/// podman keeps only in its state database, is the alert's `k8s.pod.name`;
/// a podman pod has no namespace.
#[test]
fn podman_pod_name_is_in_alerts() {
    if !vigil_tests::require_podman() || require_vigil_binary().is_none() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = vigil_tests::ensure_test_image().expect("test image");
    let dir = TempDir::new("vigil-meta-podpod").expect("temp dir");
    let agent = agent(dir.path(), &["--no-runtime-api"]);
    let pod = PodmanPod::create(&format!("vigil-pod-{}", std::process::id()));
    let c = vigil_tests::Container::run(
        &["--pod", &pod.0, "-v", "/etc:/host-etc:ro"],
        image,
        &["sleep", "3600"],
    )
    .expect("run in pod");
    let a = agent.expect_alert(WAIT, "Sensitive host path mounted in container", c.id());
    assert_eq!(field(&a, "k8s.pod.name"), pod.0, "{a}");
    // podman's images have a manifest digest, local ones too.
    let digest = std::process::Command::new("podman")
        .args(["image", "inspect", "--format", "{{.Digest}}", image])
        .output()
        .expect("podman image inspect");
    let digest = String::from_utf8_lossy(&digest.stdout).trim().to_owned();
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert_eq!(field(&a, "container.image.digest"), digest, "{a}");
    assert!(of(&a, "k8s.ns.name").is_null(), "{a}");
    assert!(of(&a, "k8s.pod.uid").is_null(), "{a}");
    assert!(s(&a, "output").contains(&format!("pod={}", pod.0)), "{a}");
    assert!(of(&a, "container.name").is_string(), "{a}");
    assert_eq!(of(&a, "container.privileged"), &Value::Bool(false), "{a}");
    assert!(
        field(&a, "container.mounts").contains("/etc:/host-etc::false:"),
        "{a}"
    );
    // A container outside any pod has none.
    let lone = vigil_tests::Container::run(&["-v", "/etc:/host-etc:ro"], image, &["sleep", "3600"])
        .expect("run");
    let a = agent.expect_alert(WAIT, "Sensitive host path mounted in container", lone.id());
    assert!(of(&a, "k8s.pod.name").is_null(), "{a}");
    drop((c, lone));
    agent.stop().expect("stop agent");
}

/// A podman pod without an infra container, removed with its containers
/// when dropped.
struct PodmanPod(String);

impl PodmanPod {
    fn create(name: &str) -> PodmanPod {
        let out = std::process::Command::new("podman")
            .args(["pod", "create", "--infra=false", "--name", name])
            .output()
            .expect("podman pod create");
        assert!(
            out.status.success(),
            "podman pod create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PodmanPod(name.to_owned())
    }
}

impl Drop for PodmanPod {
    fn drop(&mut self) {
        let _ = std::process::Command::new("podman")
            .args(["pod", "rm", "-f", &self.0])
            .output();
    }
}

/// On Docker as on podman, the image that keys baselines and that rule
/// exceptions on `container.image` compare with is the runtime's own (from
/// the Docker Engine API): a container of an excepted image reads
/// `/etc/shadow` quietly while one of another image alerts, and an exec
/// outside the second image's learned baseline raises the baseline rule
/// naming that image.
/// A runtime the baseline test drives: how the agent reaches it, and how
/// the test starts containers and execs into them.
trait Runtime {
    fn flag(&self) -> [String; 2];
    /// Starts `sleep 3600` in a container `name` of `image`; its full id.
    fn start(&mut self, name: &str, image: &str) -> String;
    fn exec(&mut self, id: &str, cmd: &[&str]);
}

struct Docker(Dockerd);

impl Runtime for Docker {
    fn flag(&self) -> [String; 2] {
        [
            "--docker-socket".into(),
            self.0.socket().display().to_string(),
        ]
    }
    fn start(&mut self, _name: &str, image: &str) -> String {
        self.0
            .run(&[], image, &["sleep", "3600"])
            .expect("docker run")
    }
    fn exec(&mut self, id: &str, cmd: &[&str]) {
        self.0.exec(id, cmd).expect("docker exec");
    }
}

/// Containers of one pod, made through the CRI as kubelet makes them.
struct Cri {
    ctrd: Containerd,
    pod: PodSpec,
    sandbox: String,
}

impl Runtime for Cri {
    fn flag(&self) -> [String; 2] {
        [
            "--cri-socket".into(),
            self.ctrd.socket().display().to_string(),
        ]
    }
    fn start(&mut self, name: &str, image: &str) -> String {
        let spec = ContainerSpec {
            name: name.into(),
            image: image.into(),
            command: vec!["sleep".into(), "3600".into()],
            privileged: false,
            mounts: vec![],
        };
        let id = self
            .ctrd
            .create(&self.sandbox, &self.pod, &spec)
            .expect("create");
        self.ctrd.start_container(&id).expect("start");
        id
    }
    fn exec(&mut self, id: &str, cmd: &[&str]) {
        self.ctrd.exec(id, cmd).expect("exec");
    }
}

/// With the images `trusted` and `other` in `rt`: a site rule excepts
/// `trusted` from the shadow-read rule, and `other` learns `ls /` as its
/// baseline. Then the learned `ls /` is quiet, the trusted image's read is
/// quiet, and the other image's read raises both the rule and the
/// baseline alert, each naming the runtime's image.
fn baselines_and_image_exceptions(rt: &mut dyn Runtime, trusted: &str, other: &str) {
    let dir = TempDir::new("vigil-meta-exc").expect("temp dir");
    let rules = dir.path().join("site.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: {RULE}\n  exceptions:\n    - name: trusted_image\n      fields: [container.image]\n      comps: [=]\n      values:\n        - [{trusted}]\n  override:\n    exceptions: append\n"
        ),
    )
    .unwrap();
    // The window opens at the image's first exec (the container start) and
    // must still be open when the first exec into it lands on a loaded
    // machine.
    let learn = 15;
    let [flag, socket] = rt.flag();
    let agent = Agent::builder(["run", &flag, &socket, "--rules"])
        .arg(&rules)
        .arg("--learn-baselines")
        .arg(dir.path().join("baselines"))
        .arg("--baseline-learn-secs")
        .arg(learn.to_string())
        .echo(false)
        .start()
        .expect("start vigil run");
    let t = rt.start("trusted", trusted);
    let o = rt.start("other", other);
    // Learning (from the image's first exec): `ls /` is the baseline.
    rt.exec(&o, &["ls", "/"]);
    std::thread::sleep(Duration::from_secs(learn + 2));

    // Enforcing: the learned `ls /` first (quiet), then the reads.
    rt.exec(&o, &["ls", "/"]);
    rt.exec(&t, &["cat", "/etc/shadow"]);
    rt.exec(&o, &["cat", "/etc/shadow"]);
    let a = agent.expect_alert(WAIT, RULE, &o);
    assert_eq!(field(&a, "container.image"), other, "{a}");
    let baseline = "Process not in image baseline";
    let b = agent
        .wait_stdout_json(WAIT, |v| {
            s(v, "rule") == baseline
                && field(v, "container.id") == &o[..12]
                && field(v, "proc.cmdline") == "cat /etc/shadow"
        })
        .unwrap_or_else(|| {
            panic!(
                "no `{baseline}` alert for {o}; alerts:\n{}",
                agent.stdout_lines().join("\n")
            )
        });
    assert_eq!(field(&b, "container.image"), other, "{b}");
    let lines = agent.stdout_lines();
    // The trusted image's read came first and raised nothing.
    let trusted_alerts: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(RULE) && l.contains(&t[..12]))
        .collect();
    assert!(
        trusted_alerts.is_empty(),
        "the excepted image alerted: {trusted_alerts:#?}"
    );
    // The learned `ls /`, run before the read, raised nothing.
    let learned: Vec<String> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| s(v, "rule") == baseline && field(v, "proc.cmdline") == "ls /")
        .map(|v| v.to_string())
        .collect();
    assert!(
        learned.is_empty(),
        "the learned `ls /` alerted: {learned:#?}"
    );
    agent.stop().expect("stop agent");
}

#[test]
fn docker_baselines_and_image_exceptions_use_the_api_image() {
    if !can_run("dockerd") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let d = Dockerd::start().expect("start dockerd");
    let pid = std::process::id();
    let (trusted, other) = (
        format!("localhost/vigil-trusted:{pid}"),
        format!("localhost/vigil-other:{pid}"),
    );
    d.import(&image(&trusted), &trusted).expect("import image");
    d.import(&image(&other), &other).expect("import image");
    baselines_and_image_exceptions(&mut Docker(d), &trusted, &other);
}

/// The same on containerd (pods and containers made through the CRI): the
/// image from the CRI keys the exception and the baseline.
#[test]
fn containerd_baselines_and_image_exceptions_use_the_cri_image() {
    if !can_run("containerd") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut ctrd = Containerd::start().expect("start containerd");
    let pid = std::process::id();
    let (trusted, other) = (
        format!("localhost/vigil-trusted-cri:{pid}"),
        format!("localhost/vigil-other-cri:{pid}"),
    );
    for name in [&trusted, &other] {
        let archive = ctrd
            .image_with(&image(name), name, &["/bin/sh"])
            .expect("build image");
        ctrd.import(&archive).expect("import image");
    }
    let pod = PodSpec {
        name: "mixed-0".into(),
        namespace: "shop".into(),
        uid: uuid(),
        labels: vec![],
        privileged: false,
    };
    let sandbox = ctrd.run_pod(&pod).expect("run pod");
    baselines_and_image_exceptions(&mut Cri { ctrd, pod, sandbox }, &trusted, &other);
}
