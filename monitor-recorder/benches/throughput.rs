//! Recorder throughput on one core with realistic enriched events: the
//! writer path (encode + frame + buffered write), the whole recorder
//! (queue + writer thread + fdatasync), and reading back (raw frames and
//! decoded events). Prints records/s and bytes/record. Run with
//! `cargo bench -p monitor-recorder` (RECORDS=n to change the count).

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{sample, ts, SampleEvent};
use monitor_recorder::{Config, EventReader, LogReader, LogWriter, RecordKind, Recorder};

fn config() -> Config {
    Config {
        retention_bytes: None,
        retention_age: None,
        // Room for the whole burst, so nothing is dropped in section 2.
        queue_capacity: 1 << 19,
        schema: "bench.sample/1".into(),
        ..Config::default()
    }
}

fn rate(n: u64, secs: f64) -> String {
    format!("{:>10.0} records/s", n as f64 / secs)
}

/// CPU seconds (user + system) used by this process so far: on a shared,
/// loaded machine, records per CPU second is the one-core throughput.
fn cpu_secs() -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; zeroed is valid.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Wall-clock and per-CPU-second rates of `n` records.
struct Clock(Instant, f64);

impl Clock {
    fn start() -> Self {
        Self(Instant::now(), cpu_secs())
    }

    fn report(&self, n: u64) -> String {
        let wall = self.0.elapsed().as_secs_f64();
        let cpu = cpu_secs() - self.1;
        format!("{} wall, {} per CPU-second", rate(n, wall), rate(n, cpu))
    }
}

fn main() {
    let n: u64 = std::env::var("RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400_000);
    let templates: Vec<SampleEvent> = (0..1024).map(sample).collect();

    // 1. Writer thread's work per record, on the calling thread.
    let dir = tempfile::tempdir().unwrap();
    let mut w = LogWriter::open(dir.path(), config()).unwrap();
    let mut buf = Vec::with_capacity(1024);
    let t = Clock::start();
    for i in 0..n {
        buf.clear();
        buf = monitor_recorder::typed::encode_into(&templates[(i % 1024) as usize], buf).unwrap();
        w.append(RecordKind::Event, ts(i), &buf).unwrap();
    }
    let stats = w.close().unwrap();
    println!(
        "writer (encode+append+close, 1 thread): {}; {:.1} bytes/record",
        t.report(n),
        stats.bytes as f64 / n as f64
    );

    // 2. The recorder as the agent uses it: owned events handed over, the
    // writer thread encodes and writes; timed until close() has synced.
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::<SampleEvent>::open(dir.path(), config()).unwrap();
    let events: Vec<SampleEvent> = (0..n)
        .map(|i| templates[(i % 1024) as usize].clone())
        .collect();
    let t = Clock::start();
    let t0 = Instant::now();
    for (i, ev) in events.into_iter().enumerate() {
        rec.record(ts(i as u64), ev);
    }
    let enqueued = t0.elapsed().as_secs_f64();
    let stats = rec.close().unwrap();
    println!(
        "recorder enqueue (agent side):          {}",
        rate(n, enqueued)
    );
    println!(
        "recorder end to end (until synced):     {}; dropped {}, {:.1} bytes/record, {} segments",
        t.report(stats.written),
        stats.dropped,
        stats.bytes as f64 / stats.written.max(1) as f64,
        stats.segments_created
    );

    // 3. The agent's real situation: events offered at 300k/s with the
    // default configuration (64 Ki queue); the recorder must keep up with
    // zero drops. CPU use is reported as cores busy.
    let paced_dir = tempfile::tempdir().unwrap();
    let paced = Config {
        retention_bytes: None,
        ..Config::default()
    };
    let rec = Recorder::<SampleEvent>::open(paced_dir.path(), paced).unwrap();
    let target = 300_000u64;
    let total = target * 2;
    let t = Clock::start();
    let t0 = Instant::now();
    for i in 0..total {
        if i % 1000 == 0 {
            let due = std::time::Duration::from_secs_f64(i as f64 / target as f64);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        rec.record(ts(i), templates[(i % 1024) as usize].clone());
    }
    let stats = rec.close().unwrap();
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "offered at {target}/s for 2 s (default config): {} written, {} dropped, {:.2} cores busy (agent clones included)",
        stats.written,
        stats.dropped,
        (cpu_secs() - t.1) / wall,
    );
    assert_eq!(stats.dropped, 0, "the recorder could not keep up at 300k/s");

    // 4. Reading back, one thread.
    let log = LogReader::open(dir.path()).unwrap();
    let t = Clock::start();
    let t0 = Instant::now();
    let mut recs = log.records();
    let mut count = 0u64;
    let mut bytes = 0u64;
    while let Some(f) = recs.next_frame() {
        let f = f.unwrap();
        bytes += black_box(recs.payload(&f)).len() as u64;
        count += 1;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "read raw frames (CRC checked):          {}; {:.0} MB/s payload",
        t.report(count),
        bytes as f64 / secs / 1e6
    );

    let t = Clock::start();
    let mut count = 0u64;
    for e in EventReader::<SampleEvent>::new(&log) {
        black_box(e.unwrap());
        count += 1;
    }
    println!(
        "read + decode to SampleEvent:           {}",
        t.report(count)
    );
    assert_eq!(count, n);
}
