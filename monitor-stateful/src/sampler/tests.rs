use super::*;
use crate::cgroupfs::{LIMITS_EVERY, QUIET_REFRESH};
use std::fs;
use std::path::Path;

const SEC: u64 = 1_000_000_000;

fn f(s: &str) -> FieldRef {
    FieldRef::parse(s).unwrap()
}

/// A pure-v2 tree with one container whose files the test rewrites.
struct Fixture {
    dir: tempfile::TempDir,
    sampler: Sampler,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mi = format!(
            "40 1 0:30 / {} rw - cgroup2 cgroup2 rw\n",
            dir.path().join("cg").display()
        );
        fs::create_dir_all(dir.path().join("cg/pod/ctr")).unwrap();
        fs::create_dir_all(dir.path().join("pressure")).unwrap();
        let cfg = SamplerConfig {
            resolution: Duration::from_secs(1),
            horizon: Duration::from_secs(90),
            cpus: 2,
        };
        let mut sampler = Sampler::with_host_psi(
            CgroupLayout::from_mountinfo(&mi),
            cfg,
            HostPsi::new(dir.path().join("pressure")),
        );
        sampler.add(7, "/pod/ctr").unwrap();
        Fixture { dir, sampler }
    }
    fn write(&self, file: &str, s: &str) {
        let p: &Path = self.dir.path();
        let path = if file.starts_with("pressure/") {
            p.join(file)
        } else {
            p.join("cg/pod/ctr").join(file)
        };
        fs::write(path, s).unwrap();
    }
}

#[test]
fn cpu_burner_under_quota() {
    let mut fx = Fixture::new();
    fx.write("cpu.max", "50000 100000\n");
    // 0.5 CPU used each second, throttled in 8 of 10 periods.
    for i in 0..=20u64 {
        fx.write(
                "cpu.stat",
                &format!(
                    "usage_usec {}\nuser_usec 0\nsystem_usec 0\nnr_periods {}\nnr_throttled {}\nthrottled_usec {}\n",
                    i * 500_000,
                    i * 10,
                    i * 8,
                    i * 400_000
                ),
            );
        fx.sampler.sample_all(Timestamp(i * SEC));
    }
    let now = Timestamp(20 * SEC);
    let v = |s: &str| fx.sampler.value(7, &f(s), now).unwrap();
    assert!((v("container.cpu.pct[10s]") - 50.0).abs() < 1e-9);
    assert!((v("container.cpu.quota_pct[10s]") - 100.0).abs() < 1e-9);
    assert!((v("container.cpu.host_pct[10s]") - 25.0).abs() < 1e-9);
    assert!((v("container.cpu.throttled_pct[30s]") - 80.0).abs() < 1e-9);
}

#[test]
fn memory_and_pids_percentages() {
    let mut fx = Fixture::new();
    fx.write("memory.max", "67108864\n");
    fx.write("memory.stat", "anon 1\ninactive_file 4194304\n");
    fx.write("memory.current", "62914560\n"); // 60 MiB, 4 MiB inactive cache
    fx.write("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    fx.write("pids.max", "20\n");
    fx.write("pids.current", "19\n");
    fx.sampler.sample_all(Timestamp(0));
    fx.write("pids.current", "5\n");
    fx.write("memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n");
    fx.sampler.sample_all(Timestamp(SEC));
    let now = Timestamp(SEC);
    let v = |s: &str| fx.sampler.value(7, &f(s), now);
    assert_eq!(v("container.memory.usage_pct"), Some(87.5));
    assert_eq!(v("container.memory.usage"), Some(58720256.0));
    assert_eq!(v("container.memory.limit"), Some(67108864.0));
    assert_eq!(v("container.pids.usage_pct"), Some(25.0));
    // With a window: the peak.
    assert_eq!(v("container.pids.usage_pct[10s]"), Some(95.0));
    assert_eq!(v("container.pids.max"), Some(20.0));
    assert_eq!(v("container.oom_kills[60s]"), Some(2.0));
    // Unlimited memory has no percentage, once the limits are read again
    // (every LIMITS_EVERY passes).
    fx.write("memory.max", "max\n");
    let pct = |fx: &mut Fixture, i: u64| {
        fx.sampler.sample_all(Timestamp(i * SEC));
        fx.sampler
            .value(7, &f("container.memory.usage_pct"), Timestamp(i * SEC))
    };
    assert_eq!(
        pct(&mut fx, 2),
        Some(87.5),
        "limits are not read every pass"
    );
    for i in 3..LIMITS_EVERY {
        pct(&mut fx, i);
    }
    assert_eq!(pct(&mut fx, LIMITS_EVERY + 1), None);
}

#[test]
fn pushed_counters_and_failed_forks() {
    let mut fx = Fixture::new();
    fx.write("pids.current", "1\n");
    fx.write("pids.events", "max 0\n");
    fx.sampler.sample_all(Timestamp(0));
    // Kernel map totals, pushed each second: 300 forks/s for 10 s.
    for i in 0..=10u64 {
        fx.sampler
            .record_counter(7, Counter::Forks, 1000 + i * 300, Timestamp(i * SEC));
    }
    // 50 EMFILE failures, one event at a time, within a second.
    for k in 0..50u64 {
        fx.sampler
            .add_count(7, Counter::Emfile, 1, Timestamp(9 * SEC + k * 10_000_000));
    }
    fx.write("pids.events", "max 40\n");
    fx.sampler.sample_all(Timestamp(10 * SEC));
    let now = Timestamp(10 * SEC);
    let v = |s: &str| fx.sampler.value(7, &f(s), now);
    assert_eq!(v("container.fork_rate[10s]"), Some(300.0));
    assert_eq!(v("container.emfile_rate[10s]"), Some(5.0));
    assert_eq!(v("container.failed_fork_rate[10s]"), Some(4.0));
    // Later, with nothing new, the rates decay to zero.
    let later = Timestamp(40 * SEC);
    assert_eq!(
        fx.sampler.value(7, &f("container.fork_rate[10s]"), later),
        Some(0.0)
    );
}

#[test]
fn psi_host_and_container() {
    let mut fx = Fixture::new();
    for i in 0..=10u64 {
        // Host: some tasks stalled 30% of the time; container: 20%.
        fx.write(
            "pressure/cpu",
            &format!(
                "some avg10=30.00 avg60=30.00 avg300=30.00 total={}\n",
                i * 300_000
            ),
        );
        fx.write(
                "cpu.pressure",
                &format!(
                    "some avg10=20.00 avg60=0.00 avg300=0.00 total={}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total={}\n",
                    i * 200_000,
                    i * 100_000
                ),
            );
        fx.sampler.sample_all(Timestamp(i * SEC));
    }
    let now = Timestamp(10 * SEC);
    let v = |s: &str| fx.sampler.value(7, &f(s), now).unwrap();
    assert!((v("host.psi.cpu.some_pct[10s]") - 30.0).abs() < 1e-9);
    assert!((v("container.psi.cpu.some_pct[10s]") - 20.0).abs() < 1e-9);
    assert!((v("container.psi.cpu.full_pct[5s]") - 10.0).abs() < 1e-9);
    // Host fields need no container.
    assert!(fx
        .sampler
        .value(999, &f("host.psi.cpu.some_pct[10s]"), now)
        .is_some());
    assert_eq!(
        fx.sampler.value(7, &f("host.psi.io.some_pct[10s]"), now),
        None
    );
}

#[test]
fn top_names_the_heaviest_container() {
    let mut fx = Fixture::new();
    fs::create_dir_all(fx.dir.path().join("cg/pod/other")).unwrap();
    fx.sampler.add(8, "/pod/other").unwrap();
    for i in 0..=5u64 {
        fx.write("cpu.stat", &format!("usage_usec {}\n", i * 900_000));
        fs::write(
            fx.dir.path().join("cg/pod/other/cpu.stat"),
            format!("usage_usec {}\n", i * 100_000),
        )
        .unwrap();
        fx.sampler.sample_all(Timestamp(i * SEC));
    }
    let top = fx
        .sampler
        .top(&f("container.cpu.pct[5s]"), Timestamp(5 * SEC), 1);
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].0, 7);
    assert!((top[0].1 - 90.0).abs() < 1e-9);
}

#[test]
fn network_rates_and_share_between_containers() {
    let mut fx = Fixture::new();
    fs::create_dir_all(fx.dir.path().join("cg/pod/other")).unwrap();
    fx.sampler.add(8, "/pod/other").unwrap();
    // Totals pushed each second: 9 MB/s against 1 MB/s.
    for i in 0..=10u64 {
        let at = Timestamp(i * SEC);
        fx.sampler
            .record_counter(7, Counter::NetBytes, 5_000 + i * 9_000_000, at);
        fx.sampler
            .record_counter(7, Counter::NetPackets, i * 300, at);
        fx.sampler
            .record_counter(8, Counter::NetBytes, i * 1_000_000, at);
        fx.sampler.sample_all(at);
    }
    let now = Timestamp(10 * SEC);
    let v = |id, name| fx.sampler.value(id, &f(name), now).unwrap();
    assert!((v(7, "container.net.bytes_rate[5s]") - 9e6).abs() < 1e-3);
    assert!((v(7, "container.net.packets_rate[5s]") - 300.0).abs() < 1e-9);
    assert!((v(7, "container.net.bytes_share[5s]") - 90.0).abs() < 1e-9);
    assert!((v(8, "container.net.bytes_share[5s]") - 10.0).abs() < 1e-9);
}

#[test]
fn unknown_and_removed_containers() {
    let mut fx = Fixture::new();
    let field = f("container.cpu.pct[10s]");
    assert_eq!(fx.sampler.value(1234, &field, Timestamp(0)), None);
    // Counter-only entries expire after a horizon without updates.
    fx.sampler
        .record_counter(55, Counter::Forks, 1, Timestamp(0));
    assert!(fx.sampler.contains(55));
    fx.sampler.sample_all(Timestamp(200 * SEC));
    assert!(!fx.sampler.contains(55));
    assert!(fx.sampler.contains(7));
    fx.sampler.remove(7);
    assert!(fx.sampler.is_empty());
}

#[test]
fn needs_follow_the_fields() {
    let f = |s: &str| FieldRef::parse(s).unwrap();
    let fields = [
        f("container.pids.current"),
        f("container.cpu.pct[10s]"),
        f("container.fork_rate[10s]"),
        f("host.psi.io.some_pct[10s]"),
    ];
    let n = crate::sampler::needs_of(&fields);
    assert_eq!(
        n,
        Needs {
            pids_current: true,
            cpu_usage: true,
            ..Needs::default()
        }
    );
    let n = crate::sampler::needs_of(&[
        f("container.memory.usage_pct"),
        f("container.psi.io.some_pct[10s]"),
    ]);
    assert!(n.memory_usage && n.memory_max && n.psi[2]);
    assert!(!n.pids_current && !n.io && !n.psi[0]);
}

fn psi_text(some: u64, full: u64) -> String {
    format!(
        "some avg10=0.00 avg60=0.00 avg300=0.00 total={some}\n\
         full avg10=0.00 avg60=0.00 avg300=0.00 total={full}\n"
    )
}

#[test]
fn quiet_containers_carry_what_only_their_tasks_change() {
    let mut fx = Fixture::new();
    let io = |wbytes: u64| format!("8:0 rbytes=0 wbytes={wbytes} rios=0 wios=1 dbytes=0 dios=0\n");
    fx.write("cpu.stat", "usage_usec 500\n");
    fx.write("pids.current", "3\n");
    fx.write("memory.current", "4096\n");
    fx.write("io.stat", &io(4096));
    fx.write("io.pressure", &psi_text(100, 50));
    fx.write("pressure/io", &psi_text(1000, 500));
    fx.sampler.sample_all(Timestamp(0));
    let last = |fx: &Fixture| fx.sampler.last_sample(7).unwrap().clone();
    let io_stall = |fx: &Fixture| last(fx).psi_io.unwrap().some.unwrap().total_us;

    // Its CPU time did not move: what only its tasks change is carried,
    // whatever the files say now...
    fx.write("pids.current", "9\n");
    fx.write("memory.current", "8192\n");
    // ...but writeback is charged to it while they sleep, and waiting for
    // the disk is not running.
    fx.write("io.stat", &io(65536));
    fx.write("io.pressure", &psi_text(300, 60));
    fx.sampler.sample_all(Timestamp(SEC));
    let s = last(&fx);
    assert_eq!((s.pids_current, s.memory_usage), (Some(3), Some(4096)));
    assert_eq!(s.io.unwrap().bytes, 65536);
    assert_eq!(io_stall(&fx), 100, "the host's I/O pressure did not move");
    fx.write("pressure/io", &psi_text(1200, 510));
    fx.sampler.sample_all(Timestamp(2 * SEC));
    assert_eq!(io_stall(&fx), 300, "the host's moved: read again");
    fx.sampler.sample_all(Timestamp(3 * SEC));
    assert_eq!(io_stall(&fx), 300, "carried from the latest reading");
    let now = Timestamp(3 * SEC);
    assert_eq!(
        fx.sampler.value(7, &f("container.cpu.pct[2s]"), now),
        Some(0.0)
    );

    // It ran: read in full.
    fx.write("cpu.stat", "usage_usec 900\n");
    fx.sampler.sample_all(Timestamp(4 * SEC));
    assert_eq!(last(&fx).pids_current, Some(9));
    // Quiet again: carried for QUIET_REFRESH passes, then read in full.
    fx.write("pids.current", "4\n");
    for i in 5..4 + QUIET_REFRESH {
        fx.sampler.sample_all(Timestamp(i * SEC));
        assert_eq!(last(&fx).pids_current, Some(9), "pass {i}");
    }
    fx.sampler.sample_all(Timestamp((4 + QUIET_REFRESH) * SEC));
    assert_eq!(last(&fx).pids_current, Some(4));
}
