//! Per-UID inotify instances and watches, across containers.
//!
//! `fs.inotify.max_user_instances` and `max_user_watches` are counted per
//! user, host-wide (per user namespace, and containers without one share
//! the host's): a container that opens every inotify instance its UID may
//! have makes every other container of that UID fail `inotify_init`
//! (file watchers, log shippers, `kubectl logs -f`, systemd), without ever
//! touching its own limits. The kernel keeps no per-cgroup count, so
//! [`scan`] walks procfs: each process's fd links (`anon_inode:inotify`)
//! and, for each inotify fd, its `fdinfo` (one `inotify wd:` line per
//! watch), attributed to the process's UID and to its container by the
//! caller. A walk costs a readlink per fd on the host, so the agent runs
//! it every few seconds, not every sample.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;

/// Inotify use of one process, one container or one UID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InotifyUse {
    pub instances: u64,
    pub watches: u64,
}

impl InotifyUse {
    fn add(&mut self, o: InotifyUse) {
        self.instances += o.instances;
        self.watches += o.watches;
    }
}

/// The host's per-user limits (`/proc/sys/fs/inotify/max_user_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InotifyLimits {
    pub max_instances: Option<u64>,
    pub max_watches: Option<u64>,
}

/// Reads the per-user limits.
pub fn read_limits(proc_root: &Path) -> InotifyLimits {
    let read = |name: &str| {
        std::fs::read_to_string(proc_root.join("sys/fs/inotify").join(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    InotifyLimits {
        max_instances: read("max_user_instances"),
        max_watches: read("max_user_watches"),
    }
}

/// The inotify instances and watches process `pid` holds; zero when it is
/// gone or holds none.
pub fn process_use(proc_root: &Path, pid: u32) -> InotifyUse {
    let dir = proc_root.join(pid.to_string());
    let mut u = InotifyUse::default();
    let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
        return u;
    };
    for fd in fds.flatten() {
        let is_inotify =
            std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == "anon_inode:inotify");
        if !is_inotify {
            continue;
        }
        u.instances += 1;
        if let Ok(info) = std::fs::read_to_string(dir.join("fdinfo").join(fd.file_name())) {
            u.watches += info
                .lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count() as u64;
        }
    }
    u
}

/// Per UID: the total, and the share of each container.
#[derive(Clone, Debug, Default)]
pub struct UidInotify<K> {
    pub total: InotifyUse,
    pub per_container: HashMap<K, InotifyUse>,
}

impl<K: Clone + Eq + Hash + Ord> UidInotify<K> {
    /// The container holding the most instances (then watches); ties go
    /// to the smallest key, so the answer is stable.
    pub fn top_container(&self) -> Option<(K, InotifyUse)> {
        self.per_container
            .iter()
            .max_by(|a, b| {
                (a.1.instances, a.1.watches)
                    .cmp(&(b.1.instances, b.1.watches))
                    .then_with(|| b.0.cmp(a.0))
            })
            .map(|(k, u)| (k.clone(), *u))
    }
}

/// Walks `processes` (pid, UID, container) and sums their inotify use per
/// UID; processes holding none are left out.
pub fn scan<K: Clone + Eq + Hash>(
    proc_root: &Path,
    processes: impl IntoIterator<Item = (u32, u32, K)>,
) -> HashMap<u32, UidInotify<K>> {
    let mut out: HashMap<u32, UidInotify<K>> = HashMap::new();
    for (pid, uid, container) in processes {
        let u = process_use(proc_root, pid);
        if u == InotifyUse::default() {
            continue;
        }
        let e = out.entry(uid).or_insert_with(|| UidInotify {
            total: InotifyUse::default(),
            per_container: HashMap::new(),
        });
        e.total.add(u);
        e.per_container.entry(container).or_default().add(u);
    }
    out
}

/// `used` as a percentage of `limit` (`None` without a limit).
pub fn pct(used: u64, limit: Option<u64>) -> Option<f64> {
    let l = limit.filter(|&l| l > 0)?;
    Some(used as f64 / l as f64 * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process, with real inotify instances and watches.
    #[test]
    fn counts_real_instances_and_watches() {
        let proc = Path::new("/proc");
        let me = std::process::id();
        let before = process_use(proc, me);
        // SAFETY: inotify_init1 has no preconditions; fds closed below.
        let a = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        let b = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        assert!(a >= 0 && b >= 0);
        for path in [c"/", c"/tmp", c"/proc"] {
            // SAFETY: valid fd and C string.
            let wd = unsafe { libc::inotify_add_watch(a, path.as_ptr(), libc::IN_CREATE) };
            assert!(wd >= 0);
        }
        let during = process_use(proc, me);
        let by_uid = scan(proc, [(me, 4242, "c1"), (u32::MAX, 4242, "c2")]);
        // SAFETY: our fds.
        unsafe {
            libc::close(a);
            libc::close(b);
        }
        // Other tests of this process may hold instances too: compare growth.
        assert!(
            during.instances >= before.instances + 2,
            "{before:?} {during:?}"
        );
        assert!(
            during.watches >= before.watches + 3,
            "{before:?} {during:?}"
        );
        let u = &by_uid[&4242];
        assert_eq!(u.total, u.per_container["c1"]);
        assert!(
            !u.per_container.contains_key("c2"),
            "a gone process holds nothing"
        );
        assert_eq!(u.top_container().map(|t| t.0), Some("c1"));
        let l = read_limits(proc);
        assert!(l.max_instances.is_some_and(|m| m > 0), "{l:?}");
        assert_eq!(pct(64, Some(128)), Some(50.0));
        assert_eq!(pct(64, None), None);
    }
}
