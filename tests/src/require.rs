//! Whether a test can run here, and what to do when it cannot.
//!
//! The project's rule: a test that cannot run (not root, no podman, no agent
//! binary) prints why and returns; when the environment variable `CI` is set
//! it fails with that reason instead, so CI never passes by skipping.
//! Use as `if !require_root("loads eBPF programs") { return; }`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// True when running in CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    ci_value_means_ci(std::env::var("CI").ok().as_deref())
}

fn ci_value_means_ci(v: Option<&str>) -> bool {
    match v {
        None => false,
        Some(v) => {
            let v = v.trim();
            !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
        }
    }
}

/// True inside the qemu VM that `cargo xtask vm` boots (it sets `VIGIL_IN_VM=1`).
pub fn in_vm() -> bool {
    std::env::var("VIGIL_IN_VM").is_ok_and(|v| v == "1")
}

/// `ok` or the rule: print why the test cannot run, or panic with it in CI.
#[track_caller]
pub fn require(ok: bool, reason: &str) -> bool {
    if ok {
        return true;
    }
    if in_ci() {
        panic!("cannot run: {reason} (CI is set, so not running is a failure)");
    }
    eprintln!("SKIPPED: {reason}");
    false
}

/// Requires root; `what` says what the test needs root for.
#[track_caller]
pub fn require_root(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    require(euid == 0, &format!("needs root to {what} (euid is {euid})"))
}

/// Requires root and a working `podman` (for tests that run containers).
#[track_caller]
pub fn require_podman() -> bool {
    if !require_root("run podman containers") {
        return false;
    }
    let works = Command::new("podman")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    require(works, "needs podman (`cargo xtask setup` installs it)")
}

/// Requires root and the program `tool` (a daemon the test starts itself,
/// e.g. `containerd` or `dockerd`), installed by `cargo xtask setup`.
#[track_caller]
pub fn require_daemon(tool: &str) -> bool {
    if !require_root(&format!("start {tool}")) {
        return false;
    }
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(tool).is_file()));
    require(
        found,
        &format!("needs {tool} (`cargo xtask setup` installs it)"),
    )
}

/// Requires the release agent binary; returns its path.
#[track_caller]
pub fn require_vigil_binary() -> Option<PathBuf> {
    let bin = crate::paths::vigil_bin();
    let reason = format!(
        "needs the agent binary {} (build it with `cargo xtask build`, or set VIGIL_BIN)",
        bin.display()
    );
    require(bin.is_file(), &reason).then_some(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_values() {
        assert!(!ci_value_means_ci(None));
        assert!(!ci_value_means_ci(Some("")));
        assert!(!ci_value_means_ci(Some("0")));
        assert!(!ci_value_means_ci(Some("False")));
        assert!(ci_value_means_ci(Some("1")));
        assert!(ci_value_means_ci(Some("true")));
    }

    #[test]
    fn satisfied_requirement_passes() {
        assert!(require(true, "never printed"));
    }
}
