//! Building the release agent and running it.
//!
//! There is one release build: statically linked (glibc with
//! `+crt-static`, for the host triple passed as `--target` so build
//! scripts and proc-macros stay dynamic), so the binary `cargo xtask
//! build` leaves at `target/release/vigil` is the one the container image
//! ships and one that runs on any x86-64 Linux host. A second, dynamic
//! release build of the whole dependency graph would cost `cargo xtask
//! test` as long again as the first.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

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

/// The static release agent (which also builds the eBPF object), linked
/// (or copied) to [`vigil_bin`]; returns that path.
pub fn build(root: &Path) -> Result<PathBuf> {
    let built = build_static(root)?;
    let bin = vigil_bin(root);
    let dir = bin.parent().context("target/release has a parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Linked (copied where it cannot be), then renamed over the old one:
    // an agent running from it keeps its file, nobody sees half a binary,
    // and an unchanged build costs no copy of its 100 MB.
    if same_file(&built, &bin) {
        println!("built {} (static, unchanged)", bin.display());
        return Ok(bin);
    }
    let tmp = dir.join(".vigil.tmp");
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(&built, &tmp).is_err() {
        std::fs::copy(&built, &tmp)
            .with_context(|| format!("copying {} to {}", built.display(), tmp.display()))?;
    }
    std::fs::rename(&tmp, &bin)
        .with_context(|| format!("renaming {} to {}", tmp.display(), bin.display()))?;
    println!("built {} (static)", bin.display());
    Ok(bin)
}

/// Whether two paths name one file (hard links of one inode). Renaming
/// one link over another of the same file does nothing, so that case is
/// told apart first.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// `cargo build --release -p monitor-user --bin vigil` for the host triple
/// with `+crt-static`; returns the binary, checked to need no ELF
/// interpreter.
fn build_static(root: &Path) -> Result<PathBuf> {
    let triple = crate::vm::binaries::host_triple()?;
    let mut c = cmd(
        "cargo",
        [
            "build",
            "--release",
            "-p",
            "monitor-user",
            "--bin",
            "vigil",
            "--target",
            &triple,
        ],
    );
    crate::vm::binaries::static_flags(&mut c, &triple);
    sh::run(c.current_dir(root))?;
    let bin = target_dir(root).join(&triple).join("release").join("vigil");
    if crate::vm::binaries::has_interpreter(&bin)? {
        bail!(
            "{} is dynamically linked; the agent must be static (the image has no libc)",
            bin.display()
        );
    }
    Ok(bin)
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
