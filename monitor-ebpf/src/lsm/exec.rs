//! `lsm/bprm_creds_for_exec`: the kernel about to run a binary it has
//! opened (`bprm->file`), once per execve/execveat. Successful execs are
//! reported by `sched_process_exec` in both modes (the same record, the
//! same binary); this hook only adds enforcement: exec of a memfd from a
//! container (fileless execution) is refused with `-EPERM` and reported
//! here, the record flagged `DENIED`, or in dry run marked for
//! `sched_process_exec` to flag `WOULD_DENY`.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_get_current_task},
    macros::{lsm, map},
    maps::LruHashMap,
    programs::LsmContext,
};
use monitor_common::{
    enforce::{mode, EPERM},
    exec_flags,
};

use crate::exe_path::{memfd, Memfd};
use crate::globals::{agent_tgid, enforce_memfd_exec, enforce_mode, off};
use crate::kread::ptr;

/// tgid → 1: an exec the hook would have refused (dry run), until
/// `sched_process_exec` flags its record. LRU: an exec that fails later
/// leaves its entry to be evicted.
#[map]
static WOULD_DENY_EXEC: LruHashMap<u32, u8> = LruHashMap::with_max_entries(1024, 0);

#[lsm(hook = "bprm_creds_for_exec")]
pub fn lsm_bprm_creds_for_exec(ctx: LsmContext) -> i32 {
    // bprm_creds_for_exec(struct linux_binprm *bprm), verdict.
    let verdict: i32 = ctx.arg(1);
    let m = enforce_mode();
    if m == mode::OFF || verdict != 0 || !enforce_memfd_exec() {
        return verdict;
    }
    let bprm: u64 = ctx.arg(0);
    let Some(file) = ptr(bprm, off!(bprm_file)) else {
        return verdict;
    };
    // runc re-executes its memfd clone of itself in the new container's
    // cgroup: refusing it would stop containers from starting.
    if memfd(file) != Memfd::Yes {
        return verdict;
    }
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    if tgid == agent_tgid() || !crate::enforce::in_container() {
        return verdict;
    }
    if m == mode::DENY {
        // SAFETY: helper without preconditions.
        let task = unsafe { bpf_get_current_task() };
        crate::process::report_exec(task, bprm, exec_flags::DENIED, false);
        -EPERM
    } else {
        let _ = WOULD_DENY_EXEC.insert(&tgid, &1, 0);
        verdict
    }
}

/// Did the exec hook mark the current process's exec as one it would
/// have refused (dry run)? Clears the mark.
#[inline(always)]
pub fn take_would_deny_exec() -> bool {
    if enforce_mode() != mode::DRY_RUN || !enforce_memfd_exec() {
        return false;
    }
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: a plain lookup of a u32 key.
    if unsafe { WOULD_DENY_EXEC.get(&tgid) }.is_none() {
        return false;
    }
    let _ = WOULD_DENY_EXEC.remove(&tgid);
    true
}
