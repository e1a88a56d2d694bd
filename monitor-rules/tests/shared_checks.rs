//! Checks shared between rules: evaluated once per event, and a shared
//! check found false skips the other rules that cannot hold without it.

mod common;

use std::cell::Cell;

use common::Ev;
use monitor_rules::{Field, FieldSource, LoadOptions, RuleSet, RuleSource, Value};

/// An event that counts the reads of `user.uid`.
struct Counting {
    ev: Ev,
    uid_reads: Cell<u32>,
}

impl FieldSource for Counting {
    fn get(&self, f: &Field) -> Option<Value<'_>> {
        if f.name() == "user.uid" {
            self.uid_reads.set(self.uid_reads.get() + 1);
        }
        self.ev.get(f)
    }
    fn evt_type(&self) -> &str {
        self.ev.evt_type()
    }
}

#[test]
fn a_shared_check_known_false_skips_the_rules_that_need_it() {
    // `user.uid = 0` is cheaper than the shared container check, so each
    // rule tests it first; once the first rule has found the container
    // check false, the others are not evaluated at all.
    let mut text = String::from("- macro: c\n  condition: container.id != host\n");
    for (i, cond) in [
        "c and user.uid = 0",
        "c and user.uid = 0 and proc.name != x",
        "c and user.uid != 2",
    ]
    .iter()
    .enumerate()
    {
        text += &format!(
            "- rule: r{i}\n  desc: d\n  output: o\n  priority: INFO\n  condition: evt.type = execve and {cond}\n"
        );
    }
    let (set, _) =
        RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default()).unwrap();
    let run = |cid| {
        let ev = Counting {
            ev: Ev::new("execve")
                .s("container.id", cid)
                .s("proc.name", "sh")
                .n("user.uid", 0),
            uid_reads: Cell::new(0),
        };
        let names: Vec<_> = set.matching(&ev).map(|r| r.name().to_owned()).collect();
        // The index and the memo agree with each rule on its own.
        let alone: Vec<_> = set
            .rules()
            .iter()
            .filter(|r| r.matches(&ev.ev))
            .map(|r| r.name().to_owned())
            .collect();
        assert_eq!(names, alone);
        (names, ev.uid_reads.get())
    };
    // In a container: `user.uid = 0` is read once (r0 and r1 share it),
    // `user.uid != 2` once.
    assert_eq!(run("abc"), (vec!["r0".into(), "r1".into(), "r2".into()], 2));
    // On the host, r1 and r2 are refuted before they read anything.
    assert_eq!(
        run("host"),
        (vec![], 1),
        "only the first rule read user.uid"
    );
}
