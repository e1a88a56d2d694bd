//! `vigil bench-hook`: attach one probe-only hook design and hold it
//! until SIGINT/SIGTERM, so `cargo xtask bench` can measure what the
//! design costs with no work of vigil's own. Only the named programs are
//! loaded into the kernel; the sensor's own hooks are not attached.

use aya::programs::{RawTracePoint, TracePoint};
use aya::{Ebpf, EbpfLoader};

use super::loader::{object, summarize};
use super::SensorError;
use monitor_common::names::programs as P;

/// A hook design `bench-hook` can attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchHook {
    /// One program on the raw `sys_enter` tracepoint doing an array lookup
    /// of the syscall id (what a global syscall hook costs at minimum).
    RawSysEnter,
    /// Empty programs on `openat`'s enter and exit tracepoints (what the
    /// sensor's open hooks cost before their programs do anything).
    OpenTracepoints,
}

impl BenchHook {
    /// The names `bench-hook` takes.
    pub const NAMES: &str = "raw-sys-enter, open-tracepoints";
}

impl std::str::FromStr for BenchHook {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "raw-sys-enter" => Ok(BenchHook::RawSysEnter),
            "open-tracepoints" => Ok(BenchHook::OpenTracepoints),
            other => Err(format!(
                "unknown bench hook {other:?} (known: {})",
                Self::NAMES
            )),
        }
    }
}

/// Attach `hook`, log `ready`, wait for SIGINT or SIGTERM, detach.
pub fn run(hook: BenchHook) -> Result<(), SensorError> {
    // Block the signals first so one arriving during load is not lost.
    let set = stop_signals();
    // SAFETY: valid sigset; affects only this thread (the only one).
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let mut ebpf = EbpfLoader::new().load(object()).map_err(Box::new)?;
    match hook {
        BenchHook::RawSysEnter => {
            let name = P::BENCH_RAW_SYS_ENTER;
            let prog: &mut RawTracePoint = program(&mut ebpf, name)?;
            prog.load().map_err(|e| program_err(name, e))?;
            prog.attach("sys_enter").map_err(|e| program_err(name, e))?;
            log::info!("attached {name} to raw_tracepoint/sys_enter");
        }
        BenchHook::OpenTracepoints => {
            for (name, tp) in [
                (P::BENCH_OPEN_ENTER, "sys_enter_openat"),
                (P::BENCH_OPEN_EXIT, "sys_exit_openat"),
            ] {
                let prog: &mut TracePoint = program(&mut ebpf, name)?;
                prog.load().map_err(|e| program_err(name, e))?;
                prog.attach("syscalls", tp)
                    .map_err(|e| program_err(name, e))?;
                log::info!("attached {name} to tracepoint/syscalls/{tp}");
            }
        }
    }
    log::info!("ready");
    let mut sig = 0;
    // SAFETY: valid sigset and out pointer.
    unsafe { libc::sigwait(&set, &mut sig) };
    log::info!("signal {sig}: detaching");
    drop(ebpf);
    Ok(())
}

/// The object's program `name`, as program type `T`.
fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, SensorError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    ebpf.program_mut(name)
        .ok_or(SensorError::Missing {
            what: "program",
            name: name.into(),
        })?
        .try_into()
        .map_err(|e| program_err(name, e))
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
