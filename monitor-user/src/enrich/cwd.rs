//! `proc.cwd`: the working directory an exec started in. The kernel's exec
//! record carries it (`enrich::startup`); where it could not, it is read
//! from procfs when the agent handles the exec (`/proc/<pid>/cwd`). An
//! exec keeps the working directory of the process before it, which is
//! usually still its parent's: when the new process is already gone, the
//! parent's is used. As in Falco, the directory ends with `/`
//! (`/dev/shm/`).
//!
//! [`resolve_at`] resolves a relative path a syscall passed (`cd /etc; cat
//! shadow`, `openat(dirfd, "shadow")`) against the caller's working
//! directory or directory fd, read from procfs when the agent handles the
//! event. The process may have changed directory or closed the fd in
//! between (rare: the event is handled within milliseconds); if it is
//! gone, the enricher falls back to the working directory at exec, and
//! failing that the name stays relative, which is how `fd.name` says it
//! could not be resolved.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::event::text::escape;

/// The escaped working directory of `pid` (else of `ppid`), or `None` when
/// neither can be read. A directory deleted since shows as Linux prints
/// it (`/tmp/x (deleted)`).
pub fn exec_cwd(proc_root: &Path, pid: u32, ppid: u32) -> Option<String> {
    [pid, ppid].into_iter().find_map(|p| {
        let link = std::fs::read_link(proc_root.join(p.to_string()).join("cwd")).ok()?;
        Some(dir_text(link.as_os_str().as_bytes()))
    })
}

/// A directory's path as `proc.cwd` shows it: escaped, ending in `/`.
pub fn dir_text(path: &[u8]) -> String {
    let mut cwd = escape(path);
    if !cwd.ends_with('/') {
        cwd.push('/');
    }
    cwd
}

/// `openat`'s "the working directory" dirfd.
pub const AT_FDCWD: i64 = -100;

/// `raw` (relative) resolved against the working directory of `tgid`
/// (`dirfd` `None` or `AT_FDCWD`) or its open directory `dirfd`; `None`
/// when that cannot be read (the process or fd is gone).
pub fn resolve_at(proc_root: &Path, tgid: u32, dirfd: Option<i64>, raw: &str) -> Option<String> {
    let task = proc_root.join(tgid.to_string());
    let link = match dirfd {
        None | Some(AT_FDCWD) => task.join("cwd"),
        Some(fd) if fd >= 0 => task.join("fd").join(fd.to_string()),
        Some(_) => return None,
    };
    let dir = std::fs::read_link(link).ok()?;
    let dir = escape(dir.as_os_str().as_bytes());
    // Not a directory path (a deleted one, a pipe or socket fd).
    if !dir.starts_with('/') || dir.ends_with(" (deleted)") {
        return None;
    }
    let sep = if dir.ends_with('/') { "" } else { "/" };
    Some(format!("{dir}{sep}{raw}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_names_against_the_cwd_or_the_dirfd() {
        let dir = crate::testutil::TempDir::new("resolve");
        let root = dir.path();
        std::fs::create_dir_all(root.join("7/fd")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("7/cwd")).unwrap();
        std::os::unix::fs::symlink("/srv/app", root.join("7/fd/3")).unwrap();
        std::os::unix::fs::symlink("/", root.join("7/fd/4")).unwrap();
        std::os::unix::fs::symlink("pipe:[123]", root.join("7/fd/5")).unwrap();
        let r = |fd, raw| resolve_at(root, 7, fd, raw);
        assert_eq!(r(None, "shadow").as_deref(), Some("/etc/shadow"));
        assert_eq!(r(Some(-100), "../etc/x").as_deref(), Some("/etc/../etc/x"));
        assert_eq!(r(Some(3), "token").as_deref(), Some("/srv/app/token"));
        assert_eq!(r(Some(4), "etc/shadow").as_deref(), Some("/etc/shadow"));
        // A pipe is no directory; a closed fd, a gone process: unresolved.
        assert_eq!(r(Some(5), "x"), None);
        assert_eq!(r(Some(9), "x"), None);
        assert_eq!(resolve_at(root, 8, None, "x"), None);
        assert_eq!(r(Some(-1), "x"), None);
    }

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
