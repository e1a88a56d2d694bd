//! What Falco's rules need beyond the basic records: an exec's terminal,
//! session, process group and login uid (`proc.tty`, `proc.sid`,
//! `proc.vpgid`, `user.loginuid`); symlink/link with both paths; and dup*
//! of a socket, reported with the socket's peer, while dup* of a file is
//! not reported at all.

use std::os::unix::fs::MetadataExt;

use super::*;

/// `/proc/PID/stat`'s `tty_nr` encoding of a device number.
fn tty_nr(rdev: u64) -> u32 {
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// A child that starts a new session on a fresh pseudo-terminal (as a
/// login or `docker exec -t` does) and execs: the exec record carries that
/// terminal and the new session and group (its own pid). A child that
/// stays in the test's session reports the test's session and terminal.
/// Both report the test's login uid.
#[tokio::test]
async fn exec_reports_terminal_session_and_login_uid() {
    if !can_run() {
        return;
    }
    let Some((bin, arg0)) = true_binary() else {
        return skip("no busybox or true binary to exec");
    };
    // The pseudo-terminal, opened here so the child only makes syscalls.
    // SAFETY: plain libc calls on a fresh fd; ptsname's static buffer is
    // copied at once.
    let (master, slave_path) = unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let name = libc::ptsname(m);
        assert!(!name.is_null());
        (m, std::ffi::CStr::from_ptr(name).to_owned())
    };
    let slave_rdev = std::fs::metadata(std::ffi::OsStr::from_bytes(slave_path.to_bytes()))
        .expect("stat the pty slave")
        .rdev();
    let want_loginuid: u32 = std::fs::read_to_string("/proc/self/loginuid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u32::MAX);
    // SAFETY: no preconditions.
    let (own_sid, own_pgid) = unsafe { (libc::getsid(0) as u32, libc::getpgid(0) as u32) };
    let own_tty = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1.to_owned();
            after.split_whitespace().nth(4)?.parse::<u32>().ok()
        })
        .expect("tty_nr of /proc/self/stat");

    let _serial = SERIAL.lock().await;
    let cfg = SensorConfig {
        ring_bytes: 4 << 20,
        ..SensorConfig::default()
    };
    let mut sensor = Sensor::load(&cfg).expect("load sensor");
    let (p, argv_c) = (cstr(bin), [cstr(arg0)]);
    let argv = [argv_c[0].as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let exec = || unsafe {
        libc::execve(p.as_ptr(), argv.as_ptr(), envp.as_ptr());
    };
    let on_tty = spawn_exec(|| unsafe {
        if libc::setsid() < 0 {
            libc::_exit(80);
        }
        // A session leader without a terminal acquires the first it opens.
        let fd = libc::open(slave_path.as_ptr(), libc::O_RDWR);
        if fd < 0 || libc::ioctl(fd, libc::TIOCSCTTY, 0) != 0 {
            libc::_exit(81);
        }
        exec();
    });
    let plain = spawn_exec(exec);
    // SAFETY: our own fd.
    unsafe { libc::close(master) };
    let records = collect(&mut sensor, 20, |all| {
        [on_tty, plain].iter().all(|pid| {
            all.iter()
                .any(|r| matches!(r, Record::Exec(e) if e.header.tgid == *pid))
        })
    })
    .await;
    let exec_of = |pid: u32| {
        records
            .iter()
            .find_map(|r| match r {
                Record::Exec(e) if e.header.tgid == pid => Some(e.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no exec record of {pid}"))
    };
    use monitor_common::exec_flags::{LOGINUID_KNOWN, SESSION_KNOWN};
    let t = exec_of(on_tty);
    assert_ne!(t.flags & SESSION_KNOWN, 0, "session fields read");
    assert_eq!(t.tty, tty_nr(slave_rdev), "the new session's terminal");
    assert_ne!(t.tty, 0);
    assert_eq!((t.sid, t.vpgid), (on_tty, on_tty), "a new session leader");
    let q = exec_of(plain);
    assert_ne!(q.flags & SESSION_KNOWN, 0);
    assert_eq!(
        (q.tty, q.sid, q.vpgid),
        (own_tty, own_sid, own_pgid),
        "the test's own terminal, session and group"
    );
    for e in [&t, &q] {
        assert_ne!(e.flags & LOGINUID_KNOWN, 0, "this kernel has loginuid");
        assert_eq!(e.loginuid, want_loginuid, "the test's login uid");
    }
}

/// symlink/symlinkat/link/linkat report both paths; dup2 of a connected
/// TCP socket onto stdin is reported with the peer's address, dup of a
/// regular file is not reported.
#[tokio::test]
async fn links_and_socket_dups_are_reported() {
    if !can_run() {
        return;
    }
    let dir = TempDir::new("links");
    let target = dir.0.join("target");
    std::fs::write(&target, b"x").unwrap();
    let (sym, hard) = (dir.0.join("sym"), dir.0.join("hard"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().unwrap().port();
    let (ct, cs, ch) = (cstr(&target), cstr(&sym), cstr(&hard));

    let _serial = SERIAL.lock().await;
    let cfg = SensorConfig {
        ring_bytes: 4 << 20,
        ..SensorConfig::default()
    };
    let mut sensor = Sensor::load(&cfg).expect("load sensor");
    let child = spawn_exec(|| unsafe {
        if libc::symlink(ct.as_ptr(), cs.as_ptr()) != 0
            || libc::linkat(libc::AT_FDCWD, ct.as_ptr(), libc::AT_FDCWD, ch.as_ptr(), 0) != 0
        {
            libc::_exit(90);
        }
        // A file duplicated: not a socket, not reported.
        let f = libc::open(ct.as_ptr(), libc::O_RDONLY);
        if f < 0 || libc::dup2(f, 40) != 40 {
            libc::_exit(91);
        }
        let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as u16;
        addr.sin_port = port.to_be();
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        if s < 0
            || libc::connect(
                s,
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_in>() as u32,
            ) != 0
        {
            libc::_exit(92);
        }
        if libc::dup2(s, 0) != 0 {
            libc::_exit(93);
        }
        libc::_exit(0);
    });
    drop(listener);
    let records = collect(&mut sensor, 20, |all| {
        let ids: Vec<_> = all
            .iter()
            .filter_map(syscall)
            .filter(|s| s.header.tgid == child)
            .filter_map(|s| s.id())
            .collect();
        [SyscallId::Symlink, SyscallId::Linkat, SyscallId::Dup2]
            .iter()
            .all(|id| ids.contains(id))
    })
    .await;
    let mine: Vec<_> = records
        .iter()
        .filter_map(syscall)
        .filter(|s| s.header.tgid == child)
        .collect();
    let find = |id: SyscallId| {
        mine.iter()
            .find(|s| s.id() == Some(id))
            .unwrap_or_else(|| panic!("no {id:?} record of the child"))
    };
    let s = find(SyscallId::Symlink);
    assert_eq!(s.str0().bytes, ct.as_bytes(), "symlink target");
    assert_eq!(s.str1().bytes, cs.as_bytes(), "symlink linkpath");
    assert_eq!(s.ret, 0);
    let l = find(SyscallId::Linkat);
    assert_eq!(l.str0().bytes, ct.as_bytes(), "linkat oldpath");
    assert_eq!(l.str1().bytes, ch.as_bytes(), "linkat newpath");
    assert_eq!(l.args[4], 0, "flags");
    let dups: Vec<_> = mine
        .iter()
        .filter(|s| s.id() == Some(SyscallId::Dup2))
        .collect();
    assert_eq!(dups.len(), 1, "only the socket's dup2 is reported");
    let d = dups[0];
    assert_eq!((d.args[1], d.ret), (0, 0), "onto stdin");
    assert_ne!(d.flags & syscall_flags::STR0_SOCKADDR, 0);
    let sa = d.str0().bytes;
    assert_eq!(sa.len(), 16, "a sockaddr_in");
    assert_eq!(u16::from_ne_bytes([sa[0], sa[1]]), libc::AF_INET as u16);
    assert_eq!(u16::from_be_bytes([sa[2], sa[3]]), port, "the peer's port");
    assert_eq!(&sa[4..8], &[127, 0, 0, 1], "the peer's address");
}
