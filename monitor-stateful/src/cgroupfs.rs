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
mod tests {
    use super::*;
    use crate::layout::CgroupLayout;
    use std::fs;

    #[test]
    fn io_stat_sums_devices() {
        let t = "8:0 rbytes=4096 wbytes=1048576 rios=1 wios=8 dbytes=0 dios=0\n\
                 254:0 rbytes=0 wbytes=512 rios=0 wios=1 dbytes=7 dios=1\n";
        assert_eq!(
            parse_io_stat(t),
            IoStat {
                bytes: 4096 + 1_048_576 + 512,
                ops: 10
            }
        );
        assert_eq!(parse_io_stat(""), IoStat::default());
    }

    #[test]
    fn limit_parsing() {
        assert_eq!(parse_limit("max\n"), Some(Limit::Max));
        assert_eq!(parse_limit("9223372036854771712\n"), Some(Limit::Max));
        assert_eq!(parse_limit("67108864\n"), Some(Limit::Value(64 << 20)));
        assert_eq!(parse_limit("lots"), None);
        assert_eq!(
            parse_cpu_max("50000 100000\n"),
            Some(CpuQuota {
                quota_us: Some(50000),
                period_us: 100000
            })
        );
        assert_eq!(parse_cpu_max("max 100000\n").unwrap().cpus(), None);
        assert_eq!(parse_cpu_max("x 100000"), None);
        assert_eq!(keyed("oom 1\noom_kill 3\n", "oom_kill"), Some(3));
        assert_eq!(
            keyed("oom_kill_disable 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(keyed("oom 1\n", "oom_kill"), None);
    }

    /// A fake sysfs tree under a temp dir, mounted as `mountinfo` says.
    struct Tree {
        dir: tempfile::TempDir,
    }

    impl Tree {
        fn new() -> Tree {
            Tree {
                dir: tempfile::tempdir().unwrap(),
            }
        }
        fn write(&self, rel: &str, contents: &str) {
            let p = self.dir.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, contents).unwrap();
        }
        fn mountinfo(&self, mounts: &[(&str, &str, &str)]) -> CgroupLayout {
            let mut text = String::new();
            for (i, (mp, fstype, opts)) in mounts.iter().enumerate() {
                text += &format!(
                    "{} 1 0:{} / {} rw - {} {} {}\n",
                    40 + i,
                    30 + i,
                    self.dir.path().join(mp).display(),
                    fstype,
                    fstype,
                    opts
                );
            }
            CgroupLayout::from_mountinfo(&text)
        }
    }

    const CG: &str = "/libpod_parent/libpod-3f1e";

    #[test]
    fn pure_v2_cgroup() {
        let t = Tree::new();
        let d = "cg/libpod_parent/libpod-3f1e";
        t.write(&format!("{d}/pids.current"), "17\n");
        t.write(&format!("{d}/pids.max"), "20\n");
        t.write(&format!("{d}/pids.events"), "max 4\n");
        t.write(&format!("{d}/memory.current"), "60817408\n");
        t.write(&format!("{d}/memory.max"), "67108864\n");
        t.write(
            &format!("{d}/memory.stat"),
            "anon 50331648\nfile 10485760\nkernel 1048576\nactive_file 2097152\ninactive_file 8388608\n",
        );
        t.write(
            &format!("{d}/memory.events"),
            "low 0\nhigh 0\nmax 212\noom 2\noom_kill 2\noom_group_kill 0\n",
        );
        t.write(
            &format!("{d}/cpu.stat"),
            "usage_usec 8123456\nuser_usec 8000000\nsystem_usec 123456\nnice_usec 0\n\
             core_sched.force_idle_usec 0\nnr_periods 150\nnr_throttled 140\n\
             throttled_usec 6543210\nnr_bursts 0\nburst_usec 0\n",
        );
        t.write(&format!("{d}/cpu.max"), "20000 100000\n");
        t.write(
            &format!("{d}/cpu.pressure"),
            "some avg10=75.00 avg60=40.00 avg300=10.00 total=6000000\n\
             full avg10=70.00 avg60=38.00 avg300=9.00 total=5800000\n",
        );
        t.write(
            &format!("{d}/memory.pressure"),
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        );
        let layout = t.mountinfo(&[("cg", "cgroup2", "rw,nsdelegate")]);
        let mut r = CgroupReader::new(layout.resolve(CG).unwrap());
        let s = r.sample();
        assert_eq!(s.pids_current, Some(17));
        assert_eq!(s.pids_max, Some(Limit::Value(20)));
        assert_eq!(s.pids_max_hits, Some(4));
        assert_eq!(s.memory_usage, Some(60817408));
        assert_eq!(s.memory_working_set(), Some(60817408 - 8388608));
        assert_eq!(s.memory_max, Some(Limit::Value(64 << 20)));
        assert_eq!(s.oom_kills, Some(2));
        assert_eq!(s.memory_max_hits, Some(212));
        assert_eq!(s.cpu_usage_usec, Some(8123456));
        assert_eq!(s.cpu_nr_periods, Some(150));
        assert_eq!(s.cpu_nr_throttled, Some(140));
        assert_eq!(s.cpu_throttled_usec, Some(6543210));
        assert_eq!(s.cpu_quota.unwrap().cpus(), Some(0.2));
        assert_eq!(s.psi_cpu.unwrap().some.unwrap().total_us, 6000000);
        assert_eq!(s.psi_memory.unwrap().full.unwrap().avg10, 0.0);
        assert_eq!(s.psi_io, None);
    }

    /// Hybrid, as on this build machine: v1 controllers plus a
    /// controller-less v2 mount that only has cpu.stat usage and PSI.
    #[test]
    fn hybrid_cgroup() {
        let t = Tree::new();
        let p = "libpod_parent/libpod-3f1e";
        t.write(
            &format!("unified/{p}/cpu.stat"),
            "usage_usec 2500000\nuser_usec 2400000\nsystem_usec 100000\nnice_usec 0\n",
        );
        t.write(
            &format!("unified/{p}/cpu.pressure"),
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n",
        );
        t.write(&format!("pids/{p}/pids.current"), "3\n");
        t.write(&format!("pids/{p}/pids.max"), "max\n");
        t.write(&format!("pids/{p}/pids.events"), "max 0\n");
        t.write(&format!("memory/{p}/memory.usage_in_bytes"), "1048576\n");
        t.write(
            &format!("memory/{p}/memory.limit_in_bytes"),
            "9223372036854771712\n",
        );
        t.write(
            &format!("memory/{p}/memory.stat"),
            "cache 0\nrss 1048576\ninactive_file 0\nhierarchical_memory_limit 9223372036854771712\n\
             total_cache 4096\ntotal_rss 1048576\ntotal_inactive_file 4096\n",
        );
        t.write(
            &format!("memory/{p}/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        );
        t.write(&format!("memory/{p}/memory.failcnt"), "7\n");
        t.write(
            &format!("cpu/{p}/cpu.stat"),
            "nr_periods 20\nnr_throttled 5\nthrottled_time 300000000\nnr_bursts 0\nburst_time 0\n",
        );
        t.write(&format!("cpu/{p}/cpu.cfs_quota_us"), "50000\n");
        t.write(&format!("cpu/{p}/cpu.cfs_period_us"), "100000\n");
        t.write(&format!("cpuacct/{p}/cpuacct.usage"), "2600000000\n");
        let layout = t.mountinfo(&[
            ("cpu", "cgroup", "rw,cpu"),
            ("cpuacct", "cgroup", "rw,cpuacct"),
            ("memory", "cgroup", "rw,memory"),
            ("pids", "cgroup", "rw,pids"),
            ("unified", "cgroup2", "rw"),
        ]);
        let mut r = CgroupReader::new(layout.resolve(CG).unwrap());
        let s = r.sample();
        assert_eq!(s.pids_current, Some(3));
        assert_eq!(s.pids_max, Some(Limit::Max));
        assert_eq!(s.pids_max_hits, Some(0));
        assert_eq!(s.memory_usage, Some(1048576));
        assert_eq!(s.memory_working_set(), Some(1048576 - 4096));
        assert_eq!(s.memory_max, Some(Limit::Max));
        assert_eq!(s.oom_kills, Some(1));
        assert_eq!(s.memory_max_hits, Some(7));
        // v2 usage wins over cpuacct when present.
        assert_eq!(s.cpu_usage_usec, Some(2500000));
        assert_eq!(s.cpu_nr_periods, Some(20));
        assert_eq!(s.cpu_nr_throttled, Some(5));
        assert_eq!(s.cpu_throttled_usec, Some(300000));
        assert_eq!(s.cpu_quota.unwrap().cpus(), Some(0.5));
        assert_eq!(s.psi_cpu.unwrap().some.unwrap().total_us, 1234);
    }

    #[test]
    fn legacy_cgroup_uses_cpuacct_and_unlimited_quota() {
        let t = Tree::new();
        let p = "docker/abc";
        t.write(&format!("cpu,cpuacct/{p}/cpuacct.usage"), "2600000000\n");
        t.write(&format!("cpu,cpuacct/{p}/cpu.cfs_quota_us"), "-1\n");
        t.write(&format!("cpu,cpuacct/{p}/cpu.cfs_period_us"), "100000\n");
        t.write(
            &format!("cpu,cpuacct/{p}/cpu.stat"),
            "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
        );
        let layout = t.mountinfo(&[("cpu,cpuacct", "cgroup", "rw,cpu,cpuacct")]);
        let mut r = CgroupReader::new(layout.resolve("/docker/abc").unwrap());
        let s = r.sample();
        assert_eq!(s.cpu_usage_usec, Some(2600000));
        assert_eq!(
            s.cpu_quota,
            Some(CpuQuota {
                quota_us: None,
                period_us: 100000
            })
        );
        assert_eq!(s.pids_current, None);
        assert_eq!(s.memory_usage, None);
        assert_eq!(s.psi_cpu, None);
    }

    #[test]
    fn missing_cgroup_reads_as_nothing_then_appears() {
        let t = Tree::new();
        let layout = t.mountinfo(&[("cg", "cgroup2", "rw")]);
        let mut r = CgroupReader::new(layout.resolve(CG).unwrap());
        assert_eq!(r.sample(), CgroupSample::default());
        // Created later (the runtime populates it after we learned the id).
        t.write("cg/libpod_parent/libpod-3f1e/pids.current", "1\n");
        t.write("cg/libpod_parent/libpod-3f1e/memory.current", "4096\n");
        let s = r.sample();
        assert_eq!(s.pids_current, Some(1));
        assert_eq!(s.memory_usage, Some(4096));
    }

    #[test]
    fn garbage_contents_are_none() {
        let t = Tree::new();
        t.write("cg/x/pids.current", "seventeen\n");
        t.write("cg/x/pids.max", "\n");
        t.write("cg/x/memory.current", "");
        t.write("cg/x/memory.events", "oom_kill lots\n");
        t.write("cg/x/cpu.stat", "\0\0\0");
        t.write("cg/x/cpu.max", "max banana\n");
        let layout = t.mountinfo(&[("cg", "cgroup2", "rw")]);
        let s = CgroupReader::new(layout.resolve("/x").unwrap()).sample();
        assert_eq!(s, CgroupSample::default());
    }
}
