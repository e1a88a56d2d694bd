//! Stopping a daemon or agent the test spawned: SIGTERM, a grace period,
//! then SIGKILL, always reaped. One place, so every guard stops its child
//! the same way and only ever signals its own pid.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// SIGTERM `child`, wait up to `within` for it to exit, then SIGKILL.
/// Its exit status, or None if it had to be killed.
pub fn terminate(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    signal(child.id(), libc::SIGTERM);
    if let Some(status) = wait_timeout(child, within) {
        return Some(status);
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Sends `sig` to the test's own child `pid`.
pub fn signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) on the pid of our own, not yet reaped, child.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Waits up to `within` for `child` to exit.
pub fn wait_timeout(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}
