//! User and group names for `user.name` and `group.name`, resolved the way
//! the process itself would: from the `/etc/passwd` (or `/etc/group`) of
//! its own root (`/proc/<pid>/root/etc/passwd`),
//! so a uid inside a container gets the container's name for it, not the
//! host's. Files are parsed once per mount namespace and kept for a short
//! while (a container's passwd rarely changes; a new one is picked up after
//! [`TTL`], and a uid it lacks is looked for again after [`RETRY`]). When
//! a process is already gone, its parent is read if it shares the mount
//! namespace, else another live process of its container that does (the
//! enricher's process table knows them), else the namespace's last table
//! answers, until tables past
//! [`TTL`] are dropped (when another table is read), so the cache follows
//! the containers that still run.
//!
//! A runtime creating a container (runc's `[1:CHILD]`, crun) is in the
//! container's new mount namespace while still on the host's root; read
//! then, it would give the host's names for the container's namespace.
//! Such a process is recognised by its root being the host's and is not
//! read. The host's root is pid 1's, or, where pid 1 cannot be inspected
//! (procfs denies it: a sandbox, an agent without ptrace rights over pid
//! 1), the agent's own (the runtime runs beside it).

// foldhash: these maps are looked up for every event; SipHash cost more
// than the lookups themselves.
use foldhash::{HashMap, HashMapExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a parsed passwd file is trusted.
pub const TTL: Duration = Duration::from_secs(30);
/// How long a table is trusted to lack a uid.
pub const RETRY: Duration = Duration::from_secs(1);
/// Most other processes of a container tried when a process and its
/// parent cannot be read: each costs a few `/proc` reads.
const MAX_PEERS: usize = 4;
/// Most mount namespaces remembered (a busy node runs a few hundred
/// containers); the oldest entries go first.
const MAX_NAMESPACES: usize = 4096;

/// uid → name of one passwd file.
pub type Names = HashMap<u32, Arc<str>>;

/// Parse `/etc/passwd` text: `name:x:uid:gid:...` per line (and
/// `/etc/group`, `name:x:gid:members`, alike); malformed lines are
/// skipped; the first name for an id wins (as getpwuid does).
pub fn parse_passwd(text: &str) -> Names {
    let mut out = Names::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Ok(uid) = uid.parse::<u32>() else {
            continue;
        };
        if !name.is_empty() {
            out.entry(uid).or_insert_with(|| Arc::from(name));
        }
    }
    out
}

/// Per-mount-namespace cache of parsed passwd (or group) files.
pub struct UserNames {
    /// procfs (`/proc`); `None`: names are never resolved.
    proc_root: Option<PathBuf>,
    /// The file under a process's root: `etc/passwd` or `etc/group`.
    file: &'static str,
    /// The host's mount namespace and root directory (device, inode), as
    /// pid 1 (else the agent itself) has them; `None` when neither can be
    /// read (tests).
    host: Option<(u32, (u64, u64))>,
    /// mount namespace → (read at, uid → name).
    by_ns: HashMap<u32, (Instant, Arc<Names>)>,
    /// mount namespace → (pid, when) of the last read that failed: that
    /// pid is not tried again before [`RETRY`], so a process whose root
    /// cannot be read (gone, or procfs access denied) costs one attempt,
    /// not one per event.
    failed: HashMap<u32, (u32, Instant)>,
    /// When tables past [`TTL`] were last dropped.
    swept: Instant,
}

/// Inode of a `/proc/<pid>/ns/mnt` link (`mnt:[4026531832]`).
fn mnt_ns_of(proc_root: &Path, pid: impl ToString) -> Option<u32> {
    let link = std::fs::read_link(proc_root.join(pid.to_string()).join("ns/mnt")).ok()?;
    let text = link.to_str()?;
    text.strip_prefix("mnt:[")?.strip_suffix(']')?.parse().ok()
}

/// (device, inode) of a process's root directory.
fn root_of(proc_root: &Path, pid: impl ToString) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(proc_root.join(pid.to_string()).join("root/")).ok()?;
    Some((m.dev(), m.ino()))
}

/// The host's mount namespace and root: pid 1's, else (procfs denies pid
/// 1) the agent's own, `self`.
fn host_of(proc_root: &Path) -> Option<(u32, (u64, u64))> {
    let of = |p: &str| Some((mnt_ns_of(proc_root, p)?, root_of(proc_root, p)?));
    of("1").or_else(|| of("self"))
}

impl UserNames {
    /// User names, from `/etc/passwd`.
    pub fn new(proc_root: Option<PathBuf>) -> UserNames {
        UserNames::of_file(proc_root, "etc/passwd")
    }

    /// Group names, from `/etc/group`.
    pub fn groups(proc_root: Option<PathBuf>) -> UserNames {
        UserNames::of_file(proc_root, "etc/group")
    }

    /// Whether names are read at all (else [`UserNames::name`] is always
    /// `None`).
    pub fn reads(&self) -> bool {
        self.proc_root.is_some()
    }

    fn of_file(proc_root: Option<PathBuf>, file: &'static str) -> UserNames {
        let host = proc_root.as_deref().and_then(host_of);
        UserNames {
            proc_root,
            file,
            host,
            by_ns: HashMap::new(),
            failed: HashMap::new(),
            swept: Instant::now(),
        }
    }

    /// The name of `uid` for process `pid` (child of `ppid`) in mount
    /// namespace `mnt_ns`: `None` when its root has no passwd entry for the
    /// uid, or no passwd of the namespace could be read yet. A process that
    /// already exited is read through its parent if that shares the mount
    /// namespace (a short command run by a shell in the container), else
    /// through one of `peers` (other processes of its container) that does:
    /// a command run by `kubectl exec` or `docker exec` is the child of the
    /// runtime, outside the container, and may be gone before it is read.
    pub fn name(
        &mut self,
        pid: u32,
        ppid: u32,
        mnt_ns: u32,
        uid: u32,
        now: Instant,
        peers: impl Iterator<Item = u32>,
    ) -> Option<Arc<str>> {
        let root = self.proc_root.as_deref()?;
        let cached = self.by_ns.get(&mnt_ns);
        if let Some((t, names)) = cached {
            let age = now.saturating_duration_since(*t);
            let hit = names.get(&uid).cloned();
            // A uid the table lacks is looked up again after RETRY (a user
            // added since).
            if age < TTL && (hit.is_some() || age < RETRY) {
                return hit;
            }
        }
        if let Some(&(p, t)) = self.failed.get(&mnt_ns) {
            if p == pid && now.saturating_duration_since(t) < RETRY {
                return cached.and_then(|(_, names)| names.get(&uid).cloned());
            }
        }
        // `Some(None)`: the root is the container's but has no passwd.
        let read = |p: u32| -> Option<Option<String>> {
            // A process of a new mount namespace still on the host's root
            // (a runtime setting the container up) would give the host's
            // names, not the container's.
            if let Some((host_ns, host_root)) = self.host {
                if mnt_ns != host_ns && root_of(root, p)? == host_root {
                    return None;
                }
            }
            match std::fs::read_to_string(root.join(p.to_string()).join("root").join(self.file)) {
                Ok(text) => Some(Some(text)),
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound && root_of(root, p).is_some() =>
                {
                    Some(None)
                }
                Err(_) => None,
            }
        };
        let in_ns = |p: u32| mnt_ns_of(root, p) == Some(mnt_ns);
        let text = read(pid)
            .or_else(|| in_ns(ppid).then(|| read(ppid)).flatten())
            .or_else(|| {
                peers
                    .filter(|&p| p != pid && p != ppid)
                    .take(MAX_PEERS)
                    .filter(|&p| in_ns(p))
                    .find_map(read)
            });
        let Some(text) = text else {
            // The process is gone (or not on its root yet): the last table
            // of the namespace answers; another process of it tries again.
            let name = cached.and_then(|(_, names)| names.get(&uid).cloned());
            if self.failed.len() >= MAX_NAMESPACES {
                self.failed.clear();
            }
            self.failed.insert(mnt_ns, (pid, now));
            return name;
        };
        self.failed.remove(&mnt_ns);
        let entry = (
            now,
            Arc::new(text.as_deref().map(parse_passwd).unwrap_or_default()),
        );
        // Namespaces of containers that are gone would stay until the cap:
        // a table past TTL is read again anyway, so it can go.
        if now.saturating_duration_since(self.swept) >= TTL {
            self.by_ns
                .retain(|_, (t, _)| now.saturating_duration_since(*t) < TTL);
            self.failed
                .retain(|_, (_, t)| now.saturating_duration_since(*t) < RETRY);
            self.swept = now;
        }
        if self.by_ns.len() >= MAX_NAMESPACES && !self.by_ns.contains_key(&mnt_ns) {
            let oldest = self.by_ns.iter().min_by_key(|(_, e)| e.0).map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.by_ns.remove(&k);
            }
        }
        let name = entry.1.get(&uid).cloned();
        self.by_ns.insert(mnt_ns, entry);
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No other process of the container.
    fn none() -> std::iter::Empty<u32> {
        std::iter::empty()
    }

    #[test]
    fn parses_passwd_like_getpwuid() {
        let n = parse_passwd(
            "root:x:0:0:root:/root:/bin/sh\n# comment\n\nbroken line\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\ntoor:x:0:0::/:/bin/sh\nbad:x:notanumber:1::/:\n",
        );
        assert_eq!(n.get(&0).map(|s| &**s), Some("root"));
        assert_eq!(n.get(&33).map(|s| &**s), Some("www-data"));
        assert_eq!(n.len(), 2);
    }

    #[test]
    fn a_new_namespace_still_on_the_host_root_is_not_read() {
        let dir = crate::testutil::TempDir::new("users-host");
        let d = dir.path();
        // pid 1: the host, its root holds the host's passwd.
        std::fs::create_dir_all(d.join("hostroot/etc")).unwrap();
        std::fs::write(
            d.join("hostroot/etc/passwd"),
            "hostuser:x:1000:1000::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.join("ctrroot/etc")).unwrap();
        std::fs::write(d.join("ctrroot/etc/passwd"), "app:x:1000:1000::/:/bin/sh\n").unwrap();
        for (pid, root) in [(1, "hostroot"), (50, "hostroot"), (51, "ctrroot")] {
            std::fs::create_dir_all(d.join(format!("{pid}/ns"))).unwrap();
            std::os::unix::fs::symlink(d.join(root), d.join(format!("{pid}/root"))).unwrap();
            let ns = if pid == 1 { 1 } else { 9 };
            std::os::unix::fs::symlink(format!("mnt:[{ns}]"), d.join(format!("{pid}/ns/mnt")))
                .unwrap();
        }
        let mut u = UserNames::new(Some(d.to_owned()));
        let t0 = Instant::now();
        // 50 is in the container's namespace but not yet on its root.
        assert_eq!(u.name(50, 1, 9, 1000, t0, none()), None);
        // Once a process of it is on the container's root: its names.
        let t1 = t0 + RETRY + Duration::from_millis(1);
        assert_eq!(u.name(51, 1, 9, 1000, t1, none()).as_deref(), Some("app"));
        // The host's own processes read the host's file.
        assert_eq!(
            u.name(1, 0, 1, 1000, t1, none()).as_deref(),
            Some("hostuser")
        );
    }

    #[test]
    fn without_pid_1_the_agents_own_root_is_the_hosts() {
        // procfs denies pid 1 (no `1/`): the agent (`self`) stands for the
        // host. runc's `[1:CHILD]` (50) is in the container's namespace 9
        // but on the host's root; the container's init (51) is on its own.
        let dir = crate::testutil::TempDir::new("users-self");
        let d = dir.path();
        std::fs::create_dir_all(d.join("hostroot/etc")).unwrap();
        std::fs::write(d.join("hostroot/etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
        std::fs::create_dir_all(d.join("ctrroot/etc")).unwrap();
        std::fs::write(
            d.join("ctrroot/etc/passwd"),
            "root:x:0:0::/:/bin/sh\nvigilfalco:x:4321:4321::/:/bin/sh\n",
        )
        .unwrap();
        for (pid, root, ns) in [
            ("self", "hostroot", 1),
            ("50", "hostroot", 9),
            ("51", "ctrroot", 9),
        ] {
            std::fs::create_dir_all(d.join(pid).join("ns")).unwrap();
            std::os::unix::fs::symlink(d.join(root), d.join(pid).join("root")).unwrap();
            std::os::unix::fs::symlink(format!("mnt:[{ns}]"), d.join(pid).join("ns/mnt")).unwrap();
        }
        let mut u = UserNames::new(Some(d.to_owned()));
        let t0 = Instant::now();
        assert_eq!(
            u.name(50, 1, 9, 0, t0, none()),
            None,
            "the host's passwd is not the container's"
        );
        // At once (well within RETRY), the container's own file answers:
        // no table of the host's was cached for namespace 9.
        let t1 = t0 + Duration::from_millis(10);
        assert_eq!(
            u.name(51, 50, 9, 4321, t1, none()).as_deref(),
            Some("vigilfalco")
        );
        assert_eq!(u.name(51, 50, 9, 0, t1, none()).as_deref(), Some("root"));
    }

    /// `kubectl exec ctr -- id`: the command (60) is the runtime's child
    /// (50, on the host) and gone before it is read; the container's init
    /// (51) shares its mount namespace and answers. A process of the
    /// container in another mount namespace (52) does not.
    #[test]
    fn a_command_gone_before_it_is_read_is_named_through_its_container() {
        let dir = crate::testutil::TempDir::new("users-peers");
        let d = dir.path();
        for (root, passwd) in [
            ("hostroot", "root:x:0:0::/:/bin/sh\n"),
            (
                "ctrroot",
                "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n",
            ),
            ("otherroot", "other:x:1000:1000::/:/bin/sh\n"),
        ] {
            std::fs::create_dir_all(d.join(root).join("etc")).unwrap();
            std::fs::write(d.join(root).join("etc/passwd"), passwd).unwrap();
        }
        for (pid, root, ns) in [
            (1, "hostroot", 1),
            (50, "hostroot", 1),
            (51, "ctrroot", 9),
            (52, "otherroot", 10),
        ] {
            std::fs::create_dir_all(d.join(format!("{pid}/ns"))).unwrap();
            std::os::unix::fs::symlink(d.join(root), d.join(format!("{pid}/root"))).unwrap();
            std::os::unix::fs::symlink(format!("mnt:[{ns}]"), d.join(format!("{pid}/ns/mnt")))
                .unwrap();
        }
        let t0 = Instant::now();
        let mut u = UserNames::new(Some(d.to_owned()));
        assert_eq!(
            u.name(60, 50, 9, 1000, t0, none()),
            None,
            "no peers: no name"
        );
        let mut u = UserNames::new(Some(d.to_owned()));
        let peers = [52, 60, 50].into_iter();
        assert_eq!(
            u.name(60, 50, 9, 1000, t0, peers),
            None,
            "none in its namespace"
        );
        let mut u = UserNames::new(Some(d.to_owned()));
        let peers = [52, 50, 51].into_iter();
        assert_eq!(u.name(60, 50, 9, 1000, t0, peers).as_deref(), Some("app"));
        // The namespace's table is kept: the next such command needs no peer.
        assert_eq!(u.name(61, 50, 9, 0, t0, none()).as_deref(), Some("root"));
    }

    #[test]
    fn a_process_that_cannot_be_read_is_not_retried_on_every_event() {
        let dir = crate::testutil::TempDir::new("users-retry");
        let d = dir.path();
        let mut u = UserNames::new(Some(d.to_owned()));
        let t0 = Instant::now();
        assert_eq!(u.name(60, 1, 7, 1000, t0, none()), None);
        // Its root appears, but the same pid is not tried again so soon.
        std::fs::create_dir_all(d.join("60/root/etc")).unwrap();
        std::fs::write(d.join("60/root/etc/passwd"), "app:x:1000:1000::/:/bin/sh\n").unwrap();
        assert_eq!(u.name(60, 1, 7, 1000, t0, none()), None);
        // After RETRY it is.
        let t1 = t0 + RETRY + Duration::from_millis(1);
        assert_eq!(u.name(60, 1, 7, 1000, t1, none()).as_deref(), Some("app"));
        // Another process of the namespace is tried at once.
        let mut u = UserNames::new(Some(d.to_owned()));
        assert_eq!(u.name(59, 1, 7, 1000, t0, none()), None);
        assert_eq!(u.name(60, 1, 7, 1000, t0, none()).as_deref(), Some("app"));
    }

    #[test]
    fn resolves_through_the_process_root_and_caches_per_namespace() {
        let dir = std::env::temp_dir().join(format!("vigil-users-{}", std::process::id()));
        let etc = dir.join("42/root/etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n",
        )
        .unwrap();
        let mut u = UserNames::new(Some(dir.clone()));
        let t0 = Instant::now();
        assert_eq!(u.name(42, 1, 7, 1000, t0, none()).as_deref(), Some("app"));
        assert_eq!(u.name(42, 1, 7, 5, t0, none()), None);
        // Cached: the file changing is seen only after the TTL.
        std::fs::write(etc.join("passwd"), "svc:x:1000:1000::/:/bin/sh\n").unwrap();
        assert_eq!(u.name(42, 1, 7, 1000, t0, none()).as_deref(), Some("app"));
        let later = t0 + TTL + Duration::from_secs(1);
        assert_eq!(
            u.name(42, 1, 7, 1000, later, none()).as_deref(),
            Some("svc")
        );
        // A process already gone (99) is read through its parent (42) when
        // the parent is in the same mount namespace, not otherwise.
        std::fs::create_dir_all(dir.join("42/ns")).unwrap();
        std::os::unix::fs::symlink("mnt:[9]", dir.join("42/ns/mnt")).unwrap();
        assert_eq!(
            u.name(99, 42, 9, 1000, later, none()).as_deref(),
            Some("svc")
        );
        assert_eq!(u.name(99, 42, 10, 1000, later, none()), None);
        // The process is gone: the last table of its namespace answers.
        std::fs::remove_dir_all(&dir).unwrap();
        let much_later = later + TTL + Duration::from_secs(1);
        assert_eq!(
            u.name(42, 1, 7, 1000, much_later, none()).as_deref(),
            Some("svc")
        );
        assert_eq!(u.name(43, 1, 8, 1000, much_later, none()), None);
        // The host's own processes (this one, in the real procfs) resolve
        // through the host's passwd.
        let mut host = UserNames::new(Some("/proc".into()));
        if let Some((ns, _)) = host.host {
            let me = std::process::id();
            assert_eq!(host.name(me, 0, ns, 0, t0, none()).as_deref(), Some("root"));
        }
        // Without procfs nothing resolves.
        assert_eq!(UserNames::new(None).name(42, 1, 7, 0, t0, none()), None);
    }

    #[test]
    fn tables_of_gone_namespaces_are_dropped_after_the_ttl() {
        let dir = crate::testutil::TempDir::new("users-sweep");
        for pid in [42, 43] {
            let etc = dir.path().join(format!("{pid}/root/etc"));
            std::fs::create_dir_all(&etc).unwrap();
            std::fs::write(etc.join("passwd"), "app:x:1000:1000::/:/bin/sh\n").unwrap();
        }
        let mut u = UserNames::new(Some(dir.path().to_owned()));
        let t0 = Instant::now() + TTL;
        assert_eq!(u.name(42, 1, 7, 1000, t0, none()).as_deref(), Some("app"));
        assert!(u.by_ns.contains_key(&7));
        let later = t0 + TTL + Duration::from_secs(1);
        assert_eq!(
            u.name(43, 1, 8, 1000, later, none()).as_deref(),
            Some("app")
        );
        assert!(
            !u.by_ns.contains_key(&7),
            "namespace 7's table outlived its TTL"
        );
        assert!(u.by_ns.contains_key(&8));
    }

    #[test]
    fn groups_come_from_the_process_roots_group_file() {
        let dir = crate::testutil::TempDir::new("users-groups");
        let etc = dir.path().join("42/root/etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            etc.join("passwd"),
            "app:x:1000:1000::/:/bin/sh
",
        )
        .unwrap();
        std::fs::write(
            etc.join("group"),
            "root:x:0:
staff:x:50:app,bob
",
        )
        .unwrap();
        let mut g = UserNames::groups(Some(dir.path().to_owned()));
        let t0 = Instant::now();
        assert_eq!(g.name(42, 1, 7, 50, t0, none()).as_deref(), Some("staff"));
        assert_eq!(g.name(42, 1, 7, 1000, t0, none()), None);
    }
}
