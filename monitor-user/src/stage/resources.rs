//! The resource stage: every interval, one `container_stats` event per known
//! container carrying its sampled resource numbers, for the rules.
//!
//! Containers are learned from the events themselves (any event of a
//! container with a resolved cgroup path registers it; `cgroup_rmdir`
//! forgets it). Each tick reads every container's cgroup files through
//! [`monitor_stateful::Sampler`], takes the kernel's per-cgroup fork, failed
//! fork and EMFILE/ENFILE totals when the source has them (else counts
//! `clone` events), counts OOM kill events, and keeps per-UID task counts
//! of container processes in a [`UidTable`]; every few seconds it counts
//! their inotify instances and watches per UID (`user.inotify_*`), and each
//! tick it names the container stalling most on I/O
//! (`host.io_stalled_container`). It watches the host filesystems holding
//! container storage (`statvfs` each tick; each container's layer and
//! volumes found every few seconds and walked when their filesystem moves:
//! [`monitor_stateful::storage`]) and reports on each container's event
//! the fullest one it writes to and who fills it (`fs.*`). The event stores the value of
//! every resource field the rules use (plus a few always-present ones)
//! under the field's canonical text, so a replay matches the same numbers.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_common::CgroupCounters;
use monitor_rules::{Field, FieldArg, FieldId};
use monitor_stateful::inotify;
use monitor_stateful::storage::{self, Storage};
use monitor_stateful::{
    CgroupLayout, Counter, FieldRef, Sampler, SamplerConfig, Timestamp, UidTable,
};

use crate::event::{Cgroup, Clock, Container, Data, Event, FsFill, Process, StatsData};

/// Fields every `container_stats` event carries, whatever the rules ask.
pub const ALWAYS: &[&str] = &[
    "container.fork_rate[10s]",
    "container.failed_fork_rate[10s]",
    "container.cpu.pct[10s]",
    "container.memory.usage_pct",
    "container.pids.current",
    "container.pids.usage_pct",
    "container.oom_kills[60s]",
    "container.emfile_rate[10s]",
    "container.net.bytes_rate[10s]",
    "container.net.packets_rate[10s]",
];

/// How often [`UidTable::refresh_tasks`] reads thread counts from /proc.
const TASKS_REFRESH: Duration = Duration::from_secs(2);
/// How often inotify use is counted (a readlink per fd of every container
/// process).
const INOTIFY_REFRESH: Duration = Duration::from_secs(5);
/// How often each container's writable places on the watched storage
/// filesystems are looked up (a mountinfo read per container).
const PLACES_REFRESH: Duration = Duration::from_secs(5);

/// Below this share of time stalled on I/O (PSI io some, %) a container
/// is not named as starved.
const IO_STALLED_PCT: f64 = 5.0;

/// What one sampling pass computes once for every container's event:
/// the per-UID answers, so a pass costs linear time in the containers
/// (asking each UID's breakdown per container made it quadratic).
struct Pass {
    now: Timestamp,
    io_stalled: Vec<(u64, String)>,
    /// Per UID, the container running most of its tasks.
    nproc_top: HashMap<u32, String>,
    /// Per UID, the container holding most of its inotify instances.
    inotify_top: HashMap<u32, String>,
}

struct Known {
    container: Arc<Container>,
    cgroup: Arc<Cgroup>,
}

/// Sampling state for every container.
pub struct ResourceStage {
    sampler: Sampler,
    uids: UidTable<String>,
    known: HashMap<u64, Known>,
    /// Canonical field text → compiled field, sampler-level only.
    fields: BTreeMap<String, FieldRef>,
    /// A rule reads `host.io_stalled_container` (every container's I/O PSI).
    io_stalled_used: bool,
    /// The source has kernel counters: ignore `clone` events for forks.
    kernel_counters: bool,
    proc_root: Option<PathBuf>,
    last_tasks: Option<Instant>,
    /// Inotify use per UID, from the last count, and the host's limits.
    inotify: HashMap<u32, inotify::UidInotify<String>>,
    inotify_limits: inotify::InotifyLimits,
    last_inotify: Option<Instant>,
    /// The host filesystems of container storage and who fills them.
    storage: Storage<String>,
    /// How many of `storage`'s filesystems the log has named.
    storage_logged: usize,
    last_places: Option<Instant>,
    clock: Clock,
}

impl ResourceStage {
    /// A stage over this host's cgroup mounts; `proc_root` (normally
    /// `/proc`) gives RLIMIT_NPROC limits and thread counts.
    pub fn from_host(
        proc_root: Option<PathBuf>,
    ) -> Result<ResourceStage, monitor_stateful::LayoutError> {
        Ok(Self::new(CgroupLayout::detect()?, proc_root))
    }

    pub fn new(layout: CgroupLayout, proc_root: Option<PathBuf>) -> ResourceStage {
        let mut s = ResourceStage {
            sampler: Sampler::new(layout, SamplerConfig::default()),
            uids: UidTable::new(),
            known: HashMap::new(),
            fields: BTreeMap::new(),
            io_stalled_used: false,
            kernel_counters: false,
            proc_root,
            last_tasks: None,
            inotify: HashMap::new(),
            inotify_limits: Default::default(),
            last_inotify: None,
            storage: Storage::new(Vec::new()),
            storage_logged: 0,
            last_places: None,
            clock: Clock::measure(),
        };
        s.set_fields(&[]);
        s
    }

    /// Watch the filesystems holding `roots` (storage roots of the
    /// runtimes, volume directories) besides the runtimes' own
    /// ([`storage::DEFAULT_ROOTS`]); roots that do not exist are skipped
    /// until they do.
    pub fn watch_storage(&mut self, roots: &[PathBuf]) {
        let all = storage::DEFAULT_ROOTS
            .iter()
            .map(PathBuf::from)
            .chain(roots.iter().cloned())
            .collect();
        self.storage = Storage::new(all);
        self.storage_logged = 0;
    }

    /// Sample what `rules_fields` (the rules' fields) need, plus [`ALWAYS`]:
    /// a pass reads only the cgroup files those fields need. Call again
    /// when the rules change.
    pub fn set_fields(&mut self, rules_fields: &[Field]) {
        let mut fields = BTreeMap::new();
        let names = rules_fields
            .iter()
            .filter_map(|f| match (f.id, &f.arg) {
                (FieldId::Resource, FieldArg::Name(n)) => Some(n.to_string()),
                _ => None,
            })
            .chain(ALWAYS.iter().map(|s| s.to_string()));
        for n in names {
            // `user.*` comes from the UID table, not the sampler.
            if let Ok(f) = FieldRef::parse(&n) {
                if self.sampler.config().check_field(&f).is_ok() {
                    fields.insert(n, f);
                }
            }
        }
        self.io_stalled_used = rules_fields
            .iter()
            .any(|f| f.id == FieldId::HostIoStalledContainer);
        let mut needs = monitor_stateful::needs_of(fields.values());
        if self.io_stalled_used {
            needs = needs.union(monitor_stateful::needs_of([&io_some_pct()]));
        }
        self.sampler.set_needs(needs);
        self.fields = fields;
    }

    /// Containers being sampled.
    pub fn containers(&self) -> usize {
        self.known.len()
    }

    /// Register the containers already running: every container cgroup
    /// the registry knows that holds processes now (cgroups of the same
    /// container without processes, such as a systemd scope above the
    /// payload cgroup, would only duplicate it). Returns how many.
    pub fn seed(&mut self, enricher: &mut crate::enrich::Enricher) -> usize {
        let Some(root) = enricher.cgroup_root().map(|p| p.to_owned()) else {
            return 0;
        };
        let now = Instant::now();
        let mut n = 0;
        for id in enricher.containers().live_ids() {
            let (container, cgroup) = enricher.container_of(id, now);
            let Some(path) = cgroup.path.clone() else {
                continue;
            };
            if container.id == "host" {
                continue;
            }
            let procs = root.join(path.trim_start_matches('/')).join("cgroup.procs");
            let busy = std::fs::read_to_string(&procs).is_ok_and(|t| !t.trim().is_empty());
            if busy && self.register(id, &container, &cgroup) {
                n += 1;
            }
        }
        n
    }

    fn register(&mut self, id: u64, container: &Arc<Container>, cgroup: &Arc<Cgroup>) -> bool {
        let Some(path) = &cgroup.path else {
            return false;
        };
        match self.sampler.add(id, path) {
            Ok(()) => {
                self.known.insert(
                    id,
                    Known {
                        container: container.clone(),
                        cgroup: cgroup.clone(),
                    },
                );
                true
            }
            Err(e) => {
                log::debug!("not sampling cgroup {path}: {e}");
                false
            }
        }
    }

    /// Learn from one enriched event (before it goes to the outputs).
    pub fn observe(&mut self, ev: &Event) {
        let at = Timestamp::from_nanos(ev.boot_ns);
        if let Data::CgroupRmdir(g) = &ev.data {
            if self.known.remove(&g.id).is_some() {
                self.sampler.remove(g.id);
            }
            return;
        }
        let id = ev.cgroup.id;
        let in_container = ev.container.id != "host" && id != 0;
        if in_container && !self.known.contains_key(&id) {
            self.register(id, &ev.container, &ev.cgroup);
        }
        if !in_container {
            return;
        }
        let p = &ev.process;
        match &ev.data {
            Data::Exec(_) => {
                let limit = self
                    .proc_root
                    .as_deref()
                    .and_then(|r| monitor_stateful::uid_nproc::read_nproc_limit(r, p.pid).ok())
                    .flatten();
                self.uids.add(p.pid, p.uid, ev.container.id.clone(), limit);
            }
            Data::Clone(c) => {
                if c.child_pid != 0 && c.child_pid != p.pid {
                    self.uids
                        .add(c.child_pid, p.uid, ev.container.id.clone(), None);
                }
                if !self.kernel_counters {
                    self.sampler.add_count(id, Counter::Forks, 1, at);
                }
            }
            Data::Exit(_) => self.uids.remove(p.pid),
            Data::OomKill { .. } => self.sampler.add_count(id, Counter::OomKills, 1, at),
            _ => {}
        }
    }

    /// One sampling pass: returns one `container_stats` event per container.
    /// `counters` are the kernel's per-cgroup totals, when the source has them.
    pub fn tick(&mut self, counters: Option<Vec<(u64, CgroupCounters)>>) -> Vec<Event> {
        let now = Timestamp::now();
        if let Some(cs) = counters {
            self.kernel_counters = true;
            for (id, c) in cs {
                if self.known.contains_key(&id) {
                    self.sampler
                        .record_counter(id, Counter::Forks, c.forks, now);
                    self.sampler
                        .record_counter(id, Counter::FailedForks, c.fork_failures, now);
                    self.sampler
                        .record_counter(id, Counter::Emfile, c.emfile + c.enfile, now);
                    self.sampler
                        .record_counter(id, Counter::NetBytes, c.net_bytes(), now);
                    self.sampler
                        .record_counter(id, Counter::NetPackets, c.net_packets(), now);
                }
            }
        }
        self.sampler.sample_all(now);
        if let Some(root) = &self.proc_root {
            if self.last_tasks.is_none_or(|t| t.elapsed() >= TASKS_REFRESH) {
                self.uids.refresh_tasks(root);
                self.last_tasks = Some(Instant::now());
            }
            if self
                .last_inotify
                .is_none_or(|t| t.elapsed() >= INOTIFY_REFRESH)
            {
                let procs = self.uids.live().map(|(p, u, c)| (p, u, c.clone()));
                self.inotify = inotify::scan(root, procs);
                self.inotify_limits = inotify::read_limits(root);
                self.last_inotify = Some(Instant::now());
            }
        }
        self.storage.sample(now);
        // Name each filesystem once, when it is first found, so the operator
        // knows which storage the "filling host storage" rule watches.
        for (root, dev) in self.storage.watched().skip(self.storage_logged) {
            log::info!(
                "watching host storage: the filesystem of {} (device {}:{})",
                root.display(),
                libc::major(dev),
                libc::minor(dev)
            );
            self.storage_logged += 1;
        }
        if let Some(root) = &self.proc_root {
            if self
                .last_places
                .is_none_or(|t| t.elapsed() >= PLACES_REFRESH)
            {
                let mut pids: HashMap<String, Vec<u32>> = HashMap::new();
                for (pid, _, c) in self.uids.live() {
                    pids.entry(c.clone()).or_default().push(pid);
                }
                self.storage
                    .scan_places(root, pids.iter().map(|(c, p)| (c.clone(), p.as_slice())));
                self.last_places = Some(Instant::now());
            }
            self.storage.measure();
        }
        let pass = Pass {
            now,
            io_stalled: if self.io_stalled_used {
                self.io_stalled(now)
            } else {
                Vec::new()
            },
            nproc_top: self
                .uids
                .uids()
                .filter_map(|u| Some((u, self.uids.top_container(u)?.0)))
                .collect(),
            inotify_top: self
                .inotify
                .iter()
                .filter_map(|(&u, i)| Some((u, i.top_container()?.0)))
                .collect(),
        };
        let mut ids: Vec<u64> = self.known.keys().copied().collect();
        ids.sort_unstable();
        ids.into_iter().map(|id| self.event(id, &pass)).collect()
    }

    /// The two containers that stalled on I/O the most over the last 10 s
    /// (PSI io some, at least [`IO_STALLED_PCT`]), as `(cgroup id, "ID
    /// (N% stalled on I/O)")`: who a container saturating the disk starves.
    fn io_stalled(&self, now: Timestamp) -> Vec<(u64, String)> {
        self.sampler
            .top(&io_some_pct(), now, 2)
            .into_iter()
            .filter(|&(_, pct)| pct >= IO_STALLED_PCT)
            .filter_map(|(id, pct)| {
                let k = self.known.get(&id)?;
                Some((id, format!("{} ({pct:.0}% stalled on I/O)", k.container.id)))
            })
            .collect()
    }

    /// `user.inotify_*` of the UID holding the most inotify instances in
    /// `container`, counted across every container; returns the container
    /// holding most of that UID's instances.
    fn inotify_values(
        &self,
        container: &str,
        pass: &Pass,
        values: &mut Vec<(String, f64)>,
    ) -> Option<String> {
        let (uid, u) = self
            .inotify
            .iter()
            .filter_map(|(&uid, u)| Some((u.per_container.get(container)?.instances, uid, u)))
            .max_by_key(|&(n, uid, _)| (n, std::cmp::Reverse(uid)))
            .map(|(_, uid, u)| (uid, u))?;
        let l = self.inotify_limits;
        values.push(("user.inotify_uid".into(), f64::from(uid)));
        values.push(("user.inotify_instances".into(), u.total.instances as f64));
        values.push(("user.inotify_watches".into(), u.total.watches as f64));
        if let Some(p) = inotify::pct(u.total.instances, l.max_instances) {
            values.push(("user.inotify_instances_pct".into(), p));
        }
        if let Some(p) = inotify::pct(u.total.watches, l.max_watches) {
            values.push(("user.inotify_watches_pct".into(), p));
        }
        pass.inotify_top.get(&uid).cloned()
    }

    fn event(&self, id: u64, pass: &Pass) -> Event {
        let (now, io_stalled) = (pass.now, &pass.io_stalled);
        let k = &self.known[&id];
        let mut values: Vec<(String, f64)> = self
            .fields
            .iter()
            .filter_map(|(n, f)| Some((n.clone(), self.sampler.value(id, f, now)?)))
            .collect();
        // The UID with the most tasks in this container speaks for it.
        let uid = self
            .uids
            .uids()
            .map(|u| (self.uids.tasks_in(u, &k.container.id), u))
            .filter(|&(n, _)| n > 0)
            .max()
            .map(|(_, u)| u);
        let mut top = None;
        if let Some(u) = uid {
            values.push(("user.nproc".into(), self.uids.nproc(u) as f64));
            if let Some(l) = self.uids.nproc_limit(u) {
                values.push(("user.nproc_limit".into(), l as f64));
            }
            if let Some(p) = self.uids.usage_pct(u) {
                values.push(("user.nproc_pct".into(), p));
            }
            top = pass.nproc_top.get(&u).cloned();
        }
        let inotify_top = self.inotify_values(&k.container.id, pass, &mut values);
        let fs = self.storage.report(&k.container.id).map(|r| {
            let opt = [
                ("fs.usage_pct", r.usage_pct),
                ("fs.fill_rate", r.fill_rate),
                ("fs.full_in", r.full_in),
                ("fs.container_bytes", Some(r.container_bytes as f64)),
                ("fs.container_growth", Some(r.container_growth as f64)),
                ("fs.container_growth_pct", r.container_growth_pct()),
            ];
            values.extend(opt.into_iter().filter_map(|(n, v)| Some((n.into(), v?))));
            FsFill {
                path: r.path,
                top_writer: r.top_writer,
                writers: r.writers,
            }
        });
        values.retain(|(_, v)| v.is_finite());
        values.sort_by(|a, b| a.0.cmp(&b.0));
        Event {
            num: 0,
            boot_ns: now.0,
            wall_ns: self.clock.wall_ns(now.0),
            process: Arc::new(Process {
                uid: uid.unwrap_or(0),
                euid: uid.unwrap_or(0),
                name: "vigil-sampler".into(),
                ..Default::default()
            }),
            container: k.container.clone(),
            cgroup: k.cgroup.clone(),
            data: Data::ContainerStats(Box::new(StatsData {
                values,
                nproc_top_container: top,
                inotify_top_container: inotify_top,
                io_stalled_container: io_stalled
                    .iter()
                    .find(|(other, _)| *other != id)
                    .map(|(_, text)| text.clone()),
                fs,
            })),
            truncated: Vec::new(),
            target_is_vigil: None,
            baseline: None,
        }
    }
}

/// Each container's I/O stall share over 10 s, behind `host.io_stalled_container`.
fn io_some_pct() -> FieldRef {
    FieldRef {
        metric: monitor_stateful::Metric::PsiSomePct(monitor_stateful::PsiResource::Io),
        window: Some(Duration::from_secs(10)),
    }
}

#[cfg(test)]
mod tests;
