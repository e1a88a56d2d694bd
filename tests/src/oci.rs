//! A local OCI image archive, for runtimes that import images rather than
//! root filesystems (containerd's `ctr images import`).
//!
//! No registry is reachable, so an image is made from a rootfs tar: the
//! layer, a config with the entrypoint, a manifest and an index whose
//! `io.containerd.image.name` annotation names the image. The manifest's
//! digest is what a runtime reports as the image's repository digest, so
//! tests can assert it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::podman::run;
use crate::Error;

/// An OCI archive written by [`oci_archive`].
pub struct OciArchive {
    pub path: PathBuf,
    /// The image's name (`repo:tag`).
    pub name: String,
    /// `sha256:<hex>` of the image manifest.
    pub manifest_digest: String,
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn blob(dir: &Path, bytes: &[u8]) -> Result<(String, usize), Error> {
    let d = digest(bytes);
    let path = dir
        .join("blobs/sha256")
        .join(d.trim_start_matches("sha256:"));
    std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    Ok((d, bytes.len()))
}

/// Writes `dir/image.oci.tar`: an image named `name` (`repo:tag`) whose
/// single layer is `rootfs_tar` and whose entrypoint is `entrypoint`.
pub fn oci_archive(
    dir: &Path,
    rootfs_tar: &Path,
    name: &str,
    entrypoint: &[&str],
) -> Result<OciArchive, Error> {
    let layout = dir.join("oci");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| Error::io(&blobs, e))?;
    let layer = std::fs::read(rootfs_tar).map_err(|e| Error::io(rootfs_tar, e))?;
    let (layer_digest, layer_size) = blob(&layout, &layer)?;
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": entrypoint,
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    let (config_digest, config_size) = blob(&layout, config.to_string().as_bytes())?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer_size,
        }],
    });
    let (manifest_digest, manifest_size) = blob(&layout, manifest.to_string().as_bytes())?;
    let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {
                "io.containerd.image.name": name,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    });
    for (file, text) in [
        ("index.json", index.to_string()),
        (
            "oci-layout",
            json!({"imageLayoutVersion": "1.0.0"}).to_string(),
        ),
    ] {
        let p = layout.join(file);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    }
    let path = dir.join("image.oci.tar");
    run(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(&layout)
        .arg("-cf")
        .arg(&path)
        .arg("."))?;
    Ok(OciArchive {
        path,
        name: name.to_owned(),
        manifest_digest,
    })
}
