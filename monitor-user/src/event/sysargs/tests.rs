use super::*;
use names::MOUNT_FLAGS;

/// An openat record as the LSM `file_open` hook sends it.
fn lsm_open(path: &[u8], flags: u16) -> Box<SyscallRecord> {
    // SAFETY: a record is plain integers and byte arrays.
    let mut r: Box<SyscallRecord> = Box::new(unsafe { std::mem::zeroed() });
    r.syscall = monitor_common::SyscallId::Openat as u16;
    r.flags = flags;
    r.args[0] = -100i64 as u64;
    r.args[2] = libc::O_RDONLY as u64;
    r.str0[..path.len()].copy_from_slice(path);
    r.str0_len = path.len() as u16;
    r
}

#[test]
fn lsm_records_carry_their_hook_and_io_uring_origin() {
    let arg = |d: &Decoded, n: &str| d.args.iter().find(|a| a.name == n).map(|a| a.value.clone());
    let lsm = syscall_flags::LSM | syscall_flags::IO_URING;
    let d = decode(&lsm_open(b"/etc/gshadow", lsm));
    assert_eq!(d.path.as_deref(), Some("/etc/gshadow"));
    assert_eq!(arg(&d, "lsm_hook"), Some(ArgValue::Str("file_open".into())));
    assert_eq!(arg(&d, "io_uring"), Some(ArgValue::Uint(1)));
    let d = decode(&lsm_open(b"/etc/shadow", syscall_flags::LSM));
    assert_eq!(arg(&d, "io_uring"), None);
    // A tracepoint record has neither.
    let d = decode(&lsm_open(b"/etc/shadow", 0));
    assert_eq!(arg(&d, "lsm_hook"), None);
    assert_eq!(d.args.len(), 4, "dirfd, name, flags, mode");
    // io_uring's own tracepoints report the origin without a hook.
    let d = decode(&lsm_open(b"/etc/shadow", syscall_flags::IO_URING));
    assert_eq!(arg(&d, "lsm_hook"), None);
    assert_eq!(arg(&d, "io_uring"), Some(ArgValue::Uint(1)));
}

#[test]
fn relative_opens_carry_the_kernels_resolution_or_say_it_failed() {
    let arg = |d: &Decoded, n: &str| d.args.iter().find(|a| a.name == n).map(|a| a.value.clone());
    let mut r = lsm_open(b"admin.conf", syscall_flags::PATH_AT);
    let full = b"/etc/kubernetes/admin.conf";
    r.str1[..full.len()].copy_from_slice(full);
    r.str1_len = full.len() as u16;
    let d = decode(&r);
    assert_eq!(d.path.as_deref(), Some("admin.conf"));
    assert_eq!(d.resolved.as_deref(), Some("/etc/kubernetes/admin.conf"));
    assert_eq!(arg(&d, "unresolved"), None);
    // The kernel could not: no resolution, and the event says so.
    let d = decode(&lsm_open(b"admin.conf", syscall_flags::PATH_AT));
    assert_eq!(d.resolved, None);
    assert!(matches!(arg(&d, "unresolved"), Some(ArgValue::Str(_))));
    // An absolute path is not resolved.
    let d = decode(&lsm_open(b"/etc/shadow", 0));
    assert_eq!((&d.resolved, arg(&d, "unresolved")), (&None, None));
}

#[test]
fn enforced_records_say_what_the_kernel_did() {
    let arg = |d: &Decoded, n: &str| d.args.iter().find(|a| a.name == n).map(|a| a.value.clone());
    let lsm = syscall_flags::LSM;
    let d = decode(&lsm_open(b"/x/release_agent", lsm | syscall_flags::DENIED));
    assert_eq!(arg(&d, "enforcement"), Some(ArgValue::Str("denied".into())));
    let d = decode(&lsm_open(
        b"/x/release_agent",
        lsm | syscall_flags::WOULD_DENY,
    ));
    assert_eq!(
        arg(&d, "enforcement"),
        Some(ArgValue::Str("would_deny".into()))
    );
    let d = decode(&lsm_open(b"/x/release_agent", lsm));
    assert_eq!(arg(&d, "enforcement"), None);
    // The kill action, also on tracepoint records.
    let d = decode(&lsm_open(b"/x/trap", syscall_flags::KILLED));
    assert_eq!(arg(&d, "enforcement"), Some(ArgValue::Str("killed".into())));
    let d = decode(&lsm_open(b"/x/trap", syscall_flags::WOULD_KILL));
    assert_eq!(
        arg(&d, "enforcement"),
        Some(ArgValue::Str("would_kill".into()))
    );
}

#[test]
fn errno_and_signal_names() {
    assert_eq!(res_name(0), "SUCCESS");
    assert_eq!(res_name(3), "SUCCESS");
    assert_eq!(res_name(-2), "ENOENT");
    assert_eq!(res_name(-1), "EPERM");
    assert_eq!(res_name(-13), "EACCES");
    assert_eq!(res_name(-9999), "E9999");
    assert_eq!(signal_name(9), "SIGKILL");
    assert_eq!(signal_name(0), "0");
    assert_eq!(signal_name(libc::SIGRTMIN() + 2), "SIGRTMIN+2");
}

#[test]
fn flag_rendering() {
    let ArgValue::Flags { text, .. } = open_flags(0) else {
        panic!()
    };
    assert_eq!(text, "O_RDONLY");
    let raw = (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC) as u64;
    let ArgValue::Flags { text, raw: r } = open_flags(raw) else {
        panic!()
    };
    assert_eq!(text, "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC");
    assert_eq!(r, raw);
    let ArgValue::Flags { text, .. } = open_flags(libc::O_SYNC as u64 | libc::O_RDWR as u64) else {
        panic!()
    };
    assert_eq!(text, "O_RDWR|O_SYNC");
    assert_eq!(
        flag_text(libc::MS_BIND | libc::MS_REC, MOUNT_FLAGS),
        "MS_BIND|MS_REC"
    );
    assert_eq!(flag_text(0, MOUNT_FLAGS), "0");
    assert_eq!(flag_text(1 << 40, MOUNT_FLAGS), "0x10000000000");
    assert_eq!(
        flag_text(libc::MS_BIND | 1 << 40, MOUNT_FLAGS),
        "MS_BIND|0x10000000000"
    );
    let ArgValue::Flags { text, .. } = open_flags(1 << 40 | libc::O_CREAT as u64) else {
        panic!()
    };
    assert_eq!(text, "O_RDONLY|O_CREAT|0x10000000000");
    assert_eq!(
        clone_flags_text((libc::CLONE_NEWNS | libc::CLONE_NEWUSER) as u64),
        "CLONE_NEWNS|CLONE_NEWUSER"
    );
}

fn sockaddr_in(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut b = (libc::AF_INET as u16).to_ne_bytes().to_vec();
    b.extend(port.to_be_bytes());
    b.extend(ip);
    b.extend([0u8; 8]);
    b
}

#[test]
fn sockaddrs() {
    assert_eq!(
        decode_sockaddr(&sockaddr_in([127, 0, 0, 1], 8080)),
        Some(SockAddr::Inet {
            ip: "127.0.0.1".into(),
            port: 8080
        })
    );
    let mut b6 = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
    b6.extend(443u16.to_be_bytes());
    b6.extend([0u8; 4]);
    b6.extend(std::net::Ipv6Addr::LOCALHOST.octets());
    b6.extend(3u32.to_ne_bytes());
    let sa = decode_sockaddr(&b6).unwrap();
    assert_eq!(
        sa,
        SockAddr::Inet6 {
            ip: "::1".into(),
            port: 443,
            scope_id: 3
        }
    );
    assert_eq!(sa.display(), "[::1]:443");
    let mut un = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    un.extend(b"/run/podman/podman.sock\0\0\0garbage");
    assert_eq!(
        decode_sockaddr(&un),
        Some(SockAddr::Unix {
            path: "/run/podman/podman.sock".into(),
            abstract_ns: false
        })
    );
    let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    abs.extend(b"\0my\0sock");
    assert_eq!(
        decode_sockaddr(&abs),
        Some(SockAddr::Unix {
            path: "@my\\x00sock".into(),
            abstract_ns: true
        })
    );
    // Truncated records never panic.
    assert_eq!(decode_sockaddr(&[]), None);
    assert_eq!(decode_sockaddr(&sockaddr_in([1, 2, 3, 4], 1)[..6]), None);
    assert_eq!(
        decode_sockaddr(&16u16.to_ne_bytes()),
        Some(SockAddr::Other { family: 16 })
    );
}
