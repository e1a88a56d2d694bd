//! Resolving an exec'd file: its path (dentry chain walked up to the root,
//! crossing mounts through `struct mount`), inode number, and whether it is
//! a memfd or lives on an overlayfs upper layer.
//!
//! The path is written right to left into `ExecRecord::exe`; offsets into
//! the buffer are masked so the verifier can bound every write.

use aya_ebpf::helpers::generated::bpf_probe_read_kernel;
use core::ffi::c_void;
use monitor_common::{exec_flags, ExecRecord, EXE_BUF_LEN};

use crate::globals::off;
use crate::kread::{ptr, rd, read};

/// Path components walked at most (directories plus mount crossings).
const MAX_DEPTH: u32 = 40;
/// Longest component we copy (NAME_MAX).
const MAX_NAME: u32 = 255;
const OVERLAYFS_SUPER_MAGIC: u64 = 0x794c_7630;
const BUF_MASK: u32 = EXE_BUF_LEN as u32 - 1;

const _: () = assert!(EXE_BUF_LEN.is_power_of_two());

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
    let mount_mnt = off!(mount_mnt);
    let missing = monitor_common::KernelOffsets::MISSING;
    if mount_mnt == missing
        || off!(vfsmount_mnt_root) == missing
        || off!(dentry_d_parent) == missing
        || off!(mount_mnt_parent) == missing
        || off!(mount_mnt_mountpoint) == missing
        || off!(dentry_d_name_name) == missing
        || off!(dentry_d_name_len) == missing
    {
        rec.flags |= exec_flags::EXE_UNKNOWN;
        return;
    }
    let mount = vfsmnt - mount_mnt as u64;
    walk(rec, dentry, mount);
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

/// Walk from `dentry` in `mount` up to the root, prepending components.
/// Reads are branch-free (zero on failure) and every exit leads to the
/// same short epilogue: the verifier walks this loop once per iteration and
/// path, so branches here cost more than anywhere else.
#[inline(always)]
fn walk(rec: &mut ExecRecord, mut dentry: u64, mut mount: u64) {
    let o_root = off!(vfsmount_mnt_root) as u64 + off!(mount_mnt) as u64;
    let o_parent = off!(dentry_d_parent) as u64;
    let o_mnt_parent = off!(mount_mnt_parent) as u64;
    let o_mountpoint = off!(mount_mnt_mountpoint) as u64;
    let o_name = off!(dentry_d_name_name) as u64;
    let o_len = off!(dentry_d_name_len) as u64;
    let buf = rec.exe.as_mut_ptr();

    let mut pos: u32 = EXE_BUF_LEN as u32;
    let mut done = false;
    let mut i = 0;
    while i < MAX_DEPTH {
        i += 1;
        let mnt_root: u64 = rd(mount + o_root);
        if dentry == mnt_root {
            // Top of this mount: continue from where it is mounted.
            let mnt_parent: u64 = rd(mount + o_mnt_parent);
            if mnt_parent == mount || mnt_parent == 0 {
                done = true;
                break;
            }
            dentry = rd(mount + o_mountpoint);
            mount = mnt_parent;
            continue;
        }
        let parent: u64 = rd(dentry + o_parent);
        let name: u64 = rd(dentry + o_name);
        let len: u32 = rd(dentry + o_len);
        if len > MAX_NAME || len + 1 > pos {
            break;
        }
        pos -= len;
        // SAFETY: `pos & BUF_MASK` + `len & MAX_NAME` stays inside the
        // record (the args buffer follows `exe`); logically pos + len <= 512.
        unsafe {
            bpf_probe_read_kernel(
                buf.add((pos & BUF_MASK) as usize) as *mut c_void,
                len & MAX_NAME,
                name as *const c_void,
            );
        }
        pos -= 1;
        // SAFETY: masked index within the buffer.
        unsafe { *buf.add((pos & BUF_MASK) as usize) = b'/' };
        // A dentry that is its own parent but not a mount root is
        // disconnected (memfd, deleted file, pipe): it is the whole name.
        if parent == dentry || parent == 0 {
            done = true;
            break;
        }
        dentry = parent;
        // A no-op (pos < 512 here) that gives the verifier the same bounded
        // range for `pos` every iteration, so its states converge.
        pos &= BUF_MASK;
    }
    finish(rec, pos, done);
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
