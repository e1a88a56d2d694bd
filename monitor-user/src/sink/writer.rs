//! The alert writer: where the alerts that pass the throttle go. Either the
//! configured outputs ([`Fanout`]: stdout, files, HTTP, syslog, each with
//! its own queue), or one plain writer written synchronously (tests and
//! embedders).
//!
//! The live agent offers each alert to the outputs without waiting
//! ([`Delivery::Drop`]: a full queue drops it there, counted), so a slow
//! destination never stalls detection. A replay waits for room
//! ([`Delivery::Wait`]): it has no ring buffer to protect and must
//! reproduce every alert; its alerts are handed over at
//! [`AlertSink::flush`], between batches.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use super::alert::Alert;
use super::output::{Fanout, OutputStats, Reopener, StatsHandle};

/// What the outputs do when a queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Drop the alert for that output and count it (live runs).
    Drop,
    /// Wait for room (replay).
    Wait,
}

enum Target {
    Writer {
        out: Box<dyn Write + Send>,
        buf: Vec<u8>,
    },
    Outputs {
        /// `None` once closed.
        fan: Option<Fanout>,
        delivery: Delivery,
        pending: Vec<Alert>,
        /// Counters at close, reported after.
        last: Vec<OutputStats>,
        flush_timeout: Duration,
    },
}

/// Where alerts are written.
pub struct AlertSink {
    target: Target,
    /// Alerts handed to the writer or the outputs.
    pub written: u64,
}

impl AlertSink {
    /// Append to `path`, creating it if needed.
    pub fn append_to(path: &Path) -> io::Result<AlertSink> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(AlertSink::new(Box::new(f)))
    }

    /// One writer, written synchronously and flushed per line.
    pub fn new(out: Box<dyn Write + Send>) -> AlertSink {
        AlertSink {
            target: Target::Writer {
                out,
                buf: Vec::with_capacity(4096),
            },
            written: 0,
        }
    }

    /// The outputs of `fan`; [`AlertSink::close`] gives them up to
    /// `flush_timeout` to deliver what is queued.
    pub fn outputs(fan: Fanout, delivery: Delivery, flush_timeout: Duration) -> AlertSink {
        AlertSink {
            target: Target::Outputs {
                fan: Some(fan),
                delivery,
                pending: Vec::new(),
                last: Vec::new(),
                flush_timeout,
            },
            written: 0,
        }
    }

    /// Write one alert (a plain writer: as a flushed line at once).
    pub fn write(&mut self, alert: Alert) -> io::Result<()> {
        match &mut self.target {
            Target::Writer { out, buf } => {
                buf.clear();
                alert.write_line(buf);
                out.write_all(buf)?;
                out.flush()?;
            }
            Target::Outputs {
                fan: Some(fan),
                delivery,
                pending,
                ..
            } => match delivery {
                Delivery::Drop => fan.send(alert),
                Delivery::Wait => pending.push(alert),
            },
            Target::Outputs { fan: None, .. } => {
                return Err(io::Error::other("alert outputs already closed"))
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Hands over the alerts waiting for [`Delivery::Wait`] outputs.
    pub async fn flush(&mut self) {
        if let Target::Outputs {
            fan: Some(fan),
            pending,
            ..
        } = &mut self.target
        {
            for a in pending.drain(..) {
                fan.send_wait(a).await;
            }
        }
    }

    /// Flushes, then lets the outputs drain their queues (bounded).
    pub async fn close(&mut self) {
        self.flush().await;
        if let Target::Outputs {
            fan,
            last,
            flush_timeout,
            ..
        } = &mut self.target
        {
            if let Some(f) = fan.take() {
                *last = f.close(*flush_timeout).await;
            }
        }
    }

    /// Each output's counters (none for a plain writer).
    pub fn output_stats(&self) -> Vec<OutputStats> {
        match &self.target {
            Target::Writer { .. } => Vec::new(),
            Target::Outputs { fan: Some(f), .. } => f.stats(),
            Target::Outputs { last, .. } => last.clone(),
        }
    }

    /// What reads the outputs' counters from elsewhere (metrics), if there
    /// are outputs.
    pub fn stats_handle(&self) -> Option<StatsHandle> {
        match &self.target {
            Target::Outputs { fan: Some(f), .. } => Some(f.stats_handle()),
            _ => None,
        }
    }

    /// What reopens the file outputs (SIGHUP), if there are outputs.
    pub fn reopener(&self) -> Option<Reopener> {
        match &self.target {
            Target::Outputs { fan: Some(f), .. } => Some(f.reopener()),
            _ => None,
        }
    }
}
