//! An exec's context read by the kernel: the environment, working
//! directory, standard input and output and the executable's owner travel
//! in the exec record, so the agent has them for a program that is gone
//! before it reads the ring, without reading `/proc`.

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

use monitor_common::{exec_flags, ExecRecord};
use monitor_user::enrich::startup::Startup;

use super::*;

#[tokio::test]
async fn exec_context_is_read_by_the_kernel() {
    if !can_run() {
        return;
    }
    let Some((bin, arg0)) = true_binary() else {
        return skip("no busybox or true binary to exec");
    };
    let dir = TempDir::new("startup");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let conn = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let (local, remote) = (conn.local_addr().unwrap(), listener.local_addr().unwrap());
    let (p, argv_c, dir_c) = (cstr(bin), [cstr(arg0)], cstr(&dir.0));
    let devnull = cstr("/dev/null");
    let argv = [argv_c[0].as_ptr(), std::ptr::null()];
    let env_c = [cstr("VIGIL_STARTUP=1"), cstr("SECOND=two words")];
    let envp = [env_c[0].as_ptr(), env_c[1].as_ptr(), std::ptr::null()];
    // Longer than the kernel keeps: whole entries only, flagged cut.
    let long_c: Vec<CString> = (0..600).map(|i| cstr(format!("VAR{i:03}=value"))).collect();
    let long: Vec<*const libc::c_char> = long_c
        .iter()
        .map(|c| c.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let sock = conn.as_raw_fd();

    let _serial = SERIAL.lock().await;
    let mut sensor = Sensor::load(&tracepoint_config_4mib()).expect("load sensor");
    let plain = spawn_exec(|| unsafe {
        let null = libc::open(devnull.as_ptr(), libc::O_WRONLY);
        if libc::chdir(dir_c.as_ptr()) != 0 || libc::dup2(sock, 0) != 0 || libc::dup2(null, 1) != 1
        {
            libc::_exit(80);
        }
        libc::execve(p.as_ptr(), argv.as_ptr(), envp.as_ptr());
    });
    let closed = spawn_exec(|| unsafe {
        libc::close(0);
        libc::close(1);
        libc::execve(p.as_ptr(), argv.as_ptr(), long.as_ptr());
    });
    let records = collect(&mut sensor, 20, |all| {
        [plain, closed].iter().all(|pid| {
            all.iter()
                .any(|r| matches!(r, Record::Exec(e) if e.header.tgid == *pid))
        })
    })
    .await;
    let exec_of = |pid: u32| -> Box<ExecRecord> {
        records
            .iter()
            .find_map(|r| match r {
                Record::Exec(e) if e.header.tgid == pid => Some(e.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("exec record of {pid}"))
    };

    let r = exec_of(plain);
    assert_ne!(r.flags & exec_flags::CONTEXT_KNOWN, 0, "the kernel read it");
    // No procfs: everything below comes from the record.
    let s = Startup::of(&r, None, None);
    assert_eq!(
        s.env.as_deref(),
        Some(&["VIGIL_STARTUP=1".to_owned(), "SECOND=two words".to_owned()][..])
    );
    // The environment it was forked with, unchanged: shared, not copied.
    let before = s.env.clone().unwrap();
    let again = Startup::of(&r, None, Some(&before)).env.unwrap();
    assert!(std::sync::Arc::ptr_eq(&again, &before));
    let other: monitor_user::event::Env = ["VIGIL_STARTUP=1".to_owned()].into();
    let again = Startup::of(&r, None, Some(&other)).env.unwrap();
    assert_eq!(again, before);
    assert!(!s.env_truncated);
    assert_eq!(s.cwd, Some(format!("{}/", dir.0.display())));
    let stdin = s.stdin.expect("stdin");
    assert_eq!(
        (stdin.kind.as_str(), stdin.name),
        ("ipv4", format!("{local}->{remote}"))
    );
    let stdout = s.stdout.expect("stdout");
    assert_eq!(
        (stdout.kind.as_str(), stdout.name.as_str()),
        ("file", "/dev/null")
    );
    let md = std::fs::metadata(bin).unwrap();
    assert_eq!(
        (r.exe_mode, r.exe_uid, r.exe_gid),
        (md.mode(), md.uid(), md.gid()),
        "the executable's inode"
    );
    assert_eq!(s.exe_writable, Some(true), "root may write anything");

    let r = exec_of(closed);
    let s = Startup::of(&r, None, None);
    assert!(s.stdin.is_none() && s.stdout.is_none(), "closed fds");
    assert!(s.env_truncated);
    let env = s.env.expect("environment");
    assert!(env.len() > 100 && env.len() < 600, "{} entries", env.len());
    assert!(env.iter().all(|e| e.ends_with("=value")), "whole entries");
    assert_eq!(env[0], "VAR000=value");
}
