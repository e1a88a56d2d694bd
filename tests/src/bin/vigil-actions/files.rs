//! Acts on files and namespaces: mounts, opens (plain, by handle,
//! relative to a directory fd, in a loop), setns.

use std::io::Error;

use crate::{check, check_fd, cstr};

pub fn mount(src: &str, dir: &str, fstype: &str) -> Result<(), Error> {
    let (s, d, t) = (cstr(src), cstr(dir), cstr(fstype));
    // SAFETY: valid C strings; data is NULL.
    check(unsafe { libc::mount(s.as_ptr(), d.as_ptr(), t.as_ptr(), 0, std::ptr::null()) })?;
    // Succeeded (only where the caller is privileged): undo it at once.
    // SAFETY: valid C string.
    check(unsafe { libc::umount2(d.as_ptr(), libc::MNT_DETACH) })
}

pub fn open_raw(path: &str, flags: libc::c_int) -> Result<libc::c_int, Error> {
    let p = cstr(path);
    // SAFETY: valid C string; mode is used only with O_CREAT.
    let fd = unsafe { libc::openat(libc::AT_FDCWD, p.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(fd)
    }
}

pub fn setns(path: &str) -> Result<(), Error> {
    let fd = open_raw(path, libc::O_RDONLY | libc::O_CLOEXEC)?;
    // SAFETY: fd is a namespace file we opened; nstype 0 accepts any kind.
    let r = check(unsafe { libc::setns(fd, 0) });
    unsafe { libc::close(fd) };
    r
}

pub fn open_by_handle(path: &str) -> Result<(), Error> {
    const MAX_HANDLE_SZ: usize = 128;
    #[repr(C)]
    struct Handle {
        bytes: u32,
        kind: i32,
        f_handle: [u8; MAX_HANDLE_SZ],
    }
    let mut h = Handle {
        bytes: MAX_HANDLE_SZ as u32,
        kind: 0,
        f_handle: [0; MAX_HANDLE_SZ],
    };
    let mut mount_id: libc::c_int = 0;
    let p = cstr(path);
    // SAFETY: h is a file_handle with room for MAX_HANDLE_SZ bytes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            p.as_ptr(),
            &mut h as *mut Handle,
            &mut mount_id as *mut libc::c_int,
            0,
        )
    };
    if r < 0 {
        // Some filesystems (overlay without index) refuse handles: still make
        // the call the rule is about, with an empty handle.
        h.bytes = 8;
    }
    let root = open_raw("/", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)?;
    // SAFETY: root is an fd we opened; h is a valid file_handle.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            root,
            &mut h as *mut Handle,
            libc::O_RDONLY,
        )
    };
    let r = check_fd(fd);
    unsafe { libc::close(root) };
    r
}

pub fn open_read(path: &str) -> Result<(), Error> {
    let fd = open_raw(path, libc::O_RDONLY | libc::O_CLOEXEC)?;
    let mut buf = [0u8; 64];
    // SAFETY: reading into a local buffer from our fd.
    unsafe {
        libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len());
        libc::close(fd);
    }
    Ok(())
}

/// Opens and closes `path` in a tight loop for `secs`: an event flood.
pub fn open_loop(path: &str, secs: std::time::Duration) -> Result<(), Error> {
    let p = cstr(path);
    let end = std::time::Instant::now() + secs;
    let mut n = 0u64;
    while std::time::Instant::now() < end {
        for _ in 0..1000 {
            // SAFETY: a valid C string; the fd is ours and closed at once.
            unsafe {
                let fd = libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(Error::last_os_error());
                }
                libc::close(fd);
            }
        }
        n += 1000;
    }
    println!("open-loop: {n} opens");
    Ok(())
}

/// `openat(dirfd, name)`: the path the kernel opens is DIR/NAME, the
/// one the syscall names is only NAME.
pub fn open_at(dir: &str, name: &str) -> Result<(), Error> {
    let dirfd = open_raw(dir, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)?;
    let n = cstr(name);
    // SAFETY: our directory fd and a valid C string.
    let fd = unsafe { libc::openat(dirfd, n.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    // SAFETY: closing fds this process owns.
    unsafe { libc::close(dirfd) };
    check_fd(fd as libc::c_long)
}

pub fn open_write(path: &str) -> Result<(), Error> {
    let fd = open_raw(path, libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC)?;
    // SAFETY: our fd.
    unsafe { libc::close(fd) };
    Ok(())
}
