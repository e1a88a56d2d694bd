//! Detection: which rules an event matches, and nothing else. [`rules`]
//! decides which rule files a run loads and reloads them; [`Detector`]
//! holds the current set and answers "which rules match this event";
//! [`fields`] is the rules' view of an event; [`sensing`] derives from the
//! rules what the sensor must report (the in-kernel open filter). What happens to a match
//! (throttle, alert JSON, writers) is the sinks' business
//! ([`crate::pipeline::alerts`]).

pub mod container_fields;
pub mod enforce;
pub mod fields;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod rules;
pub mod sensing;

use std::sync::Arc;

use monitor_rules::{Matching, RuleSet};
use tokio::sync::watch;

use crate::event::Event;
use fields::EventFields;
pub use rules::{
    default_sources, error_lines, log_report, unhooked_lines, unhooked_rules, Reloader, RuleSpec,
};
pub use sensing::{sensor_needs, Note, SensorNeeds};

/// The machine's host name (Falco's `hostname`).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its whole length.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The current rule set, and which of its rules an event matches.
pub struct Detector {
    rules: watch::Receiver<Arc<RuleSet>>,
    current: Arc<RuleSet>,
    hostname: String,
}

impl Detector {
    /// A detector and the [`Reloader`] that swaps its rules.
    pub fn new(set: RuleSet, spec: RuleSpec, hostname: String) -> (Detector, Reloader) {
        let set = Arc::new(set);
        let (tx, rx) = watch::channel(set.clone());
        (
            Detector {
                rules: rx,
                current: set,
                hostname,
            },
            Reloader::new(spec, tx),
        )
    }

    /// Take up a reloaded set, if there is one. Called between batches.
    pub fn refresh(&mut self) {
        if self.rules.has_changed().unwrap_or(false) {
            self.current = self.rules.borrow_and_update().clone();
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.current
    }

    /// The newest rule set, even one a reload brought that the detector
    /// has not taken up yet (it does between batches).
    pub fn latest_rules(&self) -> Arc<RuleSet> {
        self.rules.borrow().clone()
    }

    /// The rule set in use, shared.
    pub fn rule_set(&self) -> Arc<RuleSet> {
        self.current.clone()
    }

    /// The rules' view of `ev` on this host.
    pub fn fields<'e>(&'e self, ev: &'e Event) -> EventFields<'e> {
        EventFields::new(ev, &self.hostname)
    }

    /// The enabled rules that match, in rule order.
    pub fn matching<'s, 'f, 'e>(
        &'s self,
        fields: &'f EventFields<'e>,
    ) -> Matching<'s, 'f, EventFields<'e>> {
        self.current.matching(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_is_the_kernels() {
        let h = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(hostname(), h.trim());
    }
}
