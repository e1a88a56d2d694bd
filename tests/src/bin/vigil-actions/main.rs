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

mod dns;
mod files;
mod hogs;
mod net;
mod process;
mod uring;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(action) = args.first() else {
        usage("no action given");
    };
    let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let result = match (action.as_str(), rest.as_slice()) {
        ("mount", [src, dir, fstype]) => files::mount(src, dir, fstype),
        ("unshare", []) => check(unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) }),
        ("setns", [path]) => files::setns(path),
        ("open-by-handle", [path]) => files::open_by_handle(path),
        ("userfaultfd", []) => {
            check_fd(unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC) })
        }
        ("ptrace-child", []) => process::ptrace_child(),
        ("vm-writev-child", []) => process::vm_writev_child(),
        ("fileless", [src]) => process::fileless(src),
        ("setuid-root", []) => process::setuid_root(),
        ("capset", []) => process::capset(),
        ("unix-connect", [path]) => net::unix_connect(path),
        ("open-read", [path]) => files::open_read(path),
        ("open-loop", [path, secs]) => files::open_loop(path, secs_arg(secs)),
        ("open-write", [path]) => files::open_write(path),
        ("bpf-prog-load", []) => process::bpf_prog_load(),
        ("init-module", []) => process::init_module(),
        ("kexec-load", []) => process::kexec_load(),
        ("chroot", [path]) => check(unsafe { libc::chroot(cstr(path).as_ptr()) }),
        ("kill", [pid, sig]) => process::kill(pid, sig),
        ("forkbomb", [secs]) => hogs::forkbomb(secs_arg(secs)),
        ("spawn", [n, secs]) => {
            hogs::spawn(n.parse().unwrap_or_else(|_| usage("N")), secs_arg(secs))
        }
        ("cpu", [secs]) => hogs::cpu(secs_arg(secs)),
        ("mem", [mib]) => hogs::mem(mib.parse().unwrap_or_else(|_| usage("MIB"))),
        ("fds", [secs]) => hogs::fds(secs_arg(secs)),
        ("shell-on", [kind, shell]) => net::shell_on(kind, shell),
        ("sigqueue", [pid, sig]) => process::sigqueue(pid, sig, false),
        ("tgsigqueue", [pid, sig]) => process::sigqueue(pid, sig, true),
        ("pidfd-signal", [pid, sig]) => process::pidfd_signal(pid, sig),
        ("exec", [path]) => process::exec(path),
        ("inotify", [n, secs]) => {
            hogs::inotify(n.parse().unwrap_or_else(|_| usage("N")), secs_arg(secs))
        }
        ("tcp-pair", [ip]) => net::tcp_pair(ip),
        ("tcp-stream", [secs, kib]) => net::tcp_stream(
            secs_arg(secs),
            kib.parse().unwrap_or_else(|_| usage("KIB_PER_S")),
        ),
        ("tcp-serve", [addr, secs]) => net::tcp_serve(addr, secs_arg(secs)),
        ("tcp-connect", [addr]) => net::tcp_connect(addr, None),
        ("tcp-dup", [addr]) => net::tcp_dup(addr),
        ("stratum", [addr]) => net::tcp_connect(addr, Some(net::STRATUM_SUBSCRIBE)),
        ("udp-send", [addr, n]) => net::udp_send(addr, n.parse().unwrap_or_else(|_| usage("N"))),
        ("udp-sendmsg", [addr]) => net::udp_sendmsg(addr),
        ("dns-serve", [addr, secs]) => dns::dns_serve(addr, secs_arg(secs)),
        ("dns-udp-connected", [addr, name]) => dns::dns_udp_connected(addr, name),
        ("dns-tcp", [addr, name]) => dns::dns_tcp(addr, name),
        ("packet-socket", []) => {
            check_fd(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) } as libc::c_long)
        }
        ("inet-socket", []) => {
            check_fd(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) } as libc::c_long)
        }
        // io_uring: the same acts with no open or connect syscall.
        ("uring-open", [path]) => uring::uring_open(path),
        ("uring-connect", [addr]) => uring::uring_connect(addr),
        ("open-at", [dir, name]) => files::open_at(dir, name),
        _ => usage(&format!("unknown action or wrong arguments: {args:?}")),
    };
    match result {
        Ok(()) => println!("{action}: ok"),
        Err(e) => println!("{action}: {e}"),
    }
}

pub fn usage(why: &str) -> ! {
    eprintln!(
        "vigil-actions: {why}\n\
         usage: vigil-actions ACTION [ARGS]\n  \
         mount SRC DIR FSTYPE | unshare | setns NSPATH | open-by-handle PATH | userfaultfd\n  \
         ptrace-child | vm-writev-child | fileless ELF | setuid-root | capset\n  \
         unix-connect PATH | open-read PATH | open-write PATH | bpf-prog-load\n  \
         init-module | kexec-load (garbage: refused)\n  \
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

pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| usage("argument contains a NUL byte"))
}

pub fn check(ret: libc::c_int) -> Result<(), Error> {
    if ret < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(())
    }
}

/// For calls that return a new fd: closes it on success.
pub fn check_fd(ret: libc::c_long) -> Result<(), Error> {
    if ret < 0 {
        return Err(Error::last_os_error());
    }
    // SAFETY: ret is an fd this process just got and owns.
    unsafe { libc::close(ret as libc::c_int) };
    Ok(())
}

pub fn secs_arg(s: &str) -> std::time::Duration {
    match s.parse::<u64>() {
        Ok(n) if (1..=120).contains(&n) => std::time::Duration::from_secs(n),
        _ => usage("SECS must be 1..=120"),
    }
}
