//! Acts of one process on itself or on others: ptrace and
//! process_vm_writev on a child, fileless exec, credential changes, BPF
//! loads, signals of every kind, exec.

use std::io::Error;

use crate::{check, check_fd, cstr, usage};

/// Forks a child that sleeps; returns its pid.
pub fn sleeping_child() -> Result<libc::pid_t, Error> {
    // SAFETY: the child only calls async-signal-safe functions.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::last_os_error());
    }
    if pid == 0 {
        loop {
            // SAFETY: pause is async-signal-safe.
            unsafe { libc::pause() };
        }
    }
    Ok(pid)
}

pub fn reap(pid: libc::pid_t) {
    // SAFETY: pid is our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

pub fn ptrace_child() -> Result<(), Error> {
    let child = sleeping_child()?;
    // SAFETY: ptrace on our own child; it is detached before it is killed.
    let r = check(unsafe { libc::ptrace(libc::PTRACE_ATTACH, child, 0, 0) } as libc::c_int);
    if r.is_ok() {
        let mut status = 0;
        unsafe {
            libc::waitpid(child, &mut status, 0);
            libc::ptrace(libc::PTRACE_DETACH, child, 0, 0);
        }
    }
    reap(child);
    r
}

pub static mut TARGET: [u8; 16] = [0; 16];

pub fn vm_writev_child() -> Result<(), Error> {
    let child = sleeping_child()?;
    let data = *b"vigil-actions!!\0";
    let local = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // After fork the child has TARGET at the same address.
    let remote = libc::iovec {
        iov_base: std::ptr::addr_of_mut!(TARGET) as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: both iovecs describe 16 valid bytes.
    let n = unsafe { libc::process_vm_writev(child, &local, 1, &remote, 1, 0) };
    let r = if n < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(())
    };
    reap(child);
    r
}

/// Copies the ELF at `src` into a memfd and executes it from there as
/// `true` (busybox runs its `true` applet), the way fileless malware runs.
pub fn fileless(src: &str) -> Result<(), Error> {
    let bytes = std::fs::read(src)?;
    let name = cstr("vigil-fileless");
    // SAFETY: valid C string.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
    if fd < 0 {
        return Err(Error::last_os_error());
    }
    let mut off = 0;
    while off < bytes.len() {
        // SAFETY: writing from a valid slice to our fd.
        let n = unsafe {
            libc::write(
                fd,
                bytes[off..].as_ptr() as *const libc::c_void,
                bytes.len() - off,
            )
        };
        if n <= 0 {
            return Err(Error::last_os_error());
        }
        off += n as usize;
    }
    let argv0 = cstr("true");
    let argv = [argv0.as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let empty = cstr("");
    // stdout must show the outcome before exec replaces us.
    println!("fileless: executing memfd");
    // SAFETY: execveat with AT_EMPTY_PATH on our memfd (what fexecve does).
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            empty.as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(Error::last_os_error())
}

/// Drops to nobody, then asks for uid 0 back (refused: EPERM).
pub fn setuid_root() -> Result<(), Error> {
    // SAFETY: plain id changes of this process.
    unsafe {
        if libc::getuid() == 0 {
            check(libc::setgid(65534))?;
            check(libc::setuid(65534))?;
        }
        check(libc::setuid(0))
    }
}

pub fn capset() -> Result<(), Error> {
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
    let mut hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: header and two data structs, as version 3 requires.
    check(unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) } as libc::c_int)?;
    // Drop everything from effective, then raise it back from permitted.
    let full = data;
    data[0].effective = 0;
    data[1].effective = 0;
    check(unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) } as libc::c_int)?;
    check(unsafe { libc::syscall(libc::SYS_capset, &mut hdr, full.as_ptr()) } as libc::c_int)
}

/// BPF_PROG_LOAD of the smallest socket filter (`r0 = 0; exit`).
pub fn bpf_prog_load() -> Result<(), Error> {
    let insns: [u64; 2] = [
        0x0000_0000_0000_00b7, // mov64 r0, 0
        0x0000_0000_0000_0095, // exit
    ];
    let license = cstr("GPL");
    // union bpf_attr, BPF_PROG_LOAD part: prog_type, insn_cnt, insns,
    // license, log_level, log_size, log_buf, kern_version; rest zero.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&1u32.to_ne_bytes()); // BPF_PROG_TYPE_SOCKET_FILTER
    attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    const BPF_PROG_LOAD: libc::c_long = 5;
    // SAFETY: attr is a zero-padded bpf_attr pointing at live buffers.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_LOAD, attr.as_ptr(), attr.len()) };
    check_fd(fd)
}

/// `init_module` with 16 bytes that are no ELF module: refused (EPERM
/// without CAP_SYS_MODULE, ENOSYS on a kernel without modules, ENOEXEC
/// otherwise); the attempt is the act.
pub fn init_module() -> Result<(), Error> {
    let garbage = [0x5au8; 16];
    let params = cstr("");
    // SAFETY: pointers to live buffers of the given length.
    let r = unsafe {
        libc::syscall(
            libc::SYS_init_module,
            garbage.as_ptr(),
            garbage.len(),
            params.as_ptr(),
        )
    };
    check(r as libc::c_int)
}

/// `kexec_load` of no segments with the reserved flag bits set, so even a
/// kernel with kexec and CAP_SYS_BOOT refuses it (EINVAL); without kexec:
/// ENOSYS.
pub fn kexec_load() -> Result<(), Error> {
    const GARBAGE_FLAGS: libc::c_ulong = 0xdead_0000;
    // SAFETY: no segments, so no pointer is read.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_load,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            std::ptr::null::<u8>(),
            GARBAGE_FLAGS,
        )
    };
    check(r as libc::c_int)
}

pub fn kill(pid: &str, sig: &str) -> Result<(), Error> {
    let pid: libc::pid_t = pid.parse().unwrap_or_else(|_| usage("PID is not a number"));
    let sig: libc::c_int = sig.parse().unwrap_or_else(|_| usage("SIG is not a number"));
    // SAFETY: kill(2) with the pid and signal the test asked for.
    check(unsafe { libc::kill(pid, sig) })
}

pub fn sig_args(pid: &str, sig: &str) -> (libc::pid_t, libc::c_int) {
    (
        pid.parse().unwrap_or_else(|_| usage("PID is not a number")),
        sig.parse().unwrap_or_else(|_| usage("SIG is not a number")),
    )
}

/// rt_sigqueueinfo / rt_tgsigqueueinfo with a queued-signal siginfo.
pub fn sigqueue(pid: &str, sig: &str, thread: bool) -> Result<(), Error> {
    let (pid, sig) = sig_args(pid, sig);
    // siginfo_t is 128 bytes: si_signo, si_errno, si_code, then the union.
    let mut info = [0i32; 32];
    info[0] = sig;
    info[2] = -1; // SI_QUEUE: another process may send only negative codes.
                  // SAFETY: info is a zeroed siginfo_t-sized buffer.
    let r = unsafe {
        if thread {
            libc::syscall(libc::SYS_rt_tgsigqueueinfo, pid, pid, sig, info.as_ptr())
        } else {
            libc::syscall(libc::SYS_rt_sigqueueinfo, pid, sig, info.as_ptr())
        }
    };
    check(r as libc::c_int)
}

/// pidfd_open, then pidfd_send_signal; the pidfd stays open a moment so
/// the agent can see which process it names.
pub fn pidfd_signal(pid: &str, sig: &str) -> Result<(), Error> {
    let (pid, sig) = sig_args(pid, sig);
    // SAFETY: pidfd_open takes a pid and flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Error::last_os_error());
    }
    // SAFETY: fd is the pidfd just opened; info NULL, flags 0.
    let r = check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd,
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    } as libc::c_int);
    std::thread::sleep(std::time::Duration::from_secs(1));
    // SAFETY: our fd.
    unsafe { libc::close(fd as libc::c_int) };
    r
}

/// execv(PATH); returns only when it failed.
pub fn exec(path: &str) -> Result<(), Error> {
    let p = cstr(path);
    let argv = [p.as_ptr(), std::ptr::null()];
    // SAFETY: NULL-terminated argv of live C strings.
    unsafe { libc::execv(p.as_ptr(), argv.as_ptr()) };
    Err(Error::last_os_error())
}
