//! The syslog output against Debian's rsyslog, started by the test with a
//! config of its own: a unix socket, a UDP and a TCP port on loopback, and
//! every message written to a file the test reads. Alerts arrive intact
//! (the message is the alert's Falco JSON), with the priority mapped to the
//! syslog severity, the host name and `vigil` as the app, over each
//! transport, in RFC 5424 and RFC 3164.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use monitor_user::sink::alert::Alert;
use monitor_user::sink::output::{Fanout, OutputSpec, Protocol, SyslogOptions};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// An rsyslogd of the test's own; stopped (by pid) on drop.
struct Rsyslog {
    child: Child,
    dir: PathBuf,
    udp: u16,
    tcp: u16,
}

fn free_port(udp: bool) -> u16 {
    if udp {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

impl Rsyslog {
    fn start(tag: &str) -> Rsyslog {
        Rsyslog::start_on(tag, free_port(true), free_port(false))
    }

    /// On the given loopback ports (a restart keeps its predecessor's).
    fn start_on(tag: &str, udp: u16, tcp: u16) -> Rsyslog {
        let dir = std::env::temp_dir().join(format!("vigil-rsyslog-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        // Fields separated by `|`; %msg% is the message after the header
        // (and, for RFC 5424, after the structured data).
        let conf = format!(
            r#"global(workDirectory="{d}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{d}/log.sock" UseSpecialParser="off" ParseHostname="on")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{udp}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
template(name="fields" type="string" string="%inputname%|%pri%|%syslogseverity%|%hostname%|%app-name%|%structured-data%|%msg%\n")
*.* action(type="omfile" file="{d}/out.log" template="fields")
"#
        );
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let child = Command::new(RSYSLOGD)
            .args(["-n", "-f"])
            .arg(dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .spawn()
            .expect("starting rsyslogd");
        let r = Rsyslog {
            child,
            dir,
            udp,
            tcp,
        };
        // Ready when the socket exists and the TCP port answers.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(r.socket().exists() && std::net::TcpStream::connect(("127.0.0.1", tcp)).is_ok()) {
            assert!(Instant::now() < deadline, "rsyslogd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("log.sock")
    }

    /// Lines written so far, split on `|` into 7 fields.
    fn lines(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.dir.join("out.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.splitn(7, '|').map(str::to_owned).collect())
            .collect()
    }

    fn wait_lines(&self, n: usize) -> Vec<Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let l = self.lines();
            if l.len() >= n || Instant::now() > deadline {
                return l;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        // SAFETY: kill() on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn alert(n: u64, priority: &'static str) -> Alert {
    let fields = serde_json::json!({"evt.type": "openat", "proc.pid": n, "n": n});
    Alert {
        uuid: monitor_user::sink::alert::alert_uuid("node-7", n, n, 1, "Syslog test"),
        time: "2026-11-22T06:18:23.123456789Z".into(),
        rule: "Syslog test".into(),
        priority,
        output: format!("06:18:23.123456789: {priority} syslog test n={n}"),
        output_fields: fields.as_object().unwrap().clone(),
        tags: vec!["recon".into()],
        hostname: "node-7".into(),
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

fn send(specs: Vec<OutputSpec>, alerts: &[Alert]) {
    let rt = runtime();
    let stats = rt.block_on(async {
        let fan = Fanout::start(&specs).unwrap();
        for a in alerts {
            fan.send_wait(a.clone()).await;
        }
        fan.close(Duration::from_secs(20)).await
    });
    for s in &stats {
        assert_eq!(
            (s.sent, s.failed, s.dropped),
            (alerts.len() as u64, 0, 0),
            "{s:?}"
        );
    }
}

fn can_run() -> bool {
    vigil_tests::require(
        Path::new(RSYSLOGD).exists(),
        "needs rsyslogd (`cargo xtask setup` installs Debian's rsyslog)",
    )
}

const PRIORITIES: [(&str, u64); 8] = [
    ("Emergency", 0),
    ("Alert", 1),
    ("Critical", 2),
    ("Error", 3),
    ("Warning", 4),
    ("Notice", 5),
    ("Informational", 6),
    ("Debug", 7),
];

#[test]
fn rfc5424_alerts_reach_rsyslog_over_socket_udp_and_tcp_intact() {
    if !can_run() {
        return;
    }
    let rs = Rsyslog::start("5424");
    let opts = |addr: String| {
        let mut o = SyslogOptions::new(addr);
        o.facility = "local0".into();
        OutputSpec::Syslog(o)
    };
    let alerts: Vec<Alert> = (0..24)
        .map(|n| alert(n, PRIORITIES[n as usize % 8].0))
        .collect();
    send(
        vec![
            opts(format!("unix:{}", rs.socket().display())),
            opts(format!("udp://127.0.0.1:{}", rs.udp)),
            opts(format!("tcp://127.0.0.1:{}", rs.tcp)),
        ],
        &alerts,
    );
    let lines = rs.wait_lines(72);
    assert_eq!(lines.len(), 72, "{lines:?}");
    for input in ["imuxsock", "imudp", "imtcp"] {
        let mine: Vec<&Vec<String>> = lines.iter().filter(|l| l[0] == input).collect();
        assert_eq!(mine.len(), 24, "{input}: {lines:?}");
        let mut seen: Vec<u64> = Vec::new();
        for l in mine {
            let msg: serde_json::Value = serde_json::from_str(&l[6]).unwrap_or_else(|e| {
                panic!("{input}: message is not the alert's JSON ({e}): {l:?}")
            });
            let n = msg["output_fields"]["n"].as_u64().unwrap();
            let a = &alerts[n as usize];
            assert_eq!(msg, a.to_json(), "{input}: intact");
            let sev = PRIORITIES.iter().find(|p| p.0 == a.priority).unwrap().1;
            assert_eq!(
                l[1],
                (16 * 8 + sev).to_string(),
                "{input}: PRI of {}",
                a.priority
            );
            assert_eq!(l[2], sev.to_string());
            assert_eq!((l[3].as_str(), l[4].as_str()), ("node-7", "vigil"), "{l:?}");
            assert!(l[5].contains(&format!("uuid=\"{}\"", a.uuid)), "{l:?}");
            seen.push(n);
        }
        seen.sort();
        assert_eq!(seen, (0..24).collect::<Vec<_>>(), "{input}");
    }
}

#[test]
fn rfc3164_alerts_reach_rsyslog() {
    if !can_run() {
        return;
    }
    let rs = Rsyslog::start("3164");
    let mut o = SyslogOptions::new(format!("udp://127.0.0.1:{}", rs.udp));
    o.protocol = Protocol::Rfc3164;
    let mut t = SyslogOptions::new(format!("unix:{}", rs.socket().display()));
    t.protocol = Protocol::Rfc3164;
    let alerts: Vec<Alert> = (0..8).map(|n| alert(n, PRIORITIES[n as usize].0)).collect();
    send(vec![OutputSpec::Syslog(o), OutputSpec::Syslog(t)], &alerts);
    let lines = rs.wait_lines(16);
    assert_eq!(lines.len(), 16, "{lines:?}");
    for l in &lines {
        let msg: serde_json::Value = serde_json::from_str(l[6].trim_start())
            .unwrap_or_else(|e| panic!("message is not the alert's JSON ({e}): {l:?}"));
        let a = &alerts[msg["output_fields"]["n"].as_u64().unwrap() as usize];
        assert_eq!(msg, a.to_json());
        let sev = PRIORITIES.iter().find(|p| p.0 == a.priority).unwrap().1;
        assert_eq!(
            l[1],
            (8 + sev).to_string(),
            "user facility, {}: {l:?}",
            a.priority
        );
        assert_eq!((l[3].as_str(), l[4].as_str()), ("node-7", "vigil"), "{l:?}");
    }
}

#[test]
fn tcp_reconnects_to_a_restarted_rsyslog_and_loses_nothing() {
    if !can_run() {
        return;
    }
    let first = Rsyslog::start("restart-a");
    let (udp, tcp) = (first.udp, first.tcp);
    let rt = runtime();
    let fan = rt.block_on(async {
        let spec = OutputSpec::Syslog(SyslogOptions::new(format!("tcp://127.0.0.1:{tcp}")));
        Fanout::start(&[spec]).unwrap()
    });
    let wait_sent = |n: u64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while fan.stats()[0].sent + fan.stats()[0].failed < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    for n in 0..5 {
        rt.block_on(fan.send_wait(alert(n, "Warning")));
    }
    wait_sent(5);
    assert_eq!(first.wait_lines(5).len(), 5);
    // The receiver restarts on the same port: the open connection is dead.
    drop(first);
    let second = Rsyslog::start_on("restart-b", udp, tcp);
    for n in 5..10 {
        rt.block_on(fan.send_wait(alert(n, "Warning")));
    }
    wait_sent(10);
    let stats = rt.block_on(fan.close(Duration::from_secs(10)));
    let lines = second.wait_lines(5);
    let got: Vec<u64> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(&l[6]).unwrap()["output_fields"]["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(got, [5, 6, 7, 8, 9], "{lines:?}");
    assert_eq!((stats[0].sent, stats[0].failed), (10, 0), "{stats:?}");
}
