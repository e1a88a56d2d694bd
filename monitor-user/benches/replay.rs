//! Flight recorder throughput with vigil's enriched events: recording
//! through `EventRecorder` (queue + writer thread; drops counted, never
//! blocking) at a sensor's 300k events/s and flat out, and replaying the
//! log through the shared output stage with the embedded default rules
//! (`vigil replay`'s path). Prints events/s by wall clock and per CPU
//! second of the thread doing the work (one core's worth).
//! `cargo bench -p monitor-user --bench replay` (EVENTS=n to change the count;
//! RULES=DIR replays through the rule files in DIR instead of the defaults,
//! e.g. an older release's rules, to compare the engine on the same work;
//! LOG=DIR replays the log in DIR, e.g. a real recording, recording it
//! there first (and keeping it) only if DIR does not exist: a second run
//! then profiles the reading and replay alone). Last, the rules' cost per
//! event when one process's events follow each other (a flood).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

// The same allocator as the `vigil` binary, so the numbers are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use monitor_recorder::Stats as RecordStats;
use monitor_user::detect::{Detector, RuleSpec};
use monitor_user::event::{Data, Event};
use monitor_user::pipeline::alerts::Alerting;
use monitor_user::pipeline::query::Query;
use monitor_user::pipeline::Outputs;
use monitor_user::sink::recorder::{open_log, EventRecorder, RecordConfig};
use monitor_user::sink::writer::AlertSink;

fn cpu_secs() -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; zeroed is valid.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr());
        ru.assume_init()
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The scenario repeated with growing times and numbers, each round by
/// new processes (new pids running the same programs, as a shell loop
/// does): every process is new to a replay once, like in a real log.
fn events(n: usize) -> impl Iterator<Item = Event> {
    let base = common::scenario();
    (0..n).map(move |i| {
        let mut e = base[i % base.len()].clone();
        e.num = i as u64 + 1;
        e.wall_ns += i as u64 * 1_000;
        e.boot_ns += i as u64 * 1_000;
        let shift = (i / base.len()) as u32 * 1_000;
        let p = Arc::make_mut(&mut e.process);
        p.pid += shift;
        p.tid += shift;
        if p.ppid >= 100 {
            p.ppid += shift;
        }
        if let Data::Clone(c) = &mut e.data {
            c.child_pid += shift;
            c.child_tid += shift;
        }
        e
    })
}

/// Offers `n` events to a recorder in `dir`, `per_10ms` every 10 ms (as
/// fast as possible when `None`); returns what it wrote and dropped, the
/// wall seconds until closed and the CPU seconds of the offering thread.
fn record(dir: &std::path::Path, n: usize, per_10ms: Option<usize>) -> (RecordStats, f64, f64) {
    // Every event written: this measures the writer, not the flood budget.
    let cfg = RecordConfig {
        flood_budget: None,
        ..RecordConfig::default()
    };
    let mut rec = EventRecorder::open(dir, &cfg).expect("open recorder");
    let (t, c) = (Instant::now(), cpu_secs());
    for (i, ev) in events(n).enumerate() {
        if let Some(batch) = per_10ms {
            if i % batch == 0 && i > 0 {
                // Until this batch is due (a sleeping thread uses no CPU).
                let due = Duration::from_millis(10) * (i / batch) as u32;
                std::thread::sleep(due.saturating_sub(t.elapsed()));
            }
        }
        rec.record(ev, false);
    }
    let cpu = cpu_secs() - c;
    let stats = rec.close().expect("close");
    (stats, t.elapsed().as_secs_f64(), cpu)
}

/// Sections 1 and 2: records `n` events into `dir` at a sensor's pace
/// (kept for the replay), then `n / 2` flat out into `burst` (removed).
fn record_both(n: usize, dir: &std::path::Path, burst: &std::path::Path) {
    // 1. Recording at a sensor's peak rate: 300k events/s, in 10 ms batches.
    let (stats, _, cpu) = record(dir, n, Some(3_000));
    println!(
        "record at 300k events/s: {n} offered, {} written, {} dropped (counted), {:.0} bytes/event on disk, {:.2} us of agent CPU per event",
        stats.written,
        stats.dropped,
        stats.bytes as f64 / stats.written.max(1) as f64,
        cpu / n as f64 * 1e6
    );

    // 2. Recording flat out: what the writer thread sustains.
    let (stats, wall, _) = record(burst, n / 2, None);
    println!(
        "record flat out: {} offered, {} written, {} dropped (counted): the writer sustains {:.0} events/s",
        n / 2,
        stats.written,
        stats.dropped,
        stats.written as f64 / wall
    );
    let _ = std::fs::remove_dir_all(burst);
}

fn main() {
    let n: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = std::env::temp_dir().join(format!("vigil-bench-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let dir = std::env::var_os("LOG").map_or_else(|| tmp.join("paced"), Into::into);
    if !dir.exists() {
        record_both(n, &dir, &tmp.join("burst"));
    }

    // 3. Reading and decoding alone (the floor under any replay).
    let log = open_log(&[&dir]).expect("open log");
    let (t, c) = (Instant::now(), cpu_secs());
    let mut read = 0u64;
    for e in monitor_recorder::EventReader::<Event>::new(&log) {
        std::hint::black_box(e.expect("intact log"));
        read += 1;
    }
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
    println!(
        "read+decode: {read} events, {:.0} events/s wall, {:.0} events/s per CPU-second",
        read as f64 / wall,
        read as f64 / cpu.max(1e-9)
    );

    // 4. Replay through the default rules, alerts discarded. Three runs:
    // a shared machine's neighbours slow some of them down.
    let spec = match std::env::var_os("RULES") {
        Some(dir) => RuleSpec {
            paths: vec![dir.into()],
            no_defaults: true,
            strict: false,
        },
        None => RuleSpec::default(),
    };
    let (_, report) = spec.load().expect("rules");
    println!(
        "rules: {} loaded, {} enabled",
        report.loaded, report.enabled
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut best = 0f64;
    for run in 1..=3 {
        let (set, _) = spec.load().expect("rules");
        let det = Detector::new(set, spec.clone(), "bench".into()).0;
        let det = Alerting::new(
            det,
            AlertSink::new(Box::new(std::io::sink())),
            Default::default(),
        );
        let log = open_log(&[&dir]).expect("open log");
        let (t, c) = (Instant::now(), cpu_secs());
        let (s, alerts) = rt.block_on(async {
            let mut out = Outputs::new(None::<&mut tokio::io::Sink>, Some(det), None);
            let s =
                monitor_user::pipeline::replay::replay(&log, &Query::default(), &mut out, |e| {
                    panic!("{e}")
                })
                .await
                .unwrap();
            (s, out.alerts())
        });
        let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
        let rate = s.read as f64 / cpu.max(1e-9);
        best = best.max(rate);
        println!(
            "replay run {run}: {} events ({} of a type no rule matches, passed over undecoded), {alerts} alerts, {:.0} events/s wall, {rate:.0} events/s per CPU-second",
            s.read,
            s.passed_over,
            s.read as f64 / wall,
        );
    }
    println!("replay: {best:.0} events/s per CPU-second (best of 3, one core)");
    let _ = std::fs::remove_dir_all(&tmp);
    repeated_context(&spec);
}

/// Section 5: the rules' cost per event when its context repeats (a
/// process flooding one syscall, a long-lived service): each event of the
/// scenario checked many times in a row, as the live agent checks them.
fn repeated_context(spec: &RuleSpec) {
    const TIMES: u32 = 2_000_000;
    let (set, _) = spec.load().expect("rules");
    let det = Detector::new(set, spec.clone(), "bench".into()).0;
    let mut det = Alerting::new(
        det,
        AlertSink::new(Box::new(std::io::sink())),
        Default::default(),
    );
    let mut line = String::from("rules per event, context repeated:");
    for e in &common::scenario() {
        let c = cpu_secs();
        for _ in 0..TIMES {
            std::hint::black_box(det.check(std::hint::black_box(e)).expect("no sink error"));
        }
        let ns = (cpu_secs() - c) / f64::from(TIMES) * 1e9;
        line.push_str(&format!(" {} {ns:.0} ns,", e.evt_type()));
    }
    println!("{}", line.trim_end_matches(','));
}
