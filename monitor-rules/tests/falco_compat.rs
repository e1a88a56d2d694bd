//! Compatibility with Falco's stable rule file, held to a committed
//! expectation (`fixtures/falco_stable.expected`: how many rules load and
//! why each other one is skipped), so a change that loses compatibility
//! fails here; and the rules that need vigil's newer fields fire for what
//! they describe and stay quiet for near misses.

use std::path::PathBuf;

mod common;

use common::Ev;
use monitor_rules::{LoadOptions, RuleSet};

#[path = "common/falco_file.rs"]
mod falco_file;
use falco_file::falco_rules;

fn load() -> RuleSet {
    RuleSet::load_paths(&[falco_rules()], &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

#[test]
fn loaded_and_skipped_rules_match_the_committed_expectation() {
    let (_, report) = RuleSet::load_paths(&[falco_rules()], &LoadOptions::default()).unwrap();
    let mut actual = format!("loaded {}\n", report.loaded);
    for s in &report.skipped {
        actual.push_str(&format!("skip {}: {}\n", s.rule, s.reason));
    }
    let expected_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/falco_stable.expected");
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    assert_eq!(
        actual,
        expected,
        "Falco's stable file no longer loads as {} records; if the change is \
         intended (more rules load), update the file to:\n{actual}",
        expected_path.display()
    );
}

fn fired(set: &RuleSet, ev: &Ev) -> Vec<String> {
    set.matching(ev).map(|r| r.name().to_owned()).collect()
}

fn open_read(name: &str, raw: &str, proc: &str) -> Ev {
    Ev::new("openat")
        .b("evt.is_open_read", true)
        .b("evt.is_open_write", false)
        .s("fd.typechar", "f")
        .n("fd.num", 3)
        .s("fd.name", name)
        .s("fd.nameraw", raw)
        .s(
            "fd.directory",
            name.rsplit_once('/').map_or("/", |(d, _)| d),
        )
        .s("proc.name", proc)
        .s("proc.pname", "node")
        .s("container.id", "0123456789ab")
}

#[test]
fn directory_traversal_uses_the_raw_name() {
    let set = load();
    let rule = "Directory traversal monitored file read";
    let ev = open_read("/etc/passwd", "/srv/app/../../../etc/passwd", "node");
    assert!(fired(&set, &ev).contains(&rule.to_owned()));
    // Same file by its plain path: no traversal.
    let ev = open_read("/etc/passwd", "/etc/passwd", "node");
    assert!(!fired(&set, &ev).contains(&rule.to_owned()));
    // One `../` only: Falco's glob wants two.
    let ev = open_read("/etc/passwd", "/etc/x/../passwd", "node");
    assert!(!fired(&set, &ev).contains(&rule.to_owned()));
}

#[test]
fn sensitive_file_read_by_a_server_after_startup() {
    let set = load();
    let rule = "Read sensitive file trusted after startup";
    let ev = |dur: i64| open_read("/etc/shadow", "/etc/shadow", "nginx").n("proc.duration", dur);
    assert!(fired(&set, &ev(60_000_000_000)).contains(&rule.to_owned()));
    // At startup (within 5 s) it is expected.
    assert!(!fired(&set, &ev(1_000_000_000)).contains(&rule.to_owned()));
}

#[test]
fn kernel_module_and_release_agent_need_capabilities() {
    let set = load();
    let module = |caps: &str| {
        Ev::new("finit_module")
            .s("container.id", "0123456789ab")
            .s("container.image.repository", "docker.io/evil/loader")
            .s("thread.cap_effective", caps)
            .s("proc.name", "insmod")
    };
    assert_eq!(
        fired(&set, &module("CAP_CHOWN CAP_SYS_MODULE")),
        ["Linux Kernel Module Injection Detected"]
    );
    assert!(fired(&set, &module("CAP_CHOWN CAP_NET_RAW")).is_empty());
    let release = |uid: i64, caps: &str| {
        Ev::new("openat")
            .b("evt.is_open_write", true)
            .b("evt.is_open_read", false)
            .s("fd.typechar", "f")
            .n("fd.num", 4)
            .s("fd.name", "/sys/fs/cgroup/rdma/release_agent")
            .s("container.id", "0123456789ab")
            .n("user.uid", uid)
            .s("thread.cap_effective", caps)
    };
    let rule = "Detect release_agent File Container Escapes".to_owned();
    assert!(fired(&set, &release(0, "CAP_SYS_ADMIN")).contains(&rule));
    assert!(fired(&set, &release(1000, "CAP_DAC_OVERRIDE CAP_SYS_ADMIN")).contains(&rule));
    assert!(!fired(&set, &release(1000, "CAP_SYS_ADMIN")).contains(&rule));
    assert!(!fired(&set, &release(0, "CAP_CHOWN")).contains(&rule));
}
