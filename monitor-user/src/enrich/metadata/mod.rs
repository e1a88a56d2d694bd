//! A container's runtime metadata: where it comes from, cached.
//!
//! The cgroup path gives a container's runtime and id; its name, image, pod
//! and the rest live with the runtime. [`Metadata`] is the enricher's one
//! door to them, and never waits:
//!
//! - containerd and CRI-O are asked over the CRI ([`cri`]), Docker over its
//!   Engine API ([`docker_api`]), in the background ([`remote`]);
//! - podman's storage files, and Docker's `config.v2.json` when its API
//!   cannot answer, are read here ([`files`]).
//!
//! A miss reloads podman's file only if its mtime changed (a stat is cheap),
//! and repeated misses for the same id are remembered for a while. Entries
//! that disappear from the file (a `--rm` container that already exited) are
//! kept for a grace period so its late events still carry its name.

pub mod bolt;
pub mod cri;
pub mod docker_api;
pub mod files;
pub mod remote;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::event::Runtime;

pub use crate::event::container::{ContainerMeta, MountMeta, PodMeta, Unresolved};
use remote::{Remote, RemoteConfig, RemoteStats};

pub use files::{load_docker_config, load_podman, MetadataError};

#[derive(Clone, Debug)]
pub struct MetadataConfig {
    /// containers/storage roots (`/var/lib/containers/storage`).
    pub podman_roots: Vec<PathBuf>,
    /// Docker's data root (`/var/lib/docker`).
    pub docker_root: Option<PathBuf>,
    /// How long a miss is remembered before the files are consulted again.
    pub negative_ttl: Duration,
    /// How long a container that vanished from the runtime stays known.
    pub grace: Duration,
    /// The runtimes' APIs (CRI, Docker Engine); `None`: files only.
    pub remote: Option<RemoteConfig>,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            podman_roots: vec![PathBuf::from("/var/lib/containers/storage")],
            docker_root: Some(PathBuf::from("/var/lib/docker")),
            negative_ttl: Duration::from_secs(2),
            grace: Duration::from_secs(300),
            remote: None,
        }
    }
}

struct Cached {
    meta: Arc<ContainerMeta>,
    /// When it was last missing from the runtime's state.
    gone_since: Option<Instant>,
    /// podman: privilege and mounts read from the container's OCI config
    /// (once it exists), and when that was last tried.
    detailed: bool,
    tried: Option<Instant>,
}

pub struct Metadata {
    cfg: MetadataConfig,
    cache: HashMap<String, Cached>,
    /// mtime of each podman root's containers.json at the last load.
    podman_mtimes: Vec<Option<SystemTime>>,
    negative: HashMap<String, Instant>,
    loads: u64,
    remote: Option<Remote>,
}

impl Metadata {
    pub fn new(cfg: MetadataConfig) -> Metadata {
        let n = cfg.podman_roots.len();
        let remote = cfg.remote.clone().and_then(|r| match Remote::start(r) {
            Ok(r) => Some(r),
            Err(e) => {
                log::warn!("runtime APIs will not be asked for metadata: {e}");
                None
            }
        });
        Metadata {
            remote,
            cfg,
            cache: HashMap::new(),
            podman_mtimes: vec![None; n],
            negative: HashMap::new(),
            loads: 0,
        }
    }

    /// How many times a runtime state file was (re)read.
    pub fn loads(&self) -> u64 {
        self.loads
    }

    /// A container's metadata, or why it is not known. Never waits: the
    /// runtimes' APIs answer in the background ([`remote`]); the state files
    /// (podman, Docker's fallback) are read here.
    pub fn resolve(
        &mut self,
        runtime: Runtime,
        full_id: &str,
        now: Instant,
    ) -> Result<Arc<ContainerMeta>, Unresolved> {
        let api = matches!(
            runtime,
            Runtime::Containerd | Runtime::Crio | Runtime::Docker
        );
        let why = match &self.remote {
            Some(remote) if api => match remote.lookup(runtime, full_id, now) {
                Ok(m) => return Ok(m),
                Err(why) => why,
            },
            _ => Unresolved::NoSource,
        };
        // Docker's files answer when its API cannot (pending is not "cannot",
        // unless they answered before: a re-ask must not hold its events).
        if why == Unresolved::Pending {
            return match self.cache.get(full_id) {
                Some(c) => Ok(c.meta.clone()),
                None => Err(why),
            };
        }
        if !matches!(runtime, Runtime::Podman | Runtime::Docker) {
            return Err(why);
        }
        self.lookup(runtime, full_id, now).ok_or(match why {
            Unresolved::NoSource => Unresolved::NotFound,
            other => other,
        })
    }

    /// The container's cgroup is gone; its API entry goes after a grace period.
    pub fn gone(&mut self, full_id: &str, now: Instant) {
        if let Some(r) = &self.remote {
            r.gone(full_id, now);
        }
    }

    /// Drops what belongs to containers gone long enough.
    pub fn expire(&mut self, now: Instant) {
        if let Some(r) = &self.remote {
            r.expire(now);
        }
    }

    /// How the runtime API lookups went (`None` without them).
    pub fn remote_stats(&self) -> Option<RemoteStats> {
        self.remote.as_ref().map(Remote::stats)
    }

    /// Name and image of a container from the runtimes' state files.
    pub fn lookup(
        &mut self,
        runtime: Runtime,
        full_id: &str,
        now: Instant,
    ) -> Option<Arc<ContainerMeta>> {
        if let Some(c) = self.cache.get_mut(full_id) {
            let ttl = self.cfg.negative_ttl;
            if runtime == Runtime::Podman
                && !c.detailed
                && c.tried.is_none_or(|t| now.duration_since(t) >= ttl)
            {
                c.tried = Some(now);
                let details =
                    self.cfg.podman_roots.iter().find_map(|root| {
                        Some((root, files::load_podman_details(root, full_id).ok()?))
                    });
                if let Some((root, d)) = details {
                    let mut meta = (*c.meta).clone();
                    meta.privileged = d.privileged;
                    meta.mounts = d.mounts;
                    meta.pod = d.pod_id.and_then(|id| podman_pod(root, &id));
                    c.meta = Arc::new(meta);
                    c.detailed = true;
                }
            }
            return Some(c.meta.clone());
        }
        if self
            .negative
            .get(full_id)
            .is_some_and(|&t| now.duration_since(t) < self.cfg.negative_ttl)
        {
            return None;
        }
        let found = match runtime {
            Runtime::Podman => {
                self.refresh_podman(now);
                self.cache.get(full_id).map(|c| c.meta.clone())
            }
            Runtime::Docker => self.load_docker(full_id),
            _ => None,
        };
        match &found {
            Some(_) => {
                self.negative.remove(full_id);
            }
            None => {
                if self.negative.len() > 4096 {
                    let ttl = self.cfg.negative_ttl;
                    self.negative.retain(|_, t| now.duration_since(*t) < ttl);
                }
                self.negative.insert(full_id.to_owned(), now);
            }
        }
        found
    }

    /// Reload podman's containers.json of every root whose mtime changed.
    fn refresh_podman(&mut self, now: Instant) {
        for i in 0..self.cfg.podman_roots.len() {
            let file = self.cfg.podman_roots[i].join("overlay-containers/containers.json");
            let Ok(mtime) = std::fs::metadata(&file).and_then(|m| m.modified()) else {
                continue;
            };
            if self.podman_mtimes[i] == Some(mtime) {
                continue;
            }
            self.podman_mtimes[i] = Some(mtime);
            match load_podman(&self.cfg.podman_roots[i]) {
                Ok(list) => {
                    self.loads += 1;
                    self.merge(list, now);
                }
                Err(e) => log::warn!("podman metadata: {e}"),
            }
        }
    }

    fn merge(&mut self, list: Vec<(String, ContainerMeta)>, now: Instant) {
        let mut present: HashMap<String, ContainerMeta> = list.into_iter().collect();
        let grace = self.cfg.grace;
        self.cache.retain(|id, c| match present.remove(id) {
            Some(mut meta) => {
                // What the OCI config said stays (containers.json lacks it).
                meta.privileged = c.meta.privileged;
                meta.pod = c.meta.pod.clone();
                meta.mounts = std::mem::take(&mut Arc::make_mut(&mut c.meta).mounts);
                c.meta = Arc::new(meta);
                c.gone_since = None;
                true
            }
            None => {
                let since = *c.gone_since.get_or_insert(now);
                now.duration_since(since) < grace
            }
        });
        for (id, meta) in present {
            self.cache.insert(
                id,
                Cached {
                    meta: Arc::new(meta),
                    gone_since: None,
                    detailed: false,
                    tried: None,
                },
            );
        }
    }

    fn load_docker(&mut self, full_id: &str) -> Option<Arc<ContainerMeta>> {
        let root = self.cfg.docker_root.as_ref()?;
        let meta = match load_docker_config(root, full_id) {
            Ok(m) => m,
            Err(MetadataError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return None
            }
            Err(e) => {
                log::warn!("docker metadata: {e}");
                return None;
            }
        };
        self.loads += 1;
        let meta = Arc::new(meta);
        self.cache.insert(
            full_id.to_owned(),
            Cached {
                meta: meta.clone(),
                gone_since: None,
                // Docker's file says all it can; its API says the rest.
                detailed: true,
                tried: None,
            },
        );
        Some(meta)
    }
}

/// podman's pod `id` as `k8s.pod.name` (podman pods, `podman kube play`
/// ones included, have a name only: no namespace, no Kubernetes uid).
fn podman_pod(root: &Path, id: &str) -> Option<PodMeta> {
    match files::load_podman_pod_name(root, id) {
        Ok(name) => name.map(|name| PodMeta {
            name,
            ..PodMeta::default()
        }),
        Err(e) => {
            log::warn!("podman pod {id}: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{is_root, skip, TempDir};
    use std::path::Path;

    const A: &str = "82ac0468654e2b83c032a86b876f3a797504f4fe22bf26f1510d37739331c198";
    const B: &str = "bbac0468654e2b83c032a86b876f3a797504f4fe22bf26f1510d37739331c198";
    const IMG: &str = "d7e70588d388120c248a2e2a4fea6c0b5d47e1aab2360c398692ccf1077a8be3";

    fn write_podman(root: &Path, containers: &str) {
        std::fs::create_dir_all(root.join("overlay-containers")).unwrap();
        std::fs::create_dir_all(root.join("overlay-images")).unwrap();
        std::fs::write(root.join("overlay-containers/containers.json"), containers).unwrap();
        std::fs::write(
            root.join("overlay-images/images.json"),
            format!(r#"[{{"id":"{IMG}","digest":"sha256:5d","names":["localhost/from-images:1"],"layer":"x"}}]"#),
        )
        .unwrap();
    }

    /// A container record as podman 4/5 writes it.
    fn podman_entry(id: &str, name: &str, image_name: Option<&str>) -> String {
        let md = match image_name {
            Some(i) => format!(
                r#"{{\"image-name\":\"{i}\",\"image-id\":\"{IMG}\",\"name\":\"{name}\",\"created-at\":1795328751}}"#
            ),
            None => format!(r#"{{\"name\":\"{name}\"}}"#),
        };
        format!(
            r#"{{"id":"{id}","names":["{name}"],"image":"{IMG}","layer":"454b","metadata":"{md}","created":"2026-11-22T06:25:51.303021292Z","flags":{{"MountLabel":"","ProcessLabel":""}}}}"#
        )
    }

    fn cfg(root: &Path) -> MetadataConfig {
        MetadataConfig {
            podman_roots: vec![root.to_owned()],
            docker_root: Some(root.join("docker")),
            negative_ttl: Duration::from_secs(2),
            grace: Duration::from_secs(60),
            remote: None,
        }
    }

    #[test]
    fn reads_podman_storage_files() {
        let dir = TempDir::new("podmeta");
        let entries = [
            podman_entry(A, "web", Some("localhost/app:1.2")),
            podman_entry(B, "job", None),
        ]
        .join(",");
        write_podman(dir.path(), &format!("[{entries}]"));
        let mut m = Metadata::new(cfg(dir.path()));
        let now = Instant::now();
        let a = m.lookup(Runtime::Podman, A, now).unwrap();
        assert_eq!(a.name.as_deref(), Some("web"));
        assert_eq!(a.image.as_deref(), Some("localhost/app:1.2"));
        assert_eq!(a.image_id.as_deref(), Some(IMG));
        assert_eq!(a.image_digest.as_deref(), Some("sha256:5d"));
        // No image name in the metadata: the image's own name.
        let b = m.lookup(Runtime::Podman, B, now).unwrap();
        assert_eq!(b.image.as_deref(), Some("localhost/from-images:1"));
        assert_eq!(m.loads(), 1, "one read served both");
    }

    #[test]
    fn podman_privilege_and_mounts_from_the_oci_config() {
        let dir = TempDir::new("podoci");
        write_podman(
            dir.path(),
            &format!("[{}]", podman_entry(A, "web", Some("img"))),
        );
        let mut m = Metadata::new(cfg(dir.path()));
        let t0 = Instant::now();
        // Not started yet: no OCI config, no privilege said.
        assert_eq!(m.lookup(Runtime::Podman, A, t0).unwrap().privileged, None);
        let userdata = dir
            .path()
            .join("overlay-containers")
            .join(A)
            .join("userdata");
        std::fs::create_dir_all(&userdata).unwrap();
        let own = dir
            .path()
            .join("overlay-containers")
            .join(A)
            .join("userdata/hosts");
        std::fs::write(
            userdata.join("config.json"),
            format!(
                r#"{{"ociVersion":"1.0.2","annotations":{{"io.podman.annotations.privileged":"TRUE"}},"mounts":[
                {{"destination":"/proc","type":"proc","source":"proc","options":["nosuid"]}},
                {{"destination":"/host","type":"bind","source":"/","options":["rbind","ro"]}},
                {{"destination":"/etc/hosts","type":"bind","source":"{}","options":["bind"]}},
                {{"destination":"/run/.containerenv","type":"bind","source":"/run/containers/storage/overlay-containers/x/userdata/.containerenv","options":["bind"]}}]}}"#,
                own.display()
            ),
        )
        .unwrap();
        // Asked again once the negative ttl passed.
        let later = t0 + Duration::from_secs(3);
        let meta = m.lookup(Runtime::Podman, A, later).unwrap();
        assert_eq!(meta.privileged, Some(true));
        assert_eq!(
            meta.mounts,
            vec![MountMeta {
                source: "/".into(),
                dest: "/host".into(),
                read_only: true
            }]
        );
        assert_eq!(meta.name.as_deref(), Some("web"));
    }

    #[test]
    fn a_miss_reloads_only_when_the_file_changed() {
        let dir = TempDir::new("podreload");
        write_podman(
            dir.path(),
            &format!("[{}]", podman_entry(A, "web", Some("img"))),
        );
        let mut m = Metadata::new(MetadataConfig {
            negative_ttl: Duration::ZERO,
            ..cfg(dir.path())
        });
        let t0 = Instant::now();
        assert!(m.lookup(Runtime::Podman, B, t0).is_none());
        assert!(m.lookup(Runtime::Podman, B, t0).is_none());
        assert_eq!(m.loads(), 1, "unchanged file is not re-read");
        // A new container appears (and the old one is removed, --rm).
        std::thread::sleep(Duration::from_millis(20));
        write_podman(
            dir.path(),
            &format!("[{}]", podman_entry(B, "job", Some("img2"))),
        );
        let f = dir.path().join("overlay-containers/containers.json");
        let later = SystemTime::now() + Duration::from_secs(1);
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(
            m.lookup(Runtime::Podman, B, t0).unwrap().name.as_deref(),
            Some("job")
        );
        assert_eq!(m.loads(), 2);
        // The removed container is still known during the grace period.
        assert_eq!(
            m.lookup(Runtime::Podman, A, t0).unwrap().name.as_deref(),
            Some("web")
        );
    }

    #[test]
    fn misses_are_remembered() {
        let dir = TempDir::new("podneg");
        write_podman(dir.path(), "[]");
        let mut m = Metadata::new(cfg(dir.path()));
        let t0 = Instant::now();
        assert!(m.lookup(Runtime::Podman, A, t0).is_none());
        write_podman(dir.path(), &format!("[{}]", podman_entry(A, "web", None)));
        let f = dir.path().join("overlay-containers/containers.json");
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(SystemTime::now() + Duration::from_secs(5))
            .unwrap();
        assert!(
            m.lookup(Runtime::Podman, A, t0 + Duration::from_secs(1))
                .is_none(),
            "within negative ttl"
        );
        assert!(m
            .lookup(Runtime::Podman, A, t0 + Duration::from_secs(3))
            .is_some());
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        let dir = TempDir::new("podbad");
        write_podman(dir.path(), "{not json");
        assert!(matches!(
            load_podman(dir.path()),
            Err(MetadataError::Parse { .. })
        ));
        assert!(matches!(
            load_podman(&dir.path().join("nope")),
            Err(MetadataError::Read { .. })
        ));
        let mut m = Metadata::new(cfg(dir.path()));
        assert!(m.lookup(Runtime::Podman, A, Instant::now()).is_none());
        // A bad metadata string only loses the image name.
        write_podman(
            dir.path(),
            &format!(r#"[{{"id":"{A}","names":["x"],"image":"{IMG}","metadata":"{{oops"}}]"#),
        );
        let list = load_podman(dir.path()).unwrap();
        assert_eq!(list[0].1.name.as_deref(), Some("x"));
        assert_eq!(list[0].1.image.as_deref(), Some("localhost/from-images:1"));
    }

    #[test]
    fn reads_docker_config() {
        let dir = TempDir::new("dockermeta");
        let c = dir.path().join("docker/containers").join(A);
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(
            c.join("config.v2.json"),
            r#"{"ID":"x","Name":"/nginx-1","Image":"sha256:abc","Config":{"Image":"nginx:1.25","Cmd":["nginx"]},"State":{"Running":true}}"#,
        )
        .unwrap();
        let mut m = Metadata::new(cfg(dir.path()));
        let meta = m.lookup(Runtime::Docker, A, Instant::now()).unwrap();
        assert_eq!(meta.name.as_deref(), Some("nginx-1"));
        assert_eq!(meta.image.as_deref(), Some("nginx:1.25"));
        assert_eq!(meta.image_id.as_deref(), Some("sha256:abc"));
        assert!(m.lookup(Runtime::Docker, B, Instant::now()).is_none());
    }

    #[test]
    fn reads_real_podman_containers() {
        if !is_root() {
            return skip("needs root for podman");
        }
        if let Err(e) = crate::testutil::podman_ready() {
            return skip(&e);
        }
        let tag = std::process::id();
        let guard = crate::testutil::PodmanCleanup {
            container: format!("vigil-meta-{tag}"),
            image: format!("localhost/vigil-meta:{tag}"),
            tar: std::env::temp_dir().join(format!("vigil-meta-{tag}.tar")),
        };
        crate::testutil::busybox_image(&guard.image, &guard.tar).expect("build busybox image");
        let out = std::process::Command::new("podman")
            .args([
                "create",
                "--net=none",
                "--name",
                &guard.container,
                &guard.image,
                "/bin/true",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert_eq!(id.len(), 64);
        let mut m = Metadata::new(MetadataConfig::default());
        let meta = m
            .lookup(Runtime::Podman, &id, Instant::now())
            .expect("podman container found");
        assert_eq!(meta.name.as_deref(), Some(guard.container.as_str()));
        assert_eq!(meta.image.as_deref(), Some(guard.image.as_str()));
    }
}
