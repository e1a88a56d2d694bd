//! Detection: which rules an event matches, and nothing else. [`rules`]
//! decides which rule files a run loads and reloads them; [`Detector`]
//! holds the current set and answers "which rules match this event";
//! [`fields`] is the rules' view of an event; [`sensing`] derives from the
//! rules what the sensor must report (the in-kernel open filter). What happens to a match
//! (throttle, alert JSON, writers) is the sinks' business
//! ([`crate::pipeline::alerts`]).

pub mod container_fields;
mod context_memo;
pub mod enforce;
pub mod fields;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod rules;
pub mod sensing;

use std::sync::Arc;

use monitor_rules::{CompiledRule, Matching, RuleSet};
use tokio::sync::watch;

use crate::event::Event;
use context_memo::ContextMemos;
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
    /// What `current`'s rules learnt about recent contexts.
    memos: ContextMemos,
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
                memos: ContextMemos::default(),
            },
            Reloader::new(spec, tx),
        )
    }

    /// Take up a reloaded set, if there is one. Called between batches.
    pub fn refresh(&mut self) {
        if self.rules.has_changed().unwrap_or(false) {
            self.current = self.rules.borrow_and_update().clone();
            self.memos.clear();
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

    /// Runs `each` on the enabled rules `ev` matches, in rule order, with
    /// the rules' view of it; stops at its first error. What the rules
    /// learn about `ev`'s process and container is kept for the next event
    /// that shares them ([`context_memo`]).
    pub fn each_match<E>(
        &mut self,
        ev: &Event,
        mut each: impl FnMut(&CompiledRule, &EventFields) -> Result<(), E>,
    ) -> Result<(), E> {
        let f = EventFields::new(ev, &self.hostname);
        let known = self.memos.get(ev);
        let mut m = self.current.matching_from(&f, &known);
        let mut out = Ok(());
        for r in m.by_ref() {
            out = each(r, &f);
            if out.is_err() {
                break;
            }
        }
        let learnt = m.context();
        if learnt != known {
            let command = self.current.command_part(&learnt);
            self.memos.put(ev, learnt, command);
        }
        out
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

    /// The rules `each_match` finds for `ev`.
    fn each(d: &mut Detector, ev: &Event) -> Vec<String> {
        let mut out = Vec::new();
        d.each_match(ev, |r, _| {
            out.push(r.name().to_owned());
            Ok::<_, ()>(())
        })
        .unwrap();
        out
    }

    /// How many rules `each_match` finds for `ev`, checked to be those the
    /// event matches on its own, with nothing carried.
    fn each_like_alone(d: &mut Detector, ev: &Event, round: usize) -> usize {
        let got = each(d, ev);
        let f = d.fields(ev);
        let alone: Vec<_> = d.matching(&f).map(|r| r.name().to_owned()).collect();
        assert_eq!(got, alone, "round {round}: {ev:?}");
        got.len()
    }

    /// Events that mix the contexts of the enricher's events of every
    /// kind (processes, containers, cgroups) with their data, each met
    /// again and again: every match, with what earlier events of its
    /// context taught the rules, is the match of the event on its own.
    #[test]
    fn carried_context_checks_match_like_fresh_ones() {
        let spec = RuleSpec::default();
        let (set, _) = spec.load().unwrap();
        let (mut d, _reloader) = Detector::new(set, spec, "h".into());
        let evs = crate::sink::recorder::tests::events();
        let mut matched = 0;
        for round in 0..2 {
            for a in &evs {
                for c in &evs {
                    for b in &evs {
                        let ev = Event {
                            process: a.process.clone(),
                            container: c.container.clone(),
                            cgroup: c.cgroup.clone(),
                            ..b.clone()
                        };
                        matched += each_like_alone(&mut d, &ev, round);
                    }
                }
            }
        }
        assert!(matched > 1000, "the events match rules: {matched}");
    }

    /// Processes of one command (the same exec context and name) that
    /// differ in their own fields (pids, user, session, namespaces: a
    /// container's init among them, which `proc.vpid = 1` rules ask
    /// about), each in every container and with every event's data, met
    /// one after the other: every match, started from what the command's
    /// other processes taught the rules, is the match of the event alone.
    #[test]
    fn carried_command_checks_match_like_fresh_ones() {
        let spec = RuleSpec::default();
        let (set, _) = spec.load().unwrap();
        let (mut d, _reloader) = Detector::new(set, spec, "h".into());
        let evs = crate::sink::recorder::tests::events();
        let siblings = super::fields::tests::command_siblings(&evs);
        let (mut matched, mut from_command) = (0, 0);
        for p in &siblings {
            for c in &evs {
                for b in &evs {
                    let ev = Event {
                        process: p.clone(),
                        container: c.container.clone(),
                        cgroup: c.cgroup.clone(),
                        ..b.clone()
                    };
                    from_command += usize::from(d.memos.only_command_known(&ev));
                    matched += each_like_alone(&mut d, &ev, 0);
                }
            }
        }
        assert!(matched > 1000, "the events match rules: {matched}");
        assert!(
            from_command > 1000,
            "events started from their command's part: {from_command}"
        );
    }

    /// What was learnt with one rule set is not used with the next: the
    /// same checks' slots may mean other checks there.
    #[test]
    fn a_new_rule_set_starts_from_nothing() {
        let dir = crate::testutil::TempDir::new("context-memo");
        let f = dir.path().join("extra.yaml");
        let rule = |name: &str| {
            format!("- rule: Extra\n  desc: d\n  condition: evt.type = openat and proc.name = {name}\n  output: o\n  priority: NOTICE\n")
        };
        std::fs::write(&f, rule("cat")).unwrap();
        let spec = RuleSpec {
            paths: vec![f.clone()],
            no_defaults: true,
            ..Default::default()
        };
        let (set, _) = spec.load().unwrap();
        let (mut d, reloader) = Detector::new(set, spec, "h".into());
        let ev = crate::detect::fixtures::build_event(&crate::detect::fixtures::parse_yaml_map(
            "{evt.type: openat, fd.name: /etc/hosts, evt.arg.flags: O_RDONLY, proc.name: cat}",
        ))
        .unwrap();
        assert_eq!(each(&mut d, &ev), ["Extra"]);
        assert_eq!(each(&mut d, &ev), ["Extra"], "from what the first taught");
        std::fs::write(&f, rule("dog")).unwrap();
        reloader.reload().unwrap();
        d.refresh();
        assert!(each(&mut d, &ev).is_empty());
    }
}
