//! Cgroup v2 path → container identity.
//!
//! Every container runtime puts a container's processes in a cgroup whose
//! name carries the container's 64-hex id; the layout differs by runtime and
//! by cgroup driver (cgroupfs directories or systemd slices/scopes). This
//! module owns that knowledge: [`parse`] turns a path relative to the v2 root
//! into a [`CgroupInfo`] (runtime, full id, Kubernetes pod uid and QoS class).
//! It is pure string work, so every layout is unit-tested with real samples.
//!
//! The first path component that names a container wins: sub-cgroups a
//! container creates below its own (systemd inside a container, podman's
//! rootless `container` leaf, docker-in-docker) stay attributed to it. Conmon
//! cgroups (`crio-conmon-*`, `libpod-conmon-*`) are the runtime's monitor
//! process, which runs on the host: they are `host`, never the container.

use serde::{Deserialize, Serialize};

pub use crate::event::{QosClass, Runtime};

/// What a cgroup path says about its processes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupInfo {
    pub runtime: Runtime,
    /// Full 64-hex container id; `None` for host cgroups.
    pub container_id: Option<String>,
    /// Kubernetes pod uid (dashed form), when under kubepods.
    pub pod_uid: Option<String>,
    pub qos: Option<QosClass>,
}

impl CgroupInfo {
    pub fn host() -> CgroupInfo {
        CgroupInfo {
            runtime: Runtime::Host,
            container_id: None,
            pod_uid: None,
            qos: None,
        }
    }

    /// The 12-hex short id, or `host`.
    pub fn short_id(&self) -> &str {
        match &self.container_id {
            Some(id) => &id[..12],
            None => "host",
        }
    }
}

/// Parse a cgroup v2 path (relative to the v2 root, e.g. `/docker/<id>`).
pub fn parse(path: &str) -> CgroupInfo {
    let mut info = CgroupInfo::host();
    let mut in_kubepods = false;
    let mut prev: Option<&str> = None;
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        if let Some(k) = kubepods_level(comp, in_kubepods) {
            in_kubepods = true;
            match k {
                Kube::Root => {}
                Kube::Qos(q) => info.qos = Some(q),
                Kube::Pod(q, uid) => {
                    if q.is_some() {
                        info.qos = q;
                    }
                    info.pod_uid = Some(uid);
                }
            }
        } else if let Some((runtime, id)) = container_component(comp, prev, in_kubepods) {
            info.runtime = runtime;
            info.container_id = Some(id.to_owned());
            break;
        } else if is_conmon(comp) {
            // The runtime's monitor: a host process, even inside a pod.
            break;
        }
        prev = Some(comp);
    }
    if in_kubepods && info.pod_uid.is_some() && info.qos.is_none() {
        // Guaranteed pods sit directly under the kubepods root.
        info.qos = Some(QosClass::Guaranteed);
    }
    info
}

enum Kube {
    Root,
    Qos(QosClass),
    Pod(Option<QosClass>, String),
}

fn qos_word(s: &str) -> Option<QosClass> {
    match s {
        "burstable" => Some(QosClass::Burstable),
        "besteffort" => Some(QosClass::BestEffort),
        _ => None,
    }
}

/// Recognise one kubepods hierarchy level, cgroupfs or systemd driver.
fn kubepods_level(comp: &str, in_kubepods: bool) -> Option<Kube> {
    if comp == "kubepods" || comp == "kubepods.slice" {
        return Some(Kube::Root);
    }
    // cgroupfs driver, below `/kubepods`: `burstable`, `besteffort`, `pod<uid>`.
    if in_kubepods {
        if let Some(q) = qos_word(comp) {
            return Some(Kube::Qos(q));
        }
        if let Some(uid) = comp.strip_prefix("pod").filter(|u| is_pod_uid(u)) {
            return Some(Kube::Pod(None, uid.to_owned()));
        }
    }
    // systemd driver: `kubepods-burstable.slice`,
    // `kubepods-burstable-pod<uid_with_underscores>.slice`, `kubepods-pod<uid>.slice`.
    let rest = comp.strip_prefix("kubepods-")?.strip_suffix(".slice")?;
    if let Some(q) = qos_word(rest) {
        return Some(Kube::Qos(q));
    }
    let (qos, pod) = match rest.split_once('-') {
        Some((q, pod)) => (Some(qos_word(q)?), pod),
        None => (None, rest),
    };
    let uid = pod.strip_prefix("pod")?.replace('_', "-");
    is_pod_uid(&uid).then_some(Kube::Pod(qos, uid))
}

/// A pod uid is a UUID (static pods may use a 32-hex hash instead).
fn is_pod_uid(s: &str) -> bool {
    let hex_or_dash = s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    hex_or_dash && (s.len() == 36 || (s.len() == 32 && !s.contains('-')))
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `<prefix><64hex>` or `<prefix><64hex>.scope`.
fn prefixed_id<'a>(comp: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = comp.strip_prefix(prefix)?;
    let id = rest.strip_suffix(".scope").unwrap_or(rest);
    is_container_id(id).then_some(id)
}

fn container_component<'a>(
    comp: &'a str,
    parent: Option<&str>,
    in_kubepods: bool,
) -> Option<(Runtime, &'a str)> {
    const PREFIXED: [(&str, Runtime); 5] = [
        ("docker-", Runtime::Docker),
        ("cri-containerd-", Runtime::Containerd),
        ("nerdctl-", Runtime::Containerd),
        ("crio-", Runtime::Crio),
        ("libpod-", Runtime::Podman),
    ];
    for (prefix, runtime) in PREFIXED {
        if let Some(id) = prefixed_id(comp, prefix) {
            return Some((runtime, id));
        }
    }
    if is_container_id(comp) {
        // A bare id: docker's cgroupfs driver (`/docker/<id>`), or a CRI
        // runtime with the cgroupfs driver under a pod. Kubelet's cgroupfs
        // layout is the same for containerd and dockershim; containerd is the
        // runtime every current cluster uses.
        return match parent {
            Some("docker") => Some((Runtime::Docker, comp)),
            _ if in_kubepods => Some((Runtime::Containerd, comp)),
            // nerdctl/ctr with cgroupfs: `/<namespace>/<id>`.
            Some(_) => Some((Runtime::Containerd, comp)),
            None => None,
        };
    }
    None
}

fn is_conmon(comp: &str) -> bool {
    comp.starts_with("crio-conmon-") || comp.starts_with("libpod-conmon-") || comp == "conmon"
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2c9a7e51b04d6c8e1f0a9b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d";
    const UID: &str = "6f3b3c52-7f6c-4b4c-9e0a-3c9f0a1b2c3d";
    const UID_: &str = "6f3b3c52_7f6c_4b4c_9e0a_3c9f0a1b2c3d";

    fn check(path: &str, runtime: Runtime, pod: Option<&str>, qos: Option<QosClass>) {
        let got = parse(path);
        let want = CgroupInfo {
            runtime,
            container_id: (runtime != Runtime::Host).then(|| ID.to_owned()),
            pod_uid: pod.map(str::to_owned),
            qos,
        };
        assert_eq!(got, want, "path {path}");
    }

    #[test]
    fn docker_cgroupfs_and_systemd() {
        check(&format!("/docker/{ID}"), Runtime::Docker, None, None);
        check(
            &format!("/system.slice/docker-{ID}.scope"),
            Runtime::Docker,
            None,
            None,
        );
        assert_eq!(parse(&format!("/docker/{ID}")).short_id(), &ID[..12]);
    }

    #[test]
    fn nested_sub_cgroups_stay_with_the_container() {
        check(
            &format!("/docker/{ID}/init.scope"),
            Runtime::Docker,
            None,
            None,
        );
        check(
            &format!("/system.slice/docker-{ID}.scope/system.slice/cron.service"),
            Runtime::Docker,
            None,
            None,
        );
        // docker-in-docker: the outer container is what the host sees.
        let inner = "aa".repeat(32);
        check(
            &format!("/docker/{ID}/docker/{inner}"),
            Runtime::Docker,
            None,
            None,
        );
        check(
            &format!("/kubepods/burstable/pod{UID}/{ID}/sub/leaf"),
            Runtime::Containerd,
            Some(UID),
            Some(QosClass::Burstable),
        );
    }

    #[test]
    fn containerd_kubepods_cgroupfs_every_qos() {
        check(
            &format!("/kubepods/burstable/pod{UID}/{ID}"),
            Runtime::Containerd,
            Some(UID),
            Some(QosClass::Burstable),
        );
        check(
            &format!("/kubepods/besteffort/pod{UID}/{ID}"),
            Runtime::Containerd,
            Some(UID),
            Some(QosClass::BestEffort),
        );
        check(
            &format!("/kubepods/pod{UID}/{ID}"),
            Runtime::Containerd,
            Some(UID),
            Some(QosClass::Guaranteed),
        );
    }

    #[test]
    fn containerd_kubepods_systemd_every_qos() {
        check(
            &format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{ID}.scope"),
            Runtime::Containerd,
            Some(UID),
            Some(QosClass::Burstable),
        );
        check(
            &format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/cri-containerd-{ID}.scope"),
            Runtime::Containerd,
            Some(UID),
            Some(QosClass::BestEffort),
        );
        check(
            &format!("/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{ID}.scope"),
            Runtime::Containerd,
            Some(UID),
            Some(QosClass::Guaranteed),
        );
    }

    #[test]
    fn crio_and_its_conmon() {
        check(
            &format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/crio-{ID}.scope"),
            Runtime::Crio,
            Some(UID),
            Some(QosClass::BestEffort),
        );
        check(
            &format!("/kubepods/burstable/pod{UID}/crio-{ID}"),
            Runtime::Crio,
            Some(UID),
            Some(QosClass::Burstable),
        );
        // conmon is a host process that supervises the container.
        let conmon = parse(&format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/crio-conmon-{ID}.scope"
        ));
        assert_eq!(conmon.runtime, Runtime::Host);
        assert_eq!(conmon.container_id, None);
        assert_eq!(conmon.pod_uid.as_deref(), Some(UID));
        assert_eq!(conmon.short_id(), "host");
    }

    #[test]
    fn podman_layouts_and_conmon() {
        check(
            &format!("/libpod_parent/libpod-{ID}"),
            Runtime::Podman,
            None,
            None,
        );
        check(
            &format!("/machine.slice/libpod-{ID}.scope"),
            Runtime::Podman,
            None,
            None,
        );
        check(
            &format!(
                "/machine.slice/machine-libpod_pod_{}.slice/libpod-{ID}.scope",
                "ab".repeat(32)
            ),
            Runtime::Podman,
            None,
            None,
        );
        check(
            &format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"),
            Runtime::Podman,
            None,
            None,
        );
        check(
            &format!("/libpod_parent/libpod-conmon-{ID}"),
            Runtime::Host,
            None,
            None,
        );
        check(
            &format!("/machine.slice/libpod-conmon-{ID}.scope"),
            Runtime::Host,
            None,
            None,
        );
        check("/libpod_parent/conmon", Runtime::Host, None, None);
    }

    #[test]
    fn nerdctl_and_containerd_namespaces() {
        check(
            &format!("/system.slice/nerdctl-{ID}.scope"),
            Runtime::Containerd,
            None,
            None,
        );
        check(&format!("/default/{ID}"), Runtime::Containerd, None, None);
    }

    #[test]
    fn host_paths() {
        for p in [
            "/",
            "",
            "/init.scope",
            "/system.slice/sshd.service",
            "/user.slice/user-0.slice/session-3.scope",
            "/system.slice/docker.service",
            "/system.slice/containerd.service",
            "/docker",
            "/machine.slice",
            "/libpod_parent",
            "/burstable",
            &format!("/pod{UID}"),
            // Not 64 hex: not a container.
            "/docker/3f2c9a7e51b0",
            &format!("/docker/{}", ID.to_uppercase()),
            &format!("/system.slice/docker-{ID}x.scope"),
            // A bare id directly under the root is not a known layout.
            &format!("/{ID}"),
        ] {
            assert_eq!(parse(p), CgroupInfo::host(), "path {p:?}");
        }
    }

    #[test]
    fn pod_level_cgroups_carry_pod_but_no_container() {
        check(
            &format!("/kubepods/burstable/pod{UID}"),
            Runtime::Host,
            Some(UID),
            Some(QosClass::Burstable),
        );
        check(
            "/kubepods.slice/kubepods-besteffort.slice",
            Runtime::Host,
            None,
            Some(QosClass::BestEffort),
        );
        // Not a uuid: not a pod.
        check(
            "/kubepods/burstable/podcast",
            Runtime::Host,
            None,
            Some(QosClass::Burstable),
        );
    }

    /// Property: any path made of real-looking pieces parses without panic,
    /// and a container id, when found, is always 64 lowercase hex.
    #[test]
    fn random_paths_never_panic() {
        let mut rng = crate::event::text::tests::Rng(0xc0ff_ee00_dead_beef);
        let pieces = [
            "docker".to_owned(),
            format!("docker-{ID}.scope"),
            ID.to_owned(),
            ID[..63].to_owned(),
            "kubepods".into(),
            "kubepods.slice".into(),
            "burstable".into(),
            format!("pod{UID}"),
            format!("kubepods-besteffort-pod{UID_}.slice"),
            "kubepods-.slice".into(),
            "kubepods--pod.slice".into(),
            format!("crio-conmon-{ID}.scope"),
            format!("libpod-{ID}"),
            "libpod-".into(),
            "\\xff\\x00".into(),
            "é".into(),
            String::new(),
        ];
        for _ in 0..20_000 {
            let n = rng.next() % 6;
            let path: Vec<&str> = (0..n)
                .map(|_| pieces[(rng.next() % pieces.len() as u64) as usize].as_str())
                .collect();
            let path = format!("/{}", path.join("/"));
            let info = parse(&path);
            if let Some(id) = &info.container_id {
                assert!(is_container_id(id), "{path}: {id}");
                assert_ne!(info.runtime, Runtime::Host);
            }
            assert_eq!(
                info.short_id().len(),
                if info.container_id.is_some() { 12 } else { 4 }
            );
        }
    }

    #[test]
    fn runtime_serde_names() {
        assert_eq!(serde_json::to_string(&Runtime::Crio).unwrap(), "\"cri-o\"");
        assert_eq!(
            serde_json::to_string(&QosClass::BestEffort).unwrap(),
            "\"besteffort\""
        );
        for r in [
            Runtime::Docker,
            Runtime::Containerd,
            Runtime::Crio,
            Runtime::Podman,
            Runtime::Host,
        ] {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
    }
}
