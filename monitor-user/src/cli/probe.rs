//! `vigil probe`: what this kernel and host support, and which hooks `run`
//! would use.

use monitor_user::sensor::features::probe_features;

use super::status;

pub fn run() -> anyhow::Result<()> {
    for line in status::feature_lines(&probe_features()) {
        println!("{line}");
    }
    for line in status::host_lines() {
        println!("{line}");
    }
    Ok(())
}
