//! Periodic sampling of many containers' cgroups, and their windowed numbers.
//!
//! The agent registers each container's cgroup ([`Sampler::add`], keyed by
//! the cgroup v2 id the kernel stamps on every record) and calls
//! [`Sampler::sample_all`] once per interval (one second is the default
//! design point). A pass reads only what [`Sampler::set_needs`] asks for
//! (what the loaded rules' fields need: [`needs_of`]), from files each
//! reader keeps open, so it costs a few `pread`s per container, and one for
//! a container that has not run since the last pass. Each
//! container keeps a [`Window`] per raw series, so memory is bounded by
//! `containers × series × horizon / resolution`.
//!
//! Counts only the kernel sees (forks, failed forks, EMFILE/ENFILE, OOM kill
//! events) are pushed in with [`Sampler::record_counter`] (cumulative totals,
//! e.g. from a per-cgroup BPF map) or [`Sampler::add_count`] (one event at a
//! time). Rules then read derived numbers through [`Sampler::value`] with a
//! compiled [`FieldRef`]; the formulas are in `docs/resources.md`.

use std::collections::HashMap;
use std::time::Duration;

use crate::cgroupfs::{CgroupReader, CgroupSample, CpuQuota, FdBudget, Needs, ReadCtx};
use crate::layout::{CgroupLayout, LayoutError};
use crate::metrics::{FieldError, FieldRef, Metric};
use crate::psi::{HostPsi, Psi, PsiResource};
use crate::time::Timestamp;
use crate::windows::Window;

/// The cgroup v2 id (kernfs inode number) of a container's cgroup.
pub type CgroupId = u64;

/// Counts pushed from the kernel side, per cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// Processes created (fork/vfork/clone without CLONE_THREAD).
    Forks,
    /// fork/clone calls that failed with EAGAIN (pids.max or RLIMIT_NPROC).
    FailedForks,
    /// Calls that failed with EMFILE or ENFILE.
    Emfile,
    /// OOM kills seen on the kernel's OOM tracepoint.
    OomKills,
    /// Network bytes received and sent (the kernel's `cgroup_skb` counters).
    NetBytes,
    /// Network packets received and sent.
    NetPackets,
}

impl Counter {
    const ALL: [Counter; 6] = [
        Counter::Forks,
        Counter::FailedForks,
        Counter::Emfile,
        Counter::OomKills,
        Counter::NetBytes,
        Counter::NetPackets,
    ];

    const fn index(self) -> usize {
        self as usize
    }
}

/// Sampling resolution and history.
#[derive(Clone, Copy, Debug)]
pub struct SamplerConfig {
    /// At most one sample per series per `resolution`.
    pub resolution: Duration,
    /// The longest window rules may ask for.
    pub horizon: Duration,
    /// Online CPUs, for [`Metric::CpuHostPct`]; detected by [`Default`].
    pub cpus: usize,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            resolution: Duration::from_secs(1),
            horizon: Duration::from_secs(90),
            cpus: online_cpus(),
        }
    }
}

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl SamplerConfig {
    /// Checks that rules' windows fit this sampler (call when compiling).
    pub fn check_field(&self, field: &FieldRef) -> Result<(), FieldError> {
        field.check_window(self.resolution, self.horizon)
    }

    fn window(&self) -> Window {
        // +2: a window of exactly `horizon` still finds a base sample at or
        // before its start.
        let slots = (self.horizon.as_nanos() / self.resolution.as_nanos().max(1)) as usize + 2;
        Window::new(slots, self.resolution)
    }
}

/// Lazily allocated window: series a host does not have cost nothing.
#[derive(Debug, Default)]
struct Series(Option<Window>);

impl Series {
    fn push(&mut self, cfg: &SamplerConfig, at: Timestamp, v: Option<u64>) {
        if let Some(v) = v {
            self.0
                .get_or_insert_with(|| cfg.window())
                .push(at, v as f64);
        }
    }
    fn get(&self) -> Option<&Window> {
        self.0.as_ref()
    }
}

/// PSI `some`/`full` totals of one resource.
#[derive(Debug, Default)]
struct PsiSeries {
    some: Series,
    full: Series,
}

impl PsiSeries {
    fn push(&mut self, cfg: &SamplerConfig, at: Timestamp, psi: Option<&Psi>) {
        if let Some(p) = psi {
            self.some.push(cfg, at, p.some.map(|l| l.total_us));
            self.full.push(cfg, at, p.full.map(|l| l.total_us));
        }
    }
}

/// Per-container state.
#[derive(Debug, Default)]
struct Container {
    reader: Option<CgroupReader>,
    last: Option<CgroupSample>,
    last_update: Timestamp,
    cpu_usage_usec: Series,
    cpu_periods: Series,
    cpu_throttled: Series,
    oom_kills: Series,
    pids_max_hits: Series,
    pids_current: Series,
    memory_working_set: Series,
    io_bytes: Series,
    io_ops: Series,
    psi: [PsiSeries; 3],
    pushed: [Series; Counter::ALL.len()],
    /// Running totals behind [`Sampler::add_count`].
    pushed_totals: [u64; Counter::ALL.len()],
}

impl Container {
    fn ingest(&mut self, cfg: &SamplerConfig, at: Timestamp, s: CgroupSample) {
        self.cpu_usage_usec.push(cfg, at, s.cpu_usage_usec);
        self.cpu_periods.push(cfg, at, s.cpu_nr_periods);
        self.cpu_throttled.push(cfg, at, s.cpu_nr_throttled);
        self.oom_kills.push(cfg, at, s.oom_kills);
        self.pids_max_hits.push(cfg, at, s.pids_max_hits);
        self.pids_current.push(cfg, at, s.pids_current);
        self.memory_working_set
            .push(cfg, at, s.memory_working_set());
        self.io_bytes.push(cfg, at, s.io.map(|io| io.bytes));
        self.io_ops.push(cfg, at, s.io.map(|io| io.ops));
        for (i, r) in PsiResource::ALL.into_iter().enumerate() {
            self.psi[i].push(cfg, at, s.psi(r));
        }
        self.last = Some(s);
        self.last_update = at;
    }

    fn quota(&self) -> Option<CpuQuota> {
        self.last.as_ref()?.cpu_quota
    }
}

/// Samples every registered container's cgroup and answers windowed queries.
#[derive(Debug)]
pub struct Sampler {
    cfg: SamplerConfig,
    layout: CgroupLayout,
    host_psi: HostPsi,
    host: [PsiSeries; 3],
    /// The host's stall totals as the last pass read them.
    host_last: [Option<(Option<u64>, Option<u64>)>; 3],
    containers: HashMap<CgroupId, Container>,
    /// What a pass reads of each cgroup.
    needs: Needs,
    /// Read buffer and descriptor budget shared by every cgroup's reader.
    ctx: ReadCtx,
}

impl Sampler {
    pub fn new(layout: CgroupLayout, cfg: SamplerConfig) -> Sampler {
        Sampler::with_host_psi(layout, cfg, HostPsi::default())
    }

    /// As [`Sampler::new`], reading host PSI from `host_psi` (tests).
    pub fn with_host_psi(layout: CgroupLayout, cfg: SamplerConfig, host_psi: HostPsi) -> Sampler {
        Sampler {
            cfg,
            layout,
            host_psi,
            host: Default::default(),
            host_last: Default::default(),
            containers: HashMap::new(),
            needs: Needs::ALL,
            ctx: ReadCtx::new(FdBudget::from_rlimit()),
        }
    }

    /// Read only what `needs` asks for from now on (every number until
    /// called). Files no longer needed stay open until their container goes.
    pub fn set_needs(&mut self, needs: Needs) {
        self.needs = needs;
    }

    /// Cgroup files held open by every reader, and how many may be.
    pub fn open_files(&self) -> (usize, usize) {
        (self.ctx.budget.held(), self.ctx.budget.limit())
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    pub fn layout(&self) -> &CgroupLayout {
        &self.layout
    }

    /// The longest window [`Sampler::value`] can answer.
    pub fn horizon(&self) -> Duration {
        self.cfg.horizon
    }

    /// Starts sampling the cgroup at `cgroup_path` (relative to the
    /// hierarchy root) under `id`. Re-adding replaces the paths but keeps
    /// history.
    pub fn add(&mut self, id: CgroupId, cgroup_path: &str) -> Result<(), LayoutError> {
        let dirs = self.layout.resolve(cgroup_path)?;
        self.containers.entry(id).or_default().reader = Some(CgroupReader::new(dirs));
        Ok(())
    }

    /// Forgets a container and its history.
    pub fn remove(&mut self, id: CgroupId) {
        self.containers.remove(&id);
    }

    pub fn contains(&self, id: CgroupId) -> bool {
        self.containers.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.containers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
    }

    /// One pass over every registered cgroup and the host PSI files.
    /// Entries that only ever received pushed counters and saw none for a
    /// whole horizon are dropped (their cgroup is gone). Returns the number
    /// of cgroups read.
    pub fn sample_all(&mut self, at: Timestamp) -> usize {
        for (i, r) in PsiResource::ALL.into_iter().enumerate() {
            let p = self.host_psi.read(r);
            self.host[i].push(&self.cfg, at, p.as_ref());
            // The averages decay on their own; only the totals say a stall.
            let totals = p.map(|p| (p.some.map(|l| l.total_us), p.full.map(|l| l.total_us)));
            self.ctx.psi_moved[i] = totals.is_none() || totals != self.host_last[i];
            self.host_last[i] = totals;
        }
        let cfg = self.cfg;
        let mut read = 0;
        self.ctx.pass += 1;
        let (ctx, needs) = (&mut self.ctx, self.needs);
        self.containers.retain(|_, c| match c.reader.as_mut() {
            Some(r) => {
                let s = r.sample_pass(ctx, needs);
                c.ingest(&cfg, at, s);
                read += 1;
                true
            }
            None => at.secs_since(c.last_update) <= cfg.horizon.as_secs_f64(),
        });
        read
    }

    /// Reads one cgroup now (e.g. right after an OOM event).
    pub fn sample_one(&mut self, id: CgroupId, at: Timestamp) -> bool {
        let cfg = self.cfg;
        let Some(c) = self.containers.get_mut(&id) else {
            return false;
        };
        let Some(r) = c.reader.as_mut() else {
            return false;
        };
        let s = r.sample_with(&mut self.ctx, self.needs);
        c.ingest(&cfg, at, s);
        true
    }

    /// The latest raw reading of a cgroup.
    pub fn last_sample(&self, id: CgroupId) -> Option<&CgroupSample> {
        self.containers.get(&id)?.last.as_ref()
    }

    /// Records a kernel-side cumulative count for a cgroup. A cgroup not yet
    /// registered gets a counter-only entry (the kernel may see a cgroup's
    /// forks before the agent has its path).
    pub fn record_counter(&mut self, id: CgroupId, counter: Counter, total: u64, at: Timestamp) {
        let cfg = self.cfg;
        let c = self.containers.entry(id).or_default();
        c.pushed_totals[counter.index()] = total;
        c.pushed[counter.index()].push(&cfg, at, Some(total));
        if c.reader.is_none() {
            c.last_update = c.last_update.max(at);
        }
    }

    /// Adds `n` events to a cgroup's count (event-driven counting).
    pub fn add_count(&mut self, id: CgroupId, counter: Counter, n: u64, at: Timestamp) {
        let c = self.containers.entry(id).or_default();
        let first = c.pushed[counter.index()].get().is_none();
        if first {
            // A base of zero, so the very first events count as growth.
            c.pushed[counter.index()].push(&self.cfg, at, Some(0));
        }
        let total = c.pushed_totals[counter.index()].saturating_add(n);
        self.record_counter(id, counter, total, at);
    }

    /// The value of a compiled field for cgroup `id` (ignored for `host.*`
    /// fields) as of `now`. `None` when the number is not known: the
    /// container is not sampled, the host lacks the file, the limit is
    /// `max` for a percentage of it, or there is not enough history yet.
    pub fn value(&self, id: CgroupId, field: &FieldRef, now: Timestamp) -> Option<f64> {
        let w = field.window.unwrap_or(Duration::ZERO);
        let host = |i: usize, full: bool| {
            let s = &self.host[i];
            let series = if full { &s.full } else { &s.some };
            series.get()?.slope(now, w).map(usec_per_sec_to_pct)
        };
        match field.metric {
            Metric::HostPsiSomePct(r) => return host(psi_index(r), false),
            Metric::HostPsiFullPct(r) => return host(psi_index(r), true),
            _ => {}
        }
        let c = self.containers.get(&id)?;
        let pushed_rate = |k: Counter| c.pushed[k.index()].get()?.rate(now, w);
        // Byte and packet totals are sampled every tick: growth over the
        // time the samples span, like the cgroup files' counters.
        let pushed_slope = |c: &Container, k: Counter| c.pushed[k.index()].get()?.slope(now, w);
        let pct_of = |gauge: &Series, limit: Option<u64>| {
            let limit = limit.filter(|&l| l > 0)? as f64;
            let g = gauge.get()?;
            let v = match field.window {
                Some(_) => g.max(now, w)?,
                None => g.last()?,
            };
            Some(v / limit * 100.0)
        };
        let cpu_pct = || {
            c.cpu_usage_usec
                .get()?
                .slope(now, w)
                .map(usec_per_sec_to_pct)
        };
        let last = c.last.as_ref();
        match field.metric {
            Metric::ForkRate => pushed_rate(Counter::Forks),
            Metric::FailedForkRate => max_opt(
                pushed_rate(Counter::FailedForks),
                c.pids_max_hits.get().and_then(|s| s.rate(now, w)),
            ),
            Metric::EmfileRate => pushed_rate(Counter::Emfile),
            Metric::OomKills => max_opt(
                c.oom_kills.get().and_then(|s| s.increase(now, w)),
                c.pushed[Counter::OomKills.index()]
                    .get()
                    .and_then(|s| s.increase(now, w)),
            ),
            Metric::CpuPct => cpu_pct(),
            Metric::CpuQuotaPct => {
                let cpus = c.quota()?.cpus().filter(|&n| n > 0.0)?;
                Some(cpu_pct()? / cpus)
            }
            Metric::CpuHostPct => Some(cpu_pct()? / self.cfg.cpus.max(1) as f64),
            Metric::CpuThrottledPct => {
                let periods = c.cpu_periods.get()?.increase(now, w)?;
                let throttled = c.cpu_throttled.get()?.increase(now, w)?;
                Some(if periods > 0.0 {
                    (throttled / periods * 100.0).min(100.0)
                } else {
                    0.0
                })
            }
            Metric::MemoryUsagePct => pct_of(
                &c.memory_working_set,
                last.and_then(|s| s.memory_max?.value()),
            ),
            Metric::MemoryUsage => gauge(&c.memory_working_set, field.window, now),
            Metric::MemoryLimit => last?.memory_max?.value().map(|v| v as f64),
            Metric::PidsUsagePct => pct_of(&c.pids_current, last.and_then(|s| s.pids_max?.value())),
            Metric::PidsCurrent => gauge(&c.pids_current, field.window, now),
            Metric::PidsMax => last?.pids_max?.value().map(|v| v as f64),
            Metric::PsiSomePct(r) => c.psi[psi_index(r)]
                .some
                .get()?
                .slope(now, w)
                .map(usec_per_sec_to_pct),
            Metric::PsiFullPct(r) => c.psi[psi_index(r)]
                .full
                .get()?
                .slope(now, w)
                .map(usec_per_sec_to_pct),
            Metric::IoBytesRate => c.io_bytes.get()?.slope(now, w),
            Metric::IoOpsRate => c.io_ops.get()?.slope(now, w),
            Metric::NetBytesRate => pushed_slope(c, Counter::NetBytes),
            Metric::NetPacketsRate => pushed_slope(c, Counter::NetPackets),
            Metric::NetBytesShare => {
                // Every container's rate over the same window: the share
                // of the traffic of all sampled containers that is this one's.
                let mine = pushed_slope(c, Counter::NetBytes)?;
                let all: f64 = self
                    .containers
                    .values()
                    .filter_map(|o| pushed_slope(o, Counter::NetBytes))
                    .sum();
                Some(if all > 0.0 { mine / all * 100.0 } else { 0.0 })
            }
            Metric::HostPsiSomePct(_) | Metric::HostPsiFullPct(_) => unreachable!("handled above"),
        }
    }

    /// The cgroups whose `field` is highest right now, best first: which
    /// container is behind host-wide pressure.
    pub fn top(&self, field: &FieldRef, now: Timestamp, n: usize) -> Vec<(CgroupId, f64)> {
        let mut v: Vec<_> = self
            .containers
            .keys()
            .filter_map(|&id| Some((id, self.value(id, field, now)?)))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// What a cgroup pass must read for `fields` ([`Sampler::value`]'s inputs
/// for each metric; `host.*` and pushed counters need no cgroup file).
pub fn needs_of<'f>(fields: impl IntoIterator<Item = &'f FieldRef>) -> Needs {
    fields
        .into_iter()
        .fold(Needs::default(), |n, f| n.union(metric_needs(f.metric)))
}

fn metric_needs(m: Metric) -> Needs {
    let mut n = Needs::default();
    match m {
        Metric::ForkRate
        | Metric::EmfileRate
        | Metric::NetBytesRate
        | Metric::NetPacketsRate
        | Metric::NetBytesShare
        | Metric::HostPsiSomePct(_)
        | Metric::HostPsiFullPct(_) => {}
        Metric::FailedForkRate => n.pids_max_hits = true,
        Metric::OomKills => n.oom_kills = true,
        Metric::CpuPct | Metric::CpuHostPct => n.cpu_usage = true,
        Metric::CpuQuotaPct => (n.cpu_usage, n.cpu_quota) = (true, true),
        Metric::CpuThrottledPct => n.cpu_throttling = true,
        Metric::MemoryUsagePct => (n.memory_usage, n.memory_max) = (true, true),
        Metric::MemoryUsage => n.memory_usage = true,
        Metric::MemoryLimit => n.memory_max = true,
        Metric::PidsUsagePct => (n.pids_current, n.pids_max) = (true, true),
        Metric::PidsCurrent => n.pids_current = true,
        Metric::PidsMax => n.pids_max = true,
        Metric::PsiSomePct(r) | Metric::PsiFullPct(r) => n.psi[psi_index(r)] = true,
        Metric::IoBytesRate | Metric::IoOpsRate => n.io = true,
    }
    n
}

fn gauge(s: &Series, window: Option<Duration>, now: Timestamp) -> Option<f64> {
    let w = s.get()?;
    match window {
        Some(d) => w.max(now, d),
        None => w.last(),
    }
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Microseconds of time per second of wall time, as a percentage.
fn usec_per_sec_to_pct(v: f64) -> f64 {
    v / 10_000.0
}

fn psi_index(r: PsiResource) -> usize {
    match r {
        PsiResource::Cpu => 0,
        PsiResource::Memory => 1,
        PsiResource::Io => 2,
    }
}

#[cfg(test)]
mod tests;
