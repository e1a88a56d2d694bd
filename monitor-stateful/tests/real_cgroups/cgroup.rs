//! The test's own cgroup in every hierarchy the sampler reads ([`TestCgroup`]),
//! and whether a test can run here at all.

use std::ffi::CString;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use monitor_stateful::{CgroupLayout, LayoutKind};

/// True if the test can run; otherwise explains, and fails under CI.
pub fn can_run(test: &str) -> Option<CgroupLayout> {
    let why = if unsafe { libc::geteuid() } != 0 {
        "needs root to create cgroups".to_owned()
    } else {
        match CgroupLayout::detect() {
            Ok(l) if l.kind() != LayoutKind::None => return Some(l),
            Ok(_) => "no cgroup filesystem is mounted".to_owned(),
            Err(e) => format!("cannot read the mount table: {e}"),
        }
    };
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why} (CI is set, so this is a failure, not a skip)");
    }
    skip(test, &why);
    None
}

/// Says why a test did not run. Written to the stderr handle directly, not
/// through `eprintln!`, which the test harness captures for passing tests.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipping {test}: {why}");
}

/// A cgroup created for one test in every hierarchy the sampler reads.
pub struct TestCgroup {
    pub rel: String,
    /// Directories created, deepest hierarchy order irrelevant.
    pub dirs: Vec<PathBuf>,
    v2: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub memory: Option<PathBuf>,
    pub cpu: Option<PathBuf>,
    /// Where block I/O limits go: v2 `io.max` or v1 blkio.
    pub io: Option<PathBuf>,
    children: Vec<Child>,
}

impl TestCgroup {
    pub fn create(layout: &CgroupLayout, name: &str) -> TestCgroup {
        let rel = format!("/vigil-test-{}-{name}", std::process::id());
        let d = layout.resolve(&rel).expect("valid path");
        let mut cg = TestCgroup {
            rel,
            dirs: Vec::new(),
            v2: None,
            pids: None,
            memory: None,
            cpu: None,
            io: None,
            children: Vec::new(),
        };
        if layout.kind() == LayoutKind::Unified {
            enable_v2_controllers(&layout.v2().expect("v2").mount_point);
        }
        for dir in [&d.v2, &d.memory, &d.pids, &d.cpu, &d.cpuacct, &d.blkio]
            .into_iter()
            .flatten()
        {
            if cg.dirs.contains(dir) {
                continue; // co-mounted controllers (cpu,cpuacct)
            }
            match fs::create_dir(dir) {
                Ok(()) => cg.dirs.push(dir.clone()),
                Err(e) => panic!("mkdir {}: {e}", dir.display()),
            }
        }
        cg.v2 = d.v2.clone();
        // Where each limit lives: v2 when the controller is enabled there.
        let in_v2 = |file: &str| d.v2.clone().filter(|v| v.join(file).exists());
        cg.pids = in_v2("pids.max").or(d.pids.clone());
        cg.memory = in_v2("memory.max").or(d.memory.clone());
        cg.cpu = in_v2("cpu.max").or(d.cpu.clone());
        cg.io = in_v2("io.max").or(d.blkio.clone());
        cg
    }

    fn is_v2(&self, dir: &Option<PathBuf>) -> bool {
        dir.is_some() && *dir == self.v2
    }

    pub fn set_pids_max(&self, n: u64) {
        write(
            self.pids.as_ref().expect("pids controller"),
            "pids.max",
            &n.to_string(),
        );
    }

    pub fn set_memory_max(&self, bytes: u64) {
        let dir = self.memory.as_ref().expect("memory controller");
        if self.is_v2(&self.memory) {
            write(dir, "memory.max", &bytes.to_string());
            if dir.join("memory.swap.max").exists() {
                write(dir, "memory.swap.max", "0");
            }
        } else {
            write(dir, "memory.limit_in_bytes", &bytes.to_string());
            if dir.join("memory.memsw.limit_in_bytes").exists() {
                write(dir, "memory.memsw.limit_in_bytes", &bytes.to_string());
            }
        }
    }

    pub fn set_cpu_quota(&self, quota_us: u64, period_us: u64) {
        let dir = self.cpu.as_ref().expect("cpu controller");
        if self.is_v2(&self.cpu) {
            write(dir, "cpu.max", &format!("{quota_us} {period_us}"));
        } else {
            write(dir, "cpu.cfs_period_us", &period_us.to_string());
            write(dir, "cpu.cfs_quota_us", &quota_us.to_string());
        }
    }

    /// Limits writes to the block device `dev` (`MAJ:MIN`) to `bps`.
    pub fn set_write_bps(&self, dev: &str, bps: u64) {
        let dir = self.io.as_ref().expect("io controller");
        if self.is_v2(&self.io) {
            write(dir, "io.max", &format!("{dev} wbps={bps}"));
        } else {
            write(
                dir,
                "blkio.throttle.write_bps_device",
                &format!("{dev} {bps}"),
            );
        }
    }

    /// Starts `cmd` inside the cgroup: the child joins every hierarchy
    /// before it execs, so nothing it does escapes the limits.
    pub fn spawn(&mut self, cmd: &mut Command) -> u32 {
        let procs: Vec<CString> = self
            .dirs
            .iter()
            .map(|d| {
                CString::new(d.join("cgroup.procs").into_os_string().into_encoded_bytes()).unwrap()
            })
            .collect();
        // SAFETY: the closure only calls async-signal-safe functions (open,
        // write, close) on buffers prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                for p in &procs {
                    let fd = libc::open(p.as_ptr(), libc::O_WRONLY);
                    if fd < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let r = libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                    if r != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child in cgroup");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Pids in the cgroup (all of them started by this test).
    pub fn procs(&self) -> Vec<i32> {
        let mut v = Vec::new();
        for d in &self.dirs {
            if let Ok(t) = fs::read_to_string(d.join("cgroup.procs")) {
                v.extend(t.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        v.sort_unstable();
        v.dedup();
        v
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // cgroup.kill (v2, 5.14+) kills the whole cgroup atomically, forks
        // in flight included; then each remaining member by pid.
        if let Some(v2) = &self.v2 {
            let _ = fs::write(v2.join("cgroup.kill"), "1");
        }
        for c in &mut self.children {
            let _ = c.kill();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            for pid in self.procs() {
                // SAFETY: plain syscall; the pid is in this test's cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            for c in &mut self.children {
                let _ = c.try_wait();
            }
            if self.procs().is_empty() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        for d in &self.dirs {
            let mut ok = false;
            for _ in 0..100 {
                if fs::remove_dir(d).is_ok() || !d.exists() {
                    ok = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !ok {
                eprintln!("warning: could not remove {}", d.display());
            }
        }
    }
}

/// On a pure v2 host, makes sure the root delegates the controllers used.
fn enable_v2_controllers(root: &Path) {
    let enabled = fs::read_to_string(root.join("cgroup.subtree_control")).unwrap_or_default();
    for c in ["pids", "memory", "cpu", "io"] {
        if !enabled.split_whitespace().any(|e| e == c) {
            let _ = fs::write(root.join("cgroup.subtree_control"), format!("+{c}"));
        }
    }
}

/// Writes `value` to the control file `file` of `dir`, or fails the test.
pub fn write(dir: &Path, file: &str, value: &str) {
    let p = dir.join(file);
    fs::write(&p, value).unwrap_or_else(|e| panic!("write {value:?} to {}: {e}", p.display()));
}
