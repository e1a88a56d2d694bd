//! Root tests against this host's real cgroups (v1, v2 or hybrid).
//!
//! Each test creates its own cgroup in every hierarchy the sampler reads,
//! sets a limit, moves a bounded child (always under `timeout`) into it, and
//! checks the sampler's numbers: a CPU burner under a quota is throttled, a
//! fork fan-out fills `pids.max` and has forks refused, a memory hog under a
//! memory limit is OOM-killed. A [`TestCgroup`] guard kills everything in
//! its cgroup and removes the directories, also when a test fails.
//!
//! Without root these tests print why and pass; with `CI` set they fail.

mod cgroup;
mod podman;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use monitor_stateful::uid_nproc::{read_nproc_limit, read_threads};
use monitor_stateful::{
    CgroupLayout, FieldRef, LayoutKind, Limit, Sampler, SamplerConfig, Timestamp, UidTable,
};

use cgroup::{can_run, skip, TestCgroup};
use podman::Podman;

fn field(s: &str) -> FieldRef {
    FieldRef::parse(s).unwrap()
}

fn sampler(layout: &CgroupLayout) -> Sampler {
    Sampler::new(layout.clone(), SamplerConfig::default())
}

/// The id the sampler is keyed by: the v2 cgroup id where there is one.
fn id_of(layout: &CgroupLayout, rel: &str) -> u64 {
    layout.v2_id(rel).unwrap().unwrap_or(1)
}

#[test]
fn cpu_burner_is_throttled_under_quota() {
    let Some(layout) = can_run("cpu_burner_is_throttled_under_quota") else {
        return;
    };
    let mut cg = TestCgroup::create(&layout, "cpu");
    // 10% of one CPU: well below what a busy loop gets even on a loaded host.
    cg.set_cpu_quota(10_000, 100_000);
    let id = id_of(&layout, &cg.rel);
    let mut s = sampler(&layout);
    s.add(id, &cg.rel).unwrap();
    s.sample_all(Timestamp::now());
    cg.spawn(Command::new("timeout").args(["20", "sh", "-c", "while :; do :; done"]));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(500));
        s.sample_all(Timestamp::now());
    }
    let now = Timestamp::now();
    let v = |f: &str| s.value(id, &field(f), now);
    let last = s.last_sample(id).unwrap();
    assert_eq!(last.cpu_quota.and_then(|q| q.cpus()), Some(0.1), "{last:?}");
    let cpu = v("container.cpu.pct[10s]").expect("cpu usage");
    let throttled = v("container.cpu.throttled_pct[10s]").expect("throttling");
    let quota = v("container.cpu.quota_pct[10s]").expect("quota use");
    eprintln!(
        "cpu {cpu:.1}% of a CPU, {quota:.0}% of quota, throttled in {throttled:.0}% of periods"
    );
    assert!(
        cpu > 2.0 && cpu < 20.0,
        "cpu.pct {cpu} outside (2, 20) for a 10% quota"
    );
    assert!(
        throttled > 20.0,
        "throttled_pct {throttled}: a busy loop under a 10% quota must be throttled"
    );
    assert!(last.cpu_nr_throttled.unwrap() > 0);
    assert!(quota > 20.0);
    // Per-cgroup PSI comes from the v2 directory (present on hybrid hosts too).
    if layout.v2().is_some() {
        assert!(v("container.psi.cpu.some_pct[10s]").is_some());
    }
}

#[test]
fn fork_fanout_fills_pids_max() {
    let Some(layout) = can_run("fork_fanout_fills_pids_max") else {
        return;
    };
    let mut cg = TestCgroup::create(&layout, "pids");
    cg.set_pids_max(16);
    let id = id_of(&layout, &cg.rel);
    let mut s = sampler(&layout);
    s.add(id, &cg.rel).unwrap();
    s.sample_all(Timestamp::now());
    // 40 background sleeps: the 16-task limit refuses the rest.
    cg.spawn(Command::new("timeout").args([
        "20",
        "sh",
        "-c",
        "i=0; while [ $i -lt 40 ]; do sleep 15 & i=$((i+1)); done; wait",
    ]));
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        s.sample_all(Timestamp::now());
        let cur = s.last_sample(id).and_then(|l| l.pids_current).unwrap_or(0);
        let hits = s.last_sample(id).and_then(|l| l.pids_max_hits).unwrap_or(0);
        if (cur >= 15 && hits > 0) || start.elapsed() > Duration::from_secs(8) {
            break;
        }
    }
    let now = Timestamp::now();
    let v = |f: &str| s.value(id, &field(f), now);
    let last = s.last_sample(id).unwrap().clone();
    eprintln!("{last:?}");
    assert_eq!(last.pids_max, Some(Limit::Value(16)));
    assert_eq!(v("container.pids.max"), Some(16.0));
    let pct = v("container.pids.usage_pct").unwrap();
    assert!(pct >= 90.0, "pids.usage_pct {pct}");
    let failed = v("container.failed_fork_rate[10s]").unwrap();
    assert!(failed > 0.0, "failed forks must be seen from pids.events");
    assert!(cg.procs().len() <= 16);
}

#[test]
fn memory_hog_is_oom_killed() {
    let Some(layout) = can_run("memory_hog_is_oom_killed") else {
        return;
    };
    let mut cg = TestCgroup::create(&layout, "mem");
    let limit = 32 << 20;
    cg.set_memory_max(limit);
    let id = id_of(&layout, &cg.rel);
    let mut s = sampler(&layout);
    s.add(id, &cg.rel).unwrap();
    s.sample_all(Timestamp::now());
    // A string that doubles until the shell is OOM-killed.
    let pid = cg.spawn(Command::new("timeout").args([
        "-s",
        "KILL",
        "20",
        "sh",
        "-c",
        "x=0123456789abcdef; while :; do x=\"$x$x\"; done",
    ]));
    let start = Instant::now();
    let mut peak = 0.0f64;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        s.sample_all(Timestamp::now());
        let now = Timestamp::now();
        peak = peak.max(
            s.value(id, &field("container.memory.usage_pct"), now)
                .unwrap_or(0.0),
        );
        let kills = s
            .value(id, &field("container.oom_kills[60s]"), now)
            .unwrap_or(0.0);
        if kills >= 1.0 || start.elapsed() > Duration::from_secs(15) {
            break;
        }
    }
    let now = Timestamp::now();
    let v = |f: &str| s.value(id, &field(f), now);
    let last = s.last_sample(id).unwrap().clone();
    eprintln!("{last:?} peak usage {peak:.0}%");
    assert_eq!(v("container.memory.limit"), Some(limit as f64));
    let kills = v("container.oom_kills[60s]").unwrap();
    assert!(
        kills >= 1.0,
        "the hog (pid {pid}) must be OOM-killed: {last:?}"
    );
    // The hog is gone: the kill freed the memory (the kernel may take a
    // moment on a loaded machine to reap it).
    let freed_by = Instant::now() + Duration::from_secs(10);
    let usage = loop {
        s.sample_all(Timestamp::now());
        let usage = s
            .value(id, &field("container.memory.usage_pct"), Timestamp::now())
            .unwrap();
        if usage < 50.0 || Instant::now() > freed_by {
            break usage;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(usage < 50.0, "usage {usage}% after the OOM kill");
}

#[test]
fn rlimit_nproc_and_threads_of_a_real_process() {
    // Needs no root: lowering one's own soft limit is always allowed.
    let mut cmd = Command::new("sleep");
    cmd.arg("10").stdin(Stdio::null());
    // SAFETY: getrlimit/setrlimit are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let mut r = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NPROC, &mut r);
            r.rlim_cur = 77.min(r.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NPROC, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let proc = Path::new("/proc");
    let limit = read_nproc_limit(proc, pid);
    let threads = read_threads(proc, pid);
    let _ = child.kill();
    let _ = child.wait();
    let limit = limit.unwrap();
    assert_eq!(limit, Some(77));
    assert_eq!(threads.unwrap(), 1);
    let mut t: UidTable<&str> = UidTable::new();
    t.add(pid, 4242, "c1", limit);
    assert_eq!(t.nproc_limit(4242), Some(77));
}

#[test]
fn this_hosts_layout_resolves_our_own_cgroup() {
    let Ok(layout) = CgroupLayout::detect() else {
        return;
    };
    if layout.kind() == LayoutKind::None {
        return;
    }
    // The root cgroup always exists where a v2 hierarchy is mounted.
    if let Some(v2) = layout.v2() {
        let id = layout.v2_id("/").unwrap();
        assert!(id.is_some(), "v2 root at {}", v2.mount_point.display());
    }
    // Our own v2 cgroup (`0::<path>` in /proc/self/cgroup) resolves to an
    // existing directory.
    let own = fs::read_to_string("/proc/self/cgroup").unwrap();
    if let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) {
        if let Some(dir) = layout.resolve(path).unwrap().v2 {
            assert!(dir.is_dir(), "{}", dir.display());
        }
    }
}

#[test]
fn one_pass_over_hundreds_of_real_cgroups_is_cheap() {
    let Some(layout) = can_run("one_pass_over_hundreds_of_real_cgroups_is_cheap") else {
        return;
    };
    const N: usize = 200;
    let cgs: Vec<TestCgroup> = (0..N)
        .map(|i| TestCgroup::create(&layout, &format!("scale{i}")))
        .collect();
    let mut s = sampler(&layout);
    for (i, cg) in cgs.iter().enumerate() {
        cg.set_pids_max(100 + i as u64);
        s.add(id_of(&layout, &cg.rel), &cg.rel).unwrap();
    }
    assert_eq!(s.len(), N);
    // Warm-up pass decides each cgroup's v1/v2 sources.
    s.sample_all(Timestamp::now());
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(s.sample_all(Timestamp::now()), N);
        best = best.min(t.elapsed());
    }
    eprintln!("one pass over {N} real cgroups: {best:?}");
    for (i, cg) in cgs.iter().enumerate() {
        let id = id_of(&layout, &cg.rel);
        assert_eq!(
            s.value(id, &field("container.pids.max"), Timestamp::now()),
            Some((100 + i) as f64)
        );
    }
    // Cheap by count, not by time: every cgroup's files stay open, so a
    // further pass opens none (this process's descriptors do not change).
    // (Counted among this process's descriptors by target: other tests
    // run in parallel threads.)
    let ours = format!("/vigil-test-{}-scale", std::process::id());
    let (held, _) = s.open_files();
    assert!(held >= N, "{held} files held for {N} cgroups");
    assert_eq!(fds_under(&ours), held);
    s.sample_all(Timestamp::now());
    assert_eq!(fds_under(&ours), held);
    assert_eq!(s.open_files().0, held);
    for cg in &cgs {
        s.remove(id_of(&layout, &cg.rel));
    }
    assert_eq!(s.open_files().0, 0, "removing a cgroup closes its files");
    assert_eq!(fds_under(&ours), 0);
}

/// This process's descriptors open on a path containing `part`.
fn fds_under(part: &str) -> usize {
    fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.to_string_lossy().contains(part))
        .count()
}

#[test]
fn a_recreated_cgroup_is_read_not_its_stale_files() {
    let Some(layout) = can_run("a_recreated_cgroup_is_read_not_its_stale_files") else {
        return;
    };
    let limits = |cg: &TestCgroup, pids: u64, mib: u64| {
        cg.set_pids_max(pids);
        cg.set_memory_max(mib << 20);
    };
    let cg = TestCgroup::create(&layout, "recreated");
    limits(&cg, 37, 64);
    let (id, rel) = (id_of(&layout, &cg.rel), cg.rel.clone());
    let mut s = sampler(&layout);
    s.add(id, &rel).unwrap();
    let read = |s: &mut Sampler| {
        s.sample_all(Timestamp::now());
        let now = Timestamp::now();
        (
            s.value(id, &field("container.pids.max"), now),
            s.value(id, &field("container.memory.limit"), now),
        )
    };
    assert_eq!(read(&mut s), (Some(37.0), Some((64u64 << 20) as f64)));
    assert!(s.open_files().0 > 0);
    // Removed and made again under the same path between two passes (a
    // runtime reusing a cgroup path; v1 hierarchies are keyed by path):
    // the held files now belong to a dead cgroup, and the next pass must
    // read the new one.
    drop(cg);
    let cg = TestCgroup::create(&layout, "recreated");
    assert_eq!(cg.rel, rel);
    limits(&cg, 41, 32);
    let mut cg = cg;
    cg.spawn(Command::new("timeout").args(["20", "sleep", "20"]));
    assert_eq!(read(&mut s), (Some(41.0), Some((32u64 << 20) as f64)));
    // `timeout`, and its `sleep` once forked.
    let now = Timestamp::now();
    let pids = s.value(id, &field("container.pids.current"), now);
    assert!(matches!(pids, Some(1.0 | 2.0)), "{pids:?}");
    // Gone while sampled: nothing is read, nothing fails.
    drop(cg);
    s.sample_all(Timestamp::now());
    assert_eq!(s.last_sample(id).and_then(|l| l.pids_max), None);
    s.remove(id);
    assert_eq!(s.open_files().0, 0);
}

#[test]
fn podman_container_limits_and_usage() {
    let Some(layout) = can_run("podman_container_limits_and_usage") else {
        return;
    };
    let Some(mut pm) = Podman::image("podman_container_limits_and_usage") else {
        return;
    };
    let id = pm.run(
        &["--pids-limit", "16", "--memory", "32m", "--cpus", "0.1"],
        &[
            "/bin/busybox",
            "timeout",
            "30",
            "/bin/busybox",
            "sh",
            "-c",
            "while :; do :; done",
        ],
    );
    // podman with the cgroupfs manager: the same path in every hierarchy.
    let path = format!("/libpod_parent/libpod-{id}");
    let cg_id = match layout.v2() {
        Some(_) => layout
            .v2_id(&path)
            .unwrap()
            .unwrap_or_else(|| panic!("no v2 cgroup at {path}")),
        None => 1,
    };
    let mut s = sampler(&layout);
    s.add(cg_id, &path).unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        s.sample_all(Timestamp::now());
        std::thread::sleep(Duration::from_millis(500));
    }
    s.sample_all(Timestamp::now());
    let now = Timestamp::now();
    let v = |f: &str| s.value(cg_id, &field(f), now);
    let last = s.last_sample(cg_id).unwrap().clone();
    eprintln!("{last:?}");
    assert_eq!(v("container.pids.max"), Some(16.0));
    assert_eq!(v("container.memory.limit"), Some((32u64 << 20) as f64));
    assert_eq!(last.cpu_quota.and_then(|q| q.cpus()), Some(0.1));
    assert!(v("container.pids.current").unwrap() >= 1.0);
    let cpu = v("container.cpu.pct[10s]").unwrap();
    assert!(cpu > 2.0 && cpu < 20.0, "cpu.pct {cpu} for --cpus 0.1");
    assert!(v("container.cpu.throttled_pct[10s]").unwrap() > 20.0);
    assert_eq!(v("container.oom_kills[60s]"), Some(0.0));
}

/// The whole disk (`MAJ:MIN`) holding `path`: block I/O limits apply to
/// disks, not partitions.
fn disk_of(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let dev = fs::metadata(path).ok()?.dev();
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    let sys = PathBuf::from(format!("/sys/dev/block/{maj}:{min}"));
    if !sys.exists() {
        return None; // not a block device (tmpfs, overlay of one, ...)
    }
    if sys.join("partition").exists() {
        let parent = fs::canonicalize(&sys).ok()?.parent()?.join("dev");
        return fs::read_to_string(parent).ok().map(|s| s.trim().to_owned());
    }
    Some(format!("{maj}:{min}"))
}

#[test]
fn direct_writes_under_a_write_limit_are_counted() {
    let Some(layout) = can_run("direct_writes_under_a_write_limit_are_counted") else {
        return;
    };
    // A scratch file on a real disk (not tmpfs), next to the build.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let Some(disk) = disk_of(&dir) else {
        if std::env::var_os("CI").is_some() {
            panic!("{} is not on a block device", dir.display());
        }
        skip(
            "direct_writes_under_a_write_limit_are_counted",
            "no block device",
        );
        return;
    };
    let mut cg = TestCgroup::create(&layout, "io");
    // 4 MiB/s: a trickle for the disk, whatever else the host is doing.
    cg.set_write_bps(&disk, 4 << 20);
    let id = id_of(&layout, &cg.rel);
    let mut s = sampler(&layout);
    s.add(id, &cg.rel).unwrap();
    s.sample_all(Timestamp::now());
    let file = dir.join(format!("vigil-io-test-{}", std::process::id()));
    // 16 MiB of direct writes (the page cache would hide them from v1
    // blkio): about 4 s at the limit.
    cg.spawn(Command::new("timeout").args([
        "20".into(),
        "dd".into(),
        "if=/dev/zero".into(),
        format!("of={}", file.display()),
        "bs=64k".into(),
        "count=256".into(),
        "oflag=direct".into(),
    ]));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(500));
        s.sample_all(Timestamp::now());
    }
    let now = Timestamp::now();
    let v = |f: &str| s.value(id, &field(f), now);
    let last = s.last_sample(id).unwrap().clone();
    drop(cg);
    let _ = fs::remove_file(&file);
    eprintln!("{:?}", last.io);
    let bps = v("container.io.bytes_rate[2s]").expect("io bytes rate");
    let ops = v("container.io.ops_rate[2s]").expect("io ops rate");
    eprintln!("io {bps:.0} B/s, {ops:.0} ops/s");
    assert!(
        bps > 1_000_000.0 && bps < 8_000_000.0,
        "io.bytes_rate {bps} outside (1 MB/s, 8 MB/s) under a 4 MiB/s write limit"
    );
    assert!(ops > 10.0, "io.ops_rate {ops}");
    // The writer waits on the throttle: it stalls on I/O (v2 PSI).
    if layout.v2().is_some() {
        let stall = v("container.psi.io.some_pct[2s]").expect("io pressure");
        eprintln!("io stall {stall:.0}%");
        assert!(
            stall > 10.0,
            "psi.io.some_pct {stall} for a throttled writer"
        );
    }
}
