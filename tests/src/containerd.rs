//! A private containerd with its CRI plugin, and pods made through the CRI
//! the way kubelet makes them.
//!
//! [`Containerd::start`] runs Debian's `containerd` on its own socket, root,
//! state and runc directories (nothing shared with a system containerd or
//! Docker's), with host-network pods only, so no CNI is needed. Images come
//! from local OCI archives ([`crate::oci`]); the sandbox (pause) image is
//! one of them, imported under the name the CRI plugin expects. Pods and
//! containers are created over the CRI gRPC API with the labels kubelet
//! sets, so the agent sees exactly what it sees on a node. Dropping the
//! guard removes every pod it made, stops containerd by pid and removes its
//! directories (unless something is still mounted there).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use monitor_cri::v1::{self, runtime_service_client::RuntimeServiceClient};
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

use crate::oci::{oci_archive, OciArchive};
use crate::podman::{run, ImageBuilder, TempDir};
use crate::Error;

/// The sandbox image name containerd 1.6's CRI plugin uses by default.
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.6";

/// A pod as kubelet describes it to the runtime.
#[derive(Clone, Debug)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: Vec<(String, String)>,
    /// Whether any of its containers is privileged (kubelet then makes the
    /// sandbox privileged too; the runtime refuses otherwise).
    pub privileged: bool,
}

/// A container of a pod.
#[derive(Clone, Debug, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub privileged: bool,
    /// (host path, container path, read-only)
    pub mounts: Vec<(String, String, bool)>,
}

/// A running private containerd; see the module doc.
pub struct Containerd {
    dir: TempDir,
    child: Child,
    rt: tokio::runtime::Runtime,
    client: RuntimeServiceClient<Channel>,
    /// (sandbox id, pod uid) of every pod made here.
    pods: Vec<(String, String)>,
}

/// A fresh random UUID (pod uids are UUIDs).
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    let f = std::fs::File::open("/dev/urandom").and_then(|mut f| {
        std::io::Read::read_exact(&mut f, &mut b)?;
        Ok(())
    });
    if f.is_err() {
        // Unique enough for a test: time and pid.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn cri_err(what: &str) -> impl FnOnce(tonic::Status) -> Error + '_ {
    move |s| Error::Command {
        cmd: format!("CRI {what}"),
        status: format!("{:?}", s.code()),
        stderr: s.message().to_string(),
    }
}

impl Containerd {
    /// Starts containerd and imports the pause image; waits until the CRI
    /// answers (30 s).
    pub fn start() -> Result<Containerd, Error> {
        let dir = TempDir::new("vigil-containerd")?;
        let d = dir.path();
        let config = d.join("config.toml");
        let text = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  disable_apparmor = true
  # No CAP_SYS_RESOURCE here: never lower oom_score_adj (pause asks -998).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni-bin"
    conf_dir = "{d}/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      Root = "{d}/runc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"#,
            d = d.display()
        );
        std::fs::write(&config, text).map_err(|e| Error::io(&config, e))?;
        let log = d.join("containerd.log");
        let logf = std::fs::File::create(&log).map_err(|e| Error::io(&log, e))?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .map_err(|source| Error::Spawn {
                cmd: "containerd".into(),
                source,
            })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("tokio runtime", e))?;
        let path = d.join("containerd.sock");
        let in_rt = rt.enter();
        let channel = Endpoint::from_static("http://containerd.invalid")
            .timeout(Duration::from_secs(30))
            .connect_with_connector_lazy(tower::service_fn(move |_| {
                let path = path.clone();
                async move { UnixStream::connect(path).await.map(TokioIo::new) }
            }));
        drop(in_rt);
        let mut c = Containerd {
            dir,
            child,
            rt,
            client: RuntimeServiceClient::new(channel),
            pods: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut client = c.client.clone();
            let v = c.rt.block_on(client.version(v1::VersionRequest::default()));
            if v.is_ok() {
                break;
            }
            if Instant::now() > deadline || c.child.try_wait().ok().flatten().is_some() {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(Error::Command {
                    cmd: "containerd".into(),
                    status: "not answering on its CRI socket".into(),
                    stderr: tail.lines().rev().take(15).collect::<Vec<_>>().join("\n"),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let pause = c.image(PAUSE_IMAGE, &["/bin/sleep", "2147483647"])?;
        c.import(&pause)?;
        Ok(c)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An OCI archive of the busybox test image (with `builder`'s files),
    /// named `name`, in this daemon's directory.
    pub fn image_with(
        &self,
        builder: &ImageBuilder,
        name: &str,
        entrypoint: &[&str],
    ) -> Result<OciArchive, Error> {
        let sub = self.dir.path().join(format!("image-{}", uuid()));
        std::fs::create_dir_all(&sub).map_err(|e| Error::io(&sub, e))?;
        let tar = builder.rootfs_tar(&sub)?;
        oci_archive(&sub, &tar, name, entrypoint)
    }

    fn image(&self, name: &str, entrypoint: &[&str]) -> Result<OciArchive, Error> {
        self.image_with(&ImageBuilder::new(name), name, entrypoint)
    }

    /// Imports an image archive into the CRI's namespace (`k8s.io`), also
    /// under its `repo@digest` name, as a registry pull would record it.
    pub fn import(&self, image: &OciArchive) -> Result<(), Error> {
        let ctr = |args: &[&str]| {
            run(Command::new("ctr")
                .arg("--address")
                .arg(self.socket())
                .args(["--namespace", "k8s.io"])
                .args(args))
        };
        ctr(&["images", "import", &image.path.display().to_string()])?;
        let repo = image.name.rsplit_once(':').map_or(&*image.name, |(r, _)| r);
        let by_digest = format!("{repo}@{}", image.manifest_digest);
        ctr(&["images", "tag", "--force", &image.name, &by_digest])?;
        Ok(())
    }

    fn sandbox_config(&self, pod: &PodSpec) -> v1::PodSandboxConfig {
        let mut labels: HashMap<String, String> = pod.labels.iter().cloned().collect();
        labels.insert("io.kubernetes.pod.name".into(), pod.name.clone());
        labels.insert("io.kubernetes.pod.namespace".into(), pod.namespace.clone());
        labels.insert("io.kubernetes.pod.uid".into(), pod.uid.clone());
        let logs = self.dir.path().join("logs").join(&pod.uid);
        v1::PodSandboxConfig {
            metadata: Some(v1::PodSandboxMetadata {
                name: pod.name.clone(),
                uid: pod.uid.clone(),
                namespace: pod.namespace.clone(),
                attempt: 0,
            }),
            log_directory: logs.display().to_string(),
            labels,
            linux: Some(v1::LinuxPodSandboxConfig {
                // kubelet's cgroupfs layout for a BestEffort pod.
                cgroup_parent: format!("/kubepods/besteffort/pod{}", pod.uid),
                security_context: Some(v1::LinuxSandboxSecurityContext {
                    privileged: pod.privileged,
                    namespace_options: kubelet_namespaces(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Runs a pod sandbox (host network); returns its id.
    pub fn run_pod(&mut self, pod: &PodSpec) -> Result<String, Error> {
        let config = self.sandbox_config(pod);
        let mut client = self.client.clone();
        let r = self
            .rt
            .block_on(client.run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            }));
        // Cleanup needs the uid (cgroup directories) even if this failed.
        let id = r
            .as_ref()
            .map_or_else(|_| String::new(), |r| r.get_ref().pod_sandbox_id.clone());
        self.pods.push((id.clone(), pod.uid.clone()));
        r.map_err(cri_err("RunPodSandbox"))?;
        Ok(id)
    }

    /// Creates a container in a pod (not started); returns its id.
    pub fn create(
        &mut self,
        sandbox: &str,
        pod: &PodSpec,
        c: &ContainerSpec,
    ) -> Result<String, Error> {
        let labels: HashMap<String, String> = [
            ("io.kubernetes.container.name", c.name.as_str()),
            ("io.kubernetes.pod.name", pod.name.as_str()),
            ("io.kubernetes.pod.namespace", pod.namespace.as_str()),
            ("io.kubernetes.pod.uid", pod.uid.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: c.name.clone(),
                attempt: 0,
            }),
            image: Some(v1::ImageSpec {
                image: c.image.clone(),
                ..Default::default()
            }),
            command: c.command.clone(),
            labels,
            log_path: format!("{}.log", c.name),
            mounts: c
                .mounts
                .iter()
                .map(|(host, dest, ro)| v1::Mount {
                    host_path: host.clone(),
                    container_path: dest.clone(),
                    readonly: *ro,
                    ..Default::default()
                })
                .collect(),
            linux: Some(v1::LinuxContainerConfig {
                security_context: Some(v1::LinuxContainerSecurityContext {
                    privileged: c.privileged,
                    namespace_options: kubelet_namespaces(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let sandbox_config = self.sandbox_config(pod);
        let mut client = self.client.clone();
        let id = self
            .rt
            .block_on(client.create_container(v1::CreateContainerRequest {
                pod_sandbox_id: sandbox.to_owned(),
                config: Some(config),
                sandbox_config: Some(sandbox_config),
            }))
            .map_err(cri_err("CreateContainer"))?
            .into_inner()
            .container_id;
        Ok(id)
    }

    pub fn start_container(&mut self, id: &str) -> Result<(), Error> {
        let mut client = self.client.clone();
        self.rt
            .block_on(client.start_container(v1::StartContainerRequest {
                container_id: id.to_owned(),
            }))
            .map_err(cri_err("StartContainer"))?;
        Ok(())
    }

    /// Runs a command in a container (`kubectl exec`); returns exit code and stdout.
    pub fn exec(&mut self, id: &str, cmd: &[&str]) -> Result<(i32, String), Error> {
        let mut client = self.client.clone();
        let r = self
            .rt
            .block_on(client.exec_sync(v1::ExecSyncRequest {
                container_id: id.to_owned(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: 20,
            }))
            .map_err(cri_err("ExecSync"))?
            .into_inner();
        Ok((r.exit_code, String::from_utf8_lossy(&r.stdout).into_owned()))
    }

    /// The container's state (`CONTAINER_EXITED` etc.).
    pub fn state(&mut self, id: &str) -> Result<v1::ContainerState, Error> {
        let mut client = self.client.clone();
        let s = self
            .rt
            .block_on(client.container_status(v1::ContainerStatusRequest {
                container_id: id.to_owned(),
                verbose: false,
            }))
            .map_err(cri_err("ContainerStatus"))?
            .into_inner();
        Ok(s.status
            .map_or(v1::ContainerState::ContainerUnknown, |s| s.state()))
    }

    /// Removes a container (as kubelet does after a pod's container exits).
    pub fn remove(&mut self, id: &str) -> Result<(), Error> {
        let mut client = self.client.clone();
        self.rt
            .block_on(client.remove_container(v1::RemoveContainerRequest {
                container_id: id.to_owned(),
            }))
            .map_err(cri_err("RemoveContainer"))?;
        Ok(())
    }

    fn remove_pods(&mut self) {
        for (id, _) in std::mem::take(&mut self.pods) {
            if id.is_empty() {
                continue;
            }
            let mut client = self.client.clone();
            let _ = self.rt.block_on(async {
                client
                    .stop_pod_sandbox(v1::StopPodSandboxRequest {
                        pod_sandbox_id: id.clone(),
                    })
                    .await?;
                client
                    .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                        pod_sandbox_id: id.clone(),
                    })
                    .await
            });
        }
    }
}

/// Whether anything is mounted at or below `dir` (then it must not be
/// removed: a bind mount of a host path would lose the host's files).
pub(crate) fn has_mounts_below(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return true;
    };
    let d = dir.display().to_string();
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .any(|m| m == d || m.starts_with(&format!("{d}/")))
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("containerd.log"));
            let log = log.unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("containerd log, last lines:");
            for l in tail.into_iter().rev() {
                eprintln!("  {l}");
            }
        }
        let uids: Vec<String> = self.pods.iter().map(|(_, u)| u.clone()).collect();
        self.remove_pods();
        crate::child::terminate(&mut self.child, Duration::from_secs(10));
        // The pods' cgroup directories (runc removes only the containers').
        for uid in uids {
            for root in cgroup_roots() {
                let _ = std::fs::remove_dir(root.join(format!("kubepods/besteffort/pod{uid}")));
            }
        }
        if has_mounts_below(self.dir.path()) {
            eprintln!(
                "containerd test: mounts remain below {}; leaving it in place",
                self.dir.path().display()
            );
            self.dir.keep();
        }
    }
}

/// Every cgroup hierarchy's root (v1 controllers and v2), for cleanup.
fn cgroup_roots() -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        out.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    out
}

/// The namespaces kubelet asks for here: the host network (the tests make
/// no pod networks) and, kubelet's default, a pid namespace per container.
fn kubelet_namespaces() -> Option<v1::NamespaceOption> {
    Some(v1::NamespaceOption {
        network: v1::NamespaceMode::Node as i32,
        pid: v1::NamespaceMode::Container as i32,
        ..Default::default()
    })
}
