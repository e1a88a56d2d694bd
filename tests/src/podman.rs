//! Real podman containers for tests: a local image and a Drop guard.
//!
//! No registry is reachable, so the test image is built locally: a rootfs
//! holding the static busybox and a link for each applet, imported as
//! [`TEST_IMAGE`]. Building is idempotent and takes one `podman image exists`
//! when the image is present; concurrent test processes serialise on a file
//! lock. [`Container`] runs a container with `--net=none` and removes it
//! when dropped, also when the test panics.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::Error;

/// The image every container test uses unless it builds its own.
pub const TEST_IMAGE: &str = "localhost/vigil-test:latest";

/// Where Debian's busybox-static puts the static busybox.
const BUSYBOX: &str = "/bin/busybox";

/// Runs a command to completion; non-zero exit is an error with its stderr.
pub(crate) fn run(cmd: &mut Command) -> Result<Output, Error> {
    let describe = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Spawn {
            cmd: describe.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Command {
            cmd: describe,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out)
}

/// Builds [`TEST_IMAGE`] unless present; returns its name.
pub fn ensure_test_image() -> Result<&'static str, Error> {
    ImageBuilder::new(TEST_IMAGE).ensure()?;
    Ok(TEST_IMAGE)
}

/// A busybox image, optionally with extra files (static test helpers).
pub struct ImageBuilder {
    tag: String,
    files: Vec<(PathBuf, String)>,
    texts: Vec<(String, String, u32)>,
    busybox: bool,
    links: Vec<(String, String)>,
}

impl ImageBuilder {
    pub fn new(tag: &str) -> ImageBuilder {
        ImageBuilder {
            tag: tag.to_string(),
            files: Vec::new(),
            texts: Vec::new(),
            busybox: true,
            links: Vec::new(),
        }
    }

    /// No busybox: an image of the host's own (glibc) programs, added with
    /// [`ImageBuilder::host_program`].
    pub fn without_busybox(mut self) -> ImageBuilder {
        self.busybox = false;
        self
    }

    /// Adds the host program at `path` (same path in the image) and the
    /// shared libraries `ldd` says it loads, so a glibc program runs.
    pub fn host_program(mut self, path: &str) -> Result<ImageBuilder, Error> {
        let out = run(Command::new("ldd").arg(path))?;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // `libc.so.6 => /lib/.../libc.so.6 (0x...)` or `/lib64/ld-linux... (0x...)`.
            let lib = line.split("=>").last().unwrap_or("").trim();
            if let Some(lib) = lib.split_whitespace().next().filter(|l| l.starts_with('/')) {
                self = self.file(lib, lib);
            }
        }
        Ok(self.file(path, path))
    }

    /// Adds a symbolic link `link` → `target` (absolute paths in the image).
    pub fn link(mut self, link: &str, target: &str) -> ImageBuilder {
        self.links
            .push((link.trim_start_matches('/').to_string(), target.to_string()));
        self
    }

    /// Adds the host file `src` at `dest` (an absolute path in the image).
    pub fn file(mut self, src: impl Into<PathBuf>, dest: &str) -> ImageBuilder {
        self.files
            .push((src.into(), dest.trim_start_matches('/').to_string()));
        self
    }

    /// Adds a file with `contents` at `dest` (absolute, in the image) and
    /// permission bits `mode`.
    pub fn text(mut self, dest: &str, contents: &str, mode: u32) -> ImageBuilder {
        self.texts.push((
            dest.trim_start_matches('/').to_string(),
            contents.to_string(),
            mode,
        ));
        self
    }

    /// Whether the image exists in podman's local store.
    pub fn exists(&self) -> bool {
        Command::new("podman")
            .args(["image", "exists", &self.tag])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Builds the image unless it exists.
    pub fn ensure(&self) -> Result<(), Error> {
        if self.exists() {
            return Ok(());
        }
        let _lock = FileLock::acquire(&std::env::temp_dir().join("vigil-test-image.lock"))?;
        // Another process may have built it while we waited for the lock.
        if self.exists() {
            return Ok(());
        }
        self.build()
    }

    /// Writes the image's root filesystem as `dir/rootfs.tar` (for other
    /// runtimes' importers) and returns its path.
    pub fn rootfs_tar(&self, dir: &Path) -> Result<PathBuf, Error> {
        let rootfs = dir.join("rootfs");
        self.populate(&rootfs)?;
        let tar = dir.join("rootfs.tar");
        run(Command::new("tar")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."))?;
        Ok(tar)
    }

    /// Builds (or rebuilds) the image.
    pub fn build(&self) -> Result<(), Error> {
        let dir = TempDir::new("vigil-image")?;
        let tar = self.rootfs_tar(dir.path())?;
        run(Command::new("podman")
            .args(["import", "--quiet"])
            .args([
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ])
            .args(["--change", "CMD [\"/bin/sh\"]"])
            .arg(&tar)
            .arg(&self.tag))?;
        Ok(())
    }

    fn populate(&self, rootfs: &Path) -> Result<(), Error> {
        for d in [
            "bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "proc", "sys", "dev", "root",
            "run", "var/tmp", "mnt",
        ] {
            mkdir(&rootfs.join(d))?;
        }
        if self.busybox {
            let busybox = rootfs.join("bin/busybox");
            std::fs::copy(BUSYBOX, &busybox).map_err(|e| Error::io(BUSYBOX, e))?;
            let list = run(Command::new(BUSYBOX).arg("--list-full"))?;
            for applet in String::from_utf8_lossy(&list.stdout).lines().map(str::trim) {
                if applet.is_empty() || applet == "bin/busybox" || applet.contains("..") {
                    continue;
                }
                let link = rootfs.join(applet);
                if let Some(parent) = link.parent() {
                    mkdir(parent)?;
                }
                std::os::unix::fs::symlink("/bin/busybox", &link)
                    .map_err(|e| Error::io(&link, e))?;
            }
        }
        for (link, target) in &self.links {
            let link = rootfs.join(link);
            if let Some(parent) = link.parent() {
                mkdir(parent)?;
            }
            std::os::unix::fs::symlink(target, &link).map_err(|e| Error::io(&link, e))?;
        }
        write(
            &rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )?;
        write(&rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
        for (src, dest) in &self.files {
            let to = rootfs.join(dest);
            if let Some(parent) = to.parent() {
                mkdir(parent)?;
            }
            std::fs::copy(src, &to).map_err(|e| Error::io(src, e))?;
        }
        for (dest, contents, mode) in &self.texts {
            let to = rootfs.join(dest);
            if let Some(parent) = to.parent() {
                mkdir(parent)?;
            }
            write(&to, contents)?;
            let perms = std::os::unix::fs::PermissionsExt::from_mode(*mode);
            std::fs::set_permissions(&to, perms).map_err(|e| Error::io(&to, e))?;
        }
        Ok(())
    }
}

fn mkdir(p: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))
}

fn write(p: &Path, s: &str) -> Result<(), Error> {
    std::fs::write(p, s).map_err(|e| Error::io(p, e))
}

/// An exclusive `flock` held until dropped.
struct FileLock {
    _file: File,
}

impl FileLock {
    fn acquire(path: &Path) -> Result<FileLock, Error> {
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        // SAFETY: flock on a file descriptor we own; released when it closes.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(Error::io(path, std::io::Error::last_os_error()));
        }
        Ok(FileLock { _file: f })
    }
}

/// A directory removed (with its contents) when dropped, unless kept.
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    pub fn new(prefix: &str) -> Result<TempDir, Error> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let p = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        mkdir(&p)?;
        Ok(TempDir {
            path: p,
            keep: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the directory in place when dropped (something in it must
    /// not be removed, e.g. a mount that is still there).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A running container, removed (`podman rm -f`) when dropped.
#[derive(Debug)]
pub struct Container {
    id: String,
}

impl Container {
    /// A long-running container of [`TEST_IMAGE`] (`sleep`), network off.
    pub fn start() -> Result<Container, Error> {
        let image = ensure_test_image()?;
        Container::run(&[], image, &["sleep", "86400"])
    }

    /// A long-running container (`sleep`) of `image`, network off.
    pub fn start_image(image: &str) -> Result<Container, Error> {
        Container::run(&[], image, &["sleep", "86400"])
    }

    /// `podman run -d --rm --net=none <opts> <image> <cmd>`.
    pub fn run(opts: &[&str], image: &str, cmd: &[&str]) -> Result<Container, Error> {
        Container::run_on("none", opts, image, cmd)
    }

    /// [`Container::run`] on network `net` (`podman run --network`), e.g.
    /// `ns:/run/netns/NAME`, a namespace the test made.
    pub fn run_on(net: &str, opts: &[&str], image: &str, cmd: &[&str]) -> Result<Container, Error> {
        let out = run(Command::new("podman")
            .args(["run", "-d", "--rm", "--network", net])
            .args(opts)
            .arg(image)
            .args(cmd))?;
        let id = parse_container_id(&String::from_utf8_lossy(&out.stdout))?;
        Ok(Container { id })
    }

    /// `podman run --rm --net=none <opts> <image> <cmd>` in the foreground:
    /// the container does its work and is gone when this returns. Returns
    /// its full id (from `--cidfile`, written before it starts) and output.
    pub fn run_to_exit(
        opts: &[&str],
        image: &str,
        cmd: &[&str],
    ) -> Result<(String, Output), Error> {
        let dir = TempDir::new("vigil-cid")?;
        let cidfile = dir.path().join("cid");
        let out = run(Command::new("podman")
            .args(["run", "--rm", "--net=none", "--cidfile"])
            .arg(&cidfile)
            .args(opts)
            .arg(image)
            .args(cmd))?;
        let text = std::fs::read_to_string(&cidfile).map_err(|e| Error::io(&cidfile, e))?;
        Ok((parse_container_id(&text)?, out))
    }

    /// Guards a container started by other means (removed when dropped).
    pub fn adopt(id: String) -> Container {
        Container { id }
    }

    /// Stops the container (`podman stop -t <secs>`), keeping the guard.
    pub fn stop(&self, secs: u32) -> Result<(), Error> {
        run(Command::new("podman").args(["stop", "-t", &secs.to_string(), &self.id]))?;
        Ok(())
    }

    /// The full 64-hex id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The 12-hex short id (`container.id` in events and alerts).
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// `podman exec <id> <cmd>`; the output whatever the exit status.
    pub fn exec(&self, cmd: &[&str]) -> Result<Output, Error> {
        let describe = format!("podman exec {} {}", self.short_id(), cmd.join(" "));
        Command::new("podman")
            .arg("exec")
            .arg(&self.id)
            .args(cmd)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::Spawn {
                cmd: describe,
                source,
            })
    }

    /// `podman exec`, requiring success; returns stdout.
    pub fn exec_ok(&self, cmd: &[&str]) -> Result<String, Error> {
        let out = run(Command::new("podman").arg("exec").arg(&self.id).args(cmd))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The host pid of the container's init process.
    pub fn pid(&self) -> Result<u32, Error> {
        let out =
            run(Command::new("podman").args(["inspect", "--format", "{{.State.Pid}}", &self.id]))?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        text.parse().map_err(|_| Error::Command {
            cmd: "podman inspect --format {{.State.Pid}}".into(),
            status: "0".into(),
            stderr: format!("not a pid: {text}"),
        })
    }

    /// The container's cgroup v2 directory (e.g. `.../libpod_parent/libpod-<id>`).
    pub fn cgroup_dir(&self) -> Result<PathBuf, Error> {
        let root = cgroup2_root().ok_or(Error::NoCgroup2)?;
        find_dir_containing(&root, &self.id, 6)
            .ok_or_else(|| Error::NoContainerCgroup(self.id.clone(), root))
    }

    /// The container's cgroup v2 id: what `bpf_get_current_cgroup_id()`
    /// returns for its processes (the directory's inode number).
    pub fn cgroup_id(&self) -> Result<u64, Error> {
        let dir = self.cgroup_dir()?;
        Ok(std::fs::metadata(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .ino())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The last line podman printed must be exactly a 64-hex id.
fn parse_container_id(stdout: &str) -> Result<String, Error> {
    let last = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    if last.len() == 64
        && last
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        Ok(last.to_string())
    } else {
        Err(Error::BadContainerId(stdout.trim().to_string()))
    }
}

/// The cgroup v2 mount: `/sys/fs/cgroup` (pure v2) or `/sys/fs/cgroup/unified` (hybrid).
pub fn cgroup2_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.controllers").exists())
}

fn find_dir_containing(dir: &Path, needle: &str, depth: usize) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut subdirs = Vec::new();
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if e.file_name().to_string_lossy().contains(needle) {
            return Some(e.path());
        }
        subdirs.push(e.path());
    }
    if depth == 0 {
        return None;
    }
    subdirs
        .into_iter()
        .find_map(|d| find_dir_containing(&d, needle, depth - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_id_must_be_64_hex() {
        let id = "a".repeat(64);
        assert_eq!(parse_container_id(&format!("{id}\n")).unwrap(), id);
        assert_eq!(
            parse_container_id(&format!("Trying to pull...\n{id}\n")).unwrap(),
            id
        );
        assert!(parse_container_id("").is_err());
        assert!(parse_container_id(&"g".repeat(64)).is_err());
        assert!(parse_container_id(&"A".repeat(64)).is_err());
        assert!(parse_container_id(&"a".repeat(63)).is_err());
    }

    #[test]
    fn finds_nested_dirs_by_name() {
        let t = TempDir::new("vigil-find").unwrap();
        let deep = t.path().join("libpod_parent").join("libpod-abc123");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_dir_containing(t.path(), "abc123", 3), Some(deep));
        assert_eq!(find_dir_containing(t.path(), "abc123", 0), None);
        assert_eq!(find_dir_containing(t.path(), "zzz", 3), None);
    }

    #[test]
    fn temp_dir_is_removed() {
        let p = {
            let t = TempDir::new("vigil-tmp").unwrap();
            std::fs::write(t.path().join("f"), "x").unwrap();
            t.path().to_path_buf()
        };
        assert!(!p.exists());
    }
}
