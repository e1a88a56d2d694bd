//! Test helpers shared by the unit tests of several modules.

use std::path::{Path, PathBuf};

use monitor_common::decode::Record;

use crate::pipeline::{RecordSource, SensorStats};

/// A record source that hands out one batch, then reports exhaustion; its
/// counters are whatever the test gives (drops make loss records appear).
pub struct Once {
    records: Option<Vec<Record>>,
    stats: SensorStats,
}

impl Once {
    pub fn new(records: Vec<Record>, stats: SensorStats) -> Once {
        Once {
            records: Some(records),
            stats,
        }
    }
}

impl RecordSource for Once {
    async fn read_batch(&mut self, out: &mut Vec<Record>) -> std::io::Result<()> {
        match self.records.take() {
            Some(b) => {
                out.extend(b);
                Ok(())
            }
            None => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }

    fn stats(&self) -> SensorStats {
        self.stats.clone()
    }
}

/// A directory under the system temp dir, removed (with its contents) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("vigil-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Tests that need root or a real container runtime call this when they
/// cannot run: it explains why, and fails under CI (env `CI` set) instead of
/// letting the test pass silently.
pub fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("cannot run under CI: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// podman's configuration for this kind of machine (platform.md): raising
/// rlimits is refused and crun refuses hybrid cgroups.
const CONTAINERS_CONF: &str =
    "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n\n\
[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n";

/// Check podman is usable; write /etc/containers/containers.conf only if
/// absent (created exclusively, so a concurrent writer is never clobbered).
pub fn podman_ready() -> Result<(), String> {
    let out = std::process::Command::new("podman")
        .arg("--version")
        .output();
    if !out.is_ok_and(|o| o.status.success()) {
        return Err("podman is not installed".into());
    }
    let conf = Path::new("/etc/containers/containers.conf");
    if !conf.exists() {
        use std::io::Write;
        std::fs::create_dir_all("/etc/containers").map_err(|e| e.to_string())?;
        match std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(conf)
        {
            Ok(mut f) => f
                .write_all(CONTAINERS_CONF.as_bytes())
                .map_err(|e| e.to_string())?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot write {}: {e}", conf.display())),
        }
    }
    Ok(())
}

/// Import a busybox-only image under `name` (no registry is reachable).
pub fn busybox_image(name: &str, tar: &Path) -> Result<(), String> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        return Err("/bin/busybox missing (install busybox-static)".into());
    }
    let root = TempDir::new("rootfs");
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    std::fs::copy(busybox, bin.join("busybox")).map_err(|e| e.to_string())?;
    for applet in ["sh", "true", "sleep", "cat", "ls", "echo"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).map_err(|e| e.to_string())?;
    }
    let run = |cmd: &mut std::process::Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    };
    run(std::process::Command::new("tar")
        .arg("-C")
        .arg(root.path())
        .arg("-cf")
        .arg(tar)
        .arg("."))?;
    run(std::process::Command::new("podman")
        .arg("import")
        .arg(tar)
        .arg(name))
}

/// Removes a test's podman container, image and image tarball, even if the
/// test fails.
pub struct PodmanCleanup {
    pub container: String,
    pub image: String,
    pub tar: PathBuf,
}

impl Drop for PodmanCleanup {
    fn drop(&mut self) {
        let podman = |args: &[&str]| std::process::Command::new("podman").args(args).output();
        let _ = podman(&["rm", "-f", "-t", "0", &self.container]);
        let _ = podman(&["rmi", "-f", &self.image]);
        let _ = std::fs::remove_file(&self.tar);
    }
}

/// Run podman, returning its trimmed stdout or a readable error.
pub fn podman(args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new("podman")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
