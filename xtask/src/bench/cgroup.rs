//! A child cgroup with CPU, pid and memory limits for benchmark workloads,
//! so a runaway loop (or a fork loop gone wrong) cannot take the shared
//! machine down. Works on pure cgroup v2 and on v1/hybrid hosts like this
//! one; removed when dropped.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// One CPU, 256 tasks, 1 GiB.
const CPU_PERIOD_US: &str = "100000";
const CPU_QUOTA_US: &str = "100000";
const PIDS_MAX: &str = "256";
const MEMORY_MAX: &str = "1073741824";

pub struct Sandbox {
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` files a workload process writes its pid to.
    pub procs: Vec<PathBuf>,
    /// The limits that took effect, for the report.
    pub limits: Vec<String>,
}

impl Sandbox {
    pub fn create(name: &str) -> Result<Sandbox> {
        let mut sb = Sandbox {
            dirs: Vec::new(),
            procs: Vec::new(),
            limits: Vec::new(),
        };
        let v2 = Path::new("/sys/fs/cgroup");
        if v2.join("cgroup.controllers").exists() {
            sb.v2(v2, name);
        } else {
            sb.v1(name);
        }
        if sb.limits.is_empty() {
            bail!(
                "could not set any cgroup limit (not root?); refusing to run workloads unlimited"
            );
        }
        Ok(sb)
    }

    fn v2(&mut self, root: &Path, name: &str) {
        for c in ["+cpu", "+pids", "+memory"] {
            // Best effort: fails harmlessly where the controller is already
            // enabled or not available.
            let _ = std::fs::write(root.join("cgroup.subtree_control"), c);
        }
        let dir = root.join(name);
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        self.dirs.push(dir.clone());
        self.procs.push(dir.join("cgroup.procs"));
        self.set(&dir, "cpu.max", &format!("{CPU_QUOTA_US} {CPU_PERIOD_US}"));
        self.set(&dir, "pids.max", PIDS_MAX);
        self.set(&dir, "memory.max", MEMORY_MAX);
    }

    fn v1(&mut self, name: &str) {
        let controllers: [(&str, &[(&str, &str)]); 3] = [
            (
                "cpu",
                &[
                    ("cpu.cfs_period_us", CPU_PERIOD_US),
                    ("cpu.cfs_quota_us", CPU_QUOTA_US),
                ],
            ),
            ("pids", &[("pids.max", PIDS_MAX)]),
            ("memory", &[("memory.limit_in_bytes", MEMORY_MAX)]),
        ];
        for (ctrl, settings) in controllers {
            let base = Path::new("/sys/fs/cgroup").join(ctrl);
            if !base.join("cgroup.procs").exists() {
                continue;
            }
            let dir = base.join(name);
            if std::fs::create_dir_all(&dir).is_err() {
                continue;
            }
            self.dirs.push(dir.clone());
            self.procs.push(dir.join("cgroup.procs"));
            for (file, value) in settings {
                self.set(&dir, file, value);
            }
        }
    }

    fn set(&mut self, dir: &Path, file: &str, value: &str) {
        if std::fs::write(dir.join(file), value).is_ok() {
            self.limits.push(format!("{file}={value}"));
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Workload processes have been waited for, so the groups are empty.
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Moves the calling process into each `cgroup.procs` file (used by the
/// worker before it starts its workload; children inherit the groups).
pub fn join(procs: &[PathBuf]) -> Result<()> {
    let pid = std::process::id().to_string();
    for p in procs {
        if let Err(e) = std::fs::write(p, &pid) {
            bail!("cannot join {}: {e}", p.display());
        }
    }
    Ok(())
}
