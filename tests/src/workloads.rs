//! The benchmark's per-iteration workloads, shared by `cargo xtask bench`
//! (its worker process, on the host) and the VM benchmark
//! (`tests/tests/vm_bench.rs`, in the Debian guest): an untraced syscall,
//! an open+close the in-kernel filter drops, a fork+exec. Each returns the
//! iterations done.

use std::ffi::CString;
use std::io::{Error, Result};
use std::path::Path;

/// `syscall(SYS_getpid)` `n` times: a syscall nobody traces.
pub fn getpid(n: u64) -> u64 {
    for _ in 0..n {
        // SAFETY: getpid takes no arguments and cannot fail.
        std::hint::black_box(unsafe { libc::syscall(libc::SYS_getpid) });
    }
    n
}

fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::other(format!("{} has a NUL byte", p.display())))
}

/// open(O_RDONLY) + close of `p`, once.
pub fn open_close_once(p: &CString) -> Result<()> {
    // SAFETY: p is a valid NUL-terminated path; the fd is closed right away.
    let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        let e = Error::last_os_error();
        return Err(Error::new(e.kind(), format!("open {p:?}: {e}")));
    }
    // SAFETY: fd was just opened by us.
    unsafe { libc::close(fd) };
    Ok(())
}

/// open + close of `path`, `n` times.
pub fn open_close(path: &Path, n: u64) -> Result<u64> {
    let p = cpath(path)?;
    for _ in 0..n {
        open_close_once(&p)?;
    }
    Ok(n)
}

/// fork + execv(program) + waitpid, `n` times in a row; the program must
/// exit 0.
pub fn fork_exec(program: &Path, n: u64) -> Result<u64> {
    let prog = cpath(program)?;
    let argv = [prog.as_ptr(), std::ptr::null()];
    for _ in 0..n {
        // SAFETY: the child only calls execv and _exit (async-signal-safe),
        // with pointers prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(Error::last_os_error());
        }
        if pid == 0 {
            unsafe {
                libc::execv(prog.as_ptr(), argv.as_ptr());
                libc::_exit(127);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for the child we just forked.
        if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
            return Err(Error::last_os_error());
        }
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return Err(Error::other(format!(
                "{} failed (wait status {status:#x})",
                program.display()
            )));
        }
    }
    Ok(n)
}
