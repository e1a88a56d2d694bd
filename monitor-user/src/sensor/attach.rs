//! Attaching the object's programs to their hooks: which program goes on
//! which tracepoint (the lifecycle, raw, classic, syscall, counting and
//! DNS tables), and one function per kind of attachment, each recording
//! a [`HookStatus`] or returning why the hook was refused.

use std::path::Path;

use aya::programs::{BtfTracePoint, RawTracePoint, TracePoint};
use aya::Ebpf;
use monitor_common::names::programs as P;
use monitor_common::SyscallId;

use super::links::Links;
use super::loader::{summarize, tracepoint_exists};
use super::HookStatus;

/// Syscalls whose EAGAIN/ENOMEM failure is a failed fork.
const FORK_SYSCALLS: &[&str] = &["clone", "clone3", "fork", "vfork"];

/// Syscalls that create file descriptors, whose EMFILE/ENFILE failure is fd
/// exhaustion. `fcntl(F_DUPFD)` is left out: fcntl is frequent and mostly
/// not about creating fds.
const FD_SYSCALLS: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "open_by_handle_at",
    "socket",
    "socketpair",
    "accept",
    "accept4",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "eventfd",
    "eventfd2",
    "epoll_create",
    "epoll_create1",
    "inotify_init",
    "inotify_init1",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "memfd_create",
    "userfaultfd",
    "pidfd_open",
    "pidfd_getfd",
    "perf_event_open",
    "io_uring_setup",
    "fanotify_init",
];

/// Lifecycle hooks: tracepoint name, tp_btf program, raw_tracepoint program.
pub(super) const LIFECYCLE: &[(&str, &str, &str)] = &[
    ("sched_process_exec", P::EXEC_BTF, P::EXEC_RAW),
    ("task_newtask", P::FORK_BTF, P::FORK_RAW),
    ("sched_process_exit", P::EXIT_BTF, P::EXIT_RAW),
];

/// Other raw tracepoints: (category in tracefs, tracepoint name = program name).
pub(super) const RAW: &[(&str, &str)] = &[
    ("module", P::MODULE_LOAD),
    ("cgroup", P::CGROUP_MKDIR),
    ("cgroup", P::CGROUP_RMDIR),
];

/// Classic tracepoints besides syscalls: (program, category, name).
pub(super) const CLASSIC: &[(&str, &str, &str)] = &[(P::OOM_MARK_VICTIM, "oom", "mark_victim")];

const SYS_EXIT_PROG: &str = P::SYS_EXIT;
/// `sys_exit` plus fd-exhaustion counting, for hooked fd-creating syscalls.
const SYS_EXIT_FD_PROG: &str = P::SYS_EXIT_FD;
/// `sys_exit` plus failed-fork counting, for hooked fork-family syscalls.
const SYS_EXIT_FORK_PROG: &str = P::SYS_EXIT_FORK;

/// The exit program of a hooked syscall (by tracepoint name): hooked
/// syscalls that are also counted get one program doing both.
fn exit_prog(tp_name: &str) -> &'static str {
    if FORK_SYSCALLS.contains(&tp_name) {
        SYS_EXIT_FORK_PROG
    } else if FD_SYSCALLS.contains(&tp_name) {
        SYS_EXIT_FD_PROG
    } else {
        SYS_EXIT_PROG
    }
}

/// Exit-side counting programs (never send records) and the syscall
/// tracepoints each is attached to, except those of hooked syscalls (their
/// exit program counts, see [`exit_prog`]). Tracepoints this kernel lacks
/// (e.g. `fork`/`pipe` off x86) are reported as refused.
const COUNTING: &[(&str, &[&str])] = &[
    (P::COUNT_FORK_FAILURE, FORK_SYSCALLS),
    (P::COUNT_FD_FAILURE, FD_SYSCALLS),
];

/// The program `name` of the object, as its type `T`.
pub(crate) fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, String>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let p = ebpf
        .program_mut(name)
        .ok_or_else(|| format!("program `{name}` not in the eBPF object"))?;
    p.try_into()
        .map_err(|e: aya::programs::ProgramError| summarize(&e))
}

pub(super) fn attach_lifecycle(
    ebpf: &mut Ebpf,
    links: &mut Links,
    btf: Option<&aya::Btf>,
    tp: &str,
    btf_prog: &str,
    raw_prog: &str,
) -> HookStatus {
    if let Some(btf) = btf {
        let r = program::<BtfTracePoint>(ebpf, btf_prog).and_then(|p| {
            p.load(tp, btf).map_err(|e| summarize(&e))?;
            let id = p.attach().map_err(|e| summarize(&e))?;
            links.keep(p.take_link(id).map_err(|e| summarize(&e))?);
            Ok(())
        });
        match r {
            Ok(()) => {
                return HookStatus {
                    name: tp.to_owned(),
                    kind: "tp_btf",
                    attached: Ok(()),
                }
            }
            Err(e) => log::warn!("tp_btf/{tp} refused, falling back to raw_tracepoint: {e}"),
        }
    }
    HookStatus {
        name: tp.to_owned(),
        kind: "raw_tracepoint",
        attached: attach_raw(ebpf, links, raw_prog, tp),
    }
}

pub(super) fn attach_raw(
    ebpf: &mut Ebpf,
    links: &mut Links,
    prog: &str,
    tp: &str,
) -> Result<(), String> {
    let p = program::<RawTracePoint>(ebpf, prog)?;
    p.load().map_err(|e| summarize(&e))?;
    let id = p.attach(tp).map_err(|e| summarize(&e))?;
    links.keep(p.take_link(id).map_err(|e| summarize(&e))?);
    Ok(())
}

pub(super) fn attach_classic(
    ebpf: &mut Ebpf,
    links: &mut Links,
    prog: &str,
    category: &str,
    name: &str,
) -> Result<(), String> {
    let p = program::<TracePoint>(ebpf, prog)?;
    p.load().map_err(|e| summarize(&e))?;
    attach_loaded(p, links, category, name)
}

/// Attaches an already loaded tracepoint program; the link goes to `links`.
pub(super) fn attach_loaded(
    p: &mut TracePoint,
    links: &mut Links,
    category: &str,
    name: &str,
) -> Result<(), String> {
    let id = p.attach(category, name).map_err(|e| summarize(&e))?;
    links.keep(p.take_link(id).map_err(|e| summarize(&e))?);
    Ok(())
}

pub(super) fn attach_syscalls(
    ebpf: &mut Ebpf,
    links: &mut Links,
    tracefs: &Path,
    traced: &[SyscallId],
    hooks: &mut Vec<HookStatus>,
) {
    let mut loaded = std::collections::HashMap::new();
    for prog in [
        SYS_EXIT_PROG,
        SYS_EXIT_FD_PROG,
        SYS_EXIT_FORK_PROG,
        P::SYS_EXIT_ATTEMPT,
    ] {
        let r = program::<TracePoint>(ebpf, prog).and_then(|p| p.load().map_err(|e| summarize(&e)));
        loaded.insert(prog, r);
    }
    // Without the attempt program (or its map), these syscalls keep their
    // plain exit program: events, but no refused attempts.
    let attempts = match loaded.get(P::SYS_EXIT_ATTEMPT) {
        Some(Ok(())) => match super::attempts::fill(ebpf) {
            Ok(()) => true,
            Err(e) => {
                log::warn!("refused syscall attempts are not reported: {e}");
                false
            }
        },
        Some(Err(e)) => {
            log::warn!("refused syscall attempts are not reported: program failed to load: {e}");
            false
        }
        None => false,
    };
    for &id in traced {
        let exit_prog = if attempts && super::attempts::is_attempt(id.tracepoint()) {
            P::SYS_EXIT_ATTEMPT
        } else {
            exit_prog(id.tracepoint())
        };
        let prog = id.program();
        let enter = format!("sys_enter_{}", id.tracepoint());
        let exit = format!("sys_exit_{}", id.tracepoint());
        let status = |tp: &str, attached| HookStatus {
            name: format!("syscalls/{tp}"),
            kind: "tracepoint",
            attached,
        };
        if !tracepoint_exists(tracefs, "syscalls", &enter)
            || !tracepoint_exists(tracefs, "syscalls", &exit)
        {
            hooks.push(status(
                &enter,
                Err("tracepoint does not exist on this kernel".into()),
            ));
            continue;
        }
        if let Some(Err(e)) = loaded.get(exit_prog) {
            hooks.push(status(
                &enter,
                Err(format!("exit program {exit_prog} failed to load: {e}")),
            ));
            continue;
        }
        // Attach the exit first: an enter without its exit would only fill
        // PENDING with records that never leave.
        let exit_r = program::<TracePoint>(ebpf, exit_prog)
            .and_then(|p| attach_loaded(p, links, "syscalls", &exit));
        let exit_ok = exit_r.is_ok();
        hooks.push(status(&exit, exit_r));
        if exit_ok {
            hooks.push(status(
                &enter,
                attach_classic(ebpf, links, prog, "syscalls", &enter),
            ));
        } else {
            hooks.push(status(&enter, Err("its sys_exit hook was refused".into())));
        }
    }
}

/// Attach each counting program to the `sys_exit_<name>` of its syscalls.
pub(super) fn attach_counting(
    ebpf: &mut Ebpf,
    links: &mut Links,
    tracefs: &Path,
    traced: &[SyscallId],
    hooks: &mut Vec<HookStatus>,
) {
    let hooked: Vec<&str> = traced.iter().map(|&id| id.tracepoint()).collect();
    for &(prog, syscalls) in COUNTING {
        let loaded =
            program::<TracePoint>(ebpf, prog).and_then(|p| p.load().map_err(|e| summarize(&e)));
        for &name in syscalls {
            if hooked.contains(&name) {
                continue; // counted by its hooked exit program
            }
            let tp = format!("sys_exit_{name}");
            let attached = if !tracepoint_exists(tracefs, "syscalls", &tp) {
                Err("tracepoint does not exist on this kernel".to_owned())
            } else if let Err(e) = &loaded {
                Err(format!("program {prog} failed to load: {e}"))
            } else {
                program::<TracePoint>(ebpf, prog)
                    .and_then(|p| attach_loaded(p, links, "syscalls", &tp))
            };
            hooks.push(HookStatus {
                name: format!("syscalls/{tp} ({prog})"),
                kind: "tracepoint",
                attached,
            });
        }
    }
}
