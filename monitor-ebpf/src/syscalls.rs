//! Security-relevant syscalls from per-syscall tracepoints.
//!
//! Each hooked syscall has a small enter program (`sys_enter_<name>`),
//! generated from its row of `monitor_common::syscall_table!`, that knows
//! its [`SyscallId`] and so what to read ([`SyscallId::read`]). It assembles a
//! record in per-CPU scratch, reading strings at entry (the user pointer may
//! be gone by exit), and parks it in `PENDING` keyed by pid_tgid. One
//! generic exit program, attached to every `sys_exit_<name>`, adds the
//! return value and moves the record to the ring buffer. Per-syscall
//! tracepoints run a program only for their own syscall, unlike a global
//! `sys_enter` hook that would run on every syscall of every task.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_get_current_task},
    macros::tracepoint,
    programs::TracePointContext,
    EbpfContext,
};
use monitor_common::syscalls::{Extra, NONE};
use monitor_common::{syscall_flags, SyscallId, SyscallRecord, PATH_LEN, SHORT_LEN};

use crate::globals::{agent_tgid, off};
use crate::kread::{ptr, read, user, user_str};
use crate::maps::{PENDING, SYSCALL_SCRATCH};
use crate::store::put;
use crate::{counters, enforce, net, open_filter, open_path, syscall_record};

/// Namespace flags of clone()/unshare(). CLONE_NEWTIME (0x80) is only valid
/// for clone3: in clone()'s flags the low byte is the exit signal.
const CLONE_NS: u64 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;
const CLONE_NEWTIME: u64 = 0x80;

/// Offsets in the classic syscall tracepoint records.
pub(crate) const NR_OFFSET: usize = 8;
const ARGS_OFFSET: usize = 16;
pub(crate) const RET_OFFSET: usize = 16;

#[inline(always)]
fn on_enter(ctx: &TracePointContext, id: SyscallId) -> u32 {
    let spec = id.read();
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == agent_tgid() {
        return 0;
    }
    let Some(p) = SYSCALL_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    let c = ctx.as_ptr() as *const u8;
    // SAFETY: `p` is this CPU's scratch value; ctx reads are at constant
    // offsets the verifier checks.
    unsafe {
        let p = &mut *p;
        p.nr = *(c.add(NR_OFFSET) as *const i32) as i64;
        p.tuple = net::TUPLE_NONE;
        p._pad = 0;
        let r = &mut p.rec;
        syscall_record::start(r, id as u16, 0);
        let args = c.add(ARGS_OFFSET) as *const u64;
        let mut i = 0;
        while i < 6 {
            let v = if i < spec.nargs as usize {
                *args.add(i)
            } else {
                0
            };
            put(&mut r.args[i], v);
            i += 1;
        }
        // Strings are read at entry: the user pointer may be gone by exit.
        if spec.str0 != NONE {
            let ptr = r.args[spec.str0 as usize];
            r.str0_len = arg_str(
                r.str0.as_mut_ptr(),
                PATH_LEN,
                ptr,
                &mut r.flags,
                syscall_flags::STR0_TRUNCATED,
            );
        }
        if spec.str1 != NONE {
            let ptr = r.args[spec.str1 as usize];
            r.str1_len = arg_str(
                r.str1.as_mut_ptr(),
                PATH_LEN,
                ptr,
                &mut r.flags,
                syscall_flags::STR1_TRUNCATED,
            );
        }
        if spec.short != NONE {
            let ptr = r.args[spec.short as usize];
            r.short_len = arg_str(
                r.short.as_mut_ptr(),
                SHORT_LEN,
                ptr,
                &mut r.flags,
                syscall_flags::SHORT_TRUNCATED,
            );
        }
        let keep = match spec.extra {
            Extra::None => true,
            Extra::Clone => r.args[0] & CLONE_NS != 0,
            Extra::Clone3 => match user::<u64>(r.args[0]) {
                Some(flags) => {
                    r.args[3] = flags;
                    flags & (CLONE_NS | CLONE_NEWTIME) != 0
                }
                None => false,
            },
            Extra::Open(flags_arg) => {
                let dirfd = dirfd(r, spec.str0);
                open_path::resolve(r, dirfd);
                let write = open_filter::is_write(r.args[flags_arg as usize]);
                enforce::open_checked(r, write, true)
            }
            Extra::Openat2 => {
                let dirfd = dirfd(r, spec.str0);
                open_path::resolve(r, dirfd);
                if let Some(how) = user::<[u64; 3]>(r.args[2]) {
                    r.args[3] = how[0];
                    r.args[4] = how[1];
                    r.args[5] = how[2];
                }
                let write = open_filter::is_write(r.args[3]);
                enforce::open_checked(r, write, true)
            }
            Extra::Creat => {
                open_path::resolve(r, open_path::AT_FDCWD);
                enforce::open_checked(r, true, true)
            }
            Extra::Capset => {
                read_caps(r);
                true
            }
            Extra::ExecMem => crate::lsm::exec_mem(id, r.args[2], r.args[3]),
            net => {
                let (keep, tuple) = net::on_enter(r, net);
                p.tuple = tuple;
                keep
            }
        };
        if !keep {
            return 0;
        }
        syscall_record::stamp(r);
        let _ = PENDING.insert(pid_tgid, &*p, 0);
    }
    0
}

/// The directory fd of an open whose path is argument `path_arg`: the
/// argument before it (openat, openat2), else the working directory.
#[inline(always)]
fn dirfd(r: &SyscallRecord, path_arg: u8) -> i64 {
    if path_arg == 1 {
        r.args[0] as i32 as i64
    } else {
        open_path::AT_FDCWD
    }
}

/// Copy the user string at `ptr` into `dst` (`cap` bytes); returns its
/// length and sets `truncated` in `flags` when it did not fit.
#[inline(always)]
fn arg_str(dst: *mut u8, cap: usize, ptr: u64, flags: &mut u16, truncated: u16) -> u16 {
    let s = user_str(dst, cap as u32, ptr);
    if s.truncated {
        *flags |= truncated;
    }
    s.len
}

/// capset(): the two `__user_cap_data_struct {effective, permitted,
/// inheritable}` entries (64-bit capability versions 2 and 3; version 1
/// passes one entry, so fall back to reading only that), and the caller's
/// effective set before the call, for telling a raise from a drop.
#[inline(always)]
fn read_caps(r: &mut SyscallRecord) {
    let data = r.args[1];
    let (lo, hi) = match user::<[u32; 6]>(data) {
        Some(d) => ([d[0], d[1], d[2]], [d[3], d[4], d[5]]),
        None => match user::<[u32; 3]>(data) {
            Some(d) => (d, [0; 3]),
            None => {
                r.flags |= syscall_flags::CAPS_UNREAD;
                ([0; 3], [0; 3])
            }
        },
    };
    r.args[2] = lo[0] as u64 | (hi[0] as u64) << 32;
    r.args[3] = lo[1] as u64 | (hi[1] as u64) << 32;
    r.args[4] = lo[2] as u64 | (hi[2] as u64) << 32;
    // SAFETY: helper without arguments.
    let task = unsafe { bpf_get_current_task() };
    let cred = ptr(task, off!(task_cred)).unwrap_or(0);
    r.args[5] = match read::<u64>(cred, off!(cred_cap_effective)) {
        Some(v) => v,
        None => {
            r.flags |= syscall_flags::CAPS_CURRENT_UNKNOWN;
            0
        }
    };
}

/// The exit program of hooked syscalls, attached to `sys_exit_<name>`.
#[tracepoint]
pub fn sys_exit(ctx: TracePointContext) -> u32 {
    on_exit(&ctx);
    0
}

/// [`sys_exit`] for hooked syscalls that also count as fd-creating
/// (openat, memfd_create, ...): one program per tracepoint, not two.
#[tracepoint]
pub fn sys_exit_fd(ctx: TracePointContext) -> u32 {
    counters::on_fd_exit(on_exit(&ctx).0);
    0
}

/// [`sys_exit`] for hooked syscalls that also count as forks (clone, clone3).
#[tracepoint]
pub fn sys_exit_fork(ctx: TracePointContext) -> u32 {
    counters::on_fork_exit(on_exit(&ctx).0);
    0
}

/// Complete the pending record with the return value and send it. Returns
/// the return value and whether an enter record was pending.
#[inline(always)]
pub(crate) fn on_exit(ctx: &TracePointContext) -> (i64, bool) {
    let c = ctx.as_ptr() as *const u8;
    // SAFETY: constant offset within the sys_exit record.
    let ret = unsafe { *(c.add(RET_OFFSET) as *const i64) };
    let key = bpf_get_current_pid_tgid();
    let Some(p) = PENDING.get_ptr_mut(key) else {
        return (ret, false);
    };
    // SAFETY: `p` is a live PENDING value; ctx reads at constant offsets.
    unsafe {
        let nr = *(c.add(NR_OFFSET) as *const i32) as i64;
        if (*p).nr == nr
            && wanted((*p).rec.syscall, ret)
            && net::on_exit(&mut (*p).rec, (*p).tuple, ret)
        {
            (*p).rec.ret = ret;
            crate::flood::send_syscall(&(*p).rec);
        }
    }
    let _ = PENDING.remove(key);
    (ret, true)
}

/// Whether a finished syscall is reported: all are, except those the table
/// reports only on failure (`SyscallId::failures_only`).
#[inline(always)]
fn wanted(id: u16, ret: i64) -> bool {
    match SyscallId::from_u16(id).and_then(SyscallId::failures_only) {
        Some([a, b]) => ret < 0 && ret != a && ret != b,
        None => true,
    }
}

/// One enter program per row of the syscall table; the program name is
/// the row's (`sys_enter_<name>`), attached to its `sys_enter_<tracepoint>`.
macro_rules! enter_programs {
    ($($name:ident = $id:literal, $str:literal, $tp:literal, $prog:ident, $read:tt, $args:tt;)*) => {
        $(
            #[tracepoint]
            pub fn $prog(ctx: TracePointContext) -> u32 {
                on_enter(&ctx, SyscallId::$name)
            }
        )*
    };
}

monitor_common::syscall_table!(enter_programs);
