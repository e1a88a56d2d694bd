//! Building the release agent and running it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::sh::{self, cmd};

/// `target/release/vigil` (honours CARGO_TARGET_DIR like cargo does).
pub fn vigil_bin(root: &Path) -> PathBuf {
    target_dir(root).join("release").join("vigil")
}

/// Cargo's target directory for this workspace.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root.join(d),
        _ => root.join("target"),
    }
}

/// `cargo build --release -p monitor-user` (which also builds the eBPF object).
pub fn build(root: &Path) -> Result<()> {
    sh::run(cmd("cargo", ["build", "--release", "-p", "monitor-user"]).current_dir(root))?;
    println!("built {}", vigil_bin(root).display());
    Ok(())
}

/// Replaces this process with `vigil run <args>`.
pub fn exec_run(root: &Path, args: &[String]) -> Result<()> {
    if !sh::is_root() {
        bail!("`vigil run` loads eBPF programs and needs root; rerun as root");
    }
    let bin = vigil_bin(root);
    let err = cmd(
        bin.to_str().unwrap_or("vigil"),
        std::iter::once("run").chain(args.iter().map(String::as_str)),
    )
    .exec();
    bail!("cannot exec {}: {err}", bin.display())
}
