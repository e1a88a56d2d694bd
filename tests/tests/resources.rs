//! Live resource-monopolisation alerts, against real podman containers
//! whose cgroup limits keep the host safe.
//!
//! `vigil run` (default rules, 1 s resource sampling) watches while the
//! `vigil-actions` helper misbehaves inside a limited container: a fork
//! bomb under `--pids-limit 64`, a CPU burner under `--cpus 0.2`, a memory
//! hog under `--memory 32m` until OOM, an fd exhauster under a 64-fd
//! limit, two containers of UID 1000 sharing one `RLIMIT_NPROC` of 60, and
//! two of UID 1777 sharing the host's inotify instances (the hog takes 93%
//! of `max_user_instances`), and a container filling a 64 MiB loop-mounted
//! filesystem of the test's own through a volume beside one writing 2 MiB
//! to it. Each must raise its `resource` rule within seconds,
//! naming the right container. A fair busy container raises none. Every
//! hog ends on its own (a time bound or the cgroup limit), and containers
//! are removed on drop.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use vigil_tests::actions::{actions_image, ACTIONS_IN_IMAGE};
use vigil_tests::events::{field, has_tag, s};
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

static SERIAL: Mutex<()> = Mutex::new(());
const WAIT: Duration = Duration::from_secs(20);

fn can_run() -> bool {
    require_podman() && require_vigil_binary().is_some()
}

struct Setup {
    _serial: std::sync::MutexGuard<'static, ()>,
    agent: Agent,
    image: String,
}

fn setup() -> Setup {
    setup_events(None)
}

/// [`setup`], with every event also written to `events`.
fn setup_events(events: Option<&std::path::Path>) -> Setup {
    setup_args(events, &[])
}

/// [`setup_events`], with more `vigil run` arguments.
fn setup_args(events: Option<&std::path::Path>, args: &[&std::ffi::OsStr]) -> Setup {
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = actions_image().expect("build the actions image");
    let mut b = Agent::builder(["run"]).echo(false);
    if let Some(p) = events {
        b = b.arg("--events").arg(p);
    }
    for a in args {
        b = b.arg(a);
    }
    let agent = b.start().expect("start vigil run");
    Setup {
        _serial: serial,
        agent,
        image,
    }
}

/// A long-running container with `opts` (limits).
fn container(t: &Setup, opts: &[&str]) -> Container {
    Container::run(opts, &t.image, &["sleep", "600"]).expect("start container")
}

/// Runs the helper in the container in the background (it ends on its own).
fn act_bg(c: &Container, args: &[&str]) -> std::process::Child {
    std::process::Command::new("podman")
        .args(["exec", c.id(), ACTIONS_IN_IMAGE])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("podman exec")
}

/// Runs the helper under a lowered rlimit (`ulimit OPT N` in the
/// container's shell, then exec). `podman run --ulimit` would be the usual
/// way, but runc on some hosts (this CI's among them) refuses to set
/// rlimits at create with EPERM; lowering a limit in the process itself is
/// always allowed and gives the helper the same RLIMIT.
fn act_bg_limited(c: &Container, ulimit: &str, args: &[&str]) -> std::process::Child {
    let script = format!(
        "ulimit {ulimit} && exec {ACTIONS_IN_IMAGE} {}",
        args.join(" ")
    );
    std::process::Command::new("podman")
        .args(["exec", c.id(), "sh", "-c", &script])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("podman exec")
}

fn resource_alerts(agent: &Agent) -> Vec<Value> {
    agent
        .stdout_json()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| has_tag(a, "resource"))
        .collect()
}

/// Waits for `rule` naming container `c`; checks tags and shape.
fn expect_alert(agent: &Agent, rule: &str, c: &Container) -> Value {
    let found = agent.wait_stdout_json(WAIT, |v| {
        s(v, "rule") == rule && field(v, "container.id") == c.short_id()
    });
    let Some(alert) = found else {
        let seen: Vec<String> = resource_alerts(agent)
            .iter()
            .map(|a| format!("{} {}", s(a, "rule"), field(a, "container.id")))
            .collect();
        let logs = agent.stderr_lines();
        panic!(
            "no alert `{rule}` for {} within {WAIT:?}; resource alerts: {seen:?}\nagent log tail:\n{}",
            c.short_id(),
            logs[logs.len().saturating_sub(15)..].join("\n")
        );
    };
    assert!(has_tag(&alert, "resource"), "{alert}");
    assert!(
        alert["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap_or("").starts_with('T')),
        "{alert}"
    );
    assert_eq!(field(&alert, "container.full_id"), c.id(), "{alert}");
    alert
}

fn num(alert: &Value, key: &str) -> f64 {
    alert["output_fields"][key].as_f64().unwrap_or(f64::NAN)
}

#[test]
fn fork_bomb_under_pids_limit() {
    if !can_run() {
        return;
    }
    let t = setup();
    let c = container(&t, &["--pids-limit", "64"]);
    let mut bomb = act_bg(&c, &["forkbomb", "8"]);
    let a = expect_alert(&t.agent, "Fork bomb in container", &c);
    assert!(num(&a, "container.failed_fork_rate[10s]") > 5.0, "{a}");
    let _ = bomb.wait();
}

#[test]
fn cpu_burner_under_quota() {
    if !can_run() {
        return;
    }
    let t = setup();
    let c = container(&t, &["--cpus", "0.2"]);
    let mut burn = act_bg(&c, &["cpu", "25"]);
    let a = expect_alert(&t.agent, "Container CPU pinned at its quota", &c);
    assert!(num(&a, "container.cpu.throttled_pct[30s]") > 90.0, "{a}");
    let _ = burn.kill();
    let _ = burn.wait();
}

#[test]
fn memory_hog_until_oom() {
    if !can_run() {
        return;
    }
    let t = setup();
    let c = container(&t, &["--memory", "32m", "--memory-swap", "32m"]);
    let mut hog = act_bg(&c, &["mem", "256"]);
    let a = expect_alert(&t.agent, "OOM kill in container", &c);
    assert!(num(&a, "container.oom_kills[60s]") >= 1.0, "{a}");
    let _ = hog.wait();
}

#[test]
fn fd_exhaustion() {
    if !can_run() {
        return;
    }
    let t = setup();
    let c = container(&t, &[]);
    let mut fds = act_bg_limited(&c, "-n 64", &["fds", "8"]);
    let a = expect_alert(&t.agent, "File descriptor exhaustion in container", &c);
    assert!(num(&a, "container.emfile_rate[10s]") > 10.0, "{a}");
    let _ = fds.wait();
}

#[test]
fn one_uid_starving_another_container() {
    if !can_run() {
        return;
    }
    let t = setup();
    // RLIMIT_NPROC counts every task of UID 1000 on the host: the hog's 50
    // sleepers leave the other container almost nothing.
    let opts = ["--user", "1000", "--pids-limit", "200"];
    let hog = container(&t, &opts);
    let victim = container(&t, &opts);
    std::thread::sleep(Duration::from_secs(1));
    let mut a = act_bg_limited(&hog, "-u 60", &["spawn", "50", "20"]);
    std::thread::sleep(Duration::from_secs(1));
    let mut b = act_bg_limited(&victim, "-u 60", &["spawn", "20", "20"]);
    let alert = expect_alert(
        &t.agent,
        "UID near its process limit across containers",
        &hog,
    );
    assert_eq!(field(&alert, "user.nproc_top_container"), hog.short_id());
    assert_eq!(alert["output_fields"]["user.uid"], 1000, "{alert}");
    assert!(
        !resource_alerts(&t.agent).iter().any(|x| {
            s(x, "rule") == "UID near its process limit across containers"
                && field(x, "container.id") == victim.short_id()
        }),
        "the starved container is not the one named"
    );
    let _ = a.kill();
    let _ = b.kill();
    let _ = a.wait();
    let _ = b.wait();
}

#[test]
fn fair_busy_container_raises_no_resource_alert() {
    if !can_run() {
        return;
    }
    let dir = vigil_tests::podman::TempDir::new("vigil-resources").expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let t = setup_events(Some(&events));
    let c = container(
        &t,
        &["--pids-limit", "256", "--memory", "256m", "--cpus", "1.5"],
    );
    // One CPU busy, a few dozen short-lived processes, some fds: a build step.
    let mut burn = act_bg(&c, &["cpu", "10"]);
    let mut spawn = act_bg(&c, &["spawn", "30", "3"]);
    let mut fds = std::process::Command::new("podman")
        .args(["exec", c.id(), "sh", "-c"])
        .arg("for i in 1 2 3 4 5 6 7 8; do ls / >/dev/null; cat /etc/passwd >/dev/null; sleep 1; done")
        .spawn()
        .expect("podman exec");
    let _ = spawn.wait();
    let _ = fds.wait();
    let _ = burn.wait();
    // Two more sampling passes see the tail of the work.
    std::thread::sleep(Duration::from_secs(2));
    let mine: Vec<String> = resource_alerts(&t.agent)
        .iter()
        .filter(|a| field(a, "container.id") == c.short_id())
        .map(|a| a.to_string())
        .collect();
    assert!(
        mine.is_empty(),
        "resource alerts for a fair container: {mine:#?}"
    );
    // Positive control: the agent did sample it, and saw the busy CPU.
    let text = std::fs::read_to_string(&events).expect("events file");
    let busiest = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| s(e, "evt.type") == "container_stats" && s(e, "container.id") == c.short_id())
        .filter_map(|e| e["container.cpu.pct[10s]"].as_f64())
        .fold(f64::NAN, f64::max);
    assert!(
        busiest > 30.0,
        "no container_stats event showing the busy CPU (max cpu.pct[10s] = {busiest})"
    );
}

/// One container of a UID holding nearly all the inotify instances the
/// kernel allows that UID: the alert names it, not the neighbour of the
/// same UID that holds a few.
#[test]
fn one_uid_taking_the_inotify_instances() {
    if !can_run() {
        return;
    }
    let max: u64 = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
        .expect("read max_user_instances")
        .trim()
        .parse()
        .expect("a number");
    // 93% of the limit (and the fds to hold it), a few for the neighbour.
    let n = max * 93 / 100 + 1;
    assert!(n + 4 <= max, "max_user_instances {max} too small to test");
    let t = setup();
    // A UID no other process on the host runs as.
    let opts = ["--user", "1777"];
    let hog = container(&t, &opts);
    let neighbour = container(&t, &opts);
    std::thread::sleep(Duration::from_secs(1));
    let nofile = format!("-n {}", n + 64);
    let mut a = act_bg_limited(&hog, &nofile, &["inotify", &n.to_string(), "20"]);
    let mut b = act_bg(&neighbour, &["inotify", "3", "20"]);
    let alert = expect_alert(
        &t.agent,
        "UID near its inotify limit across containers",
        &hog,
    );
    assert_eq!(field(&alert, "user.inotify_top_container"), hog.short_id());
    assert_eq!(alert["output_fields"]["user.inotify_uid"], 1777, "{alert}");
    assert!(num(&alert, "user.inotify_instances") >= n as f64, "{alert}");
    assert!(
        !resource_alerts(&t.agent).iter().any(|x| {
            s(x, "rule") == "UID near its inotify limit across containers"
                && field(x, "container.id") == neighbour.short_id()
        }),
        "the starved container is not the one named"
    );
    let _ = a.kill();
    let _ = b.kill();
    let _ = a.wait();
    let _ = b.wait();
}

/// One container streaming TCP as fast as half a CPU allows over the
/// loopback of its own network namespace (`--net=none`, 20 s at most)
/// beside a neighbour trickling 1 MiB/s the same way: the network rule
/// names the streamer (counted by the kernel's per-cgroup `cgroup_skb`
/// counters) and never the neighbour, whose traffic is counted too.
#[test]
fn network_monopolisation() {
    if !can_run() {
        return;
    }
    let dir = vigil_tests::podman::TempDir::new("vigil-net-hog").expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let t = setup_events(Some(&events));
    let hog = container(&t, &["--cpus", "0.5"]);
    let quiet = container(&t, &["--cpus", "0.5"]);
    let mut trickle = act_bg(&quiet, &["tcp-stream", "25", "1024"]);
    let mut stream = act_bg(&hog, &["tcp-stream", "20", "0"]);
    let a = expect_alert(&t.agent, "Container monopolising the network", &hog);
    assert!(num(&a, "container.net.bytes_rate[30s]") > 1e8, "{a}");
    assert!(num(&a, "container.net.packets_rate[30s]") > 0.0, "{a}");
    assert!(num(&a, "container.net.bytes_share[30s]") > 80.0, "{a}");
    let _ = stream.kill();
    let _ = stream.wait();
    let _ = trickle.wait();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !resource_alerts(&t.agent).iter().any(|x| {
            s(x, "rule") == "Container monopolising the network"
                && field(x, "container.id") == quiet.short_id()
        }),
        "the trickling neighbour was named"
    );
    // Positive control: the neighbour's traffic was counted, about 2 MiB/s
    // (1 MiB/s sent and received).
    let text = std::fs::read_to_string(&events).expect("events file");
    let quiet_rate = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| {
            s(e, "evt.type") == "container_stats" && s(e, "container.id") == quiet.short_id()
        })
        .filter_map(|e| e["container.net.bytes_rate[30s]"].as_f64())
        .fold(f64::NAN, f64::max);
    assert!(
        (1e6..1e7).contains(&quiet_rate),
        "the neighbour's traffic: max container.net.bytes_rate[30s] = {quiet_rate}"
    );
}

/// A small ext4 filesystem of the test's own, loop-mounted; unmounted (and
/// its loop device released, `-o loop` sets autoclear) on drop, also when
/// the test fails.
struct LoopFs {
    dir: vigil_tests::podman::TempDir,
    mnt: std::path::PathBuf,
}

impl LoopFs {
    /// `None` when this kernel or machine cannot loop-mount.
    fn new(mib: u64) -> Option<LoopFs> {
        let dir = vigil_tests::podman::TempDir::new("vigil-storage-fs").expect("temp dir");
        let img = dir.path().join("fs.img");
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(mib << 20))
            .expect("image file");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).expect("mount point");
        let run = |cmd: &mut std::process::Command| {
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !run(std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0"])
            .arg(&img))
        {
            return None;
        }
        if !run(std::process::Command::new("mount")
            .args(["-o", "loop"])
            .arg(&img)
            .arg(&mnt))
        {
            return None;
        }
        Some(LoopFs { dir, mnt })
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let ok = std::process::Command::new("umount")
            .arg(&self.mnt)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (a container not yet gone): detach now, freed when idle.
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.mnt)
                .status();
        }
        let _ = &self.dir;
    }
}

/// The `container_stats` events of `c` in the events file.
fn stats_of(events: &std::path::Path, c: &Container) -> Vec<Value> {
    std::fs::read_to_string(events)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| s(e, "evt.type") == "container_stats" && s(e, "container.id") == c.short_id())
        .collect()
}

#[test]
fn container_filling_host_storage() {
    if !can_run() {
        return;
    }
    // Declared first, so it is dropped after the containers using it.
    let fs = LoopFs::new(64);
    if !vigil_tests::require::require(fs.is_some(), "loop-mounting a test filesystem failed") {
        return;
    }
    let fs = fs.unwrap();
    let mnt = fs.mnt.to_str().expect("utf-8 path").to_owned();
    for d in ["fill", "quiet"] {
        std::fs::create_dir(fs.mnt.join(d)).expect("volume dir");
    }
    let dir = vigil_tests::podman::TempDir::new("vigil-storage").expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let t = setup_args(Some(&events), &["--storage-path".as_ref(), mnt.as_ref()]);
    let vol = |d: &str| format!("{mnt}/{d}:/data");
    let filler = container(&t, &["-v", &vol("fill"), "--memory", "128m"]);
    let quiet = container(&t, &["-v", &vol("quiet"), "--memory", "128m"]);
    // Both containers' volumes are found and measured (their baseline).
    let measured = |c: &Container| {
        stats_of(&events, c)
            .iter()
            .any(|e| s(e, "fs.path") == mnt && e["fs.container_bytes"].is_number())
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !(measured(&filler) && measured(&quiet)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the volumes on {mnt} were never measured; stats: {:?}",
            stats_of(&events, &quiet).last()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // The near miss: a container writing 2 MiB to the small filesystem.
    quiet
        .exec_ok(&[
            "sh",
            "-c",
            "dd if=/dev/zero of=/data/small bs=1M count=2 && sync",
        ])
        .expect("quiet write");
    let grown = |c: &Container| {
        stats_of(&events, c)
            .iter()
            .filter_map(|e| e["fs.container_growth"].as_f64())
            .fold(0.0, f64::max)
    };
    let deadline = std::time::Instant::now() + WAIT;
    while grown(&quiet) < 1.5e6 {
        assert!(
            std::time::Instant::now() < deadline,
            "the quiet write was never measured"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // The filler: until the filesystem is full (ENOSPC ends dd).
    let _ = filler.exec(&[
        "sh",
        "-c",
        "timeout 30 dd if=/dev/zero of=/data/fill bs=1M count=200; sync",
    ]);
    let a = expect_alert(&t.agent, "Container filling host storage", &filler);
    assert_eq!(field(&a, "fs.path"), mnt, "{a}");
    assert!(num(&a, "fs.usage_pct") > 90.0, "{a}");
    assert!(num(&a, "fs.container_growth") > 40e6, "{a}");
    let writers = field(&a, "fs.writers");
    assert!(
        writers.starts_with(&format!("{} +", filler.short_id()))
            && writers.contains("volume /data"),
        "{a}"
    );
    assert!(
        a["output"]
            .as_str()
            .unwrap_or("")
            .contains("attributed by growth"),
        "{a}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !resource_alerts(&t.agent).iter().any(|x| {
            s(x, "rule") == "Container filling host storage"
                && field(x, "container.id") == quiet.short_id()
        }),
        "the container that wrote 2 MiB was named"
    );
    // The quiet one saw the same full filesystem, and whose fill it was.
    assert!(stats_of(&events, &quiet).iter().any(|e| {
        e["fs.usage_pct"].as_f64().is_some_and(|p| p > 90.0)
            && s(e, "fs.top_writer") == filler.short_id()
    }));
}
