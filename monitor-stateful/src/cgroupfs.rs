//! Reading one cgroup's resource controllers, v1 and v2 alike.
//!
//! [`CgroupReader`] owns the directories of one cgroup (from
//! [`crate::layout::CgroupLayout::resolve`]) and turns its controller files
//! into a [`CgroupSample`]: pids, memory, OOM kills, CPU usage, throttling,
//! quota and PSI. For each controller it reads the v2 files when the v2
//! directory has them (pure v2 hosts) and the v1 controller directory
//! otherwise (hybrid and legacy hosts); which one is decided once, by which
//! file exists, and re-decided only while neither does yet.
//!
//! Only the numbers a [`Needs`] asks for are read, each file through
//! [`Files`], which keeps it open between passes. A cgroup whose tasks have
//! not run since the last pass costs one read ([`CgroupReader::sample_pass`]).
//!
//! Every value is an `Option`: a missing or unreadable file, or one in an
//! unexpected format, leaves its fields `None` and sampling carries on.

mod files;
mod parse;

use std::path::{Path, PathBuf};

pub use files::{raise_nofile_limit, FdBudget, ReadCtx, RETRY_PASSES};

use crate::layout::CgroupDirs;
use crate::psi::{parse_psi, Psi, PsiResource};
use files::{Dir, Files};
use parse::{keyed, parse_cpu_max, parse_i64, parse_io_stat, parse_limit, parse_u64};

/// Passes between two reads of a cgroup's limits (`pids.max`,
/// `memory.max`, the CPU quota).
pub const LIMITS_EVERY: u64 = 10;

/// Passes a quiet cgroup's numbers are carried over before it is read in
/// full again ([`CgroupReader::sample_pass`]).
pub const QUIET_REFRESH: u64 = 10;

/// A limit file's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// `max`, or v1's huge "unlimited" number.
    Max,
    Value(u64),
}

impl Limit {
    pub fn value(self) -> Option<u64> {
        match self {
            Limit::Max => None,
            Limit::Value(v) => Some(v),
        }
    }
}

/// The CFS bandwidth limit: `quota_us` of CPU time per `period_us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuQuota {
    /// `None` when unlimited.
    pub quota_us: Option<u64>,
    pub period_us: u64,
}

impl CpuQuota {
    /// The limit in CPUs (e.g. 0.5), `None` when unlimited.
    pub fn cpus(self) -> Option<f64> {
        match self.quota_us {
            Some(q) if self.period_us > 0 => Some(q as f64 / self.period_us as f64),
            _ => None,
        }
    }
}

/// One reading of a cgroup's controller files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CgroupSample {
    /// Tasks (threads included) in the cgroup: `pids.current`.
    pub pids_current: Option<u64>,
    pub pids_max: Option<Limit>,
    /// Forks refused because of `pids.max`: `pids.events` `max`.
    pub pids_max_hits: Option<u64>,
    /// Memory charged: v2 `memory.current`, v1 `memory.usage_in_bytes`.
    pub memory_usage: Option<u64>,
    /// Reclaimable page cache in `memory_usage`: `memory.stat`
    /// `inactive_file` (v1: `total_inactive_file`).
    pub memory_inactive_file: Option<u64>,
    /// v2 `memory.max`, v1 `memory.limit_in_bytes`.
    pub memory_max: Option<Limit>,
    /// Processes killed by the OOM killer in this cgroup: v2 `memory.events`
    /// `oom_kill`, v1 `memory.oom_control` `oom_kill` (kernel 4.13+).
    pub oom_kills: Option<u64>,
    /// Times usage hit the limit: v2 `memory.events` `max`, v1 `memory.failcnt`.
    pub memory_max_hits: Option<u64>,
    /// CPU time used: v2 `cpu.stat` `usage_usec`, v1 `cpuacct.usage` / 1000.
    pub cpu_usage_usec: Option<u64>,
    /// CFS enforcement periods elapsed (`cpu.stat` `nr_periods`, v1 and v2).
    pub cpu_nr_periods: Option<u64>,
    /// Periods in which the cgroup was throttled (`nr_throttled`).
    pub cpu_nr_throttled: Option<u64>,
    /// Time throttled: v2 `throttled_usec`, v1 `throttled_time` / 1000.
    pub cpu_throttled_usec: Option<u64>,
    /// v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`.
    pub cpu_quota: Option<CpuQuota>,
    pub psi_cpu: Option<Psi>,
    pub psi_memory: Option<Psi>,
    pub psi_io: Option<Psi>,
    /// Block I/O of the cgroup over every device: v2 `io.stat`, v1
    /// `blkio.throttle.io_service{_bytes,d}_recursive` `Total`.
    pub io: Option<IoStat>,
}

/// Totals of v2 `io.stat` summed over devices: bytes and operations read
/// and written (discards are not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoStat {
    pub bytes: u64,
    pub ops: u64,
}

impl CgroupSample {
    fn set_psi(&mut self, res: PsiResource, psi: Option<Psi>) {
        match res {
            PsiResource::Cpu => self.psi_cpu = psi,
            PsiResource::Memory => self.psi_memory = psi,
            PsiResource::Io => self.psi_io = psi,
        }
    }

    pub fn psi(&self, res: PsiResource) -> Option<&Psi> {
        match res {
            PsiResource::Cpu => self.psi_cpu.as_ref(),
            PsiResource::Memory => self.psi_memory.as_ref(),
            PsiResource::Io => self.psi_io.as_ref(),
        }
    }

    /// Memory in use that cannot simply be dropped: usage minus inactive
    /// page cache (what kubelet and `docker stats` call the working set).
    pub fn memory_working_set(&self) -> Option<u64> {
        let usage = self.memory_usage?;
        Some(usage.saturating_sub(self.memory_inactive_file.unwrap_or(0)))
    }
}

/// Which of a cgroup's numbers a pass reads. The sampler derives it from
/// the fields the loaded rules use, so a file no rule needs is never read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    pub pids_current: bool,
    pub pids_max: bool,
    pub pids_max_hits: bool,
    /// Usage and the inactive page cache (the working set).
    pub memory_usage: bool,
    pub memory_max: bool,
    pub oom_kills: bool,
    pub memory_max_hits: bool,
    pub cpu_usage: bool,
    /// Periods, throttled periods and throttled time.
    pub cpu_throttling: bool,
    pub cpu_quota: bool,
    /// PSI, indexed like [`PsiResource::ALL`].
    pub psi: [bool; 3],
    pub io: bool,
}

impl Needs {
    /// Every number.
    pub const ALL: Needs = Needs {
        pids_current: true,
        pids_max: true,
        pids_max_hits: true,
        memory_usage: true,
        memory_max: true,
        oom_kills: true,
        memory_max_hits: true,
        cpu_usage: true,
        cpu_throttling: true,
        cpu_quota: true,
        psi: [true; 3],
        io: true,
    };

    pub fn union(self, o: Needs) -> Needs {
        Needs {
            pids_current: self.pids_current || o.pids_current,
            pids_max: self.pids_max || o.pids_max,
            pids_max_hits: self.pids_max_hits || o.pids_max_hits,
            memory_usage: self.memory_usage || o.memory_usage,
            memory_max: self.memory_max || o.memory_max,
            oom_kills: self.oom_kills || o.oom_kills,
            memory_max_hits: self.memory_max_hits || o.memory_max_hits,
            cpu_usage: self.cpu_usage || o.cpu_usage,
            cpu_throttling: self.cpu_throttling || o.cpu_throttling,
            cpu_quota: self.cpu_quota || o.cpu_quota,
            psi: [0, 1, 2].map(|i| self.psi[i] || o.psi[i]),
            io: self.io || o.io,
        }
    }

    fn pids(&self) -> bool {
        self.pids_current || self.pids_max || self.pids_max_hits
    }

    fn memory(&self) -> bool {
        self.memory_usage || self.memory_max || self.oom_kills || self.memory_max_hits
    }
}

/// Which hierarchy a controller is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Undecided,
    V2,
    V1,
}

/// Reads one cgroup's files, keeping them open ([`Files`]).
#[derive(Debug)]
pub struct CgroupReader {
    dirs: CgroupDirs,
    files: Files,
    /// The limits last read, in which pass and for which needs.
    limits: (Option<Limit>, Option<Limit>, Option<CpuQuota>),
    limits_read: Option<(u64, Needs)>,
    pids: Source,
    memory: Source,
    cpu_limits: Source,
    /// The latest reading, the pass of the last full one and its needs:
    /// what a quiet pass carries over.
    kept: Option<Kept>,
    /// The last full reading took block I/O from v2 `io.stat`.
    io_v2: bool,
}

#[derive(Debug)]
struct Kept {
    sample: CgroupSample,
    full_pass: u64,
    needs: Needs,
}

impl CgroupReader {
    pub fn new(dirs: CgroupDirs) -> CgroupReader {
        CgroupReader {
            dirs,
            files: Files::default(),
            limits: (None, None, None),
            limits_read: None,
            pids: Source::Undecided,
            memory: Source::Undecided,
            cpu_limits: Source::Undecided,
            kept: None,
            io_v2: false,
        }
    }

    pub fn dirs(&self) -> &CgroupDirs {
        &self.dirs
    }

    /// Files this reader holds open.
    pub fn open_files(&self) -> usize {
        self.files.open()
    }

    /// Reads every controller file once, whatever earlier reads found.
    pub fn sample(&mut self) -> CgroupSample {
        self.limits_read = None;
        self.files.retry_failed();
        self.sample_with(&mut ReadCtx::new(FdBudget::new(usize::MAX)), Needs::ALL)
    }

    /// Reads what `needs` asks for through `ctx`: one buffer and one
    /// descriptor budget shared by every reader of a sampler. Limits
    /// change rarely (an operator's `docker update`): they are read every
    /// [`LIMITS_EVERY`] passes and reused between, and read at once when a
    /// held file turned out stale (the cgroup was made again).
    pub fn sample_with(&mut self, ctx: &mut ReadCtx, needs: Needs) -> CgroupSample {
        self.sample_full(ctx, needs, CgroupSample::default())
    }

    /// One sampling pass's reading, as [`CgroupReader::sample_with`] but
    /// cheap for a quiet cgroup. A cgroup whose CPU time has not moved since
    /// the last pass ran no task, so what only its tasks change (task
    /// counts, memory they charge, OOM kills, throttling, v1 block I/O) is
    /// carried over, and the pass costs one `cpu.stat` read. What moves
    /// while the tasks do not run is read again: a resource's pressure when
    /// the host's moved (tasks waiting for CPU, memory or disk do not run),
    /// and v2 `io.stat` (writeback is charged to the cgroup that dirtied
    /// the pages; v1 charges it to the root). A full reading every
    /// [`QUIET_REFRESH`] passes bounds what carrying misses: memory charged
    /// outside the tasks (socket buffers) or reclaimed from them.
    pub fn sample_pass(&mut self, ctx: &mut ReadCtx, needs: Needs) -> CgroupSample {
        let mut probe = CgroupSample::default();
        if needs.cpu_usage {
            read_cpu_usage(&mut self.files, ctx, &self.dirs, needs, &mut probe);
        }
        let quiet = self.kept.as_ref().is_some_and(|k| {
            k.needs == needs
                && ctx.pass.saturating_sub(k.full_pass) < QUIET_REFRESH
                && probe.cpu_usage_usec.is_some()
                && probe.cpu_usage_usec == k.sample.cpu_usage_usec
        }) && !self.files.reopened();
        if !quiet {
            return self.sample_full(ctx, needs, probe);
        }
        let kept = self.kept.as_mut().expect("quiet implies kept");
        let s = &mut kept.sample;
        if let Some(v2) = &self.dirs.v2 {
            for (i, r) in PsiResource::ALL.into_iter().enumerate() {
                if needs.psi[i] && ctx.psi_moved[i] {
                    s.set_psi(r, read_psi(&mut self.files, ctx, v2, r));
                }
            }
            if needs.io && self.io_v2 {
                s.io = read_io_v2(&mut self.files, ctx, v2);
            }
        }
        s.clone()
    }

    /// Reads everything `needs` asks for, starting from what `s` already
    /// holds (the CPU usage a pass read first).
    fn sample_full(
        &mut self,
        ctx: &mut ReadCtx,
        needs: Needs,
        mut s: CgroupSample,
    ) -> CgroupSample {
        let limits = Needs {
            pids_max: needs.pids_max,
            memory_max: needs.memory_max,
            cpu_quota: needs.cpu_quota,
            ..Needs::default()
        };
        let others = Needs {
            pids_max: false,
            memory_max: false,
            cpu_quota: false,
            ..needs
        };
        self.read(ctx, others, &mut s);
        let due = self.limits_read.is_none_or(|(pass, asked)| {
            ctx.pass.saturating_sub(pass) >= LIMITS_EVERY || asked != limits
        });
        if due || self.files.take_reopened() {
            self.read(ctx, limits, &mut s);
            self.limits = (s.pids_max, s.memory_max, s.cpu_quota);
            self.limits_read = Some((ctx.pass, limits));
        } else {
            (s.pids_max, s.memory_max, s.cpu_quota) = self.limits;
        }
        self.kept = Some(Kept {
            sample: s.clone(),
            full_pass: ctx.pass,
            needs,
        });
        s
    }

    fn read(&mut self, ctx: &mut ReadCtx, needs: Needs, s: &mut CgroupSample) {
        let (dirs, files) = (&self.dirs, &mut self.files);
        if needs.pids() {
            self.pids = decide(self.pids, dirs, "pids.current", dirs.pids.as_ref());
            read_pids(files, ctx, dirs, self.pids, needs, s);
        }
        if needs.memory() {
            self.memory = decide_memory(self.memory, dirs);
            read_memory(files, ctx, dirs, self.memory, needs, s);
        }
        if needs.cpu_usage || needs.cpu_throttling {
            read_cpu_usage(files, ctx, dirs, needs, s);
            read_cpu_throttling(files, ctx, dirs, needs, s);
        }
        if needs.cpu_quota {
            self.cpu_limits = decide(self.cpu_limits, dirs, "cpu.max", None);
            if self.cpu_limits == Source::Undecided
                && dirs
                    .cpu
                    .as_ref()
                    .is_some_and(|d| d.join("cpu.cfs_quota_us").exists())
            {
                self.cpu_limits = Source::V1;
            }
            read_cpu_quota(files, ctx, dirs, self.cpu_limits, s);
        }
        if let Some(v2) = &dirs.v2 {
            for (i, r) in PsiResource::ALL.into_iter().enumerate() {
                if needs.psi[i] {
                    s.set_psi(r, read_psi(files, ctx, v2, r));
                }
            }
            if needs.io {
                s.io = read_io_v2(files, ctx, v2);
                self.io_v2 = s.io.is_some();
            }
        }
        if needs.io && s.io.is_none() {
            // v1 (hybrid and legacy hosts): the blkio controller's totals.
            if let Some(d) = &dirs.blkio {
                let mut total = |f| {
                    files
                        .read(ctx, d, Dir::Blkio, f)
                        .and_then(|t| keyed(t, "Total"))
                };
                if let (Some(bytes), Some(ops)) = (
                    total("blkio.throttle.io_service_bytes_recursive"),
                    total("blkio.throttle.io_serviced_recursive"),
                ) {
                    s.io = Some(IoStat { bytes, ops });
                }
            }
        }
    }
}

/// Decides a controller's source by which of its key files exists.
fn decide(current: Source, dirs: &CgroupDirs, key: &str, v1: Option<&PathBuf>) -> Source {
    if current != Source::Undecided {
        return current;
    }
    if dirs.v2.as_ref().is_some_and(|d| d.join(key).exists()) {
        Source::V2
    } else if v1.is_some_and(|d| d.join(key).exists()) {
        Source::V1
    } else {
        Source::Undecided
    }
}

fn decide_memory(current: Source, dirs: &CgroupDirs) -> Source {
    match decide(current, dirs, "memory.current", None) {
        Source::Undecided
            if dirs
                .memory
                .as_ref()
                .is_some_and(|d| d.join("memory.usage_in_bytes").exists()) =>
        {
            Source::V1
        }
        decided => decided,
    }
}

/// The directory a decided controller is read from, and its [`Dir`].
fn dir_for<'d>(
    src: Source,
    v2: &'d Option<PathBuf>,
    v1: &'d Option<PathBuf>,
    v1_dir: Dir,
) -> Option<(&'d Path, Dir)> {
    match src {
        Source::V2 => Some((v2.as_deref()?, Dir::V2)),
        Source::V1 => Some((v1.as_deref()?, v1_dir)),
        Source::Undecided => None,
    }
}

fn read_pids(
    files: &mut Files,
    ctx: &mut ReadCtx,
    dirs: &CgroupDirs,
    src: Source,
    needs: Needs,
    s: &mut CgroupSample,
) {
    // The pids controller's files have the same names in v1 and v2.
    let Some((d, k)) = dir_for(src, &dirs.v2, &dirs.pids, Dir::Pids) else {
        return;
    };
    if needs.pids_current {
        s.pids_current = files.read(ctx, d, k, "pids.current").and_then(parse_u64);
    }
    if needs.pids_max {
        s.pids_max = files.read(ctx, d, k, "pids.max").and_then(parse_limit);
    }
    if needs.pids_max_hits {
        s.pids_max_hits = files
            .read(ctx, d, k, "pids.events")
            .and_then(|t| keyed(t, "max"));
    }
}

fn read_memory(
    files: &mut Files,
    ctx: &mut ReadCtx,
    dirs: &CgroupDirs,
    src: Source,
    needs: Needs,
    s: &mut CgroupSample,
) {
    let Some((d, k)) = dir_for(src, &dirs.v2, &dirs.memory, Dir::Memory) else {
        return;
    };
    let v2 = k == Dir::V2;
    // (v2 name, v1 name) of each file.
    let name = |v2_name, v1_name| if v2 { v2_name } else { v1_name };
    if needs.memory_usage {
        let usage = name("memory.current", "memory.usage_in_bytes");
        s.memory_usage = files.read(ctx, d, k, usage).and_then(parse_u64);
        let key = name("inactive_file", "total_inactive_file");
        s.memory_inactive_file = files
            .read(ctx, d, k, "memory.stat")
            .and_then(|t| keyed(t, key));
    }
    if needs.memory_max {
        let max = name("memory.max", "memory.limit_in_bytes");
        s.memory_max = files.read(ctx, d, k, max).and_then(parse_limit);
    }
    if v2 {
        if needs.oom_kills || needs.memory_max_hits {
            if let Some(t) = files.read(ctx, d, k, "memory.events") {
                s.oom_kills = keyed(t, "oom_kill");
                s.memory_max_hits = keyed(t, "max");
            }
        }
    } else {
        if needs.oom_kills {
            s.oom_kills = files
                .read(ctx, d, k, "memory.oom_control")
                .and_then(|t| keyed(t, "oom_kill"));
        }
        if needs.memory_max_hits {
            s.memory_max_hits = files.read(ctx, d, k, "memory.failcnt").and_then(parse_u64);
        }
    }
}

fn read_psi(files: &mut Files, ctx: &mut ReadCtx, v2: &Path, r: PsiResource) -> Option<Psi> {
    files
        .read(ctx, v2, Dir::V2, r.cgroup_file())
        .and_then(parse_psi)
}

fn read_io_v2(files: &mut Files, ctx: &mut ReadCtx, v2: &Path) -> Option<IoStat> {
    files.read(ctx, v2, Dir::V2, "io.stat").map(parse_io_stat)
}

/// CPU time used (and, where the v2 `cpu.stat` has them, the throttling
/// counts), unless `s` has it already.
fn read_cpu_usage(
    files: &mut Files,
    ctx: &mut ReadCtx,
    dirs: &CgroupDirs,
    needs: Needs,
    s: &mut CgroupSample,
) {
    if s.cpu_usage_usec.is_some() {
        return;
    }
    // v2 cpu.stat exists in every v2 cgroup and always carries usage;
    // the throttling fields appear only where the cpu controller is
    // enabled, so on hybrid hosts they come from v1 `cpu.stat`.
    if let Some(v2) = &dirs.v2 {
        if let Some(t) = files.read(ctx, v2, Dir::V2, "cpu.stat") {
            s.cpu_usage_usec = keyed(t, "usage_usec");
            if needs.cpu_throttling {
                s.cpu_nr_periods = keyed(t, "nr_periods");
                s.cpu_nr_throttled = keyed(t, "nr_throttled");
                s.cpu_throttled_usec = keyed(t, "throttled_usec");
            }
        }
    }
    if needs.cpu_usage && s.cpu_usage_usec.is_none() {
        if let Some(d) = &dirs.cpuacct {
            s.cpu_usage_usec = files
                .read(ctx, d, Dir::Cpuacct, "cpuacct.usage")
                .and_then(parse_u64)
                .map(|ns| ns / 1000);
        }
    }
}

/// The throttling counts from v1 `cpu.stat` when v2's had none.
fn read_cpu_throttling(
    files: &mut Files,
    ctx: &mut ReadCtx,
    dirs: &CgroupDirs,
    needs: Needs,
    s: &mut CgroupSample,
) {
    if needs.cpu_throttling && s.cpu_nr_periods.is_none() {
        if let Some(d) = &dirs.cpu {
            if let Some(t) = files.read(ctx, d, Dir::Cpu, "cpu.stat") {
                s.cpu_nr_periods = keyed(t, "nr_periods");
                s.cpu_nr_throttled = keyed(t, "nr_throttled");
                s.cpu_throttled_usec = keyed(t, "throttled_time").map(|ns| ns / 1000);
            }
        }
    }
}

fn read_cpu_quota(
    files: &mut Files,
    ctx: &mut ReadCtx,
    dirs: &CgroupDirs,
    src: Source,
    s: &mut CgroupSample,
) {
    match dir_for(src, &dirs.v2, &dirs.cpu, Dir::Cpu) {
        Some((d, Dir::V2)) => {
            s.cpu_quota = files
                .read(ctx, d, Dir::V2, "cpu.max")
                .and_then(parse_cpu_max);
        }
        Some((d, k)) => {
            let quota = files
                .read(ctx, d, k, "cpu.cfs_quota_us")
                .and_then(parse_i64);
            let period = files
                .read(ctx, d, k, "cpu.cfs_period_us")
                .and_then(parse_u64);
            if let (Some(q), Some(p)) = (quota, period) {
                s.cpu_quota = Some(CpuQuota {
                    quota_us: u64::try_from(q).ok(),
                    period_us: p,
                });
            }
        }
        None => {}
    }
}

#[cfg(test)]
mod tests;
