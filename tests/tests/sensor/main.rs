//! The sensor against the real kernel (needs root).
//!
//! A forked child execs a known binary with known argv, attempts a mount
//! that fails, opens a "sensitive" file (a temp file loaded into the open
//! filter as a prefix, so the test does not depend on host files), opens a
//! non-sensitive file, connects to a unix socket and forks a grandchild that
//! unshares its UTS namespace. Every expected record must arrive with the
//! right process, arguments, return value and host cgroup id; the
//! non-sensitive open must not. A storm test fills a one-page ring buffer
//! while nobody reads and checks that the kernel's drop counters say so.
//!
//! Runs on the host and, built statically, inside a minimal busybox VM:
//! nothing here needs podman or host files beyond /proc and /sys.
//!
//! This file holds the shared helpers; the tests are in [`activity`]
//! (syscalls, drops, probes), [`lifecycle`] (exec, fork, exit, capabilities)
//! and [`cgroups`] (cgroup events, OOM kills, per-cgroup counters) and
//! [`session`] (terminal, session and login uid of an exec; links; dup of
//! a socket) and [`startup`] (an exec's environment, working directory,
//! standard fds and executable owner, read by the kernel).

mod activity;
mod cgroups;
mod lifecycle;
mod network;
mod session;
mod startup;

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use monitor_common::decode::Record;
use monitor_common::filter::when;
use monitor_common::{syscall_flags, EventKind, SyscallId};
use monitor_user::sensor::{HookMode, LifecycleHooks, Sensor, SensorConfig};

/// Sensors of concurrent tests would see each other's storms.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// These tests check the syscall tracepoints' records (return values,
/// arguments as given), so they pin tracepoint mode even where BPF-LSM
/// loads (the VM); LSM mode is tested end to end by tests/tests/lsm.rs.
fn tracepoint_config() -> SensorConfig {
    SensorConfig {
        hooks: HookMode::Tracepoints,
        ..SensorConfig::default()
    }
}

/// [`tracepoint_config`] with a 4 MiB ring: room for a test's records
/// without a reader while the workload runs.
fn tracepoint_config_4mib() -> SensorConfig {
    SensorConfig {
        ring_bytes: 4 << 20,
        ..tracepoint_config()
    }
}

/// True if we may load eBPF programs; otherwise explain (and fail in CI).
fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let reason = "sensor tests need root to load eBPF programs";
    if std::env::var_os("CI").is_some() {
        panic!("{reason}, and CI is set: failing instead of skipping");
    }
    eprintln!("skipping: {reason}");
    false
}

/// A temp directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("vigil-sensor-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An unmounts-on-drop mount point (only used when cgroup2 is not mounted).
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let p = cstr(self.0.as_os_str());
        // SAFETY: valid path string.
        unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn cstr(s: impl AsRef<OsStr>) -> CString {
    CString::new(s.as_ref().as_bytes()).expect("no NUL in test strings")
}

/// cgroup v2 id of this process: the inode number of its cgroup directory.
fn own_cgroup_id(scratch: &Path) -> u64 {
    let cg = std::fs::read_to_string("/proc/self/cgroup").expect("read /proc/self/cgroup");
    let rel = cg
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    let (root, _guard) = cgroup2_root(scratch);
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(root.join(rel))
        .expect("stat own cgroup")
        .ino()
}

fn wait_exit(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
    status
}

/// Read records until `done` says everything expected is there, or time out.
async fn collect(
    sensor: &mut Sensor,
    secs: u64,
    mut done: impl FnMut(&[Record]) -> bool,
) -> Vec<Record> {
    let mut all = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut batch = Vec::new();
    while !done(&all) {
        match tokio::time::timeout_at(deadline, sensor.read_batch(&mut batch)).await {
            Ok(r) => r.expect("read_batch"),
            Err(_) => break,
        }
        all.append(&mut batch);
    }
    all
}

fn syscall(r: &Record) -> Option<&monitor_common::SyscallRecord> {
    match r {
        Record::Syscall(s) => Some(s),
        _ => None,
    }
}

/// Skip (or fail in CI) with a reason.
fn skip(reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{reason}, and CI is set: failing instead of skipping"
    );
    eprintln!("skipping: {reason}");
}

/// A small executable that exits 0: busybox (host and VM) or coreutils.
fn true_binary() -> Option<(&'static Path, &'static str)> {
    [
        (Path::new("/bin/busybox"), "true"),
        (Path::new("/bin/true"), "true"),
        (Path::new("/usr/bin/true"), "true"),
    ]
    .into_iter()
    .find(|(p, _)| p.exists())
}

/// Mounts `fstype` at `dir` (created) and unmounts it on drop.
fn mount_guard(fstype: &str, dir: &Path, data: Option<&str>) -> Unmount {
    std::fs::create_dir_all(dir).unwrap();
    let (src, dst, fs) = (cstr(fstype), cstr(dir), cstr(fstype));
    let data = data.map(cstr);
    let data_ptr = data
        .as_ref()
        .map_or(std::ptr::null(), |d| d.as_ptr().cast());
    // SAFETY: valid strings; data is a NUL-terminated option string or NULL.
    let rc = unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), fs.as_ptr(), 0, data_ptr) };
    assert_eq!(
        rc,
        0,
        "mount {fstype} at {}: {}",
        dir.display(),
        std::io::Error::last_os_error()
    );
    Unmount(dir.to_owned())
}

/// Fork a child that runs `busybox true` via `exec`, return its pid.
fn spawn_exec(f: impl FnOnce()) -> u32 {
    // SAFETY: the closure only makes raw syscalls; the child never returns.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        f();
        unsafe { libc::_exit(127) };
    }
    assert_eq!(wait_exit(pid), 0, "child {pid} did not exit 0");
    pid as u32
}

/// The cgroup v2 mount point, mounting one privately if none is mounted.
fn cgroup2_root(scratch: &Path) -> (PathBuf, Option<Unmount>) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let mounted = mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        (post.split_whitespace().next() == Some("cgroup2"))
            .then(|| pre.split_whitespace().nth(4).map(PathBuf::from))?
    });
    match mounted {
        Some(p) => (p, None),
        None => {
            let p = scratch.join("cgroup2");
            let guard = mount_guard("cgroup2", &p, None);
            (p, Some(guard))
        }
    }
}
