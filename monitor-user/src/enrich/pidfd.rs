//! Which process a `pidfd_send_signal` names. The syscall takes a pidfd,
//! not a pid; the kernel says which process it refers to in the caller's
//! `/proc/<pid>/fdinfo/<fd>` (`Pid:`, in the pid namespace of the procfs
//! mount, which is the agent's). Read when the agent handles the event:
//! a caller that closed the pidfd (or exited) in the meantime leaves the
//! target unknown, and `target.is_vigil` then says false.

use std::path::Path;

use crate::event::sysargs::ArgValue;
use crate::event::Data;

/// The pid a `pidfd_send_signal` event's pidfd refers to, or `None` for
/// other events and when it cannot be read.
pub fn target(proc_root: &Path, caller: u32, data: &Data) -> Option<u32> {
    let Data::Syscall(s) = data else { return None };
    if s.name != "pidfd_send_signal" {
        return None;
    }
    let fd = s
        .args
        .iter()
        .find(|a| a.name == "pidfd")
        .and_then(|a| match a.value {
            ArgValue::Int(i) => u32::try_from(i).ok(),
            _ => None,
        })?;
    let info = std::fs::read_to_string(
        proc_root
            .join(caller.to_string())
            .join("fdinfo")
            .join(fd.to_string()),
    )
    .ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::sysargs::Arg;
    use crate::event::SyscallData;

    fn send(pidfd: i64) -> Data {
        Data::Syscall(Box::new(SyscallData {
            name: "pidfd_send_signal".into(),
            ret: 0,
            res: "SUCCESS".into(),
            raw_args: [0; 6],
            args: vec![Arg {
                name: "pidfd".into(),
                value: ArgValue::Int(pidfd),
            }],
            fd_name: None,
            sockaddr: None,
        }))
    }

    #[test]
    fn reads_the_pid_behind_a_real_pidfd() {
        let me = std::process::id();
        // SAFETY: pidfd_open of our own pid; the fd is closed below.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, me, 0) };
        if fd < 0 {
            // Kernels before 5.3: nothing to read.
            return;
        }
        let got = target(Path::new("/proc"), me, &send(fd));
        // SAFETY: the fd opened above.
        unsafe { libc::close(fd as i32) };
        assert_eq!(got, Some(me));
        // A closed fd, another syscall: unknown.
        assert_eq!(target(Path::new("/proc"), me, &send(fd)), None);
        let mut other = send(0);
        if let Data::Syscall(s) = &mut other {
            s.name = "kill".into();
        }
        assert_eq!(target(Path::new("/proc"), me, &other), None);
    }
}
