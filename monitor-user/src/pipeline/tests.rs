use super::*;
use crate::enrich::tests::*;
use monitor_common::{EventKind, SyscallId};
use std::collections::VecDeque;
use tokio::sync::oneshot;

/// Hands out prepared batches; then either reports exhaustion or waits
/// forever (like an idle ring buffer) after signalling `drained`.
struct Synthetic {
    batches: VecDeque<Vec<Record>>,
    eof: bool,
    drained: Option<oneshot::Sender<()>>,
    handed: u64,
}

impl RecordSource for Synthetic {
    async fn read_batch(&mut self, out: &mut Vec<Record>) -> io::Result<()> {
        match self.batches.pop_front() {
            Some(b) => {
                self.handed += b.len() as u64;
                out.extend(b);
                Ok(())
            }
            None if self.eof => Err(io::ErrorKind::UnexpectedEof.into()),
            None => {
                if let Some(tx) = self.drained.take() {
                    let _ = tx.send(());
                }
                std::future::pending().await
            }
        }
    }

    fn stats(&self) -> SensorStats {
        SensorStats {
            records: self.handed,
            malformed: 2,
            kernel_drops: vec![(EventKind::Exec, 3), (EventKind::Syscall, 4)],
            throttled: 0,
        }
    }
}

fn batches() -> VecDeque<Vec<Record>> {
    let path = format!("/libpod_parent/libpod-{CID}");
    VecDeque::from([
        vec![
            cgroup_rec(true, 77, &path, 1),
            exec(
                10,
                1,
                77,
                2,
                &[b"/bin/sh", b"-c", b"cat /etc/shadow"],
                b"/bin/busybox",
                0,
            ),
        ],
        vec![],
        vec![
            syscall(
                10,
                77,
                3,
                SyscallId::Openat,
                3,
                [libc::AT_FDCWD as u64, 0, 0, 0, 0, 0],
                b"/etc/shadow",
                b"",
                b"",
            ),
            exit(10, 1, 77, 4, 0),
            cgroup_rec(false, 77, &path, 5),
        ],
    ])
}

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    let text = std::str::from_utf8(out).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

#[tokio::test]
async fn writes_every_event_until_the_source_ends() {
    let mut src = Synthetic {
        batches: batches(),
        eof: true,
        drained: None,
        handed: 0,
    };
    let mut out: Vec<u8> = Vec::new();
    let summary = run(
        Config::new(bare()),
        &mut src,
        Some(&mut out),
        std::future::pending::<()>(),
    )
    .await
    .unwrap();
    assert_eq!(summary.ended_by, EndReason::SourceExhausted);
    assert_eq!(summary.events, 5);
    let evs = lines(&out);
    let types: Vec<&str> = evs
        .iter()
        .map(|v| v["evt.type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "cgroup_mkdir",
            "execve",
            "openat",
            "procexit",
            "cgroup_rmdir"
        ]
    );
    for v in &evs[1..4] {
        assert_eq!(v["container.id"], &CID[..12], "{v}");
    }
    assert_eq!(evs[2]["fd.name"], "/etc/shadow");
    assert_eq!(evs[2]["proc.exepath"], "/bin/busybox");
    assert_eq!(evs[2]["proc.cmdline"], "sh -c cat /etc/shadow");
    let nums: Vec<u64> = evs.iter().map(|v| v["evt.num"].as_u64().unwrap()).collect();
    assert_eq!(nums, [1, 2, 3, 4, 5]);
    assert_eq!(summary.stats_reports, 1, "the final stats line");
}

#[tokio::test]
async fn shutdown_stops_a_waiting_source_and_flushes() {
    let (tx, rx) = oneshot::channel();
    let mut src = Synthetic {
        batches: batches(),
        eof: false,
        drained: Some(tx),
        handed: 0,
    };
    let mut out: Vec<u8> = Vec::new();
    let summary = run(Config::new(bare()), &mut src, Some(&mut out), rx)
        .await
        .unwrap();
    assert_eq!(summary.ended_by, EndReason::Shutdown);
    assert_eq!(lines(&out).len(), 5);
    assert_eq!(summary.stats.records, 5);
}

/// Hands out one batch, then waits; what it still holds at shutdown
/// comes out of `finish`, as a sensor's ring does.
struct Unread {
    first: Option<Vec<Record>>,
    unread: Vec<Record>,
    waiting: Option<oneshot::Sender<()>>,
}

impl RecordSource for Unread {
    async fn read_batch(&mut self, out: &mut Vec<Record>) -> io::Result<()> {
        if let Some(b) = self.first.take() {
            out.extend(b);
            return Ok(());
        }
        if let Some(tx) = self.waiting.take() {
            let _ = tx.send(());
        }
        std::future::pending().await
    }

    fn stats(&self) -> SensorStats {
        SensorStats::default()
    }

    fn finish(&mut self, out: &mut Vec<Record>) {
        out.append(&mut self.unread);
    }
}

#[tokio::test]
async fn shutdown_processes_what_the_source_still_holds() {
    let mut all = batches();
    let first = all.pop_front();
    let (tx, rx) = oneshot::channel();
    let mut src = Unread {
        first,
        unread: all.into_iter().flatten().collect(),
        waiting: Some(tx),
    };
    let mut out: Vec<u8> = Vec::new();
    let summary = run(Config::new(bare()), &mut src, Some(&mut out), rx)
        .await
        .unwrap();
    assert_eq!(summary.ended_by, EndReason::Shutdown);
    assert_eq!(
        lines(&out).len(),
        5,
        "events read before and drained at shutdown"
    );
    assert!(src.unread.is_empty());
}

#[tokio::test]
async fn runs_without_an_events_output() {
    let mut src = Synthetic {
        batches: batches(),
        eof: true,
        drained: None,
        handed: 0,
    };
    let summary = run(
        Config::new(bare()),
        &mut src,
        None::<&mut Vec<u8>>,
        std::future::pending::<()>(),
    )
    .await
    .unwrap();
    assert_eq!(summary.events, 5);
}

#[tokio::test(start_paused = true)]
async fn logs_stats_periodically() {
    let mut src = Synthetic {
        batches: VecDeque::new(),
        eof: false,
        drained: None,
        handed: 0,
    };
    let cfg = Config {
        stats_interval: Duration::from_secs(10),
        ..Config::new(bare())
    };
    // Time is paused: the runtime advances it while everything waits.
    let summary = run(
        cfg,
        &mut src,
        None::<&mut Vec<u8>>,
        tokio::time::sleep(Duration::from_secs(35)),
    )
    .await
    .unwrap();
    assert_eq!(summary.stats_reports, 4, "3 periodic + 1 final");
}

/// A `Write` the test can read back after the pipeline owns the sink.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn raises_alerts_with_the_default_rules() {
    use crate::detect::{Detector, RuleSpec};
    let mut src = Synthetic {
        batches: batches(),
        eof: true,
        drained: None,
        handed: 0,
    };
    let spec = RuleSpec::default();
    let (set, _) = spec.load().unwrap();
    let out = Shared::default();
    let sink = crate::sink::writer::AlertSink::new(Box::new(out.clone()));
    let (det, _reloader) = Detector::new(set, spec, "node-1".into());
    let mut cfg = Config::new(bare());
    cfg.alerting = Some(Alerting::new(det, sink, Default::default()));
    let summary = run(
        cfg,
        &mut src,
        None::<&mut Vec<u8>>,
        std::future::pending::<()>(),
    )
    .await
    .unwrap();
    let alerts = lines(&out.0.lock().unwrap());
    let rules: Vec<&str> = alerts.iter().map(|a| a["rule"].as_str().unwrap()).collect();
    // The synthetic shell has no known parent and is not the container's
    // init (vpid != 1), so it also counts as an exec session.
    assert_eq!(
        rules,
        [
            "Shell in container exec session",
            "Read of shadow or sudoers file in container"
        ]
    );
    assert_eq!(summary.alerts, 2);
    let f = &alerts[1]["output_fields"];
    assert_eq!(f["container.id"], &CID[..12]);
    assert_eq!(f["fd.name"], "/etc/shadow");
    assert_eq!(f["proc.cmdline"], "sh -c cat /etc/shadow");
    assert_eq!(alerts[1]["hostname"], "node-1");
}

#[tokio::test]
async fn the_resource_stage_emits_container_stats_events() {
    // A pure v2 tree holding the test container's cgroup.
    let dir = crate::testutil::TempDir::new("pipeline-resources");
    let cg = dir.path().join(format!("libpod_parent/libpod-{CID}"));
    std::fs::create_dir_all(&cg).unwrap();
    std::fs::write(cg.join("pids.current"), "3\n").unwrap();
    std::fs::write(cg.join("pids.max"), "10\n").unwrap();
    let mountinfo = dir.path().join("mountinfo");
    std::fs::write(
        &mountinfo,
        format!(
            "30 1 0:26 / {} rw - cgroup2 cgroup2 rw\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let layout = monitor_stateful::CgroupLayout::from_mountinfo_file(&mountinfo).unwrap();
    let mut b = batches();
    b.back_mut().unwrap().pop(); // keep the container (no rmdir)
    let mut src = Synthetic {
        batches: b,
        eof: false,
        drained: None,
        handed: 0,
    };
    let mut cfg = Config::new(bare());
    cfg.resources = Some(ResourceStage::new(layout, None));
    cfg.resource_interval = Duration::from_millis(100);
    let mut out: Vec<u8> = Vec::new();
    run(
        cfg,
        &mut src,
        Some(&mut out),
        tokio::time::sleep(Duration::from_millis(450)),
    )
    .await
    .unwrap();
    let stats: Vec<serde_json::Value> = lines(&out)
        .into_iter()
        .filter(|v| v["evt.type"] == "container_stats")
        .collect();
    assert!(stats.len() >= 3, "{} stats events", stats.len());
    for v in &stats {
        assert_eq!(v["container.id"], &CID[..12], "{v}");
        assert_eq!(v["container.pids.usage_pct"], 30.0, "{v}");
    }
}

struct Broken;
impl RecordSource for Broken {
    async fn read_batch(&mut self, _: &mut Vec<Record>) -> io::Result<()> {
        Err(io::Error::other("ring buffer gone"))
    }
    fn stats(&self) -> SensorStats {
        SensorStats::default()
    }
}

#[tokio::test]
async fn source_errors_end_the_run_with_an_error() {
    let err = run(
        Config::new(bare()),
        &mut Broken,
        None::<&mut Vec<u8>>,
        std::future::pending::<()>(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PipelineError::Source(_)), "{err}");
}

#[test]
fn stats_json_shape() {
    let s = SensorStats {
        records: 10,
        malformed: 1,
        kernel_drops: vec![(EventKind::Exec, 3), (EventKind::OomKill, 2)],
        throttled: 0,
    };
    let j = stats_json(&s, 9);
    assert_eq!(
            j,
            "{\"records\":10,\"events\":9,\"malformed\":1,\"kernel_drops\":{\"execve\":3,\"clone\":0,\"procexit\":0,\"syscall\":0,\"module_load\":0,\"cgroup_mkdir\":0,\"cgroup_rmdir\":0,\"oom_kill\":2,\"dns\":0,\"throttled\":0},\"total_drops\":5,\"throttled\":0}"
        );
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["total_drops"], 5);
}
