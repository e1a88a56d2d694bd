//! Per-UID process counts across containers, against RLIMIT_NPROC.
//!
//! RLIMIT_NPROC is checked at fork against the number of tasks owned by the
//! forking task's *real UID*, host-wide: two containers that run as the same
//! UID (common: both run as 1000, or both as an image's default user) share
//! one count, so one of them can make the other's forks fail without ever
//! touching its own `pids.max`. [`UidTable`] is fed by the agent's process
//! table (exec/fork add a process, exit removes it) and keeps, per UID, the
//! total, the lowest soft limit among its live processes (the first to be
//! refused), and the per-container breakdown, so an alert can name the
//! container holding most of the UID's processes.
//!
//! The kernel counts tasks, threads included. Processes count one task each
//! until [`UidTable::set_tasks`] or [`UidTable::refresh_tasks`] says how many
//! threads they run. Root (uid 0) and tasks with CAP_SYS_RESOURCE or
//! CAP_SYS_ADMIN are exempt from the limit; the table still counts them.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Rule field names answered by [`UidTable`], keyed by the process's real UID.
pub mod fields {
    /// [`super::UidTable::nproc`].
    pub const NPROC: &str = "user.nproc";
    /// [`super::UidTable::nproc_limit`].
    pub const NPROC_LIMIT: &str = "user.nproc_limit";
    /// [`super::UidTable::usage_pct`].
    pub const NPROC_PCT: &str = "user.nproc_pct";
}

#[derive(Debug, Error)]
pub enum ProcError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no parsable `{what}` line")]
    Format { path: PathBuf, what: &'static str },
}

#[derive(Clone, Debug)]
struct Proc<K> {
    uid: u32,
    container: K,
    tasks: u64,
    /// Soft RLIMIT_NPROC; `None` when unlimited or unknown.
    limit: Option<u64>,
}

#[derive(Clone, Debug)]
struct UidEntry<K> {
    tasks: u64,
    processes: u64,
    per_container: HashMap<K, u64>,
    /// Soft limit → number of live processes carrying it.
    limits: BTreeMap<u64, u64>,
}

impl<K> Default for UidEntry<K> {
    fn default() -> Self {
        UidEntry {
            tasks: 0,
            processes: 0,
            per_container: HashMap::new(),
            limits: BTreeMap::new(),
        }
    }
}

/// Live processes by UID, with the container each runs in (`K`: the
/// agent's container key, e.g. the container id or `host`).
#[derive(Clone, Debug)]
pub struct UidTable<K = String> {
    procs: HashMap<u32, Proc<K>>,
    uids: HashMap<u32, UidEntry<K>>,
}

impl<K> Default for UidTable<K> {
    fn default() -> Self {
        UidTable {
            procs: HashMap::new(),
            uids: HashMap::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> UidTable<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or, for a known pid, replaces: exec, setuid) a process owned by
    /// real `uid` in `container`, with its soft RLIMIT_NPROC (`None` for
    /// unlimited, see [`read_nproc_limit`]).
    pub fn add(&mut self, pid: u32, uid: u32, container: K, nproc_limit: Option<u64>) {
        let tasks = self.procs.get(&pid).map_or(1, |p| p.tasks);
        self.remove(pid);
        let p = Proc {
            uid,
            container,
            tasks,
            limit: nproc_limit,
        };
        self.account(&p, true);
        self.procs.insert(pid, p);
    }

    /// Removes an exited process; unknown pids are ignored.
    pub fn remove(&mut self, pid: u32) {
        if let Some(p) = self.procs.remove(&pid) {
            self.account(&p, false);
        }
    }

    /// Records how many tasks (threads) a process runs.
    pub fn set_tasks(&mut self, pid: u32, tasks: u64) {
        let Some(p) = self.procs.get(&pid).cloned() else {
            return;
        };
        self.account(&p, false);
        let p = Proc {
            tasks: tasks.max(1),
            ..p
        };
        self.account(&p, true);
        self.procs.insert(pid, p);
    }

    /// Updates a process's soft RLIMIT_NPROC (prlimit, setrlimit).
    pub fn set_limit(&mut self, pid: u32, nproc_limit: Option<u64>) {
        if let Some(p) = self.procs.get(&pid).cloned() {
            self.add(pid, p.uid, p.container, nproc_limit);
        }
    }

    fn account(&mut self, p: &Proc<K>, add: bool) {
        let e = self.uids.entry(p.uid).or_default();
        let c = e.per_container.entry(p.container.clone()).or_insert(0);
        if add {
            e.tasks += p.tasks;
            e.processes += 1;
            *c += p.tasks;
            if let Some(l) = p.limit {
                *e.limits.entry(l).or_insert(0) += 1;
            }
            return;
        }
        e.tasks = e.tasks.saturating_sub(p.tasks);
        e.processes = e.processes.saturating_sub(1);
        *c = c.saturating_sub(p.tasks);
        if *c == 0 {
            e.per_container.remove(&p.container);
        }
        if let Some(l) = p.limit {
            if let Some(n) = e.limits.get_mut(&l) {
                *n -= 1;
                if *n == 0 {
                    e.limits.remove(&l);
                }
            }
        }
        if e.processes == 0 {
            self.uids.remove(&p.uid);
        }
    }

    /// Tasks owned by `uid` (`user.nproc`).
    pub fn nproc(&self, uid: u32) -> u64 {
        self.uids.get(&uid).map_or(0, |e| e.tasks)
    }

    /// Processes owned by `uid`.
    pub fn processes(&self, uid: u32) -> u64 {
        self.uids.get(&uid).map_or(0, |e| e.processes)
    }

    /// The lowest soft RLIMIT_NPROC among `uid`'s live processes
    /// (`user.nproc_limit`): the process with it is the first whose fork
    /// fails. `None` when all are unlimited or none is known.
    pub fn nproc_limit(&self, uid: u32) -> Option<u64> {
        self.uids.get(&uid)?.limits.keys().next().copied()
    }

    /// `nproc / nproc_limit` in percent.
    pub fn usage_pct(&self, uid: u32) -> Option<f64> {
        let limit = self.nproc_limit(uid).filter(|&l| l > 0)?;
        Some(self.nproc(uid) as f64 / limit as f64 * 100.0)
    }

    /// `uid`'s tasks per container, most first (ties in no set order).
    pub fn breakdown(&self, uid: u32) -> Vec<(K, u64)> {
        let mut v: Vec<_> = self
            .uids
            .get(&uid)
            .map(|e| {
                e.per_container
                    .iter()
                    .map(|(k, &n)| (k.clone(), n))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        v
    }

    /// The container holding most of `uid`'s tasks, and how many.
    pub fn top_container(&self, uid: u32) -> Option<(K, u64)> {
        self.uids
            .get(&uid)?
            .per_container
            .iter()
            .max_by_key(|e| *e.1)
            .map(|(k, &n)| (k.clone(), n))
    }

    /// Tasks `uid` runs in `container` (0 when none): one lookup, so a
    /// pass over every container stays linear.
    pub fn tasks_in(&self, uid: u32, container: &K) -> u64 {
        self.uids
            .get(&uid)
            .and_then(|e| e.per_container.get(container))
            .copied()
            .unwrap_or(0)
    }

    /// UIDs with at least one live process.
    pub fn uids(&self) -> impl Iterator<Item = u32> + '_ {
        self.uids.keys().copied()
    }

    /// Every process as (pid, real UID, container).
    pub fn live(&self) -> impl Iterator<Item = (u32, u32, &K)> + '_ {
        self.procs
            .iter()
            .map(|(&pid, p)| (pid, p.uid, &p.container))
    }

    pub fn contains(&self, pid: u32) -> bool {
        self.procs.contains_key(&pid)
    }

    /// Re-reads every tracked process's thread count from `proc_root`
    /// (normally `/proc`), and drops processes that no longer exist or whose
    /// pid now belongs to a process of another UID (their exit event was
    /// lost). Returns how many were dropped.
    pub fn refresh_tasks(&mut self, proc_root: &Path) -> usize {
        let pids: Vec<u32> = self.procs.keys().copied().collect();
        let mut dropped = 0;
        for pid in pids {
            match read_status(proc_root, pid) {
                Ok(st) if self.procs.get(&pid).is_some_and(|p| p.uid != st.real_uid) => {
                    self.remove(pid);
                    dropped += 1;
                }
                Ok(st) => self.set_tasks(pid, st.threads),
                Err(ProcError::Read { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    self.remove(pid);
                    dropped += 1;
                }
                Err(_) => {}
            }
        }
        dropped
    }
}

/// The soft "Max processes" limit of `pid` from `<proc_root>/<pid>/limits`;
/// `None` when unlimited.
pub fn read_nproc_limit(proc_root: &Path, pid: u32) -> Result<Option<u64>, ProcError> {
    let path = proc_root.join(pid.to_string()).join("limits");
    let text = std::fs::read_to_string(&path).map_err(|source| ProcError::Read {
        path: path.clone(),
        source,
    })?;
    parse_nproc_limit(&text).ok_or(ProcError::Format {
        path,
        what: "Max processes",
    })
}

/// `Max processes   63704   63704   processes` → `Some(Some(63704))`;
/// `unlimited` → `Some(None)`.
fn parse_nproc_limit(text: &str) -> Option<Option<u64>> {
    let line = text.lines().find(|l| l.starts_with("Max processes"))?;
    let soft = line["Max processes".len()..]
        .split_ascii_whitespace()
        .next()?;
    if soft == "unlimited" {
        Some(None)
    } else {
        soft.parse().ok().map(Some)
    }
}

/// What [`UidTable::refresh_tasks`] needs from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStatus {
    pub threads: u64,
    /// The first (real) id of the `Uid:` line.
    pub real_uid: u32,
}

/// Threads and real UID of `pid` from `<proc_root>/<pid>/status`.
pub fn read_status(proc_root: &Path, pid: u32) -> Result<ProcStatus, ProcError> {
    let path = proc_root.join(pid.to_string()).join("status");
    let text = std::fs::read_to_string(&path).map_err(|source| ProcError::Read {
        path: path.clone(),
        source,
    })?;
    let field = |name: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(name)?
                .split_ascii_whitespace()
                .next()?
                .parse()
                .ok()
        })
    };
    let threads = field("Threads:").ok_or_else(|| ProcError::Format {
        path: path.clone(),
        what: "Threads:",
    })?;
    let real_uid = field("Uid:").ok_or(ProcError::Format { path, what: "Uid:" })?;
    Ok(ProcStatus {
        threads,
        real_uid: u32::try_from(real_uid).unwrap_or(u32::MAX),
    })
}

/// Threads of `pid` (see [`read_status`]).
pub fn read_threads(proc_root: &Path, pid: u32) -> Result<u64, ProcError> {
    read_status(proc_root, pid).map(|s| s.threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max processes             4096                 4096                 processes 
Max open files            1024                 1024                 files     
";

    #[test]
    fn limits_file() {
        assert_eq!(parse_nproc_limit(LIMITS), Some(Some(4096)));
        assert_eq!(
            parse_nproc_limit(&LIMITS.replace("4096                 4096", "unlimited unlimited")),
            Some(None)
        );
        assert_eq!(parse_nproc_limit("Max open files 1 1 files\n"), None);
    }

    #[test]
    fn two_containers_share_one_uid() {
        let mut t: UidTable<&str> = UidTable::new();
        for pid in 100..130 {
            t.add(pid, 1000, "web", Some(64));
        }
        for pid in 200..210 {
            t.add(pid, 1000, "batch", Some(64));
        }
        t.add(300, 1001, "web", Some(64));
        t.add(1, 0, "host", None);
        assert_eq!(t.nproc(1000), 40);
        assert_eq!(t.nproc_limit(1000), Some(64));
        assert_eq!(t.usage_pct(1000), Some(62.5));
        assert_eq!(t.top_container(1000), Some(("web", 30)));
        assert_eq!(t.breakdown(1000), vec![("web", 30), ("batch", 10)]);
        assert_eq!(t.tasks_in(1000, &"batch"), 10);
        assert_eq!(t.tasks_in(1001, &"batch"), 0);
        assert_eq!(t.tasks_in(7, &"web"), 0);
        assert_eq!(t.nproc(1001), 1);
        assert_eq!(t.nproc_limit(0), None);
        // batch grows threads past web.
        t.set_tasks(200, 25);
        assert_eq!(t.nproc(1000), 64);
        assert_eq!(t.top_container(1000), Some(("batch", 34)));
        for pid in 100..130 {
            t.remove(pid);
        }
        assert_eq!(t.breakdown(1000), vec![("batch", 34)]);
        assert_eq!(t.processes(1000), 10);
    }

    #[test]
    fn lowest_limit_wins_and_follows_removals() {
        let mut t: UidTable<String> = UidTable::new();
        t.add(1, 1000, "a".into(), Some(4096));
        t.add(2, 1000, "b".into(), Some(100));
        t.add(3, 1000, "b".into(), None);
        assert_eq!(t.nproc_limit(1000), Some(100));
        t.remove(2);
        assert_eq!(t.nproc_limit(1000), Some(4096));
        t.set_limit(1, Some(50));
        assert_eq!(t.nproc_limit(1000), Some(50));
        assert_eq!(t.nproc(1000), 2);
    }

    #[test]
    fn setuid_moves_a_process_and_unknown_pids_are_ignored() {
        let mut t: UidTable<&str> = UidTable::new();
        t.add(10, 0, "c", None);
        t.set_tasks(10, 3);
        t.add(10, 1000, "c", Some(10)); // setuid keeps the thread count
        assert_eq!(t.nproc(0), 0);
        assert_eq!(t.nproc(1000), 3);
        assert_eq!(t.uids().collect::<Vec<_>>(), vec![1000]);
        t.remove(9999);
        t.set_tasks(9999, 5);
        t.set_limit(9999, Some(1));
        assert_eq!(t.nproc(1000), 3);
        t.remove(10);
        assert_eq!(t.uids().count(), 0);
        assert_eq!(t.top_container(1000), None);
    }

    #[test]
    fn refresh_from_a_proc_tree() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("42")).unwrap();
        std::fs::write(
            p.join("42/status"),
            "Name:\tjava\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\n\
             Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nThreads:\t37\n",
        )
        .unwrap();
        // Pid 44 was reused by a root process after a lost exit event.
        std::fs::create_dir_all(p.join("44")).unwrap();
        std::fs::write(
            p.join("44/status"),
            "Name:\tsh\nUid:\t0\t0\t0\t0\nThreads:\t1\n",
        )
        .unwrap();
        std::fs::write(p.join("42/limits"), LIMITS).unwrap();
        let mut t: UidTable<&str> = UidTable::new();
        t.add(42, 1000, "app", read_nproc_limit(p, 42).unwrap());
        t.add(43, 1000, "app", None); // exited, exit event lost
        t.add(44, 1000, "app", None);
        assert_eq!(t.refresh_tasks(p), 2);
        assert!(!t.contains(44));
        assert_eq!(t.nproc(1000), 37);
        assert_eq!(t.nproc_limit(1000), Some(4096));
        assert!(matches!(
            read_nproc_limit(p, 43),
            Err(ProcError::Read { .. })
        ));
        std::fs::write(p.join("42/limits"), "garbage\n").unwrap();
        assert!(matches!(
            read_nproc_limit(p, 42),
            Err(ProcError::Format { .. })
        ));
    }

    #[test]
    fn real_proc_self() {
        let pid = std::process::id();
        let proc = Path::new("/proc");
        assert!(read_threads(proc, pid).unwrap() >= 1);
        // Whatever the limit is, the line parses.
        read_nproc_limit(proc, pid).unwrap();
    }
}
