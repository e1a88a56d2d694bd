//! Where the workspace, its target directory and the agent binary are.
//!
//! Integration tests run the release binary that `cargo xtask build` makes
//! (`target/release/vigil`), or the one named by `VIGIL_BIN` (how the VM and
//! other builds point tests at a different binary).

use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// The agent binary: `VIGIL_BIN` if set, else `<target>/release/vigil`,
/// else (no release build) `<target>/debug/vigil` from `cargo build -p monitor-user`.
pub fn vigil_bin() -> PathBuf {
    match std::env::var_os("VIGIL_BIN") {
        Some(b) if !b.is_empty() => PathBuf::from(b),
        _ => {
            let release = target_dir().join("release").join("vigil");
            let debug = target_dir().join("debug").join("vigil");
            if !release.is_file() && debug.is_file() {
                debug
            } else {
                release
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }
}
