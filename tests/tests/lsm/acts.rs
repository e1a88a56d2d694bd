//! The sandbox's acts for the second set of LSM hooks (bpf, set*id and
//! capset, chroot and pivot_root, executable memory): each is also a
//! syscall the tracepoints see, so both modes raise the same alerts.

use std::ffi::CString;
use std::path::Path;

/// The second set of LSM hooks' acts (each also a tracepoint's syscall):
/// a bpf() program load (garbage, refused by the verifier's checks after
/// the hook), setuid(0) (a no-op for root), a capability dropped and
/// raised again, a chroot (in a child, which then exits), a pivot_root
/// that fails (its target is no mount point) after the hook, and RWX
/// memory by mmap and by mprotect.
pub fn credentials_root_bpf_and_memory(dir: &Path) {
    let report = |what: &str, r: std::io::Result<()>| match r {
        Ok(()) => println!("{what}: ok"),
        Err(e) => println!("{what}: {e}"),
    };
    let check = |rc: libc::c_long| {
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // BPF_PROG_LOAD with a zeroed attribute: no instructions, EINVAL.
    let attr = [0u8; 128];
    // SAFETY: a valid buffer of the size given.
    report(
        "bpf prog load",
        check(unsafe { libc::syscall(libc::SYS_bpf, 5, attr.as_ptr(), attr.len()) }),
    );
    // SAFETY: plain syscalls.
    report(
        "setuid 0",
        check(unsafe { libc::setuid(0) } as libc::c_long),
    );
    report(
        "capabilities dropped and raised",
        in_child(drop_and_raise_cap),
    );
    let path = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    report(
        "chroot",
        in_child(move || {
            // SAFETY: a valid C string.
            if unsafe { libc::chroot(path.as_ptr()) } == 0 {
                0
            } else {
                1
            }
        }),
    );
    let cg = CString::new("cg").unwrap();
    // SAFETY: valid C strings.
    report(
        "pivot_root",
        check(unsafe { libc::syscall(libc::SYS_pivot_root, cg.as_ptr(), cg.as_ptr()) }),
    );
    let rwx = libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC;
    // SAFETY: a fresh anonymous mapping, unmapped again.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            rwx,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        report(
            "mmap rwx",
            check(if p == libc::MAP_FAILED { -1 } else { 0 }),
        );
        if p != libc::MAP_FAILED {
            libc::munmap(p, 4096);
        }
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p != libc::MAP_FAILED {
            report(
                "mprotect rwx",
                check(libc::mprotect(p, 4096, rwx) as libc::c_long),
            );
            libc::munmap(p, 4096);
        }
    }
}

/// Runs `f` in a forked child (for acts that would change this process
/// for good); Ok when it exits 0.
fn in_child(f: impl FnOnce() -> i32) -> std::io::Result<()> {
    // SAFETY: the child runs only `f` (plain syscalls) and _exit.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => unsafe { libc::_exit(f()) },
        pid => {
            let mut status = 0;
            // SAFETY: our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::other(format!("child status {status:#x}")))
            }
        }
    }
}

/// capset: CAP_NET_RAW out of the effective set, then back in (a raise:
/// the "Capabilities raised in container" rule's act). Returns 0 on success.
fn drop_and_raise_cap() -> i32 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_NET_RAW: u32 = 13;
    let mut hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset with a v3 header and two data entries.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) != 0 {
            return 1;
        }
        let bit = 1u32 << CAP_NET_RAW;
        if data[0].permitted & bit == 0 {
            return 2;
        }
        data[0].effective &= !bit;
        if libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) != 0 {
            return 3;
        }
        data[0].effective |= bit;
        if libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) != 0 {
            return 4;
        }
    }
    0
}

/// The network acts (`lsm/socket_connect`, `lsm/socket_bind` in LSM
/// mode), loopback only: a connect to a runtime socket path (unix; none
/// need exist), a TCP connect through io_uring to the test's listener on
/// a mining-pool port, and a TCP bind to `bind_port`.
pub fn network(miner_port: u16, bind_port: u16) {
    let report = |what: &str, r: std::io::Result<()>| match r {
        Ok(()) => println!("{what}: ok"),
        Err(e) => println!("{what}: {e}"),
    };
    report(
        "connect the dockershim socket",
        std::os::unix::net::UnixStream::connect("/var/run/dockershim.sock").map(drop),
    );
    report(
        "io_uring connect to the miner port",
        with_tcp_socket(|fd| uring_connect(fd, &inet(miner_port))),
    );
    report(
        "bind",
        with_tcp_socket(|fd| {
            let sa = inet(bind_port);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            // SAFETY: a sockaddr_in of the length given.
            match unsafe { libc::bind(fd, (&raw const sa).cast(), len) } {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        }),
    );
}

/// `127.0.0.1:port`.
fn inet(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    }
}

/// Runs `f` on a fresh TCP socket, closed afterwards.
fn with_tcp_socket(f: impl FnOnce(i32) -> std::io::Result<()>) -> std::io::Result<()> {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let r = f(fd);
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
    r
}

/// `connect(fd, sa)` submitted through io_uring (no connect syscall).
fn uring_connect(fd: i32, sa: &libc::sockaddr_in) -> std::io::Result<()> {
    use io_uring::{opcode, types};
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let sqe =
        opcode::Connect::new(types::Fd(fd), (sa as *const libc::sockaddr_in).cast(), len).build();
    // SAFETY: `sa` outlives the call, which waits for the completion.
    unsafe { crate::sandbox::io_uring_one(&sqe) }.map(drop)
}
