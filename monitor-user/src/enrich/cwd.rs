//! `proc.cwd`: the working directory an exec started in. The kernel's exec
//! record does not carry it, so it is read from procfs when the agent
//! handles the exec (`/proc/<pid>/cwd`). An exec keeps the working
//! directory of the process before it, which is usually still its
//! parent's: when the new process is already gone, the parent's is used.
//! As in Falco, the directory ends with `/` (`/dev/shm/`).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::event::text::escape;

/// The escaped working directory of `pid` (else of `ppid`), or `None` when
/// neither can be read. A directory deleted since shows as Linux prints
/// it (`/tmp/x (deleted)`).
pub fn exec_cwd(proc_root: &Path, pid: u32, ppid: u32) -> Option<String> {
    [pid, ppid].into_iter().find_map(|p| {
        let link = std::fs::read_link(proc_root.join(p.to_string()).join("cwd")).ok()?;
        let mut cwd = escape(link.as_os_str().as_bytes());
        if !cwd.ends_with('/') {
            cwd.push('/');
        }
        Some(cwd)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cwd_link_or_the_parents() {
        let dir = crate::testutil::TempDir::new("cwd");
        let root = dir.path();
        std::fs::create_dir_all(root.join("10")).unwrap();
        std::os::unix::fs::symlink("/dev/shm", root.join("10/cwd")).unwrap();
        std::fs::create_dir_all(root.join("11")).unwrap();
        assert_eq!(exec_cwd(root, 10, 1).as_deref(), Some("/dev/shm/"));
        // 11 has no cwd link (gone): its parent 10's.
        assert_eq!(exec_cwd(root, 11, 10).as_deref(), Some("/dev/shm/"));
        assert_eq!(exec_cwd(root, 12, 13), None);
        // The real thing: this test's own working directory.
        let me = std::process::id();
        let here = std::env::current_dir().unwrap();
        assert_eq!(
            exec_cwd(Path::new("/proc"), me, 0),
            Some(format!("{}/", here.display()))
        );
    }
}
