//! `/metrics`: the agent's counters in the Prometheus/OpenMetrics text format.
//!
//! A `prometheus-client` [`Collector`] reads the latest [`Snapshot`] and the
//! process's own `/proc/self` files at scrape time, so there is one source
//! for every number (the pipeline's own counters, the same ones the `stats`
//! log line prints) and nothing to keep in step. Names follow Prometheus
//! conventions: `vigil_` prefix, base units (`_bytes`, `_seconds`),
//! counters end in `_total` (the encoder appends it), and the standard
//! `process_*` names for the agent's own CPU and memory.

use std::fmt;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use super::state::AgentState;

/// The registry `/metrics` encodes: vigil's collector only.
pub fn registry(state: Arc<AgentState>) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(AgentCollector(state)));
    r
}

/// Encodes the registry as OpenMetrics text.
pub fn encode(registry: &Registry) -> Result<String, fmt::Error> {
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, registry)?;
    Ok(out)
}

#[derive(Debug)]
struct AgentCollector(Arc<AgentState>);

/// One metric family with labelled samples.
fn family<M: EncodeMetric + prometheus_client::metrics::TypedMetric>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: impl IntoIterator<Item = (Vec<(&'static str, String)>, M)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, unit, M::TYPE)?;
    for (labels, value) in samples {
        value.encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One metric without labels.
fn single<M: EncodeMetric>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: M,
) -> fmt::Result {
    value.encode(enc.encode_descriptor(name, help, unit, value.metric_type())?)
}

fn counter(n: u64) -> ConstCounter<u64> {
    ConstCounter::new(n)
}

fn gauge(n: u64) -> ConstGauge<i64> {
    ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX))
}

impl Collector for AgentCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let s = self.0.snapshot();
        let kind = |k: &monitor_common::EventKind| vec![("kind", k.name().to_string())];
        family(
            &mut enc,
            "vigil_events",
            "Events decoded from the kernel's ring buffer, by kind.",
            None,
            s.events.iter().map(|(k, n)| (kind(k), counter(*n))),
        )?;
        family(
            &mut enc,
            "vigil_kernel_drops",
            "Events the kernel could not put in the ring buffer (it was full), by kind.",
            None,
            s.kernel_drops.iter().map(|(k, n)| (kind(k), counter(*n))),
        )?;
        single(
            &mut enc,
            "vigil_throttled_records",
            "Syscall records the kernel held back over a container's rate (--throttle), as its `throttled` records report them.",
            None,
            counter(s.throttled),
        )?;
        single(
            &mut enc,
            "vigil_malformed_records",
            "Ring-buffer records that failed to decode.",
            None,
            counter(s.malformed),
        )?;
        if let Some(r) = s.ring {
            single(
                &mut enc,
                "vigil_ring_buffer_used",
                "Bytes waiting in the ring buffer at the last heartbeat.",
                Some(&Unit::Bytes),
                gauge(r.used_bytes),
            )?;
            single(
                &mut enc,
                "vigil_ring_buffer_size",
                "Size of the ring buffer.",
                Some(&Unit::Bytes),
                gauge(r.size_bytes),
            )?;
        }
        family(
            &mut enc,
            "vigil_alerts",
            "Alerts written, by rule and priority.",
            None,
            s.alerts.iter().map(|(rule, prio, n)| {
                (
                    vec![("rule", rule.clone()), ("priority", prio.clone())],
                    counter(*n),
                )
            }),
        )?;
        single(
            &mut enc,
            "vigil_alerts_suppressed",
            "Alerts held back by the alert rate limit (counted in the next alert of their key).",
            None,
            counter(s.alerts_suppressed),
        )?;
        if let Some(r) = s.recorder {
            single(
                &mut enc,
                "vigil_recorder_written",
                "Bytes the flight recorder wrote to segment files.",
                Some(&Unit::Bytes),
                counter(r.bytes),
            )?;
            single(
                &mut enc,
                "vigil_recorder_segments_created",
                "Flight-recorder segment files created.",
                None,
                counter(r.segments_created),
            )?;
            single(
                &mut enc,
                "vigil_recorder_segments_deleted",
                "Flight-recorder segment files deleted by retention.",
                None,
                counter(r.segments_deleted),
            )?;
            family(
                &mut enc,
                "vigil_recorder_events_lost",
                "Events the flight recorder lost: dropped on a full queue, or failed to encode or write.",
                None,
                [
                    (vec![("reason", "queue_full".to_string())], counter(r.events_dropped)),
                    (vec![("reason", "write_failed".to_string())], counter(r.events_failed)),
                ],
            )?;
        }
        if let Some(n) = s.recorder_summarised {
            single(
                &mut enc,
                "vigil_recorder_events_summarised",
                "Syscall events of a flooding container the flight recorder kept as counts in `throttled` events (--record-budget).",
                None,
                counter(n),
            )?;
        }
        family(
            &mut enc,
            "vigil_container_kernel_drops",
            "Records of a container (`host`: the rest) lost in the kernel: the ring buffer was full or down to its lifecycle reserve.",
            None,
            s.container_losses
                .iter()
                .map(|(c, dropped, _)| (vec![("container", c.clone())], counter(*dropped))),
        )?;
        family(
            &mut enc,
            "vigil_container_throttled",
            "Syscall records of a container the kernel held back over its rate (--throttle), reported in `throttled` events.",
            None,
            s.container_losses
                .iter()
                .map(|(c, _, held)| (vec![("container", c.clone())], counter(*held))),
        )?;
        // Every alert output, by name.
        family(
            &mut enc,
            "vigil_output_queue_depth",
            "Alerts waiting in an output's queue.",
            None,
            s.outputs
                .iter()
                .map(|o| (vec![("output", o.name.clone())], gauge(o.queue_depth))),
        )?;
        family(
            &mut enc,
            "vigil_output_sent",
            "Alerts an output delivered.",
            None,
            s.outputs
                .iter()
                .map(|o| (vec![("output", o.name.clone())], counter(o.sent))),
        )?;
        family(
            &mut enc,
            "vigil_output_dropped",
            "Alerts an output dropped undelivered (queue full, or still queued at exit).",
            None,
            s.outputs
                .iter()
                .map(|o| (vec![("output", o.name.clone())], counter(o.dropped))),
        )?;
        family(
            &mut enc,
            "vigil_output_failed",
            "Alerts an output attempted and gave up after its retries.",
            None,
            s.outputs
                .iter()
                .map(|o| (vec![("output", o.name.clone())], counter(o.failed))),
        )?;
        family(
            &mut enc,
            "vigil_output_retries",
            "Delivery attempts an output repeated after a failure.",
            None,
            s.outputs
                .iter()
                .map(|o| (vec![("output", o.name.clone())], counter(o.retries))),
        )?;
        // Runtime API lookups (CRI, Docker): a socket that is slow or gone
        // shows here as timeouts and failures, while the pipeline goes on.
        if let Some(m) = s.metadata {
            family(
                &mut enc,
                "vigil_metadata_lookups",
                "Container metadata lookups from the runtimes' APIs (CRI, Docker), by result: requested, resolved, failed (gave up, the reason is in the events), refused (the lookup queue was full).",
                None,
                [
                    ("requested", m.requested),
                    ("resolved", m.resolved),
                    ("failed", m.failed),
                    ("refused", m.refused),
                ]
                .map(|(result, n)| (vec![("result", result.to_string())], counter(n))),
            )?;
            single(
                &mut enc,
                "vigil_metadata_lookup_timeouts",
                "Lookup attempts a runtime did not answer within the timeout.",
                None,
                counter(m.timeouts),
            )?;
            single(
                &mut enc,
                "vigil_metadata_lookup_retries",
                "Lookup attempts repeated after a miss or an error.",
                None,
                counter(m.retries),
            )?;
        }
        if let Some(h) = self.0.hooks() {
            family(
                &mut enc,
                "vigil_hooks",
                "eBPF hooks by state: attached, or refused by the kernel.",
                None,
                [
                    (vec![("state", "attached".to_string())], gauge(h.attached)),
                    (vec![("state", "refused".to_string())], gauge(h.refused)),
                ],
            )?;
            family(
                &mut enc,
                "vigil_hook_mode",
                "The sensor's mode: 1 for the one it runs in (lsm, or tracepoint where BPF-LSM is refused).",
                None,
                ["lsm", "tracepoint"]
                    .map(|m| (vec![("mode", m.to_string())], gauge(u64::from(h.mode == m)))),
            )?;
            family(
                &mut enc,
                "vigil_not_covered",
                "What the sensor's mode cannot see (tracepoint mode: what BPF-LSM would add); 1 per gap.",
                None,
                h.not_covered
                    .iter()
                    .map(|w| (vec![("what", w.to_string())], gauge(1))),
            )?;
        }
        let rules = self.0.rules();
        single(
            &mut enc,
            "vigil_rules_loaded",
            "Rules in the running rule set.",
            None,
            gauge(rules.loaded),
        )?;
        family(
            &mut enc,
            "vigil_rules_reloads",
            "Rule reloads (SIGHUP), by result; a failed reload keeps the running set.",
            None,
            [
                (
                    vec![("result", "success".to_string())],
                    counter(rules.reloads_ok),
                ),
                (
                    vec![("result", "failure".to_string())],
                    counter(rules.reloads_failed),
                ),
            ],
        )?;
        if let Some((ok, at)) = rules.last {
            single(
                &mut enc,
                "vigil_rules_last_load_success",
                "1 if the last rules load or reload succeeded, 0 if it failed.",
                None,
                gauge(u64::from(ok)),
            )?;
            let secs = at
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            single(
                &mut enc,
                "vigil_rules_last_load_timestamp",
                "When the last rules load or reload finished (Unix time).",
                Some(&Unit::Seconds),
                ConstGauge::new(secs),
            )?;
        }
        let ready = self.0.readiness().ok;
        single(
            &mut enc,
            "vigil_ready",
            "1 once every hook is attached and the ring buffer was polled.",
            None,
            gauge(u64::from(ready)),
        )?;
        if let Some(p) = ProcessStats::read() {
            single(
                &mut enc,
                "process_resident_memory",
                "Resident memory of the agent.",
                Some(&Unit::Bytes),
                gauge(p.rss_bytes),
            )?;
            single(
                &mut enc,
                "process_cpu",
                "CPU time of the agent, user and system.",
                Some(&Unit::Seconds),
                ConstCounter::new(p.cpu_seconds),
            )?;
            single(
                &mut enc,
                "process_open_fds",
                "Open file descriptors of the agent.",
                None,
                gauge(p.open_fds),
            )?;
        }
        Ok(())
    }
}

/// The agent's own resource use, from `/proc/self`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessStats {
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
    pub open_fds: u64,
}

impl ProcessStats {
    pub fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        // SAFETY: sysconf has no preconditions.
        let (page, tick) = unsafe {
            (
                libc::sysconf(libc::_SC_PAGESIZE),
                libc::sysconf(libc::_SC_CLK_TCK),
            )
        };
        let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
        parse_process(
            &stat,
            &statm,
            page.max(1) as u64,
            tick.max(1) as u64,
            open_fds,
        )
    }
}

/// `stat`'s utime and stime (fields 14, 15, after the `(comm)` that may hold
/// spaces) and `statm`'s resident pages.
fn parse_process(
    stat: &str,
    statm: &str,
    page: u64,
    tick: u64,
    open_fds: u64,
) -> Option<ProcessStats> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut f = after_comm.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    let resident: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(ProcessStats {
        rss_bytes: resident * page,
        cpu_seconds: (utime + stime) as f64 / tick as f64,
        open_fds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::state::{HookCounts, OutputCounters, RecorderCounters, Snapshot};
    use monitor_common::EventKind;

    #[test]
    fn process_stats_parse_comm_with_spaces() {
        let stat = "42 (tokio rt) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1 0 0";
        let p = parse_process(stat, "5000 1200 300 1 0 900 0\n", 4096, 100, 7).unwrap();
        assert_eq!(p.rss_bytes, 1200 * 4096);
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.open_fds, 7);
        assert!(ProcessStats::read().unwrap().rss_bytes > 0);
    }

    #[test]
    fn metrics_follow_prometheus_naming() {
        let state = Arc::new(AgentState::default());
        state.set_hooks(HookCounts {
            attached: 9,
            refused: 1,
            mode: "tracepoint",
            not_covered: vec!["io_uring file opens"],
        });
        state.rules_loaded(false, Some(12));
        state.publish(Snapshot {
            events: vec![(EventKind::Exec, 5), (EventKind::Syscall, 7)],
            kernel_drops: vec![(EventKind::Exec, 1)],
            alerts: vec![("Shell in container".into(), "Warning".into(), 3)],
            alerts_suppressed: 4,
            recorder: Some(RecorderCounters {
                bytes: 1000,
                segments_created: 2,
                ..Default::default()
            }),
            outputs: vec![OutputCounters {
                name: "http".into(),
                queue_depth: 3,
                sent: 10,
                dropped: 1,
                failed: 2,
                retries: 5,
            }],
            container_losses: vec![("0123456789ab".into(), 3, 40_000)],
            recorder_summarised: Some(7),
            metadata: Some(crate::enrich::metadata::remote::RemoteStats {
                requested: 8,
                resolved: 6,
                failed: 1,
                retries: 3,
                timeouts: 2,
                refused: 0,
            }),
            ..Default::default()
        });
        let text = encode(&registry(state)).unwrap();
        for line in [
            "# TYPE vigil_events counter",
            r#"vigil_events_total{kind="execve"} 5"#,
            r#"vigil_kernel_drops_total{kind="execve"} 1"#,
            r#"vigil_alerts_total{rule="Shell in container",priority="Warning"} 3"#,
            "vigil_alerts_suppressed_total 4",
            "vigil_recorder_written_bytes_total 1000",
            "vigil_recorder_segments_created_total 2",
            "vigil_recorder_events_summarised_total 7",
            r#"vigil_container_kernel_drops_total{container="0123456789ab"} 3"#,
            r#"vigil_container_throttled_total{container="0123456789ab"} 40000"#,
            r#"vigil_output_queue_depth{output="http"} 3"#,
            r#"vigil_output_dropped_total{output="http"} 1"#,
            r#"vigil_output_failed_total{output="http"} 2"#,
            r#"vigil_output_retries_total{output="http"} 5"#,
            r#"vigil_metadata_lookups_total{result="requested"} 8"#,
            r#"vigil_metadata_lookups_total{result="failed"} 1"#,
            "vigil_metadata_lookup_timeouts_total 2",
            "vigil_metadata_lookup_retries_total 3",
            r#"vigil_hooks{state="refused"} 1"#,
            r#"vigil_hook_mode{mode="tracepoint"} 1"#,
            r#"vigil_hook_mode{mode="lsm"} 0"#,
            r#"vigil_not_covered{what="io_uring file opens"} 1"#,
            "vigil_rules_loaded 12",
            "vigil_rules_last_load_success 1",
            "vigil_ready 0",
            "# TYPE process_resident_memory_bytes gauge",
            "# TYPE process_cpu_seconds counter",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
