//! Process lifecycle records: the raw-tracepoint fallback, where an exec'd
//! file came from (overlay layers, memfd), the pid in a new pid namespace,
//! and capset decoding.

use super::*;

/// The raw-tracepoint variants of exec/fork/exit (what kernels without BTF
/// tracepoints get) produce the same records.
#[tokio::test]
async fn raw_tracepoint_lifecycle_fallback() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let cfg = tracepoint_config_4mib();
    let mut sensor = Sensor::load_with(&cfg, LifecycleHooks::RawTracepoints).expect("load sensor");
    for tp in ["sched_process_exec", "task_newtask", "sched_process_exit"] {
        let h = sensor
            .hooks()
            .iter()
            .find(|h| h.name == tp)
            .expect("lifecycle hook listed");
        assert_eq!(h.kind, "raw_tracepoint");
        assert!(h.attached.is_ok(), "{tp}: {:?}", h.attached);
    }
    let exe = std::env::current_exe().unwrap();
    let exe_c = cstr(&exe);
    let argv_c = [exe_c.clone(), cstr("vigil-raw-marker"), cstr("--list")];
    let argv: Vec<*const libc::c_char> = argv_c
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    // SAFETY: the children only make raw syscalls and exit.
    let execer = unsafe { libc::fork() };
    assert!(execer >= 0);
    if execer == 0 {
        unsafe {
            libc::execve(exe_c.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    let quitter = unsafe { libc::fork() };
    assert!(quitter >= 0);
    if quitter == 0 {
        unsafe { libc::_exit(7) };
    }
    assert_eq!(wait_exit(execer), 0);
    assert_eq!(wait_exit(quitter), 7 << 8);
    let (execer, quitter, me) = (execer as u32, quitter as u32, std::process::id());

    let records = collect(&mut sensor, 20, |all| {
        let exit_of = |pid| {
            all.iter()
                .any(|r| matches!(r, Record::Exit(x) if x.header.tgid == pid))
        };
        exit_of(execer) && exit_of(quitter)
    })
    .await;
    for child in [execer, quitter] {
        assert!(
            records.iter().any(
                |r| matches!(r, Record::Fork(f) if f.child_tgid == child && f.header.tgid == me)
            ),
            "no fork record for {child}"
        );
    }
    let exec = records
        .iter()
        .find_map(|r| match r {
            Record::Exec(e) if e.header.tgid == execer => Some(e),
            _ => None,
        })
        .expect("exec record");
    let args: Vec<&[u8]> = exec.args().collect();
    assert_eq!(
        args,
        argv_c.iter().map(|s| s.as_bytes()).collect::<Vec<_>>()
    );
    let real = std::fs::canonicalize(&exe).unwrap();
    assert_eq!(exec.exe().bytes, real.as_os_str().as_bytes());
    let exit_code = |pid| {
        records.iter().find_map(|r| match r {
            Record::Exit(x) if x.header.tgid == pid => Some(x.exit_code),
            _ => None,
        })
    };
    assert_eq!(exit_code(execer), Some(0));
    assert_eq!(exit_code(quitter), Some(7 << 8));
}

/// An overlay at `base/merged` whose lower layer holds `image-bb` and whose
/// upper layer gets `dropped-bb` (written through the mount, like a file a
/// container creates). None if this kernel cannot mount overlayfs.
fn mount_overlay(base: &Path, busybox: &Path) -> Option<Unmount> {
    let (lower, upper, work, merged) = (
        base.join("lower"),
        base.join("upper"),
        base.join("work"),
        base.join("merged"),
    );
    for d in [&lower, &upper, &work, &merged] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::copy(busybox, lower.join("image-bb")).unwrap();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let (src, dst, fs, data) = (cstr("overlay"), cstr(&merged), cstr("overlay"), cstr(&opts));
    // SAFETY: valid NUL-terminated strings.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            fs.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV), "mount overlay: {e}");
        return None;
    }
    let guard = Unmount(merged.clone());
    std::fs::copy(busybox, merged.join("dropped-bb")).unwrap();
    Some(guard)
}

/// The exec record says where the executable came from: an overlayfs
/// upper layer (written after the "container" started), an overlay lower
/// layer (the "image"), or a memfd (fileless execution).
#[tokio::test]
async fn exec_flags_overlay_upper_and_memfd() {
    if !can_run() {
        return;
    }
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        let reason = "/bin/busybox (busybox-static) is needed as a small static executable";
        assert!(std::env::var_os("CI").is_none(), "{reason}");
        eprintln!("skipping: {reason}");
        return;
    }
    let _serial = SERIAL.lock().await;
    let tmp = TempDir::new("exe");
    // tmpfs underneath, so overlay works whatever the host's /tmp is.
    let base = tmp.0.join("fs");
    let _tmpfs = mount_guard("tmpfs", &base, None);
    let merged = base.join("merged");
    let overlay = mount_overlay(&base, busybox);
    if overlay.is_none() {
        // A kernel property (e.g. overlay is a module the VM's initramfs
        // lacks), not a test environment problem: test memfd only.
        eprintln!("overlay part skipped: this kernel cannot mount overlayfs");
    }
    let bb = std::fs::read(busybox).unwrap();

    let cfg = tracepoint_config_4mib();
    let mut sensor = Sensor::load(&cfg).expect("load sensor");

    let run = |path: &Path| {
        let p = cstr(path);
        let argv_c = [cstr("true")];
        let argv = [argv_c[0].as_ptr(), std::ptr::null()];
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        spawn_exec(|| unsafe {
            libc::execve(p.as_ptr(), argv.as_ptr(), envp.as_ptr());
        })
    };
    let layer_pids = overlay.as_ref().map(|_| {
        (
            run(&merged.join("dropped-bb")),
            run(&merged.join("image-bb")),
        )
    });
    let memfd_name = cstr("vigil-memfd");
    let (empty, argv_c) = (cstr(""), [cstr("true")]);
    let argv = [argv_c[0].as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let memfd_pid = spawn_exec(|| unsafe {
        let fd = libc::memfd_create(memfd_name.as_ptr(), 0);
        let mut off = 0;
        while off < bb.len() {
            let n = libc::write(fd, bb[off..].as_ptr().cast(), bb.len() - off);
            if n <= 0 {
                libc::_exit(126);
            }
            off += n as usize;
        }
        libc::syscall(
            libc::SYS_execveat,
            fd,
            empty.as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    });

    let mut pids = vec![memfd_pid];
    pids.extend(layer_pids.iter().flat_map(|&(u, l)| [u, l]));
    // Wait for the syscall records too: where the kernel fires sys_exit
    // after a successful execveat, its record follows the exec record.
    let records = collect(&mut sensor, 20, |all| {
        pids.iter().all(|&p| {
            all.iter()
                .any(|r| matches!(r, Record::Exec(e) if e.header.tgid == p))
        }) && [SyscallId::MemfdCreate, SyscallId::Execveat]
            .iter()
            .all(|&id| {
                all.iter()
                    .filter_map(syscall)
                    .any(|s| s.header.tgid == memfd_pid && s.id() == Some(id))
            })
    })
    .await;
    let exec_of = |pid: u32| {
        records
            .iter()
            .find_map(|r| match r {
                Record::Exec(e) if e.header.tgid == pid => Some(e),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no exec record for {pid}"))
    };
    use monitor_common::exec_flags as f;

    if let Some((upper_pid, lower_pid)) = layer_pids {
        let up = exec_of(upper_pid);
        assert_eq!(
            up.exe().bytes,
            merged.join("dropped-bb").as_os_str().as_bytes()
        );
        assert_eq!(
            up.flags & (f::EXE_OVERLAY | f::EXE_UPPER_LAYER | f::EXE_MEMFD),
            f::EXE_OVERLAY | f::EXE_UPPER_LAYER
        );
        let low = exec_of(lower_pid);
        assert_eq!(
            low.exe().bytes,
            merged.join("image-bb").as_os_str().as_bytes()
        );
        assert_eq!(
            low.flags & (f::EXE_OVERLAY | f::EXE_UPPER_LAYER | f::EXE_MEMFD),
            f::EXE_OVERLAY
        );
    }

    let mem = exec_of(memfd_pid);
    assert_eq!(
        mem.flags & (f::EXE_OVERLAY | f::EXE_UPPER_LAYER | f::EXE_MEMFD),
        f::EXE_MEMFD,
        "flags {:#x}",
        mem.flags
    );
    assert!(
        mem.exe().bytes.starts_with(b"/memfd:vigil-memfd"),
        "exe {:?}",
        String::from_utf8_lossy(mem.exe().bytes)
    );
    // The memfd_create and execveat syscalls themselves are recorded too.
    let sys = |id: SyscallId| {
        records
            .iter()
            .filter_map(syscall)
            .find(|s| s.header.tgid == memfd_pid && s.id() == Some(id))
            .unwrap_or_else(|| panic!("no {id:?} record"))
    };
    assert_eq!(sys(SyscallId::MemfdCreate).str0().bytes, b"vigil-memfd");
    assert!(sys(SyscallId::MemfdCreate).ret >= 0);
    let ea = sys(SyscallId::Execveat);
    assert_eq!(ea.args[4], libc::AT_EMPTY_PATH as u64);
    assert_eq!(ea.ret, 0);
}

/// An exec in a new pid namespace reports the task's pid in that namespace:
/// 1 for the namespace's init (a container's entrypoint), while an exec in
/// the initial namespace reports its ordinary pid.
#[tokio::test]
async fn exec_vpid_in_new_pid_namespace() {
    if !can_run() {
        return;
    }
    let Some((bin, arg0)) = true_binary() else {
        return skip("no busybox or true binary to exec");
    };
    let _serial = SERIAL.lock().await;
    let cfg = tracepoint_config_4mib();
    let mut sensor = Sensor::load(&cfg).expect("load sensor");
    let (p, argv_c) = (cstr(bin), [cstr(arg0)]);
    let argv = [argv_c[0].as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let exec = || unsafe {
        libc::execve(p.as_ptr(), argv.as_ptr(), envp.as_ptr());
    };
    let host_pid = spawn_exec(exec);
    // The child unshares its pid namespace; its next child is that
    // namespace's init and execs.
    let ns_parent = spawn_exec(|| unsafe {
        if libc::unshare(libc::CLONE_NEWPID) != 0 {
            libc::_exit(80);
        }
        let init = libc::fork();
        if init == 0 {
            exec();
            libc::_exit(127);
        }
        let mut status = 0;
        if init < 0 || libc::waitpid(init, &mut status, 0) != init {
            libc::_exit(81);
        }
        libc::_exit(if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            82
        });
    });
    let records = collect(&mut sensor, 20, |all| {
        let execs = || {
            all.iter().filter_map(|r| match r {
                Record::Exec(e) => Some(e),
                _ => None,
            })
        };
        execs().any(|e| e.header.tgid == host_pid) && execs().any(|e| e.header.ppid == ns_parent)
    })
    .await;
    let exec_where = |f: &dyn Fn(&monitor_common::ExecRecord) -> bool| {
        records.iter().find_map(|r| match r {
            Record::Exec(e) if f(e) => Some(e.clone()),
            _ => None,
        })
    };
    let plain = exec_where(&|e| e.header.tgid == host_pid).expect("exec record of the plain child");
    assert_eq!(
        plain.vpid, host_pid,
        "initial pid namespace: vpid is the pid"
    );
    let init = exec_where(&|e| e.header.ppid == ns_parent)
        .expect("exec record of the new namespace's init");
    assert_ne!(init.header.tgid, 1);
    assert_eq!(init.vpid, 1, "init of a new pid namespace has vpid 1");
    // Its session and group leaders live outside its namespace: numbered
    // 0 there, as the kernel's pid_nr_ns says.
    assert_ne!(init.flags & monitor_common::exec_flags::SESSION_KNOWN, 0);
    assert_eq!(
        (init.sid, init.vpgid),
        (0, 0),
        "leaders outside the namespace"
    );
    // SAFETY: no preconditions.
    let own_sid = unsafe { libc::getsid(0) } as u32;
    assert_eq!(plain.sid, own_sid, "the test's session");
    assert_ne!(
        init.header.ns.pid, plain.header.ns.pid,
        "the pid namespace differs"
    );
}

/// `capset` records the requested sets and the caller's effective set before
/// the call, so a drop and a re-raise of CAP_SYS_ADMIN decode as such.
#[tokio::test]
async fn capset_raise_and_drop_are_decoded() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let cfg = tracepoint_config_4mib();
    let mut sensor = Sensor::load(&cfg).expect("load sensor");
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const VERSION_3: u32 = 0x2008_0522;
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut hdr = [VERSION_3, 0u32];
    let mut cur = [Data::default(); 2];
    // SAFETY: valid header and two-entry data buffer.
    let rc = unsafe { libc::syscall(libc::SYS_capget, hdr.as_mut_ptr(), cur.as_mut_ptr()) };
    assert_eq!(rc, 0, "capget: {}", std::io::Error::last_os_error());
    let eff = cur[0].effective as u64 | (cur[1].effective as u64) << 32;
    let perm = cur[0].permitted as u64 | (cur[1].permitted as u64) << 32;
    assert!(eff & CAP_SYS_ADMIN != 0, "root test without CAP_SYS_ADMIN");
    let child = spawn_exec(|| unsafe {
        let mut hdr = [VERSION_3, 0u32];
        let mut d = cur;
        d[0].effective &= !(CAP_SYS_ADMIN as u32);
        if libc::syscall(libc::SYS_capset, hdr.as_mut_ptr(), d.as_ptr()) != 0 {
            libc::_exit(70);
        }
        let mut hdr = [VERSION_3, 0u32];
        if libc::syscall(libc::SYS_capset, hdr.as_mut_ptr(), cur.as_ptr()) != 0 {
            libc::_exit(71);
        }
        libc::_exit(0);
    });
    let records = collect(&mut sensor, 20, |all| {
        all.iter()
            .filter_map(syscall)
            .filter(|s| s.header.tgid == child && s.id() == Some(SyscallId::Capset))
            .count()
            >= 2
    })
    .await;
    let caps: Vec<_> = records
        .iter()
        .filter_map(syscall)
        .filter(|s| s.header.tgid == child && s.id() == Some(SyscallId::Capset))
        .collect();
    assert_eq!(caps.len(), 2, "two capset records");
    let (drop, raise) = (caps[0], caps[1]);
    for s in [drop, raise] {
        assert_eq!(s.ret, 0);
        assert_eq!(
            s.flags & (syscall_flags::CAPS_UNREAD | syscall_flags::CAPS_CURRENT_UNKNOWN),
            0
        );
        assert_eq!(s.args[3], perm, "permitted");
    }
    assert_eq!(drop.args[2], eff & !CAP_SYS_ADMIN);
    assert_eq!(drop.args[5], eff, "caller's effective before the drop");
    assert_eq!(raise.args[2], eff);
    assert_eq!(raise.args[5], eff & !CAP_SYS_ADMIN);

    // The agent's decoding: named sets and the raised bits.
    use monitor_user::event::sysargs::ArgValue;
    let arg = |s: &monitor_common::SyscallRecord, name: &str| {
        monitor_user::event::sysargs::decode(s)
            .args
            .into_iter()
            .find(|a| a.name == name)
            .map(|a| a.value)
            .unwrap_or_else(|| panic!("no arg {name}"))
    };
    assert_eq!(
        arg(drop, "cap_effective"),
        ArgValue::Uint(eff & !CAP_SYS_ADMIN)
    );
    assert_eq!(arg(drop, "cap_permitted"), ArgValue::Uint(perm));
    assert_eq!(arg(drop, "cap_raised"), ArgValue::Uint(0));
    assert_eq!(arg(raise, "cap_raised"), ArgValue::Uint(CAP_SYS_ADMIN));
}

/// At shutdown the sensor detaches its hooks and hands over what the ring
/// still holds: a process that ran just before is not lost, and nothing is
/// recorded after.
#[tokio::test]
async fn finish_drains_the_ring_after_detaching() {
    use monitor_user::sensor::RecordSource;
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let cfg = tracepoint_config_4mib();
    let mut sensor = Sensor::load(&cfg).expect("load sensor");
    let quit = |code| {
        // SAFETY: the child only exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            unsafe { libc::_exit(code) };
        }
        assert_eq!(wait_exit(pid), code << 8);
        pid as u32
    };
    let exit_of = |all: &[Record], pid| {
        all.iter()
            .any(|r| matches!(r, Record::Exit(x) if x.header.tgid == pid))
    };
    let before = quit(3);
    // Nothing was read: the records are still in the ring.
    let mut out = Vec::new();
    sensor.finish(&mut out);
    assert!(exit_of(&out, before), "the exit before finish was drained");
    let after = quit(4);
    out.clear();
    sensor.finish(&mut out);
    assert!(!exit_of(&out, after), "hooks are detached after finish");
}
