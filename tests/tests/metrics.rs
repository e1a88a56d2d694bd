//! The agent's HTTP endpoints, scraped by a real Prometheus.
//!
//! `vigil run --listen 127.0.0.1:PORT` serves `/healthz`, `/readyz` and
//! `/metrics`; a Prometheus (Debian's package, started here on loopback
//! with its own config and data directory) scrapes it every second. The test
//! asks Prometheus's query API, not the agent, and sees vigil's counters
//! move: execs on the host raise `vigil_events_total{kind="execve"}`, a
//! shell exec'd into a container raises `vigil_alerts_total` for its rule
//! and `vigil_output_sent_total` for stdout,
//! and SIGHUP counts a successful rules reload. Gauges (hooks, rules, ring
//! buffer, the agent's memory) are there with plausible values.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_tests::http::{encode_query, free_port, get};
use vigil_tests::podman::TempDir;
use vigil_tests::{require, require_podman, require_vigil_binary, Agent, Container};

/// A Prometheus server, killed (by pid) on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Prometheus {
    fn start(dir: &std::path::Path, target: SocketAddr) -> Prometheus {
        let port = free_port().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: vigil\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let log = dir.join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("prometheus.err")).unwrap())
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child,
            addr,
            log: dir.join("prometheus.err"),
        }
    }

    /// The instant-vector samples of `query`: (labels, value).
    fn query(&self, query: &str) -> Vec<(Value, f64)> {
        let path = format!("/api/v1/query?query={}", encode_query(query));
        let Ok(r) = get(self.addr, &path) else {
            return Vec::new();
        };
        let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        v["data"]["result"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|s| {
                        let n = s["value"][1].as_str().and_then(|n| n.parse().ok());
                        (s["metric"].clone(), n.unwrap_or(f64::NAN))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The sum of `query`'s samples, once it satisfies `pred` (else panics).
    fn wait(&self, query: &str, timeout: Duration, pred: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + timeout;
        let mut last = Vec::new();
        while Instant::now() < deadline {
            last = self.query(query);
            if !last.is_empty() {
                let sum: f64 = last.iter().map(|(_, v)| v).sum();
                if pred(sum) {
                    return sum;
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        panic!(
            "Prometheus query `{query}` never satisfied the test within {timeout:?}; last result {last:?}; prometheus log tail:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_scrapes_counters_that_move() {
    if !require_podman()
        || require_vigil_binary().is_none()
        || !require(
            Command::new("prometheus")
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            "needs prometheus (`cargo xtask setup` installs Debian's package)",
        )
    {
        return;
    }
    let dir = TempDir::new("vigil-metrics").unwrap();
    let port = free_port().unwrap();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let agent = Agent::builder(["run", "--listen", &listen.to_string()])
        .echo(false)
        .start()
        .expect("start vigil run");

    // The agent's own answers first.
    let ready = get(listen, "/readyz").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut ready = ready;
    while ready.status != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        ready = get(listen, "/readyz").unwrap();
    }
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(get(listen, "/healthz").unwrap().status, 200);

    let prom = Prometheus::start(dir.path(), listen);
    prom.wait(r#"up{job="vigil"}"#, Duration::from_secs(60), |v| v == 1.0);
    prom.wait(
        r#"vigil_hooks{state="attached"}"#,
        Duration::from_secs(10),
        |v| v > 10.0,
    );
    prom.wait("vigil_rules_loaded", Duration::from_secs(10), |v| v > 10.0);
    prom.wait(
        "process_resident_memory_bytes",
        Duration::from_secs(10),
        |v| v > 1e6,
    );
    prom.wait("vigil_ready", Duration::from_secs(10), |v| v == 1.0);
    // The default 8 MiB ring buffer, read from the map's own positions.
    prom.wait(
        "vigil_ring_buffer_size_bytes",
        Duration::from_secs(10),
        |v| v == f64::from(8u32 << 20),
    );
    prom.wait(
        "vigil_ring_buffer_used_bytes",
        Duration::from_secs(10),
        |v| (0.0..f64::from(8u32 << 20)).contains(&v),
    );

    // Execs on the host: the execve counter moves.
    let q = r#"vigil_events_total{kind="execve"}"#;
    let before = prom.wait(q, Duration::from_secs(10), |_| true);
    for _ in 0..20 {
        Command::new("/bin/true").status().unwrap();
    }
    prom.wait(q, Duration::from_secs(20), |v| v >= before + 20.0);

    // An alert in a container: its rule's counter appears and moves.
    let c = Container::start().expect("start a test container");
    c.exec_ok(&["sh", "-c", "echo from-exec"]).unwrap();
    let q = r#"vigil_alerts_total{rule="Shell in container exec session",priority!=""}"#;
    let n = prom.wait(q, Duration::from_secs(20), |v| v >= 1.0);
    c.exec_ok(&["sh", "-c", "echo again"]).unwrap();
    prom.wait(q, Duration::from_secs(20), |v| v > n);
    // The alerts went out through the default output, stdout.
    prom.wait(
        r#"vigil_output_sent_total{output="stdout"}"#,
        Duration::from_secs(20),
        |v| v >= n + 1.0,
    );
    prom.wait(
        r#"vigil_output_dropped_total{output="stdout"}"#,
        Duration::from_secs(10),
        |v| v == 0.0,
    );

    // SIGHUP: a successful reload is counted.
    // SAFETY: kill on the agent's pid, which this test started.
    assert_eq!(unsafe { libc::kill(agent.pid() as i32, libc::SIGHUP) }, 0);
    prom.wait(
        r#"vigil_rules_reloads_total{result="success"}"#,
        Duration::from_secs(20),
        |v| v >= 1.0,
    );
    prom.wait(
        "vigil_rules_last_load_success",
        Duration::from_secs(5),
        |v| v == 1.0,
    );
    let stopped = agent.stop().expect("stop the agent");
    assert!(stopped.status.success(), "{:?}", stopped.status);
}

/// A Docker socket that accepts connections and never answers: a daemon
/// that hangs. Connections are held until drop.
struct HungSocket {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HungSocket {
    fn start(path: &std::path::Path) -> HungSocket {
        use std::sync::atomic::Ordering;
        let listener = std::os::unix::net::UnixListener::bind(path).expect("bind the socket");
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        HungSocket {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HungSocket {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A cgroup directory, removed on drop.
struct TestCgroup(Vec<std::path::PathBuf>);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// The metric's value in the agent's own `/metrics` text.
fn metric(listen: SocketAddr, line_prefix: &str) -> Option<f64> {
    let body = get(listen, "/metrics").ok()?.body;
    body.lines()
        .find_map(|l| l.strip_prefix(line_prefix)?.trim().parse().ok())
}

/// A Docker container appears (its cgroup is created) while the Docker
/// socket hangs: the lookup times out, is retried and given up, and
/// `/metrics` counts it all, while the agent stays ready.
#[test]
fn metadata_lookup_timeouts_and_retries_are_in_metrics() {
    if !vigil_tests::require_root("load eBPF programs") || require_vigil_binary().is_none() {
        return;
    }
    let Some(root) = vigil_tests::podman::cgroup2_root() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no cgroup v2 hierarchy, and CI is set"
        );
        return;
    };
    let dir = TempDir::new("vigil-metrics-meta").unwrap();
    let socket = dir.path().join("docker.sock");
    let _hung = HungSocket::start(&socket);
    let port = free_port().unwrap();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let agent = Agent::builder(["run", "--listen", &listen.to_string(), "--docker-socket"])
        .arg(&socket)
        .echo(false)
        .start()
        .expect("start vigil run");
    let prefix = r#"vigil_metadata_lookups_total{result="requested"} "#;
    // The counters appear with the first published snapshot (once a
    // second). Other containers on the host may be looked up too: counts
    // only grow, so the test asks for its own lookup's share below.
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(listen, prefix).is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let failed = r#"vigil_metadata_lookups_total{result="failed"} "#;
    let timeouts = "vigil_metadata_lookup_timeouts_total ";
    let retries = "vigil_metadata_lookup_retries_total ";
    let now = |p: &str| metric(listen, p).unwrap_or_else(|| panic!("no {p:?} in /metrics"));
    let before: Vec<f64> = [prefix, failed, timeouts, retries].map(now).into();

    // A cgroup shaped like a Docker container's (systemd driver), under a
    // parent of this test's own.
    let parent = root.join(format!("vigil-metrics-{}", std::process::id()));
    let id: String = format!("{:064x}", u128::from(std::process::id()) << 64 | 0x5eed);
    let scope = parent.join(format!("docker-{id}.scope"));
    let _cg = TestCgroup(vec![parent.clone(), scope.clone()]);
    std::fs::create_dir(&parent).expect("create the test cgroup");
    std::fs::create_dir(&scope).expect("create the container cgroup");

    // Three attempts of 2 s each, with backoff: given up within ~10 s.
    // Wait for this lookup's own timeouts: other containers on the host
    // (a CRI pod of another test) may fail their lookups meanwhile.
    let deadline = Instant::now() + Duration::from_secs(30);
    while (now(failed) <= before[1] || now(timeouts) < before[2] + 2.0) && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(250));
    }
    let body = get(listen, "/metrics").unwrap().body;
    let after: Vec<f64> = [prefix, failed, timeouts, retries].map(now).into();
    let grew = |i: usize| after[i] - before[i];
    assert!(grew(0) >= 1.0, "the container was looked up:\n{body}");
    assert!(grew(1) >= 1.0, "the lookup was given up:\n{body}");
    assert!(grew(2) >= 2.0, "every attempt timed out:\n{body}");
    assert!(grew(3) >= 1.0, "and was retried:\n{body}");
    // The hung socket never stalled the pipeline.
    assert_eq!(get(listen, "/healthz").unwrap().status, 200);
    assert_eq!(now("vigil_ready "), 1.0, "{body}");
    drop(agent);
}
