//! A private Docker Engine (Debian's `docker.io`) for tests.
//!
//! [`Dockerd::start`] runs `dockerd` with no iptables and no bridge, on its
//! own socket, data root, exec root and pidfile, so it shares nothing with a
//! system Docker. Images are imported from the busybox test rootfs
//! (`docker import`); containers run with `--net=none`. Dropping the guard
//! removes the containers it ran, stops dockerd by pid and removes its
//! directories (unless something is still mounted there).

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::containerd::has_mounts_below;
use crate::podman::{run, ImageBuilder, TempDir};
use crate::Error;

/// A running private dockerd; see the module doc.
pub struct Dockerd {
    dir: TempDir,
    child: Child,
    containers: Vec<String>,
}

impl Dockerd {
    /// Starts dockerd; waits until its API answers (60 s).
    pub fn start() -> Result<Dockerd, Error> {
        let dir = TempDir::new("vigil-dockerd")?;
        let d = dir.path();
        let log = d.join("dockerd.log");
        let logf = std::fs::File::create(&log).map_err(|e| Error::io(&log, e))?;
        let child = Command::new("dockerd")
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            .arg("--host")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .map_err(|source| Error::Spawn {
                cmd: "dockerd".into(),
                source,
            })?;
        let mut daemon = Dockerd {
            dir,
            child,
            containers: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while daemon.docker(&["version"]).is_err() {
            if Instant::now() > deadline || daemon.child.try_wait().ok().flatten().is_some() {
                return Err(Error::Command {
                    cmd: "dockerd".into(),
                    status: "not answering on its socket".into(),
                    stderr: daemon.log_tail(15),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(daemon)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_tail(&self, n: usize) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default();
        let mut tail: Vec<&str> = log.lines().rev().take(n).collect();
        tail.reverse();
        tail.join("\n")
    }

    /// Runs the docker client against this daemon.
    pub fn docker(&self, args: &[&str]) -> Result<Output, Error> {
        run(Command::new("docker")
            .arg("--host")
            .arg(format!("unix://{}", self.socket().display()))
            .args(args))
    }

    /// Imports the busybox test image (with `builder`'s files) as `name`.
    pub fn import(&self, builder: &ImageBuilder, name: &str) -> Result<(), Error> {
        let sub = self.dir.path().join("image");
        std::fs::create_dir_all(&sub).map_err(|e| Error::io(&sub, e))?;
        let tar = builder.rootfs_tar(&sub)?;
        self.docker(&["import", &tar.display().to_string(), name])?;
        let _ = std::fs::remove_dir_all(&sub);
        Ok(())
    }

    /// `docker run -d --net=none OPTS IMAGE CMD...`; returns the full id.
    pub fn run(&mut self, opts: &[&str], image: &str, cmd: &[&str]) -> Result<String, Error> {
        self.make(&["run", "-d", "--net=none"], opts, image, cmd)
    }

    /// `docker create OPTS IMAGE CMD...` (not started); returns the full id.
    /// (A privileged container cannot start on a host whose bounding set
    /// lacks a capability Docker grants; its metadata is still real.)
    pub fn create(&mut self, opts: &[&str], image: &str, cmd: &[&str]) -> Result<String, Error> {
        self.make(&["create", "--net=none"], opts, image, cmd)
    }

    /// `docker VERB... OPTS IMAGE CMD...` for a verb that prints the new
    /// container's id; the container is removed when `self` drops.
    fn make(
        &mut self,
        verb: &[&str],
        opts: &[&str],
        image: &str,
        cmd: &[&str],
    ) -> Result<String, Error> {
        let mut args = verb.to_vec();
        args.extend_from_slice(opts);
        args.push(image);
        args.extend_from_slice(cmd);
        let out = self.docker(&args)?;
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if id.len() != 64 {
            return Err(Error::BadContainerId(id));
        }
        self.containers.push(id.clone());
        Ok(id)
    }

    /// Removes container `id`, started by other means, when dropped.
    pub fn adopt(&mut self, id: &str) {
        self.containers.push(id.to_owned());
    }

    /// `docker exec ID CMD...`.
    pub fn exec(&self, id: &str, cmd: &[&str]) -> Result<Output, Error> {
        let mut args = vec!["exec", id];
        args.extend_from_slice(cmd);
        self.docker(&args)
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("dockerd log, last lines:\n{}", self.log_tail(30));
        }
        for id in std::mem::take(&mut self.containers) {
            let _ = self.docker(&["rm", "-f", &id]);
        }
        crate::child::terminate(&mut self.child, Duration::from_secs(20));
        if has_mounts_below(self.dir.path()) {
            eprintln!(
                "dockerd test: mounts remain below {}; leaving it in place",
                self.dir.path().display()
            );
            self.dir.keep();
        }
    }
}
