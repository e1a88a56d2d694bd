//! What a container runtime says about a container, as events carry it.
//!
//! The cgroup path gives the runtime, the container id and (on Kubernetes)
//! the pod uid; everything else comes from the runtime itself (its state
//! files, the CRI, the Docker API; see `enrich::metadata`): names, image and
//! digest, the pod, labels, privilege and mounts. One [`ContainerMeta`] per
//! container is shared (an `Arc`) by all of its events. When it could not
//! be had, [`Unresolved`] says why, so an alert says that rather than null.
//! [`Container`] is what every event carries: the identity the cgroup path
//! gives, with that metadata beside it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Which runtime created the container (Falco's `container.type` spelling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Docker,
    Containerd,
    #[serde(rename = "cri-o")]
    Crio,
    Podman,
    Host,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Host => "host",
        }
    }
}

/// Kubernetes pod QoS class, from the kubepods hierarchy level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QosClass {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl QosClass {
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "guaranteed",
            QosClass::Burstable => "burstable",
            QosClass::BestEffort => "besteffort",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// 12 hex chars, or `host`.
    pub id: String,
    pub full_id: Option<String>,
    pub runtime: Runtime,
    pub name: Option<String>,
    pub image: Option<String>,
    pub pod_uid: Option<String>,
    pub qos: Option<QosClass>,
    /// What the runtime says beyond the name and image (pod, labels, image
    /// digest, privilege, mounts, start time); shared by the container's
    /// events.
    pub meta: Option<Arc<ContainerMeta>>,
    /// Why `meta` is missing for a container (`None` for the host).
    pub unresolved: Option<Unresolved>,
    /// Who asked the runtime to start it (`None` for the host).
    pub creator: Option<Arc<Creator>>,
}

impl Default for Container {
    fn default() -> Self {
        Container {
            id: "host".into(),
            full_id: None,
            runtime: Runtime::Host,
            name: None,
            image: None,
            pod_uid: None,
            qos: None,
            meta: None,
            unresolved: None,
            creator: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerMeta {
    pub name: Option<String>,
    /// Image reference as the user named it (`localhost/app:1.2`).
    pub image: Option<String>,
    pub image_id: Option<String>,
    /// The image's repository digest (`sha256:...`), when the runtime has one.
    pub image_digest: Option<String>,
    /// The Kubernetes pod, for containers a CRI runtime runs for kubelet;
    /// for podman, its pod (`podman run --pod`, `podman kube play`), which
    /// has a name only (empty namespace and uid).
    pub pod: Option<PodMeta>,
    /// The container's own labels (Docker and Compose labels, CRI labels).
    pub labels: BTreeMap<String, String>,
    /// `None` when the runtime does not say.
    pub privileged: Option<bool>,
    pub mounts: Vec<MountMeta>,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: Option<i64>,
}

/// A Kubernetes pod, as kubelet described it to the runtime (or podman's
/// pod: its name only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    /// The pod's labels (kubelet's own `io.kubernetes.*` ones left out).
    pub labels: BTreeMap<String, String>,
}

/// A mount of a host path (or volume) into the container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountMeta {
    /// Host path (or volume name when the runtime gives no path).
    pub source: String,
    /// Path inside the container.
    pub dest: String,
    pub read_only: bool,
}

/// Who asked a runtime to start a container (`container.creator.*`,
/// `enrich::creator`): the host process that connected to the runtime's
/// socket, or the `podman` command that forked the runtime. Exactly one of
/// `pid` (named) or `unresolved` (why not) is set; `candidates` lists every
/// process that could have been it when there were several.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creator {
    /// How it was found: the runtime socket the client connected to, or
    /// `podman` (the process that forked the container's runtime).
    pub via: Option<String>,
    pub pid: Option<u32>,
    pub uid: Option<u32>,
    /// The audit login uid (`u32::MAX`: never set).
    pub loginuid: Option<u32>,
    /// The uid's name in the creator's own `/etc/passwd`.
    pub user: Option<String>,
    pub cmdline: Option<String>,
    /// The client's own container (a runtime socket mounted into a
    /// container); `None`: the host.
    pub container_id: Option<String>,
    /// `pid:uid:cmdline` of each possible creator, when more than one.
    pub candidates: Vec<String>,
    /// Why no single creator is named.
    pub unresolved: Option<String>,
}

impl std::fmt::Display for Creator {
    /// `uid 65534 (nobody) loginuid 1001 pid 4242 via /run/docker.sock:
    /// docker run ...`, or why it is not known.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(pid) = self.pid else {
            return f.write_str(self.unresolved.as_deref().unwrap_or("unknown"));
        };
        if let Some(uid) = self.uid {
            write!(f, "uid {uid}")?;
            if let Some(user) = &self.user {
                write!(f, " ({user})")?;
            }
            f.write_str(" ")?;
        }
        if let Some(l) = self.loginuid.filter(|&l| l != u32::MAX) {
            write!(f, "loginuid {l} ")?;
        }
        write!(f, "pid {pid}")?;
        if let Some(c) = &self.container_id {
            write!(f, " in container {c}")?;
        }
        if let Some(via) = &self.via {
            write!(f, " via {via}")?;
        }
        if let Some(cmd) = &self.cmdline {
            write!(f, ": {cmd}")?;
        }
        Ok(())
    }
}

/// Why a container's runtime metadata is missing from an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unresolved {
    /// Asked; the runtime had not answered when the event went out.
    Pending,
    /// The runtime does not know the container (it is gone already).
    NotFound,
    /// The runtime could not be asked (no socket, timeout, error).
    Unreachable(String),
    /// No source is configured for this runtime.
    NoSource,
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresolved::Pending => f.write_str("pending: the runtime had not answered yet"),
            Unresolved::NotFound => {
                f.write_str("not found: the runtime does not know the container")
            }
            Unresolved::Unreachable(why) => write!(f, "runtime unreachable: {why}"),
            Unresolved::NoSource => f.write_str("no metadata source for this runtime"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creator_reads_as_one_line() {
        let c = Creator {
            via: Some("/run/docker.sock".into()),
            pid: Some(4242),
            uid: Some(1001),
            loginuid: Some(1001),
            user: Some("alice".into()),
            cmdline: Some("docker run --privileged -v /:/host img".into()),
            ..Creator::default()
        };
        assert_eq!(
            c.to_string(),
            "uid 1001 (alice) loginuid 1001 pid 4242 via /run/docker.sock: \
             docker run --privileged -v /:/host img"
        );
        let why = Creator {
            unresolved: Some("no client".into()),
            ..Creator::default()
        };
        assert_eq!(why.to_string(), "no client");
    }

    #[test]
    fn unresolved_says_why() {
        assert_eq!(
            Unresolved::Unreachable("timeout".into()).to_string(),
            "runtime unreachable: timeout"
        );
    }
}
