//! Loading: the embedded eBPF object, its globals and maps, the hook mode,
//! then every hook attached (by [`super::attach`]), with a [`HookStatus`]
//! per hook.
//!
//! Process lifecycle hooks use BTF tracepoints when the kernel accepts them
//! and fall back to raw tracepoints. Each syscall in [`SyscallId::ALL`]
//! gets its own `sys_enter_<name>` program plus the shared `sys_exit`
//! program; syscalls whose tracepoints this kernel lacks are reported as
//! refused, not fatal.

use std::path::{Path, PathBuf};

use aya::maps::{HashMap, MapData, PerCpuArray, PerCpuHashMap, RingBuf};
use aya::programs::Lsm;
use aya::{Ebpf, EbpfLoader};
use monitor_common::{names, CgroupCounters, EventKind, SyscallId};

use super::attach::{
    attach_classic, attach_counting, attach_lifecycle, attach_raw, attach_syscalls, program,
    CLASSIC, LIFECYCLE, RAW,
};
use super::btf::Btf;
use super::fill::Fill;
use super::filter_maps::FilterMaps;
use super::links::Links;
use super::ring::Reader;
use super::{
    offsets, ContainerCgroups, HookMode, HookStatus, LifecycleHooks, Mode, SensorConfig,
    SensorError,
};

/// The compiled eBPF object (built by build.rs through aya-build).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vigil-probes"));

/// Drops the embedded object's pages from the agent's resident memory
/// once every load is done (about 6 MiB: the object carries its BTF and
/// debug info). They are clean pages of the binary's file mapping, so a
/// later read (another load) faults them back in from the file.
pub fn release_object_pages() {
    let page = page_size();
    let start = OBJECT.as_ptr() as usize;
    let first = start.div_ceil(page) * page;
    let end = (start + OBJECT.len()) / page * page;
    if end > first {
        // SAFETY: whole pages inside a read-only static; MADV_DONTNEED on
        // a private file mapping only drops them (no data is lost: they
        // were never written).
        let rc =
            unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_DONTNEED) };
        if rc != 0 {
            // Only memory is at stake: say so and go on.
            let err = std::io::Error::last_os_error();
            log::debug!("cannot drop the eBPF object's pages: {err}");
        }
    }
}

/// The embedded object, for feature probing.
pub(crate) fn object() -> &'static [u8] {
    OBJECT
}

pub(crate) const TRACEFS: &str = "/sys/kernel/tracing";
const TRACEFS_DEBUG: &str = "/sys/kernel/debug/tracing";

pub(crate) struct Loaded {
    pub ebpf: Ebpf,
    pub links: Links,
    pub fill: Option<Fill>,
    pub hooks: Vec<HookStatus>,
    pub reader: Reader,
    pub drops: Drops,
    pub counters: CgroupCounterMap,
    pub mode: Mode,
    pub filter: FilterMaps,
    pub containers: ContainerCgroups,
}

/// The kernel's per-cgroup counters (per-CPU values).
pub(crate) type CgroupCounterMap = PerCpuHashMap<MapData, u64, CgroupCounters>;

/// The kernel's per-CPU drop counters.
pub(crate) struct Drops(PerCpuArray<MapData, u64>);

impl Drops {
    pub fn read(&self) -> Vec<(EventKind, u64)> {
        EventKind::ALL
            .iter()
            .map(|&k| {
                let n = match self.0.get(&k.slot(), 0) {
                    Ok(per_cpu) => per_cpu.iter().sum(),
                    Err(e) => {
                        log::warn!("reading drop counter of {}: {e}", k.name());
                        0
                    }
                };
                (k, n)
            })
            .collect()
    }
}

/// The kernel's page size (ring buffers are sized in pages).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

pub(crate) fn load(cfg: &SensorConfig, lifecycle: LifecycleHooks) -> Result<Loaded, SensorError> {
    let page = page_size();
    if !cfg.ring_bytes.is_power_of_two() || !(cfg.ring_bytes as usize).is_multiple_of(page) {
        return Err(SensorError::RingSize(cfg.ring_bytes, page));
    }
    let filter = cfg.enforce.arm(&cfg.open_filter).encode()?;
    let started = std::time::Instant::now();
    let lap = |what: &str| log::debug!("sensor: {what} after {:?}", started.elapsed());
    raise_memlock();
    let tracefs = ensure_tracefs()?;

    let btf = Btf::from_sys_fs().map_err(offsets::OffsetsError::from)?;
    let (offsets, missing) = offsets::resolve(&btf)?;
    for m in &missing {
        log::warn!(
            "kernel lacks {}: that data will be reported as unknown ({})",
            m.path,
            m.reason
        );
    }
    let aya_btf = match aya::Btf::from_sys_fs() {
        Ok(b) => Some(b),
        Err(e) => {
            log::warn!("aya cannot read kernel BTF ({e}); BTF tracepoints unavailable");
            None
        }
    };
    let tgid = std::process::id();
    let net_loopback = u32::from(cfg.net_loopback);
    let mut ebpf = EbpfLoader::new()
        .btf(aya_btf.as_ref())
        .override_global(names::OFFSETS, &offsets, true)
        .override_global(names::AGENT_TGID, &tgid, true)
        .override_global(names::NET_LOOPBACK, &net_loopback, true)
        .override_global(names::THROTTLE_RATE, &cfg.throttle, true)
        .override_global(names::ENFORCE_MODE, &cfg.enforce.mode.kernel_value(), true)
        .override_global(
            names::ENFORCE_MODULES,
            &u32::from(cfg.enforce.deny_modules),
            true,
        )
        .override_global(
            names::ENFORCE_SIGNALS,
            &u32::from(cfg.enforce.deny_signals),
            true,
        )
        .override_global(
            names::ENFORCE_MEMFD_EXEC,
            &u32::from(cfg.enforce.deny_memfd_exec),
            true,
        )
        .override_global(
            names::ENFORCE_PTRACE,
            &u32::from(cfg.enforce.deny_ptrace),
            true,
        )
        .override_global(
            names::ENFORCE_BPF_PROG_LOAD,
            &u32::from(cfg.enforce.deny_bpf_prog_load),
            true,
        )
        .map_max_entries(names::EVENTS, cfg.ring_bytes)
        .load(OBJECT)
        .map_err(Box::new)?;

    lap("object loaded");
    let filter = FilterMaps::take(&mut ebpf, filter)?;

    let mut hooks = Vec::new();
    let mut links = Links::default();
    let lifecycle_btf = match lifecycle {
        LifecycleHooks::Auto => aya_btf.as_ref(),
        LifecycleHooks::RawTracepoints => None,
    };
    for &(tp, btf_prog, raw_prog) in LIFECYCLE {
        hooks.push(attach_lifecycle(
            &mut ebpf,
            &mut links,
            lifecycle_btf,
            tp,
            btf_prog,
            raw_prog,
        ));
    }
    lap("lifecycle hooks attached");
    let mode = choose_mode(
        &mut ebpf,
        &mut links,
        aya_btf.as_ref(),
        cfg.hooks,
        &mut hooks,
    )?;
    lap("LSM hooks attached or refused");
    // In LSM mode the LSM hooks report these syscalls; their tracepoints
    // would only duplicate the events (and cost every syscall).
    let traced: Vec<SyscallId> = SyscallId::ALL
        .iter()
        .copied()
        .filter(|&id| mode == Mode::Tracepoints || monitor_common::lsm::hook_for(id).is_none())
        .collect();
    attach_syscalls(&mut ebpf, &mut links, &tracefs, &traced, &mut hooks);
    if cfg.watch_untraceable {
        super::attempts::attach_untraceable(&mut ebpf, &mut links, &tracefs, &mut hooks);
    }
    lap("syscall hooks attached");
    attach_counting(&mut ebpf, &mut links, &tracefs, &traced, &mut hooks);
    lap("counting hooks attached");
    for &(category, tp) in RAW {
        let attached = if tracepoint_exists(&tracefs, category, tp) {
            attach_raw(&mut ebpf, &mut links, tp, tp)
        } else {
            Err(format!(
                "tracepoint {category}/{tp} does not exist on this kernel"
            ))
        };
        hooks.push(HookStatus {
            name: tp.to_owned(),
            kind: "raw_tracepoint",
            attached,
        });
    }
    for &(prog, category, name) in CLASSIC {
        let attached = if tracepoint_exists(&tracefs, category, name) {
            attach_classic(&mut ebpf, &mut links, prog, category, name)
        } else {
            Err("tracepoint does not exist on this kernel".to_owned())
        };
        hooks.push(HookStatus {
            name: format!("{category}/{name}"),
            kind: "tracepoint",
            attached,
        });
    }
    hooks.extend(super::io_uring::attach(
        &mut ebpf, &mut links, &tracefs, &missing, mode,
    ));
    super::traffic::attach(&mut ebpf, &mut links, &mut hooks);
    lap(&format!("all hooks attached ({} links)", links.len()));
    for h in &hooks {
        match &h.attached {
            Ok(()) => log::debug!("attached {} ({})", h.name, h.kind),
            Err(e) => log::warn!("hook {} ({}) refused: {e}", h.name, h.kind),
        }
    }

    let ring = ebpf.take_map(names::EVENTS).ok_or(SensorError::Missing {
        what: "map",
        name: names::EVENTS.into(),
    })?;
    let ring = RingBuf::try_from(ring).map_err(|e| map_err(names::EVENTS, e))?;
    let drops = ebpf.take_map(names::DROPS).ok_or(SensorError::Missing {
        what: "map",
        name: names::DROPS.into(),
    })?;
    let drops = PerCpuArray::try_from(drops).map_err(|e| map_err(names::DROPS, e))?;
    let counters = ebpf
        .take_map(names::CGROUP_COUNTERS)
        .ok_or(SensorError::Missing {
            what: "map",
            name: names::CGROUP_COUNTERS.into(),
        })?;
    let counters =
        PerCpuHashMap::try_from(counters).map_err(|e| map_err(names::CGROUP_COUNTERS, e))?;
    let containers = ebpf
        .take_map(names::CONTAINER_CGROUPS)
        .ok_or(SensorError::Missing {
            what: "map",
            name: names::CONTAINER_CGROUPS.into(),
        })?;
    let containers = ContainerCgroups::new(
        HashMap::try_from(containers).map_err(|e| map_err(names::CONTAINER_CGROUPS, e))?,
    );
    let fill = match Fill::map(&ring, u64::from(cfg.ring_bytes)) {
        Ok(f) => Some(f),
        Err(e) => {
            log::warn!("ring-buffer fill not measurable (mapping its positions: {e})");
            None
        }
    };
    Ok(Loaded {
        ebpf,
        links,
        fill,
        hooks,
        reader: Reader::new(ring),
        drops: Drops(drops),
        counters,
        mode,
        filter,
        containers,
    })
}

/// Attach every LSM hook (LSM mode) or none (tracepoint mode). `Auto`
/// falls back to tracepoints, loudly, when the kernel refuses any of them;
/// `Lsm` makes that an error.
fn choose_mode(
    ebpf: &mut Ebpf,
    links: &mut Links,
    btf: Option<&aya::Btf>,
    wanted: HookMode,
    hooks: &mut Vec<HookStatus>,
) -> Result<Mode, SensorError> {
    if wanted == HookMode::Tracepoints {
        return Ok(Mode::Tracepoints);
    }
    let mut lsm_links = Links::default();
    let mut statuses = Vec::new();
    let mut refused = None;
    for h in monitor_common::lsm::HOOKS {
        let attached = match btf {
            None => Err("no kernel BTF".to_owned()),
            Some(btf) => program::<Lsm>(ebpf, h.program).and_then(|p| {
                p.load(h.hook, btf).map_err(|e| summarize(&e))?;
                let id = p.attach().map_err(|e| summarize(&e))?;
                lsm_links.keep(p.take_link(id).map_err(|e| summarize(&e))?);
                Ok(())
            }),
        };
        if let Err(e) = &attached {
            refused.get_or_insert_with(|| format!("lsm/{}: {e}", h.hook));
        }
        statuses.push(HookStatus {
            name: h.hook.to_owned(),
            kind: "lsm",
            attached,
        });
    }
    match refused {
        None => {
            links.absorb(lsm_links);
            hooks.extend(statuses);
            Ok(Mode::Lsm)
        }
        Some(reason) if wanted == HookMode::Lsm => Err(SensorError::LsmRefused(reason)),
        Some(reason) => {
            // Dropping `lsm_links` detaches the hooks that did attach: a
            // half LSM mode would report some opens twice and others never.
            log::warn!(
                "BPF-LSM refused ({reason}): running in TRACEPOINT MODE; not covered: {}",
                monitor_common::lsm::TRACEPOINT_MODE_GAPS.join("; ")
            );
            hooks.extend(statuses.into_iter().map(|mut s| {
                s.attached = Err(match s.attached {
                    Ok(()) => "detached: another LSM hook was refused".to_owned(),
                    Err(e) => e,
                });
                s
            }));
            Ok(Mode::Tracepoints)
        }
    }
}

pub(crate) fn map_err(name: &'static str, e: aya::maps::MapError) -> SensorError {
    SensorError::Map {
        name,
        source: Box::new(e),
    }
}

/// Not needed on 6.x (BPF memory is charged to the cgroup) and refused
/// above the hard limit: a failure is only worth a warning.
fn raise_memlock() {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain syscall with a valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) } != 0 {
        log::warn!(
            "setrlimit(RLIMIT_MEMLOCK) failed ({}); fine on kernels that charge BPF memory to cgroups",
            std::io::Error::last_os_error()
        );
    }
}

/// Find tracefs, mounting it at /sys/kernel/tracing if it is not mounted.
pub(crate) fn ensure_tracefs() -> Result<PathBuf, SensorError> {
    for p in [TRACEFS, TRACEFS_DEBUG] {
        if Path::new(p).join("events").is_dir() {
            return Ok(PathBuf::from(p));
        }
    }
    let c = |s: &str| std::ffi::CString::new(s).expect("no NUL in constant");
    let (src, dst, fs) = (c("none"), c(TRACEFS), c("tracefs"));
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(SensorError::Tracefs {
            path: TRACEFS,
            source: std::io::Error::last_os_error(),
        });
    }
    log::info!("mounted tracefs at {TRACEFS}");
    Ok(PathBuf::from(TRACEFS))
}

pub(crate) fn tracepoint_exists(tracefs: &Path, category: &str, name: &str) -> bool {
    tracefs.join("events").join(category).join(name).is_dir()
}

/// Short, one-line form of an error for [`HookStatus`]: verifier logs can
/// be thousands of lines, so keep the head and the tail (where the
/// verifier says what it rejected). The full error goes to the debug log.
pub(crate) fn summarize(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    log::debug!("{s}");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    const KEEP: usize = 300;
    if s.len() <= 2 * KEEP {
        return s;
    }
    let head = s.char_indices().nth(KEEP).map_or(s.len(), |(i, _)| i);
    let tail = s.char_indices().rev().nth(KEEP).map_or(0, |(i, _)| i);
    format!("{} ... {}", &s[..head], &s[tail..])
}

#[cfg(test)]
mod object_tests;
