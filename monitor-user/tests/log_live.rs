//! The flight recorder on real activity (root): `vigil run --record DIR`
//! with the real eBPF sensor while this test runs a few commands, then
//! SIGTERM (a clean close) and `vigil log stats/query/verify` on the log;
//! `vigil replay` of the log writes exactly the alerts of the live run.
//! Without root it says why; under CI (env CI set) it fails instead.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kills (SIGKILL) the agent if the test fails before stopping it.
struct Agent(Option<Child>);
impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A busybox-only image and the test's container, removed even on failure.
struct Podman {
    image: String,
    container: String,
    root: PathBuf,
}
impl Drop for Podman {
    fn drop(&mut self) {
        let p = |a: &[&str]| Command::new("podman").args(a).output();
        let _ = p(&["rm", "-f", "-t", "0", &self.container]);
        let _ = p(&["rmi", "-f", &self.image]);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Imports a busybox image (no registry is reachable from the test machine).
fn busybox_image(g: &Podman) -> Result<(), String> {
    let bin = g.root.join("rootfs/bin");
    std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    std::fs::copy("/bin/busybox", bin.join("busybox")).map_err(|e| format!("/bin/busybox: {e}"))?;
    for a in ["sh", "cat", "echo", "sleep"] {
        std::os::unix::fs::symlink("busybox", bin.join(a)).map_err(|e| e.to_string())?;
    }
    let tar = g.root.join("image.tar");
    let ok = |c: &mut Command| -> Result<(), String> {
        let o = c.output().map_err(|e| e.to_string())?;
        o.status
            .success()
            .then_some(())
            .ok_or_else(|| format!("{c:?}: {}", String::from_utf8_lossy(&o.stderr)))
    };
    ok(Command::new("tar")
        .arg("-C")
        .arg(g.root.join("rootfs"))
        .arg("-cf")
        .arg(&tar)
        .arg("."))?;
    ok(Command::new("podman").arg("import").arg(&tar).arg(&g.image))
}

fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("cannot run under CI: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

#[test]
fn records_real_activity_and_answers_questions() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return skip("needs root to load the eBPF sensor");
    }
    let bin = env!("CARGO_BIN_EXE_vigil");
    let dir = std::env::temp_dir().join(format!("vigil-live-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let marker = format!("vigil-live-marker-{}", std::process::id());
    // A rule that fires on this test's own commands, next to the defaults.
    let rules = dir.join("extra.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Marker shell\n  desc: d\n  condition: evt.type = execve and proc.cmdline contains {marker}\n  output: \"marker %proc.name %proc.cmdline parent=%proc.pname\"\n  priority: NOTICE\n  tags: [recon, T1059]\n"
        ),
    )
    .unwrap();
    let rec = dir.join("log");
    let live_alerts = dir.join("live-alerts.json");
    let child = Command::new(bin)
        .args([
            "run",
            "--record",
            rec.to_str().unwrap(),
            "--stats-interval",
            "1",
            "--rules",
            rules.to_str().unwrap(),
            "--alerts",
            live_alerts.to_str().unwrap(),
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vigil run");
    let mut agent = Agent(Some(child));
    let stderr = agent.0.as_mut().unwrap().stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let wait_for = |log: &mut Vec<String>, what: &str, secs: u64| -> bool {
        let end = std::time::Instant::now() + Duration::from_secs(secs);
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(what);
                    log.push(l);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    };
    assert!(
        wait_for(&mut log, "] ready", 60),
        "no ready line:\n{}",
        log.join("\n")
    );
    for _ in 0..3 {
        let st = Command::new("/bin/sh")
            .args([
                "-c",
                &format!("cat /etc/hostname >/dev/null; echo {marker} >/dev/null"),
            ])
            .status()
            .unwrap();
        assert!(st.success());
    }
    // Real container activity: a podman container whose shell reads a file.
    let pod = Podman {
        image: format!("localhost/vigil-loglive:{}", std::process::id()),
        container: format!("vigil-loglive-{}", std::process::id()),
        root: dir.join("image"),
    };
    let container_ran = match busybox_image(&pod) {
        Ok(()) => {
            let o = Command::new("podman")
                .args([
                    "run",
                    "--rm",
                    "--name",
                    &pod.container,
                    &pod.image,
                    "sh",
                    "-c",
                    &format!("cat /etc/hostname; echo {marker}"),
                ])
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "podman run: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            true
        }
        Err(e) => {
            skip(&format!("container part: {e}"));
            false
        }
    };
    assert!(
        wait_for(&mut log, "\"recorder\":{", 10),
        "no recorder stats:\n{}",
        log.join("\n")
    );
    // SIGTERM: the clean path (drain, footer, fdatasync).
    let pid = agent.0.as_ref().unwrap().id() as i32;
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = agent.0.take().unwrap().wait().unwrap();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(2)) {
        log.push(l);
    }
    assert!(status.success(), "vigil run failed:\n{}", log.join("\n"));
    let last_stats = log
        .iter()
        .rev()
        .find(|l| l.contains("stats {"))
        .expect("final stats line");
    assert!(
        last_stats.contains("\"recorder\":{\"written\":"),
        "{last_stats}"
    );

    let run = |args: &[&str]| {
        let o = Command::new(bin).args(args).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let d = rec.to_str().unwrap();
    let (ok, out, err) = run(&["log", "verify", d]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("OK:") && out.contains("closed)"), "{out}");
    let (ok, out, err) = run(&["log", "stats", d]);
    assert!(ok, "{err}");
    println!("{out}");
    assert!(out.contains("execve") && out.contains("host"), "{out}");
    let (ok, out, err) = run(&[
        "log",
        "query",
        d,
        "--type",
        "execve",
        "--where",
        "proc.name = cat and proc.args contains /etc/hostname",
    ]);
    assert!(ok, "{err}");
    assert!(out.lines().count() >= 3, "three cat execs:\n{out}");
    let (ok, out, _) = run(&[
        "log",
        "show",
        d,
        "--where",
        &format!("proc.cmdline contains {marker}"),
    ]);
    assert!(ok);
    assert!(
        out.lines().count() >= 2,
        "the shells carrying the marker:\n{out}"
    );
    if container_ran {
        let (ok, out, err) = run(&["log", "tree", d, "--container", &pod.container]);
        assert!(ok, "{err}");
        assert!(
            out.contains("exec ") && out.contains("cat /etc/hostname"),
            "container tree:\n{out}"
        );
        let (ok, out, _) = run(&[
            "log",
            "query",
            d,
            "--container",
            &pod.container,
            "--type",
            "execve",
        ]);
        assert!(ok);
        let first: serde_json::Value =
            serde_json::from_str(out.lines().next().expect("container execs")).unwrap();
        assert_eq!(first["container.name"], pod.container.as_str(), "{out}");
        assert_eq!(
            first["container.image"]
                .as_str()
                .map(|i| i.contains("vigil-loglive")),
            Some(true),
            "{out}"
        );
    }

    // Replay with the same rules reproduces the live alerts exactly.
    let replayed = dir.join("replayed-alerts.json");
    let (ok, _, err) = run(&[
        "replay",
        d,
        "--rules",
        rules.to_str().unwrap(),
        "--alerts",
        replayed.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let live = std::fs::read_to_string(&live_alerts).unwrap();
    let again = std::fs::read_to_string(&replayed).unwrap();
    assert!(
        live.lines().filter(|l| l.contains("Marker shell")).count() >= 3,
        "{live}"
    );
    assert_eq!(again, live, "replay must reproduce the live alerts");
    let _ = std::fs::remove_dir_all(&dir);
}
