//! Fan-out tests: flag and config parsing, delivery, full queues that drop
//! without blocking, bounded shutdown.

use std::time::Instant;

use serde_json::Value as Json;

use super::*;

pub(crate) fn alert(n: u64) -> Alert {
    Alert {
        uuid: format!("00000000-0000-5000-8000-{n:012}"),
        time: "2026-11-22T06:18:23.123456789Z".into(),
        rule: "Shadow read".into(),
        priority: "Warning",
        output: format!("06:18:23.123456789: Warning shadow read n={n}"),
        output_fields: serde_json::json!({"proc.pid": n, "evt.type": "openat"})
            .as_object()
            .unwrap()
            .clone(),
        tags: vec!["credential-access".into(), "T1003.008".into()],
        hostname: "node-1".into(),
        source: "syscall",
    }
}

#[test]
fn flags_parse_into_typed_specs() {
    let s: OutputSpec = "http:https://sk.example:2801/,header=Authorization: Bearer abc,header=X-A: 1,retries=5,timeout_ms=900,format=ocsf"
        .parse()
        .unwrap();
    let OutputSpec::Http(h) = &s else {
        panic!("{s:?}")
    };
    assert_eq!(h.url, "https://sk.example:2801/");
    assert_eq!(h.headers, ["Authorization: Bearer abc", "X-A: 1"]);
    assert_eq!((h.retries, h.timeout_ms, h.format), (5, 900, Format::Ocsf));
    assert_eq!(s.name(), "http:https://sk.example:2801/");

    let s: OutputSpec = "file:/var/log/a.json,max_bytes=1000,keep=2"
        .parse()
        .unwrap();
    assert_eq!(
        s,
        OutputSpec::File(FileOptions {
            max_bytes: Some(1000),
            keep: 2,
            ..FileOptions::new("/var/log/a.json".into())
        })
    );
    let s: OutputSpec = "syslog:udp://127.0.0.1:514,protocol=rfc3164,facility=local3"
        .parse()
        .unwrap();
    let OutputSpec::Syslog(o) = s else { panic!() };
    assert_eq!(
        (o.protocol, o.facility.as_str()),
        (Protocol::Rfc3164, "local3")
    );
    let OutputSpec::Syslog(o) = "syslog".parse().unwrap() else {
        panic!()
    };
    assert_eq!(o.address, "/dev/log");
    assert_eq!(
        "stdout,format=ocsf".parse::<OutputSpec>().unwrap().kind(),
        "stdout"
    );

    for bad in [
        "kafka:x",
        "stdout:x",
        "file:/a,bogus=1",
        "http:http://x/,retries",
        "file:/a,format=xml",
        "file",
    ] {
        assert!(bad.parse::<OutputSpec>().is_err(), "{bad}");
    }
}

#[test]
fn config_section_deserializes() {
    let v = serde_json::json!([
        {"type": "stdout"},
        {"type": "file", "path": "/tmp/a.json", "format": "ocsf", "max_bytes": 10, "queue": 8},
        {"type": "http", "url": "http://127.0.0.1:2801/", "headers": ["X-Token: t"], "ca_file": "/etc/ca.pem"},
        {"type": "syslog", "address": "tcp://127.0.0.1:601", "protocol": "rfc5424"}
    ]);
    let specs: Vec<OutputSpec> = serde_json::from_value(v).unwrap();
    assert_eq!(
        specs.iter().map(OutputSpec::kind).collect::<Vec<_>>(),
        ["stdout", "file", "http", "syslog"]
    );
    assert_eq!(specs[1].queue(), 8);
    let bad = serde_json::json!([{"type": "file", "path": "/a", "nope": 1}]);
    let err = serde_json::from_value::<Vec<OutputSpec>>(bad).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_of_named_outputs_starts_under_its_names() {
    // A config file's `[outputs.NAME]` tables, as any serde format gives them.
    let dir = crate::testutil::TempDir::new("fanout-named");
    let path = dir.path().join("a.json");
    let v = serde_json::json!({
        "lake": {"type": "file", "path": path, "format": "ocsf"},
        "console": {"type": "stdout", "format": "text"}
    });
    let table: std::collections::BTreeMap<String, OutputSpec> = serde_json::from_value(v).unwrap();
    let named: Vec<(String, OutputSpec)> = table.into_iter().collect();
    let fan = Fanout::start_named(&named).unwrap();
    fan.send_wait(alert(1)).await;
    let s = fan.close(Duration::from_secs(5)).await;
    let names: Vec<(&str, &str, u64)> = s
        .iter()
        .map(|o| (o.name.as_str(), o.kind, o.sent))
        .collect();
    assert_eq!(names, [("console", "stdout", 1), ("lake", "file", 1)]);
    let line = std::fs::read_to_string(&path).unwrap();
    assert!(line.contains("\"class_uid\":2004"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_outputs_get_every_alert_in_each_format() {
    let dir = crate::testutil::TempDir::new("fanout-files");
    let falco = dir.path().join("falco.json");
    let ocsf = dir.path().join("ocsf.json");
    let specs = [
        OutputSpec::File(FileOptions::new(falco.clone())),
        OutputSpec::File(FileOptions {
            format: Format::Ocsf,
            ..FileOptions::new(ocsf.clone())
        }),
    ];
    let fan = Fanout::start(&specs).unwrap();
    for n in 0..500 {
        fan.send_wait(alert(n)).await;
    }
    let stats = fan.close(Duration::from_secs(10)).await;
    for s in &stats {
        assert_eq!(
            (s.sent, s.dropped, s.failed, s.queued),
            (500, 0, 0, 0),
            "{s:?}"
        );
    }
    let lines = |p: &std::path::Path| -> Vec<Json> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let f = lines(&falco);
    assert_eq!(f.len(), 500);
    assert_eq!(f[7]["uuid"], alert(7).uuid);
    let o = lines(&ocsf);
    assert_eq!(o.len(), 500);
    assert_eq!(o[7]["class_uid"], 2004);
    assert_eq!(o[7]["finding_info"]["uid"], alert(7).uuid);
}

/// A TCP server that accepts connections and never answers: an HTTP
/// receiver that has stalled.
async fn stalled_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let t = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (addr, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_output_drops_and_counts_without_blocking_the_others() {
    let (addr, server) = stalled_server().await;
    let dir = crate::testutil::TempDir::new("fanout-stall");
    let file = dir.path().join("a.json");
    let mut http = HttpOptions::new(format!("http://{addr}/"));
    http.queue = Some(4);
    http.timeout_ms = 60_000;
    let fan = Fanout::start(&[
        OutputSpec::Http(http),
        OutputSpec::File(FileOptions::new(file.clone())),
    ])
    .unwrap();
    // The first alert is taken and hangs in flight.
    fan.send(alert(0));
    while fan.stats()[0].queued > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let t0 = Instant::now();
    for n in 1..200 {
        fan.send(alert(n));
    }
    // Offering never waits for the stalled receiver (60 s timeout).
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    // Let the file thread write its queue (1024 fits all 200).
    let deadline = Instant::now() + Duration::from_secs(10);
    while fan.stats()[1].sent < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = fan.stats();
    assert_eq!(s[0].kind, "http");
    // One in flight, four queued, the rest dropped.
    assert_eq!(s[0].dropped, 195, "{s:?}");
    assert_eq!(s[0].queued, 4, "{s:?}");
    assert_eq!(s[0].sent, 0);
    assert_eq!((s[1].sent, s[1].dropped), (200, 0), "{s:?}");
    // Shutdown is bounded: the stalled output's queue is given up.
    let t0 = Instant::now();
    let s = fan.close(Duration::from_millis(300)).await;
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    // All but the first were never attempted; the first hung in flight.
    assert_eq!(s[0].dropped, 200, "{s:?}");
    assert_eq!(s[0].sent + s[0].failed, 0, "{s:?}");
    assert_eq!(s[0].queued, 0);
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 200);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_http_output_retries_then_counts_failures() {
    // A port nothing listens on: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut http = HttpOptions::new(format!("http://127.0.0.1:{port}/"));
    http.retries = 2;
    http.backoff_ms = 10;
    let fan = Fanout::start(&[OutputSpec::Http(http)]).unwrap();
    for n in 0..3 {
        fan.send(alert(n));
    }
    let s = fan.close(Duration::from_secs(10)).await;
    assert_eq!(
        (s[0].sent, s[0].failed, s[0].retries, s[0].dropped),
        (0, 3, 6, 0),
        "{s:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopen_moves_to_the_new_file() {
    let dir = crate::testutil::TempDir::new("fanout-reopen");
    let path = dir.path().join("a.json");
    let fan = Fanout::start(&[OutputSpec::File(FileOptions::new(path.clone()))]).unwrap();
    fan.send_wait(alert(1)).await;
    while fan.stats()[0].sent < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::fs::rename(&path, dir.path().join("a.json.1")).unwrap();
    fan.reopen();
    fan.send_wait(alert(2)).await;
    fan.close(Duration::from_secs(5)).await;
    let old = std::fs::read_to_string(dir.path().join("a.json.1")).unwrap();
    let new = std::fs::read_to_string(&path).unwrap();
    assert_eq!((old.lines().count(), new.lines().count()), (1, 1));
    assert!(new.contains(&alert(2).uuid));
}
