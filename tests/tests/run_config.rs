//! `vigil run` as ops run it: from a config file, writing only private
//! files, stopping quickly.
//!
//! - A bad config file stops `vigil run` before anything is loaded, with a
//!   `file:line:column` error and a non-zero exit; `vigil config check`
//!   says the same and accepts the shipped examples.
//! - A good one is used (its listener answers) and flags override it.
//! - Everything the agent writes (alerts, events, recorder segments) is
//!   created 0600 in directories 0700.
//! - SIGHUP with a changed file says which settings need a restart.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use vigil_tests::http::{free_port, get};
use vigil_tests::podman::TempDir;
use vigil_tests::{paths, require_root, require_vigil_binary, Agent};

fn vigil(args: &[&str]) -> std::process::Output {
    Command::new(paths::vigil_bin())
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run vigil")
}

#[test]
fn a_bad_config_fails_before_anything_starts() {
    if require_vigil_binary().is_none() {
        return;
    }
    let dir = TempDir::new("vigil-config").unwrap();
    let f = dir.path().join("vigil.toml");
    std::fs::write(
        &f,
        "listen = \"127.0.0.1:1\"\nstats-interval = \"soon\"\nbogus = true\n",
    )
    .unwrap();
    let file = f.display().to_string();
    let out = vigil(&["run", "--config", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{file}:2:1: `stats-interval`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:3:1: unknown option `bogus`")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hooks attached") && !stderr.contains("BTF"),
        "{stderr}"
    );

    let out = vigil(&["config", "check", &file]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{file}:2:1:")));

    // A TOML syntax error has its position too.
    std::fs::write(&f, "rules = [\"a\"\nlisten = 1\n").unwrap();
    let out = vigil(&["config", "check", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with(&format!("{file}:")), "{stderr}");

    for shipped in [
        "deploy/kubernetes/config/vigil.toml",
        "docs/vigil.example.toml",
    ] {
        let p = paths::workspace_root().join(shipped);
        let out = vigil(&["config", "check", p.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{shipped}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn runs_from_a_config_file_and_writes_private_files() {
    if !require_root("load eBPF programs") || require_vigil_binary().is_none() {
        return;
    }
    let dir = TempDir::new("vigil-run-config").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port().unwrap();
    let cfg = dir.path().join("vigil.toml");
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\nalerts = \"{0}/alerts.json\"\nevents = \"{0}/events.jsonl\"\n\
         record = \"{0}/record\"\nstats-interval = 3600\n",
        out.display()
    );
    std::fs::write(&cfg, &text).unwrap();
    // The command line overrides the file's stats interval.
    let agent = Agent::builder([
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--stats-interval",
        "1",
    ])
    .echo(false)
    .start()
    .expect("start vigil run --config");
    let ready = get(format!("127.0.0.1:{port}").parse().unwrap(), "/healthz").unwrap();
    assert_eq!(ready.status, 200, "the file's listen address is used");
    let stats = agent.wait_stderr(Duration::from_secs(10), |l| l.contains(" stats {"));
    assert!(
        stats.is_some(),
        "--stats-interval 1 overrides the file's 3600"
    );

    // A change that cannot apply live is named on SIGHUP.
    std::fs::write(
        &cfg,
        text.replace("stats-interval = 3600", "stats-interval = 30"),
    )
    .unwrap();
    // SAFETY: kill on the agent's pid, which this test started.
    assert_eq!(unsafe { libc::kill(agent.pid() as i32, libc::SIGHUP) }, 0);
    let warned = agent.wait_stderr(Duration::from_secs(10), |l| {
        l.contains("`stats-interval` changed") && l.contains("restart")
    });
    assert!(warned.is_some(), "{:?}", agent.stderr_lines());

    // Something to write: a shadow read on the host raises an alert.
    let _ = std::fs::read("/etc/shadow");
    std::thread::sleep(Duration::from_secs(2));
    let stopped = agent.stop().expect("stop");
    assert!(stopped.status.success(), "{:?}", stopped.status);

    for f in ["alerts.json", "events.jsonl"] {
        assert_eq!(mode(&out.join(f)), 0o600, "{f}");
    }
    let rec = out.join("record");
    assert_eq!(mode(&rec), 0o700, "recorder directory");
    let mut segments = 0;
    for e in std::fs::read_dir(&rec).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
            segments += 1;
        }
    }
    assert!(segments > 0, "no recorder files in {}", rec.display());
}
