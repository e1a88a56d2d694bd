//! Container metadata from the Docker Engine API over its unix socket.
//!
//! `GET /containers/{id}/json` answers everything an alert needs: the name,
//! the image as the user named it, labels (Compose's `com.docker.compose.*`
//! among them), whether the container is privileged, its mounts and its
//! creation time; `GET /images/{id}/json` adds the repository digest. The
//! same API is served by `podman system service`. Each call opens its own
//! connection (HTTP/1.1 over the socket) under one deadline, so a daemon that
//! is missing, slow or restarting costs one timeout, never a stalled caller.
//! Docker's `config.v2.json` reader in [`super`] stays the
//! fallback for when the daemon does not answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use thiserror::Error;
use tokio::net::UnixStream;

use super::{ContainerMeta, MountMeta};

#[derive(Debug, Error)]
pub enum DockerApiError {
    #[error("docker socket {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("docker API {uri}: {source}")]
    Http { uri: String, source: hyper::Error },
    #[error("docker API {uri}: no answer within {0:?}", .timeout)]
    Timeout { uri: String, timeout: Duration },
    #[error("docker API {uri}: HTTP {status}")]
    Status { uri: String, status: StatusCode },
    #[error("docker API {uri}: {source}")]
    Json {
        uri: String,
        source: serde_json::Error,
    },
}

impl DockerApiError {
    /// The daemon answered that it has no such container.
    /// The daemon did not answer in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, DockerApiError::Timeout { .. })
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, DockerApiError::Status { status, .. } if *status == StatusCode::NOT_FOUND)
    }
}

/// A Docker Engine API client on one socket.
#[derive(Clone, Debug)]
pub struct DockerApi {
    socket: PathBuf,
    timeout: Duration,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    #[serde(default)]
    name: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    created: String,
    #[serde(default)]
    config: Option<InspectConfig>,
    #[serde(default)]
    host_config: Option<HostConfig>,
    #[serde(default)]
    mounts: Vec<InspectMount>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectConfig {
    #[serde(default)]
    image: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfig {
    #[serde(default)]
    privileged: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectMount {
    #[serde(default)]
    source: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    destination: String,
    #[serde(default, rename = "RW")]
    rw: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageInspect {
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
}

/// The metadata in a `GET /containers/{id}/json` answer.
fn meta_from_inspect(c: Inspect) -> ContainerMeta {
    let name = c.name.trim_start_matches('/');
    let (image, labels) = match c.config {
        Some(cfg) => (
            Some(cfg.image).filter(|s| !s.is_empty()),
            cfg.labels.unwrap_or_default(),
        ),
        None => (None, BTreeMap::new()),
    };
    ContainerMeta {
        name: (!name.is_empty()).then(|| name.to_owned()),
        image,
        image_id: (!c.image.is_empty()).then_some(c.image),
        image_digest: None,
        pod: None,
        labels,
        privileged: c.host_config.map(|h| h.privileged),
        mounts: c
            .mounts
            .into_iter()
            .map(|m| MountMeta {
                source: if m.source.is_empty() {
                    m.name
                } else {
                    m.source
                },
                dest: m.destination,
                read_only: !m.rw,
            })
            .collect(),
        created_ns: c
            .created
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| i64::try_from(t.as_nanosecond()).ok()),
    }
}

impl DockerApi {
    /// A client for the daemon at `socket`; `timeout` bounds each request.
    pub fn new(socket: &Path, timeout: Duration) -> DockerApi {
        DockerApi {
            socket: socket.to_owned(),
            timeout,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET uri` → body, within the deadline.
    async fn get(&self, uri: &str) -> Result<Bytes, DockerApiError> {
        let work = async {
            let stream = UnixStream::connect(&self.socket).await.map_err(|source| {
                DockerApiError::Connect {
                    path: self.socket.clone(),
                    source,
                }
            })?;
            let http = |source| DockerApiError::Http {
                uri: uri.to_owned(),
                source,
            };
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(http)?;
            // The connection task ends when the response is read (or dropped).
            tokio::spawn(conn);
            let req = Request::get(uri)
                .header(hyper::header::HOST, "docker")
                .body(Empty::<Bytes>::new())
                .expect("a GET with a path and a host header is a valid request");
            let resp = send.send_request(req).await.map_err(http)?;
            let status = resp.status();
            let body = resp.into_body().collect().await.map_err(http)?.to_bytes();
            if !status.is_success() {
                return Err(DockerApiError::Status {
                    uri: uri.to_owned(),
                    status,
                });
            }
            Ok(body)
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| DockerApiError::Timeout {
                uri: uri.to_owned(),
                timeout: self.timeout,
            })?
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, uri: &str) -> Result<T, DockerApiError> {
        let body = self.get(uri).await?;
        serde_json::from_slice(&body).map_err(|source| DockerApiError::Json {
            uri: uri.to_owned(),
            source,
        })
    }

    /// The daemon's version string (`GET /version`), for `vigil probe`.
    pub async fn version(&self) -> Result<String, DockerApiError> {
        #[derive(Deserialize)]
        struct V {
            #[serde(default, rename = "Version")]
            version: String,
        }
        Ok(self.get_json::<V>("/version").await?.version)
    }

    /// Everything the daemon knows about one container (full id).
    pub async fn container(&self, id: &str) -> Result<ContainerMeta, DockerApiError> {
        if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            // Ids are hex; anything else must not reach a URL path.
            return Err(DockerApiError::Status {
                uri: "/containers/<invalid id>/json".into(),
                status: StatusCode::NOT_FOUND,
            });
        }
        let c: Inspect = self.get_json(&format!("/containers/{id}/json")).await?;
        let mut meta = meta_from_inspect(c);
        if let Some(image_id) = meta.image_id.clone() {
            // A missing digest (a locally built image) is not an error.
            let uri = format!("/images/{image_id}/json");
            if let Ok(img) = self.get_json::<ImageInspect>(&uri).await {
                meta.image_digest = img
                    .repo_digests
                    .unwrap_or_default()
                    .iter()
                    .find_map(|d| super::cri::digest_of(d).map(str::to_owned));
            }
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_answer_maps_to_meta() {
        let json = r#"{
            "Id": "82ac", "Name": "/shop-web-1", "Image": "sha256:d7e7",
            "Created": "2026-12-02T08:10:06.123456789Z",
            "Config": {"Image": "nginx:1.25", "Labels": {"com.docker.compose.project": "shop"}},
            "HostConfig": {"Privileged": true},
            "Mounts": [
                {"Type": "bind", "Source": "/etc", "Destination": "/host-etc", "RW": false},
                {"Type": "volume", "Name": "data", "Source": "", "Destination": "/data", "RW": true}
            ]
        }"#;
        let m = meta_from_inspect(serde_json::from_str(json).unwrap());
        assert_eq!(m.name.as_deref(), Some("shop-web-1"));
        assert_eq!(m.image.as_deref(), Some("nginx:1.25"));
        assert_eq!(m.image_id.as_deref(), Some("sha256:d7e7"));
        assert_eq!(m.privileged, Some(true));
        assert_eq!(m.labels["com.docker.compose.project"], "shop");
        assert_eq!(m.mounts[0].source, "/etc");
        assert!(m.mounts[0].read_only);
        assert_eq!(m.mounts[1].source, "data");
        assert!(!m.mounts[1].read_only);
        assert_eq!(m.created_ns, Some(1_796_199_006_123_456_789));
    }

    #[test]
    fn null_labels_and_no_host_config() {
        let json = r#"{"Name": "/x", "Config": {"Image": "a", "Labels": null}}"#;
        let m = meta_from_inspect(serde_json::from_str(json).unwrap());
        assert!(m.labels.is_empty());
        assert_eq!(m.privileged, None);
    }

    #[tokio::test]
    async fn a_missing_socket_is_an_error_not_a_wait() {
        let api = DockerApi::new(
            Path::new("/nonexistent/docker.sock"),
            Duration::from_secs(1),
        );
        let e = api.container("82ac").await.unwrap_err();
        assert!(matches!(e, DockerApiError::Connect { .. }), "{e}");
        assert!(!e.is_not_found());
    }
}
