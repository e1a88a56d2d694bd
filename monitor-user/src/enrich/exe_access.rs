//! `proc.is_exe_writable`: whether the user a program runs as could write
//! the file it was started from (a binary its own user can replace is how
//! a foothold persists). The exec record carries the file's owner and
//! mode (`enrich::startup`); where it could not, they are read from
//! procfs when the agent handles the exec (`/proc/<pid>/exe` leads to the
//! file itself, in whatever mount namespace it lives). `None` when the
//! process is already gone.
//!
//! The check is the kernel's for the effective uid and gid: root may write
//! any file (`CAP_DAC_OVERRIDE`), the owner by the user bit, the group by
//! the group bit, others by the other bit. Supplementary groups and
//! read-only mounts are not considered.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Whether `pid`'s executable is writable by `euid`/`egid`.
pub fn exe_writable(proc_root: &Path, pid: u32, euid: u32, egid: u32) -> Option<bool> {
    let md = std::fs::metadata(proc_root.join(pid.to_string()).join("exe")).ok()?;
    Some(writable_by(md.mode(), md.uid(), md.gid(), euid, egid))
}

/// The permission check for a file of `mode` owned by `uid`:`gid`.
pub fn writable_by(mode: u32, uid: u32, gid: u32, euid: u32, egid: u32) -> bool {
    let bit = if euid == 0 {
        return true;
    } else if euid == uid {
        0o200
    } else if egid == gid {
        0o020
    } else {
        0o002
    };
    mode & bit != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_that_applies_decides() {
        // Owner with no write bit: others' bit does not help.
        assert!(!writable_by(0o100557, 1000, 1000, 1000, 1000));
        assert!(writable_by(0o100755, 1000, 1000, 1000, 5));
        assert!(!writable_by(0o100755, 1000, 1000, 7, 7));
        assert!(writable_by(0o100775, 1000, 50, 7, 50));
        assert!(writable_by(0o100757, 1000, 50, 7, 7));
        assert!(writable_by(0o100555, 1000, 50, 0, 0));
    }

    #[test]
    fn reads_a_real_process() {
        // SAFETY: plain getters.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let me = std::process::id();
        let md = std::fs::metadata("/proc/self/exe").unwrap();
        let expect = writable_by(md.mode(), md.uid(), md.gid(), euid, egid);
        assert_eq!(
            exe_writable(Path::new("/proc"), me, euid, egid),
            Some(expect)
        );
        // A nobody-owned view of a root-owned, 0755 system binary.
        assert_eq!(
            exe_writable(Path::new("/proc"), me, 65534, 65534),
            Some(writable_by(md.mode(), md.uid(), md.gid(), 65534, 65534))
        );
        assert_eq!(exe_writable(Path::new("/proc"), u32::MAX, 0, 0), None);
    }
}
