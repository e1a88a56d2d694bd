//! The guest's initramfs: static busybox, tests/vm/init as /init, the test
//! binaries in /tests, the agent as /bin/vigil, kernel modules in /lib/modules and /etc/vigil-vm.env
//! (run id, tests, modules, arguments), packed as a newc cpio archive
//! compressed with gzip.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

const BUSYBOX: &str = "/bin/busybox";

const DIRS: &[&str] = &[
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "etc",
    "proc",
    "sys",
    "dev",
    "tmp",
    "run",
    "root",
    "tests",
    "lib/modules",
];

/// What goes into the archive besides busybox and /init.
pub struct Contents<'a> {
    /// Test binaries (name, file), run in this order.
    pub bins: &'a [(String, PathBuf)],
    /// The static agent binary (`vigil`), for tests that run it.
    pub agent: &'a Path,
    /// Kernel modules (name, .ko file), loaded in this order.
    pub modules: &'a [(String, PathBuf)],
    pub run_id: &'a str,
    pub test_args: &'a [String],
}

pub fn build(root: &Path, staging: &Path, out: &Path, c: &Contents<'_>) -> Result<()> {
    let _ = std::fs::remove_dir_all(staging);
    for d in DIRS {
        std::fs::create_dir_all(staging.join(d))?;
    }
    copy_exec(Path::new(BUSYBOX), &staging.join("bin/busybox"))?;
    copy_exec(&root.join("tests/vm/init"), &staging.join("init"))?;
    let tests = c
        .bins
        .iter()
        .map(|(name, bin)| (bin.as_path(), staging.join("tests").join(name)));
    for (bin, dest) in tests.chain([(c.agent, staging.join("bin/vigil"))]) {
        // Debug info only makes the archive (and guest RAM) big; symbols stay
        // so panics still name functions.
        let stripped = Command::new("strip")
            .args(["--strip-debug", "-o"])
            .arg(&dest)
            .arg(bin)
            .status()
            .is_ok_and(|s| s.success());
        if !stripped {
            copy_exec(bin, &dest)?;
        }
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;
    }
    for (name, ko) in c.modules {
        let dest = staging.join("lib/modules").join(format!("{name}.ko"));
        std::fs::copy(ko, &dest).with_context(|| format!("copying {}", ko.display()))?;
    }
    std::fs::write(
        staging.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n",
    )?;
    std::fs::write(staging.join("etc/group"), "root:x:0:\n")?;
    let tests: Vec<&str> = c.bins.iter().map(|(n, _)| n.as_str()).collect();
    let modules: Vec<&str> = c.modules.iter().map(|(n, _)| n.as_str()).collect();
    let env = env_file(
        c.run_id,
        &tests,
        &modules,
        c.test_args,
        vigil_tests::in_ci(),
    );
    std::fs::write(staging.join("etc/vigil-vm.env"), env)?;
    pack(staging, out)?;
    let mib = std::fs::metadata(out)?.len() as f64 / f64::from(1 << 20);
    println!("vm: initramfs {} ({mib:.1} MiB)", out.display());
    Ok(())
}

fn copy_exec(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Single-quoted for the shell: `'` becomes `'\''`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn env_file(
    run_id: &str,
    tests: &[&str],
    modules: &[&str],
    test_args: &[String],
    ci: bool,
) -> String {
    let mut s = format!(
        "VIGIL_RUN_ID={}\nVIGIL_TESTS={}\nVIGIL_MODULES={}\nVIGIL_TEST_ARGS={}\n",
        sh_quote(run_id),
        sh_quote(&tests.join(" ")),
        sh_quote(&modules.join(" ")),
        sh_quote(&test_args.join(" "))
    );
    if ci {
        s.push_str("CI=1\n");
    }
    s
}

/// Every path under `dir`, relative, parents before children (cpio's input).
fn walk(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        out.push(r.clone());
        if e.file_type()?.is_dir() {
            walk(&e.path(), &r, out)?;
        }
    }
    Ok(())
}

/// `cpio -o -H newc | gzip` over the staging dir, files owned by root.
fn pack(staging: &Path, out: &Path) -> Result<()> {
    let mut list = Vec::new();
    walk(staging, Path::new("."), &mut list)?;
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut gzip = Command::new("gzip")
        .arg("-1")
        .stdin(Stdio::piped())
        .stdout(file)
        .spawn()
        .context("cannot run gzip")?;
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet", "-R", "0:0"])
        .current_dir(staging)
        .stdin(Stdio::piped())
        .stdout(gzip.stdin.take().expect("piped"))
        .spawn()
        .context("cannot run cpio")?;
    {
        let mut stdin = cpio.stdin.take().expect("piped");
        for p in &list {
            writeln!(stdin, "{}", p.display())?;
        }
    }
    let cs = cpio.wait()?;
    let gs = gzip.wait()?;
    if !cs.success() || !gs.success() {
        bail!("packing the initramfs failed: cpio {cs}, gzip {gs}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_quotes_values() {
        let args = ["it's".to_string(), "--exact".to_string()];
        let s = env_file("abc", &["sensor", "vm_smoke"], &["overlay"], &args, true);
        assert_eq!(
            s,
            "VIGIL_RUN_ID='abc'\nVIGIL_TESTS='sensor vm_smoke'\nVIGIL_MODULES='overlay'\n\
             VIGIL_TEST_ARGS='it'\\''s --exact'\nCI=1\n"
        );
        assert!(!env_file("a", &[], &[], &[], false).contains("CI="));
    }
}
