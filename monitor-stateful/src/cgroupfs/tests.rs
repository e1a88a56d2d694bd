use super::*;
use crate::layout::CgroupLayout;
use std::fs;

#[test]
fn io_stat_sums_devices() {
    let t = "8:0 rbytes=4096 wbytes=1048576 rios=1 wios=8 dbytes=0 dios=0\n\
                 254:0 rbytes=0 wbytes=512 rios=0 wios=1 dbytes=7 dios=1\n";
    assert_eq!(
        parse_io_stat(t),
        IoStat {
            bytes: 4096 + 1_048_576 + 512,
            ops: 10
        }
    );
    assert_eq!(parse_io_stat(""), IoStat::default());
}

#[test]
fn limit_parsing() {
    assert_eq!(parse_limit("max\n"), Some(Limit::Max));
    assert_eq!(parse_limit("9223372036854771712\n"), Some(Limit::Max));
    assert_eq!(parse_limit("67108864\n"), Some(Limit::Value(64 << 20)));
    assert_eq!(parse_limit("lots"), None);
    assert_eq!(
        parse_cpu_max("50000 100000\n"),
        Some(CpuQuota {
            quota_us: Some(50000),
            period_us: 100000
        })
    );
    assert_eq!(parse_cpu_max("max 100000\n").unwrap().cpus(), None);
    assert_eq!(parse_cpu_max("x 100000"), None);
    assert_eq!(keyed("oom 1\noom_kill 3\n", "oom_kill"), Some(3));
    assert_eq!(
        keyed("oom_kill_disable 0\noom_kill 3\n", "oom_kill"),
        Some(3)
    );
    assert_eq!(keyed("oom 1\n", "oom_kill"), None);
}

/// A fake sysfs tree under a temp dir, mounted as `mountinfo` says.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn write(&self, rel: &str, contents: &str) {
        let p = self.dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, contents).unwrap();
    }
    fn mountinfo(&self, mounts: &[(&str, &str, &str)]) -> CgroupLayout {
        let mut text = String::new();
        for (i, (mp, fstype, opts)) in mounts.iter().enumerate() {
            text += &format!(
                "{} 1 0:{} / {} rw - {} {} {}\n",
                40 + i,
                30 + i,
                self.dir.path().join(mp).display(),
                fstype,
                fstype,
                opts
            );
        }
        CgroupLayout::from_mountinfo(&text)
    }
}

const CG: &str = "/libpod_parent/libpod-3f1e";

#[test]
fn pure_v2_cgroup() {
    let t = Tree::new();
    let d = "cg/libpod_parent/libpod-3f1e";
    t.write(&format!("{d}/pids.current"), "17\n");
    t.write(&format!("{d}/pids.max"), "20\n");
    t.write(&format!("{d}/pids.events"), "max 4\n");
    t.write(&format!("{d}/memory.current"), "60817408\n");
    t.write(&format!("{d}/memory.max"), "67108864\n");
    t.write(
            &format!("{d}/memory.stat"),
            "anon 50331648\nfile 10485760\nkernel 1048576\nactive_file 2097152\ninactive_file 8388608\n",
        );
    t.write(
        &format!("{d}/memory.events"),
        "low 0\nhigh 0\nmax 212\noom 2\noom_kill 2\noom_group_kill 0\n",
    );
    t.write(
        &format!("{d}/cpu.stat"),
        "usage_usec 8123456\nuser_usec 8000000\nsystem_usec 123456\nnice_usec 0\n\
             core_sched.force_idle_usec 0\nnr_periods 150\nnr_throttled 140\n\
             throttled_usec 6543210\nnr_bursts 0\nburst_usec 0\n",
    );
    t.write(&format!("{d}/cpu.max"), "20000 100000\n");
    t.write(
        &format!("{d}/cpu.pressure"),
        "some avg10=75.00 avg60=40.00 avg300=10.00 total=6000000\n\
             full avg10=70.00 avg60=38.00 avg300=9.00 total=5800000\n",
    );
    t.write(
        &format!("{d}/memory.pressure"),
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    );
    let layout = t.mountinfo(&[("cg", "cgroup2", "rw,nsdelegate")]);
    let mut r = CgroupReader::new(layout.resolve(CG).unwrap());
    let s = r.sample();
    assert_eq!(s.pids_current, Some(17));
    assert_eq!(s.pids_max, Some(Limit::Value(20)));
    assert_eq!(s.pids_max_hits, Some(4));
    assert_eq!(s.memory_usage, Some(60817408));
    assert_eq!(s.memory_working_set(), Some(60817408 - 8388608));
    assert_eq!(s.memory_max, Some(Limit::Value(64 << 20)));
    assert_eq!(s.oom_kills, Some(2));
    assert_eq!(s.memory_max_hits, Some(212));
    assert_eq!(s.cpu_usage_usec, Some(8123456));
    assert_eq!(s.cpu_nr_periods, Some(150));
    assert_eq!(s.cpu_nr_throttled, Some(140));
    assert_eq!(s.cpu_throttled_usec, Some(6543210));
    assert_eq!(s.cpu_quota.unwrap().cpus(), Some(0.2));
    assert_eq!(s.psi_cpu.unwrap().some.unwrap().total_us, 6000000);
    assert_eq!(s.psi_memory.unwrap().full.unwrap().avg10, 0.0);
    assert_eq!(s.psi_io, None);
}

/// Hybrid, as on this build machine: v1 controllers plus a
/// controller-less v2 mount that only has cpu.stat usage and PSI.
#[test]
fn hybrid_cgroup() {
    let t = Tree::new();
    let p = "libpod_parent/libpod-3f1e";
    t.write(
        &format!("unified/{p}/cpu.stat"),
        "usage_usec 2500000\nuser_usec 2400000\nsystem_usec 100000\nnice_usec 0\n",
    );
    t.write(
        &format!("unified/{p}/cpu.pressure"),
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n",
    );
    t.write(&format!("pids/{p}/pids.current"), "3\n");
    t.write(&format!("pids/{p}/pids.max"), "max\n");
    t.write(&format!("pids/{p}/pids.events"), "max 0\n");
    t.write(&format!("memory/{p}/memory.usage_in_bytes"), "1048576\n");
    t.write(
        &format!("memory/{p}/memory.limit_in_bytes"),
        "9223372036854771712\n",
    );
    t.write(
        &format!("memory/{p}/memory.stat"),
        "cache 0\nrss 1048576\ninactive_file 0\nhierarchical_memory_limit 9223372036854771712\n\
             total_cache 4096\ntotal_rss 1048576\ntotal_inactive_file 4096\n",
    );
    t.write(
        &format!("memory/{p}/memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    );
    t.write(&format!("memory/{p}/memory.failcnt"), "7\n");
    t.write(
        &format!("cpu/{p}/cpu.stat"),
        "nr_periods 20\nnr_throttled 5\nthrottled_time 300000000\nnr_bursts 0\nburst_time 0\n",
    );
    t.write(&format!("cpu/{p}/cpu.cfs_quota_us"), "50000\n");
    t.write(&format!("cpu/{p}/cpu.cfs_period_us"), "100000\n");
    t.write(&format!("cpuacct/{p}/cpuacct.usage"), "2600000000\n");
    let layout = t.mountinfo(&[
        ("cpu", "cgroup", "rw,cpu"),
        ("cpuacct", "cgroup", "rw,cpuacct"),
        ("memory", "cgroup", "rw,memory"),
        ("pids", "cgroup", "rw,pids"),
        ("unified", "cgroup2", "rw"),
    ]);
    let mut r = CgroupReader::new(layout.resolve(CG).unwrap());
    let s = r.sample();
    assert_eq!(s.pids_current, Some(3));
    assert_eq!(s.pids_max, Some(Limit::Max));
    assert_eq!(s.pids_max_hits, Some(0));
    assert_eq!(s.memory_usage, Some(1048576));
    assert_eq!(s.memory_working_set(), Some(1048576 - 4096));
    assert_eq!(s.memory_max, Some(Limit::Max));
    assert_eq!(s.oom_kills, Some(1));
    assert_eq!(s.memory_max_hits, Some(7));
    // v2 usage wins over cpuacct when present.
    assert_eq!(s.cpu_usage_usec, Some(2500000));
    assert_eq!(s.cpu_nr_periods, Some(20));
    assert_eq!(s.cpu_nr_throttled, Some(5));
    assert_eq!(s.cpu_throttled_usec, Some(300000));
    assert_eq!(s.cpu_quota.unwrap().cpus(), Some(0.5));
    assert_eq!(s.psi_cpu.unwrap().some.unwrap().total_us, 1234);
}

#[test]
fn legacy_cgroup_uses_cpuacct_and_unlimited_quota() {
    let t = Tree::new();
    let p = "docker/abc";
    t.write(&format!("cpu,cpuacct/{p}/cpuacct.usage"), "2600000000\n");
    t.write(&format!("cpu,cpuacct/{p}/cpu.cfs_quota_us"), "-1\n");
    t.write(&format!("cpu,cpuacct/{p}/cpu.cfs_period_us"), "100000\n");
    t.write(
        &format!("cpu,cpuacct/{p}/cpu.stat"),
        "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
    );
    let layout = t.mountinfo(&[("cpu,cpuacct", "cgroup", "rw,cpu,cpuacct")]);
    let mut r = CgroupReader::new(layout.resolve("/docker/abc").unwrap());
    let s = r.sample();
    assert_eq!(s.cpu_usage_usec, Some(2600000));
    assert_eq!(
        s.cpu_quota,
        Some(CpuQuota {
            quota_us: None,
            period_us: 100000
        })
    );
    assert_eq!(s.pids_current, None);
    assert_eq!(s.memory_usage, None);
    assert_eq!(s.psi_cpu, None);
}

#[test]
fn missing_cgroup_reads_as_nothing_then_appears() {
    let t = Tree::new();
    let layout = t.mountinfo(&[("cg", "cgroup2", "rw")]);
    let mut r = CgroupReader::new(layout.resolve(CG).unwrap());
    assert_eq!(r.sample(), CgroupSample::default());
    // Created later (the runtime populates it after we learned the id).
    t.write("cg/libpod_parent/libpod-3f1e/pids.current", "1\n");
    t.write("cg/libpod_parent/libpod-3f1e/memory.current", "4096\n");
    let s = r.sample();
    assert_eq!(s.pids_current, Some(1));
    assert_eq!(s.memory_usage, Some(4096));
}

#[test]
fn garbage_contents_are_none() {
    let t = Tree::new();
    t.write("cg/x/pids.current", "seventeen\n");
    t.write("cg/x/pids.max", "\n");
    t.write("cg/x/memory.current", "");
    t.write("cg/x/memory.events", "oom_kill lots\n");
    t.write("cg/x/cpu.stat", "\0\0\0");
    t.write("cg/x/cpu.max", "max banana\n");
    let layout = t.mountinfo(&[("cg", "cgroup2", "rw")]);
    let s = CgroupReader::new(layout.resolve("/x").unwrap()).sample();
    assert_eq!(s, CgroupSample::default());
}

/// A pure v2 cgroup with pids and memory files.
fn small_v2_tree() -> (Tree, CgroupReader) {
    let t = Tree::new();
    let d = "cg/libpod_parent/libpod-3f1e";
    t.write(&format!("{d}/pids.current"), "3\n");
    t.write(&format!("{d}/pids.max"), "20\n");
    t.write(&format!("{d}/memory.current"), "4096\n");
    t.write(&format!("{d}/memory.max"), "max\n");
    t.write(&format!("{d}/cpu.stat"), "usage_usec 10\nnr_periods 4\n");
    let layout = t.mountinfo(&[("cg", "cgroup2", "rw")]);
    let r = CgroupReader::new(layout.resolve(CG).unwrap());
    (t, r)
}

#[test]
fn reads_only_what_is_needed_and_keeps_it_open() {
    let (t, mut r) = small_v2_tree();
    let needs = Needs {
        pids_current: true,
        ..Needs::default()
    };
    let mut ctx = ReadCtx::new(FdBudget::new(100));
    let s = r.sample_with(&mut ctx, needs);
    assert_eq!(s.pids_current, Some(3));
    assert_eq!(s.pids_max, None);
    assert_eq!(s.memory_usage, None);
    assert_eq!(s.cpu_usage_usec, None);
    assert_eq!((r.open_files(), ctx.budget.held()), (1, 1));
    // The held file is read again from the start: new contents, no stale bytes.
    t.write("cg/libpod_parent/libpod-3f1e/pids.current", "12345\n");
    assert_eq!(r.sample_with(&mut ctx, needs).pids_current, Some(12345));
    t.write("cg/libpod_parent/libpod-3f1e/pids.current", "7\n");
    assert_eq!(r.sample_with(&mut ctx, needs).pids_current, Some(7));
    let s = r.sample_with(&mut ctx, Needs::ALL);
    assert_eq!(s.memory_usage, Some(4096));
    assert_eq!(s.cpu_nr_periods, Some(4));
    // pids.current, pids.max, memory.current, memory.max, cpu.stat; the
    // files this tree lacks are not held.
    assert_eq!(r.open_files(), 5);
    drop(r);
    assert_eq!(ctx.budget.held(), 0, "dropping a reader closes its files");
}

#[test]
fn past_the_budget_files_are_opened_per_read() {
    let (t, mut r) = small_v2_tree();
    let mut ctx = ReadCtx::new(FdBudget::new(2));
    let s = r.sample_with(&mut ctx, Needs::ALL);
    assert_eq!((s.pids_current, s.memory_usage), (Some(3), Some(4096)));
    assert_eq!((r.open_files(), ctx.budget.held()), (2, 2));
    t.write("cg/libpod_parent/libpod-3f1e/memory.current", "8192\n");
    let s = r.sample_with(&mut ctx, Needs::ALL);
    assert_eq!((s.pids_current, s.memory_usage), (Some(3), Some(8192)));
    assert_eq!(ctx.budget.held(), 2);
}

#[test]
fn a_missing_file_is_tried_again_later() {
    let (t, mut r) = small_v2_tree();
    let mut ctx = ReadCtx::new(FdBudget::new(100));
    let needs = Needs {
        psi: [true, false, false],
        ..Needs::default()
    };
    assert_eq!(r.sample_with(&mut ctx, needs).psi_cpu, None);
    t.write(
        "cg/libpod_parent/libpod-3f1e/cpu.pressure",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n",
    );
    ctx.pass += 1;
    assert_eq!(
        r.sample_with(&mut ctx, needs).psi_cpu,
        None,
        "not yet retried"
    );
    ctx.pass += RETRY_PASSES;
    let psi = r.sample_with(&mut ctx, needs).psi_cpu.expect("retried");
    assert_eq!(psi.some.unwrap().total_us, 42);
}

#[test]
fn large_files_are_read_whole() {
    let (t, mut r) = small_v2_tree();
    // A memory.stat longer than the first read buffer.
    let mut stat: String = (0..2000).map(|i| format!("key{i} {i}\n")).collect();
    stat += "inactive_file 1024\n";
    t.write("cg/libpod_parent/libpod-3f1e/memory.stat", &stat);
    let s = r.sample();
    assert_eq!(s.memory_working_set(), Some(4096 - 1024));
}

#[test]
fn sample_reads_a_file_that_appeared_since() {
    let (t, mut r) = small_v2_tree();
    assert_eq!(r.sample().psi_io, None);
    t.write(
        "cg/libpod_parent/libpod-3f1e/io.pressure",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
    );
    assert_eq!(r.sample().psi_io.unwrap().some.unwrap().total_us, 7);
}

#[test]
fn a_quiet_hybrid_cgroup_carries_its_v1_block_io() {
    let t = Tree::new();
    let p = "libpod_parent/libpod-3f1e";
    let io = |n: u64| format!("8:0 Read {n}\n8:0 Write 0\nTotal {n}\n");
    let bytes = format!("blkio/{p}/blkio.throttle.io_service_bytes_recursive");
    t.write(&format!("unified/{p}/cpu.stat"), "usage_usec 10\n");
    t.write(&format!("pids/{p}/pids.current"), "3\n");
    t.write(&bytes, &io(4096));
    t.write(
        &format!("blkio/{p}/blkio.throttle.io_serviced_recursive"),
        &io(1),
    );
    let layout = t.mountinfo(&[
        ("blkio", "cgroup", "rw,blkio"),
        ("pids", "cgroup", "rw,pids"),
        ("unified", "cgroup2", "rw"),
    ]);
    let mut r = CgroupReader::new(layout.resolve(CG).unwrap());
    let mut ctx = ReadCtx::new(FdBudget::new(100));
    let pass = |ctx: &mut ReadCtx, r: &mut CgroupReader| {
        ctx.pass += 1;
        let s = r.sample_pass(ctx, Needs::ALL);
        (s.io.map(|io| io.bytes), s.pids_current)
    };
    assert_eq!(pass(&mut ctx, &mut r), (Some(4096), Some(3)));
    // v1 charges writeback to the root: a cgroup whose tasks did not run
    // did no I/O of its own, and made no task.
    t.write(&bytes, &io(8192));
    t.write(&format!("pids/{p}/pids.current"), "5\n");
    assert_eq!(pass(&mut ctx, &mut r), (Some(4096), Some(3)));
    t.write(&format!("unified/{p}/cpu.stat"), "usage_usec 20\n");
    assert_eq!(pass(&mut ctx, &mut r), (Some(8192), Some(5)));
}
