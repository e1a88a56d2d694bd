//! cgroup records and counters: mkdir/rmdir, OOM kills in a memory-limited
//! cgroup, and the per-cgroup fork and fd-exhaustion counters.

use super::*;

/// Removes a cgroup directory on drop (if the test did not).
struct CgroupDir(PathBuf);

impl Drop for CgroupDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Creating and removing a cgroup v2 directory is reported with the id
/// that `bpf_get_current_cgroup_id` would give its tasks (the directory's
/// inode number), its path relative to the hierarchy root and its level.
#[tokio::test]
async fn cgroup_mkdir_and_rmdir() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let tmp = TempDir::new("cgroup");
    let (root, _mount) = cgroup2_root(&tmp.0);
    let cfg = tracepoint_config_4mib();
    let mut sensor = Sensor::load(&cfg).expect("load sensor");
    let name = format!("vigil-test-{}", std::process::id());
    let parent = root.join(&name);
    let child = parent.join("inner");
    let _g1 = CgroupDir(parent.clone());
    std::fs::create_dir(&parent).expect("mkdir cgroup");
    let _g2 = CgroupDir(child.clone());
    std::fs::create_dir(&child).expect("mkdir nested cgroup");
    use std::os::unix::fs::MetadataExt;
    let (parent_id, child_id) = (
        std::fs::metadata(&parent).unwrap().ino(),
        std::fs::metadata(&child).unwrap().ino(),
    );
    std::fs::remove_dir(&child).unwrap();
    std::fs::remove_dir(&parent).unwrap();

    let want_parent = format!("/{name}");
    let want_child = format!("/{name}/inner");
    let records = collect(&mut sensor, 20, |all| {
        all.iter()
            .filter(|r| matches!(r, Record::CgroupRmdir(c) if c.id == parent_id))
            .count()
            == 1
    })
    .await;
    let find = |mkdir: bool, id: u64| {
        records
            .iter()
            .find_map(|r| match r {
                Record::CgroupMkdir(c) if mkdir && c.id == id && c.hierarchy_id == 0 => Some(c),
                Record::CgroupRmdir(c) if !mkdir && c.id == id && c.hierarchy_id == 0 => Some(c),
                _ => None,
            })
            .unwrap_or_else(|| {
                panic!(
                    "no cgroup {} record for id {id}",
                    if mkdir { "mkdir" } else { "rmdir" }
                )
            })
    };
    let me = std::process::id();
    for (id, path, level) in [(parent_id, &want_parent, 1), (child_id, &want_child, 2)] {
        for mkdir in [true, false] {
            let c = find(mkdir, id);
            assert_eq!(c.path().bytes, path.as_bytes());
            assert!(!c.path().truncated);
            assert_eq!(c.level, level);
            assert_eq!(
                c.header.tgid, me,
                "reported for the task that made the change"
            );
        }
    }
}

/// A memory-limited cgroup for one child, removed on drop: cgroup v1's
/// memory controller if mounted (hybrid hosts), else cgroup v2.
struct MemCgroup {
    dir: PathBuf,
    procs: PathBuf,
}

impl MemCgroup {
    fn new(scratch: &Path, limit: u64) -> Result<(MemCgroup, Option<Unmount>), String> {
        let cg = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
        let name = format!("vigil-oom-{}", std::process::id());
        let v1 = Path::new("/sys/fs/cgroup/memory");
        if v1.join("memory.limit_in_bytes").exists() {
            let rel = cg
                .lines()
                .find_map(|l| {
                    l.split_once(":memory:")
                        .map(|(_, p)| p.trim_start_matches('/'))
                })
                .unwrap_or("");
            let dir = v1.join(rel).join(name);
            std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
            let me = MemCgroup {
                procs: dir.join("cgroup.procs"),
                dir,
            };
            std::fs::write(me.dir.join("memory.limit_in_bytes"), limit.to_string())
                .map_err(|e| format!("memory.limit_in_bytes: {e}"))?;
            let _ = std::fs::write(me.dir.join("memory.swappiness"), "0");
            return Ok((me, None));
        }
        let (root, guard) = cgroup2_root(scratch);
        let rel = cg
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or("/");
        let parent = root.join(rel.trim_start_matches('/'));
        std::fs::write(parent.join("cgroup.subtree_control"), "+memory").map_err(|e| {
            format!(
                "enabling the memory controller in {}: {e}",
                parent.display()
            )
        })?;
        let dir = parent.join(name);
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let me = MemCgroup {
            procs: dir.join("cgroup.procs"),
            dir,
        };
        std::fs::write(me.dir.join("memory.max"), limit.to_string())
            .map_err(|e| format!("memory.max: {e}"))?;
        let _ = std::fs::write(me.dir.join("memory.swap.max"), "0");
        Ok((me, guard))
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A child that outgrows its cgroup's memory limit is chosen by the OOM
/// killer: the `oom/mark_victim` record names it. The memory hog runs only
/// inside a 32 MiB cgroup.
#[tokio::test]
async fn oom_kill_is_reported() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let tmp = TempDir::new("oom");
    // Declared before the cgroup so it is unmounted after the cgroup is removed.
    let (cgroup, _mount) = match MemCgroup::new(&tmp.0, 32 << 20) {
        Ok(c) => c,
        Err(reason) => {
            let reason = format!("no memory-limited cgroup available: {reason}");
            assert!(std::env::var_os("CI").is_none(), "{reason}");
            eprintln!("skipping: {reason}");
            return;
        }
    };
    let cfg = tracepoint_config_4mib();
    let mut sensor = Sensor::load(&cfg).expect("load sensor");
    let procs = cstr(&cgroup.procs);
    // SAFETY: the child only makes raw syscalls.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        unsafe {
            // Move ourselves ("0" = the writer) into the limited cgroup.
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"0\n".as_ptr().cast(), 2) != 2 {
                libc::_exit(90);
            }
            libc::close(fd);
            const LEN: usize = 512 << 20;
            let p = libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                libc::_exit(91);
            }
            let mut off = 0;
            while off < LEN {
                *(p as *mut u8).add(off) = 1;
                off += 4096;
            }
            libc::_exit(92); // the limit did not hold
        }
    }
    let status = wait_exit(child);
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
        "child should have been OOM-killed, status {status:#x}"
    );
    let child = child as u32;
    let records = collect(&mut sensor, 20, |all| {
        all.iter()
            .any(|r| matches!(r, Record::OomKill(o) if o.victim_tgid == child))
            && all
                .iter()
                .any(|r| matches!(r, Record::Exit(x) if x.header.tgid == child))
    })
    .await;
    assert!(
        records
            .iter()
            .any(|r| matches!(r, Record::OomKill(o) if o.victim_tgid == child)),
        "no oom_kill record naming {child}"
    );
    let exit = records.iter().find_map(|r| match r {
        Record::Exit(x) if x.header.tgid == child => Some(x.exit_code),
        _ => None,
    });
    assert_eq!(
        exit,
        Some(libc::SIGKILL as u32),
        "exit code carries the signal"
    );
}

/// A directory under a cgroup hierarchy, removed on drop (after its
/// processes are gone).
struct TestCgroup(PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Where the fork-failure part gets its pids.max: a v1 pids cgroup where
/// that controller is mounted (hybrid hosts; `Some`), else the v2 cgroup
/// itself, with pids enabled in `v2_root` (`None`).
fn pids_cgroup(v2_root: &Path, name: &str) -> Result<Option<TestCgroup>, String> {
    let v1 = Path::new("/sys/fs/cgroup/pids");
    if v1.join("cgroup.procs").exists() && !v1.join("cgroup.controllers").exists() {
        let dir = v1.join(name);
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        return Ok(Some(TestCgroup(dir)));
    }
    std::fs::write(v2_root.join("cgroup.subtree_control"), "+pids")
        .map_err(|e| format!("enabling pids in {}: {e}", v2_root.display()))?;
    Ok(None)
}

/// Write "0" (= the writer) to `procs`; raw syscalls only (forked child).
unsafe fn join_cgroup(procs: &CString) -> bool {
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
        let ok = fd >= 0 && libc::write(fd, b"0\n".as_ptr().cast(), 2) == 2;
        libc::close(fd);
        ok
    }
}

extern "C" fn idle_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    std::ptr::null_mut()
}

/// Per-cgroup counters, counted in the kernel: a child moved into a fresh
/// cgroup v2 forks 5 processes and 2 threads, hits EMFILE 4 times (open,
/// dup, pipe, socket) under a lowered RLIMIT_NOFILE, and, under pids.max=1,
/// fails 3 forks with EAGAIN. The counters of that cgroup say exactly so,
/// and `forget_cgroup` removes them.
#[tokio::test]
async fn cgroup_counters_count_forks_and_failures() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let tmp = TempDir::new("counters");
    let (root, _mount) = cgroup2_root(&tmp.0);
    let name = format!("vigil-counters-{}", std::process::id());
    let dir = root.join(&name);
    let _cg = TestCgroup(dir.clone());
    std::fs::create_dir(&dir).expect("mkdir cgroup v2");
    use std::os::unix::fs::MetadataExt;
    let id = std::fs::metadata(&dir).unwrap().ino();
    // Where pids.max lives: a v1 pids cgroup, or the v2 cgroup itself.
    let pids = match pids_cgroup(&root, &name) {
        Ok(c) => c,
        Err(e) => {
            return skip(&format!(
                "no pids controller for the fork-failure part: {e}"
            ))
        }
    };
    let pids_dir = pids.as_ref().map_or(dir.clone(), |c| c.0.clone());
    if !pids_dir.join("pids.max").exists() {
        return skip(&format!("{} has no pids.max", pids_dir.display()));
    }

    let cfg = tracepoint_config_4mib();
    let sensor = Sensor::load(&cfg).expect("load sensor");
    let procs_v2 = cstr(dir.join("cgroup.procs"));
    let procs_pids = pids.as_ref().map(|c| cstr(c.0.join("cgroup.procs")));
    let pids_max = cstr(pids_dir.join("pids.max"));
    let devnull = cstr("/dev/null");
    spawn_exec(|| unsafe {
        if !join_cgroup(&procs_v2) {
            libc::_exit(60);
        }
        if let Some(p) = &procs_pids {
            if !join_cgroup(p) {
                libc::_exit(61);
            }
        }
        for _ in 0..5 {
            let pid = libc::fork();
            if pid == 0 {
                libc::_exit(0);
            }
            if pid < 0 || libc::waitpid(pid, std::ptr::null_mut(), 0) != pid {
                libc::_exit(62);
            }
        }
        for _ in 0..2 {
            let mut t: libc::pthread_t = 0;
            if libc::pthread_create(&mut t, std::ptr::null(), idle_thread, std::ptr::null_mut())
                != 0
                || libc::pthread_join(t, std::ptr::null_mut()) != 0
            {
                libc::_exit(63);
            }
        }
        let lim = libc::rlimit {
            rlim_cur: 16,
            rlim_max: 16,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            libc::_exit(64);
        }
        let mut opened = 0;
        while libc::open(devnull.as_ptr(), libc::O_RDONLY) >= 0 {
            opened += 1;
            if opened > 64 {
                libc::_exit(65);
            }
        }
        let mut fds = [0; 2];
        if *libc::__errno_location() != libc::EMFILE
            || libc::dup(0) >= 0
            || libc::pipe(fds.as_mut_ptr()) >= 0
            || libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) >= 0
        {
            libc::_exit(66);
        }
        // Close a few fds so writing pids.max can open the file.
        for fd in 3..8 {
            libc::close(fd);
        }
        let fd = libc::open(pids_max.as_ptr(), libc::O_WRONLY);
        if fd < 0 || libc::write(fd, b"1\n".as_ptr().cast(), 2) != 2 {
            libc::_exit(67);
        }
        libc::close(fd);
        for _ in 0..3 {
            let pid = libc::fork();
            if pid == 0 {
                libc::_exit(0);
            }
            if pid >= 0 || *libc::__errno_location() != libc::EAGAIN {
                libc::_exit(68);
            }
        }
        libc::_exit(0);
    });
    let mut sensor = sensor;
    let counters = sensor.cgroup_counters().expect("read counters");
    let c = counters
        .iter()
        .find(|(cg, _)| *cg == id)
        .map(|(_, c)| *c)
        .unwrap_or_else(|| panic!("no counters for cgroup {id} among {counters:?}"));
    assert_eq!(c.forks, 5, "{c:?}");
    assert_eq!(c.threads, 2, "{c:?}");
    assert_eq!(c.emfile, 4, "{c:?}");
    assert_eq!(c.enfile, 0, "{c:?}");
    assert_eq!(c.fork_failures, 3, "{c:?}");
    sensor.forget_cgroup(id).expect("forget cgroup");
    sensor.forget_cgroup(id).expect("forgetting twice is fine");
    let after = sensor.cgroup_counters().expect("read counters");
    assert!(
        after.iter().all(|(cg, _)| *cg != id),
        "still there: {after:?}"
    );
}

/// Per-cgroup traffic, counted by the `cgroup_skb` programs on the cgroup
/// v2 root: a child moved into a fresh cgroup sends 10 UDP datagrams of
/// 100 bytes over loopback to a socket of its own and receives them. That
/// cgroup's counters say 10 packets of 128 bytes (IPv4 and UDP headers
/// included) out and the same in, and nothing else was counted there.
#[tokio::test]
async fn cgroup_counters_count_traffic() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let tmp = TempDir::new("traffic");
    let (root, _mount) = cgroup2_root(&tmp.0);
    let dir = root.join(format!("vigil-traffic-{}", std::process::id()));
    let _cg = TestCgroup(dir.clone());
    std::fs::create_dir(&dir).expect("mkdir cgroup v2");
    use std::os::unix::fs::MetadataExt;
    let id = std::fs::metadata(&dir).unwrap().ino();

    let cfg = tracepoint_config_4mib();
    let sensor = Sensor::load(&cfg).expect("load sensor");
    let traffic_hooks: Vec<_> = sensor
        .hooks()
        .iter()
        .filter(|h| h.kind == "cgroup_skb")
        .collect();
    assert_eq!(traffic_hooks.len(), 2, "{traffic_hooks:?}");
    for h in &traffic_hooks {
        assert!(h.attached.is_ok(), "{} refused: {:?}", h.name, h.attached);
    }
    let procs = cstr(dir.join("cgroup.procs"));
    spawn_exec(|| unsafe {
        if !join_cgroup(&procs) {
            libc::_exit(60);
        }
        let rx = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        let tx = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let sa = (&raw mut addr).cast::<libc::sockaddr>();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if rx < 0
            || tx < 0
            || libc::bind(rx, sa, len) != 0
            || libc::getsockname(rx, sa, &mut len) != 0
        {
            libc::_exit(61);
        }
        let buf = [7u8; 100];
        for _ in 0..10 {
            if libc::sendto(tx, buf.as_ptr().cast(), 100, 0, sa, len) != 100 {
                libc::_exit(62);
            }
        }
        let mut got = [0u8; 200];
        for _ in 0..10 {
            if libc::recv(rx, got.as_mut_ptr().cast(), 200, 0) != 100 {
                libc::_exit(63);
            }
        }
        libc::_exit(0);
    });
    let c = sensor
        .cgroup_counters()
        .expect("read counters")
        .into_iter()
        .find(|(cg, _)| *cg == id)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no counters for cgroup {id}"));
    assert_eq!(
        (
            c.net_tx_packets,
            c.net_tx_bytes,
            c.net_rx_packets,
            c.net_rx_bytes
        ),
        (10, 1280, 10, 1280),
        "{c:?}"
    );
}
