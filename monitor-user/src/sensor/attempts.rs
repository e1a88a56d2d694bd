//! The agent's half of refused-attempt reporting
//! (`monitor_common::attempts`): which syscall number each listed syscall
//! has on this architecture, written into the kernel's `ATTEMPT_IDS` map;
//! and, opt-in, the global `raw_syscalls/sys_exit` hook for the attempts
//! that have no tracepoint of their own on the running kernel.

use std::path::Path;

use aya::maps::{Array, MapData};
use aya::Ebpf;
use monitor_common::attempts::{ATTEMPTS, NR_MAX};
use monitor_common::names::programs as P;
use monitor_common::{names, SyscallId};

use super::attach::attach_classic;
use super::links::Links;
use super::loader::{map_err, tracepoint_exists};
use super::{HookStatus, SensorError};

/// The syscall number of `id` on this architecture (`None`: none here).
pub(crate) fn nr(id: SyscallId) -> Option<i64> {
    use libc::*;
    use SyscallId as S;
    Some(match id {
        S::Mount => SYS_mount,
        S::Umount2 => SYS_umount2,
        S::Fsopen => SYS_fsopen,
        S::Fsmount => SYS_fsmount,
        S::MoveMount => SYS_move_mount,
        S::OpenTree => SYS_open_tree,
        S::Setns => SYS_setns,
        S::Unshare => SYS_unshare,
        S::PivotRoot => SYS_pivot_root,
        S::Chroot => SYS_chroot,
        S::Ptrace => SYS_ptrace,
        S::InitModule => SYS_init_module,
        S::FinitModule => SYS_finit_module,
        S::DeleteModule => SYS_delete_module,
        S::Bpf => SYS_bpf,
        S::KexecLoad => SYS_kexec_load,
        S::KexecFileLoad => SYS_kexec_file_load,
        S::ProcessVmReadv => SYS_process_vm_readv,
        S::ProcessVmWritev => SYS_process_vm_writev,
        S::OpenByHandleAt => SYS_open_by_handle_at,
        S::Keyctl => SYS_keyctl,
        S::AddKey => SYS_add_key,
        S::RequestKey => SYS_request_key,
        S::Userfaultfd => SYS_userfaultfd,
        S::PerfEventOpen => SYS_perf_event_open,
        S::IoUringSetup => SYS_io_uring_setup,
        _ => return None,
    })
}

/// Fill `ATTEMPT_IDS` (syscall number → id + 1).
pub(crate) fn fill(ebpf: &mut Ebpf) -> Result<(), SensorError> {
    fill_map(ebpf, names::ATTEMPT_IDS, ATTEMPTS)
}

/// Write `syscalls` (number → id + 1) into the array map `name`.
fn fill_map(
    ebpf: &mut Ebpf,
    name: &'static str,
    syscalls: &[SyscallId],
) -> Result<(), SensorError> {
    let map = ebpf.map_mut(name).ok_or(SensorError::Missing {
        what: "map",
        name: name.into(),
    })?;
    let mut ids: Array<&mut MapData, u16> = Array::try_from(map).map_err(|e| map_err(name, e))?;
    for &id in syscalls {
        let Some(n) = nr(id).filter(|&n| (0..NR_MAX as i64).contains(&n)) else {
            continue;
        };
        ids.set(n as u32, id as u16 + 1, 0)
            .map_err(|e| map_err(name, e))?;
    }
    Ok(())
}

/// The attempts with no `sys_enter_*`/`sys_exit_*` tracepoint of their own
/// under `tracefs` (syscalls this kernel does not implement).
pub(crate) fn untraceable(tracefs: &Path) -> Vec<SyscallId> {
    ATTEMPTS
        .iter()
        .copied()
        .filter(|id| {
            let tp = id.tracepoint();
            !tracepoint_exists(tracefs, "syscalls", &format!("sys_enter_{tp}"))
                || !tracepoint_exists(tracefs, "syscalls", &format!("sys_exit_{tp}"))
        })
        .collect()
}

/// `--watch-untraceable`: report the failed calls of the attempts with no
/// tracepoint of their own from the global `raw_syscalls/sys_exit`. Every
/// syscall of every task then runs the program (it returns at once on
/// success), so it is attached only when there is something to see.
pub(super) fn attach_untraceable(
    ebpf: &mut Ebpf,
    links: &mut Links,
    tracefs: &Path,
    hooks: &mut Vec<HookStatus>,
) {
    let missing = untraceable(tracefs);
    if missing.is_empty() {
        log::info!(
            "--watch-untraceable: every reported attempt has its own tracepoint here; \
             raw_syscalls/sys_exit is not attached"
        );
        return;
    }
    let names: Vec<&str> = missing.iter().map(|id| id.name()).collect();
    let attached = if !tracepoint_exists(tracefs, "raw_syscalls", "sys_exit") {
        Err("tracepoint raw_syscalls/sys_exit does not exist on this kernel".to_owned())
    } else {
        fill_map(ebpf, names::UNTRACEABLE_IDS, &missing)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                attach_classic(
                    ebpf,
                    links,
                    P::RAW_SYS_EXIT_UNTRACEABLE,
                    "raw_syscalls",
                    "sys_exit",
                )
            })
    };
    match &attached {
        Ok(()) => log::info!(
            "--watch-untraceable: failed calls of {} are reported from \
             raw_syscalls/sys_exit (attached; every syscall's exit runs it)",
            names.join(", ")
        ),
        Err(e) => log::warn!(
            "--watch-untraceable: attempts of {} are NOT reported: {e}",
            names.join(", ")
        ),
    }
    hooks.push(HookStatus {
        name: format!("raw_syscalls/sys_exit (failed {})", names.join(", ")),
        kind: "tracepoint",
        attached,
    });
}

/// Is `tracepoint` (a syscall's tracepoint name) one whose refused
/// attempts are reported?
pub(crate) fn is_attempt(tracepoint: &str) -> bool {
    ATTEMPTS.iter().any(|id| id.tracepoint() == tracepoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attempt_has_a_number_that_fits_the_map() {
        for &id in ATTEMPTS {
            let n = nr(id).unwrap_or_else(|| panic!("{} has no number", id.name()));
            assert!((0..NR_MAX as i64).contains(&n), "{}", id.name());
        }
    }
}
