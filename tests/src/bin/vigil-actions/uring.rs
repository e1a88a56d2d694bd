//! The same acts through io_uring, with no open or connect syscall.

use std::io::Error;

use crate::cstr;
use crate::net::{raw_sockaddr, sock_addr};

/// Submit one io_uring request and wait for its result (an fd or 0).
pub fn uring_submit(sqe: io_uring::squeue::Entry) -> Result<i32, Error> {
    let mut ring = io_uring::IoUring::new(4)?;
    // SAFETY: the caller keeps what the entry points to alive until this
    // returns, and this waits for the completion.
    unsafe { ring.submission().push(&sqe) }.map_err(Error::other)?;
    ring.submit_and_wait(1)?;
    let cqe = ring
        .completion()
        .next()
        .ok_or_else(|| Error::other("no completion"))?;
    if cqe.result() < 0 {
        return Err(Error::from_raw_os_error(-cqe.result()));
    }
    Ok(cqe.result())
}

/// Open `path` for reading through io_uring (IORING_OP_OPENAT) and read it.
pub fn uring_open(path: &str) -> Result<(), Error> {
    use io_uring::{opcode, types};
    use std::os::fd::FromRawFd;
    let p = cstr(path);
    let sqe = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), p.as_ptr())
        .flags(libc::O_RDONLY)
        .build();
    let fd = uring_submit(sqe)?;
    // SAFETY: the fd io_uring just opened for us.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    std::io::copy(&mut f, &mut std::io::sink())?;
    Ok(())
}

/// Connect a TCP socket to `addr` through io_uring (IORING_OP_CONNECT).
pub fn uring_connect(addr: &str) -> Result<(), Error> {
    use io_uring::{opcode, types};
    let addr = sock_addr(addr);
    let family = if addr.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    let sa = raw_sockaddr(addr);
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::last_os_error());
    }
    let sqe =
        opcode::Connect::new(types::Fd(fd), sa.0.as_ptr() as *const libc::sockaddr, sa.1).build();
    let r = uring_submit(sqe);
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
    r.map(drop)
}
