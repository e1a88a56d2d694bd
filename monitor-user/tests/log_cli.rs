//! `vigil log` and `vigil replay` as a responder runs them: the real binary
//! on a log written by the real recorder, and on damaged, empty, foreign
//! and future-version inputs (clear message naming file and offset,
//! non-zero exit, no panic).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::*;
use monitor_recorder::{LogReader, RecordKind};
use monitor_user::event::{Data, Event};
use monitor_user::sink::recorder::{EventRecorder, RecordConfig};

struct Tmp(PathBuf);
impl Tmp {
    fn new(tag: &str) -> Tmp {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "vigil-logcli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
}
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_log(dir: &Path, evs: &[Event]) {
    let mut rec = EventRecorder::open(dir, &RecordConfig::default()).unwrap();
    for e in &evs[..evs.len() / 2] {
        rec.record(e.clone(), false);
    }
    // The sensor reports 5 kernel drops half way: a loss record in the log.
    rec.flush().unwrap();
    rec.note_source(&monitor_user::sensor::SensorStats {
        kernel_drops: vec![(monitor_common::EventKind::Exec, 5)],
        ..Default::default()
    });
    rec.flush().unwrap();
    for e in &evs[evs.len() / 2..] {
        rec.record(e.clone(), false);
    }
    rec.close().unwrap();
}

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("RUST_LOG", "info")
        .output()
        .expect("run vigil")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn export_is_byte_identical_to_the_events_output() {
    let t = Tmp::new("export");
    let evs = scenario();
    write_log(&t.0, &evs);
    let o = vigil(&["log", "export", s(&t.0)]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let mut want = Vec::new();
    for e in &evs {
        monitor_user::sink::events::write_line(e, &mut want);
    }
    assert_eq!(out, String::from_utf8(want).unwrap());
    let q = vigil(&["log", "query", s(&t.0)]);
    assert_eq!(text(&q).0, out, "query defaults to the same JSON lines");
}

#[test]
fn show_filters_by_container_pid_type_and_time() {
    let t = Tmp::new("show");
    write_log(&t.0, &scenario());
    let nums = |args: &[&str]| -> Vec<u64> {
        let mut a = vec!["log", "query", s(&t.0)];
        a.extend_from_slice(args);
        let o = vigil(&a);
        assert!(o.status.success(), "{:?}: {}", args, text(&o).1);
        text(&o)
            .0
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["evt.num"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(nums(&["--container", "web"]), [1, 2, 3, 4, 6, 8]);
    assert_eq!(nums(&["--container", "82ac04"]), [1, 2, 3, 4, 6, 8]);
    assert_eq!(nums(&["--container", &CID[..20]]), [1, 2, 3, 4, 6, 8]);
    assert_eq!(nums(&["--container", "host"]), [5, 7]);
    assert_eq!(nums(&["--pid", "101"]), [3, 4, 6]);
    assert_eq!(nums(&["--type", "openat"]), [4, 7]);
    assert_eq!(
        nums(&["--type", "execve,procexit", "--container", "web"]),
        [1, 3, 6, 8]
    );
    assert_eq!(
        nums(&[
            "--since",
            "2026-11-22T06:00:02Z",
            "--until",
            "2026-11-22T06:00:05Z"
        ]),
        [3, 4, 5]
    );
    assert_eq!(
        nums(&["--since", &(T0 + 6_000_000_000).to_string()]),
        [7, 8]
    );
    assert_eq!(
        nums(&["--since", "1m"]),
        Vec::<u64>::new(),
        "the log is older than a minute"
    );

    let o = vigil(&[
        "log",
        "show",
        s(&t.0),
        "--container",
        "web",
        "--type",
        "openat",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("TIME") && lines[0].contains("CONTAINER"),
        "{out}"
    );
    assert!(
        lines[1].contains("2026-11-22T06:00:03")
            && lines[1].contains("web")
            && lines[1].contains("/etc/shadow = SUCCESS"),
        "{out}"
    );
    assert!(
        err.contains("5 events lost here when recording (KernelRingBuffer)"),
        "{err}"
    );

    let o = vigil(&["log", "show", s(&t.0), "--since", "yesterday"]);
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("invalid time \"yesterday\""),
        "{}",
        text(&o).1
    );
}

#[test]
fn tree_shows_processes_with_execs_and_exits() {
    let t = Tmp::new("tree");
    write_log(&t.0, &scenario());
    let o = vigil(&["log", "tree", s(&t.0), "--container", "web"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let want = "\
100 sh (start 2026-11-22T06:00:00.000000000Z, exit 2026-11-22T06:00:07.000000000Z status 1)
    exec 2026-11-22T06:00:00.000000000Z /bin/sh -c cat /etc/shadow
  101 cat (start 2026-11-22T06:00:01.000000000Z, exit 2026-11-22T06:00:05.000000000Z status 0)
      exec 2026-11-22T06:00:02.000000000Z /bin/cat /etc/shadow
";
    assert_eq!(out, want);
    let o = vigil(&["log", "tree", s(&t.0), "--pid", "101"]);
    let (out, _) = text(&o);
    assert!(
        out.starts_with("101 cat") && !out.contains("100 sh"),
        "{out}"
    );
    let o = vigil(&["log", "tree", s(&t.0)]);
    assert!(!o.status.success(), "needs --container or --pid");
}

#[test]
fn stats_and_verify_summarise_the_log() {
    let t = Tmp::new("stats");
    write_log(&t.0, &scenario());
    let o = vigil(&["log", "stats", s(&t.0)]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let bytes = std::fs::metadata(only_segment(&t.0)).unwrap().len();
    assert!(
        out.contains(&format!(
            "bytes: {bytes} ({:.0} per event)",
            bytes as f64 / 8.0
        )),
        "{out}"
    );
    for want in [
        "events: 8",
        "time span: 2026-11-22T06:00:00.000000000Z .. 2026-11-22T06:00:07.000000000Z (7.000 s)",
        "lost when recording: 5",
        "KernelRingBuffer",
        "execve",
        "82ac0468654e          6  web docker.io/library/nginx:1.27",
        "host                  2",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    let o = vigil(&["log", "verify", s(&t.0)]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("OK: 1 segments (1 closed)"), "{out}");
    assert!(out.contains("8 events, 1 loss records"), "{out}");
}

fn only_segment(dir: &Path) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "vlog"))
        .collect();
    assert_eq!(v.len(), 1);
    v.pop().unwrap()
}

/// Offsets of the segment's records of `kind`, in order.
fn offsets_of(seg: &Path, kind: RecordKind) -> Vec<u64> {
    LogReader::open(seg)
        .unwrap()
        .records()
        .map(|r| r.unwrap())
        .filter(|r| r.kind == kind)
        .map(|r| r.offset)
        .collect()
}

/// Flips a byte inside the record at `offset` of `seg`: its checksum no
/// longer matches.
fn damage(seg: &Path, offset: u64) {
    let mut bytes = std::fs::read(seg).unwrap();
    bytes[offset as usize + 40] ^= 0xff;
    std::fs::write(seg, &bytes).unwrap();
}

/// `vigil log export` of a log whose record at `victim` of `seg` is
/// damaged: it fails, naming that record; what it exported and said.
fn export_damaged(dir: &Path, seg: &Path, victim: u64) -> (String, String) {
    let o = vigil(&["log", "export", s(dir)]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let named = format!(
        "{}: offset {victim}: corrupt record: CRC32C mismatch",
        seg.display()
    );
    assert!(err.contains(&named), "{err}");
    (out, err)
}

#[test]
fn a_corrupt_record_is_named_and_the_rest_still_read() {
    let t = Tmp::new("corrupt");
    write_log(&t.0, &scenario());
    let seg = only_segment(&t.0);
    let victim = offsets_of(&seg, RecordKind::Event)[2];
    damage(&seg, victim);

    let (out, _) = export_damaged(&t.0, &seg, victim);
    assert_eq!(
        out.lines().count(),
        7,
        "every other event is still exported"
    );
    let o = vigil(&["log", "verify", s(&t.0)]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out.contains("DAMAGED") && out.contains(&format!("offset {victim}")),
        "{out}"
    );
}

#[test]
fn a_corrupt_definition_costs_the_events_that_use_it_each_named() {
    let t = Tmp::new("corrupt-def");
    write_log(&t.0, &scenario());
    let seg = only_segment(&t.0);
    // Definition 0: the first event's exec context.
    let victim = offsets_of(&seg, RecordKind::Define)[0];
    let events = offsets_of(&seg, RecordKind::Event);
    damage(&seg, victim);

    let (out, err) = export_damaged(&t.0, &seg, victim);
    let lost: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("refers to definition 0 of its segment"))
        .collect();
    assert!(!lost.is_empty(), "{err}");
    for line in &lost {
        assert!(
            events
                .iter()
                .any(|o| line.contains(&format!(": offset {o}: "))),
            "{line}"
        );
    }
    assert_eq!(
        out.lines().count() + lost.len(),
        8,
        "the events that do not use it are exported: {err}"
    );
}

#[test]
fn a_truncated_tail_is_a_warning_not_damage() {
    let t = Tmp::new("tail");
    write_log(&t.0, &scenario());
    let seg = only_segment(&t.0);
    let len = std::fs::metadata(&seg).unwrap().len();
    // Cut the footer (69 bytes) and half of the last record.
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 69 - 20).unwrap();
    let o = vigil(&["log", "export", s(&t.0)]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("truncated tail"), "{err}");
    assert!(err.contains(&seg.display().to_string()), "{err}");
    assert_eq!(out.lines().count(), 7);
    let o = vigil(&["log", "verify", s(&t.0)]);
    assert!(o.status.success(), "{}", text(&o).0);
    assert!(text(&o).0.contains("truncated tail"));
}

#[test]
fn empty_foreign_and_future_inputs_are_refused_clearly() {
    let t = Tmp::new("bad");
    let empty = t.0.join("00000000000000000001.vlog");
    std::fs::write(&empty, b"").unwrap();
    let foreign = t.0.join("notes.txt");
    std::fs::write(&foreign, b"hello, this is not a log\n").unwrap();
    let good = Tmp::new("good");
    write_log(&good.0, &scenario());
    let mut future = std::fs::read(only_segment(&good.0)).unwrap();
    future[8] = 9; // version 9
    let future_p = t.0.join("future.vlog");
    std::fs::write(&future_p, &future).unwrap();
    let nothing = Tmp::new("nothing");

    for (path, want) in [
        (empty.clone(), "empty".to_string()),
        (foreign.clone(), format!("{}: offset 0", foreign.display())),
        (
            future_p.clone(),
            format!(
                "{}: offset 8: unsupported format version 9",
                future_p.display()
            ),
        ),
    ] {
        for cmd in ["export", "stats", "verify"] {
            let o = vigil(&["log", cmd, s(&path)]);
            let (out, err) = text(&o);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{cmd} {}: {out}{err}",
                path.display()
            );
            assert!(
                out.contains(&want) || err.contains(&want),
                "{cmd} {}: want {want:?}\n{out}{err}",
                path.display()
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    let o = vigil(&["log", "stats", s(&nothing.0)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("no log segments"), "{}", text(&o).1);
    let o = vigil(&["log", "show", "/nonexistent/vigil-log"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("/nonexistent/vigil-log"),
        "{}",
        text(&o).1
    );
}

#[test]
fn replay_feeds_the_events_output_like_run() {
    let t = Tmp::new("replay");
    let evs = scenario();
    write_log(&t.0, &evs);
    let alerts = t.0.join("alerts.json");
    let o = vigil(&["replay", s(&t.0), "--events", "-", "--alerts", s(&alerts)]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let mut want = Vec::new();
    for e in &evs {
        monitor_user::sink::events::write_line(e, &mut want);
    }
    assert_eq!(out, String::from_utf8(want).unwrap());
    assert!(
        err.contains("replayed 8 of 8 events") && err.contains("5 events lost when recording"),
        "{err}"
    );
}

#[test]
fn where_takes_a_rule_language_condition() {
    let t = Tmp::new("where");
    write_log(&t.0, &scenario());
    let o = vigil(&[
        "log",
        "query",
        s(&t.0),
        "--where",
        "fd.name startswith /etc/ and container.id != host",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("\"fd.name\":\"/etc/shadow\""), "{out}");
    let o = vigil(&["log", "query", s(&t.0), "--where", "proc.name = cat and"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("<condition>:1:"), "{err}");
}

#[test]
fn replay_writes_alerts_with_the_rules_given() {
    let t = Tmp::new("replay-rules");
    write_log(&t.0, &scenario());
    let rules = t.0.join("extra.yaml");
    std::fs::write(
        &rules,
        "- rule: Shadow read\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n  output: \"shadow read by %proc.name in %container.name\"\n  priority: WARNING\n  tags: [credential-access, T1003.008]\n",
    )
    .unwrap();
    let o = vigil(&[
        "replay",
        s(&t.0),
        "--no-default-rules",
        "--rules",
        s(&rules),
        "--hostname",
        "node-7",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["rule"], "Shadow read");
    assert_eq!(lines[0]["hostname"], "node-7");
    assert_eq!(lines[0]["output_fields"]["container.name"], "web");
    assert!(
        lines[0]["output"]
            .as_str()
            .unwrap()
            .ends_with("shadow read by cat in web"),
        "{out}"
    );
    assert!(err.contains("1 alerts"), "{err}");
}

#[test]
fn net_lists_a_containers_connections_in_a_time_range() {
    let t = Tmp::new("net");
    let mut evs = scenario();
    let n = evs.len() as u64;
    evs.extend([
        net(
            n + 1,
            10,
            (100, "sh", true),
            "connect",
            Some(("10.88.0.5", 41000)),
            ("203.0.113.7", 4444),
            0,
        ),
        net(
            n + 2,
            11,
            (200, "nginx", true),
            "listen",
            None,
            ("0.0.0.0", 80),
            0,
        ),
        net(
            n + 3,
            12,
            (200, "nginx", true),
            "accept4",
            Some(("10.88.0.9", 52000)),
            ("10.88.0.5", 80),
            4,
        ),
        net(
            n + 4,
            13,
            (900, "curl", false),
            "connect",
            Some(("10.0.0.2", 43000)),
            ("198.51.100.1", 443),
            -111,
        ),
        net(
            n + 5,
            30,
            (100, "sh", true),
            "connect",
            Some(("10.88.0.5", 41002)),
            ("203.0.113.8", 22),
            0,
        ),
    ]);
    // The shell looked the address up before it connected.
    if let Data::Syscall(s) = &mut evs[n as usize].data {
        s.conn.as_mut().unwrap().server_name = Some("c2.example.com".into());
    }
    let answer = monitor_user::event::DnsData {
        response: true,
        id: 9,
        name: "c2.example.com".into(),
        qtype: "A".into(),
        rcode: Some("NOERROR".into()),
        answers: vec![monitor_user::event::DnsAnswer {
            name: "c2.example.com".into(),
            rtype: "A".into(),
            data: "203.0.113.7".into(),
            ttl: 60,
        }],
        ..Default::default()
    };
    let query = monitor_user::event::DnsData {
        response: false,
        rcode: None,
        answers: vec![],
        ..answer.clone()
    };
    evs.insert(
        n as usize,
        base(n + 7, 9, 100, 1, "sh", true, Data::Dns(Box::new(answer))),
    );
    evs.insert(
        n as usize,
        base(n + 6, 9, 100, 1, "sh", true, Data::Dns(Box::new(query))),
    );
    write_log(&t.0, &evs);
    let o = vigil(&[
        "log",
        "net",
        s(&t.0),
        "--container",
        "web",
        "--until",
        "2026-11-22T06:00:20Z",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        5,
        "header, the answer and three events:\n{out}"
    );
    assert!(lines[0].starts_with("TIME") && lines[0].contains("CONNECTION"));
    // The lookup (its answer; the query is left out), then the connection
    // with the name beside the address.
    assert!(
        lines[1].contains("dns") && lines[1].ends_with("resolved c2.example.com -> 203.0.113.7"),
        "{out}"
    );
    assert!(
        lines[2].contains("connect")
            && lines[2].contains("10.88.0.5:41000 -> c2.example.com (203.0.113.7:4444) = SUCCESS"),
        "{out}"
    );
    assert!(lines[3].contains("listening on 0.0.0.0:80"), "{out}");
    assert!(
        lines[4].contains("10.88.0.5:80 <- 10.88.0.9:52000"),
        "{out}"
    );
    // Only network events: the shell's exec and opens are not listed.
    assert!(!out.contains("/etc/shadow"), "{out}");
    // The host's refused connect, as JSON.
    let o = vigil(&[
        "log",
        "net",
        s(&t.0),
        "--container",
        "host",
        "--format",
        "json",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!(v["fd.sip"], "198.51.100.1");
    assert_eq!(v["evt.res"], "ECONNREFUSED");
    // A type that is not a network event is refused clearly.
    let o = vigil(&["log", "net", s(&t.0), "--type", "execve"]);
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("not a network event type"),
        "{}",
        text(&o).1
    );
}
