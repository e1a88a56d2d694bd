//! What the running kernel supports, for `vigil probe` and the agent's
//! start-up log: BTF, ring buffers, BTF/raw/syscall tracepoints, BPF LSM
//! (active and loadable) and trampolines (fentry).
//!
//! Loadability is tested the only reliable way: by asking the kernel to
//! load vigil's own programs (the probe-only LSM and fentry programs are
//! loaded here and nowhere else). Nothing stays attached afterwards.
//! `vigil run` does not load the sensor's LSM programs here ([`LsmProbe`]):
//! its sensor load right after answers the same question. Every probe
//! uses one loaded object (loading it, with its maps, is the slow part).

use std::path::Path;

use aya::maps::MapType;
use aya::programs::{BtfTracePoint, FEntry, Lsm, RawTracePoint, TracePoint};
use aya::{Ebpf, EbpfLoader};
use monitor_common::{names, KernelOffsets, SyscallId};

use super::attach::program;
use super::btf::{Btf, VMLINUX};
use super::loader::{ensure_tracefs, object, page_size, summarize, tracepoint_exists};
use super::offsets;

const SECURITYFS: &str = "/sys/kernel/security";

/// One capability and why (not) available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feature {
    pub supported: bool,
    /// What was tested, or why it is unavailable.
    pub detail: String,
}

impl Feature {
    fn yes(detail: impl Into<String>) -> Feature {
        Feature {
            supported: true,
            detail: detail.into(),
        }
    }
    fn no(detail: impl Into<String>) -> Feature {
        Feature {
            supported: false,
            detail: detail.into(),
        }
    }
}

/// What this kernel supports.
#[derive(Clone, Debug)]
pub struct KernelFeatures {
    /// `uname -r`.
    pub kernel_release: String,
    /// Kernel BTF at /sys/kernel/btf/vmlinux, parsed and every offset resolved.
    pub btf: Feature,
    pub ring_buffer: Feature,
    /// `tp_btf` programs (preferred for process lifecycle hooks).
    pub btf_tracepoints: Feature,
    /// Raw tracepoints (the fallback for lifecycle hooks, and module/cgroup hooks).
    pub raw_tracepoints: Feature,
    /// Per-syscall tracepoints (`syscalls/sys_enter_*`).
    pub syscall_tracepoints: Feature,
    /// `bpf` is in the active LSM list.
    pub bpf_lsm_active: Feature,
    /// The kernel loads a BPF LSM program.
    pub bpf_lsm_loadable: Feature,
    /// The kernel loads an fentry program (BPF trampolines).
    pub trampolines: Feature,
    /// The kernel loads every LSM program of the sensor
    /// (`monitor_common::lsm::HOOKS`): `vigil run` would run in LSM mode.
    /// None: not probed ([`LsmProbe::Skip`]).
    pub lsm_hooks: Option<Feature>,
    /// io_uring's tracepoints, the struct members its programs read, and
    /// the programs loaded (`monitor_common::io_uring`).
    pub io_uring: Feature,
    /// Which kind of hook the sensor will use for exec/fork/exit.
    pub lifecycle_hook_kind: &'static str,
    /// Hooked syscalls whose tracepoints this kernel does not have.
    pub missing_syscalls: Vec<&'static str>,
}

/// Whether [`probe_features`] loads the sensor's LSM programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsmProbe {
    /// Load them all (`vigil probe`: would `vigil run` be in LSM mode?).
    Load,
    /// Leave them to the sensor's own load (`vigil run`: loading them here
    /// too would run the verifier over every LSM program twice).
    Skip,
}

/// Probe the running kernel. Never fails: each feature carries its reason.
pub fn probe_features(lsm: LsmProbe) -> KernelFeatures {
    let kernel_release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"));

    let (btf, offs, missing) = probe_btf();
    let ring_buffer = match aya::sys::is_map_supported(MapType::RingBuf) {
        Ok(true) => Feature::yes("BPF_MAP_TYPE_RINGBUF created"),
        Ok(false) => Feature::no("BPF_MAP_TYPE_RINGBUF refused by the kernel"),
        Err(e) => Feature::no(format!("probing ring buffer failed: {}", summarize(&e))),
    };
    let bpf_lsm_active = probe_lsm_active();
    let tracefs = ensure_tracefs();
    let missing_syscalls: Vec<&'static str> = match &tracefs {
        Ok(t) => SyscallId::ALL
            .iter()
            .filter(|&&id| {
                !tracepoint_exists(t, "syscalls", &format!("sys_enter_{}", id.tracepoint()))
            })
            .map(|id| id.name())
            .collect(),
        Err(_) => SyscallId::ALL.iter().map(|id| id.name()).collect(),
    };

    let aya_btf = aya::Btf::from_sys_fs().map_err(|e| summarize(&e));
    // One object for every probe: each loads programs of its own, and
    // loading the object (its maps) is the slow part (seconds per load on
    // an emulated kernel). It is dropped, with whatever a probe attached,
    // when this function returns.
    let mut loaded = load_object(&offs.unwrap_or_else(KernelOffsets::missing));
    let mut program_probe = |f: &dyn Fn(&mut Ebpf) -> Result<(), String>, what: &str| -> Feature {
        match &mut loaded {
            Err(e) => Feature::no(format!("eBPF object did not load: {e}")),
            Ok(ebpf) => match f(ebpf) {
                Ok(()) => Feature::yes(what.to_owned()),
                Err(e) => Feature::no(e),
            },
        }
    };
    let need_btf =
        |ebpf: &mut Ebpf, f: &dyn Fn(&mut Ebpf, &aya::Btf) -> Result<(), String>| match &aya_btf {
            Ok(b) => f(ebpf, b),
            Err(e) => Err(format!("no kernel BTF: {e}")),
        };

    let btf_tracepoints = program_probe(
        &|ebpf| {
            need_btf(ebpf, &|ebpf, b| {
                let p: &mut BtfTracePoint = program(ebpf, names::programs::EXEC_BTF)?;
                p.load("sched_process_exec", b).map_err(|e| summarize(&e))?;
                p.attach().map(drop).map_err(|e| summarize(&e))
            })
        },
        "tp_btf/sched_process_exec loaded and attached",
    );
    let raw_tracepoints = program_probe(
        &|ebpf| {
            let p: &mut RawTracePoint = program(ebpf, names::programs::EXEC_RAW)?;
            p.load().map_err(|e| summarize(&e))?;
            p.attach("sched_process_exec")
                .map(drop)
                .map_err(|e| summarize(&e))
        },
        "raw_tp/sched_process_exec loaded and attached",
    );
    let syscall_tracepoints = match &tracefs {
        Err(e) => Feature::no(format!("tracefs unavailable: {e}")),
        Ok(_) => program_probe(
            &|ebpf| {
                let p: &mut TracePoint = program(ebpf, SyscallId::Mount.program())?;
                p.load().map_err(|e| summarize(&e))?;
                p.attach("syscalls", "sys_enter_mount")
                    .map(drop)
                    .map_err(|e| summarize(&e))
            },
            "tracepoint/syscalls/sys_enter_mount loaded and attached",
        ),
    };
    let bpf_lsm_loadable = program_probe(
        &|ebpf| {
            need_btf(ebpf, &|ebpf, b| {
                let p: &mut Lsm = program(ebpf, names::programs::PROBE_LSM)?;
                p.load("bprm_check_security", b).map_err(|e| summarize(&e))
            })
        },
        "lsm/bprm_check_security loaded (not attached)",
    );
    let trampolines = program_probe(
        &|ebpf| {
            need_btf(ebpf, &|ebpf, b| {
                let p: &mut FEntry = program(ebpf, names::programs::PROBE_FENTRY)?;
                p.load("vfs_read", b).map_err(|e| summarize(&e))
            })
        },
        "fentry/vfs_read loaded (not attached)",
    );
    // The sensor's own LSM programs, so the verifier judges what LSM mode
    // would really load (bpf_d_path, task pt_regs), not a trivial program.
    let lsm_hooks = (lsm == LsmProbe::Load).then(|| {
        program_probe(
            &|ebpf| {
                need_btf(ebpf, &|ebpf, b| {
                    for h in monitor_common::lsm::HOOKS {
                        let p: &mut Lsm = program(ebpf, h.program)?;
                        p.load(h.hook, b)
                            .map_err(|e| format!("lsm/{}: {}", h.hook, summarize(&e)))?;
                    }
                    Ok(())
                })
            },
            "every LSM hook loaded (not attached)",
        )
    });
    let io_uring = match &tracefs {
        Err(e) => Feature::no(format!("tracefs unavailable: {e}")),
        Ok(t) => match super::io_uring::supported(
            t,
            &missing
                .iter()
                .map(|(p, r)| (*p, r.as_str()))
                .collect::<Vec<_>>(),
        ) {
            Err(e) => Feature::no(e),
            Ok(submit) => program_probe(
                &|ebpf| {
                    for prog in [
                        names::programs::IO_URING_SUBMIT,
                        names::programs::IO_URING_COMPLETE,
                    ] {
                        let p: &mut TracePoint = program(ebpf, prog)?;
                        p.load().map_err(|e| format!("{prog}: {}", summarize(&e)))?;
                    }
                    Ok(())
                },
                &format!(
                    "io_uring/{submit} and io_uring_complete: layout checked, programs loaded \
                     (opens, connects)"
                ),
            ),
        },
    };
    let lifecycle_hook_kind = if btf_tracepoints.supported {
        "tp_btf"
    } else {
        "raw_tracepoint"
    };
    KernelFeatures {
        kernel_release,
        btf,
        ring_buffer,
        btf_tracepoints,
        raw_tracepoints,
        syscall_tracepoints,
        bpf_lsm_active,
        bpf_lsm_loadable,
        trampolines,
        lsm_hooks,
        io_uring,
        lifecycle_hook_kind,
        missing_syscalls,
    }
}

/// Missing struct members, with why (`offsets::Missing` as text).
type MissingMembers = Vec<(&'static str, String)>;

fn probe_btf() -> (Feature, Option<KernelOffsets>, MissingMembers) {
    let all_missing = || {
        monitor_common::io_uring::MEMBERS
            .iter()
            .map(|&p| (p, "no kernel BTF".to_owned()))
            .collect()
    };
    if !Path::new(VMLINUX).exists() {
        return (
            Feature::no(format!(
                "{VMLINUX} does not exist (kernel built without BTF)"
            )),
            None,
            all_missing(),
        );
    }
    match Btf::from_sys_fs() {
        Err(e) => (Feature::no(e.to_string()), None, all_missing()),
        Ok(btf) => match offsets::resolve(&btf) {
            Ok((o, missing)) if missing.is_empty() => (
                Feature::yes(format!("{} types, every offset resolved", btf.len())),
                Some(o),
                Vec::new(),
            ),
            Ok((o, missing)) => {
                let names: Vec<&str> = missing.iter().map(|m| m.path).collect();
                (
                    Feature::yes(format!(
                        "{} types; missing (reported as unknown): {}",
                        btf.len(),
                        names.join(", ")
                    )),
                    Some(o),
                    missing.into_iter().map(|m| (m.path, m.reason)).collect(),
                )
            }
            Err(e) => (Feature::no(e.to_string()), None, all_missing()),
        },
    }
}

fn probe_lsm_active() -> Feature {
    let lsm = Path::new(SECURITYFS).join("lsm");
    if lsm.exists() {
        return lsm_verdict(std::fs::read_to_string(&lsm), &lsm);
    }
    // securityfs is not mounted: mount it privately for one read, so
    // probing leaves the system as it found it.
    let dir = std::env::temp_dir().join(format!("vigil-securityfs-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Feature::no(format!(
            "securityfs not mounted; creating {}: {e}",
            dir.display()
        ));
    }
    let c = |s: &std::ffi::OsStr| std::ffi::CString::new(s.as_encoded_bytes()).ok();
    let (Some(src), Some(dst), Some(fs)) = (
        c("none".as_ref()),
        c(dir.as_os_str()),
        c("securityfs".as_ref()),
    ) else {
        return Feature::no("securityfs not mounted; temp path contains NUL");
    };
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) };
    let verdict = if rc == 0 {
        let lsm = dir.join("lsm");
        let v = lsm_verdict(std::fs::read_to_string(&lsm), &lsm);
        // SAFETY: valid path string.
        unsafe { libc::umount2(dst.as_ptr(), libc::MNT_DETACH) };
        v
    } else {
        let e = std::io::Error::last_os_error();
        Feature::no(format!(
            "securityfs not mounted and mounting it failed: {e}"
        ))
    };
    let _ = std::fs::remove_dir(&dir);
    verdict
}

fn lsm_verdict(list: std::io::Result<String>, path: &Path) -> Feature {
    match list {
        Ok(list) if list.trim().split(',').any(|l| l == "bpf") => {
            Feature::yes(format!("active LSMs: {}", list.trim()))
        }
        Ok(list) => Feature::no(format!(
            "`bpf` not among active LSMs: {} (boot with lsm=...,bpf)",
            list.trim()
        )),
        Err(e) => Feature::no(format!("reading {}: {e}", path.display())),
    }
}

/// Load the object (maps created, programs not yet loaded), with a
/// one-page ring buffer.
fn load_object(offsets: &KernelOffsets) -> Result<Ebpf, String> {
    let tgid = std::process::id();
    EbpfLoader::new()
        .override_global(names::OFFSETS, offsets, true)
        .override_global(names::AGENT_TGID, &tgid, true)
        .map_max_entries(names::EVENTS, page_size() as u32)
        .load(object())
        .map_err(|e| summarize(&e))
}
