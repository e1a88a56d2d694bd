//! Paths as the kernel resolves them, and process environments, live in a
//! podman container.
//!
//! A user rule on a directory prefix alone (no file name the in-kernel
//! open filter could match instead) fires for opens by a relative name
//! after `cd` into the directory, through leading `..`, and through
//! `openat(dirfd, name)`, with `fd.name` resolved and `fd.nameraw` as
//! passed: the kernel resolved them, since nothing else gets such an open
//! past its filter. An absolute path through `..`, `.` and `//` reaches it
//! too (the kernel forwards such paths; the agent normalises them). A
//! relative open of an unwatched file, and dotted names that are not `.`
//! or `..` components, never leave the kernel. Links to `/etc/shadow`
//! and `/etc` raise the default rule on their creation (an open through
//! them names the link). `proc.env[NAME]` and `proc.aenv[NAME]` see the container's `-e`
//! variable, and the default rule on `LD_PRELOAD` fires for a program
//! `podman exec -e` started with it. The flight recorder keeps the
//! ancestors' environments (written as changes to the one below's): a
//! replay of the log names them as the live agent did.

use std::time::Duration;

use serde_json::Value;
use vigil_tests::actions::{actions_image, ACTIONS_IN_IMAGE};
use vigil_tests::events::{field, s};
use vigil_tests::podman::TempDir;
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

const WAIT: Duration = Duration::from_secs(20);
const PREFIX_RULE: &str = "Paths test prefix";
const ENV_RULE: &str = "Paths test environment";
const PRELOAD_RULE: &str = "Library injected through the environment in container";
const LINK_RULE: &str = "Link to a secret created in container";

const RULES: &str = r#"- rule: Paths test prefix
  desc: opens under one directory, however the path was written
  condition: evt.type in (open, openat, openat2) and container.id != host and fd.name startswith /srv/vigil-paths/
  output: prefix open (file=%fd.name raw=%fd.nameraw container=%container.id)
  priority: WARNING
- rule: Paths test environment
  desc: a program whose environment and parent's carry the test's mark
  condition: >
    evt.type = execve and container.id != host and proc.name = sleep
    and proc.env[VIGIL_PATHS_MARK] = run-1 and proc.aenv[VIGIL_PATHS_MARK] = run-1
    and proc.env contains "VIGIL_PATHS_MARK=run-1"
  output: >
    marked (mark=%proc.env[VIGIL_PATHS_MARK] container=%container.id
    parent=%proc.aenv[1])
  priority: NOTICE
"#;

fn expect(agent: &Agent, c: &Container, rule: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let seen = agent.wait_stdout_json(WAIT, |v| {
        s(v, "rule") == rule && field(v, "container.id") == c.short_id() && pred(v)
    });
    seen.unwrap_or_else(|| {
        panic!(
            "no alert `{rule}`; alerts:\n{}\nagent log:\n{}",
            agent.stdout_lines().join("\n"),
            agent.stderr_lines().join("\n")
        )
    })
}

fn sh(c: &Container, script: &str) {
    let out = c.exec(&["sh", "-c", script]).expect("podman exec");
    assert!(out.status.success(), "{script}: {out:?}");
}

#[test]
fn relative_opens_are_filtered_as_resolved_and_environments_are_seen() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let image = actions_image().expect("actions image");
    let tmp = TempDir::new("vigil-paths").expect("temp dir");
    let rules = tmp.path().join("paths.yaml");
    std::fs::write(&rules, RULES).unwrap();
    let events = tmp.path().join("events.jsonl");
    let log = tmp.path().join("log");
    let agent = Agent::builder(["run", "--alert-rate", "off", "--rules"])
        .arg(&rules)
        .arg("--events")
        .arg(&events)
        .arg("--record")
        .arg(&log)
        .echo(false)
        .start()
        .expect("start vigil run");
    let c = Container::run(
        &["-e", "VIGIL_PATHS_MARK=run-1"],
        &image,
        &["sleep", "86400"],
    )
    .expect("container");
    sh(
        &c,
        "mkdir -p /srv/vigil-paths/conf /srv/other /tmp/a/b \
         && echo s > /srv/other/unwatched.txt && echo s > /srv/vigil-paths/conf/dirfd.txt",
    );

    // Relative to the working directory.
    sh(&c, "cd /srv/vigil-paths/conf && echo s > cwd.txt");
    let a = expect(&agent, &c, PREFIX_RULE, |v| {
        field(v, "fd.nameraw") == "cwd.txt"
    });
    assert_eq!(field(&a, "fd.name"), "/srv/vigil-paths/conf/cwd.txt", "{a}");
    // Through `..` from elsewhere.
    sh(
        &c,
        "cd /tmp/a/b && echo s > ../../../srv/vigil-paths/conf/up.txt",
    );
    let a = expect(&agent, &c, PREFIX_RULE, |v| {
        field(v, "fd.nameraw") == "../../../srv/vigil-paths/conf/up.txt"
    });
    assert_eq!(field(&a, "fd.name"), "/srv/vigil-paths/conf/up.txt", "{a}");
    // Absolute, through `..`, `.` and an empty component: no prefix of
    // the letters is the directory's, so the kernel forwards it.
    sh(&c, "echo s > /tmp/../srv//vigil-paths/./conf/abs.txt");
    let a = expect(&agent, &c, PREFIX_RULE, |v| {
        field(v, "fd.nameraw") == "/tmp/../srv//vigil-paths/./conf/abs.txt"
    });
    assert_eq!(field(&a, "fd.name"), "/srv/vigil-paths/conf/abs.txt", "{a}");
    // Relative to a directory fd.
    let out = c
        .exec(&[
            ACTIONS_IN_IMAGE,
            "open-at",
            "/srv/vigil-paths/conf",
            "dirfd.txt",
        ])
        .expect("podman exec");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("open-at: ok"),
        "{out:?}"
    );
    let a = expect(&agent, &c, PREFIX_RULE, |v| {
        field(v, "fd.nameraw") == "dirfd.txt"
    });
    assert_eq!(
        field(&a, "fd.name"),
        "/srv/vigil-paths/conf/dirfd.txt",
        "{a}"
    );
    // An unwatched file opened by a relative name stays in the kernel, as
    // does one whose name (not a component) starts with dots.
    sh(
        &c,
        "cd /srv/other && cat unwatched.txt >/dev/null \
         && echo s > /srv/other/..unwatched && echo s > /srv/other/.unwatched",
    );

    // Links: an open through a link names the link, so the default rule
    // catches the link's creation (symbolic, relative or not, and hard);
    // a link to an ordinary file stays quiet.
    sh(
        &c,
        "ln -s /etc/shadow /tmp/notes && cat /tmp/notes >/dev/null \
         && cd /tmp/a && ln -s ../../etc /tmp/a/cfg && ln /etc/shadow /tmp/keep \
         && ln -s /etc/hosts /tmp/hosts",
    );
    for what in [
        "/etc/shadow /tmp/notes",
        "../../etc /tmp/a/cfg",
        "/etc/shadow /tmp/keep",
    ] {
        let (target, link) = what.split_once(' ').unwrap();
        let a = expect(&agent, &c, LINK_RULE, |v| {
            let args = s(&v["output_fields"], "evt.args");
            args.contains(target) && args.contains(link)
        });
        assert!(s(&a, "priority").eq_ignore_ascii_case("warning"), "{a}");
    }

    // Environments: the container's `-e`, inherited by exec's shell and
    // its child (the `; true` keeps the shell from exec'ing sleep itself),
    // which has one variable more than the shell. Both live on while the
    // agent reads their environ: a process gone by then keeps the
    // environment it was forked with.
    sh(&c, "VIGIL_PATHS_CHILD=1 sleep 2; true");
    let marked = expect(&agent, &c, ENV_RULE, |_| true);
    let output = s(&marked, "output");
    assert!(output.contains("mark=run-1"), "{marked}");
    assert!(
        output
            .split_once("parent=")
            .is_some_and(|(_, env)| env.contains("VIGIL_PATHS_MARK=run-1")
                && !env.contains("VIGIL_PATHS_CHILD")),
        "the parent's environment: {marked}"
    );
    // A program that lives while the agent reads its environ.
    let out = std::process::Command::new("podman")
        .args([
            "exec",
            "-e",
            "LD_PRELOAD=/tmp/vigil-hook.so",
            c.id(),
            "sleep",
            "2",
        ])
        .output()
        .expect("podman exec -e");
    assert!(out.status.success(), "{out:?}");
    let a = expect(&agent, &c, PRELOAD_RULE, |_| true);
    assert!(
        s(&a, "output").contains("LD_PRELOAD=/tmp/vigil-hook.so"),
        "{a}"
    );

    let quiet: Vec<Value> = agent
        .stdout_json()
        .expect("alerts")
        .into_iter()
        .filter(|v| {
            s(v, "rule") == LINK_RULE && s(&v["output_fields"], "evt.args").contains("/etc/hosts")
        })
        .collect();
    assert!(
        quiet.is_empty(),
        "alert for a link to /etc/hosts: {quiet:?}"
    );

    let stopped = agent.stop().expect("stop");
    assert!(stopped.status.success(), "{:?}", stopped.status);
    let events = std::fs::read_to_string(&events).unwrap();
    let mine: Vec<&str> = events
        .lines()
        .filter(|l| {
            l.contains(&format!("\"container.full_id\":\"{}\"", c.id()))
                && (l.contains("\"fd.name\":\"/srv/other/unwatched.txt\"")
                    || l.contains("\"fd.name\":\"unwatched.txt\"")
                    || l.contains("\"fd.name\":\"/srv/other/.unwatched\"")
                    || l.contains("\"fd.name\":\"/srv/other/..unwatched\""))
        })
        .collect();
    assert!(
        mine.is_empty(),
        "an open of an unwatched file left the kernel:\n{}",
        mine.join("\n")
    );

    // The recorded events raise the same alert, environments and all.
    let replay = std::process::Command::new(require_vigil_binary().unwrap())
        .args([
            "replay",
            "--no-default-rules",
            "--container",
            c.short_id(),
            "--rules",
        ])
        .arg(&rules)
        .arg(&log)
        .output()
        .expect("vigil replay");
    assert!(replay.status.success(), "{replay:?}");
    let replayed = String::from_utf8_lossy(&replay.stdout);
    let outputs: Vec<String> = replayed
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| s(v, "rule") == ENV_RULE)
        .map(|v| s(&v, "output").to_owned())
        .collect();
    assert!(
        outputs.iter().any(|o| o == output),
        "live: {output}\nreplayed: {outputs:#?}"
    );
}
