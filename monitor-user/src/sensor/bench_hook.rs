//! `vigil bench-hook`: attach one probe-only hook and hold it until
//! SIGINT/SIGTERM, so `cargo xtask bench` can measure what that hook design
//! costs untraced syscalls. Only the named program is loaded into the
//! kernel; the sensor's own hooks are not attached.

use aya::programs::RawTracePoint;
use aya::EbpfLoader;

use super::loader::{object, summarize};
use super::SensorError;

/// Program name of the raw `sys_enter` benchmark hook.
const RAW_SYS_ENTER_PROG: &str = monitor_common::names::programs::BENCH_RAW_SYS_ENTER;

/// A hook design `bench-hook` can attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchHook {
    /// One program on the raw `sys_enter` tracepoint doing an array lookup
    /// of the syscall id (what a global syscall hook costs at minimum).
    RawSysEnter,
}

impl std::str::FromStr for BenchHook {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "raw-sys-enter" => Ok(BenchHook::RawSysEnter),
            other => Err(format!(
                "unknown bench hook {other:?} (known: raw-sys-enter)"
            )),
        }
    }
}

/// Attach `hook`, log `ready`, wait for SIGINT or SIGTERM, detach.
pub fn run(hook: BenchHook) -> Result<(), SensorError> {
    let BenchHook::RawSysEnter = hook;
    // Block the signals first so one arriving during load is not lost.
    let set = stop_signals();
    // SAFETY: valid sigset; affects only this thread (the only one).
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let mut ebpf = EbpfLoader::new().load(object()).map_err(Box::new)?;
    let prog: &mut RawTracePoint = ebpf
        .program_mut(RAW_SYS_ENTER_PROG)
        .ok_or(SensorError::Missing {
            what: "program",
            name: RAW_SYS_ENTER_PROG.into(),
        })?
        .try_into()
        .map_err(|e| program_err(RAW_SYS_ENTER_PROG, e))?;
    prog.load()
        .map_err(|e| program_err(RAW_SYS_ENTER_PROG, e))?;
    prog.attach("sys_enter")
        .map_err(|e| program_err(RAW_SYS_ENTER_PROG, e))?;
    log::info!("attached {RAW_SYS_ENTER_PROG} to raw_tracepoint/sys_enter");
    log::info!("ready");
    let mut sig = 0;
    // SAFETY: valid sigset and out pointer.
    unsafe { libc::sigwait(&set, &mut sig) };
    log::info!("signal {sig}: detaching");
    drop(ebpf);
    Ok(())
}

fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data initialised by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

fn program_err(name: &str, e: aya::programs::ProgramError) -> SensorError {
    log::debug!("{}", summarize(&e));
    SensorError::Program {
        name: name.into(),
        source: Box::new(e),
    }
}
