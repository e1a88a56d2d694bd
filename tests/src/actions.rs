//! The `vigil-actions` helper and the container image that carries it.
//!
//! [`actions_binary`] builds `src/bin/vigil-actions/` statically (own
//! target directory, so the static RUSTFLAGS never invalidate the
//! workspace's normal build) and [`actions_image`] imports a busybox image
//! holding it at [`ACTIONS_IN_IMAGE`], plus an `/etc/shadow` to read. The
//! image tag carries a hash of the helper, so a changed helper gets a fresh
//! image instead of a stale one.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::podman::ImageBuilder;
use crate::Error;

/// Where the helper lives inside the actions image.
pub const ACTIONS_IN_IMAGE: &str = "/usr/local/bin/vigil-actions";

/// The `/etc/shadow` of the actions image (a test credential, no real hash).
pub const SHADOW: &str = "root:!:19000:0:99999:7:::\nnobody:!:19000:0:99999:7:::\n";

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Bumped whenever the image's layout (not the helper) changes, so the tag
/// of a changed layout differs too.
const LAYOUT: &[u8] = b"layout 2: busybox, /mnt, /etc/shadow";

/// Builds the static helper once per test process; returns its path.
pub fn actions_binary() -> Result<PathBuf, Error> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build().map_err(|e| e.to_string()))
        .clone()
        .map_err(|stderr| Error::Command {
            cmd: "cargo build --bin vigil-actions (static)".into(),
            status: "failed".into(),
            stderr,
        })
}

fn build() -> Result<PathBuf, Error> {
    let target_dir = crate::paths::target_dir().join("actions-static");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // An explicit --target keeps the static flag off proc-macros and build scripts.
    cmd.args([
        "build",
        "-p",
        "vigil-tests",
        "--bin",
        "vigil-actions",
        "--target",
        TARGET,
    ])
    .env("RUSTFLAGS", "-C target-feature=+crt-static")
    .env("CARGO_TARGET_DIR", &target_dir)
    .env_remove("CARGO_ENCODED_RUSTFLAGS")
    .current_dir(crate::paths::workspace_root())
    .stdin(Stdio::null());
    let describe = format!("{cmd:?}");
    let out = cmd.output().map_err(|source| Error::Spawn {
        cmd: describe.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(Error::Command {
            cmd: describe,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(target_dir.join(TARGET).join("debug").join("vigil-actions"))
}

/// FNV-1a: a stable content hash for the image tag (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The busybox image with the helper and an `/etc/shadow`; built unless
/// present. Returns its tag.
pub fn actions_image() -> Result<String, Error> {
    let bin = actions_binary()?;
    let bytes = std::fs::read(&bin).map_err(|e| Error::io(&bin, e))?;
    let mut salted = LAYOUT.to_vec();
    salted.extend_from_slice(&bytes);
    let tag = format!("localhost/vigil-actions:{:016x}", fnv1a(&salted));
    ImageBuilder::new(&tag)
        .file(&bin, ACTIONS_IN_IMAGE)
        .text("/etc/shadow", SHADOW, 0o640)
        .ensure()?;
    Ok(tag)
}

/// Host (glibc, dynamically linked) programs of the glibc image, and the
/// names a shell finds them under.
const GLIBC_PROGRAMS: &[&str] = &[
    "/usr/bin/bash",
    "/usr/bin/cat",
    "/usr/bin/id",
    "/usr/bin/ls",
    "/usr/bin/sleep",
    "/usr/bin/wget",
];

/// An image without busybox: the host's own glibc programs (bash as `sh`,
/// coreutils, wget) with their libraries, the helper and an `/etc/shadow`.
/// The same rules must fire for the same acts as in the busybox image.
pub fn glibc_image() -> Result<String, Error> {
    let bin = actions_binary()?;
    let bytes = std::fs::read(&bin).map_err(|e| Error::io(&bin, e))?;
    let mut salted = b"glibc layout 1: ".to_vec();
    for p in GLIBC_PROGRAMS {
        salted.extend_from_slice(p.as_bytes());
    }
    salted.extend_from_slice(&bytes);
    let tag = format!("localhost/vigil-glibc:{:016x}", fnv1a(&salted));
    let mut b = ImageBuilder::new(&tag).without_busybox();
    for p in GLIBC_PROGRAMS {
        b = b.host_program(p)?;
    }
    b.link("/bin/sh", "/usr/bin/bash")
        .link("/bin/bash", "/usr/bin/bash")
        .file(&bin, ACTIONS_IN_IMAGE)
        .text("/etc/shadow", SHADOW, 0o640)
        .ensure()?;
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_content_sensitive() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert_eq!(fnv1a(b"abc"), fnv1a(b"abc"));
    }
}
