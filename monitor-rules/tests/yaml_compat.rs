//! YAML that Falco's parser (yaml-cpp) reads must load here too, meaning the
//! same, with errors still at `file:line:column`.

use monitor_rules::{DiagKind, LoadOptions, RuleSet, RuleSource};

fn load(text: &str) -> Result<RuleSet, monitor_rules::RulesError> {
    RuleSet::load(&[RuleSource::new("f.yaml", text)], &LoadOptions::default()).map(|(s, _)| s)
}

fn rule(extra: &str) -> String {
    format!(
        "- rule: r\n  desc: d\n  condition: proc.name in (shells)\n  output: o\n  priority: INFO\n{extra}"
    )
}

#[test]
fn flow_sequences_laid_out_as_falco_files_do() {
    for items in [
        // Closing bracket at the key's indentation, items deeper.
        "  items: [\n    ash, bash,\n    sh\n  ]\n",
        // Items at the key's indentation.
        "  items: [\n  ash, bash,\n  sh\n  ]\n",
        // Closing bracket at column 1.
        "  items: [\n    ash, bash,\n    sh\n]\n",
        // Items and bracket at column 1, with comments inside.
        "  items: [ # shells\nash, bash, # more\nsh\n]\n",
        // Quoted items over several lines.
        "  items: [\n\"ash\", 'bash',\n  sh]\n",
        // Quoted items, closing bracket at the key's indentation (Falco's
        // sandbox file: yaml-rust2 alone rejects it).
        "  items: [\n    \"ash\",\n    \"bash\", 'sh'\n  ]\n",
        "  items: [\n    \"ash\", \"bash\",\n    \"sh\"\n]\n",
    ] {
        let text = format!("- list: shells\n{items}{}", rule(""));
        let set = load(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
        let r = &set.rules()[0];
        for (name, hit) in [("bash", true), ("ash", true), ("sh", true), ("zsh", false)] {
            let ev = Ev(name);
            assert_eq!(r.matches(&ev), hit, "{name} with\n{text}");
        }
    }
}

#[test]
fn flow_mappings_and_exceptions_over_lines() {
    let text = format!(
        "- list: shells\n  items: [bash]\n{}  exceptions: [\n  {{name: e, fields: [proc.name],\n  values: [\n  [bash]\n]}}\n]\n",
        rule("")
    );
    let set = load(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
    assert!(!set.rules()[0].matches(&Ev("bash")), "excepted");
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let text = "- list: base\n  items: &sh [ash, bash]\n- list: shells\n  items: *sh\n\
                - rule: r\n  desc: d\n  condition: &c proc.name in (shells)\n  output: &o out\n  priority: INFO\n\
                - &tmpl {rule: r2, desc: d, output: o, priority: INFO, condition: proc.name = zsh}\n\
                - <<: *tmpl\n  rule: r3\n  condition: proc.name = ksh\n";
    let set = load(text).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = set.matching(&Ev("bash")).map(|r| r.name()).collect();
    assert_eq!(names, ["r"]);
    let names: Vec<_> = set.matching(&Ev("ksh")).map(|r| r.name()).collect();
    assert_eq!(names, ["r3"], "merged keys, own condition wins");
    assert_eq!(set.get("r3").unwrap().priority().as_str(), "Informational");
}

#[test]
fn multi_line_scalars_and_comments_anywhere() {
    let text = "# head\n- list: shells # trailing\n  # between keys\n  items:\n    - bash   # item\n    # between items\n    - \"sh\"\n\n\
                - rule: r\n  desc: |\n    two\n    lines\n  condition: >\n    proc.name in\n      (shells)\n    and not\n    proc.name = zsh\n\
                \x20 output: \"a\n    b\"\n  priority: INFO # end\n";
    let set = load(text).unwrap_or_else(|e| panic!("{e}"));
    let r = &set.rules()[0];
    assert_eq!(r.desc(), "two\nlines\n");
    assert!(r.matches(&Ev("sh")));
    assert_eq!(r.format_output(&Ev("sh")), "a b");
}

#[test]
fn errors_after_a_relaxed_flow_keep_their_positions() {
    // The relaxed lines are re-indented internally; reported columns are
    // the file's own.
    let text = "- list: shells\n  items: [\nbash,\n]\n- rule: r\n  desc: d\n  condition: proc.name in (shells) and\n    proc.nme = x\n  output: o\n  priority: INFO\n";
    let err = load(text).unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(d.kind, DiagKind::UnknownField, "{d}");
    assert_eq!((d.pos.line, d.pos.col), (8, 5), "{d}");
    // A YAML error on a relaxed line points at the original column.
    let text = "- list: shells\n  items: [\nbash, ]]\n";
    let err = load(text).unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(d.kind, DiagKind::Yaml, "{d}");
    assert_eq!((d.pos.line, d.pos.col), (3, 8), "{d}");
    // Unclosed flow: still an error.
    assert!(load("- list: shells\n  items: [\nbash,\n").is_err());
}

/// An exec of `name`.
struct Ev(&'static str);

impl monitor_rules::FieldSource for Ev {
    fn get(&self, f: &monitor_rules::Field) -> Option<monitor_rules::Value<'_>> {
        (f.id == monitor_rules::FieldId::ProcName).then_some(monitor_rules::Value::Str(self.0))
    }
    fn evt_type(&self) -> &str {
        "execve"
    }
}
