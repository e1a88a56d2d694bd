//! The agent's half of refused-attempt reporting
//! (`monitor_common::attempts`): which syscall number each listed syscall
//! has on this architecture, written into the kernel's `ATTEMPT_IDS` map.

use aya::maps::{Array, MapData};
use aya::Ebpf;
use monitor_common::attempts::{ATTEMPTS, NR_MAX};
use monitor_common::{names, SyscallId};

use super::loader::map_err;
use super::SensorError;

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
    let map = ebpf
        .map_mut(names::ATTEMPT_IDS)
        .ok_or(SensorError::Missing {
            what: "map",
            name: names::ATTEMPT_IDS.into(),
        })?;
    let mut ids: Array<&mut MapData, u16> =
        Array::try_from(map).map_err(|e| map_err(names::ATTEMPT_IDS, e))?;
    for &id in ATTEMPTS {
        let Some(n) = nr(id).filter(|&n| (0..NR_MAX as i64).contains(&n)) else {
            continue;
        };
        ids.set(n as u32, id as u16 + 1, 0)
            .map_err(|e| map_err(names::ATTEMPT_IDS, e))?;
    }
    Ok(())
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
