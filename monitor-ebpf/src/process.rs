//! Process lifecycle from scheduler tracepoints: exec, fork, exit.
//!
//! Each hook exists twice with one body: as a BTF tracepoint (`tp_btf`,
//! preferred) and as a raw tracepoint (fallback for kernels without BTF
//! tracepoints). Both contexts are an array of u64 tracepoint arguments.

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{btf_tracepoint, raw_tracepoint},
    programs::{BtfTracePointContext, RawTracePointContext},
    EbpfContext,
};
use core::ffi::c_void;
use core::mem::size_of;
use monitor_common::{
    exec_flags, wake, EventKind, ExecRecord, ExitRecord, ForkRecord, SyscallId, PATH_LEN,
};

use crate::globals::off;
use crate::kread::{kernel_str, ptr, read, user_range};
use crate::maps::{count_drop, lazy_wake, EVENTS, PENDING};
use crate::store::put;
use crate::{counters, exe_path, exec_context, header};

const CLONE_THREAD: u64 = 0x0001_0000;

/// Tracepoint argument `n` (both context kinds are `u64 args[]`).
#[inline(always)]
fn arg(ctx: *mut c_void, n: usize) -> u64 {
    // SAFETY: the verifier checks ctx accesses against the tracepoint's
    // argument count; n is a constant.
    unsafe { *(ctx as *const u64).add(n) }
}

// sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
#[btf_tracepoint(function = "sched_process_exec")]
pub fn exec_btf(ctx: BtfTracePointContext) -> i32 {
    on_exec(ctx.as_ptr())
}

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn exec_raw(ctx: RawTracePointContext) -> i32 {
    on_exec(ctx.as_ptr())
}

#[inline(always)]
fn on_exec(ctx: *mut c_void) -> i32 {
    flush_pending_execveat();
    let mut flags = 0;
    if crate::lsm::take_would_deny_exec() {
        flags |= exec_flags::WOULD_DENY;
    }
    report_exec(arg(ctx, 0), arg(ctx, 2), flags, true);
    0
}

/// Send the `ExecRecord` of `task` exec'ing `bprm`, with `flags` set:
/// at `sched_process_exec` (the exec succeeded; `args` from the new
/// image), or at the LSM exec hook that refused it (the task is still the
/// old image: `args` false, argv is not read).
#[inline(always)]
pub fn report_exec(task: u64, bprm: u64, flags: u32, args: bool) {
    let Some(mut entry) = EVENTS.reserve::<ExecRecord>(0) else {
        count_drop(EventKind::Exec);
        return;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: `rec` is the reservation, sized for a whole ExecRecord.
    unsafe {
        header::fill(
            &raw mut (*rec).header,
            EventKind::Exec,
            size_of::<ExecRecord>(),
        );
        let r = &mut *rec;
        r.flags = flags;
        let cred = ptr(task, off!(task_cred)).unwrap_or(0);
        r.cap_effective = read::<u64>(cred, off!(cred_cap_effective)).unwrap_or(0);
        r.cap_permitted = read::<u64>(cred, off!(cred_cap_permitted)).unwrap_or(0);

        let filename = ptr(bprm, off!(bprm_filename)).unwrap_or(0);
        let s = kernel_str(r.filename.as_mut_ptr(), PATH_LEN as u32, filename);
        r.filename_len = s.len;
        if s.truncated {
            r.flags |= exec_flags::FILENAME_TRUNCATED;
        }
        r.argc = read::<i32>(bprm, off!(bprm_argc))
            .unwrap_or(0)
            .clamp(0, u16::MAX as i32) as u16;

        r.vpid = vpid(task);
        put(&mut r._pad2, 0);
        session(r, task);
        if args {
            read_args(r, task);
        } else {
            r.args_len = 0;
        }
        // The new program's context; a refused exec's task is still the
        // old program, whose context the agent already has.
        exec_context::fill(r, task, bprm, args);
        // Last: the path walk is the costliest part to verify, so nothing
        // but the submit follows it.
        match ptr(bprm, off!(bprm_file)) {
            Some(file) => exe_path::resolve(rec, file),
            None => {
                r.exe_start = 0;
                r.exe_len = 0;
                r.exe_ino = 0;
                r.flags |= exec_flags::EXE_UNKNOWN;
            }
        }
    }
    // Without its context in the record, the agent reads the new
    // program's /proc entries: wake it now (monitor_common::wake).
    // SAFETY: the reservation is still ours until submit.
    let known = unsafe { (*rec).flags } & exec_flags::CONTEXT_KNOWN != 0;
    entry.submit(if known {
        lazy_wake()
    } else {
        wake::BPF_RB_FORCE_WAKEUP
    });
}

/// A successful execveat() has no sys_exit event on some kernels (6.18),
/// so the exec itself completes its pending syscall record (ret 0). Where
/// the kernel does fire sys_exit, the entry is gone by then: no duplicate.
#[inline(always)]
fn flush_pending_execveat() {
    let key = bpf_get_current_pid_tgid();
    let Some(p) = PENDING.get_ptr_mut(key) else {
        return;
    };
    // SAFETY: `p` is a live PENDING value.
    unsafe {
        if (*p).rec.syscall != SyscallId::Execveat as u16 {
            return;
        }
        (*p).rec.ret = 0;
        crate::flood::send_syscall(&(*p).rec);
    }
    let _ = PENDING.remove(key);
}

/// Deepest pid namespace nesting the kernel allows (MAX_PID_NS_LEVEL).
const MAX_PID_NS_LEVEL: u32 = 32;

/// `task->thread_pid->numbers[level].nr`: the task's pid as seen in its
/// own pid namespace; 0 when unknown.
#[inline(always)]
fn vpid(task: u64) -> u32 {
    let Some(pid) = ptr(task, off!(task_thread_pid)) else {
        return 0;
    };
    let (numbers, size, nr) = (off!(pid_numbers), off!(upid_size), off!(upid_nr));
    let missing = monitor_common::KernelOffsets::MISSING;
    if numbers == missing || size == missing || nr == missing {
        return 0;
    }
    let Some(level) = read::<u32>(pid, off!(pid_level)) else {
        return 0;
    };
    if level > MAX_PID_NS_LEVEL {
        return 0;
    }
    read::<u32>(pid, numbers + level * size + nr).unwrap_or(0)
}

/// `pid_type` indices of `signal_struct.pids`.
const PIDTYPE_PGID: u32 = 2;
const PIDTYPE_SID: u32 = 3;

/// The task's pid namespace: its level of nesting and the namespace
/// itself (`thread_pid->numbers[level].ns`), or None when unknown. The
/// caller has checked the `pid`/`upid` offsets are known.
#[inline(always)]
fn pid_ns(task: u64) -> Option<(u32, u64)> {
    let pid = ptr(task, off!(task_thread_pid))?;
    let level = read::<u32>(pid, off!(pid_level)).filter(|l| *l <= MAX_PID_NS_LEVEL)?;
    let (numbers, size) = (off!(pid_numbers), off!(upid_size));
    let ns = ptr(pid, numbers + level * size + off!(upid_ns))?;
    Some((level, ns))
}

/// `pid`'s number in namespace `ns` at `level` (the kernel's
/// `pid_nr_ns`), or 0 when `pid` is not visible there.
#[inline(always)]
fn nr_in(pid: u64, (level, ns): (u32, u64)) -> u32 {
    let (numbers, size) = (off!(pid_numbers), off!(upid_size));
    match read::<u32>(pid, off!(pid_level)) {
        Some(l) if l >= level && level <= MAX_PID_NS_LEVEL => {
            let upid = numbers + level * size;
            if ptr(pid, upid + off!(upid_ns)) != Some(ns) {
                return 0;
            }
            read::<u32>(pid, upid + off!(upid_nr)).unwrap_or(0)
        }
        _ => 0,
    }
}

/// The session fields: controlling tty (encoded as `tty_nr` in
/// `/proc/PID/stat`), login uid, session and process group ids as the
/// task's own pid namespace numbers them.
#[inline(always)]
fn session(r: &mut ExecRecord, task: u64) {
    put(&mut r.tty, 0);
    put(&mut r.loginuid, 0);
    put(&mut r.sid, 0);
    put(&mut r.vpgid, 0);
    if let Some(uid) = read::<u32>(task, off!(task_loginuid)) {
        r.loginuid = uid;
        r.flags |= exec_flags::LOGINUID_KNOWN;
    }
    let pids = off!(signal_pids);
    // Offsets summed below must all be known (`read` checks only the last).
    let missing = monitor_common::KernelOffsets::MISSING;
    if pids == missing
        || off!(signal_tty) == missing
        || off!(pid_numbers) == missing
        || off!(upid_size) == missing
        || off!(upid_nr) == missing
        || off!(upid_ns) == missing
    {
        return;
    }
    let (Some(signal), Some(ns)) = (ptr(task, off!(task_signal)), pid_ns(task)) else {
        return;
    };
    if let Some(pgrp) = ptr(signal, pids + PIDTYPE_PGID * 8) {
        r.vpgid = nr_in(pgrp, ns);
    }
    if let Some(sess) = ptr(signal, pids + PIDTYPE_SID * 8) {
        r.sid = nr_in(sess, ns);
    }
    if let Some(tty) = ptr(signal, off!(signal_tty)) {
        let index = read::<i32>(tty, off!(tty_index)).unwrap_or(0) as u32;
        let driver = ptr(tty, off!(tty_driver)).unwrap_or(0);
        let major = read::<i32>(driver, off!(tty_driver_major)).unwrap_or(0) as u32;
        let minor = read::<i32>(driver, off!(tty_driver_minor_start)).unwrap_or(0) as u32 + index;
        // new_encode_dev(MKDEV(major, minor)), as fs/proc/array.c prints it.
        r.tty = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
    }
    r.flags |= exec_flags::SESSION_KNOWN;
}

/// argv from the new image's `mm->arg_start..arg_end` (user memory).
#[inline(always)]
fn read_args(r: &mut ExecRecord, task: u64) {
    r.args_len = 0;
    let mm = ptr(task, off!(task_mm)).unwrap_or(0);
    let (Some(start), Some(end)) = (
        read::<u64>(mm, off!(mm_arg_start)),
        read::<u64>(mm, off!(mm_arg_end)),
    ) else {
        return;
    };
    if let Some((len, cut)) = user_range(&mut r.args, start, end) {
        r.args_len = len;
        if cut {
            r.flags |= exec_flags::ARGS_TRUNCATED;
        }
    }
}

// task_newtask(struct task_struct *task, unsigned long clone_flags)
#[btf_tracepoint(function = "task_newtask")]
pub fn fork_btf(ctx: BtfTracePointContext) -> i32 {
    on_fork(ctx.as_ptr())
}

#[raw_tracepoint(tracepoint = "task_newtask")]
pub fn fork_raw(ctx: RawTracePointContext) -> i32 {
    on_fork(ctx.as_ptr())
}

#[inline(always)]
fn on_fork(ctx: *mut c_void) -> i32 {
    let task = arg(ctx, 0);
    let flags = arg(ctx, 1);
    if flags & CLONE_THREAD != 0 {
        counters::count(|c| c.threads += 1);
        return 0;
    }
    counters::count(|c| c.forks += 1);
    let Some(mut entry) = EVENTS.reserve::<ForkRecord>(0) else {
        count_drop(EventKind::Fork);
        return 0;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: whole-record reservation.
    unsafe {
        header::fill(
            &raw mut (*rec).header,
            EventKind::Fork,
            size_of::<ForkRecord>(),
        );
        (*rec).clone_flags = flags;
        (*rec).child_tgid = read::<u32>(task, off!(task_tgid)).unwrap_or(0);
        (*rec).child_tid = read::<u32>(task, off!(task_pid)).unwrap_or(0);
    }
    entry.submit(lazy_wake());
    0
}

// sched_process_exit(struct task_struct *p[, bool group_dead])
#[btf_tracepoint(function = "sched_process_exit")]
pub fn exit_btf(ctx: BtfTracePointContext) -> i32 {
    on_exit(ctx.as_ptr())
}

#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn exit_raw(ctx: RawTracePointContext) -> i32 {
    on_exit(ctx.as_ptr())
}

#[inline(always)]
fn on_exit(ctx: *mut c_void) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if pid_tgid >> 32 != pid_tgid & 0xffff_ffff {
        return 0; // a thread, not the process
    }
    let task = arg(ctx, 0);
    let Some(mut entry) = EVENTS.reserve::<ExitRecord>(0) else {
        count_drop(EventKind::Exit);
        return 0;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: whole-record reservation.
    unsafe {
        header::fill(
            &raw mut (*rec).header,
            EventKind::Exit,
            size_of::<ExitRecord>(),
        );
        (*rec).exit_code = read::<u32>(task, off!(task_exit_code)).unwrap_or(0);
        (*rec)._pad = 0;
    }
    entry.submit(lazy_wake());
    0
}
