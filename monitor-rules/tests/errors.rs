//! Every kind of error names `file:line:column` and what is wrong; the
//! column points at the offending character, also inside condition strings.

use monitor_rules::{DiagKind, Diagnostic, LoadOptions, RuleSet, RuleSource};

fn errors(text: &str) -> Vec<Diagnostic> {
    let src = RuleSource::new("t.yaml", text);
    match RuleSet::load(&[src], &LoadOptions::default()) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.diagnostics().to_vec(),
    }
}

/// The single error, checked for kind, `line:col` and a message fragment.
fn one(text: &str, kind: DiagKind, line: u32, col: u32, msg: &str) {
    let d = errors(text);
    assert_eq!(d.len(), 1, "{d:#?}");
    let d = &d[0];
    assert_eq!(d.kind, kind, "{d}");
    assert_eq!((d.pos.line, d.pos.col), (line, col), "{d}");
    assert!(d.message.contains(msg), "{d}");
    assert!(
        d.to_string().starts_with(&format!("t.yaml:{line}:{col}: ")),
        "{d}"
    );
}

const RULE_HEAD: &str = "- rule: r\n  desc: d\n  output: o\n  priority: WARNING\n";

fn rule(cond: &str) -> String {
    format!("{RULE_HEAD}  condition: {cond}\n")
}

#[test]
fn yaml_error() {
    one("- rule: [a\n- x", DiagKind::Yaml, 3, 1, "YAML error");
    one("- a: 'unterminated\n", DiagKind::Yaml, 1, 6, "YAML error");
}

#[test]
fn not_a_sequence() {
    one("rule: x\n", DiagKind::Schema, 1, 1, "must be a sequence");
}

#[test]
fn unknown_item_and_keys() {
    one("- rool: x\n", DiagKind::Schema, 1, 3, "unknown item 'rool'");
    one(
        &format!("{RULE_HEAD}  condition: evt.num=1\n  severity: high\n"),
        DiagKind::Schema,
        6,
        3,
        "unknown key 'severity' in rule",
    );
    one(
        "- list: l\n  items: [a]\n  itemz: [b]\n",
        DiagKind::Schema,
        3,
        3,
        "unknown key 'itemz'",
    );
    one(
        "- macro: m\n  condition: evt.num=1\n  desc: x\n",
        DiagKind::Schema,
        3,
        3,
        "unknown key 'desc'",
    );
    one(
        &rule("evt.num=1\n  exceptions:\n    - name: e\n      fieldz: [proc.name]"),
        DiagKind::Schema,
        8,
        7,
        "unknown key 'fieldz' in exception",
    );
}

#[test]
fn missing_keys_and_wrong_types() {
    one(
        "- rule: r\n  desc: d\n  condition: evt.num=1\n  priority: INFO\n",
        DiagKind::Schema,
        1,
        3,
        "has no 'output'",
    );
    one(
        &format!("{RULE_HEAD}  condition: evt.num=1\n  tags: notalist\n"),
        DiagKind::Schema,
        6,
        9,
        "expected a sequence",
    );
    one(
        &format!("{RULE_HEAD}  condition: evt.num=1\n  enabled: maybe\n"),
        DiagKind::Schema,
        6,
        12,
        "true or false",
    );
}

#[test]
fn bad_priority() {
    one(
        "- rule: r\n  desc: d\n  output: o\n  priority: SEVERE\n  condition: evt.num=1\n",
        DiagKind::Priority,
        4,
        13,
        "invalid priority 'SEVERE'",
    );
}

#[test]
fn unknown_macro_points_into_condition() {
    // "  condition: " is 13 chars, so the condition starts at column 14.
    one(
        &rule("evt.type = execve and not my_macro"),
        DiagKind::UnknownMacro,
        5,
        40,
        "unknown macro 'my_macro'",
    );
    // Inside a macro used by the rule, the error points into the macro.
    let text = format!(
        "- macro: m\n  condition: (evt.num = 1 or other)\n{}",
        rule("m")
    );
    one(
        &text,
        DiagKind::UnknownMacro,
        2,
        30,
        "unknown macro 'other'",
    );
}

#[test]
fn macro_cycle() {
    let text = format!(
        "- macro: a\n  condition: b\n- macro: b\n  condition: a\n{}",
        rule("a")
    );
    let d = errors(&text);
    assert!(
        d.iter()
            .any(|d| d.kind == DiagKind::UnknownMacro && d.message.contains("refers to itself")),
        "{d:#?}"
    );
}

#[test]
fn unknown_list_and_rule_on_append() {
    one(
        "- list: nope\n  items: [a]\n  append: true\n",
        DiagKind::UnknownList,
        1,
        9,
        "no list by that name",
    );
    one(
        "- macro: nope\n  condition: and x\n  override:\n    condition: append\n",
        DiagKind::UnknownMacro,
        1,
        10,
        "no macro by that name",
    );
    one(
        "- rule: nope\n  condition: and x\n  append: true\n",
        DiagKind::UnknownRule,
        1,
        9,
        "no rule by that name",
    );
    one(
        "- rule: nope\n  enabled: false\n",
        DiagKind::UnknownRule,
        1,
        9,
        "no rule by that name",
    );
}

#[test]
fn unknown_field() {
    one(
        &rule("evt.type = open and proc.nmae = bash"),
        DiagKind::UnknownField,
        5,
        34,
        "unknown field 'proc.nmae'",
    );
    one(
        &rule("proc.aname[x] = bash"),
        DiagKind::UnknownField,
        5,
        14,
        "numeric [index]",
    );
    // In the output template, the column points at the '%'.
    one("- rule: r\n  desc: d\n  output: \"user=%user.nmae\"\n  priority: INFO\n  condition: evt.num=1\n", DiagKind::UnknownField, 3, 17, "unknown field 'user.nmae'");
}

#[test]
fn type_errors() {
    one(
        &rule("proc.pid = abc"),
        DiagKind::Type,
        5,
        25,
        "'abc' is not a number",
    );
    one(
        &rule("proc.pid startswith 1"),
        DiagKind::Type,
        5,
        23,
        "operator 'startswith' cannot be applied to numeric field 'proc.pid'",
    );
    one(
        &rule("proc.name > 3"),
        DiagKind::Type,
        5,
        24,
        "string field",
    );
    one(
        &rule("evt.failed = yes"),
        DiagKind::Type,
        5,
        27,
        "expected true or false",
    );
    one(
        &rule("evt.failed contains x"),
        DiagKind::Type,
        5,
        25,
        "boolean field",
    );
    // A list value that is not a number points at the list item.
    let text = format!(
        "- list: ports\n  items: [22, http]\n{}",
        rule("fd.sport in (ports)")
    );
    one(&text, DiagKind::Type, 2, 15, "'http' is not a number");
}

#[test]
fn bad_regex_and_glob() {
    one(
        &rule("proc.name regex 'a(b'"),
        DiagKind::Regex,
        5,
        30,
        "invalid regex",
    );
    one(
        &rule("fd.name pmatch (/etc, '/x/[z-a]')"),
        DiagKind::Regex,
        5,
        36,
        "invalid glob",
    );
}

#[test]
fn syntax_errors_single_and_multi_line() {
    one(
        &rule("evt.num = 1 and and"),
        DiagKind::Syntax,
        5,
        30,
        "unexpected 'and'",
    );
    // Quoted scalar: column accounts for the quote.
    one(
        &rule("\"evt.num = 1 or (proc.name = x\""),
        DiagKind::Syntax,
        5,
        44,
        "expected ')'",
    );
    // Folded block scalar: the error is on the third line of the condition.
    let text = format!("{RULE_HEAD}  condition: >\n    evt.type = execve\n    and proc.name in (a, b)\n    and proc.pid bogus 3\n");
    one(&text, DiagKind::Syntax, 8, 18, "unknown operator 'bogus'");
    // Plain multi-line scalar.
    let text = format!("{RULE_HEAD}  condition: evt.type = execve\n    and (proc.name = a\n      or proc.name = )\n");
    one(&text, DiagKind::Syntax, 7, 22, "expected a value");
}

#[test]
fn appended_condition_errors_point_at_the_append() {
    let text = format!(
        "{}- rule: r\n  condition: and proc.nope = 1\n  append: true\n",
        rule("evt.num = 1")
    );
    one(
        &text,
        DiagKind::UnknownField,
        7,
        18,
        "unknown field 'proc.nope'",
    );
}

#[test]
fn override_shape_errors() {
    let base = rule("evt.num = 1");
    one(
        &format!("{base}- rule: r\n  condition: and x\n  override:\n    condition: merge\n"),
        DiagKind::Schema,
        9,
        16,
        "append or replace",
    );
    one(
        &format!("{base}- rule: r\n  priority: INFO\n  override:\n    priority: append\n"),
        DiagKind::Schema,
        9,
        15,
        "cannot be overridden with 'append'",
    );
    one(
        &format!(
            "{base}- rule: r\n  condition: and x\n  desc: y\n  override:\n    condition: append\n"
        ),
        DiagKind::Schema,
        8,
        3,
        "must be listed in 'override'",
    );
    one(&format!("{base}- rule: r\n  condition: and x\n  append: true\n  override:\n    condition: append\n"), DiagKind::Schema, 9, 3, "cannot be used together");
    one(
        &format!("{base}- rule: r\n  priority: INFO\n  append: true\n"),
        DiagKind::Schema,
        7,
        3,
        "cannot be appended",
    );
}

#[test]
fn exception_shape_errors() {
    let ex = "  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      values:\n        - [a]\n";
    one(
        &format!("{}{ex}", rule("evt.num=1")),
        DiagKind::Schema,
        10,
        11,
        "value has 1 items but there are 2 fields",
    );
    let ex = "  exceptions:\n    - name: e\n      fields: [proc.name]\n      comps: [like]\n      values: [[a]]\n";
    one(
        &format!("{}{ex}", rule("evt.num=1")),
        DiagKind::Syntax,
        9,
        15,
        "unknown operator 'like'",
    );
    let ex = "  exceptions:\n    - name: e\n      fields: [proc.pid]\n      values: [[abc]]\n";
    one(
        &format!("{}{ex}", rule("evt.num=1")),
        DiagKind::Type,
        9,
        17,
        "'abc' is not a number",
    );
}

#[test]
fn all_errors_are_reported_not_only_the_first() {
    let text = format!(
        "{}- rule: r2\n  desc: d\n  output: o\n  priority: LOUD\n  condition: evt.num=1\n{}",
        rule("proc.nope = 1"),
        "- rule: r3\n  desc: d\n  output: o\n  priority: INFO\n  condition: m3\n"
    );
    let d = errors(&text);
    let kinds: Vec<_> = d.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            DiagKind::UnknownField,
            DiagKind::Priority,
            DiagKind::UnknownMacro
        ],
        "{d:#?}"
    );
}

#[test]
fn non_utf8_is_an_error_with_position() {
    let err = RuleSource::from_bytes("b.yaml", b"- rule: a\n  desc: \xff\n").unwrap_err();
    assert_eq!(err.to_string(), "b.yaml:2:9: file is not valid UTF-8");
}
