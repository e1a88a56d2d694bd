//! The recorder stage of the pipeline: every enriched [`Event`] goes to a
//! segmented flight-recorder log (`vigil run --record DIR`), and so do the
//! losses upstream of it (kernel ring-buffer drops, undecodable records), so
//! a log shows where it has holes. Encoding is postcard of [`Event`] under
//! the schema name [`EVENT_SCHEMA`]; the byte format is `docs/log-format.md`.
//! Reading back is [`open_log`] + [`monitor_recorder::EventReader<Event>`].

use std::path::Path;
use std::time::Duration;

use monitor_recorder::{Config, LogReader, LossSource, ReadError, Recorder, Stats, WriteError};

use crate::event::Event;
use crate::sensor::SensorStats;
use crate::sink::record_budget::RecordBudget;

/// Names the payload of event records: postcard of [`Event`]. Bump the
/// suffix on any change to `Event` other than appending an enum variant.
pub const EVENT_SCHEMA: &str = "vigil.event/9";

/// Rotation and retention of `--record`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordConfig {
    pub segment_bytes: u64,
    pub segment_age: Duration,
    /// `None`: keep whatever the size.
    pub retention_bytes: Option<u64>,
    /// `None`: keep whatever the age.
    pub retention_age: Option<Duration>,
    /// Syscall events per cgroup, kind and minute kept in the log;
    /// `None`: all ([`crate::sink::record_budget`]).
    pub flood_budget: Option<u32>,
}

impl Default for RecordConfig {
    fn default() -> Self {
        let d = Config::default();
        RecordConfig {
            segment_bytes: d.max_segment_bytes,
            segment_age: d.max_segment_age,
            retention_bytes: d.retention_bytes,
            retention_age: d.retention_age,
            flood_budget: Some(crate::sink::record_budget::DEFAULT_PER_MINUTE),
        }
    }
}

impl RecordConfig {
    fn to_recorder(&self) -> Config {
        Config {
            max_segment_bytes: self.segment_bytes,
            max_segment_age: self.segment_age,
            retention_bytes: self.retention_bytes,
            retention_age: self.retention_age,
            schema: EVENT_SCHEMA.into(),
            writer_info: format!(
                "vigil {} pid {}",
                env!("CARGO_PKG_VERSION"),
                std::process::id()
            ),
            ..Config::default()
        }
    }
}

/// Records events without ever blocking the pipeline; losses are counted
/// by the recorder and written into the log as loss records.
pub struct EventRecorder {
    rec: Recorder<Event>,
    /// A flooding cgroup's repeated events, summarised.
    budget: Option<RecordBudget>,
    /// The budget's summaries, waiting to be recorded.
    summaries: Vec<Event>,
    /// Source counters already reported as losses (they are cumulative).
    seen_kernel_drops: u64,
    seen_malformed: u64,
}

impl EventRecorder {
    pub fn open(dir: &Path, cfg: &RecordConfig) -> Result<EventRecorder, WriteError> {
        Ok(EventRecorder {
            rec: Recorder::open(dir, cfg.to_recorder())?,
            budget: cfg.flood_budget.map(RecordBudget::new),
            summaries: Vec::new(),
            seen_kernel_drops: 0,
            seen_malformed: 0,
        })
    }

    /// Queues one event, stamped with its own wall-clock time, unless the
    /// flood budget summarises it (`alerted`: it raised an alert, so it is
    /// kept). A full queue drops it, counted in [`EventRecorder::stats`]
    /// and in the log.
    pub fn record(&mut self, ev: Event, alerted: bool) {
        let keep = match &mut self.budget {
            Some(b) => b.admit(&ev, alerted, &mut self.summaries),
            None => true,
        };
        self.write_summaries();
        if keep {
            self.rec.record(ev.wall_ns, ev);
        }
    }

    /// Events the flood budget summarised so far.
    pub fn summarised(&self) -> u64 {
        self.budget.as_ref().map_or(0, |b| b.held)
    }

    /// Records the summaries of the budget windows that ended before
    /// `boot_ns` (`u64::MAX`: all).
    pub fn expire_budget(&mut self, boot_ns: u64) {
        if let Some(b) = &mut self.budget {
            b.expire(boot_ns, &mut self.summaries);
        }
        self.write_summaries();
    }

    fn write_summaries(&mut self) {
        for s in self.summaries.drain(..) {
            self.rec.record(s.wall_ns, s);
        }
    }

    /// Turns growth of the source's cumulative drop counters into loss
    /// records: kernel ring-buffer drops and records the agent could not
    /// decode.
    pub fn note_source(&mut self, s: &SensorStats) {
        let drops = s.total_drops();
        if drops > self.seen_kernel_drops {
            self.rec
                .report_loss(LossSource::KernelRingBuffer, drops - self.seen_kernel_drops);
            self.seen_kernel_drops = drops;
        }
        if s.malformed > self.seen_malformed {
            self.rec
                .report_loss(LossSource::Sensor, s.malformed - self.seen_malformed);
            self.seen_malformed = s.malformed;
        }
    }

    pub fn stats(&self) -> Stats {
        self.rec.stats()
    }

    /// Waits until everything queued so far is on disk.
    pub fn flush(&self) -> Result<(), WriteError> {
        self.rec.flush().map(drop)
    }

    /// Drains the queue, writes pending loss records, closes the segment
    /// with a footer and syncs (the SIGTERM path).
    pub fn close(mut self) -> Result<Stats, WriteError> {
        self.expire_budget(u64::MAX);
        self.rec.close()
    }
}

/// A reader over recorded logs (directories and/or segment files), refusing
/// segments of another schema.
pub fn open_log<P: AsRef<Path>>(paths: &[P]) -> Result<LogReader, ReadError> {
    Ok(LogReader::open_many(paths)?.expect_schema(EVENT_SCHEMA))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::enrich::tests::*;
    use crate::event::Data;
    use crate::pipeline;
    use crate::testutil::Once;
    use crate::testutil::TempDir;
    use monitor_common::decode::Record;
    use monitor_common::{EventKind, SyscallId};
    use monitor_recorder::{Body, EventReader};
    use std::time::Instant;

    /// Records of every kind, as the sensor would deliver them: a container
    /// starts, its shell forks and execs, opens, connects, mounts, exits.
    pub(crate) fn records() -> Vec<Record> {
        let path = format!("/libpod_parent/libpod-{CID}");
        let connect = connect_loopback(11, 77, 6, 0);
        let answer = dns_answer(11, 77, 6, "cache.example.com", [127, 0, 0, 1]);
        vec![
            cgroup_rec(true, 77, &path, 1),
            exec(
                10,
                1,
                77,
                2,
                &[b"/bin/sh", b"-c", b"cat /etc/shadow"],
                b"/bin/busybox",
                // Its session and process group: it leads both.
                monitor_common::records::exec_flags::SESSION_KNOWN,
            ),
            fork(10, 1, 11, 77, 3, 0),
            exec(
                11,
                10,
                77,
                4,
                &[b"/bin/cat", b"/etc/shadow"],
                b"/bin/busybox",
                0,
            ),
            syscall(
                11,
                77,
                5,
                SyscallId::Openat,
                3,
                [libc::AT_FDCWD as u64, 0, 0, 0, 0, 0],
                b"/etc/shadow",
                b"",
                b"",
            ),
            answer,
            connect,
            syscall(
                10,
                77,
                7,
                SyscallId::Mount,
                -1,
                [0, 0, 0, libc::MS_BIND, 0, 0],
                b"/dev/sda1",
                b"/mnt",
                b"ext4",
            ),
            exit(11, 10, 77, 8, 0),
            exit(10, 1, 77, 9, 9),
            cgroup_rec(false, 77, &path, 10),
        ]
    }

    /// Events of every `Data` kind, enriched by the real enricher.
    pub(crate) fn events() -> Vec<Event> {
        let mut e = bare();
        let now = Instant::now();
        let mut evs: Vec<Event> = records().iter().map(|r| e.enrich(r, now)).collect();
        // No record helpers for these two kinds: reuse an enriched event.
        let mut m = evs[1].clone();
        m.data = Data::ModuleLoad {
            name: "evil_rootkit".into(),
        };
        let mut o = evs[1].clone();
        o.data = Data::OomKill {
            victim_pid: 11,
            victim_name: Some("cat".into()),
        };
        let mut st = evs[1].clone();
        st.data = Data::ContainerStats(Box::new(crate::event::StatsData {
            values: vec![
                ("container.fork_rate[10s]".into(), 12.5),
                ("user.nproc".into(), 31.0),
            ],
            nproc_top_container: Some("82ac0468654e".into()),
            inotify_top_container: Some("82ac0468654e".into()),
            io_stalled_container: Some("1f2e3d4c5b6a (41% stalled on I/O)".into()),
            fs: Some(crate::event::FsFill {
                path: "/var/lib/containers/storage".into(),
                top_writer: Some("82ac0468654e".into()),
                writers: "82ac0468654e +812 MiB in volume /data".into(),
            }),
        }));
        let mut b = evs[0].clone();
        b.baseline = Some(crate::event::BaselineMark {
            in_baseline: false,
            diff: "executable /usr/bin/nc is not in the baseline".into(),
        });
        // A container with who started it.
        let mut cr = evs[1].clone();
        cr.container = std::sync::Arc::new(crate::event::Container {
            id: "82ac0468654e".into(),
            full_id: Some(format!("82ac0468654e{}", "0".repeat(52))),
            runtime: crate::event::Runtime::Docker,
            creator: Some(std::sync::Arc::new(crate::event::container::Creator {
                via: Some("/run/docker.sock".into()),
                pid: Some(4242),
                uid: Some(1001),
                loginuid: Some(1001),
                user: Some("alice".into()),
                cmdline: Some("docker run -v /:/host img".into()),
                // The Docker socket mounted into another container.
                container_id: Some("1f2e3d4c5b6a".into()),
                ..Default::default()
            })),
            ..Default::default()
        });

        let mut t = evs[1].clone();
        t.data = Data::Throttled(crate::event::ThrottleData {
            by: crate::event::Throttler::Kernel,
            kind: "openat".into(),
            count: 125_000,
            window_ns: 1_000_000_000,
        });
        // A process with a login user (read from the container's passwd).
        let mut lg = evs[1].clone();
        std::sync::Arc::make_mut(&mut lg.process).login_name = Some("alice".into());
        // A process with an environment, under ancestors with their own:
        // the parent's differs in `_`, the grandparent's is the parent's.
        let mut en = evs[3].clone();
        let env = |e: &[&str]| Some(e.iter().map(|s| s.to_string()).collect());
        let x = std::sync::Arc::make_mut(&mut std::sync::Arc::make_mut(&mut en.process).exec);
        x.env = env(&["HOME=/root", "PATH=/usr/bin:/bin", "_=/bin/cat"]);
        x.ancestors = vec![
            crate::event::Ancestor {
                pid: 10,
                name: "sh".into(),
                exe: Some("/bin/sh".into()),
                exepath: Some("/bin/busybox".into()),
                env: env(&["HOME=/root", "PATH=/usr/bin:/bin", "_=/bin/sh"]),
            },
            crate::event::Ancestor {
                pid: 1,
                name: "init".into(),
                exe: None,
                exepath: None,
                env: None,
            },
        ];
        evs.extend([m, o, st, b, cr, t, lg, en]);
        evs
    }

    #[test]
    fn postcard_round_trips_every_kind_and_reports_bytes_per_event() {
        let evs = events();
        let kinds: std::collections::BTreeSet<&str> = evs
            .iter()
            .map(|e| match e.data {
                Data::Exec(_) => "exec",
                Data::Clone(_) => "clone",
                Data::Exit(_) => "exit",
                Data::Syscall(_) => "syscall",
                Data::ModuleLoad { .. } => "module",
                Data::CgroupMkdir(_) => "mkdir",
                Data::CgroupRmdir(_) => "rmdir",
                Data::OomKill { .. } => "oom",
                Data::ContainerStats(_) => "stats",
                Data::Dns(_) => "dns",
                Data::Throttled(_) => "throttled",
            })
            .collect();
        assert_eq!(kinds.len(), 11, "every kind: {kinds:?}");
        let mut payload = 0;
        let mut json = 0;
        for ev in &evs {
            let bytes = monitor_recorder::typed::encode_into(ev, Vec::new()).unwrap();
            let back: Event = monitor_recorder::typed::decode(&bytes).unwrap();
            assert_eq!(&back, ev);
            payload += bytes.len();
            let mut j = Vec::new();
            crate::sink::events::write_line(ev, &mut j);
            json += j.len();
        }
        let n = evs.len();
        let framed = payload + n * monitor_recorder::format::FRAME_OVERHEAD;
        println!(
            "bytes/event: payload {:.0}, on disk {:.0} (with framing), JSON line {:.0}",
            payload as f64 / n as f64,
            framed as f64 / n as f64,
            json as f64 / n as f64
        );
        assert!(framed < json, "the log must be more compact than JSON");
    }

    /// The pipeline's recorder stage: what `--events` prints is exactly
    /// what the log holds, kernel drops become loss records, and closing
    /// leaves a clean, verified log.
    #[tokio::test]
    async fn run_records_every_event_and_the_losses() {
        let dir = TempDir::new("record");
        let mut cfg = pipeline::Config::new(bare());
        cfg.recorder = Some(EventRecorder::open(dir.path(), &RecordConfig::default()).unwrap());
        let mut json: Vec<u8> = Vec::new();
        let summary = pipeline::run(
            cfg,
            &mut Once::new(
                records(),
                SensorStats {
                    records: 10,
                    malformed: 2,
                    kernel_drops: vec![(EventKind::Exec, 3), (EventKind::Syscall, 4)],
                    throttled: 0,
                },
            ),
            Some(&mut json),
            std::future::pending::<()>(),
        )
        .await
        .unwrap();
        let rs = summary.recorder.expect("recorder stats");
        assert_eq!((rs.written, rs.dropped, rs.failed), (11, 0, 0));
        assert_eq!(rs.loss_records, 2, "kernel drops and malformed records");

        let log = open_log(&[dir.path()]).unwrap();
        let mut replayed = Vec::new();
        let mut losses = Vec::new();
        for e in EventReader::<Event>::new(&log) {
            match e.unwrap().body {
                Body::Event(ev) => crate::sink::events::write_line(&ev, &mut replayed),
                Body::Loss(l) => losses.push((l.source, l.count)),
            }
        }
        assert_eq!(
            String::from_utf8(replayed).unwrap(),
            String::from_utf8(json).unwrap()
        );
        losses.sort();
        assert_eq!(
            losses,
            [(LossSource::KernelRingBuffer, 7), (LossSource::Sensor, 2)]
        );
        let v = monitor_recorder::verify(dir.path()).unwrap();
        assert!(v.is_intact() && v.truncated_tails.is_empty(), "{v}");
        assert_eq!(v.segments_closed, v.segments, "closed with a footer");
        // The events' contexts went in as definitions (once each).
        assert!(v.definitions > 0 && v.definitions < 4 * 11, "{v}");
    }

    #[test]
    fn stats_object_shape() {
        let s = monitor_recorder::Stats {
            written: 5,
            dropped: 1,
            bytes: 99,
            ..Default::default()
        };
        let v = serde_json::to_value(crate::pipeline::stats::RecorderStats::from(&s)).unwrap();
        assert_eq!(
            (
                v["written"].as_u64(),
                v["dropped"].as_u64(),
                v["bytes"].as_u64()
            ),
            (Some(5), Some(1), Some(99))
        );
    }

    #[test]
    fn a_log_of_another_schema_is_refused_by_name() {
        let dir = TempDir::new("schema");
        let cfg = monitor_recorder::Config {
            schema: "other.thing/3".into(),
            ..Default::default()
        };
        let rec = monitor_recorder::Recorder::<u32>::open(dir.path(), cfg).unwrap();
        rec.record(1, 7);
        rec.close().unwrap();
        let log = open_log(&[dir.path()]).unwrap();
        let err = EventReader::<Event>::new(&log).next().unwrap().unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("other.thing/3") && msg.contains(EVENT_SCHEMA),
            "{msg}"
        );
    }

    /// The encoding of every kind of event, pinned per schema name: an
    /// encoding change without a new [`EVENT_SCHEMA`] fails here, so old logs
    /// are never misread. After a deliberate change, bump the schema and run
    /// once with `VIGIL_BLESS_SCHEMA=1` to write the new golden file.
    #[test]
    fn encoding_is_pinned_by_the_schema_name() {
        let mut bytes = Vec::new();
        // Each event whole, as encoded outside a log...
        for ev in events() {
            let one = monitor_recorder::typed::encode_into(&ev, Vec::new()).unwrap();
            bytes.extend_from_slice(&(one.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&one);
        }
        // ... and the records a recorder writes for them (definitions of
        // the shared values, then the events naming them by number).
        let dir = TempDir::new("pinned");
        let mut rec = EventRecorder::open(dir.path(), &RecordConfig::default()).unwrap();
        for ev in events() {
            rec.record(ev, false);
        }
        rec.close().unwrap();
        for r in open_log(&[dir.path()]).unwrap().records() {
            let r = r.unwrap();
            bytes.push(r.kind.to_byte());
            bytes.extend_from_slice(&(r.payload.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&r.payload);
        }
        let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(format!("{}.bin", EVENT_SCHEMA.replace('/', "-")));
        if std::env::var_os("VIGIL_BLESS_SCHEMA").is_some() {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &bytes).unwrap();
        }
        let want = std::fs::read(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: a new schema needs its golden file (VIGIL_BLESS_SCHEMA=1)",
                golden.display()
            )
        });
        assert!(
            bytes == want,
            "the event encoding changed but the schema is still {EVENT_SCHEMA}: bump EVENT_SCHEMA \
             (and docs/log-format.md), then bless the new golden file"
        );
    }
}
