//! The sensor: loads vigil's eBPF programs into the running kernel, attaches
//! them, and hands decoded ring-buffer records to the agent.
//!
//! [`Sensor::load`] resolves kernel struct offsets from BTF ([`btf`],
//! [`offsets`]), loads the embedded object with those offsets as globals,
//! fills the in-kernel open filter and attaches every hook ([`loader`]).
//! [`Sensor::read_batch`] waits on the ring buffer and decodes ([`ring`]).
//! Dropping the sensor detaches everything. [`features`] backs
//! `vigil probe`.
//!
//! Worth knowing when using it:
//! - Syscall records of the agent's own process (the loading tgid) are not
//!   reported, so its own file and socket activity cannot feed back.
//! - Non-matching opens never leave the kernel ([`OpenFilter`]).
//! - Hooks whose tracepoint the running kernel lacks (e.g. `module_load`
//!   without module support, `fchmodat2` before 6.6) are listed as refused
//!   in [`Sensor::hooks`]; loading still succeeds.
//! - Per-cgroup counters (forks, threads, failed forks, EMFILE/ENFILE) are
//!   kept in a kernel map, never sent as records: poll them with
//!   [`Sensor::cgroup_counters`] and call [`Sensor::forget_cgroup`] when a
//!   cgroup is removed (the map is LRU-bounded either way). Hook list and
//!   costs: docs/hooks.md.
//! - Detaching costs the kernel an RCU grace period per tracepoint; the
//!   sensor detaches its hooks from many threads at once ([`links`]), so
//!   the waits overlap and dropping it takes well under a second.

mod attach;
mod attempts;
pub mod bench_hook;
pub mod btf;
mod enforce;
pub mod features;
mod fill;
mod filter;
mod filter_maps;
mod io_uring;
mod links;
mod loader;
pub mod offsets;
mod ring;
mod source;
mod traffic;

use monitor_common::decode::Record;
use monitor_common::{names, CgroupCounters, EventKind};

pub use enforce::{ContainerCgroups, EnforceConfig, EnforceMode};
pub use filter::{default_open_filter, OpenFilter};
pub use filter_maps::FilterUpdater;
pub use io_uring::gaps;
pub use loader::{page_size, release_object_pages};
pub use source::RecordSource;

/// Default ring buffer size: 8 MiB. The kernel maps its data pages twice
/// into the agent, so this is about 16 MiB of the agent's resident memory.
/// It holds about 9,000 syscall records besides the 2 MiB lifecycle
/// reserve (about 700 execs, or 20,000 forks and exits): some 30 ms of
/// the agent not reading at 300K records/s (docs/performance.md).
pub const DEFAULT_RING_BYTES: u32 = 8 << 20;

/// How the sensor is set up.
#[derive(Clone, Debug)]
pub struct SensorConfig {
    /// Ring buffer size in bytes (power of two, multiple of the page size).
    pub ring_bytes: u32,
    /// The in-kernel open filter (see `monitor_common::filter`).
    pub open_filter: OpenFilter,
    /// LSM or tracepoint hooks for what both can see.
    pub hooks: HookMode,
    /// Report network peers on loopback too (the kernel drops them by default).
    pub net_loopback: bool,
    /// What the kernel refuses (docs/enforcement.md); off by default.
    pub enforce: EnforceConfig,
    /// Syscall records per cgroup, syscall, CPU and second beyond which the
    /// kernel holds them back and reports a `throttled` record instead; 0:
    /// never ([`monitor_common::flood`]).
    pub throttle: u32,
    /// Report failed calls of the attempts with no tracepoint of their own
    /// on this kernel through the global `raw_syscalls/sys_exit` (a cost to
    /// every syscall; off by default, `--watch-untraceable`).
    pub watch_untraceable: bool,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            ring_bytes: DEFAULT_RING_BYTES,
            open_filter: default_open_filter(),
            hooks: HookMode::Auto,
            net_loopback: false,
            enforce: EnforceConfig::default(),
            throttle: monitor_common::flood::DEFAULT_RATE,
            watch_untraceable: false,
        }
    }
}

/// Which hooks the operator asks for (`vigil run --hooks`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HookMode {
    /// BPF-LSM where the kernel loads it, tracepoints otherwise (loudly).
    #[default]
    Auto,
    /// BPF-LSM or fail to start.
    Lsm,
    /// Syscall tracepoints only, even where BPF-LSM would load.
    Tracepoints,
}

/// The mode the sensor runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// LSM hooks report opens, mounts and module/kexec loads
    /// (`monitor_common::lsm::HOOKS`); tracepoints the rest.
    Lsm,
    /// Syscall tracepoints for everything.
    Tracepoints,
}

impl Mode {
    /// `lsm` or `tracepoint`: the start log, `vigil probe`, `/readyz`, the metric.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Lsm => "lsm",
            Mode::Tracepoints => "tracepoint",
        }
    }

    /// What this mode does not cover that the other would.
    pub fn gaps(self) -> &'static [&'static str] {
        match self {
            Mode::Lsm => &[],
            Mode::Tracepoints => monitor_common::lsm::TRACEPOINT_MODE_GAPS,
        }
    }
}

/// One hook and whether the kernel accepted it.
#[derive(Clone, Debug)]
pub struct HookStatus {
    /// e.g. `sched_process_exec`, `syscalls/sys_enter_mount`.
    pub name: String,
    /// `"tracepoint"`, `"raw_tracepoint"`, `"tp_btf"` or `"lsm"`.
    pub kind: &'static str,
    pub attached: Result<(), String>,
}

/// Counters of the sensor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SensorStats {
    /// Records decoded and returned.
    pub records: u64,
    /// Records that failed to decode (skipped).
    pub malformed: u64,
    /// Ring-buffer reservation failures in the kernel, summed over CPUs.
    pub kernel_drops: Vec<(EventKind, u64)>,
    /// Syscall records the kernel's per-cgroup rate limit held back, as
    /// reported by the `throttled` records read so far.
    pub throttled: u64,
}

impl SensorStats {
    pub fn total_drops(&self) -> u64 {
        self.kernel_drops.iter().map(|(_, n)| n).sum()
    }
}

/// Why the sensor could not start.
#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    #[error("ring buffer size {0} must be a power of two and a multiple of the page size ({1})")]
    RingSize(u32, usize),
    #[error("invalid open filter entry {entry:?}: {reason}")]
    Filter { entry: String, reason: &'static str },
    #[error("open filter too large: {prefixes} prefixes and {names} names; the kernel holds {max} of each")]
    FilterSize {
        prefixes: usize,
        names: usize,
        max: u32,
    },
    #[error("kernel offsets: {0}")]
    Offsets(#[from] offsets::OffsetsError),
    #[error("mounting tracefs at {path}: {source}")]
    Tracefs {
        path: &'static str,
        source: std::io::Error,
    },
    #[error("loading the eBPF object: {0}")]
    Load(#[from] Box<aya::EbpfError>),
    #[error("eBPF object has no {what} `{name}`")]
    Missing { what: &'static str, name: String },
    #[error("eBPF program `{name}`: {source}")]
    Program {
        name: String,
        source: Box<aya::programs::ProgramError>,
    },
    #[error("eBPF map `{name}`: {source}")]
    Map {
        name: &'static str,
        source: Box<aya::maps::MapError>,
    },
    #[error("BPF-LSM was asked for (--hooks lsm) but the kernel refused it: {0}")]
    LsmRefused(String),
    #[error("ring buffer: {0}")]
    Io(#[from] std::io::Error),
}

/// Which kind of hook process lifecycle (exec/fork/exit) uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LifecycleHooks {
    /// BTF tracepoints where the kernel accepts them, raw tracepoints otherwise.
    #[default]
    Auto,
    /// Raw tracepoints only (what kernels without BTF tracepoints get; lets
    /// tests and diagnostics exercise the fallback on any kernel).
    RawTracepoints,
}

/// The loaded, attached sensor.
pub struct Sensor {
    hooks: Vec<HookStatus>,
    reader: ring::Reader,
    drops: loader::Drops,
    counters: loader::CgroupCounterMap,
    fill: Option<fill::Fill>,
    mode: Mode,
    filter: FilterUpdater,
    containers: ContainerCgroups,
    // Dropped first: detaches every hook, in parallel.
    links: links::Links,
    // Keeps programs and maps alive; dropped last.
    _ebpf: aya::Ebpf,
}

impl Sensor {
    /// Resolve offsets from BTF, load the object, fill maps/globals, attach
    /// every hook.
    pub fn load(cfg: &SensorConfig) -> Result<Sensor, SensorError> {
        Sensor::load_with(cfg, LifecycleHooks::Auto)
    }

    /// [`Sensor::load`] with a choice of lifecycle hook kind.
    pub fn load_with(cfg: &SensorConfig, lifecycle: LifecycleHooks) -> Result<Sensor, SensorError> {
        let loaded = loader::load(cfg, lifecycle)?;
        Ok(Sensor {
            hooks: loaded.hooks,
            reader: loaded.reader,
            drops: loaded.drops,
            counters: loaded.counters,
            fill: loaded.fill,
            mode: loaded.mode,
            filter: FilterUpdater {
                maps: std::sync::Arc::new(std::sync::Mutex::new(loaded.filter)),
                enforce: std::sync::Arc::new(cfg.enforce.clone()),
            },
            containers: loaded.containers,
            links: loaded.links,
            _ebpf: loaded.ebpf,
        })
    }

    /// LSM or tracepoint mode (see [`HookMode`]).
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A handle that changes the in-kernel open filter while the sensor
    /// runs (e.g. after a rule reload).
    pub fn filter_updater(&self) -> FilterUpdater {
        self.filter.clone()
    }

    /// The kernel's set of container cgroups enforcement applies to; the
    /// enricher keeps it in sync with its container registry.
    pub fn container_cgroups(&self) -> ContainerCgroups {
        self.containers.clone()
    }

    /// What got attached (and what was refused, with the reason).
    pub fn hooks(&self) -> &[HookStatus] {
        &self.hooks
    }

    /// Wait until the ring buffer is readable, then decode everything
    /// available into `out` (malformed records are counted in
    /// [`Sensor::stats`], not returned).
    pub async fn read_batch(&mut self, out: &mut Vec<Record>) -> std::io::Result<()> {
        self.reader.read_batch(out).await
    }

    /// Kernel drop counters (summed over CPUs) per kind, plus user-side counters.
    pub fn stats(&self) -> SensorStats {
        SensorStats {
            records: self.reader.records,
            malformed: self.reader.malformed,
            kernel_drops: self.drops.read(),
            throttled: self.reader.throttled,
        }
    }

    /// The kernel's per-cgroup counters (summed over CPUs), keyed by cgroup
    /// v2 id. Counting starts when the sensor loads; the map keeps the
    /// [`monitor_common::CGROUP_COUNTERS_MAX`] most recently active cgroups.
    pub fn cgroup_counters(&self) -> Result<Vec<(u64, CgroupCounters)>, SensorError> {
        let mut out = Vec::new();
        for entry in self.counters.iter() {
            let (id, per_cpu) = entry.map_err(|e| loader::map_err(names::CGROUP_COUNTERS, e))?;
            let mut sum = CgroupCounters::default();
            for c in per_cpu.iter() {
                sum.add(c);
            }
            out.push((id, sum));
        }
        Ok(out)
    }

    /// Drop the counters of a removed cgroup. Unknown ids are not an error.
    pub fn forget_cgroup(&mut self, id: u64) -> Result<(), SensorError> {
        match self.counters.remove(&id) {
            Ok(()) => Ok(()),
            Err(aya::maps::MapError::SyscallError(e))
                if e.io_error.raw_os_error() == Some(libc::ENOENT) =>
            {
                Ok(())
            }
            Err(aya::maps::MapError::KeyNotFound) => Ok(()),
            Err(e) => Err(loader::map_err(names::CGROUP_COUNTERS, e)),
        }
    }
}

impl RecordSource for Sensor {
    async fn read_batch(&mut self, out: &mut Vec<Record>) -> std::io::Result<()> {
        Sensor::read_batch(self, out).await
    }

    fn stats(&self) -> SensorStats {
        Sensor::stats(self)
    }

    fn finish(&mut self, out: &mut Vec<Record>) {
        // Detached first, so the ring only shrinks while it is drained.
        drop(std::mem::take(&mut self.links));
        self.reader.drain(out);
    }

    fn ring_fill(&self) -> Option<(u64, u64)> {
        self.fill.as_ref().map(|f| f.used())
    }

    fn cgroup_counters(&self) -> Option<Vec<(u64, CgroupCounters)>> {
        match Sensor::cgroup_counters(self) {
            Ok(c) => Some(c),
            Err(e) => {
                log::warn!("reading the per-cgroup counters: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod docs {
    use monitor_common::syscalls::ArgKind;
    use monitor_common::SyscallId;

    const DOC: &str = include_str!("../../../docs/hooks.md");

    /// The "Hooked syscalls" table of docs/hooks.md, as the syscall table
    /// says it must read.
    fn expected_table() -> String {
        let mut t = String::from("| syscall | tracepoint | `evt.arg.*` |\n|---|---|---|\n");
        for id in SyscallId::ALL {
            let args: Vec<String> = id
                .args()
                .iter()
                .map(|a| match a.kind {
                    ArgKind::Path
                    | ArgKind::Sockaddr
                    | ArgKind::TupleClient
                    | ArgKind::TupleServer => format!("`{}` (fd.name)", a.name),
                    _ => format!("`{}`", a.name),
                })
                .collect();
            t.push_str(&format!(
                "| `{}` | `sys_enter_{}` | {} |\n",
                id.name(),
                id.tracepoint(),
                args.join(", ")
            ));
        }
        t
    }

    #[test]
    fn hooks_md_lists_every_hooked_syscall_with_its_arguments() {
        let want = expected_table();
        assert!(
            DOC.contains(&want),
            "docs/hooks.md's syscall table is out of date; it should read:\n{want}"
        );
        let n = format!("the {} syscalls of `SyscallId`", SyscallId::ALL.len());
        assert!(DOC.contains(&n), "docs/hooks.md should say {n:?}");
    }
}
