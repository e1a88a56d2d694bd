//! The exec context: what a new program starts with that the agent would
//! otherwise read from `/proc`, racing the program's exit: its
//! environment, working directory, standard input and output, and its
//! executable's mode and owner. Read here, at `sched_process_exec` in the
//! new program's own context, the record needs no immediate wakeup of the
//! agent (`monitor_common::wake`), which is what made every fork+exec
//! pay for the agent's `/proc` reads and its thread handoffs.

use aya_ebpf::helpers::generated::bpf_probe_read_kernel;
use core::ffi::c_void;
use monitor_common::{
    exec_flags, ExecRecord, KernelOffsets, SockTuple, StdFdRecord, EXE_BUF_LEN, PATH_LEN,
};

use crate::dentry_path;
use crate::globals::off;
use crate::kread::{kernel_str, ptr, read, user_range};
use crate::store::put;

const S_IFMT: u16 = 0o170000;
const S_IFSOCK: u16 = 0o140000;
const PIPEFS_MAGIC: u32 = 0x5049_5045;
const ANON_INODE_FS_MAGIC: u32 = 0x0904_1934;
const AF_UNIX: u16 = 1;
/// `sizeof(sockaddr_un.sun_family)`: `sun_path` follows it.
const SUN_FAMILY_LEN: u32 = 2;
/// `sizeof(sockaddr_un.sun_path)`.
const SUN_PATH_LEN: u32 = 108;
/// Longest anonymous inode name kept (`[eventpoll]`, `inotify`).
const ANON_NAME_LEN: u32 = 64;
const CWD_MASK: u32 = EXE_BUF_LEN as u32 - 1;

const _: () = assert!(core::mem::size_of::<SockTuple>() == 6 * 8);
const _: () = assert!((SUN_PATH_LEN as usize) < PATH_LEN && (ANON_NAME_LEN as usize) < PATH_LEN);
const _: () = assert!(
    core::mem::size_of::<ExecRecord>() - core::mem::offset_of!(ExecRecord, cwd)
        >= dentry_path::BUF_SPACE
);

/// Does this kernel have every member the context is read through?
/// Otherwise the record goes without it and the agent reads `/proc`.
#[inline(always)]
fn offsets_known() -> bool {
    let m = KernelOffsets::MISSING;
    dentry_path::offsets_known()
        && off!(task_fs) != m
        && off!(fs_pwd_dentry) != m
        && off!(fs_pwd_mnt) != m
        && off!(mm_env_start) != m
        && off!(mm_env_end) != m
        && off!(inode_i_mode) != m
        && off!(inode_i_uid) != m
        && off!(inode_i_gid) != m
        && off!(task_files) != m
        && off!(files_fdt) != m
        && off!(fdtable_max_fds) != m
        && off!(fdtable_fd) != m
        && off!(file_private_data) != m
        && off!(socket_sk) != m
}

/// Fill the context of `r`, the exec of `bprm` by `task` (the current
/// task), and flag it known; with `wanted` false (or a kernel without the
/// members) only clear its lengths, which the ring's stale bytes would
/// otherwise set.
#[inline(always)]
pub fn fill(r: &mut ExecRecord, task: u64, bprm: u64, wanted: bool) {
    put(&mut r.env_len, 0);
    put(&mut r.cwd_start, 0);
    put(&mut r.cwd_len, 0);
    put(&mut r._pad3, 0);
    put(&mut r.stdin.name_len, 0);
    put(&mut r.stdout.name_len, 0);
    if !wanted || !offsets_known() {
        return;
    }
    exe_owner(r, bprm);
    env(r, task);
    std_fd(&mut r.stdin, 0);
    std_fd(&mut r.stdout, 1);
    // Last: the walk is the costliest part to verify.
    cwd(r, task);
    r.flags |= exec_flags::CONTEXT_KNOWN;
}

/// Mode, owner and group of the executable (`proc.is_exe_writable`).
#[inline(always)]
fn exe_owner(r: &mut ExecRecord, bprm: u64) {
    let inode = ptr(bprm, off!(bprm_file))
        .and_then(|f| ptr(f, off!(file_f_inode)))
        .unwrap_or(0);
    r.exe_mode = read::<u16>(inode, off!(inode_i_mode)).unwrap_or(0) as u32;
    r.exe_uid = read::<u32>(inode, off!(inode_i_uid)).unwrap_or(0);
    r.exe_gid = read::<u32>(inode, off!(inode_i_gid)).unwrap_or(0);
}

/// `environ` from the new image's `mm->env_start..env_end`.
#[inline(always)]
fn env(r: &mut ExecRecord, task: u64) {
    let mm = ptr(task, off!(task_mm)).unwrap_or(0);
    let (Some(start), Some(end)) = (
        read::<u64>(mm, off!(mm_env_start)),
        read::<u64>(mm, off!(mm_env_end)),
    ) else {
        return;
    };
    if let Some((len, cut)) = user_range(&mut r.env, start, end) {
        r.env_len = len;
        if cut {
            r.flags |= exec_flags::ENV_TRUNCATED;
        }
    }
}

/// The working directory (`fs->pwd`); left unresolved (length 0) when
/// it is too deep or long for the buffer.
#[inline(always)]
fn cwd(r: &mut ExecRecord, task: u64) {
    let Some(fs) = ptr(task, off!(task_fs)) else {
        return;
    };
    let (Some(dentry), Some(mnt)) = (ptr(fs, off!(fs_pwd_dentry)), ptr(fs, off!(fs_pwd_mnt)))
    else {
        return;
    };
    let mount = dentry_path::mount_of(mnt);
    let (pos, done) = dentry_path::walk(r.cwd.as_mut_ptr(), EXE_BUF_LEN as u32, dentry, mount);
    set_cwd(r, pos, done);
}

#[inline(never)]
fn set_cwd(r: &mut ExecRecord, mut pos: u32, done: bool) {
    if !done {
        return;
    }
    if pos == EXE_BUF_LEN as u32 {
        // The root itself.
        pos -= 1;
        r.cwd[EXE_BUF_LEN - 1] = b'/';
    }
    let pos = pos & CWD_MASK;
    r.cwd_start = pos as u16;
    r.cwd_len = (EXE_BUF_LEN as u32 - pos) as u16;
}

/// What the task's `fd` is: its type and filesystem, and for a socket its
/// ends and a unix socket's path, for an anonymous inode its name, for
/// anything else but a pipe its path.
#[inline(always)]
fn std_fd(out: &mut StdFdRecord, fd: u64) {
    put(&mut out.mode, 0);
    put(&mut out.fs_magic, 0);
    put(&mut out.ino, 0);
    put(&mut out._pad, [0; 3]);
    // SAFETY: SockTuple is six words of plain integers (asserted above).
    crate::store::zero_words(unsafe { &mut *(&raw mut out.tuple as *mut [u64; 6]) });
    let Some(file) = crate::net::file_of(fd) else {
        return;
    };
    let inode = ptr(file, off!(file_f_inode)).unwrap_or(0);
    // The whole mode: an anonymous inode's has no file type bits.
    let mode = read::<u16>(inode, off!(inode_i_mode)).unwrap_or(0);
    out.mode = mode as u32;
    out.ino = read::<u64>(inode, off!(inode_i_ino)).unwrap_or(0);
    let dentry = ptr(file, off!(file_f_path_dentry)).unwrap_or(0);
    let sb = ptr(dentry, off!(dentry_d_sb)).unwrap_or(0);
    out.fs_magic = read::<u64>(sb, off!(sb_s_magic)).unwrap_or(0) as u32;
    if mode & S_IFMT == S_IFSOCK {
        if let Some(sk) = ptr(file, off!(file_private_data)).and_then(|s| ptr(s, off!(socket_sk))) {
            crate::net::fill_tuple(sk, &mut out.tuple);
            if out.tuple.family == AF_UNIX {
                unix_path(out, sk);
            }
        }
        return;
    }
    match out.fs_magic {
        PIPEFS_MAGIC => {}
        ANON_INODE_FS_MAGIC => {
            let name = ptr(dentry, off!(dentry_d_name_name)).unwrap_or(0);
            out.name_len = kernel_str(out.name.as_mut_ptr(), ANON_NAME_LEN, name).len;
        }
        _ => file_path(out, file, dentry),
    }
}

/// A unix socket's bound path (`unix_sk(sk)->addr->name.sun_path`), as
/// `/proc/net/unix` shows it; none for an unbound socket.
#[inline(always)]
fn unix_path(out: &mut StdFdRecord, sk: u64) {
    let Some(addr) = ptr(sk, off!(unix_sock_addr)) else {
        return;
    };
    // The address length counts `sun_family`.
    let len = read::<i32>(addr, off!(unix_address_len)).unwrap_or(0) as u32;
    if len <= SUN_FAMILY_LEN || off!(unix_address_name) == KernelOffsets::MISSING {
        return;
    }
    let n = (len - SUN_FAMILY_LEN).min(SUN_PATH_LEN);
    let src = addr + off!(unix_address_name) as u64 + SUN_FAMILY_LEN as u64;
    // SAFETY: n <= SUN_PATH_LEN < PATH_LEN, the destination's size.
    let rc = unsafe {
        bpf_probe_read_kernel(
            out.name.as_mut_ptr() as *mut c_void,
            n & 127,
            src as *const c_void,
        )
    };
    if rc == 0 {
        out.name_len = n as u16;
    }
}

/// The path of `file` (whose dentry is `dentry`), walked in the scratch
/// buffer; none when it does not fit `name`.
#[inline(always)]
fn file_path(out: &mut StdFdRecord, file: u64, dentry: u64) {
    let (Some(mnt), Some(buf)) = (ptr(file, off!(file_f_path_mnt)), dentry_path::scratch()) else {
        return;
    };
    let mount = dentry_path::mount_of(mnt);
    let (pos, done) = dentry_path::walk(buf, dentry_path::BUF_LEN, dentry, mount);
    out.name_len = dentry_path::copy_out(out.name.as_mut_ptr(), buf, pos, done);
}
