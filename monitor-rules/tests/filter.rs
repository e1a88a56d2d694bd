//! Standalone conditions compiled with a rule set's macros and lists.

mod common;

use common::Ev;
use monitor_rules::{DiagKind, Filter, LoadOptions, RuleSet, RuleSource};

#[test]
fn standalone_condition_uses_the_sets_macros_and_lists() {
    let text = "- list: nets\n  items: [curl, wget]\n- macro: container\n  condition: container.id != host\n";
    let (set, _) =
        RuleSet::load(&[RuleSource::new("r.yaml", text)], &LoadOptions::default()).unwrap();
    let f = set
        .filter("evt.type = execve and container and proc.name in (nets)")
        .unwrap();
    let ev = |name: &str, cid: &str| {
        Ev::new("execve")
            .s("proc.name", name)
            .s("container.id", cid)
    };
    assert!(f.matches(&ev("curl", "0123456789ab")));
    assert!(!f.matches(&ev("curl", "host")));
    assert!(!f.matches(&ev("bash", "0123456789ab")));
    assert_eq!(f.evt_types().unwrap().collect::<Vec<_>>(), ["execve"]);
}

#[test]
fn standalone_condition_errors_name_the_column() {
    let err = Filter::compile("proc.name = a and nope").unwrap_err();
    assert_eq!(err.to_string(), "<condition>:1:19: unknown macro 'nope'");
    let err = Filter::compile("proc.pid = x").unwrap_err();
    assert_eq!(err.diagnostics()[0].kind, DiagKind::Type);
    assert_eq!(err.diagnostics()[0].pos.col, 12);
    let err = Filter::compile("proc.name = a and\n  evt.pluginname = x").unwrap_err();
    assert_eq!(err.diagnostics()[0].kind, DiagKind::Unsupported);
    assert!(
        err.to_string()
            .contains("field 'evt.pluginname' is not supported by vigil"),
        "{err}"
    );
    let err = Filter::compile("proc.name = a and\n  (proc.pid > 1").unwrap_err();
    assert_eq!(err.to_string(), "<condition>:2:16: expected ')'");
    assert!(Filter::compile("fd.name startswith /etc")
        .unwrap()
        .evt_types()
        .is_none());
}
