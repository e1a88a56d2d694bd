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
//! Every value is an `Option`: a missing or unreadable file, or one in an
//! unexpected format, leaves its fields `None` and sampling carries on.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::layout::CgroupDirs;
use crate::psi::{parse_psi, Psi, PsiResource};

/// v1 limits at or above this are "unlimited": the kernel reports
/// `PAGE_COUNTER_MAX` pages in bytes (0x7FFFFFFFFFFFF000 with 4 KiB pages),
/// which varies with the page size.
const V1_UNLIMITED: u64 = 1 << 62;

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

/// Which hierarchy a controller is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Undecided,
    V2,
    V1,
}

/// Reads one cgroup's files.
#[derive(Debug)]
pub struct CgroupReader {
    dirs: CgroupDirs,
    pids: Source,
    memory: Source,
    cpu_limits: Source,
}

impl CgroupReader {
    pub fn new(dirs: CgroupDirs) -> CgroupReader {
        CgroupReader {
            dirs,
            pids: Source::Undecided,
            memory: Source::Undecided,
            cpu_limits: Source::Undecided,
        }
    }

    pub fn dirs(&self) -> &CgroupDirs {
        &self.dirs
    }

    /// Reads every controller file once.
    pub fn sample(&mut self) -> CgroupSample {
        self.sample_with(&mut String::new())
    }

    /// As [`CgroupReader::sample`], reading through `buf`: one buffer
    /// shared by every reader keeps a sampler of hundreds of cgroups from
    /// holding hundreds of buffers.
    pub fn sample_with(&mut self, buf: &mut String) -> CgroupSample {
        let mut s = CgroupSample::default();
        self.read_pids(buf, &mut s);
        self.read_memory(buf, &mut s);
        self.read_cpu(buf, &mut s);
        if let Some(v2) = self.dirs.v2.clone() {
            s.psi_cpu = read(buf, &v2, "cpu.pressure").and_then(parse_psi);
            s.psi_memory = read(buf, &v2, "memory.pressure").and_then(parse_psi);
            s.psi_io = read(buf, &v2, "io.pressure").and_then(parse_psi);
            s.io = read(buf, &v2, "io.stat").map(parse_io_stat);
        }
        if s.io.is_none() {
            // v1 (hybrid and legacy hosts): the blkio controller's totals.
            if let Some(d) = self.dirs.blkio.clone() {
                let total = |buf: &mut String, f| read(buf, &d, f).and_then(|t| keyed(t, "Total"));
                if let (Some(bytes), Some(ops)) = (
                    total(buf, "blkio.throttle.io_service_bytes_recursive"),
                    total(buf, "blkio.throttle.io_serviced_recursive"),
                ) {
                    s.io = Some(IoStat { bytes, ops });
                }
            }
        }
        s
    }

    /// Decides a controller's source by which of its key files exists.
    fn decide(&self, current: Source, key: &str, v1: Option<&PathBuf>) -> Source {
        if current != Source::Undecided {
            return current;
        }
        if self.dirs.v2.as_ref().is_some_and(|d| d.join(key).exists()) {
            Source::V2
        } else if v1.is_some_and(|d| d.join(key).exists()) {
            Source::V1
        } else {
            Source::Undecided
        }
    }

    fn dir_for(&self, src: Source, v1: &Option<PathBuf>) -> Option<PathBuf> {
        match src {
            Source::V2 => self.dirs.v2.clone(),
            Source::V1 => v1.clone(),
            Source::Undecided => None,
        }
    }

    fn read_pids(&mut self, buf: &mut String, s: &mut CgroupSample) {
        // The pids controller's files have the same names in v1 and v2.
        self.pids = self.decide(self.pids, "pids.current", self.dirs.pids.as_ref());
        let Some(dir) = self.dir_for(self.pids, &self.dirs.pids) else {
            return;
        };
        s.pids_current = read(buf, &dir, "pids.current").and_then(parse_u64);
        s.pids_max = read(buf, &dir, "pids.max").and_then(parse_limit);
        s.pids_max_hits = read(buf, &dir, "pids.events").and_then(|t| keyed(t, "max"));
    }

    fn read_memory(&mut self, buf: &mut String, s: &mut CgroupSample) {
        self.memory = match self.memory {
            Source::Undecided => {
                let v2 = self.decide(Source::Undecided, "memory.current", None);
                if v2 == Source::V2 {
                    v2
                } else if self
                    .dirs
                    .memory
                    .as_ref()
                    .is_some_and(|d| d.join("memory.usage_in_bytes").exists())
                {
                    Source::V1
                } else {
                    Source::Undecided
                }
            }
            decided => decided,
        };
        match self.memory {
            Source::V2 => {
                let dir = self.dirs.v2.clone().expect("decided on v2");
                s.memory_usage = read(buf, &dir, "memory.current").and_then(parse_u64);
                s.memory_max = read(buf, &dir, "memory.max").and_then(parse_limit);
                s.memory_inactive_file =
                    read(buf, &dir, "memory.stat").and_then(|t| keyed(t, "inactive_file"));
                if let Some(t) = read(buf, &dir, "memory.events") {
                    s.oom_kills = keyed(t, "oom_kill");
                    s.memory_max_hits = keyed(t, "max");
                }
            }
            Source::V1 => {
                let dir = self.dirs.memory.clone().expect("decided on v1");
                s.memory_usage = read(buf, &dir, "memory.usage_in_bytes").and_then(parse_u64);
                s.memory_max = read(buf, &dir, "memory.limit_in_bytes").and_then(parse_limit);
                s.memory_inactive_file =
                    read(buf, &dir, "memory.stat").and_then(|t| keyed(t, "total_inactive_file"));
                s.oom_kills =
                    read(buf, &dir, "memory.oom_control").and_then(|t| keyed(t, "oom_kill"));
                s.memory_max_hits = read(buf, &dir, "memory.failcnt").and_then(parse_u64);
            }
            Source::Undecided => {}
        }
    }

    fn read_cpu(&mut self, buf: &mut String, s: &mut CgroupSample) {
        // v2 cpu.stat exists in every v2 cgroup and always carries usage;
        // the throttling fields appear only where the cpu controller is
        // enabled, so on hybrid hosts they come from v1 `cpu.stat`.
        if let Some(v2) = self.dirs.v2.clone() {
            if let Some(t) = read(buf, &v2, "cpu.stat") {
                s.cpu_usage_usec = keyed(t, "usage_usec");
                s.cpu_nr_periods = keyed(t, "nr_periods");
                s.cpu_nr_throttled = keyed(t, "nr_throttled");
                s.cpu_throttled_usec = keyed(t, "throttled_usec");
            }
        }
        if s.cpu_usage_usec.is_none() {
            if let Some(d) = self.dirs.cpuacct.clone() {
                s.cpu_usage_usec = read(buf, &d, "cpuacct.usage")
                    .and_then(parse_u64)
                    .map(|ns| ns / 1000);
            }
        }
        if s.cpu_nr_periods.is_none() {
            if let Some(d) = self.dirs.cpu.clone() {
                if let Some(t) = read(buf, &d, "cpu.stat") {
                    s.cpu_nr_periods = keyed(t, "nr_periods");
                    s.cpu_nr_throttled = keyed(t, "nr_throttled");
                    s.cpu_throttled_usec = keyed(t, "throttled_time").map(|ns| ns / 1000);
                }
            }
        }
        self.cpu_limits = self.decide(self.cpu_limits, "cpu.max", None);
        if self.cpu_limits == Source::Undecided
            && self
                .dirs
                .cpu
                .as_ref()
                .is_some_and(|d| d.join("cpu.cfs_quota_us").exists())
        {
            self.cpu_limits = Source::V1;
        }
        match self.cpu_limits {
            Source::V2 => {
                let dir = self.dirs.v2.clone().expect("decided on v2");
                s.cpu_quota = read(buf, &dir, "cpu.max").and_then(parse_cpu_max);
            }
            Source::V1 => {
                let dir = self.dirs.cpu.clone().expect("decided on v1");
                let quota = read(buf, &dir, "cpu.cfs_quota_us").and_then(parse_i64);
                let period = read(buf, &dir, "cpu.cfs_period_us").and_then(parse_u64);
                if let (Some(q), Some(p)) = (quota, period) {
                    s.cpu_quota = Some(CpuQuota {
                        quota_us: u64::try_from(q).ok(),
                        period_us: p,
                    });
                }
            }
            Source::Undecided => {}
        }
    }
}

/// The file's contents in `buf`, `None` on any error.
fn read<'b>(buf: &'b mut String, dir: &Path, file: &str) -> Option<&'b str> {
    buf.clear();
    let mut f = File::open(dir.join(file)).ok()?;
    f.read_to_string(buf).ok()?;
    Some(buf)
}

pub(crate) fn parse_u64(t: &str) -> Option<u64> {
    t.trim().parse().ok()
}

fn parse_i64(t: &str) -> Option<i64> {
    t.trim().parse().ok()
}

/// `max` or a number; v1's "unlimited" numbers read as [`Limit::Max`].
pub(crate) fn parse_limit(t: &str) -> Option<Limit> {
    let t = t.trim();
    if t == "max" {
        return Some(Limit::Max);
    }
    let v: u64 = t.parse().ok()?;
    Some(if v >= V1_UNLIMITED {
        Limit::Max
    } else {
        Limit::Value(v)
    })
}

/// v2 `cpu.max`: `<quota|max> <period>`.
pub(crate) fn parse_cpu_max(t: &str) -> Option<CpuQuota> {
    let mut it = t.split_ascii_whitespace();
    let quota = it.next()?;
    let period = it.next().map_or(Some(100_000), |p| p.parse().ok())?;
    let quota_us = if quota == "max" {
        None
    } else {
        Some(quota.parse().ok()?)
    };
    Some(CpuQuota {
        quota_us,
        period_us: period,
    })
}

/// The value of `key` in a flat-keyed file (`key value` per line).
/// v2 `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N
/// dios=N` per device, summed. An empty file (no I/O yet) is all zeros.
pub(crate) fn parse_io_stat(t: &str) -> IoStat {
    let mut io = IoStat::default();
    for (k, v) in t
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse::<u64>().ok()?)))
    {
        match k {
            "rbytes" | "wbytes" => io.bytes = io.bytes.saturating_add(v),
            "rios" | "wios" => io.ops = io.ops.saturating_add(v),
            _ => {}
        }
    }
    io
}

pub(crate) fn keyed(t: &str, key: &str) -> Option<u64> {
    t.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests;
