//! Loading Falco's own stable rule file: it must load, skipping (with one
//! line each) the rules that need fields vigil does not supply.

use std::path::PathBuf;

use vigil_rules::{DiagKind, LoadOptions, RuleSet};

fn falco_rules() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let p = dir.join("shared/falco-rules/falco_rules.yaml");
        if p.is_file() {
            return p;
        }
        let p = dir.join("../shared/falco-rules/falco_rules.yaml");
        if p.is_file() {
            return p;
        }
        assert!(
            dir.pop(),
            "shared/falco-rules/falco_rules.yaml not found above CARGO_MANIFEST_DIR"
        );
    }
}

#[test]
fn falco_stable_rules_load_with_skips() {
    let path = falco_rules();
    let (set, report) = RuleSet::load_paths(&[&path], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("Falco's rule file must load:\n{e}"));
    for s in &report.skipped {
        println!("{s}");
    }
    for w in &report.warnings {
        println!("{}: warning: {}", w.pos, w.message);
    }
    for r in set.rules() {
        println!(
            "loaded: {} [{}]",
            r.name(),
            r.evt_types()
                .map(|t| t.collect::<Vec<_>>().join(","))
                .unwrap_or("*".into())
        );
    }
    println!("{}", report.summary());
    assert!(report.loaded > 0, "no rule loaded");
    assert!(
        !report.skipped.is_empty(),
        "expected some rules to need fields vigil lacks"
    );
    assert_eq!(set.rules().len(), report.loaded);
    // Every skip line has the documented shape and names the file.
    let file = path.display().to_string();
    for s in &report.skipped {
        let line = s.to_string();
        assert!(line.starts_with(&format!("{file}:")), "{line}");
        assert!(
            line.contains(&format!("rule '{}' skipped: ", s.rule)),
            "{line}"
        );
        assert!(s.pos.line > 1 && s.pos.col >= 1);
    }
    // The loaded rules are indexed: a shell-spawn rule listens to execve only.
    let total: usize = report.loaded + report.skipped.len();
    assert!(total >= 20, "Falco's file has many rules, saw {total}");
}

#[test]
fn falco_stable_rules_strict_mode_fails_naming_each_rule() {
    let path = falco_rules();
    let err = RuleSet::load_paths(&[&path], &LoadOptions { strict: true }).unwrap_err();
    let d = err.diagnostics();
    assert!(!d.is_empty());
    assert!(d.iter().all(|d| d.kind == DiagKind::Unsupported), "{err}");
    assert!(d[0].message.contains("is not supported"), "{}", d[0]);
}
