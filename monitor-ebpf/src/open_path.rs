//! Resolving a relative open in the kernel, so that the open filter sees
//! the path the kernel opens, not the one the process spelled: `cd
//! /etc/kubernetes; cat admin.conf` and `openat(dirfd, "admin.conf")` both
//! match a `/etc/kubernetes/` prefix.
//!
//! The directory is the task's working directory (`fs->pwd`) or the
//! dirfd's `file->f_path`; its path is built by `dentry_path`, leading
//! `./` and `../` of the name are taken as steps in that walk, and the
//! rest of the name is appended. The result goes into `str1` (flag
//! `PATH_AT`, empty when it could not be resolved). Absolute paths pay one
//! byte compare.

use aya_ebpf::helpers::generated::{bpf_get_current_task, bpf_probe_read_kernel};
use core::ffi::c_void;
use monitor_common::{syscall_flags, SyscallRecord, PATH_LEN};

use crate::dentry_path::{self, BUF_LEN};
use crate::globals::off;
use crate::kread::{ptr, rd};

/// `openat`'s "the working directory" dirfd.
pub const AT_FDCWD: i64 = -100;
/// Leading `./` and `../` taken as walk steps at most; a name with more
/// keeps the rest as it is (the agent normalises `fd.name`).
const MAX_STEPS: u32 = 8;
const BUF_MASK: u32 = BUF_LEN - 1;
const PATH_MASK: u32 = PATH_LEN as u32 - 1;

/// If `r.str0` is relative, resolve it against `dirfd` (an openat dirfd,
/// or [`AT_FDCWD`]) into `r.str1` and flag `PATH_AT`.
#[inline(always)]
pub fn resolve(r: &mut SyscallRecord, dirfd: i64) {
    let len = r.str0_len as u32;
    if len == 0 || r.str0[0] == b'/' {
        return;
    }
    r.flags |= syscall_flags::PATH_AT;
    if !dentry_path::offsets_known() {
        return;
    }
    let Some((dentry, vfsmnt)) = directory(dirfd) else {
        return;
    };
    let Some(buf) = dentry_path::scratch() else {
        return;
    };
    let (skip, dentry, mount) = steps(r, dentry, dentry_path::mount_of(vfsmnt));
    // "/" and the rest of the name end the buffer; the walk prepends the
    // directory. len < PATH_LEN < BUF_LEN, so `start` is in the buffer.
    let rest = (len - skip) & PATH_MASK;
    // Opaque to the compiler: knowing start < BUF_LEN, it would drop the
    // masks below (and in the walk) that the verifier needs to see.
    // SAFETY: a read of a local.
    let start = unsafe { core::ptr::read_volatile(&(BUF_LEN - 1 - rest)) };
    // SAFETY: masked offsets inside BUF_SPACE; the source is probe-read.
    unsafe {
        *buf.add((start & BUF_MASK) as usize) = b'/';
        bpf_probe_read_kernel(
            buf.add(((start + 1) & BUF_MASK) as usize) as *mut c_void,
            rest,
            r.str0.as_ptr().add((skip & PATH_MASK) as usize) as *const c_void,
        );
    }
    let (pos, done) = dentry_path::walk(buf, start, dentry, mount);
    r.str1_len = dentry_path::copy_out(r.str1.as_mut_ptr(), buf, pos, done);
}

/// The directory's `(dentry, vfsmount)`.
#[inline(always)]
fn directory(dirfd: i64) -> Option<(u64, u64)> {
    if dirfd == AT_FDCWD {
        // SAFETY: helper without arguments.
        let task = unsafe { bpf_get_current_task() };
        let fs = ptr(task, off!(task_fs))?;
        return Some((ptr(fs, off!(fs_pwd_dentry))?, ptr(fs, off!(fs_pwd_mnt))?));
    }
    if dirfd < 0 {
        return None;
    }
    let file = crate::net::file_of(dirfd as u64)?;
    Some((
        ptr(file, off!(file_f_path_dentry))?,
        ptr(file, off!(file_f_path_mnt))?,
    ))
}

/// Take the name's leading `./` and `../` as steps from `dentry` in
/// `mount`: returns the bytes consumed and where the steps led. `..` at a
/// mount's root continues in the mount below, and stays at the root of all.
#[inline(always)]
fn steps(r: &SyscallRecord, mut dentry: u64, mut mount: u64) -> (u32, u64, u64) {
    let o_root = off!(vfsmount_mnt_root) as u64 + off!(mount_mnt) as u64;
    let o_mnt_parent = off!(mount_mnt_parent) as u64;
    let o_mountpoint = off!(mount_mnt_mountpoint) as u64;
    let o_parent = off!(dentry_d_parent) as u64;
    let len = r.str0_len as u32;
    let s = r.str0.as_ptr();
    // SAFETY: masked indexes inside str0.
    let at = |i: u32| unsafe { *s.add((i & PATH_MASK) as usize) };
    let mut skip = 0u32;
    let mut i = 0;
    while i < MAX_STEPS {
        i += 1;
        if skip + 2 <= len && at(skip) == b'.' && at(skip + 1) == b'/' {
            skip += 2;
            continue;
        }
        if !(skip + 3 <= len && at(skip) == b'.' && at(skip + 1) == b'.' && at(skip + 2) == b'/') {
            break;
        }
        skip += 3;
        if dentry == rd::<u64>(mount + o_root) {
            let parent: u64 = rd(mount + o_mnt_parent);
            if parent == mount || parent == 0 {
                // `..` of the root is the root.
                continue;
            }
            dentry = rd(mount + o_mountpoint);
            mount = parent;
        }
        let parent: u64 = rd(dentry + o_parent);
        if parent != 0 {
            dentry = parent;
        }
    }
    (skip, dentry, mount)
}
