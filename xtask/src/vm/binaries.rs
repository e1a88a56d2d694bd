//! Building the integration test binaries for the guest: statically linked
//! (the initramfs has no libc), for the host triple passed as `--target` so
//! the static flag reaches only the test code, not build scripts and
//! proc-macros (which must stay dynamic).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::sh::{self, cmd};

/// The agent binary for the guest (`/bin/vigil`, what `VIGIL_BIN` names
/// there), static like the tests and from the same target directory, so
/// the libraries the tests already built are reused.
pub fn build_agent(root: &Path) -> Result<PathBuf> {
    let triple = host_triple()?;
    let mut c = cmd(
        "cargo",
        [
            "build",
            "-p",
            "monitor-user",
            "--bin",
            "vigil",
            "--message-format=json",
            "--target",
            &triple,
        ],
    );
    static_flags(&mut c, &triple);
    c.current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    println!("vm: building the agent (static, {triple})");
    let out = c.output().context("cannot run cargo")?;
    if !out.status.success() {
        bail!("building the VM agent binary failed: {}", out.status);
    }
    let bin = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Message>(l).ok())
        .filter(|m| m.reason == "compiler-artifact")
        .filter(|m| m.target.as_ref().is_some_and(|t| t.name == "vigil"))
        .find_map(|m| m.executable)
        .context("cargo built no `vigil` executable")?;
    if has_interpreter(&bin)? {
        bail!(
            "{} is dynamically linked; the initramfs has no libc",
            bin.display()
        );
    }
    Ok(bin)
}

/// Static linking for `triple` only: build scripts and proc-macros (built
/// for the host without `--target`'s flags) stay dynamic.
pub fn static_flags(c: &mut std::process::Command, triple: &str) {
    let flags_var = format!(
        "CARGO_TARGET_{}_RUSTFLAGS",
        triple.to_uppercase().replace(['-', '.'], "_")
    );
    c.env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env(&flags_var, "-C target-feature=+crt-static");
}

/// The test binaries as (test name, path), in the order of `tests`.
pub fn build(root: &Path, tests: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let triple = host_triple()?;
    let mut c = cmd(
        "cargo",
        [
            "test",
            "-p",
            "vigil-tests",
            "--no-run",
            "--message-format=json",
            "--target",
            &triple,
        ],
    );
    for t in tests {
        c.args(["--test", t]);
    }
    static_flags(&mut c, &triple);
    c.current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    println!(
        "vm: building test binaries {} (static, {triple})",
        tests.join(", ")
    );
    let out = c.output().context("cannot run cargo")?;
    if !out.status.success() {
        bail!("building the VM test binaries failed: {}", out.status);
    }
    let mut found = executables(&String::from_utf8_lossy(&out.stdout), tests);
    let mut bins = Vec::new();
    for t in tests {
        let Some(bin) = found.remove(t) else {
            bail!("cargo built no test executable named {t}")
        };
        if has_interpreter(&bin)? {
            bail!(
                "{} is dynamically linked; the initramfs has no libc",
                bin.display()
            );
        }
        bins.push((t.clone(), bin));
    }
    Ok(bins)
}

pub(crate) fn host_triple() -> Result<String> {
    let v = sh::output(&mut cmd("rustc", ["-vV"]))?;
    v.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|s| s.trim().to_string())
        .context("rustc -vV printed no host triple")
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    executable: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// Test executables named in `tests`, from cargo's JSON messages.
fn executables(json_lines: &str, tests: &[String]) -> BTreeMap<String, PathBuf> {
    json_lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Message>(l).ok())
        .filter(|m| m.reason == "compiler-artifact")
        .filter_map(|m| {
            let t = m.target?;
            let exe = m.executable?;
            (t.kind.iter().any(|k| k == "test") && tests.contains(&t.name)).then_some((t.name, exe))
        })
        .collect()
}

/// Whether an ELF64 file has a PT_INTERP program header (needs ld.so).
pub(crate) fn has_interpreter(path: &Path) -> Result<bool> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    elf_has_interp(&data).with_context(|| format!("{} is not an ELF64 file", path.display()))
}

fn elf_has_interp(data: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if data.get(..5)? != b"\x7fELF\x02" {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?));
    let phoff = usize::try_from(u64::from_le_bytes(data.get(0x20..0x28)?.try_into().ok()?)).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for i in 0..phnum {
        let o = phoff.checked_add(i.checked_mul(phentsize)?)?;
        let p_type = u32::from_le_bytes(data.get(o..o + 4)?.try_into().ok()?);
        if p_type == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_test_executables_from_cargo_json() {
        let json = r#"{"reason":"compiler-artifact","target":{"name":"vigil_tests","kind":["lib"]},"executable":null}
{"reason":"compiler-artifact","target":{"name":"sensor","kind":["test"]},"executable":"/t/sensor-abc"}
{"reason":"compiler-artifact","target":{"name":"other","kind":["test"]},"executable":"/t/other-abc"}
{"reason":"build-finished","success":true}
not json"#;
        let got = executables(json, &["sensor".to_string()]);
        assert_eq!(got.len(), 1);
        assert_eq!(got["sensor"], PathBuf::from("/t/sensor-abc"));
    }

    #[test]
    fn detects_dynamic_and_static_elves() {
        // This test binary is dynamically linked (a normal host build).
        let me = std::env::current_exe().unwrap();
        assert_eq!(
            has_interpreter(&me).unwrap(),
            !cfg!(target_feature = "crt-static")
        );
        // The static busybox has no interpreter.
        if Path::new("/bin/busybox").exists() {
            assert!(!has_interpreter(Path::new("/bin/busybox")).unwrap());
        }
        assert_eq!(elf_has_interp(b"not an elf"), None);
        assert_eq!(elf_has_interp(b"\x7fELF\x02\x01"), None);
    }
}
