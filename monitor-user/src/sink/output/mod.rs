//! Alert outputs: where alerts go, several at once, none able to slow
//! detection or the others.
//!
//! Each output ([`OutputSpec`], [`spec`]: stdout, file, HTTP, syslog; each in Falco
//! JSON, OCSF or text, [`Format`]) has a bounded queue and its own worker: a
//! tokio task for the network outputs, a thread for the blocking line
//! writers. [`Fanout::send`] only tries to enqueue: when an output's queue
//! is full the alert is dropped for that output and counted, and the first
//! drop is logged, so the ring-buffer consumer never waits.
//! [`Fanout::send_wait`] waits for room instead (replay, which must lose
//! nothing). [`Fanout::close`] lets the workers drain their queues for a
//! bounded time; what is still queued or in flight then is counted as
//! dropped.
//! [`Fanout::stats`] gives each output's counters ([`OutputStats`]).

pub mod file;
pub mod format;
pub mod http;
pub mod ocsf;
pub mod ocsf_events;
pub mod spec;
pub mod stats;
pub mod syslog;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::sink::alert::Alert;
pub use file::{FileOptions, LineWriter, StdoutOptions};
pub use format::Format;
pub use http::HttpOptions;
pub use spec::OutputSpec;
pub use stats::{Counters, OutputStats};
pub use syslog::{Protocol, SyslogOptions};

/// Queue length of an output that does not set one.
pub const DEFAULT_QUEUE: usize = 1024;
/// How long [`Fanout::close`] waits for queued alerts by default.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0}")]
    Config(String),
    #[error("opening {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
}

/// What an output's worker writes to.
enum Worker {
    Line(LineWriter, Format, Arc<AtomicBool>),
    Remote(Remote),
}

/// The outputs that send over the network, from an async task.
enum Remote {
    Http(http::HttpSender),
    Syslog(syslog::SyslogSender),
}

impl Remote {
    async fn send(&mut self, alert: &Alert, counters: &Counters) -> Result<(), String> {
        match self {
            Remote::Http(s) => {
                let body = s.format().encode(alert);
                s.send(&body, counters).await
            }
            Remote::Syslog(s) => s.send(alert, counters).await,
        }
    }
}

struct Output {
    name: String,
    kind: &'static str,
    capacity: usize,
    tx: Option<mpsc::Sender<Arc<Alert>>>,
    counters: Arc<Counters>,
    /// Resolves (with an error) when the worker ends.
    done: oneshot::Receiver<()>,
    task: Option<tokio::task::AbortHandle>,
    reopen: Option<Arc<AtomicBool>>,
    drop_logged: AtomicBool,
}

/// Logs a delivery failure once, and the recovery after it.
struct Health<'a> {
    name: &'a str,
    failing: bool,
}

impl Health<'_> {
    fn result(&mut self, r: Result<(), String>, counters: &Counters) {
        match r {
            Ok(()) => {
                counters.sent();
                if std::mem::take(&mut self.failing) {
                    log::info!("output {}: delivering again", self.name);
                }
            }
            Err(e) => {
                counters.failed();
                if !std::mem::replace(&mut self.failing, true) {
                    log::warn!(
                        "output {}: {e}; alert not delivered (failures are counted in the stats line)",
                        self.name
                    );
                }
            }
        }
    }
}

/// Reopens the file outputs of a [`Fanout`] (at each one's next alert).
#[derive(Clone, Debug, Default)]
pub struct Reopener(Vec<Arc<AtomicBool>>);

impl Reopener {
    pub fn reopen(&self) {
        for r in &self.0 {
            r.store(true, Ordering::Relaxed);
        }
    }
}

/// Reads every output's counters ([`Fanout::stats_handle`]).
#[derive(Clone, Debug, Default)]
pub struct StatsHandle(Arc<Vec<(String, &'static str, Arc<Counters>)>>);

impl StatsHandle {
    pub fn snapshot(&self) -> Vec<OutputStats> {
        self.0
            .iter()
            .map(|(name, kind, c)| c.snapshot(name, kind))
            .collect()
    }
}

/// The outputs alerts fan out to.
pub struct Fanout {
    outputs: Vec<Output>,
}

impl Fanout {
    /// Opens every output and starts its worker (inside a tokio runtime).
    /// No outputs: alerts go to stdout in Falco JSON, as always.
    pub fn start(specs: &[OutputSpec]) -> Result<Fanout, OutputError> {
        let named: Vec<(String, OutputSpec)> =
            specs.iter().map(|s| (s.name(), s.clone())).collect();
        Fanout::start_named(&named)
    }

    /// Like [`Fanout::start`], each output under the name given (a config
    /// file's table of named outputs: `[outputs.siem]`); the names appear
    /// in logs and counters.
    pub fn start_named(specs: &[(String, OutputSpec)]) -> Result<Fanout, OutputError> {
        let default = [(
            "stdout".to_owned(),
            OutputSpec::Stdout(StdoutOptions::default()),
        )];
        let specs = if specs.is_empty() {
            &default[..]
        } else {
            specs
        };
        let mut outputs = Vec::with_capacity(specs.len());
        for (name, spec) in specs {
            let worker = match spec {
                OutputSpec::Stdout(o) => {
                    Worker::Line(LineWriter::stdout(), o.format, Arc::default())
                }
                OutputSpec::File(o) => Worker::Line(
                    LineWriter::file(o).map_err(|source| OutputError::Open {
                        path: o.path.display().to_string(),
                        source,
                    })?,
                    o.format,
                    Arc::default(),
                ),
                OutputSpec::Http(o) => Worker::Remote(Remote::Http(http::HttpSender::new(o)?)),
                OutputSpec::Syslog(o) => {
                    Worker::Remote(Remote::Syslog(syslog::SyslogSender::new(o)?))
                }
            };
            outputs.push(Output::start(name, spec, worker));
        }
        Ok(Fanout { outputs })
    }

    /// Offers `alert` to every output without waiting: a full queue drops
    /// it for that output (counted; the first drop per output is logged).
    pub fn send(&self, alert: Alert) {
        let alert = Arc::new(alert);
        for o in &self.outputs {
            let Some(tx) = &o.tx else { continue };
            o.counters.enqueued();
            if tx.try_send(alert.clone()).is_err() {
                o.counters.dequeued();
                o.counters.dropped(1);
                if !o.drop_logged.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "output {}: queue full ({} alerts), dropping alerts for it (counted in the stats line)",
                        o.name,
                        o.capacity
                    );
                }
            }
        }
    }

    /// Hands `alert` to every output, waiting for room in full queues.
    pub async fn send_wait(&self, alert: Alert) {
        let alert = Arc::new(alert);
        for o in &self.outputs {
            let Some(tx) = &o.tx else { continue };
            o.counters.enqueued();
            if tx.send(alert.clone()).await.is_err() {
                o.counters.dequeued();
                o.counters.dropped(1);
            }
        }
    }

    /// Reopen file outputs at their next alert (SIGHUP, after logrotate).
    pub fn reopen(&self) {
        self.reopener().reopen();
    }

    /// A handle that reopens the file outputs, for a signal handler.
    pub fn reopener(&self) -> Reopener {
        Reopener(
            self.outputs
                .iter()
                .filter_map(|o| o.reopen.clone())
                .collect(),
        )
    }

    /// Every output's counters now.
    pub fn stats(&self) -> Vec<OutputStats> {
        self.stats_handle().snapshot()
    }

    /// A handle that reads the counters from elsewhere (the metrics
    /// endpoint), also after [`Fanout::close`].
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(Arc::new(
            self.outputs
                .iter()
                .map(|o| (o.name.clone(), o.kind, o.counters.clone()))
                .collect(),
        ))
    }

    /// Stops taking alerts and waits up to `within` for the queues to
    /// drain; alerts still queued or in flight then are counted as dropped.
    /// Returns the final counters.
    pub async fn close(mut self, within: Duration) -> Vec<OutputStats> {
        let deadline = tokio::time::Instant::now() + within;
        for o in &mut self.outputs {
            o.tx = None;
        }
        for o in &mut self.outputs {
            if tokio::time::timeout_at(deadline, &mut o.done)
                .await
                .is_err()
            {
                if let Some(t) = &o.task {
                    t.abort();
                }
                let n = o.counters.abandon();
                log::warn!(
                    "output {}: {n} alerts still undelivered after {within:?} at shutdown, dropped",
                    o.name
                );
            }
        }
        self.stats()
    }
}

impl Output {
    fn start(name: &str, spec: &OutputSpec, worker: Worker) -> Output {
        let capacity = spec.queue();
        let (tx, mut rx) = mpsc::channel::<Arc<Alert>>(capacity);
        let (done_tx, done) = oneshot::channel::<()>();
        let counters = Arc::new(Counters::default());
        let name = name.to_owned();
        let mut out = Output {
            name: name.clone(),
            kind: spec.kind(),
            capacity,
            tx: Some(tx),
            counters: counters.clone(),
            done,
            task: None,
            reopen: None,
            drop_logged: AtomicBool::new(false),
        };
        match worker {
            Worker::Line(mut w, format, reopen) => {
                out.reopen = Some(reopen.clone());
                // Blocking writes: a thread of its own. If it cannot be
                // spawned, dropping `rx` makes every send count a drop.
                let spawned = std::thread::Builder::new()
                    .name("vigil-output".into())
                    .spawn(move || {
                        let _done = done_tx;
                        let mut health = Health {
                            name: &name,
                            failing: false,
                        };
                        while let Some(a) = rx.blocking_recv() {
                            counters.taken();
                            if reopen.swap(false, Ordering::Relaxed) {
                                if let Err(e) = w.reopen() {
                                    log::warn!("output {name}: reopening: {e}");
                                }
                            }
                            let r = w.write_line(&format.encode(&a)).map_err(|e| e.to_string());
                            health.result(r, &counters);
                            counters.done();
                        }
                    });
                if let Err(e) = spawned {
                    log::error!("output {}: cannot start its thread: {e}", out.name);
                }
            }
            Worker::Remote(mut sender) => {
                let t = tokio::spawn(async move {
                    let _done = done_tx;
                    let mut health = Health {
                        name: &name,
                        failing: false,
                    };
                    while let Some(a) = rx.recv().await {
                        counters.taken();
                        let r = sender.send(&a, &counters).await;
                        health.result(r, &counters);
                        counters.done();
                    }
                });
                out.task = Some(t.abort_handle());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
