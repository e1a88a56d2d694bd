//! Alert outputs with the real agent and real container attacks:
//! alerts of a container reading `/etc/shadow` reach a falcosidekick
//! stand-in ([`sidekick`]) intact; a stalled receiver neither blocks
//! detection nor the other outputs, its drops are counted and later alerts
//! arrive; alert files rotated by size, and by rename + SIGHUP (logrotate),
//! under a steady stream of alerts, lose no line.

mod sidekick;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use sidekick::{Mode, Sidekick};
use vigil_tests::actions::actions_image;
use vigil_tests::events::{field, s};
use vigil_tests::podman::TempDir;
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

static SERIAL: Mutex<()> = Mutex::new(());
const RULE: &str = "Read of shadow or sudoers file in container";
const WAIT: Duration = Duration::from_secs(30);

fn can_run() -> bool {
    require_podman() && require_vigil_binary().is_some()
}

/// `n` reads of /etc/shadow by busybox `cat` in one exec.
fn read_shadow(c: &Container, n: u32) {
    let script =
        format!("i=0; while [ $i -lt {n} ]; do cat /etc/shadow >/dev/null; i=$((i+1)); done");
    let out = c.exec(&["sh", "-c", &script]).expect("podman exec");
    assert!(out.status.success(), "{out:?}");
}

/// The `outputs` of the agent's last `stats` line.
fn output_stats(stderr: &[String]) -> Vec<Value> {
    let line = stderr
        .iter()
        .rev()
        .find_map(|l| l.split_once("stats {").map(|(_, j)| format!("{{{j}")))
        .expect("a final stats line");
    let v: Value = serde_json::from_str(&line).expect("stats JSON");
    v["alerts"]["outputs"]
        .as_array()
        .expect("alerts.outputs in the stats line")
        .clone()
}

/// The counters of the (first) output of `kind`.
fn of_kind<'a>(outputs: &'a [Value], kind: &str) -> &'a Value {
    outputs
        .iter()
        .find(|o| s(o, "kind") == kind)
        .unwrap_or_else(|| panic!("no {kind} output in {outputs:?}"))
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

fn is_shadow_alert(v: &Value, c: &Container) -> bool {
    s(v, "rule") == RULE && field(v, "container.id") == c.short_id()
}

#[test]
fn container_attack_alerts_reach_falcosidekick_intact() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let sk = Sidekick::start();
    let image = actions_image().expect("actions image");
    let http = format!("http:{},header=Authorization: Bearer vigil-test", sk.url());
    let agent = Agent::builder(["run", "--output", "stdout", "--output", &http])
        .echo(false)
        .start()
        .expect("start vigil run");
    let c = Container::run(&[], &image, &["sleep", "86400"]).expect("container");
    read_shadow(&c, 1);
    let arrived = sk.wait_accepted(WAIT, |acc| acc.iter().any(|v| is_shadow_alert(v, &c)));
    let stopped = agent.stop().expect("stop");
    assert!(
        arrived,
        "no alert reached the receiver: {:?}",
        sk.received()
    );
    assert!(
        sk.rejected().is_empty(),
        "falcosidekick would reject: {:?}",
        sk.rejected()
    );
    // Intact: each POSTed body is the very alert stdout got, uuid and all.
    let stdout: HashMap<String, Value> = stopped
        .stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| (s(&v, "uuid").to_owned(), v))
        .collect();
    let accepted = sk.accepted();
    for v in &accepted {
        assert_eq!(
            Some(v),
            stdout.get(s(v, "uuid")),
            "HTTP body differs from stdout"
        );
    }
    let shadow = accepted.iter().find(|v| is_shadow_alert(v, &c)).unwrap();
    assert_eq!(field(shadow, "container.full_id"), c.id());
    assert!(s(shadow, "output").contains("/etc/shadow"), "{shadow}");
    for r in sk.received() {
        assert!(r
            .headers
            .contains(&("authorization".into(), "Bearer vigil-test".into())));
    }
    let out = output_stats(&stopped.stderr);
    let (http, out_stdout) = (of_kind(&out, "http"), of_kind(&out, "stdout"));
    assert_eq!(n(http, "sent"), accepted.len() as u64, "{out:?}");
    assert_eq!(n(http, "dropped"), 0, "{out:?}");
    assert_eq!(n(out_stdout, "sent"), stdout.len() as u64, "{out:?}");
}

#[test]
fn a_stalled_receiver_blocks_nothing_and_later_alerts_arrive() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let sk = Sidekick::start();
    sk.set_mode(Mode::Stall);
    let image = actions_image().expect("actions image");
    let http = format!("http:{},queue=4,timeout_ms=120000", sk.url());
    let agent = Agent::builder([
        "run",
        "--alert-rate",
        "off",
        "--output",
        "stdout",
        "--output",
        &http,
    ])
    .echo(false)
    .start()
    .expect("start vigil run");
    let c = Container::run(&[], &image, &["sleep", "86400"]).expect("container");
    read_shadow(&c, 40);
    // Detection and the stdout output go on while the receiver hangs.
    let shadow_ids = |a: &Agent| -> Vec<String> {
        a.stdout_json()
            .unwrap_or_default()
            .iter()
            .filter(|v| is_shadow_alert(v, &c))
            .map(|v| s(v, "uuid").to_owned())
            .collect()
    };
    let wait_ids = |a: &Agent, n: usize| {
        let deadline = Instant::now() + WAIT;
        while shadow_ids(a).len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        shadow_ids(a)
    };
    let before = wait_ids(&agent, 40);
    assert_eq!(before.len(), 40, "stdout stalled with the receiver");
    let first_drop = agent.wait_stderr(WAIT, |l| l.contains("queue full"));
    assert!(
        first_drop.is_some_and(|l| l.contains("http:")),
        "first drop not logged"
    );
    // Recovered: what was held and queued arrives, then the new alerts.
    sk.set_mode(Mode::Accept);
    read_shadow(&c, 3);
    let after = wait_ids(&agent, 43);
    let new: Vec<&String> = after.iter().filter(|id| !before.contains(id)).collect();
    assert_eq!(new.len(), 3, "{after:?}");
    let arrived = sk.wait_accepted(WAIT, |acc| {
        new.iter()
            .all(|id| acc.iter().any(|v| s(v, "uuid") == id.as_str()))
    });
    let stopped = agent.stop().expect("stop");
    assert!(
        arrived,
        "the alerts after recovery did not arrive: {:?}",
        sk.accepted()
    );
    assert!(sk.rejected().is_empty());
    let out = output_stats(&stopped.stderr);
    let (http, stdout) = (of_kind(&out, "http"), of_kind(&out, "stdout"));
    assert!(n(http, "dropped") >= 30, "{http}");
    assert_eq!(n(http, "sent"), sk.accepted().len() as u64, "{http}");
    assert_eq!(
        n(http, "sent") + n(http, "dropped"),
        n(stdout, "sent"),
        "{out:?}"
    );
    assert_eq!(n(stdout, "dropped"), 0, "{stdout}");
}

/// Every line of `base` and its rotated siblings (`base.*`), parsed.
fn all_lines(dir: &Path, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == base || name.starts_with(&format!("{base}.")) {
            for l in std::fs::read_to_string(&p).unwrap().lines() {
                out.push(serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")));
            }
        }
    }
    out
}

#[test]
fn rotation_and_sighup_reopen_lose_no_alert_under_a_steady_stream() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("vigil-rotate").expect("temp dir");
    let sized = dir.path().join("sized.json");
    let hup = dir.path().join("hup.json");
    let image = actions_image().expect("actions image");
    let agent = Agent::builder(["run", "--alert-rate", "off", "--output"])
        .arg(format!(
            "file:{},max_bytes=8192,keep=10000",
            sized.display()
        ))
        .arg("--alerts")
        .arg(&hup)
        .echo(false)
        .start()
        .expect("start vigil run");
    let c = Container::run(&[], &image, &["sleep", "86400"]).expect("container");
    const READS: u32 = 300;
    std::thread::scope(|scope| {
        let stream = scope.spawn(|| read_shadow(&c, READS));
        // logrotate's way, repeatedly, while alerts flow: rename, SIGHUP.
        let mut k = 0;
        while !stream.is_finished() {
            std::thread::sleep(Duration::from_millis(150));
            if hup.exists() {
                k += 1;
                std::fs::rename(&hup, dir.path().join(format!("hup.json.{k}"))).unwrap();
                // SAFETY: kill() on the agent we started.
                unsafe { libc::kill(agent.pid() as i32, libc::SIGHUP) };
            }
        }
        stream.join().unwrap();
        assert!(k >= 2, "only {k} rotations during the stream");
    });
    // Let the last alerts of the stream reach the files, then stop (flush).
    std::thread::sleep(Duration::from_secs(2));
    let stopped = agent.stop().expect("stop");
    let out = output_stats(&stopped.stderr);
    let sized_lines = all_lines(dir.path(), "sized.json");
    let hup_lines = all_lines(dir.path(), "hup.json");
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(files > 6, "rotation by size made only {files} files");
    for (lines, what) in [(&sized_lines, "sized"), (&hup_lines, "hup")] {
        let shadow = lines.iter().filter(|v| is_shadow_alert(v, &c)).count();
        assert_eq!(shadow, READS as usize, "{what}: shadow alerts");
        let ids: HashSet<&str> = lines.iter().map(|v| s(v, "uuid")).collect();
        assert_eq!(ids.len(), lines.len(), "{what}: a line written twice");
    }
    assert_eq!(sized_lines.len(), hup_lines.len());
    assert!(
        out.iter()
            .all(|o| n(o, "dropped") == 0 && n(o, "failed") == 0),
        "{out:?}"
    );
    let sent: u64 = out.iter().map(|o| n(o, "sent")).sum();
    assert_eq!(
        sent,
        (sized_lines.len() + hup_lines.len()) as u64,
        "{out:?}"
    );
}

#[test]
fn events_as_ocsf_from_a_real_container_validate_against_the_schema() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("vigil-ocsf-events").expect("temp dir");
    let events = dir.path().join("events.ocsf.jsonl");
    let image = actions_image().expect("actions image");
    let agent = Agent::builder(["run", "--events-format", "ocsf", "--events"])
        .arg(&events)
        .echo(false)
        .start()
        .expect("start vigil run");
    let c = Container::run(&[], &image, &["sleep", "86400"]).expect("container");
    read_shadow(&c, 1);
    // The shadow alert on stdout says detection saw it; the events follow.
    // (`podman exec` launches sh, which runs busybox's cat.)
    let seen = agent.wait_stdout_json(WAIT, |v| is_shadow_alert(v, &c));
    std::thread::sleep(Duration::from_secs(1));
    agent.stop().expect("stop");
    assert!(seen.is_some(), "no shadow alert");
    let text = std::fs::read_to_string(&events).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let in_c = |v: &Value| v["unmapped"]["container.full_id"] == c.id();
    let launch = lines.iter().find(|v| {
        in_c(v) && v["class_uid"] == 1007 && v["activity_id"] == 1 && v["process"]["name"] == "sh"
    });
    let launch = launch.unwrap_or_else(|| {
        let mine: Vec<String> = lines
            .iter()
            .filter(|v| in_c(v) && v["class_uid"] != 0)
            .map(|v| {
                format!(
                    "{} {} {}",
                    v["type_name"], v["unmapped"]["proc.name"], v["unmapped"]["evt.type"]
                )
            })
            .collect();
        panic!(
            "no Process Activity Launch of sh; the container's events:\n{}",
            mine.join("\n")
        )
    });
    assert_eq!(launch["process"]["container"]["uid"], c.id());
    let open = lines
        .iter()
        .find(|v| in_c(v) && v["class_uid"] == 1001 && v["file"]["path"] == "/etc/shadow");
    assert!(open.is_some(), "no File System Activity on /etc/shadow");
    // Every line, from this container or the host, is valid OCSF.
    let python = std::process::Command::new("python3")
        .arg(vigil_tests::paths::workspace_root().join("tests/ocsf/validate.py"))
        .arg(&events)
        .output()
        .expect("python3");
    if !vigil_tests::require(
        python.status.code() != Some(3),
        "needs the Python packages ocsf-json-schema and jsonschema (`cargo xtask setup`)",
    ) {
        return;
    }
    let report = String::from_utf8_lossy(&python.stdout);
    assert!(
        python.status.success(),
        "{}",
        report.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    assert!(
        report.contains(&format!("{n} events, {n} valid", n = lines.len())),
        "{report}"
    );
}

#[test]
fn config_file_outputs_get_the_alerts_under_their_names() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("vigil-config-outputs").expect("temp dir");
    let archive = dir.path().join("archive.ocsf.jsonl");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "stats-interval = 60\n\n[outputs.archive]\ntype = \"file\"\npath = \"{}\"\nformat = \"ocsf\"\n",
            archive.display()
        ),
    )
    .unwrap();
    let image = actions_image().expect("actions image");
    let agent = Agent::builder(["run", "--config"])
        .arg(&config)
        .echo(false)
        .start()
        .expect("start vigil run");
    let c = Container::run(&[], &image, &["sleep", "86400"]).expect("container");
    read_shadow(&c, 1);
    // The config's output is the only one: stdout is only the default.
    let deadline = Instant::now() + WAIT;
    let found = loop {
        let text = std::fs::read_to_string(&archive).unwrap_or_default();
        let hit = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| {
                v["finding_info"]["title"] == RULE
                    && v["unmapped"]["output_fields"]["container.id"] == c.short_id()
            });
        if hit.is_some() || Instant::now() > deadline {
            break hit;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stopped = agent.stop().expect("stop");
    let finding = found.expect("no OCSF finding in the config's archive output");
    assert_eq!(finding["class_uid"], 2004);
    let out = output_stats(&stopped.stderr);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (s(&out[0], "name"), s(&out[0], "kind")),
        ("archive", "file")
    );
    assert!(stopped.stdout.is_empty(), "stdout is not an output here");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&archive).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}
