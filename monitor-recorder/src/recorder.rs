//! The recorder the agent talks to: a bounded queue in front of a writer
//! thread, so the agent never waits for the disk. When the queue is full
//! the event is dropped and counted, and the writer puts a loss record into
//! the log, so the loss is visible to whoever reads it later. The thread
//! encodes events (with the definitions they need first: [`crate::dict`]),
//! flushes and fdatasyncs every `flush_interval`, applies rotation by age
//! and retention, and closes the log cleanly on `close` or drop.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::dict::{self, Dictionary};
use crate::error::WriteError;
use crate::format::{Loss, LossSource, RecordKind};
use crate::stats::{Counters, Stats};
use crate::typed::encode_into;
use crate::writer::{now_ns, LogWriter};

/// Messages handled in one go before periodic work is checked.
const BATCH: usize = 4096;

enum Msg<T> {
    Event(u64, T),
    Flush(SyncSender<Result<Option<u64>, WriteError>>),
}

/// Losses waiting to be written as loss records.
#[derive(Default)]
struct PendingLoss {
    known: [AtomicU64; LossSource::KNOWN.len()],
    other: Mutex<BTreeMap<u8, u64>>,
}

impl PendingLoss {
    fn add(&self, source: LossSource, n: u64) {
        match LossSource::KNOWN.iter().position(|s| *s == source) {
            Some(i) => {
                self.known[i].fetch_add(n, Relaxed);
            }
            None => {
                let mut m = self.other.lock().unwrap_or_else(|p| p.into_inner());
                *m.entry(source.to_byte()).or_default() += n;
            }
        }
    }

    fn take(&self) -> Vec<Loss> {
        let mut out: Vec<Loss> = LossSource::KNOWN
            .iter()
            .zip(&self.known)
            .filter_map(|(s, c)| {
                let n = c.swap(0, Relaxed);
                (n > 0).then_some(Loss {
                    source: *s,
                    count: n,
                })
            })
            .collect();
        let mut m = self.other.lock().unwrap_or_else(|p| p.into_inner());
        out.extend(std::mem::take(&mut *m).into_iter().map(|(b, n)| Loss {
            source: LossSource::from_byte(b),
            count: n,
        }));
        out
    }
}

struct Shared {
    counters: Arc<Counters>,
    pending: PendingLoss,
}

/// Records values of `T` into a log directory from any thread.
pub struct Recorder<T> {
    tx: Option<SyncSender<Msg<T>>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<(), WriteError>>>,
    _t: PhantomData<fn(T)>,
}

impl<T: Serialize + Send + 'static> Recorder<T> {
    /// Opens the log (errors surface here, synchronously) and starts the
    /// writer thread.
    pub fn open(dir: impl AsRef<Path>, cfg: Config) -> Result<Self, WriteError> {
        let interval = cfg.flush_interval;
        let (tx, rx) = mpsc::sync_channel(cfg.queue_capacity);
        let writer = LogWriter::open(dir, cfg)?;
        let shared = Arc::new(Shared {
            counters: writer.counters(),
            pending: PendingLoss::default(),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("vigil-recorder".into())
            .spawn(move || run(writer, rx, s, interval))
            .map_err(|e| WriteError::Io {
                path: "vigil-recorder thread".into(),
                op: "spawn",
                source: e,
            })?;
        Ok(Self {
            tx: Some(tx),
            shared,
            thread: Some(thread),
            _t: PhantomData,
        })
    }

    /// Queues an event with its wall-clock timestamp. Never blocks: returns
    /// false (and counts the drop) when the queue is full.
    pub fn record(&self, timestamp_ns: u64, value: T) -> bool {
        let sent = match &self.tx {
            Some(tx) => match tx.try_send(Msg::Event(timestamp_ns, value)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            Counters::add(&self.shared.counters.dropped, 1);
            self.shared.pending.add(LossSource::RecorderQueueFull, 1);
        }
        sent
    }

    /// Queues an event stamped with the current wall-clock time.
    pub fn record_now(&self, value: T) -> bool {
        self.record(now_ns(), value)
    }

    /// Notes events lost before they reached the recorder (kernel ring
    /// buffer, decoding); they are written as a loss record. Never blocks.
    pub fn report_loss(&self, source: LossSource, count: u64) {
        if count > 0 {
            self.shared.pending.add(source, count);
        }
    }

    /// Waits until everything queued before this call is written and
    /// fdatasynced; returns the highest durable sequence number.
    pub fn flush(&self) -> Result<Option<u64>, WriteError> {
        let tx = self.tx.as_ref().ok_or(WriteError::Stopped)?;
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        tx.send(Msg::Flush(ack_tx))
            .map_err(|_| WriteError::Stopped)?;
        ack_rx.recv().map_err(|_| WriteError::Stopped)?
    }

    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Drains the queue, writes pending loss records, closes the active
    /// segment with a footer and syncs. For the SIGTERM path.
    pub fn close(mut self) -> Result<Stats, WriteError> {
        self.shutdown()?;
        Ok(self.stats())
    }

    fn shutdown(&mut self) -> Result<(), WriteError> {
        drop(self.tx.take());
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| WriteError::Stopped)?,
            None => Ok(()),
        }
    }
}

impl<T> Drop for Recorder<T> {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run<T: Serialize>(
    mut writer: LogWriter,
    rx: mpsc::Receiver<Msg<T>>,
    shared: Arc<Shared>,
    interval: std::time::Duration,
) -> Result<(), WriteError> {
    let mut work = Work {
        dict: RefCell::default(),
        scratch: Vec::with_capacity(1024),
    };
    let mut next_flush = Instant::now() + interval;
    let mut open = true;
    while open {
        let wait = next_flush.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(msg) => {
                handle(&mut writer, &shared, msg, &mut work);
                for _ in 1..BATCH {
                    match rx.try_recv() {
                        Ok(msg) => handle(&mut writer, &shared, msg, &mut work),
                        Err(mpsc::TryRecvError::Empty) => break,
                        Err(mpsc::TryRecvError::Disconnected) => {
                            open = false;
                            break;
                        }
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        write_losses(&mut writer, &shared);
        if Instant::now() >= next_flush {
            // Errors are counted per record; the periodic work retries.
            let _ = writer.sync_in_background();
            let _ = writer.tick();
            next_flush = Instant::now() + interval;
        }
    }
    write_losses(&mut writer, &shared);
    writer.close().map(drop)
}

/// The writer thread's state besides the log.
struct Work {
    dict: RefCell<Dictionary>,
    /// The last record's encoding (its buffer reused).
    scratch: Vec<u8>,
}

fn handle<T: Serialize>(writer: &mut LogWriter, shared: &Shared, msg: Msg<T>, work: &mut Work) {
    match msg {
        Msg::Event(ts, value) => {
            if let Err(source) = write_event(writer, work, ts, &value) {
                Counters::add(&shared.counters.failed, 1);
                shared.pending.add(source, 1);
            }
        }
        Msg::Flush(ack) => {
            write_losses(writer, shared);
            let _ = ack.send(writer.flush(true));
        }
    }
}

/// Encodes `value` for the segment it goes to and writes it after the
/// definitions it needs ([`crate::dict`]); encoded again when that segment
/// turns out to be full.
fn write_event<T: Serialize>(
    writer: &mut LogWriter,
    work: &mut Work,
    ts: u64,
    value: &T,
) -> Result<(), LossSource> {
    // A second try goes to a new, empty segment, which takes any group.
    for _ in 0..3 {
        let (segment, bytes) = writer
            .prepare()
            .map_err(|_| LossSource::RecorderWriteError)?;
        work.dict.borrow_mut().start(segment, bytes);
        let mut buf = std::mem::take(&mut work.scratch);
        buf.clear();
        work.scratch = match dict::encoding(&work.dict, || encode_into(value, buf)) {
            Ok(buf) => buf,
            Err(_) => {
                work.dict.borrow_mut().new_region(bytes);
                return Err(LossSource::RecorderEncodeError);
            }
        };
        let dict = work.dict.borrow();
        let mut group: Vec<(RecordKind, u64, &[u8])> = dict
            .pending()
            .map(|d| (RecordKind::Define, ts, d))
            .collect();
        group.push((RecordKind::Event, ts, &work.scratch));
        let written = writer.append_group(segment, &group);
        drop(group);
        drop(dict);
        match written {
            Ok(true) => return Ok(()),
            Ok(false) => continue,
            Err(_) => {
                work.dict.borrow_mut().new_region(bytes);
                return Err(LossSource::RecorderWriteError);
            }
        }
    }
    Err(LossSource::RecorderWriteError)
}

/// Turns pending loss counts into loss records; on failure they stay
/// pending and are retried.
fn write_losses(writer: &mut LogWriter, shared: &Shared) {
    for loss in shared.pending.take() {
        if writer
            .append(RecordKind::Loss, now_ns(), &loss.encode())
            .is_err()
        {
            shared.pending.add(loss.source, loss.count);
        }
    }
}
