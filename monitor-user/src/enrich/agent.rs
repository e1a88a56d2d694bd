//! Who the agent is ([`AgentId`]), so that signals, ptrace and pidfd
//! calls aimed at it are told apart from those aimed at anyone else
//! (`vigil.target_is_vigil`).

use crate::event::sysargs;
use crate::event::Data;

/// Who the agent is, as kill/ptrace callers name it: its pid in its pid
/// namespace. A caller in another pid namespace names other processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentId {
    pub pid: u32,
    /// Inode of the agent's pid namespace; 0 if unknown (then any caller's
    /// namespace is accepted).
    pub pid_ns: u32,
}

impl AgentId {
    /// This process.
    pub fn current() -> AgentId {
        use std::os::unix::fs::MetadataExt;
        AgentId {
            pid: std::process::id(),
            pid_ns: std::fs::metadata("/proc/self/ns/pid")
                .map(|m| m.ino() as u32)
                .unwrap_or(0),
        }
    }

    /// `Some(is it us)` for syscalls that target a process, else `None`.
    /// `pidfd_target` is the pid (in the agent's namespace) a
    /// pidfd_send_signal's pidfd refers to, when it could be read.
    pub fn is_target(
        &self,
        caller_pid_ns: u32,
        data: &Data,
        pidfd_target: Option<u32>,
    ) -> Option<bool> {
        let Data::Syscall(s) = data else { return None };
        let key = match &*s.name {
            "kill" | "tgkill" | "ptrace" | "rt_sigqueueinfo" | "rt_tgsigqueueinfo" => "pid",
            "tkill" => "tid",
            "pidfd_send_signal" => return Some(pidfd_target == Some(self.pid)),
            _ => return None,
        };
        let same_ns = self.pid_ns == 0 || caller_pid_ns == 0 || caller_pid_ns == self.pid_ns;
        let target = s
            .args
            .iter()
            .find(|a| a.name == key)
            .and_then(|a| match a.value {
                sysargs::ArgValue::Int(i) => Some(i),
                _ => None,
            });
        // kill(-1, sig) signals every process the caller may signal.
        let everyone = key == "pid" && s.name == "kill" && target == Some(-1);
        Some(same_ns && (everyone || target == Some(i64::from(self.pid))))
    }
}
