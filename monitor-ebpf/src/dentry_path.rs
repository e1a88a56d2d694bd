//! A file's path from its dentry: the chain of `d_parent` walked up to the
//! mount's root, crossing into the parent mount at its mountpoint, until
//! the root of the mount tree. The executable of an exec (`exe_path`) and
//! the directory a relative open names (`open_path`) are both built here.
//!
//! The path is written right to left, ending at a position the caller
//! chooses in a buffer of [`BUF_LEN`] bytes; offsets into the buffer are
//! masked so the verifier can bound every write.

use aya_ebpf::{helpers::generated::bpf_probe_read_kernel, macros::map, maps::PerCpuArray};
use core::ffi::c_void;
use monitor_common::{KernelOffsets, EXE_BUF_LEN, PATH_LEN};

use crate::globals::off;
use crate::kread::rd;

/// The path buffer's logical size.
pub const BUF_LEN: u32 = EXE_BUF_LEN as u32;
/// Bytes a buffer must really have: the verifier bounds a component's copy
/// by the mask, not by the logical `pos + len <= BUF_LEN`.
pub const BUF_SPACE: usize = EXE_BUF_LEN + MAX_NAME as usize + 1;
/// Path components walked at most (directories plus mount crossings).
const MAX_DEPTH: u32 = 40;
/// Longest component we copy (NAME_MAX).
const MAX_NAME: u32 = 255;
const BUF_MASK: u32 = BUF_LEN - 1;

const PATH_MASK: u32 = PATH_LEN as u32 - 1;

const _: () = assert!(EXE_BUF_LEN.is_power_of_two());
const _: () = assert!(PATH_LEN.is_power_of_two() && (PATH_LEN as u32) < BUF_LEN);

/// A buffer to walk in when the path goes to a smaller field (the stack
/// is too small).
#[repr(C)]
pub struct Scratch {
    pub buf: [u8; BUF_SPACE],
}

#[map]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// This CPU's [`Scratch`] buffer (`BUF_SPACE` bytes).
#[inline(always)]
pub fn scratch() -> Option<*mut u8> {
    SCRATCH.get_ptr_mut(0).map(|s| s as *mut u8)
}

/// Copy a walked path (`buf[pos..BUF_LEN]`) into `dst` (`PATH_LEN`
/// bytes): its length, or 0 when the walk did not reach the root or the
/// path does not fit.
#[inline(never)]
pub fn copy_out(dst: *mut u8, buf: *const u8, pos: u32, done: bool) -> u16 {
    // SAFETY: a read of a local, opaque to the compiler: knowing the
    // range of `pos`, it would drop the mask the verifier needs to see.
    let pos = unsafe { core::ptr::read_volatile(&pos) } & BUF_MASK;
    let n = BUF_LEN - pos;
    if !done || n >= PATH_LEN as u32 {
        return 0;
    }
    // SAFETY: n < PATH_LEN fits the destination; the source is probe-read.
    unsafe {
        bpf_probe_read_kernel(
            dst as *mut c_void,
            n & PATH_MASK,
            buf.add(pos as usize) as *const c_void,
        );
    }
    n as u16
}

/// Does this kernel have every member the walk reads?
#[inline(always)]
pub fn offsets_known() -> bool {
    let missing = KernelOffsets::MISSING;
    off!(mount_mnt) != missing
        && off!(vfsmount_mnt_root) != missing
        && off!(dentry_d_parent) != missing
        && off!(mount_mnt_parent) != missing
        && off!(mount_mnt_mountpoint) != missing
        && off!(dentry_d_name_name) != missing
        && off!(dentry_d_name_len) != missing
}

/// The `struct mount` that embeds `vfsmnt` (a `struct vfsmount *`).
#[inline(always)]
pub fn mount_of(vfsmnt: u64) -> u64 {
    vfsmnt - off!(mount_mnt) as u64
}

/// Walk from `dentry` in `mount` up to the root, prepending `/name` for
/// each component before `pos` in `buf` (`BUF_SPACE` bytes). Returns the
/// new start and whether the root was reached (otherwise the path was too
/// deep or too long for the buffer). Reads are branch-free (zero on
/// failure) and every exit leads to the caller's epilogue: the verifier
/// walks this loop once per iteration and path, so branches here cost more
/// than anywhere else.
#[inline(always)]
pub fn walk(buf: *mut u8, mut pos: u32, mut dentry: u64, mut mount: u64) -> (u32, bool) {
    let o_root = off!(vfsmount_mnt_root) as u64 + off!(mount_mnt) as u64;
    let o_parent = off!(dentry_d_parent) as u64;
    let o_mnt_parent = off!(mount_mnt_parent) as u64;
    let o_mountpoint = off!(mount_mnt_mountpoint) as u64;
    let o_name = off!(dentry_d_name_name) as u64;
    let o_len = off!(dentry_d_name_len) as u64;

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
        // buffer's BUF_SPACE bytes; logically pos + len <= BUF_LEN.
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
        // A no-op (pos < BUF_LEN here) that gives the verifier the same
        // bounded range for `pos` every iteration, so its states converge.
        pos &= BUF_MASK;
    }
    (pos, done)
}
