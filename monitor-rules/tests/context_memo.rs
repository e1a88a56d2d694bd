//! Context checks carried between events: what one event's matching learnt
//! about its context's fields ([`LoadOptions::context_fields`]) answers
//! those checks for the next event of the context, which gets the same
//! matches as on its own, without reading those fields again; what it
//! learnt about its command's fields ([`LoadOptions::command_fields`])
//! answers them for another context of the command.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;

use common::Ev;
use monitor_rules::{ContextMemo, Field, FieldSource, LoadOptions, RuleSet, RuleSource, Value};

/// For these tests: the process's and container's fields.
fn context(f: &Field) -> bool {
    let name = f.name();
    name.starts_with("proc.") || name.starts_with("container.") || name.starts_with("user.")
}

/// And of those, the command's: all but the user's (another process of
/// the same command may run as another user).
fn command(f: &Field) -> bool {
    context(f) && !f.name().starts_with("user.")
}

/// An event that counts its field reads by name.
struct Counting {
    ev: Ev,
    reads: RefCell<BTreeMap<String, u32>>,
}

impl Counting {
    fn new(ev: Ev) -> Counting {
        Counting {
            ev,
            reads: RefCell::default(),
        }
    }
    fn reads(&self, name: &str) -> u32 {
        self.reads.borrow().get(name).copied().unwrap_or(0)
    }
}

impl FieldSource for Counting {
    fn get(&self, f: &Field) -> Option<Value<'_>> {
        *self.reads.borrow_mut().entry(f.name()).or_default() += 1;
        self.ev.get(f)
    }
    fn evt_type(&self) -> &str {
        self.ev.evt_type()
    }
}

const RULES: &str = r#"
- rule: shadow read by cat
  desc: d
  output: o
  priority: INFO
  condition: evt.type = openat and proc.name = cat and fd.name = /etc/shadow
- rule: root runs cat
  desc: d
  output: o
  priority: INFO
  condition: evt.type = execve and proc.name = cat and user.uid = 0
- rule: in a container
  desc: d
  output: o
  priority: INFO
  condition: evt.type in (openat, execve) and container.id != host
"#;

fn load(context_fields: Option<fn(&Field) -> bool>) -> RuleSet {
    load_with(context_fields, None)
}

fn load_with(
    context_fields: Option<fn(&Field) -> bool>,
    command_fields: Option<fn(&Field) -> bool>,
) -> RuleSet {
    let opts = LoadOptions {
        context_fields,
        command_fields,
        ..LoadOptions::default()
    };
    RuleSet::load(&[RuleSource::new("t.yaml", RULES)], &opts)
        .unwrap()
        .0
}

/// `cat` (uid 0) in container `cid`: its exec, then its open of `path`.
fn events(cid: &str, path: &str) -> (Counting, Counting) {
    events_of(0, cid, path)
}

/// [`events`] of a `cat` that user `uid` runs.
fn events_of(uid: i64, cid: &str, path: &str) -> (Counting, Counting) {
    let ctx = |ty| {
        Ev::new(ty)
            .s("proc.name", "cat")
            .n("user.uid", uid)
            .s("container.id", cid)
    };
    (
        Counting::new(ctx("execve")),
        Counting::new(ctx("openat").s("fd.name", path)),
    )
}

/// The names of the rules `ev` matches starting from `known`, and what the
/// matching knew about the context afterwards.
fn matches(set: &RuleSet, ev: &Counting, known: &ContextMemo) -> (Vec<String>, ContextMemo) {
    let mut m = set.matching_from(ev, known);
    let names = m.by_ref().map(|r| r.name().to_owned()).collect();
    (names, m.context())
}

fn names(set: &RuleSet, ev: &Counting) -> Vec<String> {
    set.matching(ev).map(|r| r.name().to_owned()).collect()
}

#[test]
fn the_next_event_of_a_context_gets_the_same_matches_without_reading_it_again() {
    let set = load(Some(context));
    let (exec, open) = events("abc", "/etc/shadow");
    let (hits, known) = matches(&set, &exec, &ContextMemo::default());
    assert_eq!(hits, ["root runs cat", "in a container"]);
    // proc.name = cat, user.uid = 0, container.id != host.
    assert_eq!(known.len(), 3, "{known:?}");

    let (hits, after) = matches(&set, &open, &known);
    let (_, fresh) = events("abc", "/etc/shadow");
    assert_eq!(hits, names(&set, &fresh));
    assert_eq!(hits, ["shadow read by cat", "in a container"]);
    assert_eq!(after, known, "nothing new about the context");
    assert_eq!(open.reads("proc.name"), 0);
    assert_eq!(open.reads("container.id"), 0);
    assert_eq!(open.reads("fd.name"), 1, "the event's own field is read");
    assert_eq!(fresh.reads("proc.name"), 1);
}

#[test]
fn a_context_check_known_false_refutes_the_next_events_rules_unread() {
    let set = load(Some(context));
    let (exec, open) = events("host", "/etc/passwd");
    let (hits, known) = matches(&set, &exec, &ContextMemo::default());
    assert_eq!(hits, ["root runs cat"]);
    let (hits, _) = matches(&set, &open, &known);
    assert!(hits.is_empty());
    assert_eq!(open.reads("container.id"), 0);
}

#[test]
fn what_is_learnt_grows_over_a_contexts_events() {
    // The open's rule asks about nothing the exec's did not, but an event
    // of another kind first learns less, and later events add to it.
    let set = load(Some(context));
    let (exec, open) = events("abc", "/etc/shadow");
    let (_, after_open) = matches(&set, &open, &ContextMemo::default());
    assert_eq!(after_open.len(), 2, "proc.name = cat, container.id != host");
    let (hits, after_exec) = matches(&set, &exec, &after_open);
    assert_eq!(hits, ["root runs cat", "in a container"]);
    assert_eq!(after_exec.len(), 3, "and user.uid = 0");
    assert_eq!(exec.reads("user.uid"), 1);
    assert_eq!(exec.reads("proc.name"), 0);
}

#[test]
fn without_context_fields_nothing_is_carried() {
    let set = load(None);
    let (exec, _) = events("abc", "/etc/shadow");
    let (hits, known) = matches(&set, &exec, &ContextMemo::default());
    assert_eq!(hits, ["root runs cat", "in a container"]);
    assert!(known.is_empty());
}

#[test]
fn another_context_of_a_command_starts_from_the_commands_part() {
    let set = load_with(Some(context), Some(command));
    let (exec, _) = events("abc", "/etc/shadow");
    let (_, known) = matches(&set, &exec, &ContextMemo::default());
    assert_eq!(known.len(), 3);
    let part = set.command_part(&known);
    assert_eq!(part.len(), 2, "proc.name = cat, container.id != host");

    // The same command run by another user: what is the user's is read
    // again, and decides otherwise.
    let (other, _) = events_of(1000, "abc", "/etc/shadow");
    let (hits, after) = matches(&set, &other, &part);
    let (fresh, _) = events_of(1000, "abc", "/etc/shadow");
    assert_eq!(hits, names(&set, &fresh));
    assert_eq!(hits, ["in a container"]);
    assert_eq!(other.reads("user.uid"), 1);
    assert_eq!(other.reads("proc.name"), 0);
    assert_eq!(other.reads("container.id"), 0);
    assert_eq!(after.len(), 3, "the command's part and user.uid != 0");
}

#[test]
fn without_command_fields_no_part_is_the_commands() {
    let set = load(Some(context));
    let (exec, _) = events("abc", "/etc/shadow");
    let (_, known) = matches(&set, &exec, &ContextMemo::default());
    assert_eq!(known.len(), 3);
    assert!(set.command_part(&known).is_empty());
}
