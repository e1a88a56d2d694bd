//! Where the cgroup hierarchies are mounted, and where one cgroup lives in each.
//!
//! Hosts come in three shapes: pure cgroup v2 (one `cgroup2` mount, usually
//! `/sys/fs/cgroup`, holding every controller), hybrid (v1 controllers under
//! `/sys/fs/cgroup/<controller>` plus a controller-less `cgroup2` mount,
//! usually `/sys/fs/cgroup/unified`) and pure v1. [`CgroupLayout`] reads the
//! mount table (`/proc/self/mountinfo`) once, and [`CgroupLayout::resolve`]
//! maps a cgroup path relative to the hierarchy root (what the kernel and the
//! runtimes report, e.g. `/libpod_parent/libpod-<id>`) to a directory in each
//! hierarchy we read. A mount whose root is not `/` (inside a cgroup
//! namespace or a bind mount) only shows the cgroups below that root.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// The v1 controllers the sampler reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
    Cpuacct,
    Blkio,
}

impl Controller {
    pub const ALL: [Controller; 5] = [
        Controller::Memory,
        Controller::Pids,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Blkio,
    ];

    /// The name in mount options and `/proc/<pid>/cgroup`.
    pub const fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Blkio => "blkio",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Which cgroup versions the host mounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutKind {
    /// Only cgroup v2.
    Unified,
    /// v1 controllers plus a cgroup v2 mount (usually without controllers).
    Hybrid,
    /// Only v1 controllers.
    Legacy,
    /// No cgroup filesystem mounted.
    None,
}

#[derive(Debug, Error)]
pub enum LayoutError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cgroup path {0:?} must be absolute and must not contain '.' or '..' components")]
    BadPath(String),
}

/// One mounted hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root (`/` unless namespaced or bound).
    pub root: String,
}

impl Mount {
    /// The directory of `cgroup_path` under this mount, if the mount shows it.
    fn dir_of(&self, cgroup_path: &str) -> Option<PathBuf> {
        let rel = if self.root == "/" {
            cgroup_path
        } else {
            let rest = cgroup_path.strip_prefix(self.root.as_str())?;
            if !rest.is_empty() && !rest.starts_with('/') {
                return None; // `/a/bc` is not under `/a/b`
            }
            rest
        };
        let rel = rel.trim_start_matches('/');
        Some(if rel.is_empty() {
            self.mount_point.clone()
        } else {
            self.mount_point.join(rel)
        })
    }
}

/// The cgroup mounts of this host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupLayout {
    v2: Option<Mount>,
    v1: [Option<Mount>; 5],
}

/// One cgroup's directory in each hierarchy that shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupDirs {
    /// The cgroup v2 directory (every controller on a pure v2 host; only
    /// `cpu.stat` usage and PSI on a hybrid host).
    pub v2: Option<PathBuf>,
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub cpu: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
    pub blkio: Option<PathBuf>,
}

impl CgroupLayout {
    /// Reads `/proc/self/mountinfo`.
    pub fn detect() -> Result<CgroupLayout, LayoutError> {
        Self::from_mountinfo_file(Path::new("/proc/self/mountinfo"))
    }

    pub fn from_mountinfo_file(path: &Path) -> Result<CgroupLayout, LayoutError> {
        let text = std::fs::read_to_string(path).map_err(|source| LayoutError::Read {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::from_mountinfo(&text))
    }

    /// Parses mountinfo text. Lines that are not cgroup mounts, or are
    /// malformed, are ignored. The first mount of each hierarchy wins, except
    /// that a mount of the hierarchy's real root (`/`) beats a bind mount of
    /// a sub-cgroup.
    pub fn from_mountinfo(text: &str) -> CgroupLayout {
        let mut layout = CgroupLayout::default();
        for e in crate::mountinfo::entries(text) {
            let (fstype, super_opts) = (e.fstype, e.super_opts);
            let mount = Mount {
                mount_point: e.mount_point,
                root: e.root,
            };
            match fstype {
                "cgroup2" => set_preferring_root(&mut layout.v2, mount),
                "cgroup" => {
                    for opt in super_opts.split(',') {
                        if let Some(c) = Controller::ALL.iter().find(|c| c.name() == opt) {
                            set_preferring_root(&mut layout.v1[c.index()], mount.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        layout
    }

    pub fn kind(&self) -> LayoutKind {
        let any_v1 = self.v1.iter().any(Option::is_some);
        match (self.v2.is_some(), any_v1) {
            (true, false) => LayoutKind::Unified,
            (true, true) => LayoutKind::Hybrid,
            (false, true) => LayoutKind::Legacy,
            (false, false) => LayoutKind::None,
        }
    }

    pub fn v2(&self) -> Option<&Mount> {
        self.v2.as_ref()
    }

    pub fn v1(&self, c: Controller) -> Option<&Mount> {
        self.v1[c.index()].as_ref()
    }

    /// Where `cgroup_path` (relative to the hierarchy root, starting with
    /// `/`) lives in each mounted hierarchy. Directories are not checked for
    /// existence: a missing one reads as absent values.
    pub fn resolve(&self, cgroup_path: &str) -> Result<CgroupDirs, LayoutError> {
        validate_path(cgroup_path)?;
        let dir = |m: &Option<Mount>| m.as_ref().and_then(|m| m.dir_of(cgroup_path));
        Ok(CgroupDirs {
            v2: dir(&self.v2),
            memory: dir(&self.v1[Controller::Memory.index()]),
            pids: dir(&self.v1[Controller::Pids.index()]),
            cpu: dir(&self.v1[Controller::Cpu.index()]),
            cpuacct: dir(&self.v1[Controller::Cpuacct.index()]),
            blkio: dir(&self.v1[Controller::Blkio.index()]),
        })
    }
}

impl CgroupLayout {
    /// The cgroup v2 id of `cgroup_path`: the inode number of its v2
    /// directory, which is the kernfs node id `bpf_get_current_cgroup_id()`
    /// returns and every kernel record carries. `None` without a v2 mount
    /// showing it, or if the directory does not exist.
    pub fn v2_id(&self, cgroup_path: &str) -> Result<Option<u64>, LayoutError> {
        use std::os::unix::fs::MetadataExt;
        let Some(dir) = self.resolve(cgroup_path)?.v2 else {
            return Ok(None);
        };
        Ok(std::fs::metadata(dir).ok().map(|m| m.ino()))
    }
}

fn set_preferring_root(slot: &mut Option<Mount>, mount: Mount) {
    match slot {
        None => *slot = Some(mount),
        Some(old) if old.root != "/" && mount.root == "/" => *slot = Some(mount),
        Some(_) => {}
    }
}

fn validate_path(p: &str) -> Result<(), LayoutError> {
    let ok = p.starts_with('/') && !p.contains('\0') && p.split('/').all(|c| c != "." && c != "..");
    if ok {
        Ok(())
    } else {
        Err(LayoutError::BadPath(p.to_owned()))
    }
}

/// `(fstype, mount, super options)` of one mountinfo line:
/// `id parent maj:min root mount_point opts [optional...] - fstype source super_opts`.
#[cfg(test)]
mod tests {
    use super::*;

    /// This build machine's mountinfo (hybrid), verbatim.
    pub(crate) const HYBRID: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
23 22 0:5 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// A systemd host with cgroup v2 only (Debian 12, Fedora, recent Ubuntu).
    const UNIFIED: &str = "\
26 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
27 26 0:25 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
31 27 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    /// An older Docker host: v1 with cpu and cpuacct co-mounted.
    const LEGACY: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory
37 30 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,pids
";

    #[test]
    fn hybrid_layout_of_this_machine() {
        let l = CgroupLayout::from_mountinfo(HYBRID);
        assert_eq!(l.kind(), LayoutKind::Hybrid);
        let d = l
            .resolve("/libpod_parent/libpod-0123abcd")
            .expect("valid path");
        assert_eq!(
            d.v2.as_deref(),
            Some(Path::new(
                "/sys/fs/cgroup/unified/libpod_parent/libpod-0123abcd"
            ))
        );
        assert_eq!(
            d.memory.as_deref(),
            Some(Path::new(
                "/sys/fs/cgroup/memory/libpod_parent/libpod-0123abcd"
            ))
        );
        assert_eq!(
            d.cpuacct.as_deref(),
            Some(Path::new(
                "/sys/fs/cgroup/cpuacct/libpod_parent/libpod-0123abcd"
            ))
        );
        assert_eq!(
            d.pids.as_deref(),
            Some(Path::new(
                "/sys/fs/cgroup/pids/libpod_parent/libpod-0123abcd"
            ))
        );
    }

    #[test]
    fn unified_layout() {
        let l = CgroupLayout::from_mountinfo(UNIFIED);
        assert_eq!(l.kind(), LayoutKind::Unified);
        let d = l
            .resolve("/kubepods.slice/kubepods-burstable.slice/cri-containerd-ab.scope")
            .unwrap();
        assert_eq!(
            d.v2.as_deref(),
            Some(Path::new(
                "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/cri-containerd-ab.scope"
            ))
        );
        assert_eq!(d.memory, None);
        assert_eq!(
            l.resolve("/").unwrap().v2.as_deref(),
            Some(Path::new("/sys/fs/cgroup"))
        );
    }

    #[test]
    fn comounted_v1_controllers() {
        let l = CgroupLayout::from_mountinfo(LEGACY);
        assert_eq!(l.kind(), LayoutKind::Legacy);
        let d = l.resolve("/docker/abc").unwrap();
        assert_eq!(d.cpu, d.cpuacct);
        assert_eq!(
            d.cpu.as_deref(),
            Some(Path::new("/sys/fs/cgroup/cpu,cpuacct/docker/abc"))
        );
        assert_eq!(d.v2, None);
    }

    #[test]
    fn namespaced_mount_root_hides_outside_cgroups() {
        let text = "50 40 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let l = CgroupLayout::from_mountinfo(text);
        let d = l.resolve("/kubepods/pod1/ctr").unwrap();
        assert_eq!(d.v2.as_deref(), Some(Path::new("/sys/fs/cgroup/ctr")));
        assert_eq!(l.resolve("/kubepods/pod10").unwrap().v2, None);
        assert_eq!(l.resolve("/other").unwrap().v2, None);
    }

    #[test]
    fn root_mount_beats_earlier_bind_mount() {
        let text = "\
50 40 0:26 /sub /mnt/x rw - cgroup2 cgroup2 rw
51 40 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
";
        let l = CgroupLayout::from_mountinfo(text);
        assert_eq!(l.v2().unwrap().mount_point, Path::new("/sys/fs/cgroup"));
    }

    #[test]
    fn escaped_mount_points() {
        let text = "50 40 0:26 / /tmp/my\\040cg rw - cgroup2 cgroup2 rw\n";
        let l = CgroupLayout::from_mountinfo(text);
        assert_eq!(l.v2().unwrap().mount_point, Path::new("/tmp/my cg"));
    }

    #[test]
    fn bad_paths_are_refused() {
        let l = CgroupLayout::from_mountinfo(UNIFIED);
        for p in ["relative", "/a/../../etc", "/a/./b", ""] {
            assert!(matches!(l.resolve(p), Err(LayoutError::BadPath(_))), "{p}");
        }
    }

    #[test]
    fn garbage_lines_are_ignored() {
        let l = CgroupLayout::from_mountinfo("nonsense\n1 2 3\n - cgroup2\n");
        assert_eq!(l.kind(), LayoutKind::None);
    }
}
