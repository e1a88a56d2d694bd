use super::*;

fn table() -> ProcTable {
    ProcTable::new(ProcTableConfig {
        reap_delay_ns: 100,
        max_entries: 64,
        max_ancestors: 16,
    })
}

fn key(s: &str) -> ContainerKey {
    Some(Arc::from(s))
}

fn exec_of(exe: &str, exepath: &str, args: &[&str]) -> ExecInfo {
    ExecInfo {
        exe: Some(exe.into()),
        exepath: Some(exepath.into()),
        args: args.iter().map(|a| a.to_string()).collect(),
        upper_layer: false,
        lower_layer: false,
        exe_writable: None,
        memfd: false,
        vpid: None,
        session: None,
        loginuid: None,
        caps: None,
        cwd: None,
        stdin: None,
        stdout: None,
        env: None,
    }
}

#[test]
fn busybox_applets_are_named_until_renamed() {
    let mut t = table();
    // busybox sh re-running itself through /proc/self/exe: `exe`.
    t.observe(20, 1, 0, b"exe", None, 1);
    t.on_exec(20, exec_of("cat", "/bin/busybox", &["/etc/shadow"]), 1);
    assert_eq!(&**t.get(20).unwrap().name(), "cat");
    assert_eq!(t.get(20).unwrap().name_for("exe"), "cat");
    // Its child, and the child's view of its parent.
    t.on_fork(20, 21, 20, 2);
    assert_eq!(&**t.get(21).unwrap().name(), "cat");
    t.observe(22, 20, 0, b"busybox", None, 3);
    t.on_exec(22, exec_of("busybox", "/bin/busybox", &["wget", "x"]), 3);
    assert_eq!(&**t.get(22).unwrap().name(), "wget");
    assert_eq!(&*t.ancestry(22)[0].name, "cat");
    // The program names itself (prctl): its own name wins.
    t.observe(20, 1, 0, b"worker", None, 4);
    assert_eq!(&**t.get(20).unwrap().name(), "worker");
    // A new exec of an ordinary program drops the applet.
    t.observe(21, 20, 0, b"ls", None, 5);
    t.on_exec(21, exec_of("ls", "/usr/bin/ls", &[]), 5);
    assert_eq!(&**t.get(21).unwrap().name(), "ls");
}

#[test]
fn a_comm_that_needs_escaping_is_no_change_when_repeated() {
    // Each record of such a process says the same comm: the table (and
    // with it every context cache) must not count it as a change.
    let mut t = table();
    t.observe(40, 1, 0, b"a\\b\xff", None, 1);
    let g = t.generation();
    t.observe(40, 1, 0, b"a\\b\xff", None, 2);
    assert_eq!(t.generation(), g);
    assert_eq!(&*t.get(40).unwrap().comm, "a\\\\b\\xff");
    t.observe(40, 1, 0, b"ab", None, 3);
    assert_ne!(t.generation(), g);
}

#[test]
fn forks_and_ancestries_share_the_tables_text() {
    // Every fork and exec copies these into a new entry or an event's
    // ancestry: a count, not a copy of each string.
    let mut t = table();
    t.observe(30, 1, 0, b"sh", None, 1);
    t.on_exec(30, exec_of("sh", "/bin/sh", &["-c", "x"]), 1);
    t.on_fork(30, 31, 30, 2);
    let (sh, child) = (t.get(30).unwrap(), t.get(31).unwrap());
    assert!(Arc::ptr_eq(sh.name(), child.name()));
    assert!(Arc::ptr_eq(&sh.args, &child.args));
    let up = &t.ancestry(31)[0];
    assert!(Arc::ptr_eq(&up.name, sh.name()));
    assert!(Arc::ptr_eq(
        up.exepath.as_ref().unwrap(),
        sh.exepath.as_ref().unwrap()
    ));
}

#[test]
fn fork_exec_exit_and_reap() {
    let mut t = table();
    t.observe(10, 1, 0, b"bash", None, 1);
    t.on_exec(
        10,
        ExecInfo {
            exe: Some("bash".into()),
            exepath: Some("/usr/bin/bash".into()),
            args: vec![].into(),
            upper_layer: false,
            lower_layer: false,
            exe_writable: None,
            memfd: false,
            vpid: None,
            session: Some(Session {
                tty: 34816,
                sid: 10,
                vpgid: 10,
            }),
            loginuid: Some(1000),
            caps: Some((1 << 21, 1 << 21 | 1)),
            cwd: Some("/srv".into()),
            stdin: None,
            stdout: None,
            env: None,
        },
        2,
    );
    t.on_fork(10, 11, 10, 3);
    let child = t.get(11).unwrap();
    assert_eq!(
        (child.ppid, child.comm.as_ref(), child.exepath.as_deref()),
        (10, "bash", Some("/usr/bin/bash"))
    );
    assert_eq!(child.start_boot_ns, Some(3));
    assert_eq!(child.vpid, None);
    // Capabilities of the parent's exec, until the child's own exec.
    assert_eq!(child.caps, Some((1 << 21, 1 << 21 | 1)));
    assert_eq!(child.cwd.as_deref(), Some("/srv"));
    // Terminal, session and login uid too, as the kernel's fork does.
    assert_eq!(child.session.map(|s| s.tty), Some(34816));
    assert_eq!(child.loginuid, Some(1000));
    t.on_exec(
        11,
        ExecInfo {
            exe: Some("ls".into()),
            exepath: Some("/usr/bin/ls".into()),
            args: vec!["-la".into()].into(),
            upper_layer: true,
            lower_layer: false,
            exe_writable: Some(true),
            memfd: false,
            vpid: Some(1),
            session: None,
            loginuid: None,
            caps: Some((0, 0)),
            cwd: None,
            stdin: None,
            stdout: None,
            env: None,
        },
        4,
    );
    assert_eq!(*t.get(11).unwrap().args, ["-la"]);
    assert_eq!(t.get(11).unwrap().is_exe_upper_layer, Some(true));
    assert_eq!(t.get(11).unwrap().is_exe_lower_layer, Some(false));
    assert_eq!(t.get(11).unwrap().is_exe_writable, Some(true));
    assert_eq!(t.get(11).unwrap().vpid, Some(1));
    t.on_exit(11, 50);
    // Late records of the dying process still find it, vpid and all.
    assert_eq!(t.reap(100), 0);
    assert!(t.get(11).unwrap().exited());
    assert_eq!(t.get(11).unwrap().vpid, Some(1));
    assert_eq!(t.reap(150), 1);
    assert!(t.get(11).is_none());
    assert!(t.get(10).is_some());
}

#[test]
fn reused_pid_is_not_reaped_by_the_old_exit() {
    let mut t = table();
    t.observe(20, 1, 0, b"a", None, 1);
    t.on_exit(20, 10);
    // The pid is reused before the reap: the new process must survive.
    t.on_fork(1, 20, 1, 20);
    assert_eq!(t.reap(1000), 0);
    assert!(t.get(20).is_some());
}

#[test]
fn hard_cap_bounds_memory() {
    let mut t = ProcTable::new(ProcTableConfig {
        reap_delay_ns: u64::MAX / 2,
        max_entries: 16,
        max_ancestors: 4,
    });
    for pid in 1..=1000u32 {
        t.observe(pid, 1, 0, b"x", None, pid as u64);
        if pid % 3 == 0 {
            t.on_exit(pid, pid as u64);
        }
        assert!(t.len() <= 16);
    }
    // The most recent survives; the oldest went first.
    assert!(t.get(1000).is_some());
    assert!(t.get(2).is_none());
    assert!(t.evicted() > 0);
}

#[test]
fn ancestry_stops_at_the_container_init() {
    let mut t = table();
    let c = key("c0ffee");
    t.observe(1, 0, 0, b"systemd", None, 1);
    t.observe(100, 1, 0, b"conmon", None, 1);
    t.observe(101, 100, 0, b"sh", c.clone(), 1); // container init
    t.observe(102, 101, 0, b"bash", c.clone(), 1);
    t.observe(103, 102, 0, b"curl", c.clone(), 1);
    let names: Vec<String> = t
        .ancestry(103)
        .into_iter()
        .map(|a| a.name.to_string())
        .collect();
    assert_eq!(names, ["bash", "sh"]);
    // A host process walks up to pid 1, inclusive.
    t.observe(200, 100, 0, b"child", None, 1);
    let names: Vec<String> = t
        .ancestry(200)
        .into_iter()
        .map(|a| a.name.to_string())
        .collect();
    assert_eq!(names, ["conmon", "systemd"]);
    // Unknown parent: empty, no panic; a pid that is its own parent stops.
    t.observe(300, 299, 0, b"orphan", None, 1);
    assert!(t.ancestry(300).is_empty());
    t.observe(400, 400, 0, b"loop", None, 1);
    assert!(t.ancestry(400).is_empty());
    assert!(t.ancestry(12345).is_empty());
}

#[test]
fn ancestry_is_capped() {
    let mut t = ProcTable::new(ProcTableConfig {
        reap_delay_ns: 1,
        max_entries: 1000,
        max_ancestors: 5,
    });
    // A cycle 3 -> 4 -> 3 above pid 2 must terminate too.
    t.observe(2, 3, 0, b"a", None, 1);
    t.observe(3, 4, 0, b"b", None, 1);
    t.observe(4, 3, 0, b"c", None, 1);
    assert_eq!(t.ancestry(2).len(), 5);
    for pid in 10..100 {
        t.observe(pid, pid - 1, 0, b"p", None, 1);
    }
    assert_eq!(t.ancestry(99).len(), 5);
}

#[test]
fn parses_stat_with_hostile_comm() {
    let stat = b"42 (a) b (c) R 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1 1";
    let (comm, ppid, start) = parse_stat(stat).unwrap();
    assert_eq!((comm, ppid, start), (&b"a) b (c"[..], 7, 12345));
    assert!(parse_stat(b"garbage").is_none());
    assert!(parse_stat(b"1 (x) S").is_none());
}

#[test]
fn seeds_from_a_fake_proc_tree() {
    let dir = crate::testutil::TempDir::new("proc");
    let p = dir.path().join("77");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(
        p.join("stat"),
        b"77 (my prog) S 5 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 300 0 0",
    )
    .unwrap();
    std::fs::write(
        p.join("status"),
        "Name:\tmy prog\nUid:\t1000\t1000\t1000\t1000\n",
    )
    .unwrap();
    std::fs::write(p.join("cmdline"), b"/bin/prog\0--flag\0x\xffy\0").unwrap();
    std::fs::write(p.join("cgroup"), "0::/libpod_parent/libpod-abc\n").unwrap();
    std::os::unix::fs::symlink("/opt/prog", p.join("exe")).unwrap();
    std::fs::create_dir_all(dir.path().join("self")).unwrap();
    std::fs::create_dir_all(dir.path().join("88")).unwrap(); // vanished: no stat
    let mut t = table();
    let n = t.seed_from_proc(dir.path(), |path| Some(Arc::from(path)));
    assert_eq!(n, 1);
    let pr = t.get(77).unwrap();
    assert_eq!(&*pr.comm, "my prog");
    assert_eq!(pr.ppid, 5);
    assert_eq!(pr.uid, 1000);
    assert_eq!(pr.exe.as_deref(), Some("/bin/prog"));
    assert_eq!(*pr.args, ["--flag", "x\\xffy"]);
    assert_eq!(pr.exepath.as_deref(), Some("/opt/prog"));
    assert_eq!(pr.container.as_deref(), Some("/libpod_parent/libpod-abc"));
    assert_eq!(pr.start_boot_ns, Some(300 * 1_000_000_000 / clock_ticks()));
}

#[test]
fn seeds_from_the_real_proc() {
    let mut t = ProcTable::new(ProcTableConfig::default());
    let n = t.seed_from_proc(Path::new("/proc"), |_| None);
    assert!(n > 0);
    let me = t.get(std::process::id()).expect("own process seeded");
    let exe = std::env::current_exe().unwrap();
    assert_eq!(me.exepath.as_deref(), exe.to_str());
    assert_eq!(me.uid, unsafe { libc::getuid() });
}

#[test]
fn a_containers_peers_are_its_other_live_processes() {
    let mut t = table();
    t.observe(1, 0, 0, b"init", None, 1);
    for pid in [10, 11, 12] {
        t.observe(pid, 1, 0, b"sh", key("a"), 1);
    }
    t.observe(20, 1, 0, b"sh", key("b"), 1);
    t.on_exit(11, 2);
    let peers = |pid| {
        let mut v: Vec<u32> = t.container_peers(pid).collect();
        v.sort();
        v
    };
    assert_eq!(
        peers(10),
        [12],
        "not itself, not the exited, not another container's"
    );
    assert_eq!(peers(20), [] as [u32; 0]);
    assert_eq!(
        peers(1),
        [] as [u32; 0],
        "the host's processes are no container"
    );
    assert_eq!(peers(99), [] as [u32; 0], "not in the table");
}
