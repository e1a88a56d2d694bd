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

use std::collections::VecDeque;

// foldhash: looked up for every event (SipHash cost more than the lookup).
use foldhash::{HashMap, HashMapExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::enrich::applet::applet_name;
use crate::event::text::{escape, escapes_to};
use crate::event::Env;
use crate::event::{Ancestor, Args, Session, StdFd, Text};

/// Container identity used to cut the ancestry: full id, `None` for host.
pub type ContainerKey = Option<Arc<str>>;

/// One process.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    /// Escaped `comm`.
    pub comm: Text,
    /// The applet a multi-call binary runs (`enrich::applet`), with the
    /// `comm` it was derived for: a later rename (prctl) takes over.
    applet: Option<(Text, Text)>,
    /// Escaped argv[0].
    pub exe: Option<Text>,
    /// Escaped resolved executable path.
    pub exepath: Option<Text>,
    /// Escaped argv[1..].
    pub args: Args,
    pub start_boot_ns: Option<u64>,
    pub container: ContainerKey,
    pub is_exe_upper_layer: Option<bool>,
    pub is_exe_lower_layer: Option<bool>,
    pub is_exe_writable: Option<bool>,
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
    pub fn new(pid: u32, ppid: u32, uid: u32, comm: Text, container: ContainerKey) -> ProcInfo {
        ProcInfo {
            pid,
            ppid,
            uid,
            comm,
            applet: None,
            exe: None,
            exepath: None,
            args: Args::from([]),
            start_boot_ns: None,
            container,
            is_exe_upper_layer: None,
            is_exe_lower_layer: None,
            is_exe_writable: None,
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
    pub fn name(&self) -> &Text {
        match &self.applet {
            Some((at, applet)) if *at == self.comm => applet,
            _ => &self.comm,
        }
    }

    /// `proc.name` for an event whose header says `comm` (escaped).
    pub fn name_for<'a>(&'a self, comm: &'a str) -> &'a str {
        match &self.applet {
            Some((at, applet)) if **at == *comm => applet,
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
        .map(|a| (self.comm.clone(), a.into()));
    }
}

/// The process directories of a procfs mount (`/proc/<pid>`), with their
/// pids; nothing when it cannot be read.
pub fn pid_dirs(proc_root: &Path) -> impl Iterator<Item = (u32, PathBuf)> {
    std::fs::read_dir(proc_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((pid, entry.path()))
        })
}

/// What an exec tells about the new program.
pub struct ExecInfo {
    pub exe: Option<Text>,
    pub exepath: Option<Text>,
    pub args: Args,
    pub upper_layer: bool,
    /// On overlayfs; with `upper_layer` false, in an image's lower layer.
    pub lower_layer: bool,
    pub memfd: bool,
    /// Writable by the user it runs as (`enrich::exe_access`); None when
    /// that could not be read.
    pub exe_writable: Option<bool>,
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
    /// Bumped by every change to an entry other than its `last_seen`:
    /// while it stays, `get`, `leader` and `ancestry` answer as before.
    generation: u64,
}

impl ProcTable {
    pub fn new(cfg: ProcTableConfig) -> ProcTable {
        ProcTable {
            cfg,
            procs: HashMap::new(),
            exited: VecDeque::new(),
            evicted: 0,
            generation: 0,
        }
    }

    /// Changes with every change of what the table answers (see the
    /// field): equal generations, equal answers.
    pub fn generation(&self) -> u64 {
        self.generation
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

    /// The other live processes of `pid`'s container (none for a host
    /// process or one not in the table), in no particular order.
    pub fn container_peers(&self, pid: u32) -> impl Iterator<Item = u32> + '_ {
        let key = self.procs.get(&pid).and_then(|p| p.container.as_ref());
        self.procs
            .values()
            .filter(move |p| {
                key.is_some() && p.container.as_ref() == key && p.pid != pid && !p.exited()
            })
            .map(|p| p.pid)
    }

    /// Put back a process as [`ProcTable::get`] returned it (after an
    /// exec that was refused).
    pub fn restore(&mut self, p: ProcInfo) {
        self.generation += 1;
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
        let mut n = 0;
        for (pid, dir) in pid_dirs(proc_root) {
            if let Some(p) = read_proc(&dir, pid, &container_of) {
                self.insert(p);
                n += 1;
            }
        }
        n
    }

    fn insert(&mut self, p: ProcInfo) {
        self.generation += 1;
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
        // `insert`, the only caller, has counted this change.
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
                escape(comm).into(),
                container.clone(),
            ));
        }
        let p = self.procs.get_mut(&pid).expect("inserted above");
        // Most records repeat what the entry says: only a change counts.
        let same_comm = escapes_to(comm, &p.comm);
        if p.ppid != ppid || p.uid != uid || !same_comm || p.container != container {
            self.generation += 1;
            p.ppid = ppid;
            p.uid = uid;
            if !same_comm {
                p.comm = escape(comm).into();
            }
            p.container = container;
        }
        p.last_seen = now;
        p
    }

    /// A new process: it starts as a copy of its parent (same program,
    /// same container) until it execs. `ppid` is the child's parent, which
    /// is the forking process's parent under `CLONE_PARENT`.
    pub fn on_fork(&mut self, parent: u32, child: u32, ppid: u32, now: u64) {
        let mut p = match self.procs.get(&parent) {
            Some(par) => par.clone(),
            None => ProcInfo::new(child, ppid, 0, Text::from(""), None),
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
        self.generation += 1;
        if let Some(p) = self.procs.get_mut(&pid) {
            p.exe = info.exe;
            p.exepath = info.exepath;
            p.args = info.args;
            p.is_exe_upper_layer = Some(info.upper_layer);
            p.is_exe_lower_layer = Some(info.lower_layer);
            p.is_exe_writable = info.exe_writable;
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
        self.generation += 1;
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
                self.generation += 1;
                n += 1;
            }
        }
        n
    }

    /// The leader of `pid`'s session (`group` false) or process group
    /// (true), as Falco finds it: in the host's pid namespace the process
    /// with that pid; in another (the table is keyed by host pids) the one
    /// whose `vpid` is the id from `pid` up within its container, and when
    /// none is (the leader is gone, or not an ancestor: the first command
    /// of a pipeline), the eldest ancestor with the same id. None when the
    /// id is unknown or 0 (the leader is outside the pid namespace).
    pub fn leader(&self, pid: u32, group: bool) -> Option<&ProcInfo> {
        let p = self.procs.get(&pid)?;
        let id_of = |q: &ProcInfo| q.session.map(|s| if group { s.vpgid } else { s.sid });
        let id = id_of(p).filter(|&id| id != 0)?;
        if p.vpid == Some(p.pid) {
            if let Some(l) = self.procs.get(&id).filter(|l| l.container == p.container) {
                return Some(l);
            }
        }
        let mut cur = p;
        for _ in 0..=self.cfg.max_ancestors {
            if cur.vpid == Some(id) {
                return Some(cur);
            }
            match self.procs.get(&cur.ppid) {
                Some(parent)
                    if parent.pid != cur.pid
                        && parent.container == p.container
                        && id_of(parent) == Some(id) =>
                {
                    cur = parent
                }
                _ => break,
            }
        }
        Some(cur)
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
                name: parent.name().clone(),
                exe: parent.exe.clone(),
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
    let mut p = ProcInfo::new(pid, ppid, uid, escape(comm).into(), container);
    p.exe = exe.map(Text::from);
    p.exepath = exepath.map(Text::from);
    p.args = argv.into();
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
mod tests;
