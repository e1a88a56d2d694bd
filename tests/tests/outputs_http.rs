//! The HTTP output against a falcosidekick stand-in ([`sidekick`]): alerts
//! arrive as falcosidekick accepts them, with the configured headers; a
//! receiver that refuses or stalls costs counted failures and drops, never
//! a blocked sender, and alerts flow again once it recovers.
//! No root needed: the alerts are built here; `containers_outputs.rs` sends
//! a real container attack's alerts through the agent.

mod sidekick;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use monitor_user::sink::alert::Alert;
use monitor_user::sink::output::{Fanout, HttpOptions, OutputSpec};
use sidekick::{Mode, Sidekick};

fn alert(n: u64) -> Alert {
    let fields = serde_json::json!({
        "evt.type": "openat", "fd.name": "/etc/shadow", "proc.pid": 4000 + n,
        "proc.name": "cat", "proc.cmdline": "cat /etc/shadow", "user.uid": 0,
        "container.id": "c0ffee123456", "container.name": "web", "n": n
    });
    Alert {
        uuid: monitor_user::sink::alert::alert_uuid("node-1", n, n, 1, "Shadow read"),
        time: format!("2026-11-22T06:18:{:02}.123456789Z", n % 60),
        rule: "Read of shadow file".into(),
        priority: "Warning",
        output: format!("06:18:23.123456789: Warning shadow read n={n}"),
        output_fields: fields.as_object().unwrap().clone(),
        tags: vec!["credential-access".into(), "T1003.008".into()],
        hostname: "node-1".into(),
        source: "syscall",
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn falcosidekick_accepts_every_alert_with_its_headers() {
    let sk = Sidekick::start();
    let rt = runtime();
    let mut opts = HttpOptions::new(sk.url());
    opts.headers = vec![
        "Authorization: Bearer t0ken".into(),
        "X-Tenant: blue".into(),
    ];
    let stats = rt.block_on(async {
        let fan = Fanout::start(&[OutputSpec::Http(opts)]).unwrap();
        for n in 0..50 {
            fan.send(alert(n));
        }
        fan.close(Duration::from_secs(20)).await
    });
    assert_eq!(
        (stats[0].sent, stats[0].dropped, stats[0].failed),
        (50, 0, 0),
        "{stats:?}"
    );
    assert!(sk.rejected().is_empty(), "{:?}", sk.rejected());
    let got = sk.received();
    assert_eq!(got.len(), 50);
    let header = |r: &sidekick::Received, k: &str| {
        r.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    for r in &got {
        assert_eq!(
            header(r, "content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(header(r, "authorization").as_deref(), Some("Bearer t0ken"));
        assert_eq!(header(r, "x-tenant").as_deref(), Some("blue"));
    }
    // Intact: each body is the alert's Falco JSON, uuid and all.
    let mut ids = HashSet::new();
    for v in sk.accepted() {
        let n = v["output_fields"]["n"].as_u64().unwrap();
        assert_eq!(v, alert(n).to_json());
        assert!(ids.insert(v["uuid"].as_str().unwrap().to_owned()));
    }
    assert_eq!(ids.len(), 50);
}

#[test]
fn a_refusing_then_stalled_receiver_costs_counted_alerts_and_recovers() {
    let sk = Sidekick::start();
    let rt = runtime();
    let mut opts = HttpOptions::new(sk.url());
    opts.retries = 2;
    opts.backoff_ms = 10;
    opts.timeout_ms = 60_000;
    opts.queue = Some(8);
    rt.block_on(async {
        let fan = Fanout::start(&[OutputSpec::Http(opts)]).unwrap();
        let settle = |want_sent_or_failed: u64| {
            let fan = &fan;
            async move {
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    let s = &fan.stats()[0];
                    if s.sent + s.failed >= want_sent_or_failed && s.queued == 0 {
                        return;
                    }
                    assert!(Instant::now() < deadline, "{s:?}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };

        // Refused (503): retried, then counted as failed.
        sk.set_mode(Mode::Refuse);
        fan.send(alert(0));
        settle(1).await;
        let s = &fan.stats()[0];
        assert_eq!((s.failed, s.retries, s.sent), (1, 2, 0), "{s:?}");

        // Stalled: one request hangs, eight wait, the rest are dropped;
        // offering them never waits.
        sk.set_mode(Mode::Stall);
        fan.send(alert(1));
        while fan.stats()[0].queued > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let t0 = Instant::now();
        for n in 2..100 {
            fan.send(alert(n));
        }
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        let s = &fan.stats()[0];
        assert_eq!((s.queued, s.dropped), (8, 90), "{s:?}");

        // Recovered: the held and queued alerts arrive, and so do new ones.
        sk.set_mode(Mode::Accept);
        for n in 100..110 {
            fan.send_wait(alert(n)).await;
        }
        let s = fan.close(Duration::from_secs(20)).await;
        assert_eq!(
            (s[0].sent, s[0].dropped, s[0].failed, s[0].retries),
            (19, 90, 1, 2),
            "{s:?}"
        );
    });
    let got: Vec<u64> = sk
        .accepted()
        .iter()
        .map(|v| v["output_fields"]["n"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (1..10).chain(100..110).collect();
    assert_eq!(got, want);
    assert!(sk.rejected().is_empty());
}

#[test]
fn https_with_the_ca_file_delivers_and_without_it_fails() {
    let (sk, ca_pem) = Sidekick::start_tls();
    let dir = std::env::temp_dir().join(format!("vigil-out-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    assert!(sk.url().starts_with("https://127.0.0.1:"));
    let rt = runtime();
    let mut trusted = HttpOptions::new(sk.url());
    trusted.ca_file = Some(ca.clone());
    let mut untrusted = HttpOptions::new(sk.url());
    untrusted.retries = 0;
    let stats = rt.block_on(async {
        let fan = Fanout::start(&[OutputSpec::Http(trusted), OutputSpec::Http(untrusted)]).unwrap();
        for n in 0..5 {
            fan.send(alert(n));
        }
        fan.close(Duration::from_secs(20)).await
    });
    let _ = std::fs::remove_dir_all(&dir);
    // With the CA: every alert, over TLS. Without: the system roots do not
    // know the test's CA, so each attempt fails, counted, none retried.
    assert_eq!((stats[0].sent, stats[0].failed), (5, 0), "{stats:?}");
    assert_eq!(
        (stats[1].sent, stats[1].failed, stats[1].retries),
        (0, 5, 0),
        "{stats:?}"
    );
    assert_eq!(sk.accepted().len(), 5);
    assert!(sk.rejected().is_empty());
}
