//! What an exec'd program started with: its environment, working
//! directory, standard input and output, and whether its user could write
//! its executable (`proc.env`, `proc.cwd`, `proc.stdin.*`,
//! `proc.stdout.*`, `proc.is_exe_writable`).
//!
//! The kernel reads them into the exec record (its "exec context",
//! `exec_flags::CONTEXT_KNOWN`) in the new program's own context, so they are there however soon
//! the program exits and however late the agent reads the ring. Where it
//! could not (a kernel without the members, a refused exec, a record from
//! before version 4), they are read from procfs when the agent handles
//! the exec, and a program already gone leaves them absent.

use std::path::Path;

use monitor_common::{exec_flags, ExecRecord};

use super::{cwd, environ, exe_access, stdio};
use crate::event::{Env, StdFd};

#[derive(Default)]
pub struct Startup {
    pub env: Option<Env>,
    /// The environment was cut at `environ::ENV_MAX`.
    pub env_truncated: bool,
    pub cwd: Option<String>,
    pub stdin: Option<StdFd>,
    pub stdout: Option<StdFd>,
    pub exe_writable: Option<bool>,
}

impl Startup {
    /// The context of exec record `r`, from the record itself, else from
    /// procfs at `proc_root` (`None`: not read at all). `env_before`: the
    /// environment the process had before the exec, shared if unchanged
    /// ([`environ::parse_like`]).
    pub fn of(r: &ExecRecord, proc_root: Option<&Path>, env_before: Option<&Env>) -> Startup {
        let h = &r.header;
        if r.flags & exec_flags::CONTEXT_KNOWN == 0 {
            return proc_root.map_or_else(Startup::default, |root| Self::read(r, root));
        }
        let env = r.env();
        let (env, env_truncated) = environ::parse_like(env.bytes, env.truncated, env_before);
        let cwd = r.cwd().bytes;
        Startup {
            env: Some(env),
            env_truncated,
            // Too deep for the kernel's buffer: procfs may still say.
            cwd: if cwd.is_empty() {
                proc_root.and_then(|root| cwd::exec_cwd(root, h.tgid, h.ppid))
            } else {
                Some(cwd::dir_text(cwd))
            },
            stdin: stdio::from_record(&r.stdin),
            stdout: stdio::from_record(&r.stdout),
            exe_writable: Some(exe_access::writable_by(
                r.exe_mode, r.exe_uid, r.exe_gid, h.euid, h.egid,
            )),
        }
    }

    /// The context read from `/proc/<pid>` now.
    fn read(r: &ExecRecord, root: &Path) -> Startup {
        let h = &r.header;
        let (stdin, stdout) = stdio::exec_stdio(root, h.tgid);
        let env = environ::read(&root.join(h.tgid.to_string()));
        Startup {
            env_truncated: env.as_ref().is_some_and(|(_, cut)| *cut),
            env: env.map(|(env, _)| env),
            cwd: cwd::exec_cwd(root, h.tgid, h.ppid),
            stdin,
            stdout,
            exe_writable: exe_access::exe_writable(root, h.tgid, h.euid, h.egid),
        }
    }
}
