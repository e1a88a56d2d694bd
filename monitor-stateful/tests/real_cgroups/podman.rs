//! A real podman container for the tests that read a runtime's cgroups.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::cgroup::skip;

/// A podman container, force-removed (with its image) on drop.
pub struct Podman {
    id: Option<String>,
    image: String,
    _rootfs: tempfile::TempDir,
}

impl Podman {
    /// Imports a busybox-only image; `None` (after explaining) if podman or
    /// busybox is missing.
    pub fn image(test: &str) -> Option<Podman> {
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let podman_ok = Command::new("podman")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let Some(busybox) = busybox.filter(|_| podman_ok) else {
            let why = "needs podman and busybox-static";
            if std::env::var_os("CI").is_some() {
                panic!("{test}: {why} (CI is set, so this is a failure, not a skip)");
            }
            skip(test, why);
            return None;
        };
        let rootfs = tempfile::tempdir().unwrap();
        let root = rootfs.path().join("root");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::copy(busybox, root.join("bin/busybox")).unwrap();
        let tar = rootfs.path().join("rootfs.tar");
        let ok = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(ok.success(), "tar");
        let image = format!(
            "localhost/vigil-stateful-test-{}:latest",
            std::process::id()
        );
        let out = Command::new("podman")
            .arg("import")
            .arg(&tar)
            .arg(&image)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Podman {
            id: None,
            image,
            _rootfs: rootfs,
        })
    }

    /// `podman run -d` with extra flags and a command; returns the full id.
    pub fn run(&mut self, flags: &[&str], cmd: &[&str]) -> String {
        let out = Command::new("podman")
            .args(["run", "-d", "--net=none"])
            .args(flags)
            .arg(&self.image)
            .args(cmd)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert_eq!(id.len(), 64, "container id {id:?}");
        self.id = Some(id.clone());
        id
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        if let Some(id) = &self.id {
            let _ = Command::new("podman")
                .args(["rm", "-f", "-t", "0", id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("podman")
            .args(["rmi", "-f", &self.image])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
