//! A flood never blinds vigil (docs/performance.md, "Floods").
//!
//! One podman container opens `/etc/shadow` as fast as it can for 20 s
//! (a CPU per loop, 64 pids, 128 MiB, killed by podman after 60 s);
//! beside it a quiet container runs ten `/bin/true` and reads
//! `/etc/shadow` once.
//! `vigil run --record` watches. With the default throttle, every exec,
//! fork and exit of the quiet container and its alert arrive, the flood
//! shows as `throttled` events (kernel and recorder) and per-container
//! counters, and the log keeps no more of the flood than its budget. With
//! no throttle, a small ring and two such loops (two CPUs), the kernel
//! drops records, yet the quiet container's lifecycle still arrives (the
//! ring's lifecycle reserve), and the "Sensor losing events" alert fires.
//! Nothing here asserts a duration.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_tests::actions::{actions_image, ACTIONS_IN_IMAGE};
use vigil_tests::events::{field, s};
use vigil_tests::http::{free_port, get};
use vigil_tests::podman::TempDir;
use vigil_tests::{paths, require_podman, require_vigil_binary, Agent, Container};

static SERIAL: Mutex<()> = Mutex::new(());
const WAIT: Duration = Duration::from_secs(30);
const FLOOD_SECS: &str = "20";
const TRUES: usize = 10;

fn can_run() -> bool {
    require_podman() && require_vigil_binary().is_some()
}

struct Run {
    dir: TempDir,
    agent: Agent,
    listen: SocketAddr,
    flooder: Container,
    quiet: Container,
}

/// Starts the agent with `extra` flags, the quiet container, then the
/// flood (`loops` processes, a CPU each); the quiet container acts once
/// the flood is on.
fn flood(extra: &[&str], loops: usize) -> Run {
    let image = actions_image().expect("build the actions image");
    let dir = TempDir::new("vigil-flood").expect("temp dir");
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap())
        .parse()
        .unwrap();
    let mut builder = Agent::builder(["run", "--stats-interval", "1", "--record"])
        .arg(dir.path().join("rec"))
        .arg("--listen")
        .arg(listen.to_string())
        .echo(false);
    for a in extra {
        builder = builder.arg(a);
    }
    let agent = builder.start().expect("start vigil run");
    let quiet = Container::run(&[], &image, &["sleep", "86400"]).expect("quiet container");
    let open_loop = format!("{ACTIONS_IN_IMAGE} open-loop /etc/shadow {FLOOD_SECS}");
    let script = format!("{} wait", format!("{open_loop} & ").repeat(loops));
    let cpus = loops.to_string();
    let flooder = Container::run(
        &[
            "--cpus",
            &cpus,
            "--pids-limit",
            "64",
            "--memory",
            "128m",
            "--timeout",
            "60",
        ],
        &image,
        &["sh", "-c", &script],
    )
    .expect("flooding container");
    // Into the flood, then the quiet container's work.
    std::thread::sleep(Duration::from_secs(5));
    let script = format!("for i in $(seq {TRUES}); do /bin/true; done; cat /etc/shadow >/dev/null");
    quiet
        .exec_ok(&["sh", "-c", &script])
        .expect("quiet container's work");
    Run {
        dir,
        agent,
        listen,
        flooder,
        quiet,
    }
}

/// `vigil log export` of the recorded log, as JSON values, with `filter`.
fn export(rec: &Path, filter: &[&str]) -> Vec<Value> {
    let out = Command::new(paths::vigil_bin())
        .args(["log", "export"])
        .arg(rec)
        .args(filter)
        .output()
        .expect("vigil log export");
    assert!(out.status.success(), "vigil log export: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// The quiet container's execs, forks and exits of `/bin/true` are all
/// there: TRUES of each.
fn assert_lifecycle_complete(rec: &Path, quiet: &Container) {
    let evs = export(rec, &["--container", quiet.short_id()]);
    let count = |t: &str, name: &str| {
        evs.iter()
            .filter(|e| s(e, "evt.type") == t && s(e, "proc.name") == name)
            .count()
    };
    let (execs, exits) = (count("execve", "true"), count("procexit", "true"));
    let forks = count("clone", "sh");
    assert!(
        execs == TRUES && exits == TRUES && forks > TRUES,
        "quiet container: {execs} execs, {exits} exits of true, {forks} forks of sh; \
         want {TRUES}, {TRUES}, more than {TRUES}"
    );
}

/// One metric's value from `/metrics` (the sum over matching series).
fn metric(listen: SocketAddr, prefix: &str) -> u64 {
    let body = get(listen, "/metrics").expect("GET /metrics").body;
    body.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Waits for the flooding container to finish its work and exit.
fn wait_flood_done(run: &Run) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        let out = Command::new("podman")
            .args(["container", "exists", run.flooder.id()])
            .status()
            .expect("podman container exists");
        if !out.success() {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("the flooding container is still there after 90 s");
}

#[test]
fn a_throttled_flood_hides_nothing_of_another_container() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let run = flood(&[], 1);
    let quiet_id = run.quiet.short_id().to_string();
    let flooder_id = run.flooder.short_id().to_string();
    let alert = run.agent.wait_stdout_json(WAIT, |v| {
        s(v, "rule") == "Read of shadow or sudoers file in container"
            && field(v, "container.id") == quiet_id
    });
    assert!(alert.is_some(), "no alert for the quiet container's read");
    let flood_alert = run.agent.wait_stdout_json(WAIT, |v| {
        s(v, "rule") == "Event flood throttled in container"
            && field(v, "container.id") == flooder_id
    });
    assert!(
        flood_alert.is_some(),
        "no throttle alert; alerts:\n{}",
        run.agent.stdout_lines().join("\n")
    );
    let series = format!("vigil_container_throttled_total{{container=\"{flooder_id}\"}}");
    assert!(metric(run.listen, &series) > 0, "{series} is 0");
    wait_flood_done(&run);
    let rec = run.dir.path().join("rec");
    let Run { agent, quiet, .. } = run;
    let stopped = agent.stop().expect("stop vigil");
    assert!(stopped.status.success(), "{:?}", stopped.status);
    assert_lifecycle_complete(&rec, &quiet);

    // The log has both kinds of `throttled` events of the flooder.
    let throttled = export(&rec, &["--type", "throttled", "--container", &flooder_id]);
    let held = |by: &str| -> u64 {
        throttled
            .iter()
            .filter(|e| s(e, "evt.arg.by") == by && s(e, "evt.arg.kind") == "openat")
            .map(|e| e["evt.arg.count"].as_u64().unwrap_or(0))
            .sum()
    };
    assert!(
        held("kernel") > 0,
        "no kernel throttled events: {throttled:?}"
    );
    assert!(held("recorder") > 0, "no recorder summaries: {throttled:?}");

    // The budget (1000 events of a kind a minute) bounds what the flood
    // put in the log, so that it cannot push everyone else's history out:
    // a 20 s flood spans at most two of the container's windows, plus the
    // events that raised an alert, which are always kept.
    let kept = export(&rec, &["--type", "openat", "--container", &flooder_id]).len();
    let alerted = stopped
        .stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| field(v, "container.id") == flooder_id)
        .count();
    assert!(
        kept <= 2 * 1000 + alerted,
        "{kept} of the flooder's opens in the log ({alerted} alerted)"
    );
}

#[test]
fn a_flood_beyond_the_ring_keeps_lifecycle_and_raises_the_loss_alert() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // Two loops: one alone now floods at about the rate the agent reads,
    // so the ring would fill only now and then, not for three checks in
    // a row. With both CPUs flooded, a batch-scheduled agent waits its
    // turn for whole time slices while the quiet container's lifecycle
    // fills the ring's reserve: the normal policy lets it preempt.
    let run = flood(
        &[
            "--throttle",
            "0",
            "--ring-bytes",
            "262144",
            "--scheduling",
            "normal",
        ],
        2,
    );
    let flooder_id = run.flooder.short_id().to_string();
    let loss = run
        .agent
        .wait_stdout_json(WAIT, |v| s(v, "rule") == "Sensor losing events");
    assert!(
        loss.is_some(),
        "no loss alert; stats: {:?}",
        run.agent
            .stderr_lines()
            .iter()
            .rev()
            .find(|l| l.contains("stats {"))
    );
    let series = format!("vigil_container_kernel_drops_total{{container=\"{flooder_id}\"}}");
    assert!(metric(run.listen, &series) > 0, "{series} is 0");
    assert!(metric(run.listen, "vigil_kernel_drops_total{kind=\"syscall\"}") > 0);
    wait_flood_done(&run);
    let rec = run.dir.path().join("rec");
    let Run { agent, quiet, .. } = run;
    let stopped = agent.stop().expect("stop vigil");
    assert!(stopped.status.success(), "{:?}", stopped.status);
    assert_lifecycle_complete(&rec, &quiet);
}
