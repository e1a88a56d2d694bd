//! The agent's main loop: records in, enriched events out, stats on the side.
//!
//! [`run`] reads batches from a [`RecordSource`] (the eBPF sensor in
//! production, synthetic records in tests), enriches every record, writes
//! each event as a JSON line, logs a `stats {json}` line every
//! `stats_interval` and once at the end, and returns when the `shutdown`
//! future completes (the binary passes SIGINT/SIGTERM; tests pass whatever
//! they like), after flushing its output. With a [`Detector`] it also
//! matches every event against the rules and writes the alerts. This is mini-redis's
//! `run(config, shutdown)` shape: nothing in here knows about signals.
//!
//! Between enrichment and the outputs, the retry cache
//! ([`crate::enrich::hold`]) keeps the events of a container whose runtime
//! has not answered yet, briefly, so they go out with its names.
//!
//! Everything after enrichment is one stage, [`Outputs`] (events JSON,
//! recorder; rules → alerts), shared with `vigil replay`, which feeds it
//! recorded, already-enriched events instead ([`crate::pipeline::replay`]).

pub mod alerts;
mod error;
pub mod fanout;
pub mod loss;
pub mod query;
pub mod replay;
pub mod stats;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_common::decode::Record;
use tokio::io::AsyncWrite;

use crate::enrich::hold::Hold;
use crate::enrich::Enricher;
use crate::event::{Clock, Event};
use crate::pipeline::alerts::Alerting;
use crate::serve::state::AgentState;
use crate::sink::recorder::EventRecorder;
use crate::stage::baselines::BaselineStage;
use crate::stage::resources::ResourceStage;

pub use crate::sensor::{RecordSource, SensorStats};
pub use error::PipelineError;
pub use fanout::Outputs;
pub use stats::stats_json;
use stats::{log_stats, publish};

/// Pipeline settings and state it takes over.
pub struct Config {
    pub enricher: Enricher,
    /// Period of the `stats` log line.
    pub stats_interval: Duration,
    /// Period of process-table reaping and cgroup expiry.
    pub maintain_interval: Duration,
    /// Rules and the alert output; `None`: no detection.
    pub alerting: Option<Alerting>,
    /// `--record DIR`: every event also goes to the flight recorder.
    pub recorder: Option<EventRecorder>,
    /// Periodic `container_stats` events ([`crate::stage::resources`]).
    pub resources: Option<ResourceStage>,
    /// Period of the resource stage.
    pub resource_interval: Duration,
    /// `--learn-baselines DIR`: execs learned into / checked against their
    /// image's process baseline ([`crate::stage::baselines`]).
    pub baselines: Option<BaselineStage>,
    /// Health, readiness and counters for the HTTP listener
    /// ([`crate::serve`]): beaten and published about once a second.
    pub state: Option<Arc<AgentState>>,
    /// Events waiting for their container's metadata ([`crate::enrich::hold`]).
    pub hold: Hold,
    /// The events output's format.
    pub events_format: crate::sink::events::EventsFormat,
    /// Raises the agent's own event on a sustained kernel loss.
    pub loss: loss::LossWatch,
}

impl Config {
    pub fn new(enricher: Enricher) -> Config {
        Config {
            enricher,
            stats_interval: Duration::from_secs(60),
            maintain_interval: Duration::from_secs(1),
            alerting: None,
            recorder: None,
            resources: None,
            resource_interval: Duration::from_secs(1),
            baselines: None,
            state: None,
            hold: Hold::default(),
            events_format: Default::default(),
            loss: Default::default(),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub events: u64,
    /// Alerts written.
    pub alerts: u64,
    /// The final source statistics.
    pub stats: SensorStats,
    /// How many `stats` lines were logged (periodic and final).
    pub stats_reports: u64,
    /// Why the run ended.
    pub ended_by: EndReason,
    /// The recorder's final counters, when recording.
    pub recorder: Option<monitor_recorder::Stats>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Shutdown,
    SourceExhausted,
}

/// Run until `shutdown` completes or the source is exhausted. Events are
/// written to `events` as JSON lines when it is given.
pub async fn run<S, W, F>(
    mut config: Config,
    source: &mut S,
    events: Option<&mut W>,
    shutdown: F,
) -> Result<Summary, PipelineError>
where
    S: RecordSource,
    W: AsyncWrite + Unpin + ?Sized,
    F: Future,
{
    let mut shutdown = std::pin::pin!(shutdown);
    let mut stats_tick = tokio::time::interval_at(
        tokio::time::Instant::now() + config.stats_interval,
        config.stats_interval.max(Duration::from_millis(1)),
    );
    stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_maintain = Instant::now();
    let mut batch: Vec<Record> = Vec::with_capacity(1024);
    let mut out = Outputs::new(events, config.alerting.take(), config.recorder.take());
    out.set_events_format(config.events_format);
    let mut stats_reports = 0u64;
    if let Some(st) = config.resources.as_mut() {
        let n = st.seed(&mut config.enricher);
        log::info!("resources: sampling {n} running containers");
    }
    // The rule set the sampler's fields were taken from (`None` before the
    // first pass): fields are derived again only after a reload.
    let mut sampled_rules: Option<Option<std::sync::Arc<monitor_rules::RuleSet>>> = None;
    let mut resource_tick =
        tokio::time::interval(config.resource_interval.max(Duration::from_millis(10)));
    resource_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = config.state.take();
    let mut per_slot = [0u64; monitor_common::kinds::NUM_KIND_SLOTS as usize];
    // Fires only when no batch arrived for a second (select is biased):
    // then the ring buffer was polled and found empty.
    let mut beat = tokio::time::interval(Duration::from_secs(1));
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_publish: Option<Instant> = None;
    // Held events are re-resolved at least this often while any wait.
    let mut hold_tick = tokio::time::interval(Duration::from_millis(20));
    hold_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ready: Vec<Event> = Vec::with_capacity(1024);

    let result: Result<EndReason, PipelineError> = loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break Ok(EndReason::Shutdown),
            _ = stats_tick.tick() => {
                let stats = source.stats();
                out.note_source(&stats);
                log_stats(
                    &stats,
                    out.events(),
                    out.recorder_stats().as_ref(),
                    out.alert_stats(),
                    config.enricher.metadata_stats(),
                );
                stats_reports += 1;
            }
            _ = hold_tick.tick(), if !config.hold.is_empty() => {
                config.hold.release(&mut config.enricher, Instant::now(), false, &mut ready);
                emit(&mut config, &mut out, &mut ready);
                if let Err(e) = out.flush().await {
                    break Err(e);
                }
            }
            _ = resource_tick.tick(), if config.resources.is_some() => {
                if let Some(st) = config.resources.as_mut() {
                    let rules = out.rule_set();
                    let same = match (&sampled_rules, &rules) {
                        (Some(Some(a)), Some(b)) => std::sync::Arc::ptr_eq(a, b),
                        (Some(None), None) => true,
                        _ => false,
                    };
                    if !same {
                        st.set_fields(&out.rule_fields());
                        sampled_rules = Some(rules);
                    }
                    for ev in st.tick(source.cgroup_counters()) {
                        out.event(ev);
                    }
                    if let Err(e) = out.flush().await {
                        break Err(e);
                    }
                }
            }
            r = source.read_batch(&mut batch) => {
                match r {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break Ok(EndReason::SourceExhausted),
                    Err(e) => break Err(PipelineError::Source(e)),
                }
                let now = Instant::now();
                ingest(&mut config, &mut out, &mut batch, now, &mut per_slot, &mut ready);
                if let Err(e) = out.flush().await {
                    break Err(e);
                }
                if now.duration_since(last_maintain) >= config.maintain_interval {
                    config.enricher.maintain(now, Clock::boot_now());
                    save_baselines(config.baselines.as_mut());
                    let stats = source.stats();
                    out.note_source(&stats);
                    if let Some(ev) = config.loss.check(&stats, now, Clock::boot_now()) {
                        out.event(ev);
                    }
                    last_maintain = now;
                }
                if let Some(st) = &state {
                    publish(st, &mut last_publish, now, source, &per_slot, &mut config.enricher, &out);
                }
            }
            _ = beat.tick(), if state.is_some() => {
                if let Some(st) = &state {
                    publish(st, &mut last_publish, Instant::now(), source, &per_slot, &mut config.enricher, &out);
                }
            }
        }
    };
    // Whatever ended the run: take what the source already produced (a
    // shutdown must not lose what the kernel wrote), flush and report.
    if matches!(result, Ok(EndReason::Shutdown)) {
        source.finish(&mut batch);
        if !batch.is_empty() {
            log::debug!("shutdown: {} records drained from the source", batch.len());
        }
        ingest(
            &mut config,
            &mut out,
            &mut batch,
            Instant::now(),
            &mut per_slot,
            &mut ready,
        );
    }
    config
        .hold
        .release(&mut config.enricher, Instant::now(), true, &mut ready);
    emit(&mut config, &mut out, &mut ready);
    save_baselines(config.baselines.as_mut());
    let stats = source.stats();
    out.note_source(&stats);
    let n_events = out.events();
    let alerts = out.alerts();
    out.close_alerts().await;
    let alert_stats = out.alert_stats();
    let recorder = out.close().await;
    log_stats(
        &stats,
        n_events,
        recorder.as_ref().and_then(|r| r.as_ref().ok()),
        alert_stats,
        config.enricher.metadata_stats(),
    );
    stats_reports += 1;
    let ended_by = result?;
    let recorder = recorder.transpose().map_err(PipelineError::Recorder)?;
    Ok(Summary {
        events: n_events,
        alerts,
        stats,
        stats_reports,
        ended_by,
        recorder,
    })
}

/// The stages after enrichment (and the retry cache), then the outputs.
/// Enrich a batch of records, pass them through the metadata hold and emit
/// what is ready; `batch` is left empty.
fn ingest<W: AsyncWrite + Unpin + ?Sized>(
    config: &mut Config,
    out: &mut Outputs<'_, W>,
    batch: &mut Vec<Record>,
    now: Instant,
    per_slot: &mut [u64],
    ready: &mut Vec<Event>,
) {
    out.refresh_rules();
    for rec in batch.drain(..) {
        per_slot[rec.kind().slot() as usize] += 1;
        let ev = config.enricher.enrich(&rec, now);
        config.hold.admit(ev, now, ready);
    }
    config.hold.release(&mut config.enricher, now, false, ready);
    emit(config, out, ready);
}

fn emit<W: AsyncWrite + Unpin + ?Sized>(
    config: &mut Config,
    out: &mut Outputs<'_, W>,
    ready: &mut Vec<Event>,
) {
    for mut ev in ready.drain(..) {
        if let Some(b) = config.baselines.as_mut() {
            b.annotate(&mut ev);
        }
        if let Some(st) = config.resources.as_mut() {
            st.observe(&ev);
        }
        out.event(ev);
    }
}

fn save_baselines(b: Option<&mut BaselineStage>) {
    if let Some(b) = b {
        if let Err(e) = b.save() {
            log::warn!("saving baselines: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
