//! A child's syscalls reach the agent with the right arguments; a storm
//! on a one-page ring is counted as drops; `vigil probe`'s kernel features.
//! Relative opens (after chdir, through `..`, at a dirfd) are resolved by
//! the kernel and filtered as resolved.

use super::*;

#[tokio::test]
async fn sensor_reports_child_activity() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let tmp = TempDir::new("activity");
    let secret_dir = tmp.0.join("secret");
    std::fs::create_dir_all(&secret_dir).unwrap();
    let secret = secret_dir.join("shadow");
    std::fs::write(&secret, b"root:x:0:0\n").unwrap();
    let plain = tmp.0.join("plain.txt");
    std::fs::write(&plain, b"nothing to see\n").unwrap();
    // Opened by relative names: after chdir, through `..`, at a dirfd.
    for name in ["rel.txt", "up.txt", "at.txt"] {
        std::fs::write(secret_dir.join(name), b"x\n").unwrap();
    }
    let elsewhere = tmp.0.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let sock_path = tmp.0.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock_path).expect("bind unix socket");
    let missing_dir = tmp.0.join("no-such-dir");
    let host_cgroup = own_cgroup_id(&tmp.0);

    let mut cfg = tracepoint_config();
    let prefix = format!("{}/", secret_dir.display());
    assert!(
        prefix.len() <= 128,
        "temp path too long for the prefix filter: {prefix}"
    );
    cfg.open_filter.prefixes.push((prefix, when::ANY));
    let mut sensor = Sensor::load(&cfg).expect("load sensor");
    // Every hook whose tracepoint this kernel has must attach.
    for h in sensor.hooks() {
        if let Err(e) = &h.attached {
            eprintln!("hook {} ({}) not attached: {e}", h.name, h.kind);
            assert!(
                e.contains("does not exist on this kernel"),
                "hook {} ({}) refused: {e}",
                h.name,
                h.kind
            );
        }
    }
    let hook_ok = |name: &str| {
        sensor
            .hooks()
            .iter()
            .any(|h| h.name == name && h.attached.is_ok())
    };
    for name in [
        "sched_process_exec",
        "task_newtask",
        "sched_process_exit",
        "syscalls/sys_enter_mount",
        "syscalls/sys_exit_mount",
        "syscalls/sys_enter_openat",
        "syscalls/sys_enter_unshare",
        "syscalls/sys_enter_connect",
    ] {
        assert!(
            hook_ok(name),
            "hook {name} not attached: {:?}",
            sensor.hooks().iter().find(|h| h.name == name)
        );
    }

    // Everything the child uses is prepared before fork: after fork only
    // raw syscalls are safe in a multi-threaded process.
    let exe = std::env::current_exe().unwrap();
    let exe_c = cstr(&exe);
    let marker = format!("vigil-marker-{}", std::process::id());
    let argv_c = [
        exe_c.clone(),
        cstr(&marker),
        cstr("--exact"),
        cstr("--list"),
    ];
    let argv: Vec<*const libc::c_char> = argv_c
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let (m_src, m_dst, m_fs) = (cstr("vigil-test-src"), cstr(&missing_dir), cstr("tmpfs"));
    let secret_c = cstr(&secret);
    let plain_c = cstr(&plain);
    let (secret_dir_c, elsewhere_c) = (cstr(&secret_dir), cstr(&elsewhere));
    let (rel_c, up_c, at_c) = (cstr("rel.txt"), cstr("../secret/up.txt"), cstr("at.txt"));
    let unwatched_c = cstr("../plain.txt");
    // SAFETY: zeroed sockaddr_un is valid; the path fits (checked).
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let sp = sock_path.as_os_str().as_bytes();
    assert!(sp.len() < addr.sun_path.len());
    for (d, s) in addr.sun_path.iter_mut().zip(sp) {
        *d = *s as libc::c_char;
    }
    let addr_len = (std::mem::size_of::<libc::sa_family_t>() + sp.len() + 1) as libc::socklen_t;

    // SAFETY: the child only makes raw syscalls on prepared data and exits.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork: {}", std::io::Error::last_os_error());
    if child == 0 {
        unsafe {
            libc::mount(
                m_src.as_ptr(),
                m_dst.as_ptr(),
                m_fs.as_ptr(),
                0,
                std::ptr::null(),
            );
            let fd = libc::open(secret_c.as_ptr(), libc::O_RDONLY);
            if fd >= 0 {
                libc::close(fd);
            }
            let fd = libc::open(plain_c.as_ptr(), libc::O_RDONLY);
            if fd >= 0 {
                libc::close(fd);
            }
            for (dir, name) in [
                (&secret_dir_c, &rel_c),
                (&elsewhere_c, &up_c),
                (&elsewhere_c, &unwatched_c),
            ] {
                libc::chdir(dir.as_ptr());
                let fd = libc::open(name.as_ptr(), libc::O_RDONLY);
                if fd >= 0 {
                    libc::close(fd);
                }
            }
            let dirfd = libc::open(secret_dir_c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            let fd = libc::openat(dirfd, at_c.as_ptr(), libc::O_RDONLY);
            if fd >= 0 {
                libc::close(fd);
            }
            libc::close(dirfd);
            let grandchild = libc::fork();
            if grandchild == 0 {
                let rc = libc::unshare(libc::CLONE_NEWUTS);
                libc::_exit(if rc == 0 { 0 } else { 1 });
            }
            let mut st = 0;
            libc::waitpid(grandchild, &mut st, 0);
            // A raw clone() with a namespace flag is reported; the plain
            // fork() above (also clone(), without such flags) is not.
            let cloned = libc::syscall(
                libc::SYS_clone,
                (libc::CLONE_NEWUTS | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            );
            if cloned == 0 {
                libc::_exit(0);
            }
            libc::waitpid(cloned as libc::pid_t, &mut st, 0);
            let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            libc::connect(s, (&raw const addr).cast(), addr_len);
            libc::close(s);
            libc::execve(exe_c.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    let status = wait_exit(child);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
    let child = child as u32;
    let me = std::process::id();

    let records = collect(&mut sensor, 20, |all| {
        let mine = || all.iter().filter(|r| r.header().tgid == child);
        mine().any(|r| matches!(r, Record::Exec(_)))
            && mine().any(|r| matches!(r, Record::Exit(_)))
            && all
                .iter()
                .any(|r| syscall(r).is_some_and(|s| s.id() == Some(SyscallId::Unshare)))
            && mine().filter(|r| syscall(r).is_some()).count() >= 7
    })
    .await;
    let mine: Vec<&Record> = records
        .iter()
        .filter(|r| r.header().tgid == child)
        .collect();
    let dump = || {
        records
            .iter()
            .filter(|r| {
                r.header().tgid == child || r.header().ppid == child || r.header().tgid == me
            })
            .map(|r| {
                format!(
                    "{:?} tgid={} ppid={}",
                    r.kind(),
                    r.header().tgid,
                    r.header().ppid
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Every record of the child carries the host cgroup.
    assert!(
        !mine.is_empty(),
        "no records from the child at all; seen:\n{}",
        dump()
    );
    for r in &mine {
        assert_eq!(
            r.header().cgroup_id,
            host_cgroup,
            "{:?} cgroup id",
            r.kind()
        );
        assert_eq!(r.header().ppid, me, "{:?} ppid", r.kind());
    }

    // fork: reported by the parent (us), naming the child.
    let fork = records.iter().find_map(|r| match r {
        Record::Fork(f) if f.child_tgid == child => Some(f),
        _ => None,
    });
    let fork = fork.unwrap_or_else(|| panic!("no fork record for child {child}:\n{}", dump()));
    assert_eq!(fork.header.tgid, me);

    // exec: filename, argv, resolved exe path.
    let exec = mine
        .iter()
        .find_map(|r| match r {
            Record::Exec(e) => Some(e),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no exec record:\n{}", dump()));
    assert_eq!(exec.filename().bytes, exe.as_os_str().as_bytes());
    let args: Vec<&[u8]> = exec.args().collect();
    let want: Vec<&[u8]> = argv_c.iter().map(|s| s.as_bytes()).collect();
    assert_eq!(args, want, "argv");
    assert_eq!(exec.argc, 4);
    assert!(!exec.args_truncated());
    let real = std::fs::canonicalize(&exe).unwrap();
    assert_eq!(
        exec.exe().bytes,
        real.as_os_str().as_bytes(),
        "exe path (flags {:#x})",
        exec.flags
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(exec.exe_ino, std::fs::metadata(&real).unwrap().ino());
    assert_eq!(exec.header.uid, 0);

    // mount: failed, with its three strings.
    let mount = mine
        .iter()
        .filter_map(|r| syscall(r))
        .find(|s| s.id() == Some(SyscallId::Mount))
        .unwrap_or_else(|| panic!("no mount record:\n{}", dump()));
    assert_eq!(mount.str0().bytes, b"vigil-test-src");
    assert_eq!(mount.str1().bytes, missing_dir.as_os_str().as_bytes());
    assert_eq!(mount.short().bytes, b"tmpfs");
    assert!(mount.ret < 0, "mount should have failed, ret {}", mount.ret);
    assert_eq!(mount.ret, -(libc::ENOENT as i64));

    // The sensitive open is there with its fd; the plain one is not.
    let opens: Vec<_> = mine
        .iter()
        .filter_map(|r| syscall(r))
        .filter(|s| {
            matches!(
                s.id(),
                Some(SyscallId::Open | SyscallId::Openat | SyscallId::Openat2)
            )
        })
        .collect();
    let open = opens
        .iter()
        .find(|s| s.str0().bytes == secret.as_os_str().as_bytes())
        .unwrap_or_else(|| {
            panic!(
                "no open of {} among {} opens",
                secret.display(),
                opens.len()
            )
        });
    assert!(open.ret >= 0, "open of the secret failed: {}", open.ret);
    for s in &opens {
        assert_ne!(
            s.str0().bytes,
            plain.as_os_str().as_bytes(),
            "a non-sensitive open reached userspace"
        );
        assert_ne!(
            s.str0().bytes,
            b"../plain.txt",
            "a non-sensitive relative open reached userspace"
        );
    }
    // Relative names are resolved by the kernel, which filters on the result.
    for (raw, file) in [
        (&b"rel.txt"[..], "rel.txt"),
        (b"../secret/up.txt", "up.txt"),
        (b"at.txt", "at.txt"),
    ] {
        let open = opens
            .iter()
            .find(|s| s.str0().bytes == raw)
            .unwrap_or_else(|| {
                panic!(
                    "no open of {} among {} opens",
                    String::from_utf8_lossy(raw),
                    opens.len()
                )
            });
        assert!(
            open.flags & syscall_flags::PATH_AT != 0,
            "{:#x}",
            open.flags
        );
        assert_eq!(
            open.str1().bytes,
            std::fs::canonicalize(secret_dir.join(file))
                .unwrap()
                .as_os_str()
                .as_bytes(),
            "resolution of {}",
            String::from_utf8_lossy(raw)
        );
        assert!(open.ret >= 0, "open of {file} failed: {}", open.ret);
    }
    assert_eq!(
        open.flags & syscall_flags::PATH_AT,
        0,
        "an absolute path needs no resolution"
    );

    // connect: raw sockaddr_un with our path, succeeded.
    let conn = mine
        .iter()
        .filter_map(|r| syscall(r))
        .find(|s| s.id() == Some(SyscallId::Connect))
        .unwrap_or_else(|| panic!("no connect record:\n{}", dump()));
    assert!(conn.flags & syscall_flags::STR0_SOCKADDR != 0);
    let sa = conn.str0().bytes;
    assert_eq!(u16::from_ne_bytes([sa[0], sa[1]]), libc::AF_UNIX as u16);
    assert_eq!(monitor_common::decode::until_nul(&sa[2..]), sp);
    assert_eq!(conn.ret, 0);

    // unshare in the grandchild: CLONE_NEWUTS, success; its exit is in the new namespace.
    let unshare = records
        .iter()
        .filter_map(syscall)
        .find(|s| s.id() == Some(SyscallId::Unshare) && s.header.ppid == child)
        .unwrap_or_else(|| panic!("no unshare record:\n{}", dump()));
    assert_eq!(unshare.args[0], libc::CLONE_NEWUTS as u64);
    assert_eq!(unshare.ret, 0);
    assert_eq!(unshare.header.cgroup_id, host_cgroup);
    let grandchild = unshare.header.tgid;
    let gc_exit = records.iter().find_map(|r| match r {
        Record::Exit(x) if x.header.tgid == grandchild => Some(x),
        _ => None,
    });
    if let Some(x) = gc_exit {
        assert_ne!(
            x.header.ns.uts, unshare.header.ns.uts,
            "exit after unshare is in a new UTS namespace"
        );
        assert_eq!(x.header.ns.mnt, unshare.header.ns.mnt);
    }

    // clone: only the one with CLONE_NEWUTS, returning the new pid.
    let clones: Vec<_> = mine
        .iter()
        .filter_map(|r| syscall(r))
        .filter(|s| s.id() == Some(SyscallId::Clone))
        .collect();
    assert_eq!(clones.len(), 1, "exactly the namespace clone is reported");
    assert_eq!(
        clones[0].args[0],
        (libc::CLONE_NEWUTS | libc::SIGCHLD) as u64
    );
    assert!(clones[0].ret > 0, "clone returned {}", clones[0].ret);
    let cloned = clones[0].ret as u32;
    assert!(
        records.iter().any(
            |r| matches!(r, Record::Fork(f) if f.child_tgid == cloned && f.header.tgid == child)
        ),
        "task_newtask saw the cloned child too"
    );

    // exit of the exec'd child: status 0.
    let exit = mine
        .iter()
        .find_map(|r| match r {
            Record::Exit(x) => Some(x),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no exit record:\n{}", dump()));
    assert_eq!(exit.exit_code, 0);

    let stats = sensor.stats();
    assert_eq!(stats.malformed, 0);
    assert!(stats.records >= records.len() as u64);
}

#[tokio::test]
async fn storm_drops_are_counted() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let tmp = TempDir::new("storm");
    let target = tmp.0.join("storm-target");
    std::fs::write(&target, b"x").unwrap();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u32;
    let mut cfg = SensorConfig {
        ring_bytes: page,
        ..tracepoint_config()
    };
    cfg.open_filter
        .prefixes
        .push((target.display().to_string(), when::ANY));
    let mut sensor = Sensor::load(&cfg).expect("load sensor");
    assert!(sensor
        .hooks()
        .iter()
        .any(|h| h.name == "syscalls/sys_enter_openat" && h.attached.is_ok()));

    // The reader sleeps while a child opens the filtered file many times.
    const OPENS: usize = 5000;
    let target_c = cstr(&target);
    // SAFETY: the child only makes raw syscalls and exits.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        unsafe {
            for _ in 0..OPENS {
                let fd = libc::open(target_c.as_ptr(), libc::O_RDONLY);
                if fd >= 0 {
                    libc::close(fd);
                }
            }
            libc::_exit(0);
        }
    }
    assert_eq!(wait_exit(child), 0);
    let child = child as u32;

    let got = collect(&mut sensor, 5, |all| !all.is_empty()).await;
    let stats = sensor.stats();
    let syscall_drops = stats
        .kernel_drops
        .iter()
        .find(|(k, _)| *k == EventKind::Syscall)
        .map(|(_, n)| *n)
        .unwrap_or(0);
    let kept = got.iter().filter(|r| r.header().tgid == child).count();
    eprintln!(
        "storm: {OPENS} opens, {kept} records kept, drops {:?}",
        stats.kernel_drops
    );
    assert!(
        syscall_drops > 0,
        "a one-page ring cannot hold {OPENS} records, yet no drops were counted"
    );
    assert!(stats.total_drops() >= syscall_drops);
    assert!(kept < OPENS);
    assert_eq!(stats.malformed, 0);
}

#[tokio::test]
async fn probe_reports_kernel_features() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let f = monitor_user::sensor::features::probe_features(
        monitor_user::sensor::features::LsmProbe::Load,
    );
    eprintln!("{f:#?}");
    // What every kernel this project supports has.
    assert!(f.btf.supported, "BTF: {}", f.btf.detail);
    assert!(
        f.ring_buffer.supported,
        "ring buffer: {}",
        f.ring_buffer.detail
    );
    assert!(
        f.raw_tracepoints.supported,
        "raw tracepoints: {}",
        f.raw_tracepoints.detail
    );
    assert!(
        f.syscall_tracepoints.supported,
        "syscall tracepoints: {}",
        f.syscall_tracepoints.detail
    );
    assert!(!f.missing_syscalls.contains(&"mount") && !f.missing_syscalls.contains(&"openat"));
    // LSM and trampolines differ between kernels (refused on the 6.18 test
    // host, loadable on Debian's 6.1): whichever way, a reason is given.
    for (name, feat) in [
        ("bpf_lsm_active", &f.bpf_lsm_active),
        ("bpf_lsm_loadable", &f.bpf_lsm_loadable),
        ("trampolines", &f.trampolines),
        ("btf_tracepoints", &f.btf_tracepoints),
    ] {
        assert!(!feat.detail.is_empty(), "{name} has no detail");
    }
    let expected_kind = if f.btf_tracepoints.supported {
        "tp_btf"
    } else {
        "raw_tracepoint"
    };
    assert_eq!(f.lifecycle_hook_kind, expected_kind);
}
