//! Hostile and malformed input: the loader returns errors, never panics,
//! and stays bounded in time and memory.

use monitor_rules::{DiagKind, LoadOptions, RuleSet, RuleSource};

fn load(text: &str) -> Result<usize, Vec<DiagKind>> {
    RuleSet::load(&[RuleSource::new("h.yaml", text)], &LoadOptions::default())
        .map(|(s, _)| s.rules().len())
        .map_err(|e| e.diagnostics().iter().map(|d| d.kind).collect())
}

#[test]
fn deep_yaml_nesting_is_refused() {
    let text = format!("- {}x{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(load(&text).is_err());
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("- a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("- a{i}: &a{i} [{refs}]\n"));
    }
    let err = load(&text).unwrap_err();
    assert_eq!(err, [DiagKind::Yaml]);
}

#[test]
fn deep_conditions_and_macro_chains_are_refused() {
    let cond = format!("{}evt.num = 1{}", "(".repeat(5000), ")".repeat(5000));
    let text =
        format!("- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: \"{cond}\"\n");
    assert_eq!(load(&text).unwrap_err(), [DiagKind::Syntax]);
    let mut text = String::from("- macro: m0\n  condition: evt.num = 1\n");
    for i in 1..200 {
        text.push_str(&format!("- macro: m{i}\n  condition: m{}\n", i - 1));
    }
    text.push_str("- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: m199\n");
    assert_eq!(load(&text).unwrap_err(), [DiagKind::UnknownMacro]);
}

#[test]
fn exponential_macro_expansion_is_bounded() {
    let mut text = String::from("- macro: m0\n  condition: evt.num = 1\n");
    for i in 1..40 {
        text.push_str(&format!(
            "- macro: m{i}\n  condition: (m{0} and m{0})\n",
            i - 1
        ));
    }
    text.push_str("- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: m39\n");
    let start = std::time::Instant::now();
    assert_eq!(load(&text).unwrap_err(), [DiagKind::Syntax]);
    assert!(start.elapsed().as_secs() < 10);
}

#[test]
fn odd_but_valid_shapes() {
    assert_eq!(load(""), Ok(0));
    assert_eq!(load("# only a comment\n"), Ok(0));
    assert_eq!(load("---\n[]\n---\n[]\n"), Ok(0));
    assert!(load("- 42\n").is_err());
    assert!(load("- rule: {a: b}\n").is_err());
    assert!(load("- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: proc.pid = 99999999999999999999999\n").is_err());
    assert!(load(
        "- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: proc.name = \"é\\\n"
    )
    .is_err());
    // Lists that include each other terminate.
    assert_eq!(load("- list: a\n  items: [b, x]\n- list: b\n  items: [a, y]\n- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: proc.name in (a)\n"), Ok(1));
}
