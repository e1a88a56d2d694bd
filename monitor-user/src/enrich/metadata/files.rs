//! The runtimes' own state files: podman's containers/storage
//! (`overlay-containers/containers.json`, names, image id and a metadata
//! string holding the image name; `overlay-images/images.json` for the
//! image's digest, and its name when that is missing) and Docker's `containers/<id>/config.v2.json`.
//! Reading them needs no daemon; they say less than the APIs (no pod, no
//! privilege, no mounts).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use super::bolt::{Bolt, BoltError};
use super::ContainerMeta;

#[derive(Debug, Error)]
pub enum MetadataError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse {path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, MetadataError> {
    let bytes = std::fs::read(path).map_err(|source| MetadataError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| MetadataError::Parse {
        path: path.to_owned(),
        source,
    })
}

#[derive(Deserialize)]
struct StorageContainer {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    image: String,
    /// A JSON document inside a string.
    #[serde(default)]
    metadata: String,
}

#[derive(Deserialize, Default)]
struct PodmanMetadata {
    #[serde(default, rename = "image-name")]
    image_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct StorageImage {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    /// The manifest's digest (`sha256:...`), also for images built or
    /// loaded locally.
    #[serde(default)]
    digest: Option<String>,
}

/// What `overlay-images/images.json` says of an image.
#[derive(Default)]
struct ImageInfo {
    name: Option<String>,
    digest: Option<String>,
}

/// Read one containers/storage root: (container id, metadata) pairs.
pub fn load_podman(root: &Path) -> Result<Vec<(String, ContainerMeta)>, MetadataError> {
    let containers: Vec<StorageContainer> =
        read_json(&root.join("overlay-containers/containers.json"))?;
    let mut images: Option<HashMap<String, ImageInfo>> = None;
    let mut out = Vec::with_capacity(containers.len());
    for c in containers {
        // A malformed metadata string only loses the image name.
        let md: PodmanMetadata = serde_json::from_str(&c.metadata).unwrap_or_default();
        let images = images.get_or_insert_with(|| load_images(root));
        let known = images.get(&c.image);
        let image = md
            .image_name
            .filter(|s| !s.is_empty())
            .or_else(|| known?.name.clone());
        let name = c.names.into_iter().next().or(md.name);
        let image_digest = known.and_then(|i| i.digest.clone());
        let image_id = (!c.image.is_empty()).then_some(c.image);
        out.push((
            c.id,
            ContainerMeta {
                name,
                image,
                image_id,
                image_digest,
                ..ContainerMeta::default()
            },
        ));
    }
    Ok(out)
}

/// image id → first name and digest, from `overlay-images/images.json`
/// (empty on error).
fn load_images(root: &Path) -> HashMap<String, ImageInfo> {
    match read_json::<Vec<StorageImage>>(&root.join("overlay-images/images.json")) {
        Ok(list) => list
            .into_iter()
            .map(|i| {
                let info = ImageInfo {
                    name: i.names.into_iter().next(),
                    digest: i.digest.filter(|d| d.starts_with("sha256:")),
                };
                (i.id, info)
            })
            .collect(),
        Err(e) => {
            log::warn!("podman images: {e}");
            HashMap::new()
        }
    }
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default, rename = "Name")]
    name: String,
    #[serde(default, rename = "Image")]
    image_id: String,
    #[serde(default, rename = "Config")]
    config: Option<DockerInnerConfig>,
}

#[derive(Deserialize)]
struct DockerInnerConfig {
    #[serde(default, rename = "Image")]
    image: String,
}

/// Read docker's `containers/<id>/config.v2.json`.
pub fn load_docker_config(root: &Path, full_id: &str) -> Result<ContainerMeta, MetadataError> {
    let c: DockerConfig = read_json(&root.join("containers").join(full_id).join("config.v2.json"))?;
    let name = c.name.trim_start_matches('/');
    Ok(ContainerMeta {
        name: (!name.is_empty()).then(|| name.to_owned()),
        image: c.config.map(|c| c.image).filter(|s| !s.is_empty()),
        image_id: (!c.image_id.is_empty()).then_some(c.image_id),
        ..ContainerMeta::default()
    })
}

/// The name of podman's pod `pod_id`, from podman's state database under
/// the storage root (`libpod/bolt_state.db`, its `id-registry` bucket: id →
/// name of every container and pod). `Ok(None)`: no such pod there.
pub fn load_podman_pod_name(root: &Path, pod_id: &str) -> Result<Option<String>, BoltError> {
    let db = Bolt::open(&root.join("libpod/bolt_state.db"))?;
    Ok(db
        .get(&[b"id-registry"], pod_id.as_bytes())?
        .map(|name| String::from_utf8_lossy(name).into_owned()))
}

/// What podman's OCI runtime config of a started container adds: whether
/// it is privileged and its bind mounts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodmanDetails {
    pub privileged: Option<bool>,
    pub mounts: Vec<super::MountMeta>,
    /// The id of its pod (`podman run --pod`), which podman writes as the
    /// CRI-O sandbox id annotation.
    pub pod_id: Option<String>,
}

#[derive(Deserialize)]
struct OciConfig {
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    mounts: Vec<OciMount>,
}

#[derive(Deserialize)]
struct OciMount {
    #[serde(default)]
    destination: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    options: Vec<String>,
}

/// Reads `overlay-containers/<id>/userdata/config.json` (written when the
/// container starts, before its cgroup exists). Podman's own bind mounts
/// (`/etc/hosts`, `/etc/resolv.conf`, `.containerenv`, from its storage and
/// run directories) are left out: they are not the user's host paths.
pub fn load_podman_details(root: &Path, full_id: &str) -> Result<PodmanDetails, MetadataError> {
    let c: OciConfig = read_json(
        &root
            .join("overlay-containers")
            .join(full_id)
            .join("userdata/config.json"),
    )?;
    let own = |s: &str| {
        Path::new(s).starts_with(root)
            || ["/run/containers/", "/var/run/containers/", "/run/libpod/"]
                .iter()
                .any(|p| s.starts_with(p))
    };
    Ok(PodmanDetails {
        pod_id: c
            .annotations
            .get("io.kubernetes.cri-o.SandboxID")
            .filter(|id| !id.is_empty())
            .cloned(),
        privileged: c
            .annotations
            .get("io.podman.annotations.privileged")
            .map(|v| v.eq_ignore_ascii_case("true")),
        mounts: c
            .mounts
            .into_iter()
            .filter(|m| m.kind == "bind" && !own(&m.source))
            .map(|m| super::MountMeta {
                read_only: m.options.iter().any(|o| o == "ro"),
                source: m.source,
                dest: m.destination,
            })
            .collect(),
    })
}
