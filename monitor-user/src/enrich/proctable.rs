//! The process table: what the agent knows about every live process.
//!
//! Seeded once from `/proc` at start, then kept current by fork, exec and
//! exit records only (never by reading `/proc/<pid>` per event, which races
//! with exit). Records carry the pid, parent and comm; the table adds what
//! only exec shows (argv, exe path, overlay/memfd flags) and what only the
//! history shows (the parent's name, the ancestry).
//!
//! Memory is bounded: an exited process stays for a short delay, so the late
//! records of a dying process (still queued in the ring buffer) are still
//! attributed, and is then reaped; a hard cap evicts the least recently seen
//! entries if exits were lost (ring-buffer drops).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use crate::enrich::applet::applet_name;
use crate::enrich::environ::Env;
use crate::event::text::escape;
use crate::event::{Ancestor, Session, StdFd};

/// Container identity used to cut the ancestry: full id, `None` for host.
pub type ContainerKey = Option<Arc<str>>;

/// One process.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    /// Escaped `comm`.
    pub comm: String,
    /// The applet a multi-call binary runs (`enrich::applet`), with the
    /// `comm` it was derived for: a later rename (prctl) takes over.
    applet: Option<(String, String)>,
    /// Escaped argv[0].
    pub exe: Option<String>,
    /// Escaped resolved executable path.
    pub exepath: Option<String>,
    /// Escaped argv[1..].
    pub args: Vec<String>,
    pub start_boot_ns: Option<u64>,
    pub container: ContainerKey,
    pub is_exe_upper_layer: Option<bool>,
    pub is_exe_from_memfd: Option<bool>,
    /// pid in its own pid namespace (`proc.vpid`), from its last exec.
    pub vpid: Option<u32>,
    /// Terminal, session and process group from its last exec; a fork
    /// inherits them (as the kernel does).
    pub session: Option<Session>,
    /// Audit login uid from its last exec; inherited by a fork.
    pub loginuid: Option<u32>,
    /// (effective, permitted) capabilities from its last exec; a fork
    /// inherits them.
    pub caps: Option<(u64, u64)>,
    /// Working directory at its last exec (`proc.cwd`).
    pub cwd: Option<String>,
    /// Standard input and output at its last exec.
    pub stdin: Option<StdFd>,
    pub stdout: Option<StdFd>,
    /// Environment at its last exec (`proc.env`); a fork shares it.
    pub env: Option<Env>,
    exited_at: Option<u64>,
    last_seen: u64,
}

impl ProcInfo {
    /// A process known only from a record header.
    pub fn new(pid: u32, ppid: u32, uid: u32, comm: String, container: ContainerKey) -> ProcInfo {
        ProcInfo {
            pid,
            ppid,
            uid,
            comm,
            applet: None,
            exe: None,
            exepath: None,
            args: Vec::new(),
            start_boot_ns: None,
            container,
            is_exe_upper_layer: None,
            is_exe_from_memfd: None,
            vpid: None,
            session: None,
            loginuid: None,
            caps: None,
            cwd: None,
            stdin: None,
            stdout: None,
            env: None,
            exited_at: None,
            last_seen: 0,
        }
    }

    pub fn exited(&self) -> bool {
        self.exited_at.is_some()
    }

    /// `proc.name`: the applet of a multi-call binary, else `comm`.
    pub fn name(&self) -> &str {
        self.name_for(&self.comm)
    }

    /// `proc.name` for an event whose header says `comm` (escaped).
    pub fn name_for<'a>(&'a self, comm: &'a str) -> &'a str {
        match &self.applet {
            Some((at, applet)) if at == comm => applet,
            _ => comm,
        }
    }

    fn set_applet(&mut self) {
        self.applet = applet_name(
            &self.comm,
            self.exepath.as_deref(),
            self.exe.as_deref(),
            &self.args,
        )
        .map(|a| (self.comm.clone(), a));
    }
}

/// What an exec tells about the new program.
pub struct ExecInfo {
    pub exe: Option<String>,
    pub exepath: Option<String>,
    pub args: Vec<String>,
    pub upper_layer: bool,
    pub memfd: bool,
    /// pid in the process's own pid namespace, when the kernel told it.
    pub vpid: Option<u32>,
    /// Terminal, session and process group, when the kernel told them.
    pub session: Option<Session>,
    /// Audit login uid (`u32::MAX`: never set), when the kernel told it.
    pub loginuid: Option<u32>,
    /// (effective, permitted) capabilities after the exec.
    pub caps: Option<(u64, u64)>,
    /// Working directory the exec ran in.
    pub cwd: Option<String>,
    /// Standard input and output of the new program.
    pub stdin: Option<StdFd>,
    pub stdout: Option<StdFd>,
    /// The new program's environment; None (not readable: the process is
    /// already gone) keeps the one it had, mostly the same (shells pass
    /// their environment on).
    pub env: Option<Env>,
}

#[derive(Clone, Copy, Debug)]
pub struct ProcTableConfig {
    /// How long an exited process stays (ns of boot time).
    pub reap_delay_ns: u64,
    /// Hard cap on entries.
    pub max_entries: usize,
    /// Longest ancestry reported.
    pub max_ancestors: usize,
}

impl Default for ProcTableConfig {
    fn default() -> Self {
        ProcTableConfig {
            reap_delay_ns: 5_000_000_000,
            max_entries: 65_536,
            max_ancestors: 16,
        }
    }
}

pub struct ProcTable {
    cfg: ProcTableConfig,
    procs: HashMap<u32, ProcInfo>,
    /// Exit order, for reaping: (pid, exit time).
    exited: VecDeque<(u32, u64)>,
    evicted: u64,
}

impl ProcTable {
    pub fn new(cfg: ProcTableConfig) -> ProcTable {
        ProcTable {
            cfg,
            procs: HashMap::new(),
            exited: VecDeque::new(),
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// Entries dropped by the hard cap so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    pub fn get(&self, pid: u32) -> Option<&ProcInfo> {
        self.procs.get(&pid)
    }

    /// Put back a process as [`ProcTable::get`] returned it (after an
    /// exec that was refused).
    pub fn restore(&mut self, p: ProcInfo) {
        self.procs.insert(p.pid, p);
    }

    /// Seed from a procfs mount (normally `/proc`). Processes that vanish
    /// mid-scan are skipped. `container_of` maps a v2 cgroup path to its
    /// container. Returns how many processes were added.
    pub fn seed_from_proc(
        &mut self,
        proc_root: &Path,
        container_of: impl Fn(&str) -> ContainerKey,
    ) -> usize {
        let Ok(dir) = std::fs::read_dir(proc_root) else {
            return 0;
        };
        let mut n = 0;
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(p) = read_proc(&entry.path(), pid, &container_of) {
                self.insert(p);
                n += 1;
            }
        }
        n
    }

    fn insert(&mut self, p: ProcInfo) {
        if self.procs.len() >= self.cfg.max_entries && !self.procs.contains_key(&p.pid) {
            self.make_room();
        }
        self.procs.insert(p.pid, p);
    }

    /// Drop every exited process now, then the least recently seen eighth
    /// of the table if that was not enough.
    fn make_room(&mut self) {
        self.reap(u64::MAX);
        if self.procs.len() < self.cfg.max_entries {
            return;
        }
        let mut by_age: Vec<(u64, u32)> =
            self.procs.values().map(|p| (p.last_seen, p.pid)).collect();
        by_age.sort_unstable();
        let n = (self.cfg.max_entries / 8).max(1);
        for &(_, pid) in by_age.iter().take(n) {
            self.procs.remove(&pid);
        }
        self.evicted += n as u64;
    }

    /// Any record: make sure the process exists and refresh what the header
    /// says about it. Returns the entry.
    pub fn observe(
        &mut self,
        pid: u32,
        ppid: u32,
        uid: u32,
        comm: &[u8],
        container: ContainerKey,
        now: u64,
    ) -> &ProcInfo {
        if !self.procs.contains_key(&pid) {
            self.insert(ProcInfo::new(
                pid,
                ppid,
                uid,
                escape(comm),
                container.clone(),
            ));
        }
        let p = self.procs.get_mut(&pid).expect("inserted above");
        p.ppid = ppid;
        p.uid = uid;
        if p.comm.as_bytes() != comm {
            p.comm = escape(comm);
        }
        p.container = container;
        p.last_seen = now;
        p
    }

    /// A new process: it starts as a copy of its parent (same program,
    /// same container) until it execs. `ppid` is the child's parent, which
    /// is the forking process's parent under `CLONE_PARENT`.
    pub fn on_fork(&mut self, parent: u32, child: u32, ppid: u32, now: u64) {
        let mut p = match self.procs.get(&parent) {
            Some(par) => par.clone(),
            None => ProcInfo::new(child, ppid, 0, String::new(), None),
        };
        p.pid = child;
        p.ppid = ppid;
        // The child has its own pid in the namespace; known at its exec.
        p.vpid = None;
        p.start_boot_ns = Some(now);
        p.exited_at = None;
        p.last_seen = now;
        self.insert(p);
    }

    /// A successful exec replaced the program of `pid`.
    pub fn on_exec(&mut self, pid: u32, info: ExecInfo, now: u64) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.exe = info.exe;
            p.exepath = info.exepath;
            p.args = info.args;
            p.is_exe_upper_layer = Some(info.upper_layer);
            p.is_exe_from_memfd = Some(info.memfd);
            p.vpid = info.vpid;
            p.session = info.session;
            p.loginuid = info.loginuid;
            p.caps = info.caps;
            p.cwd = info.cwd;
            p.stdin = info.stdin;
            p.stdout = info.stdout;
            if info.env.is_some() {
                p.env = info.env;
            }
            p.last_seen = now;
            p.set_applet();
        }
    }

    /// The process exited; it is reaped after the configured delay.
    pub fn on_exit(&mut self, pid: u32, now: u64) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.exited_at = Some(now);
            self.exited.push_back((pid, now));
        }
    }

    /// Remove processes that exited at least `reap_delay_ns` before `now`.
    pub fn reap(&mut self, now: u64) -> usize {
        let mut n = 0;
        while let Some(&(pid, at)) = self.exited.front() {
            if at.saturating_add(self.cfg.reap_delay_ns) > now {
                break;
            }
            self.exited.pop_front();
            // The pid may have been reused since: only remove the same exit.
            if self
                .procs
                .get(&pid)
                .is_some_and(|p| p.exited_at == Some(at))
            {
                self.procs.remove(&pid);
                n += 1;
            }
        }
        n
    }

    /// Ancestors of `pid`, parent first, up to the init of its container:
    /// the walk stops before a parent in another container, after pid 1, at
    /// an unknown parent, or at `max_ancestors`.
    pub fn ancestry(&self, pid: u32) -> Vec<Ancestor> {
        let mut out = Vec::new();
        let Some(p) = self.procs.get(&pid) else {
            return out;
        };
        let mut cur = p.ppid;
        let mut below = p.env.as_ref();
        while out.len() < self.cfg.max_ancestors && cur != 0 && cur != pid {
            let Some(parent) = self.procs.get(&cur) else {
                break;
            };
            if parent.container != p.container {
                break;
            }
            // An environment passed down unchanged is said once.
            let env = match (&parent.env, below) {
                (Some(e), Some(b)) if Arc::ptr_eq(e, b) || e == b => None,
                (e, _) => Some(e.clone().unwrap_or_else(|| Arc::from([]))),
            };
            below = parent.env.as_ref();
            out.push(Ancestor {
                pid: parent.pid,
                name: parent.name().to_owned(),
                exepath: parent.exepath.clone(),
                env,
            });
            if parent.pid == 1 {
                break;
            }
            cur = parent.ppid;
        }
        out
    }
}

/// Read one `/proc/<pid>`; `None` if it vanished or is unreadable.
fn read_proc(
    dir: &Path,
    pid: u32,
    container_of: &impl Fn(&str) -> ContainerKey,
) -> Option<ProcInfo> {
    let stat = std::fs::read(dir.join("stat")).ok()?;
    let (comm, ppid, start_ticks) = parse_stat(&stat)?;
    let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .unwrap_or(0);
    let cgroup = std::fs::read_to_string(dir.join("cgroup")).unwrap_or_default();
    let container = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(container_of)
        .unwrap_or(None);
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let mut argv = split_args(&cmdline);
    let exe = (!argv.is_empty()).then(|| argv.remove(0));
    let exepath = std::fs::read_link(dir.join("exe")).ok().map(|p| {
        use std::os::unix::ffi::OsStrExt;
        escape(p.as_os_str().as_bytes())
    });
    let mut p = ProcInfo::new(pid, ppid, uid, escape(comm), container);
    p.exe = exe;
    p.exepath = exepath;
    p.args = argv;
    p.set_applet();
    p.env = crate::enrich::environ::read(dir).map(|(env, _)| env);
    p.start_boot_ns = Some(start_ticks.saturating_mul(1_000_000_000) / clock_ticks());
    Some(p)
}

/// `/proc/<pid>/stat` → (comm, ppid, starttime in clock ticks). The comm is
/// in parentheses and may itself contain `)` and spaces: split at the last `)`.
fn parse_stat(stat: &[u8]) -> Option<(&[u8], u32, u64)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is the state (field 3); ppid is field 4, starttime field 22.
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((comm, ppid, start))
}

fn split_args(cmdline: &[u8]) -> Vec<String> {
    let used = cmdline.strip_suffix(&[0]).unwrap_or(cmdline);
    if used.is_empty() {
        return Vec::new();
    }
    used.split(|&b| b == 0).map(escape).collect()
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ProcTable {
        ProcTable::new(ProcTableConfig {
            reap_delay_ns: 100,
            max_entries: 64,
            max_ancestors: 16,
        })
    }

    fn key(s: &str) -> ContainerKey {
        Some(Arc::from(s))
    }

    fn exec_of(exe: &str, exepath: &str, args: &[&str]) -> ExecInfo {
        ExecInfo {
            exe: Some(exe.into()),
            exepath: Some(exepath.into()),
            args: args.iter().map(|a| a.to_string()).collect(),
            upper_layer: false,
            memfd: false,
            vpid: None,
            session: None,
            loginuid: None,
            caps: None,
            cwd: None,
            stdin: None,
            stdout: None,
            env: None,
        }
    }

    #[test]
    fn busybox_applets_are_named_until_renamed() {
        let mut t = table();
        // busybox sh re-running itself through /proc/self/exe: `exe`.
        t.observe(20, 1, 0, b"exe", None, 1);
        t.on_exec(20, exec_of("cat", "/bin/busybox", &["/etc/shadow"]), 1);
        assert_eq!(t.get(20).unwrap().name(), "cat");
        assert_eq!(t.get(20).unwrap().name_for("exe"), "cat");
        // Its child, and the child's view of its parent.
        t.on_fork(20, 21, 20, 2);
        assert_eq!(t.get(21).unwrap().name(), "cat");
        t.observe(22, 20, 0, b"busybox", None, 3);
        t.on_exec(22, exec_of("busybox", "/bin/busybox", &["wget", "x"]), 3);
        assert_eq!(t.get(22).unwrap().name(), "wget");
        assert_eq!(t.ancestry(22)[0].name, "cat");
        // The program names itself (prctl): its own name wins.
        t.observe(20, 1, 0, b"worker", None, 4);
        assert_eq!(t.get(20).unwrap().name(), "worker");
        // A new exec of an ordinary program drops the applet.
        t.observe(21, 20, 0, b"ls", None, 5);
        t.on_exec(21, exec_of("ls", "/usr/bin/ls", &[]), 5);
        assert_eq!(t.get(21).unwrap().name(), "ls");
    }

    #[test]
    fn fork_exec_exit_and_reap() {
        let mut t = table();
        t.observe(10, 1, 0, b"bash", None, 1);
        t.on_exec(
            10,
            ExecInfo {
                exe: Some("bash".into()),
                exepath: Some("/usr/bin/bash".into()),
                args: vec![],
                upper_layer: false,
                memfd: false,
                vpid: None,
                session: Some(Session {
                    tty: 34816,
                    sid: 10,
                    vpgid: 10,
                }),
                loginuid: Some(1000),
                caps: Some((1 << 21, 1 << 21 | 1)),
                cwd: Some("/srv".into()),
                stdin: None,
                stdout: None,
                env: None,
            },
            2,
        );
        t.on_fork(10, 11, 10, 3);
        let child = t.get(11).unwrap();
        assert_eq!(
            (child.ppid, child.comm.as_str(), child.exepath.as_deref()),
            (10, "bash", Some("/usr/bin/bash"))
        );
        assert_eq!(child.start_boot_ns, Some(3));
        assert_eq!(child.vpid, None);
        // Capabilities of the parent's exec, until the child's own exec.
        assert_eq!(child.caps, Some((1 << 21, 1 << 21 | 1)));
        assert_eq!(child.cwd.as_deref(), Some("/srv"));
        // Terminal, session and login uid too, as the kernel's fork does.
        assert_eq!(child.session.map(|s| s.tty), Some(34816));
        assert_eq!(child.loginuid, Some(1000));
        t.on_exec(
            11,
            ExecInfo {
                exe: Some("ls".into()),
                exepath: Some("/usr/bin/ls".into()),
                args: vec!["-la".into()],
                upper_layer: true,
                memfd: false,
                vpid: Some(1),
                session: None,
                loginuid: None,
                caps: Some((0, 0)),
                cwd: None,
                stdin: None,
                stdout: None,
                env: None,
            },
            4,
        );
        assert_eq!(t.get(11).unwrap().args, ["-la"]);
        assert_eq!(t.get(11).unwrap().is_exe_upper_layer, Some(true));
        assert_eq!(t.get(11).unwrap().vpid, Some(1));
        t.on_exit(11, 50);
        // Late records of the dying process still find it, vpid and all.
        assert_eq!(t.reap(100), 0);
        assert!(t.get(11).unwrap().exited());
        assert_eq!(t.get(11).unwrap().vpid, Some(1));
        assert_eq!(t.reap(150), 1);
        assert!(t.get(11).is_none());
        assert!(t.get(10).is_some());
    }

    #[test]
    fn reused_pid_is_not_reaped_by_the_old_exit() {
        let mut t = table();
        t.observe(20, 1, 0, b"a", None, 1);
        t.on_exit(20, 10);
        // The pid is reused before the reap: the new process must survive.
        t.on_fork(1, 20, 1, 20);
        assert_eq!(t.reap(1000), 0);
        assert!(t.get(20).is_some());
    }

    #[test]
    fn hard_cap_bounds_memory() {
        let mut t = ProcTable::new(ProcTableConfig {
            reap_delay_ns: u64::MAX / 2,
            max_entries: 16,
            max_ancestors: 4,
        });
        for pid in 1..=1000u32 {
            t.observe(pid, 1, 0, b"x", None, pid as u64);
            if pid % 3 == 0 {
                t.on_exit(pid, pid as u64);
            }
            assert!(t.len() <= 16);
        }
        // The most recent survives; the oldest went first.
        assert!(t.get(1000).is_some());
        assert!(t.get(2).is_none());
        assert!(t.evicted() > 0);
    }

    #[test]
    fn ancestry_stops_at_the_container_init() {
        let mut t = table();
        let c = key("c0ffee");
        t.observe(1, 0, 0, b"systemd", None, 1);
        t.observe(100, 1, 0, b"conmon", None, 1);
        t.observe(101, 100, 0, b"sh", c.clone(), 1); // container init
        t.observe(102, 101, 0, b"bash", c.clone(), 1);
        t.observe(103, 102, 0, b"curl", c.clone(), 1);
        let names: Vec<String> = t.ancestry(103).into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["bash", "sh"]);
        // A host process walks up to pid 1, inclusive.
        t.observe(200, 100, 0, b"child", None, 1);
        let names: Vec<String> = t.ancestry(200).into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["conmon", "systemd"]);
        // Unknown parent: empty, no panic; a pid that is its own parent stops.
        t.observe(300, 299, 0, b"orphan", None, 1);
        assert!(t.ancestry(300).is_empty());
        t.observe(400, 400, 0, b"loop", None, 1);
        assert!(t.ancestry(400).is_empty());
        assert!(t.ancestry(12345).is_empty());
    }

    #[test]
    fn ancestry_is_capped() {
        let mut t = ProcTable::new(ProcTableConfig {
            reap_delay_ns: 1,
            max_entries: 1000,
            max_ancestors: 5,
        });
        // A cycle 3 -> 4 -> 3 above pid 2 must terminate too.
        t.observe(2, 3, 0, b"a", None, 1);
        t.observe(3, 4, 0, b"b", None, 1);
        t.observe(4, 3, 0, b"c", None, 1);
        assert_eq!(t.ancestry(2).len(), 5);
        for pid in 10..100 {
            t.observe(pid, pid - 1, 0, b"p", None, 1);
        }
        assert_eq!(t.ancestry(99).len(), 5);
    }

    #[test]
    fn parses_stat_with_hostile_comm() {
        let stat = b"42 (a) b (c) R 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1 1";
        let (comm, ppid, start) = parse_stat(stat).unwrap();
        assert_eq!((comm, ppid, start), (&b"a) b (c"[..], 7, 12345));
        assert!(parse_stat(b"garbage").is_none());
        assert!(parse_stat(b"1 (x) S").is_none());
    }

    #[test]
    fn seeds_from_a_fake_proc_tree() {
        let dir = crate::testutil::TempDir::new("proc");
        let p = dir.path().join("77");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("stat"),
            b"77 (my prog) S 5 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 300 0 0",
        )
        .unwrap();
        std::fs::write(
            p.join("status"),
            "Name:\tmy prog\nUid:\t1000\t1000\t1000\t1000\n",
        )
        .unwrap();
        std::fs::write(p.join("cmdline"), b"/bin/prog\0--flag\0x\xffy\0").unwrap();
        std::fs::write(p.join("cgroup"), "0::/libpod_parent/libpod-abc\n").unwrap();
        std::os::unix::fs::symlink("/opt/prog", p.join("exe")).unwrap();
        std::fs::create_dir_all(dir.path().join("self")).unwrap();
        std::fs::create_dir_all(dir.path().join("88")).unwrap(); // vanished: no stat
        let mut t = table();
        let n = t.seed_from_proc(dir.path(), |path| Some(Arc::from(path)));
        assert_eq!(n, 1);
        let pr = t.get(77).unwrap();
        assert_eq!(pr.comm, "my prog");
        assert_eq!(pr.ppid, 5);
        assert_eq!(pr.uid, 1000);
        assert_eq!(pr.exe.as_deref(), Some("/bin/prog"));
        assert_eq!(pr.args, ["--flag", "x\\xffy"]);
        assert_eq!(pr.exepath.as_deref(), Some("/opt/prog"));
        assert_eq!(pr.container.as_deref(), Some("/libpod_parent/libpod-abc"));
        assert_eq!(pr.start_boot_ns, Some(300 * 1_000_000_000 / clock_ticks()));
    }

    #[test]
    fn seeds_from_the_real_proc() {
        let mut t = ProcTable::new(ProcTableConfig::default());
        let n = t.seed_from_proc(Path::new("/proc"), |_| None);
        assert!(n > 0);
        let me = t.get(std::process::id()).expect("own process seeded");
        let exe = std::env::current_exe().unwrap();
        assert_eq!(me.exepath.as_deref(), exe.to_str());
        assert_eq!(me.uid, unsafe { libc::getuid() });
    }
}
