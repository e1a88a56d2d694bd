//! Flight recorder throughput with vigil's real enriched events: recording
//! through `EventRecorder` (queue + writer thread; drops counted, never
//! blocking) and replaying a log through the shared output stage with the
//! embedded default rules (`vigil replay`'s path). Prints events/s by wall
//! clock and per CPU second (one core's worth on a shared machine).
//! `cargo bench -p monitor-user --bench replay` (EVENTS=n to change the count).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

// The same allocator as the `vigil` binary, so the numbers are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use vigil::alerts::AlertSink;
use vigil::engine::{Detector, RuleSpec};
use vigil::event::Event;
use vigil::pipeline::Outputs;
use vigil::query::Query;
use vigil::record::{open_log, EventRecorder, RecordConfig};

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

/// The scenario repeated with growing times and numbers.
fn events(n: usize) -> impl Iterator<Item = Event> {
    let base = common::scenario();
    (0..n).map(move |i| {
        let mut e = base[i % base.len()].clone();
        e.num = i as u64 + 1;
        e.wall_ns += i as u64 * 1_000;
        e.boot_ns += i as u64 * 1_000;
        e
    })
}

fn main() {
    let n: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("vigil-bench-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    // 1. Recording at the agent's pace: offered as fast as one core can.
    let rec = EventRecorder::open(&dir, &RecordConfig::default()).expect("open recorder");
    let (t, c) = (Instant::now(), cpu_secs());
    for ev in events(n) {
        rec.record(ev);
    }
    let stats = rec.close().expect("close");
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
    println!(
        "record: {n} events offered, {} written, {} dropped (counted), {:.0} bytes/event on disk; {:.0} events/s wall, {:.0} events/s per CPU-second of the agent thread",
        stats.written,
        stats.dropped,
        stats.bytes as f64 / stats.written.max(1) as f64,
        n as f64 / wall,
        n as f64 / cpu.max(1e-9)
    );

    // 2. Reading and decoding alone (the floor under any replay).
    let log = open_log(&[&dir]).expect("open log");
    let (t, c) = (Instant::now(), cpu_secs());
    let mut read = 0u64;
    for e in vigil_recorder::EventReader::<Event>::new(&log) {
        std::hint::black_box(e.expect("intact log"));
        read += 1;
    }
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
    println!(
        "read+decode: {read} records, {:.0} events/s wall, {:.0} events/s per CPU-second",
        read as f64 / wall,
        read as f64 / cpu.max(1e-9)
    );

    // 3. Replay through the default rules, alerts discarded.
    let (set, report) = RuleSpec::default().load().expect("default rules");
    println!(
        "rules: {} loaded, {} enabled",
        report.loaded, report.enabled
    );
    let det = Detector::new(
        set,
        RuleSpec::default(),
        "bench".into(),
        AlertSink::new(Box::new(std::io::sink())),
    )
    .0;
    let log = open_log(&[&dir]).expect("open log");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (t, c) = (Instant::now(), cpu_secs());
    let (s, alerts) = rt.block_on(async {
        let mut out = Outputs::new(None::<&mut tokio::io::Sink>, Some(det), None);
        let s = vigil::replay::replay(&log, &Query::default(), &mut out, |e| panic!("{e}"))
            .await
            .unwrap();
        (s, out.alerts())
    });
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
    println!(
        "replay: {} events, {alerts} alerts, {:.0} events/s wall, {:.0} events/s per CPU-second (one core)",
        s.read,
        s.read as f64 / wall,
        s.read as f64 / cpu.max(1e-9)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
