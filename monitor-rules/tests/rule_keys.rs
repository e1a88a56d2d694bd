//! Falco's rule keys beyond the condition: `capture`, `capture_duration`,
//! `warn_evttypes`, `skip-if-unknown-filter`, and overriding them; vigil's
//! `action` and `enforce_write` (docs/enforcement.md).

use monitor_rules::{Action, Capture, Enforce, LoadOptions, RuleSet, RuleSource};

fn load(text: &str) -> (RuleSet, monitor_rules::LoadReport) {
    RuleSet::load(&[RuleSource::new("k.yaml", text)], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

const R: &str = "- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: INFO\n";

#[test]
fn capture_is_recorded_on_the_rule() {
    let (set, _) = load(&format!("{R}  capture: true\n  capture_duration: 5000\n"));
    assert_eq!(
        set.rules()[0].capture(),
        Some(Capture {
            duration_ms: Some(5000)
        })
    );
    let (set, _) = load(&format!("{R}  capture: true\n"));
    assert_eq!(
        set.rules()[0].capture(),
        Some(Capture { duration_ms: None })
    );
    let (set, _) = load(R);
    assert_eq!(set.rules()[0].capture(), None);
    // Overridden later (as a tuning file would).
    let (set, _) = load(&format!(
        "{R}- rule: r\n  capture: true\n  capture_duration: 100\n  override:\n    capture: replace\n    capture_duration: replace\n"
    ));
    assert_eq!(
        set.rules()[0].capture(),
        Some(Capture {
            duration_ms: Some(100)
        })
    );
    let err = RuleSet::load(
        &[RuleSource::new(
            "k.yaml",
            format!("{R}  capture_duration: soon\n"),
        )],
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "k.yaml:6:21: capture_duration must be a number of milliseconds"
    );
}

#[test]
fn warn_evttypes_false_silences_the_any_type_warning() {
    let (_, report) = load(R);
    assert_eq!(report.warnings.len(), 1);
    assert!(report.warnings[0]
        .message
        .contains("does not restrict evt.type"));
    let (_, report) = load(&format!("{R}  warn_evttypes: false\n"));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let (_, report) = load(&format!(
        "{R}- rule: r\n  warn_evttypes: false\n  override:\n    warn_evttypes: replace\n"
    ));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn skip_if_unknown_filter_can_be_overridden() {
    let bad = "- rule: r\n  desc: d\n  condition: evt.type = execve and proc.nope = x\n  output: o\n  priority: INFO\n";
    assert!(RuleSet::load(&[RuleSource::new("k.yaml", bad)], &LoadOptions::default()).is_err());
    let (set, report) = load(&format!(
        "{bad}- rule: r\n  skip-if-unknown-filter: true\n  override:\n    skip-if-unknown-filter: replace\n"
    ));
    assert!(set.rules().is_empty());
    assert_eq!(
        report.skipped[0].reason,
        "unknown field 'proc.nope' (skip-if-unknown-filter)"
    );
}

#[test]
fn action_and_enforce_write_are_recorded_checked_and_overridable() {
    let (set, _) = load(&format!(
        "{R}  action: deny\n  enforce_write: [release_agent, core_pattern]\n"
    ));
    assert_eq!(
        set.rules()[0].enforce(),
        Some(&Enforce {
            action: Action::Deny,
            enforce_write: vec!["release_agent".into(), "core_pattern".into()],
        })
    );
    let (set, _) = load(&format!("{R}  action: kill\n"));
    assert_eq!(
        set.rules()[0].enforce().map(|e| e.action),
        Some(Action::Kill)
    );
    let (set, _) = load(R);
    assert_eq!(set.rules()[0].enforce(), None);
    // A tuning file turns a rule's action on later.
    let (set, _) = load(&format!(
        "{R}- rule: r\n  action: deny\n  override:\n    action: replace\n"
    ));
    assert_eq!(
        set.rules()[0].enforce().map(|e| e.action),
        Some(Action::Deny)
    );
    let err = |text: String| {
        RuleSet::load(&[RuleSource::new("k.yaml", text)], &LoadOptions::default())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(format!("{R}  action: block\n")),
        "k.yaml:6:11: invalid action 'block': expected deny or kill"
    );
    assert_eq!(
        err(format!("{R}  enforce_write: [x]\n")),
        "k.yaml:6:18: enforce_write needs an `action` on the same rule"
    );
    assert_eq!(
        err(format!("{R}  action: deny\n  enforce_write: [/etc/x]\n")),
        "k.yaml:7:18: enforce_write entry '/etc/x' must be a file name (1..=31 bytes, no '/')"
    );
}
