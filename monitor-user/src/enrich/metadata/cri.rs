//! Container metadata from a CRI runtime (containerd, CRI-O) over its gRPC
//! socket.
//!
//! On a Kubernetes node the cgroup path names only the container id and the
//! pod uid; the runtime knows the rest because kubelet told it: container
//! name, image (and the digest it resolved), the pod's name, namespace, uid
//! and labels, mounts with their host paths, and the creation time. Three
//! calls answer a container: `ContainerStatus` (verbose, for the runtime's
//! own view of the config: privileged), `ListContainers` filtered by id (the
//! sandbox id) and `PodSandboxStatus` (the pod). The channel connects
//! lazily and reconnects by itself, so a runtime that starts after the
//! agent, or restarts, is picked up; every call has a deadline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use monitor_cri::v1::{
    self, image_service_client::ImageServiceClient, runtime_service_client::RuntimeServiceClient,
};
use thiserror::Error;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

use super::{ContainerMeta, MountMeta, PodMeta};

/// Labels kubelet sets on every pod sandbox and container it creates.
pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";

#[derive(Debug, Error)]
pub enum CriError {
    #[error("CRI {call}: {status}")]
    Call {
        call: &'static str,
        status: Box<tonic::Status>,
    },
    #[error("CRI runtime does not know container {0}")]
    NotFound(String),
}

impl CriError {
    fn call(call: &'static str) -> impl FnOnce(tonic::Status) -> CriError {
        move |status| CriError::Call {
            call,
            status: Box::new(status),
        }
    }

    /// The call ran out of its time (tonic's per-call timeout, or the
    /// runtime's own deadline).
    pub fn is_timeout(&self) -> bool {
        match self {
            CriError::NotFound(_) => false,
            CriError::Call { status, .. } => {
                status.code() == tonic::Code::DeadlineExceeded
                    || (status.code() == tonic::Code::Cancelled
                        && status.message() == tonic::TimeoutExpired(()).to_string())
            }
        }
    }

    /// The runtime answered that it has no such container (as opposed to
    /// not answering at all).
    pub fn is_not_found(&self) -> bool {
        match self {
            CriError::NotFound(_) => true,
            CriError::Call { status, .. } => status.code() == tonic::Code::NotFound,
        }
    }
}

/// What `Version` says about the runtime behind a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeVersion {
    pub runtime_name: String,
    pub runtime_version: String,
    pub api_version: String,
}

/// A CRI client on one runtime socket. Cloning is cheap (one channel).
#[derive(Clone, Debug)]
pub struct CriClient {
    socket: PathBuf,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

impl CriClient {
    /// A client for the runtime at `socket`; nothing is dialled until the
    /// first call. `timeout` bounds each call, connecting included. Call it
    /// within a tokio runtime (the channel's worker is spawned on it).
    pub fn new(socket: &Path, timeout: Duration) -> CriClient {
        let path = socket.to_owned();
        // The URI is required by tonic but unused: the connector dials the socket.
        let channel = Endpoint::from_static("http://cri.invalid")
            .connect_timeout(timeout)
            .timeout(timeout)
            .connect_with_connector_lazy(tower::service_fn(move |_| {
                let path = path.clone();
                async move { UnixStream::connect(path).await.map(TokioIo::new) }
            }));
        CriClient {
            socket: socket.to_owned(),
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub async fn version(&mut self) -> Result<RuntimeVersion, CriError> {
        let v = self
            .runtime
            .version(v1::VersionRequest::default())
            .await
            .map_err(CriError::call("Version"))?
            .into_inner();
        Ok(RuntimeVersion {
            runtime_name: v.runtime_name,
            runtime_version: v.runtime_version,
            api_version: v.runtime_api_version,
        })
    }

    /// Everything the runtime knows about one container (full id). A pod's
    /// sandbox (pause) container is answered with its pod and no name.
    pub async fn container(&mut self, id: &str) -> Result<ContainerMeta, CriError> {
        let resp = self
            .runtime
            .container_status(v1::ContainerStatusRequest {
                container_id: id.to_owned(),
                verbose: true,
            })
            .await;
        let resp = match resp {
            Ok(r) => r.into_inner(),
            Err(s) if s.code() == tonic::Code::NotFound => return self.sandbox(id).await,
            Err(s) => return Err(CriError::call("ContainerStatus")(s)),
        };
        let status = resp
            .status
            .ok_or_else(|| CriError::NotFound(id.to_owned()))?;
        let mut meta = meta_from_status(&status, &resp.info);
        if meta.image_digest.is_none() {
            meta.image_digest = self.image_digest(&status).await;
        }
        let sandbox = self.sandbox_id(id).await?;
        let pod = match sandbox {
            Some(sid) => self.pod(&sid).await?,
            None => None,
        };
        meta.pod = pod.or_else(|| pod_from_labels(&status.labels));
        Ok(meta)
    }

    /// The sandbox id of a container, from `ListContainers`.
    async fn sandbox_id(&mut self, id: &str) -> Result<Option<String>, CriError> {
        let list = self
            .runtime
            .list_containers(v1::ListContainersRequest {
                filter: Some(v1::ContainerFilter {
                    id: id.to_owned(),
                    ..Default::default()
                }),
            })
            .await
            .map_err(CriError::call("ListContainers"))?
            .into_inner();
        Ok(list
            .containers
            .into_iter()
            .find(|c| c.id == id)
            .map(|c| c.pod_sandbox_id)
            .filter(|s| !s.is_empty()))
    }

    async fn pod(&mut self, sandbox_id: &str) -> Result<Option<PodMeta>, CriError> {
        let resp = self
            .runtime
            .pod_sandbox_status(v1::PodSandboxStatusRequest {
                pod_sandbox_id: sandbox_id.to_owned(),
                verbose: false,
            })
            .await;
        match resp {
            Ok(r) => Ok(r.into_inner().status.and_then(|s| pod_from_sandbox(&s))),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(CriError::call("PodSandboxStatus")(s)),
        }
    }

    /// A sandbox (pause) container: the pod is all there is to say.
    async fn sandbox(&mut self, id: &str) -> Result<ContainerMeta, CriError> {
        let pod = self
            .pod(id)
            .await?
            .ok_or_else(|| CriError::NotFound(id.to_owned()))?;
        Ok(ContainerMeta {
            pod: Some(pod),
            ..ContainerMeta::default()
        })
    }

    /// The repository digest of a container's image, from `ImageStatus`,
    /// when `image_ref` did not carry one.
    async fn image_digest(&mut self, status: &v1::ContainerStatus) -> Option<String> {
        let image = [status.image_ref.as_str(), status.image_id.as_str()]
            .into_iter()
            .find(|s| !s.is_empty())?
            .to_owned();
        let resp = self
            .images
            .image_status(v1::ImageStatusRequest {
                image: Some(v1::ImageSpec {
                    image,
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
            .ok()?
            .into_inner();
        resp.image?
            .repo_digests
            .iter()
            .find_map(|d| digest_of(d).map(str::to_owned))
    }
}

/// The `sha256:...` part of a `repo@sha256:...` reference.
pub fn digest_of(reference: &str) -> Option<&str> {
    let (_, d) = reference.rsplit_once('@')?;
    d.contains(':').then_some(d)
}

/// Labels without kubelet's bookkeeping ones (`io.kubernetes.*`), which say
/// nothing the pod fields do not.
fn user_labels(labels: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| !k.starts_with("io.kubernetes."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The container part of a `ContainerStatus` answer (no pod yet).
fn meta_from_status(
    s: &v1::ContainerStatus,
    info: &std::collections::HashMap<String, String>,
) -> ContainerMeta {
    let name = s
        .metadata
        .as_ref()
        .and_then(|m| non_empty(&m.name))
        .or_else(|| s.labels.get(CONTAINER_NAME_LABEL).cloned());
    let image = s
        .image
        .as_ref()
        .and_then(|i| non_empty(&i.user_specified_image).or_else(|| non_empty(&i.image)));
    let image_id = non_empty(&s.image_id).or_else(|| {
        // Older runtimes put the image id (not a digest reference) here.
        (s.image_ref.starts_with("sha256:")).then(|| s.image_ref.clone())
    });
    ContainerMeta {
        name,
        image,
        image_id,
        image_digest: digest_of(&s.image_ref).map(str::to_owned),
        pod: None,
        labels: user_labels(&s.labels),
        privileged: info.get("info").and_then(|i| privileged_from_info(i)),
        mounts: s
            .mounts
            .iter()
            .map(|m| MountMeta {
                source: m.host_path.clone(),
                dest: m.container_path.clone(),
                read_only: m.readonly,
            })
            .collect(),
        created_ns: (s.created_at > 0).then_some(s.created_at),
    }
}

/// `privileged` from the runtime's verbose info (a JSON document): containerd
/// keeps the CRI config (`config.linux.security_context.privileged`), CRI-O
/// says it at the top level (`privileged`).
fn privileged_from_info(info: &str) -> Option<bool> {
    let v: serde_json::Value = serde_json::from_str(info).ok()?;
    if let Some(p) = v.get("privileged").and_then(|p| p.as_bool()) {
        return Some(p);
    }
    let config = v.get("config")?;
    let sc = config.get("linux")?.get("security_context");
    // Absent fields are proto3 defaults: a config with no security context
    // is not privileged.
    Some(
        sc.and_then(|sc| sc.get("privileged"))
            .and_then(|p| p.as_bool())
            .unwrap_or(false),
    )
}

fn pod_from_sandbox(s: &v1::PodSandboxStatus) -> Option<PodMeta> {
    let m = s.metadata.as_ref()?;
    Some(PodMeta {
        name: m.name.clone(),
        namespace: m.namespace.clone(),
        uid: m.uid.clone(),
        labels: user_labels(&s.labels),
    })
}

/// The pod as kubelet's container labels name it, when the sandbox is gone.
fn pod_from_labels(labels: &std::collections::HashMap<String, String>) -> Option<PodMeta> {
    Some(PodMeta {
        name: labels.get(POD_NAME_LABEL)?.clone(),
        namespace: labels.get(POD_NAMESPACE_LABEL).cloned().unwrap_or_default(),
        uid: labels.get(POD_UID_LABEL).cloned().unwrap_or_default(),
        labels: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_from_reference() {
        assert_eq!(
            digest_of("registry.k8s.io/pause@sha256:3d380ca8"),
            Some("sha256:3d380ca8")
        );
        assert_eq!(digest_of("sha256:3d380ca8"), None);
        assert_eq!(digest_of("localhost:5000/app:1"), None);
    }

    #[test]
    fn privileged_from_containerd_and_crio_info() {
        let containerd = r#"{"sandboxID":"ab","config":{"metadata":{"name":"c"},"linux":{"security_context":{"privileged":true}}}}"#;
        assert_eq!(privileged_from_info(containerd), Some(true));
        let plain = r#"{"sandboxID":"ab","config":{"metadata":{"name":"c"},"linux":{"security_context":{"namespace_options":{}}}}}"#;
        assert_eq!(privileged_from_info(plain), Some(false));
        assert_eq!(privileged_from_info(r#"{"privileged":true}"#), Some(true));
        assert_eq!(privileged_from_info(r#"{"pid":1}"#), None);
        assert_eq!(privileged_from_info("not json"), None);
    }

    #[test]
    fn status_maps_to_meta() {
        let mut labels = std::collections::HashMap::new();
        labels.insert(POD_NAME_LABEL.to_owned(), "web-0".to_owned());
        labels.insert("app".to_owned(), "web".to_owned());
        let s = v1::ContainerStatus {
            metadata: Some(v1::ContainerMetadata {
                name: "nginx".into(),
                attempt: 0,
            }),
            image: Some(v1::ImageSpec {
                image: "docker.io/library/nginx:1.25".into(),
                ..Default::default()
            }),
            image_ref: "docker.io/library/nginx@sha256:feed".into(),
            labels: labels.clone(),
            mounts: vec![v1::Mount {
                container_path: "/host".into(),
                host_path: "/".into(),
                readonly: true,
                ..Default::default()
            }],
            created_at: 1_700_000_000_000_000_000,
            ..Default::default()
        };
        let m = meta_from_status(&s, &Default::default());
        assert_eq!(m.name.as_deref(), Some("nginx"));
        assert_eq!(m.image.as_deref(), Some("docker.io/library/nginx:1.25"));
        assert_eq!(m.image_digest.as_deref(), Some("sha256:feed"));
        assert_eq!(m.privileged, None);
        assert_eq!(m.labels.len(), 1, "kubelet's labels are left out");
        assert_eq!(m.mounts[0].source, "/");
        assert!(m.mounts[0].read_only);
        assert_eq!(m.created_ns, Some(1_700_000_000_000_000_000));
        assert_eq!(pod_from_labels(&labels).unwrap().name, "web-0");
    }
}
