//! Replay: recorded, already-enriched events fed into the same output stage
//! as the live pipeline ([`crate::pipeline::Outputs`]), in log order. It is
//! a source, not a second pipeline: no enrichment is redone, so a log
//! replays identically on any machine. Reading streams segment by segment
//! (memory stays flat whatever the log size); damaged records are handed to
//! the caller and reading goes on. When only rules look at the events, the
//! events of types no rule can match are passed over without decoding.

use std::collections::BTreeMap;

use monitor_recorder::{Body, EventReader, LogReader, LossSource, ReadError};
use tokio::io::AsyncWrite;

use crate::event::{evt_type_test, Event};
use crate::pipeline::error::PipelineError;
use crate::pipeline::fanout::Outputs;
use crate::pipeline::query::Query;

/// Events between two writes of the JSON output.
const FLUSH_EVERY: usize = 4096;

/// What a replay read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Event records read (before filtering).
    pub read: u64,
    /// Events handed to the outputs.
    pub replayed: u64,
    /// Of those, events not decoded at all: no rule can match their type
    /// and nothing else looks at them. Included in `read` and `replayed`.
    pub passed_over: u64,
    /// Events lost when recording, by cause (from loss records).
    pub lost: BTreeMap<LossSource, u64>,
    /// Problems met (corrupt records, bad segments), torn tails excluded.
    pub damage: u64,
    pub truncated_tails: u64,
}

/// Feeds every recorded event of `log` that `query` accepts to `out`;
/// each read problem goes to `on_problem` and reading continues.
pub async fn replay<W: AsyncWrite + Unpin + ?Sized>(
    log: &LogReader,
    query: &Query,
    out: &mut Outputs<'_, W>,
    mut on_problem: impl FnMut(&ReadError),
) -> Result<ReplaySummary, PipelineError> {
    let mut s = ReplaySummary::default();
    let mut since_flush = 0;
    let mut reader = EventReader::<Box<Event>>::new(log);
    if query.only_time() {
        if let Some(wanted) = out.rule_types() {
            let wanted = evt_type_test(wanted);
            reader = reader.pass_over(move |payload| wanted(payload) == Some(false));
        }
    }
    for item in reader.by_ref() {
        match item {
            Ok(entry) => match entry.body {
                Body::Event(ev) => {
                    s.read += 1;
                    if query.matches(&ev) {
                        s.replayed += 1;
                        out.boxed_event(ev);
                        since_flush += 1;
                        if since_flush >= FLUSH_EVERY {
                            out.flush().await?;
                            since_flush = 0;
                        }
                    }
                }
                Body::Loss(l) => *s.lost.entry(l.source).or_default() += l.count,
            },
            Err(e) => {
                if e.is_truncated_tail() {
                    s.truncated_tails += 1;
                } else {
                    s.damage += 1;
                }
                on_problem(&e);
            }
        }
    }
    // Passed over: read, and matched by the query, but of no use to it.
    s.passed_over = reader.passed_over();
    s.read += s.passed_over;
    s.replayed += s.passed_over;
    out.flush().await?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{default_sources, Detector, RuleSpec};
    use crate::enrich::tests::bare;
    use crate::pipeline;
    use crate::pipeline::alerts::Alerting;
    use crate::sensor::SensorStats;
    use crate::sink::recorder::tests::records;
    use crate::sink::recorder::{open_log, EventRecorder, RecordConfig};
    use crate::sink::throttle::AlertRate;
    use crate::sink::writer::AlertSink;
    use crate::testutil::Once;
    use crate::testutil::TempDir;
    use monitor_rules::{LoadOptions, RuleSet, RuleSource};
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The default rules plus two that fire on the synthetic records.
    fn detector(out: &Shared) -> Alerting {
        let mut sources = default_sources();
        sources.push(RuleSource::new(
            "extra.yaml",
            r#"
- rule: Shadow read
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "shadow read by %proc.name (file=%fd.name pid=%proc.pid cmd=%proc.cmdline image=%container.image)"
  priority: WARNING
  tags: [credential-access, T1003.008]
- rule: Shell in container
  desc: d
  condition: evt.type = execve and container.id != host and proc.name in (sh, bash, cat)
  output: "exec %proc.exepath %proc.args in %container.id (parent=%proc.pname)"
  priority: NOTICE
  tags: [unexpected-exec, T1059]
"#,
        ));
        let (set, _) = RuleSet::load(&sources, &LoadOptions::default()).unwrap();
        let sink = AlertSink::new(Box::new(out.clone()));
        let det = Detector::new(set, RuleSpec::default(), "node-1".into()).0;
        Alerting::new(det, sink, AlertRate::default())
    }

    /// Same rules, same events: replay writes byte-identical alerts, in
    /// the same order, as the live pipeline that recorded them.
    #[tokio::test]
    async fn replay_reproduces_the_live_alerts() {
        let dir = TempDir::new("replay-alerts");
        let live = Shared::default();
        let mut cfg = pipeline::Config::new(bare());
        cfg.alerting = Some(detector(&live));
        cfg.recorder = Some(EventRecorder::open(dir.path(), &RecordConfig::default()).unwrap());
        let mut recs = records();
        recs.extend(records()); // a second round: pids reused, same rules
        let summary = pipeline::run(
            cfg,
            &mut Once::new(recs, SensorStats::default()),
            None::<&mut Vec<u8>>,
            std::future::pending::<()>(),
        )
        .await
        .unwrap();
        assert!(summary.alerts >= 4, "{} alerts", summary.alerts);

        let replayed = Shared::default();
        let mut out = Outputs::new(None::<&mut Vec<u8>>, Some(detector(&replayed)), None);
        let log = open_log(&[dir.path()]).unwrap();
        let s = replay(&log, &Query::default(), &mut out, |e| panic!("{e}"))
            .await
            .unwrap();
        assert_eq!((s.read, s.replayed, s.damage), (22, 22, 0));
        assert!(s.passed_over > 0, "exits and cgroup events match no rule");
        assert_eq!(out.alerts(), summary.alerts);
        let a = live.0.lock().unwrap().clone();
        assert!(!a.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&replayed.0.lock().unwrap())
        );

        // Writing event lines needs every event decoded: nothing passed
        // over, and the same alerts.
        let full = Shared::default();
        let mut lines = Vec::new();
        let mut out = Outputs::new(Some(&mut lines), Some(detector(&full)), None);
        let s = replay(&log, &Query::default(), &mut out, |e| panic!("{e}"))
            .await
            .unwrap();
        drop(out);
        assert_eq!((s.read, s.passed_over), (22, 0));
        assert_eq!(
            lines
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            22
        );
        assert_eq!(*full.0.lock().unwrap(), *a);
    }

    /// The `--where` path: a rule-language condition selects events.
    #[tokio::test]
    async fn replay_with_a_condition_and_filters() {
        let dir = TempDir::new("replay-where");
        let mut rec = EventRecorder::open(dir.path(), &RecordConfig::default()).unwrap();
        let mut e = bare();
        let now = std::time::Instant::now();
        for r in records() {
            rec.record(e.enrich(&r, now), false);
        }
        rec.close().unwrap();
        let log = open_log(&[dir.path()]).unwrap();
        let set = RuleSet::load(&default_sources(), &LoadOptions::default())
            .unwrap()
            .0;
        let q = Query {
            condition: Some(crate::pipeline::query::Condition {
                filter: set
                    .filter("fd.name startswith /etc/ and container.id != host")
                    .unwrap(),
                hostname: "h".into(),
            }),
            ..Query::default()
        };
        let mut json = Vec::new();
        let mut out = Outputs::new(Some(&mut json), None, None);
        let s = replay(&log, &q, &mut out, |e| panic!("{e}")).await.unwrap();
        assert_eq!((s.read, s.replayed), (11, 1));
        drop(out);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["fd.name"], "/etc/shadow");
        let q = Query {
            pid: Some(11),
            types: vec!["execve".into(), "procexit".into()],
            ..Query::default()
        };
        let mut out = Outputs::new(None::<&mut Vec<u8>>, None, None);
        let s = replay(&log, &q, &mut out, |e| panic!("{e}")).await.unwrap();
        assert_eq!(s.replayed, 2);
    }
}
