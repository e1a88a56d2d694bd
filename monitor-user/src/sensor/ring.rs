//! Reading the ring buffer asynchronously and decoding its records.
//!
//! The ring buffer's fd becomes readable when the kernel wakes the reader
//! (exec records, a filling ring: `monitor_common::wake`); tokio's
//! `AsyncFd` waits for that, and the ring is read every `wake::POLL_MS`
//! in any case (less often while it stays empty). Registration with the
//! reactor happens on the first read, so the sensor can be loaded outside
//! a runtime.

use aya::maps::{MapData, RingBuf};
use std::time::Duration;

use monitor_common::decode::{decode, Record};
use monitor_common::wake;
use tokio::io::unix::AsyncFd;

/// Records decoded per call at most, so one call cannot grow `out` without
/// bound while the kernel keeps producing.
const MAX_BATCH: usize = 16 * 1024;

/// How often the ring is read when no record woke the reader...
const POLL: Duration = Duration::from_millis(wake::POLL_MS);
/// ...and at most how seldom, after reads that found it empty.
const IDLE_POLL: Duration = Duration::from_millis(wake::IDLE_POLL_MS);

enum Ring {
    Unregistered(RingBuf<MapData>),
    Registered(AsyncFd<RingBuf<MapData>>),
    /// Only while switching states.
    Empty,
}

pub(crate) struct Reader {
    ring: Ring,
    /// The current interval between reads nothing woke.
    poll: Duration,
    pub records: u64,
    pub malformed: u64,
    /// Records the kernel's rate limit held back, as its `throttled`
    /// records report them.
    pub throttled: u64,
}

impl Reader {
    pub fn new(ring: RingBuf<MapData>) -> Reader {
        Reader {
            ring: Ring::Unregistered(ring),
            poll: POLL,
            records: 0,
            malformed: 0,
            throttled: 0,
        }
    }

    fn registered(&mut self) -> std::io::Result<&mut AsyncFd<RingBuf<MapData>>> {
        if let Ring::Unregistered(_) = self.ring {
            let Ring::Unregistered(ring) = std::mem::replace(&mut self.ring, Ring::Empty) else {
                unreachable!("checked above");
            };
            // SAFETY: the fd belongs to `ring` (its MapData owns it) and so
            // stays open exactly as long as the AsyncFd that owns `ring`.
            match unsafe { AsyncFd::register(ring) } {
                Ok(fd) => self.ring = Ring::Registered(fd),
                Err(e) => {
                    let (ring, err) = e.into_parts();
                    self.ring = Ring::Unregistered(ring);
                    return Err(err);
                }
            }
        }
        match &mut self.ring {
            Ring::Registered(fd) => Ok(fd),
            _ => Err(std::io::Error::other(
                "ring buffer reader lost its registration",
            )),
        }
    }

    /// Decode every record already in the ring into `out`, without waiting
    /// (used at shutdown, after the hooks are detached). Returns how many
    /// records were consumed.
    pub fn drain(&mut self, out: &mut Vec<Record>) -> usize {
        let ring = match &mut self.ring {
            Ring::Unregistered(ring) => ring,
            Ring::Registered(fd) => fd.get_mut(),
            Ring::Empty => return 0,
        };
        let from = out.len();
        let (n, ok) = take(ring, out, usize::MAX);
        self.count(n, ok, &out[from..]);
        n
    }

    /// Wait for records, then decode what is available (at most
    /// [`MAX_BATCH`]) into `out`. Returns once at least one record (valid
    /// or malformed) was consumed. Most records come without a wakeup
    /// (`monitor_common::wake`): the ring is also read every [`POLL`],
    /// backing off to [`IDLE_POLL`] while it stays empty.
    pub async fn read_batch(&mut self, out: &mut Vec<Record>) -> std::io::Result<()> {
        loop {
            let poll = self.poll;
            let fd = self.registered()?;
            let from = out.len();
            let woken = match tokio::time::timeout(poll, fd.readable_mut()).await {
                Ok(guard) => {
                    let mut guard = guard?;
                    let taken = take(guard.get_inner_mut(), out, MAX_BATCH);
                    if taken.0 < MAX_BATCH {
                        // Drained: wait for the next wakeup.
                        guard.clear_ready();
                    }
                    Some(taken)
                }
                Err(_) => None,
            };
            let (n, ok) = match woken {
                Some(taken) => taken,
                None => take(fd.get_mut(), out, MAX_BATCH),
            };
            self.count(n, ok, &out[from..]);
            if n > 0 {
                self.poll = POLL;
                return Ok(());
            }
            self.poll = (poll * 2).min(IDLE_POLL);
        }
    }

    fn count(&mut self, consumed: usize, ok: usize, new: &[Record]) {
        self.records += ok as u64;
        self.malformed += (consumed - ok) as u64;
        for r in new {
            if let Record::Throttled(t) = r {
                self.throttled += t.count;
            }
        }
    }
}

/// Decode up to `limit` records from `ring` into `out` (malformed ones are
/// logged and skipped); returns (consumed, decoded).
fn take(ring: &mut RingBuf<MapData>, out: &mut Vec<Record>, limit: usize) -> (usize, usize) {
    let (mut n, mut ok) = (0, 0);
    while n < limit {
        let Some(item) = ring.next() else { break };
        n += 1;
        match decode(&item) {
            Ok(r) => {
                out.push(r);
                ok += 1;
            }
            Err(e) => log::debug!("malformed record: {e}"),
        }
    }
    (n, ok)
}
