//! `vigil run` with rules, for real (root: loads the eBPF sensor): a file
//! opened on the host raises an alert from a --rules file in the alerts
//! file, and SIGHUP reloads the rules — an invalid file keeps the old set
//! and logs the error with its position, a valid one replaces it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Agent(Child);
impl Drop for Agent {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("cannot run under CI: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rule(name: &str, canary: &Path) -> String {
    format!(
        "- rule: {name}\n  desc: canary opened\n  condition: evt.type in (open, openat, openat2) and fd.name = {}\n  output: \"canary opened by %proc.name (file=%fd.name)\"\n  priority: NOTICE\n  tags: [recon, T1083]\n",
        canary.display()
    )
}

fn alerts(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("alert line is JSON"))
        .collect()
}

#[test]
fn run_raises_alerts_from_rule_files_and_reloads_on_sighup() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return skip("needs root to load the eBPF sensor");
    }
    let dir = std::env::temp_dir().join(format!("vigil-run-rules-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TempDir(dir);
    let rules = dir.0.join("rules.yaml");
    // Named so that the kernel's open filter passes it (`environ` is a
    // watched file name).
    let canary = dir.0.join("environ");
    let alerts_path = dir.0.join("alerts.json");
    let log_path = dir.0.join("vigil.log");
    std::fs::write(&canary, "x").unwrap();
    std::fs::write(&rules, rule("Canary one", &canary)).unwrap();

    let child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["run", "--no-default-rules", "--rules"])
        .arg(&rules)
        .arg("--alerts")
        .arg(&alerts_path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("start vigil");
    let agent = Agent(child);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    wait_for("ready", Duration::from_secs(90), || {
        log().contains("] ready") || log().contains(" ready\n")
    });
    assert!(
        log().contains("rules: 1 rules loaded (1 enabled), 0 skipped"),
        "{}",
        log()
    );

    let open_until = |n: usize, what: &str| {
        wait_for(what, Duration::from_secs(20), || {
            let _ = std::fs::read(&canary);
            alerts(&alerts_path).len() >= n
        });
    };
    open_until(1, "the first alert");
    let a = &alerts(&alerts_path)[0];
    assert_eq!(a["rule"], "Canary one");
    assert_eq!(a["priority"], "Notice");
    assert_eq!(a["source"], "syscall");
    assert_eq!(a["tags"], serde_json::json!(["recon", "T1083"]));
    assert_eq!(a["output_fields"]["fd.name"], canary.to_str().unwrap());
    assert_eq!(a["output_fields"]["proc.pid"], std::process::id());
    assert_eq!(a["output_fields"]["container.id"], "host");

    // Invalid file: the error is logged with its position; the old set stays.
    std::fs::write(
        &rules,
        rule("Canary two", &canary).replace("fd.name", "fd.nmae"),
    )
    .unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(agent.0.id() as i32, libc::SIGHUP) };
    wait_for("reload failure", Duration::from_secs(10), || {
        log().contains("rules reload failed")
    });
    assert!(
        log().contains(&format!("{}:3:", rules.display())),
        "{}",
        log()
    );
    let before = alerts(&alerts_path).len();
    open_until(before + 1, "an alert from the old set");
    assert_eq!(alerts(&alerts_path).last().unwrap()["rule"], "Canary one");

    // Valid file: replaces the set.
    std::fs::write(&rules, rule("Canary two", &canary)).unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(agent.0.id() as i32, libc::SIGHUP) };
    wait_for("reload", Duration::from_secs(10), || {
        log().contains("rules reloaded")
    });
    wait_for("an alert from the new set", Duration::from_secs(20), || {
        let _ = std::fs::read(&canary);
        alerts(&alerts_path)
            .last()
            .is_some_and(|a| a["rule"] == "Canary two")
    });
    drop(agent);
    assert!(log().contains("alerts"), "{}", log());
}
