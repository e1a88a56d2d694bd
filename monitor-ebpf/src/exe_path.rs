//! Resolving an exec'd file: its path (`dentry_path`, written into
//! `ExecRecord::exe`, which the args buffer follows), inode number, and
//! whether it is a memfd or lives on an overlayfs upper layer.

use monitor_common::{exec_flags, ExecRecord, EXE_BUF_LEN};

use crate::dentry_path;
use crate::globals::off;
use crate::kread::{ptr, read};

const OVERLAYFS_SUPER_MAGIC: u64 = 0x794c_7630;
const BUF_MASK: u32 = EXE_BUF_LEN as u32 - 1;

const _: () = assert!(
    core::mem::size_of::<ExecRecord>() - core::mem::offset_of!(ExecRecord, exe)
        >= dentry_path::BUF_SPACE
);

/// Fill `exe`, `exe_start`, `exe_len`, `exe_ino` and the exe flags of `rec`
/// from `file` (a `struct file *`).
#[inline(always)]
pub fn resolve(rec: *mut ExecRecord, file: u64) {
    // SAFETY: `rec` is a live ring-buffer reservation of a whole record.
    let rec = unsafe { &mut *rec };
    rec.exe_start = EXE_BUF_LEN as u16;
    rec.exe_len = 0;
    rec.exe_ino = 0;
    let Some(dentry) = ptr(file, off!(file_f_path_dentry)) else {
        rec.flags |= exec_flags::EXE_UNKNOWN;
        return;
    };
    let inode = ptr(file, off!(file_f_inode)).unwrap_or(0);
    rec.exe_ino = read::<u64>(inode, off!(inode_i_ino)).unwrap_or(0);
    rec.flags |= kind_flags(dentry, inode);

    let Some(vfsmnt) = ptr(file, off!(file_f_path_mnt)) else {
        rec.flags |= exec_flags::EXE_UNKNOWN;
        return;
    };
    if !dentry_path::offsets_known() {
        rec.flags |= exec_flags::EXE_UNKNOWN;
        return;
    }
    let mount = dentry_path::mount_of(vfsmnt);
    let (pos, done) = dentry_path::walk(rec.exe.as_mut_ptr(), EXE_BUF_LEN as u32, dentry, mount);
    finish(rec, pos, done);
}

/// `memfd:<name>`: how the kernel names the dentry of a memfd.
const MEMFD_PREFIX: &[u8; 6] = b"memfd:";
/// The memfd runc (1.1) copies itself into and re-executes while it
/// starts a container, already in the container's cgroup.
const RUNC_CLONE: &[u8; 18] = b"memfd:runc_cloned:";

/// What an exec'd `file` (a `struct file *`) is, for the exec LSM hook.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Memfd {
    /// Not a memfd.
    No,
    /// A memfd.
    Yes,
    /// runc's clone of itself (`RUNC_CLONE`).
    RuncClone,
}

/// Is `file` a memfd, and which kind?
#[inline(always)]
pub fn memfd(file: u64) -> Memfd {
    let Some(dentry) = ptr(file, off!(file_f_path_dentry)) else {
        return Memfd::No;
    };
    let Some(name) = ptr(dentry, off!(dentry_d_name_name)) else {
        return Memfd::No;
    };
    if read::<[u8; 6]>(name, 0).as_ref() != Some(MEMFD_PREFIX) {
        return Memfd::No;
    }
    // Past a shorter name's NUL this reads the rest of the name's buffer
    // (the dentry's inline name, or the slab object around it): harmless.
    if read::<[u8; 18]>(name, 0).as_ref() == Some(RUNC_CLONE) {
        Memfd::RuncClone
    } else {
        Memfd::Yes
    }
}

/// memfd / overlay / overlay-upper flags of the file behind `dentry`.
#[inline(always)]
fn kind_flags(dentry: u64, inode: u64) -> u32 {
    let mut flags = 0;
    if let Some(name) = ptr(dentry, off!(dentry_d_name_name)) {
        if let Some(head) = read::<[u8; 6]>(name, 0) {
            if &head == MEMFD_PREFIX {
                flags |= exec_flags::EXE_MEMFD;
            }
        }
    }
    let sb = ptr(dentry, off!(dentry_d_sb)).unwrap_or(0);
    let magic = read::<u64>(sb, off!(sb_s_magic)).unwrap_or(0);
    if magic == OVERLAYFS_SUPER_MAGIC {
        flags |= exec_flags::EXE_OVERLAY;
        // ovl_inode { ...; struct inode vfs_inode; struct dentry *__upperdentry; }
        // A file created in the container (not copied up from the image)
        // keeps its upper inode's number.
        if let Some(upper) = ptr(inode, off!(inode_size)) {
            let upper_inode = ptr(upper, off!(dentry_d_inode)).unwrap_or(0);
            let upper_ino = read::<u64>(upper_inode, off!(inode_i_ino));
            let ino = read::<u64>(inode, off!(inode_i_ino));
            if upper_ino.is_some() && upper_ino == ino {
                flags |= exec_flags::EXE_UPPER_LAYER;
            }
        }
    }
    flags
}

#[inline(never)]
fn finish(rec: &mut ExecRecord, mut pos: u32, done: bool) {
    if !done {
        rec.flags |= exec_flags::EXE_TRUNCATED;
    }
    if pos == EXE_BUF_LEN as u32 {
        // The file is the root itself, or nothing was resolvable.
        if done {
            pos -= 1;
            rec.exe[EXE_BUF_LEN - 1] = b'/';
        } else {
            rec.flags |= exec_flags::EXE_UNKNOWN;
        }
    }
    let pos = pos & (BUF_MASK | EXE_BUF_LEN as u32);
    rec.exe_start = pos as u16;
    rec.exe_len = (EXE_BUF_LEN as u32 - pos) as u16;
}
