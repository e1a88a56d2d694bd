//! Falco's newer condition language: field transformers on either side of
//! a comparison, and network (CIDR) matching. Each case checks the match
//! and its near miss.

mod common;

use common::Ev;
use monitor_rules::{DiagKind, LoadOptions, RuleSet, RuleSource};

fn load(cond: &str) -> Result<RuleSet, monitor_rules::RulesError> {
    let text = format!(
        "- list: rfc_1918_addresses\n  items: ['\"10.0.0.0/8\"', '\"172.16.0.0/12\"', '\"192.168.0.0/16\"']\n\
         - rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: \"{}\"\n",
        cond.replace('\\', "\\\\").replace('"', "\\\"")
    );
    RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default()).map(|(s, _)| s)
}

fn eval(cond: &str, ev: &Ev) -> bool {
    let set = load(cond).unwrap_or_else(|e| panic!("{cond}: {e}"));
    set.rules()[0].matches(ev)
}

fn proc(name: &str) -> Ev {
    Ev::new("execve")
        .s("proc.name", name)
        .s("proc.pname", "BASH")
        .s("fd.name", "/etc/Shadow")
        .s("proc.cmdline", "sh -c ZWNobyBoaQ==")
        .s("proc.args", "ZWNobyBoaQ==")
        .l("proc.anames", &["Containerd-Shim", "systemd"])
}

#[test]
fn transformers_on_the_field() {
    let e = proc("Bash");
    assert!(eval("tolower(proc.name) = bash", &e));
    assert!(!eval("proc.name = bash", &e), "no transformer: exact");
    assert!(eval("toupper(proc.name) = BASH", &e));
    assert!(eval("basename(fd.name) = Shadow", &e));
    assert!(eval("tolower(basename(fd.name)) in (shadow, passwd)", &e));
    assert!(!eval("basename(fd.name) = /etc/Shadow", &e));
    assert!(eval("b64(proc.args) = 'echo hi'", &e));
    assert!(eval("b64(proc.args) contains echo", &e));
    assert!(!eval("b64(proc.cmdline) contains echo", &e), "not base64");
    assert!(eval("len(proc.name) = 4", &e));
    assert!(eval("len(proc.cmdline) > 10 and len(proc.name) < 5", &e));
    assert!(!eval("len(proc.name) > 4", &e));
    // On a list: every element is transformed (any ancestor matches).
    assert!(eval("tolower(proc.aname) = containerd-shim", &e));
    assert!(!eval("proc.aname = containerd-shim", &e));
    assert!(eval("len(proc.anames) = 2", &e));
    assert!(eval("tolower(proc.aname[1]) startswith containerd", &e));
    // A missing field stays missing through a transformer.
    assert!(!eval("tolower(container.name) = x", &e));
    assert!(eval("not tolower(container.name) = x", &e));
}

#[test]
fn transformers_on_the_right() {
    let e = proc("bash");
    assert!(eval("proc.name = tolower(proc.pname)", &e));
    assert!(!eval("proc.name = val(proc.pname)", &e));
    assert!(eval("toupper(proc.name) = val(proc.pname)", &e));
    assert!(eval("toupper(proc.name) = toupper(val(proc.pname))", &e));
    assert!(eval("len(proc.name) = len(proc.pname)", &e));
    assert!(!eval("len(proc.name) = len(fd.name)", &e));
    assert!(eval(
        "fd.name endswith toupper(val(proc.name)) or basename(fd.name) != proc.name",
        &e
    ));
}

#[test]
fn transformed_checks_do_not_feed_the_indexes() {
    // `tolower(evt.type) = execve` must not make the rule execve-only
    // in a way that breaks meaning, and `tolower(proc.name) = bash` must
    // not split candidates by the untransformed value.
    let set = load("tolower(proc.name) = bash and evt.type = execve").unwrap();
    let e = proc("BASH");
    assert_eq!(set.matching(&e).count(), 1);
    assert_eq!(set.candidates_for("execve"), 1);
    let set = load("tolower(evt.type) = execve").unwrap();
    assert!(set.rules()[0].evt_types().is_none());
    assert_eq!(set.matching(&Ev::new("EXECVE")).count(), 1);
}

#[test]
fn transformer_errors_name_the_column() {
    let err = load("tolower(proc.pid) = 1").unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(d.kind, DiagKind::Type, "{d}");
    assert!(
        d.message
            .contains("transformer 'tolower' cannot be applied to numeric field 'proc.pid'"),
        "{d}"
    );
    assert_eq!((d.pos.line, d.pos.col), (7, 15), "{d}");
    let err = load("len(proc.name) = abc").unwrap_err();
    assert!(err.to_string().contains("'abc' is not a number"), "{err}");
    let err = load("upper(proc.name) = x").unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(d.kind, DiagKind::Syntax);
    assert!(d.message.contains("unknown transformer 'upper'"), "{d}");
    assert_eq!((d.pos.line, d.pos.col), (7, 15), "{d}");
    let err = load("len(proc.name) startswith 1").unwrap_err();
    assert!(err.to_string().contains("numeric field"), "{err}");
}

fn conn(ip: &str) -> Ev {
    Ev::new("connect")
        .s("fd.sip", ip)
        .s("fd.snet", ip)
        .s("fd.rnet", ip)
        .l("fd.net", &["192.168.1.10", ip])
}

#[test]
fn cidr_matching_v4_and_v6() {
    assert!(eval("fd.snet in (rfc_1918_addresses)", &conn("10.1.2.3")));
    assert!(!eval("fd.snet in (rfc_1918_addresses)", &conn("8.8.8.8")));
    assert!(eval(
        "not fd.snet in (rfc_1918_addresses)",
        &conn("8.8.8.8")
    ));
    assert!(eval("fd.snet = 172.16.0.0/12", &conn("172.31.0.1")));
    assert!(!eval("fd.snet = 172.16.0.0/12", &conn("172.32.0.1")));
    assert!(eval("fd.snet != 127.0.0.0/8", &conn("10.0.0.1")));
    assert!(!eval("fd.snet != 127.0.0.0/8", &conn("127.0.0.53")));
    assert!(eval(
        "fd.rnet in (fd00::/8, 10.0.0.0/8)",
        &conn("fd00:ab::1")
    ));
    assert!(!eval("fd.rnet in (fd00::/8)", &conn("fe80::1")));
    assert!(eval("fd.snet = 2001:db8::/32", &conn("2001:db8:1::5")));
    // A single address is a one-address network.
    assert!(eval("fd.snet = 10.0.0.1", &conn("10.0.0.1")));
    assert!(!eval("fd.snet = 10.0.0.1", &conn("10.0.0.2")));
    // fd.net: either end.
    assert!(eval("fd.net = 192.168.0.0/16", &conn("8.8.8.8")));
    assert!(!eval("fd.net = 172.16.0.0/12", &conn("8.8.8.8")));
    // Missing field: false (so `not` is true).
    assert!(!eval("fd.cnet in (10.0.0.0/8)", &conn("10.0.0.1")));
    assert!(eval("fd.snet exists", &conn("10.0.0.1")));
}

#[test]
fn cidr_errors() {
    let err = load("fd.snet in (10.0.0.0/33)").unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(d.kind, DiagKind::Type);
    assert!(d.message.contains("not an address or CIDR network"), "{d}");
    assert_eq!((d.pos.line, d.pos.col), (7, 27), "{d}");
    let err = load("fd.snet startswith 10.").unwrap_err();
    assert!(err.to_string().contains("network field 'fd.snet'"), "{err}");
}
