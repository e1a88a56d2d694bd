//! Rules that users write see their events: the in-kernel open filter is
//! derived from the loaded rules, so a user's rule on a path no default
//! rule names fires for a real container; after the rule file changes and
//! SIGHUP, the new path is reported and the old one no longer leaves the
//! kernel; a rule the filter cannot serve is named at start with its
//! `file:line:column`. A path passed relative (`cd DIR; ... > name`) or
//! through `..` is matched as the kernel resolves it.

use std::path::Path;
use std::time::Duration;

use vigil_tests::events::{field, s};
use vigil_tests::podman::TempDir;
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

const WAIT: Duration = Duration::from_secs(20);

fn rules(dir: &str) -> String {
    format!(
        r#"- rule: User app secret read
  desc: a container read the application's secrets
  condition: evt.type in (open, openat, openat2) and container.id != host and fd.name startswith /srv/{dir}/
  output: app secret opened (file=%fd.name container=%container.id)
  priority: WARNING
- rule: User relative token
  desc: the token file, however the path was written
  condition: evt.type in (open, openat, openat2) and container.id != host and fd.name = /srv/vigil-rel/app.token and fd.filename = app.token
  output: token opened (file=%fd.name raw=%fd.nameraw container=%container.id)
  priority: WARNING
- rule: User secret anywhere
  desc: cannot be served by a path filter
  condition: evt.type = openat and container.id != host and fd.name contains vigil-anywhere
  output: o
  priority: NOTICE
"#
    )
}

fn open_in(c: &Container, path: &str) {
    let dir = Path::new(path).parent().unwrap().to_str().unwrap();
    let script = format!("mkdir -p {dir} && echo s3cret > {path} && cat {path} >/dev/null");
    let out = c.exec(&["sh", "-c", &script]).expect("podman exec");
    assert!(out.status.success(), "{out:?}");
}

fn expect_alert(agent: &Agent, c: &Container, file: &str) {
    let seen = agent.wait_stdout_json(WAIT, |v| {
        s(v, "rule") == "User app secret read"
            && field(v, "fd.name") == file
            && field(v, "container.id") == c.short_id()
    });
    assert!(
        seen.is_some(),
        "no alert for {file}; alerts:\n{}\nagent log:\n{}",
        agent.stdout_lines().join("\n"),
        agent.stderr_lines().join("\n")
    );
}

#[test]
fn a_user_rule_on_its_own_path_fires_and_follows_a_reload() {
    if !(require_podman() && require_vigil_binary().is_some()) {
        return;
    }
    let tmp = TempDir::new("vigil-user-rules").expect("temp dir");
    let file = tmp.path().join("app.yaml");
    std::fs::write(&file, rules("vigil-first")).unwrap();
    let events = tmp.path().join("events.jsonl");
    let agent = Agent::builder(["run", "--alert-rate", "off", "--rules"])
        .arg(&file)
        .arg("--events")
        .arg(&events)
        .echo(false)
        .start()
        .expect("start vigil run");
    let log = agent.stderr_lines().join("\n");
    let where_ = format!("{}:11:9: note: rule 'User secret anywhere'", file.display());
    assert!(log.contains(&where_), "no note `{where_}` in:\n{log}");
    assert!(log.contains("open filter: "), "{log}");

    let c = Container::start().expect("container");
    open_in(&c, "/srv/vigil-first/token");
    expect_alert(&agent, &c, "/srv/vigil-first/token");

    // Relative to the working directory, and through `..`: the shell
    // itself opens the file (and is still there when the agent resolves).
    let out = c
        .exec(&[
            "sh",
            "-c",
            "mkdir -p /srv/vigil-rel/sub && cd /srv/vigil-rel/sub && echo t > ../app.token && sleep 1",
        ])
        .expect("podman exec");
    assert!(out.status.success(), "{out:?}");
    let seen = agent.wait_stdout_json(WAIT, |v| {
        s(v, "rule") == "User relative token" && field(v, "container.id") == c.short_id()
    });
    let Some(alert) = seen else {
        panic!(
            "no alert for the relative open; alerts:\n{}",
            agent.stdout_lines().join("\n")
        );
    };
    assert_eq!(field(&alert, "fd.nameraw"), "../app.token", "{alert}");
    assert_eq!(
        field(&alert, "fd.name"),
        "/srv/vigil-rel/app.token",
        "{alert}"
    );

    // The rule moves to another directory: reload.
    std::fs::write(&file, rules("vigil-second")).unwrap();
    // SAFETY: kill() on the agent we started.
    unsafe { libc::kill(agent.pid() as i32, libc::SIGHUP) };
    assert!(
        agent
            .wait_stderr(WAIT, |l| l.contains("open filter updated"))
            .is_some(),
        "{}",
        agent.stderr_lines().join("\n")
    );
    open_in(&c, "/srv/vigil-first/after-reload");
    open_in(&c, "/srv/vigil-second/token");
    expect_alert(&agent, &c, "/srv/vigil-second/token");
    let stopped = agent.stop().expect("stop");
    assert!(stopped.status.success(), "{:?}", stopped.status);

    // Opens under the old prefix no longer leave the kernel, while the
    // new prefix's opens do (as events, not only alerts).
    let events = std::fs::read_to_string(&events).unwrap();
    let lines = |file: &str| {
        let needle = format!("\"fd.name\":\"{file}\"");
        events.lines().filter(|l| l.contains(&needle)).count()
    };
    assert!(
        lines("/srv/vigil-second/token") > 0,
        "no event of the new path"
    );
    assert!(
        lines("/srv/vigil-first/token") > 0,
        "no event of the old path"
    );
    assert_eq!(
        lines("/srv/vigil-first/after-reload"),
        0,
        "the old prefix still passes the kernel filter"
    );
}
