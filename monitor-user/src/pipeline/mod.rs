//! The agent's main loop: records in, enriched events out, stats on the side.
//!
//! [`run`] reads batches from a [`RecordSource`] (the eBPF sensor in
//! production, synthetic records in tests), enriches every record, writes
//! each event as a JSON line, logs a `stats {json}` line every
//! `stats_interval` and once at the end, and returns when the `shutdown`
//! future completes (the binary passes SIGINT/SIGTERM; tests pass whatever
//! they like), after flushing its output. With a [`Detector`] it also
//! matches every event against the rules and writes the alerts. This is mini-redis's
//! `run(config, shutdown)` shape: nothing in here knows about signals.
//!
//! Between enrichment and the outputs, the retry cache
//! ([`crate::enrich::hold`]) keeps the events of a container whose runtime
//! has not answered yet, briefly, so they go out with its names.
//!
//! Everything after enrichment is one stage, [`Outputs`] (events JSON,
//! recorder; rules → alerts), shared with `vigil replay`, which feeds it
//! recorded, already-enriched events instead ([`crate::pipeline::replay`]).

pub mod alerts;
mod error;
pub mod fanout;
pub mod loss;
pub mod query;
pub mod replay;
pub mod stats;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_common::decode::Record;
use tokio::io::AsyncWrite;

use crate::enrich::hold::Hold;
use crate::enrich::Enricher;
use crate::event::{Clock, Event};
use crate::pipeline::alerts::Alerting;
use crate::serve::state::AgentState;
use crate::sink::recorder::EventRecorder;
use crate::stage::baselines::BaselineStage;
use crate::stage::resources::ResourceStage;

pub use crate::sensor::{RecordSource, SensorStats};
pub use error::PipelineError;
pub use fanout::Outputs;
pub use stats::stats_json;
use stats::{log_stats, publish};

/// Pipeline settings and state it takes over.
pub struct Config {
    pub enricher: Enricher,
    /// Period of the `stats` log line.
    pub stats_interval: Duration,
    /// Period of process-table reaping and cgroup expiry.
    pub maintain_interval: Duration,
    /// Rules and the alert output; `None`: no detection.
    pub alerting: Option<Alerting>,
    /// `--record DIR`: every event also goes to the flight recorder.
    pub recorder: Option<EventRecorder>,
    /// Periodic `container_stats` events ([`crate::stage::resources`]).
    pub resources: Option<ResourceStage>,
    /// Period of the resource stage.
    pub resource_interval: Duration,
    /// `--learn-baselines DIR`: execs learned into / checked against their
    /// image's process baseline ([`crate::stage::baselines`]).
    pub baselines: Option<BaselineStage>,
    /// Health, readiness and counters for the HTTP listener
    /// ([`crate::serve`]): beaten and published about once a second.
    pub state: Option<Arc<AgentState>>,
    /// Events waiting for their container's metadata ([`crate::enrich::hold`]).
    pub hold: Hold,
    /// The events output's format.
    pub events_format: crate::sink::events::EventsFormat,
    /// Raises the agent's own event on a sustained kernel loss.
    pub loss: loss::LossWatch,
}

impl Config {
    pub fn new(enricher: Enricher) -> Config {
        Config {
            enricher,
            stats_interval: Duration::from_secs(60),
            maintain_interval: Duration::from_secs(1),
            alerting: None,
            recorder: None,
            resources: None,
            resource_interval: Duration::from_secs(1),
            baselines: None,
            state: None,
            hold: Hold::default(),
            events_format: Default::default(),
            loss: Default::default(),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub events: u64,
    /// Alerts written.
    pub alerts: u64,
    /// The final source statistics.
    pub stats: SensorStats,
    /// How many `stats` lines were logged (periodic and final).
    pub stats_reports: u64,
    /// Why the run ended.
    pub ended_by: EndReason,
    /// The recorder's final counters, when recording.
    pub recorder: Option<monitor_recorder::Stats>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Shutdown,
    SourceExhausted,
}

/// Run until `shutdown` completes or the source is exhausted. Events are
/// written to `events` as JSON lines when it is given.
pub async fn run<S, W, F>(
    mut config: Config,
    source: &mut S,
    events: Option<&mut W>,
    shutdown: F,
) -> Result<Summary, PipelineError>
where
    S: RecordSource,
    W: AsyncWrite + Unpin + ?Sized,
    F: Future,
{
    let mut shutdown = std::pin::pin!(shutdown);
    let mut stats_tick = tokio::time::interval_at(
        tokio::time::Instant::now() + config.stats_interval,
        config.stats_interval.max(Duration::from_millis(1)),
    );
    stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_maintain = Instant::now();
    let mut batch: Vec<Record> = Vec::with_capacity(1024);
    let mut out = Outputs::new(events, config.alerting.take(), config.recorder.take());
    out.set_events_format(config.events_format);
    let mut stats_reports = 0u64;
    if let Some(st) = config.resources.as_mut() {
        let n = st.seed(&mut config.enricher);
        log::info!("resources: sampling {n} running containers");
    }
    let mut resource_tick =
        tokio::time::interval(config.resource_interval.max(Duration::from_millis(10)));
    resource_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = config.state.take();
    let mut per_slot = [0u64; monitor_common::kinds::NUM_KIND_SLOTS as usize];
    // Fires only when no batch arrived for a second (select is biased):
    // then the ring buffer was polled and found empty.
    let mut beat = tokio::time::interval(Duration::from_secs(1));
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_publish: Option<Instant> = None;
    // Held events are re-resolved at least this often while any wait.
    let mut hold_tick = tokio::time::interval(Duration::from_millis(20));
    hold_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ready: Vec<Event> = Vec::with_capacity(1024);

    let result: Result<EndReason, PipelineError> = loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break Ok(EndReason::Shutdown),
            _ = stats_tick.tick() => {
                let stats = source.stats();
                out.note_source(&stats);
                log_stats(
                    &stats,
                    out.events(),
                    out.recorder_stats().as_ref(),
                    out.alert_stats(),
                    config.enricher.metadata_stats(),
                );
                stats_reports += 1;
            }
            _ = hold_tick.tick(), if !config.hold.is_empty() => {
                config.hold.release(&mut config.enricher, Instant::now(), false, &mut ready);
                emit(&mut config, &mut out, &mut ready);
                if let Err(e) = out.flush().await {
                    break Err(e);
                }
            }
            _ = resource_tick.tick(), if config.resources.is_some() => {
                if let Some(st) = config.resources.as_mut() {
                    st.set_fields(&out.rule_fields());
                    for ev in st.tick(source.cgroup_counters()) {
                        out.event(ev);
                    }
                    if let Err(e) = out.flush().await {
                        break Err(e);
                    }
                }
            }
            r = source.read_batch(&mut batch) => {
                match r {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break Ok(EndReason::SourceExhausted),
                    Err(e) => break Err(PipelineError::Source(e)),
                }
                let now = Instant::now();
                ingest(&mut config, &mut out, &mut batch, now, &mut per_slot, &mut ready);
                if let Err(e) = out.flush().await {
                    break Err(e);
                }
                if now.duration_since(last_maintain) >= config.maintain_interval {
                    config.enricher.maintain(now, Clock::boot_now());
                    save_baselines(config.baselines.as_mut());
                    let stats = source.stats();
                    out.note_source(&stats);
                    if let Some(ev) = config.loss.check(&stats, now, Clock::boot_now()) {
                        out.event(ev);
                    }
                    last_maintain = now;
                }
                if let Some(st) = &state {
                    publish(st, &mut last_publish, now, source, &per_slot, &mut config.enricher, &out);
                }
            }
            _ = beat.tick(), if state.is_some() => {
                if let Some(st) = &state {
                    publish(st, &mut last_publish, Instant::now(), source, &per_slot, &mut config.enricher, &out);
                }
            }
        }
    };
    // Whatever ended the run: take what the source already produced (a
    // shutdown must not lose what the kernel wrote), flush and report.
    if matches!(result, Ok(EndReason::Shutdown)) {
        source.finish(&mut batch);
        if !batch.is_empty() {
            log::debug!("shutdown: {} records drained from the source", batch.len());
        }
        ingest(
            &mut config,
            &mut out,
            &mut batch,
            Instant::now(),
            &mut per_slot,
            &mut ready,
        );
    }
    config
        .hold
        .release(&mut config.enricher, Instant::now(), true, &mut ready);
    emit(&mut config, &mut out, &mut ready);
    save_baselines(config.baselines.as_mut());
    let stats = source.stats();
    out.note_source(&stats);
    let n_events = out.events();
    let alerts = out.alerts();
    out.close_alerts().await;
    let alert_stats = out.alert_stats();
    let recorder = out.close().await;
    log_stats(
        &stats,
        n_events,
        recorder.as_ref().and_then(|r| r.as_ref().ok()),
        alert_stats,
        config.enricher.metadata_stats(),
    );
    stats_reports += 1;
    let ended_by = result?;
    let recorder = recorder.transpose().map_err(PipelineError::Recorder)?;
    Ok(Summary {
        events: n_events,
        alerts,
        stats,
        stats_reports,
        ended_by,
        recorder,
    })
}

/// The stages after enrichment (and the retry cache), then the outputs.
/// Enrich a batch of records, pass them through the metadata hold and emit
/// what is ready; `batch` is left empty.
fn ingest<W: AsyncWrite + Unpin + ?Sized>(
    config: &mut Config,
    out: &mut Outputs<'_, W>,
    batch: &mut Vec<Record>,
    now: Instant,
    per_slot: &mut [u64],
    ready: &mut Vec<Event>,
) {
    out.refresh_rules();
    for rec in batch.drain(..) {
        per_slot[rec.kind().slot() as usize] += 1;
        let ev = config.enricher.enrich(&rec, now);
        config.hold.admit(ev, now, ready);
    }
    config.hold.release(&mut config.enricher, now, false, ready);
    emit(config, out, ready);
}

fn emit<W: AsyncWrite + Unpin + ?Sized>(
    config: &mut Config,
    out: &mut Outputs<'_, W>,
    ready: &mut Vec<Event>,
) {
    for mut ev in ready.drain(..) {
        if let Some(b) = config.baselines.as_mut() {
            b.annotate(&mut ev);
        }
        if let Some(st) = config.resources.as_mut() {
            st.observe(&ev);
        }
        out.event(ev);
    }
}

fn save_baselines(b: Option<&mut BaselineStage>) {
    if let Some(b) = b {
        if let Err(e) = b.save() {
            log::warn!("saving baselines: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
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
}
