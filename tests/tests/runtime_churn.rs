//! Container churn: 1,000 short-lived containers (created, run for an
//! instant and removed through the CRI, as kubelet does with a crash-looping
//! or job pod) leave the agent's memory flat. Every one of them is looked up
//! (the stats line counts the lookups), and what the agent keeps per
//! container (registry, metadata table, retry cache) is dropped once the
//! container is gone. Those entries live for a grace period (up to 60 s), so
//! the agent's memory first grows to what a minute of churn holds; from
//! there on it must stay flat: RSS after all 1,000 (and the grace periods)
//! within a small margin of RSS after the first 500.

use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_tests::containerd::{uuid, ContainerSpec, Containerd, PodSpec};
use vigil_tests::podman::{ImageBuilder, TempDir};
use vigil_tests::{logline, require_daemon, require_vigil_binary, Agent};

const CONTAINERS: usize = 1000;
/// Enough for the entries kept through the grace periods to have peaked.
const WARM_UP: usize = 500;
/// Longer than the metadata table's and the cgroup registry's grace periods
/// (60 s and 30 s), so the entries of the churned containers are gone.
const SETTLE: Duration = Duration::from_secs(70);
/// What RSS may grow by over the second 500: a leak of 8 KiB per container
/// would exceed it.
const MARGIN_KIB: u64 = 4 * 1024;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("agent status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_thousand_short_lived_containers_leave_memory_flat() {
    if !require_daemon("containerd") || require_vigil_binary().is_none() {
        return;
    }
    let mut ctrd = Containerd::start().expect("start containerd");
    let name = "localhost/vigil-churn:1.0";
    let archive = ctrd
        .image_with(&ImageBuilder::new(name), name, &["/bin/sh"])
        .expect("build image");
    ctrd.import(&archive).expect("import image");
    let dir = TempDir::new("vigil-churn").expect("temp dir");
    let agent = Agent::builder(["run", "--no-resources", "--cri-socket"])
        .arg(ctrd.socket())
        .arg("--alerts")
        .arg(dir.path().join("alerts.jsonl"))
        .echo(false)
        .start()
        .expect("start vigil run");
    let pod = PodSpec {
        name: "churn-0".into(),
        namespace: "batch".into(),
        uid: uuid(),
        labels: vec![("app".into(), "churn".into())],
        privileged: false,
    };
    let sandbox = ctrd.run_pod(&pod).expect("run pod");
    let pid = agent.pid();
    let mut churn = |from: usize, to: usize| {
        for i in from..to {
            if i % 100 == 0 {
                eprintln!("agent RSS {} KiB after {i} containers", rss_kib(pid));
            }
            let spec = ContainerSpec {
                name: format!("job-{i}"),
                image: name.into(),
                command: vec!["true".into()],
                ..Default::default()
            };
            let id = ctrd.create(&sandbox, &pod, &spec).expect("create");
            ctrd.start_container(&id).expect("start");
            // It may still be exiting: kubelet retries the removal too.
            let deadline = Instant::now() + Duration::from_secs(10);
            while ctrd.remove(&id).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    churn(0, WARM_UP);
    let before = rss_kib(agent.pid());
    churn(WARM_UP, CONTAINERS);
    std::thread::sleep(SETTLE);
    let after = rss_kib(agent.pid());
    let stopped = agent.stop().expect("stop agent");
    // Every container was looked up (the pod's sandbox too).
    let stats = stopped
        .stderr
        .iter()
        .rev()
        .find_map(|l| logline::message(l).strip_prefix("stats "))
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .expect("a final stats line");
    let requested = stats["metadata"]["requested"].as_u64().unwrap_or(0);
    let resolved = stats["metadata"]["resolved"].as_u64().unwrap_or(0);
    assert!(
        requested >= CONTAINERS as u64 && resolved >= CONTAINERS as u64 * 9 / 10,
        "lookups: {}",
        stats["metadata"]
    );
    assert!(
        after <= before + MARGIN_KIB,
        "agent RSS grew from {before} KiB to {after} KiB over {} containers",
        CONTAINERS - WARM_UP
    );
    eprintln!("agent RSS {before} KiB after {WARM_UP} containers, {after} KiB after {CONTAINERS}");
}
