//! User names for `user.name`, resolved the way the process itself would:
//! from the `/etc/passwd` of its own root (`/proc/<pid>/root/etc/passwd`),
//! so a uid inside a container gets the container's name for it, not the
//! host's. Files are parsed once per mount namespace and kept for a short
//! while (a container's passwd rarely changes; a new one is picked up after
//! [`TTL`]); an unreadable one (the process already exited) is retried
//! after [`RETRY`], not on every event.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a parsed passwd file is trusted.
pub const TTL: Duration = Duration::from_secs(30);
/// How long a namespace whose passwd could not be read waits to try again.
pub const RETRY: Duration = Duration::from_secs(1);
/// Most mount namespaces remembered (a busy node runs a few hundred
/// containers); the oldest entries go first.
const MAX_NAMESPACES: usize = 4096;

/// uid → name of one passwd file.
pub type Names = HashMap<u32, Arc<str>>;

/// Parse `/etc/passwd` text: `name:x:uid:gid:...` per line; malformed
/// lines are skipped; the first name for a uid wins (as getpwuid does).
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

/// Per-mount-namespace cache of parsed passwd files.
pub struct UserNames {
    /// procfs (`/proc`); `None`: names are never resolved.
    proc_root: Option<PathBuf>,
    /// mount namespace → (read at, uid → name, read succeeded).
    by_ns: HashMap<u32, (Instant, Arc<Names>, bool)>,
}

impl UserNames {
    pub fn new(proc_root: Option<PathBuf>) -> UserNames {
        UserNames {
            proc_root,
            by_ns: HashMap::new(),
        }
    }

    /// The name of `uid` for process `pid` in mount namespace `mnt_ns`:
    /// `None` when its root has no passwd entry for the uid, or no passwd
    /// of the namespace could be read yet.
    pub fn name(&mut self, pid: u32, mnt_ns: u32, uid: u32, now: Instant) -> Option<Arc<str>> {
        let root = self.proc_root.as_ref()?;
        if let Some((t, names, ok)) = self.by_ns.get(&mnt_ns) {
            let age = now.saturating_duration_since(*t);
            if age < if *ok { TTL } else { RETRY } {
                return names.get(&uid).cloned();
            }
        }
        let path = root.join(pid.to_string()).join("root/etc/passwd");
        let entry = match std::fs::read_to_string(&path) {
            Ok(text) => (now, Arc::new(parse_passwd(&text)), true),
            // Keep the last table of the namespace (its process is gone,
            // another will refresh it); retry soon.
            Err(_) => match self.by_ns.get(&mnt_ns) {
                Some((_, names, _)) => (now, names.clone(), false),
                None => (now, Arc::new(Names::new()), false),
            },
        };
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
        assert_eq!(u.name(42, 7, 1000, t0).as_deref(), Some("app"));
        assert_eq!(u.name(42, 7, 5, t0), None);
        // Cached: the file changing is seen only after the TTL.
        std::fs::write(etc.join("passwd"), "svc:x:1000:1000::/:/bin/sh\n").unwrap();
        assert_eq!(u.name(42, 7, 1000, t0).as_deref(), Some("app"));
        let later = t0 + TTL + Duration::from_secs(1);
        assert_eq!(u.name(42, 7, 1000, later).as_deref(), Some("svc"));
        // The process is gone: the last table of its namespace answers.
        std::fs::remove_dir_all(&dir).unwrap();
        let much_later = later + TTL + Duration::from_secs(1);
        assert_eq!(u.name(42, 7, 1000, much_later).as_deref(), Some("svc"));
        assert_eq!(u.name(43, 8, 1000, much_later), None);
        // Without procfs nothing resolves.
        assert_eq!(UserNames::new(None).name(42, 7, 0, t0), None);
    }
}
