//! `vigil-actions`: one security-relevant action per subcommand, for tests.
//!
//! The live container tests copy this program (built static) into a busybox
//! image and run it inside real containers, and on the host, to make the
//! kernel see exactly one known act: a mount attempt, an unshare, a ptrace
//! attach, a fileless exec... Each act is a raw syscall through libc so the
//! event the sensor reports is the syscall itself, not some library's idea
//! of it. A failed syscall is an expected outcome (a container lacks the
//! privilege): the program prints `<action>: ok` or `<action>: <errno>` and
//! exits 0 either way; it exits 2 only for bad usage. Tests assert the
//! events and alerts, not this output.

use std::ffi::CString;
use std::io::Error;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(action) = args.first() else {
        usage("no action given");
    };
    let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let result = match (action.as_str(), rest.as_slice()) {
        ("mount", [src, dir, fstype]) => mount(src, dir, fstype),
        ("unshare", []) => check(unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) }),
        ("setns", [path]) => setns(path),
        ("open-by-handle", [path]) => open_by_handle(path),
        ("userfaultfd", []) => {
            check_fd(unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC) })
        }
        ("ptrace-child", []) => ptrace_child(),
        ("vm-writev-child", []) => vm_writev_child(),
        ("fileless", [src]) => fileless(src),
        ("setuid-root", []) => setuid_root(),
        ("capset", []) => capset(),
        ("unix-connect", [path]) => unix_connect(path),
        ("open-read", [path]) => open_read(path),
        ("open-loop", [path, secs]) => open_loop(path, secs_arg(secs)),
        ("open-write", [path]) => open_write(path),
        ("bpf-prog-load", []) => bpf_prog_load(),
        ("chroot", [path]) => check(unsafe { libc::chroot(cstr(path).as_ptr()) }),
        ("kill", [pid, sig]) => kill(pid, sig),
        ("forkbomb", [secs]) => forkbomb(secs_arg(secs)),
        ("spawn", [n, secs]) => spawn(n.parse().unwrap_or_else(|_| usage("N")), secs_arg(secs)),
        ("cpu", [secs]) => cpu(secs_arg(secs)),
        ("mem", [mib]) => mem(mib.parse().unwrap_or_else(|_| usage("MIB"))),
        ("fds", [secs]) => fds(secs_arg(secs)),
        ("shell-on", [kind, shell]) => shell_on(kind, shell),
        ("sigqueue", [pid, sig]) => sigqueue(pid, sig, false),
        ("tgsigqueue", [pid, sig]) => sigqueue(pid, sig, true),
        ("pidfd-signal", [pid, sig]) => pidfd_signal(pid, sig),
        ("exec", [path]) => exec(path),
        ("inotify", [n, secs]) => inotify(n.parse().unwrap_or_else(|_| usage("N")), secs_arg(secs)),
        ("tcp-pair", [ip]) => tcp_pair(ip),
        ("tcp-stream", [secs, kib]) => tcp_stream(
            secs_arg(secs),
            kib.parse().unwrap_or_else(|_| usage("KIB_PER_S")),
        ),
        ("tcp-serve", [addr, secs]) => tcp_serve(addr, secs_arg(secs)),
        ("tcp-connect", [addr]) => tcp_connect(addr, None),
        ("tcp-dup", [addr]) => tcp_dup(addr),
        ("stratum", [addr]) => tcp_connect(addr, Some(STRATUM_SUBSCRIBE)),
        ("udp-send", [addr, n]) => udp_send(addr, n.parse().unwrap_or_else(|_| usage("N"))),
        ("udp-sendmsg", [addr]) => udp_sendmsg(addr),
        ("dns-serve", [addr, secs]) => dns_serve(addr, secs_arg(secs)),
        ("dns-udp-connected", [addr, name]) => dns_udp_connected(addr, name),
        ("dns-tcp", [addr, name]) => dns_tcp(addr, name),
        ("packet-socket", []) => {
            check_fd(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) } as libc::c_long)
        }
        ("inet-socket", []) => {
            check_fd(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) } as libc::c_long)
        }
        // io_uring: the same acts with no open or connect syscall.
        ("uring-open", [path]) => uring_open(path),
        ("uring-connect", [addr]) => uring_connect(addr),
        ("open-at", [dir, name]) => open_at(dir, name),
        _ => usage(&format!("unknown action or wrong arguments: {args:?}")),
    };
    match result {
        Ok(()) => println!("{action}: ok"),
        Err(e) => println!("{action}: {e}"),
    }
}

fn usage(why: &str) -> ! {
    eprintln!(
        "vigil-actions: {why}\n\
         usage: vigil-actions ACTION [ARGS]\n  \
         mount SRC DIR FSTYPE | unshare | setns NSPATH | open-by-handle PATH | userfaultfd\n  \
         ptrace-child | vm-writev-child | fileless ELF | setuid-root | capset\n  \
         unix-connect PATH | open-read PATH | open-write PATH | bpf-prog-load\n  \
         open-loop PATH SECS (opens and closes PATH as fast as it can)\n  \
         chroot PATH | kill PID SIG | sigqueue PID SIG | tgsigqueue PID SIG\n  \
         pidfd-signal PID SIG | exec PATH | inotify N SECS (N instances held SECS)\n  \
         tcp-stream SECS KIB_PER_S (loopback TCP, 0 = unlimited) | tcp-dup ADDR\n  \
         shell-on tcp|unix SHELL (SHELL's stdin/stdout a loopback TCP connection\n  \
         or a unix socket pair; it is fed `sleep 2; exit`)\n  \
         network (addresses as IP:PORT, [IP6]:PORT):\n  \
         tcp-pair IP | tcp-serve ADDR SECS | tcp-connect ADDR | stratum ADDR\n  \
         udp-send ADDR N | udp-sendmsg ADDR | packet-socket | inet-socket\n  \
         io_uring (IORING_OP_OPENAT, IORING_OP_CONNECT): uring-open PATH | uring-connect ADDR\n  \
         dns-serve ADDR SECS (answers A queries for c2.example.com and\n  \
         kubernetes.default.svc.cluster.local with 127.0.0.7 and .8, UDP and TCP)\n  \
         dns-udp-connected ADDR NAME (an A query by write/read on a connected\n  \
         UDP socket, as Go's and musl's resolvers do) | dns-tcp ADDR NAME\n  \
         open-at DIR NAME (openat on a directory fd of DIR)\n  \
         resource hogs (run them only under cgroup limits):\n  \
         forkbomb SECS | spawn N SECS | cpu SECS | mem MIB | fds SECS"
    );
    std::process::exit(2);
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| usage("argument contains a NUL byte"))
}

fn check(ret: libc::c_int) -> Result<(), Error> {
    if ret < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(())
    }
}

/// For calls that return a new fd: closes it on success.
fn check_fd(ret: libc::c_long) -> Result<(), Error> {
    if ret < 0 {
        return Err(Error::last_os_error());
    }
    // SAFETY: ret is an fd this process just got and owns.
    unsafe { libc::close(ret as libc::c_int) };
    Ok(())
}

fn mount(src: &str, dir: &str, fstype: &str) -> Result<(), Error> {
    let (s, d, t) = (cstr(src), cstr(dir), cstr(fstype));
    // SAFETY: valid C strings; data is NULL.
    check(unsafe { libc::mount(s.as_ptr(), d.as_ptr(), t.as_ptr(), 0, std::ptr::null()) })?;
    // Succeeded (only where the caller is privileged): undo it at once.
    // SAFETY: valid C string.
    check(unsafe { libc::umount2(d.as_ptr(), libc::MNT_DETACH) })
}

fn open_raw(path: &str, flags: libc::c_int) -> Result<libc::c_int, Error> {
    let p = cstr(path);
    // SAFETY: valid C string; mode is used only with O_CREAT.
    let fd = unsafe { libc::openat(libc::AT_FDCWD, p.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(fd)
    }
}

fn setns(path: &str) -> Result<(), Error> {
    let fd = open_raw(path, libc::O_RDONLY | libc::O_CLOEXEC)?;
    // SAFETY: fd is a namespace file we opened; nstype 0 accepts any kind.
    let r = check(unsafe { libc::setns(fd, 0) });
    unsafe { libc::close(fd) };
    r
}

fn open_by_handle(path: &str) -> Result<(), Error> {
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

/// Forks a child that sleeps; returns its pid.
fn sleeping_child() -> Result<libc::pid_t, Error> {
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

fn reap(pid: libc::pid_t) {
    // SAFETY: pid is our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

fn ptrace_child() -> Result<(), Error> {
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

static mut TARGET: [u8; 16] = [0; 16];

fn vm_writev_child() -> Result<(), Error> {
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
fn fileless(src: &str) -> Result<(), Error> {
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
fn setuid_root() -> Result<(), Error> {
    // SAFETY: plain id changes of this process.
    unsafe {
        if libc::getuid() == 0 {
            check(libc::setgid(65534))?;
            check(libc::setuid(65534))?;
        }
        check(libc::setuid(0))
    }
}

fn capset() -> Result<(), Error> {
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

fn unix_addr(path: &str) -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: sockaddr_un is plain data; all zeroes is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let b = path.as_bytes();
    if b.len() >= addr.sun_path.len() {
        usage("socket path too long");
    }
    for (d, s) in addr.sun_path.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + b.len() + 1;
    (addr, len as libc::socklen_t)
}

/// Listens on `path`, then connects to it (so the connect succeeds).
fn unix_connect(path: &str) -> Result<(), Error> {
    let _ = std::fs::remove_file(path);
    let (addr, len) = unix_addr(path);
    let sa = &addr as *const libc::sockaddr_un as *const libc::sockaddr;
    // SAFETY: plain socket calls on fds we own, with a valid address.
    unsafe {
        let server = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if server < 0 {
            return Err(Error::last_os_error());
        }
        check(libc::bind(server, sa, len))?;
        check(libc::listen(server, 1))?;
        let client = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        let r = check(libc::connect(client, sa, len));
        libc::close(client);
        libc::close(server);
        let _ = std::fs::remove_file(path);
        r
    }
}

fn open_read(path: &str) -> Result<(), Error> {
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
fn open_loop(path: &str, secs: std::time::Duration) -> Result<(), Error> {
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
fn open_at(dir: &str, name: &str) -> Result<(), Error> {
    let dirfd = open_raw(dir, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)?;
    let n = cstr(name);
    // SAFETY: our directory fd and a valid C string.
    let fd = unsafe { libc::openat(dirfd, n.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    // SAFETY: closing fds this process owns.
    unsafe { libc::close(dirfd) };
    check_fd(fd as libc::c_long)
}

fn open_write(path: &str) -> Result<(), Error> {
    let fd = open_raw(path, libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC)?;
    // SAFETY: our fd.
    unsafe { libc::close(fd) };
    Ok(())
}

/// BPF_PROG_LOAD of the smallest socket filter (`r0 = 0; exit`).
fn bpf_prog_load() -> Result<(), Error> {
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

fn kill(pid: &str, sig: &str) -> Result<(), Error> {
    let pid: libc::pid_t = pid.parse().unwrap_or_else(|_| usage("PID is not a number"));
    let sig: libc::c_int = sig.parse().unwrap_or_else(|_| usage("SIG is not a number"));
    // SAFETY: kill(2) with the pid and signal the test asked for.
    check(unsafe { libc::kill(pid, sig) })
}

fn secs_arg(s: &str) -> std::time::Duration {
    match s.parse::<u64>() {
        Ok(n) if (1..=120).contains(&n) => std::time::Duration::from_secs(n),
        _ => usage("SECS must be 1..=120"),
    }
}

/// Children that sleep `secs` then exit; returns whether fork worked.
fn fork_sleeper(secs: std::time::Duration) -> Result<(), Error> {
    // SAFETY: the child only sleeps and _exits (async-signal-safe calls).
    match unsafe { libc::fork() } {
        0 => unsafe {
            libc::sleep(secs.as_secs() as libc::c_uint);
            libc::_exit(0)
        },
        -1 => Err(Error::last_os_error()),
        _ => Ok(()),
    }
}

/// Forks sleeping children as fast as it can for `secs` (a fork bomb whose
/// children end on their own; the cgroup's pids.max is the real bound).
fn forkbomb(secs: std::time::Duration) -> Result<(), Error> {
    let end = std::time::Instant::now() + secs;
    let (mut ok, mut failed) = (0u64, 0u64);
    while std::time::Instant::now() < end {
        match fork_sleeper(secs) {
            Ok(()) => ok += 1,
            Err(_) => failed += 1,
        }
    }
    println!("forkbomb: {ok} forks, {failed} refused");
    Ok(())
}

/// Starts `n` children that sleep `secs`, then waits for them.
fn spawn(n: u32, secs: std::time::Duration) -> Result<(), Error> {
    let mut failed = 0;
    for _ in 0..n {
        if fork_sleeper(secs).is_err() {
            failed += 1;
        }
    }
    println!("spawn: {} started, {failed} refused", n - failed);
    // SAFETY: plain wait for our children.
    while unsafe { libc::wait(std::ptr::null_mut()) } > 0 {}
    Ok(())
}

/// Burns one CPU for `secs`.
fn cpu(secs: std::time::Duration) -> Result<(), Error> {
    let end = std::time::Instant::now() + secs;
    let mut x = 0u64;
    while std::time::Instant::now() < end {
        for i in 0..100_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    println!("cpu: {x}");
    Ok(())
}

/// Allocates and touches `mib` MiB, one MiB at a time (under a memory
/// limit the OOM killer ends it first).
fn mem(mib: usize) -> Result<(), Error> {
    let mut keep: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib {
        keep.push(vec![1u8; 1 << 20]);
    }
    println!("mem: {} MiB held", keep.len());
    Ok(())
}

/// Opens /dev/null until the fd limit, then keeps trying for `secs`
/// (a storm of EMFILE failures).
fn fds(secs: std::time::Duration) -> Result<(), Error> {
    let path = cstr("/dev/null");
    let end = std::time::Instant::now() + secs;
    let (mut open, mut emfile) = (0u64, 0u64);
    while std::time::Instant::now() < end {
        // SAFETY: open(2) of a valid C string; the fds are kept on purpose.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
        if fd >= 0 {
            open += 1;
        } else {
            emfile += 1;
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
    println!("fds: {open} open, {emfile} refused");
    Ok(())
}

fn sig_args(pid: &str, sig: &str) -> (libc::pid_t, libc::c_int) {
    (
        pid.parse().unwrap_or_else(|_| usage("PID is not a number")),
        sig.parse().unwrap_or_else(|_| usage("SIG is not a number")),
    )
}

/// rt_sigqueueinfo / rt_tgsigqueueinfo with a queued-signal siginfo.
fn sigqueue(pid: &str, sig: &str, thread: bool) -> Result<(), Error> {
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
fn pidfd_signal(pid: &str, sig: &str) -> Result<(), Error> {
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
fn exec(path: &str) -> Result<(), Error> {
    let p = cstr(path);
    let argv = [p.as_ptr(), std::ptr::null()];
    // SAFETY: NULL-terminated argv of live C strings.
    unsafe { libc::execv(p.as_ptr(), argv.as_ptr()) };
    Err(Error::last_os_error())
}

/// Runs SHELL with its stdin and stdout on one end of a connected socket
/// pair (a loopback TCP connection, or a unix socketpair for the benign
/// look-alike) and feeds it `sleep 2; exit` through the other end.
fn shell_on(kind: &str, shell: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::fd::{AsRawFd, OwnedFd};
    let (ours, theirs): (OwnedFd, OwnedFd) = match kind {
        "tcp" => {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            let c = std::net::TcpStream::connect(l.local_addr()?)?;
            let (a, _) = l.accept()?;
            (a.into(), c.into())
        }
        "unix" => {
            let (a, b) = std::os::unix::net::UnixStream::pair()?;
            (a.into(), b.into())
        }
        _ => usage("shell-on: tcp or unix"),
    };
    let sh = cstr(shell);
    let theirs_fd = theirs.as_raw_fd();
    // SAFETY: the child only dup2s and execs (async-signal-safe).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::last_os_error());
    }
    if pid == 0 {
        unsafe {
            libc::dup2(theirs_fd, 0);
            libc::dup2(theirs_fd, 1);
            let argv = [sh.as_ptr(), std::ptr::null()];
            libc::execv(sh.as_ptr(), argv.as_ptr());
            libc::_exit(127);
        }
    }
    drop(theirs);
    let mut s = std::fs::File::from(ours);
    let fed = s.write_all(b"sleep 2; exit\n");
    let mut status = 0;
    // SAFETY: our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    fed?;
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(Error::other(format!("{shell} exited with status {status}")))
    }
}

/// Holds `n` inotify instances (one watch each) for `secs`: the per-user
/// limit (`fs.inotify.max_user_instances`) bounds it.
fn inotify(n: u32, secs: std::time::Duration) -> Result<(), Error> {
    let mut fds = Vec::new();
    let mut err = None;
    for _ in 0..n {
        // SAFETY: no preconditions; fds are closed below.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        if fd < 0 {
            err = Some(Error::last_os_error());
            break;
        }
        // SAFETY: our fd and a valid C string.
        unsafe { libc::inotify_add_watch(fd, c"/".as_ptr(), libc::IN_CREATE) };
        fds.push(fd);
    }
    std::thread::sleep(secs);
    for fd in fds {
        // SAFETY: our fds.
        unsafe { libc::close(fd) };
    }
    err.map_or(Ok(()), Err)
}

/// What a miner sends first to a stratum pool.
const STRATUM_SUBSCRIBE: &[u8] =
    b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"vigil-test/1.0\"]}\n";

fn sock_addr(addr: &str) -> std::net::SocketAddr {
    addr.parse()
        .unwrap_or_else(|_| usage(&format!("not an IP:PORT address: {addr}")))
}

/// A listener on `ip` (kernel-chosen port), one connection to it, accepted:
/// bind, listen, connect and accept of one TCP flow.
fn tcp_pair(ip: &str) -> Result<(), Error> {
    let ip: std::net::IpAddr = ip.parse().unwrap_or_else(|_| usage("IP"));
    let listener = std::net::TcpListener::bind((ip, 0))?;
    let client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (server, peer) = listener.accept()?;
    println!("tcp-pair: {} -> {}", peer, server.local_addr()?);
    drop(client);
    Ok(())
}

/// Stream zeros over loopback TCP to a reader in this process for `secs`,
/// at `kib_per_s` KiB/s (0: as fast as the CPU allows): traffic that stays
/// in the container's own network namespace.
fn tcp_stream(secs: std::time::Duration, kib_per_s: u64) -> Result<(), Error> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        while let Ok(n @ 1..) = server.read(&mut buf) {
            total += n as u64;
        }
        total
    });
    let chunk = vec![0u8; 1 << 16];
    let start = std::time::Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < secs {
        if kib_per_s > 0 {
            let due = sent as f64 / (kib_per_s * 1024) as f64;
            let ahead = due - start.elapsed().as_secs_f64();
            if ahead > 0.0 {
                std::thread::sleep(std::time::Duration::from_secs_f64(ahead.min(0.1)));
                continue;
            }
        }
        client.write_all(&chunk)?;
        sent += chunk.len() as u64;
    }
    drop(client);
    let got = reader.join().unwrap_or(0);
    println!("tcp-stream: sent {sent} received {got} bytes");
    Ok(())
}

/// Listen on `addr` and accept connections for `secs` (answers each with a line).
fn tcp_serve(addr: &str, secs: std::time::Duration) -> Result<(), Error> {
    use std::io::Write;
    let listener = std::net::TcpListener::bind(sock_addr(addr))?;
    listener.set_nonblocking(true)?;
    let end = std::time::Instant::now() + secs;
    while std::time::Instant::now() < end {
        match listener.accept() {
            Ok((mut s, _)) => {
                let _ = s.write_all(b"hello\n");
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Connect to `addr`, then dup2 the socket onto stdin (as a reverse shell
/// does before it execs): a later event on another fd of the same socket.
fn tcp_dup(addr: &str) -> Result<(), Error> {
    use std::os::fd::AsRawFd;
    let s =
        std::net::TcpStream::connect_timeout(&sock_addr(addr), std::time::Duration::from_secs(3))?;
    // SAFETY: two valid descriptors; fd 0 is replaced, as intended.
    check(unsafe { libc::dup2(s.as_raw_fd(), 0) })
}

/// Connect to `addr` and send `payload` if given.
fn tcp_connect(addr: &str, payload: Option<&[u8]>) -> Result<(), Error> {
    use std::io::Write;
    let mut s =
        std::net::TcpStream::connect_timeout(&sock_addr(addr), std::time::Duration::from_secs(3))?;
    if let Some(p) = payload {
        s.write_all(p)?;
    }
    Ok(())
}

/// `n` datagrams from one unconnected UDP socket to `addr` (sendto).
fn udp_send(addr: &str, n: u32) -> Result<(), Error> {
    let to = sock_addr(addr);
    let any: std::net::SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let s = std::net::UdpSocket::bind(any)?;
    for i in 0..n {
        s.send_to(format!("datagram {i}").as_bytes(), to)?;
    }
    Ok(())
}

/// Names [`dns_serve`] answers, with their address.
const DNS_NAMES: &[(&str, [u8; 4])] = &[
    ("c2.example.com", [127, 0, 0, 7]),
    ("kubernetes.default.svc.cluster.local", [127, 0, 0, 8]),
];

/// A DNS resolver on `addr` for `secs` seconds, UDP and TCP: an A query
/// for one of [`DNS_NAMES`] gets its address (TTL 60), another type for it
/// an empty answer, any other name NXDOMAIN.
fn dns_serve(addr: &str, secs: std::time::Duration) -> Result<(), Error> {
    let s = std::net::UdpSocket::bind(sock_addr(addr))?;
    let tcp = std::net::TcpListener::bind(sock_addr(addr))?;
    std::thread::spawn(move || {
        for conn in tcp.incoming().flatten() {
            let _ = dns_serve_tcp(conn);
        }
    });
    let end = std::time::Instant::now() + secs;
    let mut buf = [0u8; 512];
    while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
        s.set_read_timeout(Some(left.max(std::time::Duration::from_millis(1))))?;
        let Ok((n, from)) = s.recv_from(&mut buf) else {
            continue;
        };
        if let Some(reply) = dns_reply(&buf[..n]) {
            s.send_to(&reply, from)?;
        }
    }
    Ok(())
}

/// The queries of one TCP connection, each with its 2-byte length prefix.
fn dns_serve_tcp(mut conn: std::net::TcpStream) -> Result<(), Error> {
    use std::io::{Read, Write};
    conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    loop {
        let mut len = [0u8; 2];
        conn.read_exact(&mut len)?;
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        conn.read_exact(&mut q)?;
        let reply = dns_reply(&q).unwrap_or_default();
        let mut out = (reply.len() as u16).to_be_bytes().to_vec();
        out.extend(reply);
        conn.write_all(&out)?;
    }
}

/// An A query for `name` (id 0x5151, recursion desired).
fn dns_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x51, 0x51, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend(label.as_bytes());
    }
    q.extend([0, 0, 1, 0, 1]);
    q
}

/// The first A record's address of a reply, for the action's output.
fn dns_first_a(r: &[u8]) -> String {
    match r.len() {
        n if n >= 4 && r.get(n - 6..n - 4) == Some(&[0, 4]) => {
            std::net::Ipv4Addr::new(r[n - 4], r[n - 3], r[n - 2], r[n - 1]).to_string()
        }
        _ => "no address".to_owned(),
    }
}

/// An A query for `name` to `addr` with plain write() and read() on a
/// connected UDP socket, the way Go's and musl's resolvers send.
fn dns_udp_connected(addr: &str, name: &str) -> Result<(), Error> {
    use std::os::fd::AsRawFd;
    let to = sock_addr(addr);
    let any = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let s = std::net::UdpSocket::bind(sock_addr(any))?;
    s.connect(to)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
    let q = dns_query(name);
    // SAFETY: a buffer of ours, on a socket of ours.
    let sent = unsafe { libc::write(s.as_raw_fd(), q.as_ptr().cast(), q.len()) };
    if sent < 0 {
        return Err(Error::last_os_error());
    }
    let mut buf = [0u8; 512];
    // SAFETY: as above; the kernel writes at most `buf.len()` bytes.
    let got = unsafe { libc::read(s.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if got < 0 {
        return Err(Error::last_os_error());
    }
    println!(
        "dns-udp-connected: {name} -> {}",
        dns_first_a(&buf[..got as usize])
    );
    Ok(())
}

/// An A query for `name` to `addr` over TCP (RFC 1035's 2-byte length
/// prefix before each message, the query in one segment).
fn dns_tcp(addr: &str, name: &str) -> Result<(), Error> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(sock_addr(addr))?;
    conn.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
    let q = dns_query(name);
    let mut out = (q.len() as u16).to_be_bytes().to_vec();
    out.extend(q);
    conn.write_all(&out)?;
    let mut len = [0u8; 2];
    conn.read_exact(&mut len)?;
    let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
    conn.read_exact(&mut r)?;
    println!("dns-tcp: {name} -> {}", dns_first_a(&r));
    Ok(())
}

/// The reply to one query (header, one question), `None` if it is not one.
fn dns_reply(q: &[u8]) -> Option<Vec<u8>> {
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*q.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).into_owned());
        i += len;
    }
    let question = q.get(12..i + 4)?;
    let qtype = u16::from_be_bytes([q[i], q[i + 1]]);
    let name = labels.join(".");
    let known = DNS_NAMES.iter().find(|(n, _)| *n == name);
    let answer = known.filter(|_| qtype == 1).map(|(_, ip)| ip);
    let mut r = Vec::with_capacity(q.len() + 16);
    r.extend_from_slice(&q[..2]);
    r.extend([0x81, if known.is_some() { 0x80 } else { 0x83 }, 0, 1, 0]);
    r.push(u8::from(answer.is_some()));
    r.extend([0, 0, 0, 0]);
    r.extend_from_slice(question);
    if let Some(ip) = answer {
        r.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        r.extend(ip);
    }
    Some(r)
}

/// One datagram to an IPv4 `addr` with sendmsg().
fn udp_sendmsg(addr: &str) -> Result<(), Error> {
    let std::net::SocketAddr::V4(to) = sock_addr(addr) else {
        usage("udp-sendmsg takes an IPv4 address");
    };
    // SAFETY: a zeroed sockaddr_in is valid; filled below.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_port = to.port().to_be();
    sin.sin_addr.s_addr = u32::from_ne_bytes(to.ip().octets());
    let mut data = *b"sendmsg";
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: a zeroed msghdr is valid; its pointers are set to live locals.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut sin).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: plain socket calls on an fd we own, with valid pointers.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(Error::last_os_error());
        }
        let r = libc::sendmsg(fd, &msg, 0);
        libc::close(fd);
        if r < 0 {
            return Err(Error::last_os_error());
        }
    }
    Ok(())
}

/// Submit one io_uring request and wait for its result (an fd or 0).
fn uring_submit(sqe: io_uring::squeue::Entry) -> Result<i32, Error> {
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
fn uring_open(path: &str) -> Result<(), Error> {
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
fn uring_connect(addr: &str) -> Result<(), Error> {
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

/// `addr` as raw `sockaddr_in`/`sockaddr_in6` bytes and their length.
fn raw_sockaddr(addr: std::net::SocketAddr) -> (Vec<u8>, libc::socklen_t) {
    let mut buf = vec![0u8; std::mem::size_of::<libc::sockaddr_in6>()];
    let len = match addr {
        std::net::SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: buf is larger than a sockaddr_in.
            unsafe { std::ptr::write_unaligned(buf.as_mut_ptr() as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        std::net::SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: buf is exactly a sockaddr_in6.
            unsafe { std::ptr::write_unaligned(buf.as_mut_ptr() as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (buf, len as libc::socklen_t)
}
