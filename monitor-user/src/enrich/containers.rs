//! Container registry: cgroup v2 id → cgroup path → container identity.
//!
//! Every record carries the cgroup v2 id of its task. On cgroup2 that id is
//! the inode number of the cgroup's directory, so the registry resolves it
//! from the cgroup tree itself, never through `/proc/<pid>` (which races
//! with exit). Mappings come from two places:
//!
//! - `cgroup_mkdir` records ([`Registry::learn`]): the kernel reports the
//!   id and path when the cgroup is born, before any process runs in it, so
//!   a container that lives for a millisecond is still attributed even after
//!   its cgroup is gone;
//! - a scan of the v2 tree on a cache miss ([`Registry::resolve`]), rate
//!   limited so a storm of unknown ids costs at most one walk per interval.
//!
//! A removed cgroup (`cgroup_rmdir`, or missing from a later scan) is kept
//! for a grace period so the records still queued behind its removal are
//! attributed, then expired: memory follows the number of live cgroups.

use std::collections::VecDeque;

// foldhash: looked up for every event (SipHash cost more than the lookup).
use foldhash::{HashMap, HashMapExt};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::enrich::cgroup::{self, CgroupInfo};
use crate::event::text::escape;

#[derive(Debug, Error)]
pub enum ContainerError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no cgroup2 filesystem is mounted (looked in {0})")]
    NoCgroup2(PathBuf),
}

/// Find the cgroup v2 mount point of this system: `/sys/fs/cgroup` on a
/// pure v2 host, `/sys/fs/cgroup/unified` on a hybrid one.
pub fn find_cgroup2_root() -> Result<PathBuf, ContainerError> {
    let path = PathBuf::from("/proc/self/mountinfo");
    let text = std::fs::read_to_string(&path).map_err(|source| ContainerError::Read {
        path: path.clone(),
        source,
    })?;
    cgroup2_mount_from_mountinfo(&text).ok_or(ContainerError::NoCgroup2(path))
}

/// The cgroup2 mount point listed in a `mountinfo` text. Prefers the
/// standard locations when several cgroup2 mounts exist (containers may
/// bind-mount it elsewhere too).
pub fn cgroup2_mount_from_mountinfo(text: &str) -> Option<PathBuf> {
    // A bind mount of a subtree (root other than `/`) would resolve ids
    // to wrong paths.
    let found: Vec<PathBuf> = monitor_stateful::mountinfo::entries(text)
        .filter(|e| e.fstype == "cgroup2" && e.root == "/")
        .map(|e| e.mount_point)
        .collect();
    for preferred in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if let Some(p) = found.iter().find(|p| p.as_os_str() == preferred) {
            return Some(p.clone());
        }
    }
    found.into_iter().next()
}

/// What the registry knows about one cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the v2 root (`/libpod_parent/libpod-<id>`), escaped text.
    pub path: Arc<str>,
    pub info: Arc<CgroupInfo>,
    removed_at: Option<Instant>,
}

#[derive(Clone, Copy, Debug)]
pub struct RegistryConfig {
    /// Minimum time between two scans of the cgroup tree.
    pub rescan_interval: Duration,
    /// How long a removed cgroup stays resolvable.
    pub grace: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            rescan_interval: Duration::from_secs(1),
            grace: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegistryStats {
    pub scans: u64,
    pub learned: u64,
    pub expired: u64,
    /// Lookups that found nothing (even after a scan, if one was allowed).
    pub misses: u64,
}

pub struct Registry {
    root: Option<PathBuf>,
    cfg: RegistryConfig,
    entries: HashMap<u64, Entry>,
    removed: VecDeque<(u64, Instant)>,
    last_scan: Option<Instant>,
    stats: RegistryStats,
}

impl Registry {
    /// `root` is the cgroup v2 mount; `None` disables scanning (mappings
    /// then come from `cgroup_mkdir` records only).
    pub fn new(root: Option<PathBuf>, cfg: RegistryConfig) -> Registry {
        Registry {
            root,
            cfg,
            entries: HashMap::new(),
            removed: VecDeque::new(),
            last_scan: None,
            stats: Default::default(),
        }
    }

    /// Ids of every cgroup known and not removed.
    pub fn live_ids(&self) -> Vec<u64> {
        self.entries
            .iter()
            .filter(|(_, e)| e.removed_at.is_none())
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    pub fn stats(&self) -> RegistryStats {
        self.stats
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Learn a mapping from a `cgroup_mkdir` record (path relative to the
    /// v2 root, escaped text).
    pub fn learn(&mut self, id: u64, path: &str) {
        self.stats.learned += 1;
        self.insert(id, path);
    }

    fn insert(&mut self, id: u64, path: &str) {
        if let Some(e) = self.entries.get(&id) {
            if &*e.path == path {
                return;
            }
        }
        let info = Arc::new(cgroup::parse(path));
        self.entries.insert(
            id,
            Entry {
                path: Arc::from(path),
                info,
                removed_at: None,
            },
        );
    }

    /// The cgroup was removed: keep it for the grace period.
    pub fn on_rmdir(&mut self, id: u64, now: Instant) {
        if let Some(e) = self.entries.get_mut(&id) {
            if e.removed_at.is_none() {
                e.removed_at = Some(now);
                self.removed.push_back((id, now));
            }
        }
    }

    /// Resolve an id, scanning the tree on a miss if the rate limit allows.
    pub fn resolve(&mut self, id: u64, now: Instant) -> Option<&Entry> {
        if !self.entries.contains_key(&id) {
            let due = self
                .last_scan
                .is_none_or(|t| now.duration_since(t) >= self.cfg.rescan_interval);
            if due && self.root.is_some() {
                if let Err(e) = self.scan(now) {
                    log::warn!("cgroup scan failed: {e}");
                }
            }
        }
        let found = self.entries.get(&id);
        if found.is_none() {
            self.stats.misses += 1;
        }
        found
    }

    /// Walk the whole v2 tree and record every cgroup's id. Known cgroups
    /// that are no longer there start their grace period.
    pub fn scan(&mut self, now: Instant) -> Result<usize, ContainerError> {
        self.last_scan = Some(now);
        let Some(root) = self.root.clone() else {
            return Ok(0);
        };
        self.stats.scans += 1;
        let mut seen: HashMap<u64, String> = HashMap::new();
        let meta = std::fs::metadata(&root).map_err(|source| ContainerError::Read {
            path: root.clone(),
            source,
        })?;
        seen.insert(meta.ino(), "/".to_owned());
        let mut stack: Vec<(PathBuf, String)> = vec![(root, String::new())];
        while let Some((dir, rel)) = stack.pop() {
            // Cgroups come and go during the walk: skip what vanished.
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in rd.flatten() {
                let Ok(ft) = entry.file_type() else { continue };
                if !ft.is_dir() {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                let child = format!("{rel}/{}", escape(entry.file_name().as_bytes()));
                seen.insert(meta.ino(), child.clone());
                stack.push((entry.path(), child));
            }
        }
        let n = seen.len();
        for (&id, e) in self.entries.iter_mut() {
            if !seen.contains_key(&id) && e.removed_at.is_none() {
                e.removed_at = Some(now);
                self.removed.push_back((id, now));
            }
        }
        for (id, path) in seen {
            self.insert(id, &path);
        }
        Ok(n)
    }

    /// Forget cgroups removed more than the grace period ago.
    pub fn expire(&mut self, now: Instant) -> usize {
        let mut n = 0;
        while let Some(&(id, at)) = self.removed.front() {
            if now.duration_since(at) < self.cfg.grace {
                break;
            }
            self.removed.pop_front();
            if self
                .entries
                .get(&id)
                .is_some_and(|e| e.removed_at == Some(at))
            {
                self.entries.remove(&id);
                n += 1;
            }
        }
        self.stats.expired += n as u64;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Runtime;
    use crate::testutil::{is_root, skip, TempDir};

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn ino(p: &Path) -> u64 {
        std::fs::metadata(p).unwrap().ino()
    }

    #[test]
    fn mountinfo_pure_v2_and_hybrid() {
        let pure = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            cgroup2_mount_from_mountinfo(pure),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
            32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount_from_mountinfo(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let odd = "50 23 0:40 / /mnt/my\\040cg rw - cgroup2 none rw\n\
            51 23 0:40 /sub /mnt/bind rw - cgroup2 none rw\n";
        assert_eq!(
            cgroup2_mount_from_mountinfo(odd),
            Some(PathBuf::from("/mnt/my cg"))
        );
        assert_eq!(cgroup2_mount_from_mountinfo("garbage\n\n1 2 3\n"), None);
        // Optional fields before the separator.
        let opt = "29 23 0:26 / /sys/fs/cgroup rw shared:4 master:1 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount_from_mountinfo(opt),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
    }

    #[test]
    fn finds_this_hosts_cgroup2() {
        match find_cgroup2_root() {
            Ok(root) => assert!(root.join("cgroup.procs").exists(), "{root:?}"),
            Err(e) => skip(&format!("no cgroup2 here: {e}")),
        }
    }

    #[test]
    fn resolves_by_scanning_a_fake_tree() {
        let dir = TempDir::new("cgtree");
        let c = dir
            .path()
            .join("libpod_parent")
            .join(format!("libpod-{ID}"));
        let nested = c.join("sub");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(c.join("cgroup.procs"), "").unwrap();
        let mut reg = Registry::new(Some(dir.path().to_owned()), RegistryConfig::default());
        let now = Instant::now();
        let e = reg
            .resolve(ino(&nested), now)
            .expect("found by scan")
            .clone();
        assert_eq!(&*e.path, format!("/libpod_parent/libpod-{ID}/sub"));
        assert_eq!(e.info.runtime, Runtime::Podman);
        assert_eq!(e.info.container_id.as_deref(), Some(ID));
        assert_eq!(&*reg.resolve(ino(dir.path()), now).unwrap().path, "/");
        // Files are not cgroups.
        assert!(reg.resolve(ino(&c.join("cgroup.procs")), now).is_none());
        assert_eq!(reg.stats().scans, 1);
    }

    #[test]
    fn scans_are_rate_limited() {
        let dir = TempDir::new("cgrate");
        let mut reg = Registry::new(
            Some(dir.path().to_owned()),
            RegistryConfig {
                rescan_interval: Duration::from_secs(10),
                grace: Duration::from_secs(1),
            },
        );
        let t0 = Instant::now();
        assert!(reg.resolve(999_999_999, t0).is_none());
        let late = dir.path().join("late");
        std::fs::create_dir(&late).unwrap();
        // Within the interval: no second walk, even for a storm of misses.
        for i in 0..100 {
            assert!(reg
                .resolve(ino(&late), t0 + Duration::from_millis(i))
                .is_none());
        }
        assert_eq!(reg.stats().scans, 1);
        assert_eq!(
            &*reg
                .resolve(ino(&late), t0 + Duration::from_secs(11))
                .unwrap()
                .path,
            "/late"
        );
        assert_eq!(reg.stats().scans, 2);
    }

    #[test]
    fn short_lived_cgroups_resolve_from_mkdir_until_grace_expires() {
        // No tree at all: only the records teach the registry.
        let mut reg = Registry::new(
            None,
            RegistryConfig {
                rescan_interval: Duration::ZERO,
                grace: Duration::from_secs(5),
            },
        );
        let t0 = Instant::now();
        reg.learn(4242, &format!("/system.slice/docker-{ID}.scope"));
        reg.on_rmdir(4242, t0);
        // Records queued behind the rmdir still resolve.
        let e = reg.resolve(4242, t0 + Duration::from_secs(4)).unwrap();
        assert_eq!(e.info.runtime, Runtime::Docker);
        assert_eq!(reg.expire(t0 + Duration::from_secs(4)), 0);
        assert_eq!(reg.expire(t0 + Duration::from_secs(5)), 1);
        assert!(reg.resolve(4242, t0 + Duration::from_secs(6)).is_none());
        assert!(reg.is_empty());
        // rmdir of an unknown id is harmless.
        reg.on_rmdir(1, t0);
        assert_eq!(reg.expire(t0 + Duration::from_secs(60)), 0);
    }

    #[test]
    fn a_scan_retires_cgroups_that_vanished_unseen() {
        let dir = TempDir::new("cgvanish");
        let gone = dir.path().join("gone");
        std::fs::create_dir(&gone).unwrap();
        let gone_id = ino(&gone);
        let mut reg = Registry::new(
            Some(dir.path().to_owned()),
            RegistryConfig {
                rescan_interval: Duration::ZERO,
                grace: Duration::from_secs(1),
            },
        );
        let t0 = Instant::now();
        reg.scan(t0).unwrap();
        assert!(reg.resolve(gone_id, t0).is_some());
        std::fs::remove_dir(&gone).unwrap();
        reg.scan(t0).unwrap(); // the rmdir record was lost
        assert!(reg.resolve(gone_id, t0).is_some(), "still in grace");
        assert_eq!(reg.expire(t0 + Duration::from_secs(2)), 1);
    }

    /// A cgroup directory on the real v2 hierarchy, removed on drop.
    struct CgroupDir(PathBuf);
    impl Drop for CgroupDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }

    #[test]
    fn resolves_a_real_cgroup2_directory() {
        if !is_root() {
            return skip("needs root to create a cgroup");
        }
        let root = match find_cgroup2_root() {
            Ok(r) => r,
            Err(e) => return skip(&format!("no cgroup2: {e}")),
        };
        let name = format!("vigil-test-{}", std::process::id());
        let cg = CgroupDir(root.join(&name));
        std::fs::create_dir(&cg.0).expect("mkdir in cgroup2");
        let id = ino(&cg.0);
        let mut reg = Registry::new(Some(root.clone()), RegistryConfig::default());
        let e = reg.resolve(id, Instant::now()).expect("resolved");
        assert_eq!(&*e.path, format!("/{name}"));
        assert_eq!(e.info.runtime, Runtime::Host);
        // Our own cgroup (from the kernel's view) resolves too.
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let own = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap()
            .to_owned();
        let own_id = ino(&root.join(own.trim_start_matches('/')));
        assert_eq!(
            &*reg.resolve(own_id, Instant::now()).unwrap().path,
            if own == "/" { "/" } else { own.as_str() }
        );
    }
}
