//! Replay: recorded, already-enriched events fed into the same output stage
//! as the live pipeline ([`crate::pipeline::Outputs`]), in log order. It is
//! a source, not a second pipeline: no enrichment is redone, so a log
//! replays identically on any machine. Reading streams segment by segment
//! (memory stays flat whatever the log size); damaged records are handed to
//! the caller and reading goes on.

use std::collections::BTreeMap;

use tokio::io::AsyncWrite;
use vigil_recorder::{Body, EventReader, LogReader, LossSource, ReadError};

use crate::event::Event;
use crate::pipeline::{Outputs, PipelineError};
use crate::query::Query;

/// Events between two writes of the JSON output.
const FLUSH_EVERY: usize = 4096;

/// What a replay read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Event records read (before filtering).
    pub read: u64,
    /// Events handed to the outputs.
    pub replayed: u64,
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
    for item in EventReader::<Event>::new(log) {
        match item {
            Ok(entry) => match entry.body {
                Body::Event(ev) => {
                    s.read += 1;
                    if query.matches(&ev) {
                        s.replayed += 1;
                        out.event(ev);
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
    out.flush().await?;
    Ok(s)
}
