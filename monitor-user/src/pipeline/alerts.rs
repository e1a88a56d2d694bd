//! The alert path after detection: every rule an event matches
//! ([`crate::detect`]) passes the throttle ([`crate::sink::throttle`]),
//! becomes an alert in Falco's JSON shape ([`crate::sink::alert`]) and goes
//! to the alert writer ([`crate::sink::writer`]: the configured outputs).
//! Four jobs in four places; this file only joins them and counts.

use std::io;

use serde::Serialize;

use crate::detect::Detector;
use crate::event::Event;
use crate::sink::alert::Alert;
use crate::sink::output::{OutputStats, Reopener, StatsHandle};
use crate::sink::throttle::{AlertRate, Throttle, Verdict};
use crate::sink::writer::AlertSink;

/// Detection with its alert output.
pub struct Alerting {
    detector: Detector,
    throttle: Throttle,
    sink: AlertSink,
    /// Alerts written per rule name: (priority, count), for `/metrics`.
    by_rule: std::collections::HashMap<String, (&'static str, u64)>,
}

/// The alert counters of the `stats` line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AlertStats {
    /// Alerts handed to the outputs.
    pub written: u64,
    /// Alerts the throttle held back.
    pub suppressed: u64,
    /// Held back and not yet reported by a later alert of their rule and
    /// container.
    pub suppressed_pending: u64,
    /// Per output: queued, sent, dropped, failed, retries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputStats>,
}

impl Alerting {
    /// Alerts of `detector`'s matches, throttled per rule and container at
    /// `rate`, written to `sink`.
    pub fn new(detector: Detector, sink: AlertSink, rate: AlertRate) -> Alerting {
        Alerting {
            detector,
            throttle: Throttle::new(rate),
            sink,
            by_rule: Default::default(),
        }
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    pub fn detector_mut(&mut self) -> &mut Detector {
        &mut self.detector
    }

    /// Match `ev` and write its alerts, as far as the throttle admits them;
    /// returns how many were written.
    pub fn check(&mut self, ev: &Event) -> io::Result<usize> {
        let mut n = 0;
        let (throttle, sink, by_rule) = (&mut self.throttle, &mut self.sink, &mut self.by_rule);
        self.detector.each_match(ev, |r, f| {
            match throttle.admit(r.name(), &ev.container.id, ev.boot_ns) {
                Verdict::Suppress => {}
                Verdict::Admit { suppressed } => {
                    let mut a = Alert::new(r, f);
                    a.note_suppressed(suppressed);
                    let priority = a.priority;
                    sink.write(a)?;
                    match by_rule.get_mut(r.name()) {
                        Some(c) => *c = (priority, c.1 + 1),
                        None => {
                            by_rule.insert(r.name().to_owned(), (priority, 1));
                        }
                    }
                    n += 1;
                }
            }
            Ok::<_, io::Error>(())
        })?;
        Ok(n)
    }

    /// Alerts written so far.
    pub fn written(&self) -> u64 {
        self.sink.written
    }

    /// Alerts written so far per rule: (rule, priority, count).
    pub fn written_by_rule(&self) -> impl Iterator<Item = (&str, &'static str, u64)> {
        self.by_rule.iter().map(|(r, (p, n))| (r.as_str(), *p, *n))
    }

    /// Alerts the throttle held back so far.
    pub fn suppressed(&self) -> u64 {
        self.throttle.suppressed_total()
    }

    pub fn stats(&self) -> AlertStats {
        AlertStats {
            written: self.sink.written,
            suppressed: self.throttle.suppressed_total(),
            suppressed_pending: self.throttle.suppressed_pending(),
            outputs: self.sink.output_stats(),
        }
    }

    /// Hands over alerts held for outputs that wait for room (replay).
    pub async fn flush(&mut self) {
        self.sink.flush().await;
    }

    /// Lets the outputs deliver what they hold, within their flush timeout.
    pub async fn close(&mut self) {
        self.sink.close().await;
    }

    /// What reads the outputs' counters from elsewhere (the metrics
    /// endpoint): `queued`, `sent`, `dropped`, `failed`, `retries` per output.
    pub fn output_stats_handle(&self) -> Option<StatsHandle> {
        self.sink.stats_handle()
    }

    /// What reopens the file outputs (the binary's SIGHUP handler).
    pub fn reopener(&self) -> Option<Reopener> {
        self.sink.reopener()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::detect::RuleSpec;

    fn shadow_event() -> Event {
        crate::detect::fixtures::build_event(&crate::detect::fixtures::parse_yaml_map(
            "{evt.type: openat, fd.name: /etc/shadow, evt.arg.flags: O_RDONLY, proc.name: cat}",
        ))
        .unwrap()
    }

    #[test]
    fn a_storm_is_throttled_and_the_next_alert_carries_the_count() {
        #[derive(Clone, Default)]
        struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);
        impl io::Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let out = Shared::default();
        let (set, _) = RuleSpec::default().load().unwrap();
        let (det, _r) = Detector::new(set, RuleSpec::default(), "h".into());
        let mut det = Alerting::new(
            det,
            AlertSink::new(Box::new(out.clone())),
            "2/60".parse().unwrap(),
        );
        let mut ev = shadow_event();
        let mut other = shadow_event();
        Arc::make_mut(&mut other.container).id = "0123456789ab".into();
        let t0 = ev.boot_ns;
        for i in 0..1000u64 {
            ev.boot_ns = t0 + i * 1_000_000;
            det.check(&ev).unwrap();
        }
        assert_eq!(det.written(), 2);
        assert_eq!(det.suppressed(), 998);
        let by_rule: Vec<_> = det.written_by_rule().collect();
        assert_eq!(
            by_rule,
            [("Read of shadow or sudoers file in container", "Warning", 2)]
        );
        // Another container has its own budget.
        assert_eq!(det.check(&other).unwrap(), 1);
        ev.boot_ns = t0 + 61_000_000_000;
        assert_eq!(det.check(&ev).unwrap(), 1);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let alerts: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(alerts.len(), 4);
        assert!(alerts[..3].iter().all(|a| a["output_fields"]
            .get(crate::sink::alert::SUPPRESSED_FIELD)
            .is_none()));
        assert_eq!(
            alerts[3]["output_fields"][crate::sink::alert::SUPPRESSED_FIELD],
            998
        );
        assert!(alerts[3]["output"]
            .as_str()
            .unwrap()
            .ends_with("(998 similar alerts suppressed)"));
        let stats = serde_json::to_value(det.stats()).unwrap();
        assert_eq!(
            stats,
            serde_json::json!({"written": 4, "suppressed": 998, "suppressed_pending": 0})
        );
    }
}
