//! The fan-out after enrichment, shared by `vigil run` and `vigil replay`:
//! each event goes to the event JSON lines ([`crate::sink::events`]), through
//! the rules into alerts ([`super::alerts`]) and to the flight recorder
//! ([`crate::sink::recorder`]).

use std::io;

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::alerts::{AlertStats, Alerting};
use super::error::PipelineError;
use crate::event::Event;
use crate::sensor::SensorStats;
use crate::sink::events::EventsFormat;
use crate::sink::recorder::EventRecorder;

/// The stage after enrichment, shared by `vigil run` and `vigil replay`:
/// each event goes to the JSON lines output (buffered; [`Outputs::flush`]
/// writes), through the rules (alerts are written at once) and to the
/// recorder, in that order.
pub struct Outputs<'w, W: ?Sized> {
    events_out: Option<&'w mut W>,
    events_format: EventsFormat,
    alerting: Option<Alerting>,
    recorder: Option<EventRecorder>,
    buf: Vec<u8>,
    n: u64,
    /// The first alert write error, reported by the next flush.
    alert_err: Option<io::Error>,
}

impl<'w, W: AsyncWrite + Unpin + ?Sized> Outputs<'w, W> {
    pub fn new(
        events_out: Option<&'w mut W>,
        alerting: Option<Alerting>,
        recorder: Option<EventRecorder>,
    ) -> Self {
        Outputs {
            events_out,
            events_format: EventsFormat::default(),
            alerting,
            recorder,
            buf: Vec::with_capacity(64 * 1024),
            n: 0,
            alert_err: None,
        }
    }

    /// Event lines in `format` from now on.
    pub fn set_events_format(&mut self, format: EventsFormat) {
        self.events_format = format;
    }

    /// Takes up reloaded rules; called between batches, so a batch is
    /// matched against one rule set.
    pub fn refresh_rules(&mut self) {
        if let Some(a) = self.alerting.as_mut() {
            a.detector_mut().refresh();
        }
    }

    /// One enriched event to every output.
    pub fn event(&mut self, ev: Event) {
        let alerted = self.look_at(&ev);
        if let Some(r) = &mut self.recorder {
            r.record(ev, alerted);
        }
    }

    /// [`Outputs::event`] for an event read into a box (replay): it leaves
    /// the box only for the recorder, sparing the others a copy of it.
    pub fn boxed_event(&mut self, ev: Box<Event>) {
        let alerted = self.look_at(&ev);
        if let Some(r) = &mut self.recorder {
            r.record(*ev, alerted);
        }
    }

    /// Event lines and alerts for `ev`: whether it alerted.
    fn look_at(&mut self, ev: &Event) -> bool {
        self.n += 1;
        if self.events_out.is_some() {
            self.events_format.write_line(ev, &mut self.buf);
        }
        let mut alerted = false;
        if let Some(a) = self.alerting.as_mut() {
            match a.check(ev) {
                Ok(n) => alerted = n > 0,
                Err(e) => {
                    self.alert_err.get_or_insert(e);
                }
            }
        }
        alerted
    }

    /// When only rules look at events (no event lines, no recording): which
    /// event types they can match. Other events need not even be decoded.
    pub fn rule_types(&self) -> Option<impl Fn(&str) -> bool + 'static> {
        if self.events_out.is_some() || self.recorder.is_some() {
            return None;
        }
        let set = self.alerting.as_ref()?.detector().rule_set();
        Some(move |evt_type: &str| set.candidates_for(evt_type) > 0)
    }

    /// Events seen so far.
    pub fn events(&self) -> u64 {
        self.n
    }

    /// Alerts written so far.
    pub fn alerts(&self) -> u64 {
        self.alerting.as_ref().map_or(0, |a| a.written())
    }

    /// Bytes of JSON waiting for [`Outputs::flush`].
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Writes the buffered JSON lines, hands held alerts to the outputs
    /// that wait for room (replay); reports a failed alert write.
    pub async fn flush(&mut self) -> Result<(), PipelineError> {
        if let Some(e) = self.alert_err.take() {
            return Err(PipelineError::Alerts(e));
        }
        if let Some(a) = self.alerting.as_mut() {
            a.flush().await;
        }
        if let Some(w) = self.events_out.as_deref_mut() {
            if !self.buf.is_empty() {
                w.write_all(&self.buf)
                    .await
                    .map_err(PipelineError::Events)?;
                w.flush().await.map_err(PipelineError::Events)?;
                self.buf.clear();
            }
        }
        Ok(())
    }

    /// Losses upstream of this stage go into the recorded log.
    pub fn note_source(&mut self, stats: &SensorStats) {
        if let Some(r) = &mut self.recorder {
            r.note_source(stats);
            r.expire_budget(crate::event::Clock::boot_now());
        }
    }

    /// The rule set in use, when detecting: a different `Arc` means the
    /// rules were reloaded.
    pub fn rule_set(&self) -> Option<std::sync::Arc<monitor_rules::RuleSet>> {
        Some(self.alerting.as_ref()?.detector().rule_set())
    }

    /// Every field the current rules read (none without a detector).
    pub fn rule_fields(&self) -> Vec<monitor_rules::Field> {
        self.alerting
            .as_ref()
            .map_or_else(Vec::new, |a| a.detector().rules().fields_used())
    }

    /// Detection and its alert output, when detecting.
    pub fn alerting(&self) -> Option<&Alerting> {
        self.alerting.as_ref()
    }

    /// The alert counters (written, throttled).
    pub fn alert_stats(&self) -> Option<AlertStats> {
        self.alerting.as_ref().map(|a| a.stats())
    }

    /// Events the recorder's flood budget summarised, when recording.
    pub fn recorder_summarised(&self) -> Option<u64> {
        self.recorder.as_ref().map(|r| r.summarised())
    }

    pub fn recorder_stats(&self) -> Option<monitor_recorder::Stats> {
        self.recorder.as_ref().map(|r| r.stats())
    }

    /// Lets the alert outputs deliver what they hold (bounded); their
    /// final counters are [`Outputs::alert_stats`] from then on.
    pub async fn close_alerts(&mut self) {
        if let Some(a) = self.alerting.as_mut() {
            a.close().await;
        }
    }

    /// Flushes every output and closes the recorder cleanly (footer,
    /// fdatasync); returns its final counters.
    pub async fn close(
        mut self,
    ) -> Option<Result<monitor_recorder::Stats, monitor_recorder::WriteError>> {
        if let Err(e) = self.flush().await {
            log::warn!("flushing events: {e}");
        }
        self.close_alerts().await;
        if let Some(w) = self.events_out.as_deref_mut() {
            if let Err(e) = w.flush().await {
                log::warn!("flushing events: {e}");
            }
        }
        let rec = self.recorder.take()?;
        // Joining the writer thread blocks (drain, footer, fdatasync).
        Some(
            match tokio::task::spawn_blocking(move || rec.close()).await {
                Ok(r) => r,
                Err(_) => Err(monitor_recorder::WriteError::Stopped),
            },
        )
    }
}
