//! The guest kernel: Debian's cloud kernel package, fetched with apt and
//! unpacked with dpkg-deb into a cache dir, reused while the package name
//! (which carries the ABI version) stays the same.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::sh::{self, cmd};

/// The metapackage whose dependency names the current cloud kernel.
const META: &str = "linux-image-cloud-amd64";

/// Returns the path of a vmlinuz, downloading the package if needed.
pub fn ensure(cache: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(cache)?;
    let pkg = match current_package()? {
        Some(p) => p,
        None => {
            // Fresh machine: no package lists yet.
            sh::run(cmd("apt-get", ["update"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
            match current_package()? {
                Some(p) => p,
                None => {
                    return cached_any(cache).with_context(|| format!("apt-cache knows no {META}"))
                }
            }
        }
    };
    let dir = cache.join(&pkg);
    if let Some(v) = find_vmlinuz(&dir) {
        return Ok(v);
    }
    let dl = cache.join("download");
    let _ = std::fs::remove_dir_all(&dl);
    std::fs::create_dir_all(&dl)?;
    println!("vm: downloading {pkg}");
    // As root, apt would drop to its `_apt` user, which cannot write here.
    sh::run(
        cmd(
            "apt-get",
            ["-o", "APT::Sandbox::User=root", "download", &pkg],
        )
        .current_dir(&dl),
    )?;
    let deb = std::fs::read_dir(&dl)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .with_context(|| format!("apt-get download left no .deb in {}", dl.display()))?;
    let unpack = cache.join(format!("{pkg}.partial"));
    let _ = std::fs::remove_dir_all(&unpack);
    sh::run(cmd("dpkg-deb", ["-x"]).arg(&deb).arg(&unpack))?;
    // Rename last so an interrupted unpack is never taken for a cache hit.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&unpack, &dir)?;
    let _ = std::fs::remove_dir_all(&dl);
    find_vmlinuz(&dir).with_context(|| format!("no boot/vmlinuz-* in {pkg}"))
}

/// `linux-image-6.1.0-NN-cloud-amd64`, from the metapackage's dependencies.
fn current_package() -> Result<Option<String>> {
    let out = match sh::output(&mut cmd("apt-cache", ["depends", META])) {
        Ok(o) => o,
        Err(_) => return Ok(None),
    };
    Ok(parse_depends(&out))
}

fn parse_depends(out: &str) -> Option<String> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && p != &META)
        .map(String::from)
}

/// The `.ko` files of `names`, from the unpacked package that holds
/// `vmlinuz` (`<pkg>/boot/vmlinuz-V` beside `<pkg>/lib/modules/V/`).
pub fn modules(vmlinuz: &Path, names: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let pkg = vmlinuz
        .parent()
        .and_then(Path::parent)
        .context("vmlinuz is not in <pkg>/boot")?;
    let version = vmlinuz
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .context("kernel image is not named vmlinuz-<version>")?;
    let tree = pkg.join("lib/modules").join(version).join("kernel");
    names
        .iter()
        .map(|name| {
            let file = format!("{name}.ko");
            find_file(&tree, &file)
                .map(|p| (name.clone(), p))
                .with_context(|| {
                    format!(
                        "no {file} under {} (compressed modules are not supported)",
                        tree.display()
                    )
                })
        })
        .collect()
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let mut subdirs = Vec::new();
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            subdirs.push(p);
        } else if e.file_name() == name {
            return Some(p);
        }
    }
    subdirs.into_iter().find_map(|d| find_file(&d, name))
}

fn find_vmlinuz(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir.join("boot"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
}

fn cached_any(cache: &Path) -> Result<PathBuf> {
    for e in std::fs::read_dir(cache)?.flatten() {
        if let Some(v) = find_vmlinuz(&e.path()) {
            return Ok(v);
        }
    }
    bail!("no cached kernel in {}", cache.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_names_the_kernel_package() {
        let out = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n";
        assert_eq!(
            parse_depends(out).as_deref(),
            Some("linux-image-6.1.0-56-cloud-amd64")
        );
        assert_eq!(parse_depends("linux-image-cloud-amd64\n"), None);
        assert_eq!(
            parse_depends("x\n  Depends: <virtual>\n  Depends: linux-image-6.1.0-1-cloud-amd64\n")
                .as_deref(),
            Some("linux-image-6.1.0-1-cloud-amd64")
        );
    }
}

#[cfg(test)]
mod module_tests {
    use super::*;

    #[test]
    fn finds_modules_beside_the_image() {
        let t = std::env::temp_dir().join(format!("vigil-kmod-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&t);
        let v = "6.1.0-9-cloud-amd64";
        std::fs::create_dir_all(t.join("boot")).unwrap();
        std::fs::write(t.join(format!("boot/vmlinuz-{v}")), "").unwrap();
        let fs = t.join(format!("lib/modules/{v}/kernel/fs/overlayfs"));
        std::fs::create_dir_all(&fs).unwrap();
        std::fs::write(fs.join("overlay.ko"), "").unwrap();
        let vmlinuz = t.join(format!("boot/vmlinuz-{v}"));
        let got = modules(&vmlinuz, &["overlay".to_string()]).unwrap();
        assert_eq!(got, vec![("overlay".to_string(), fs.join("overlay.ko"))]);
        assert!(modules(&vmlinuz, &["nope".to_string()]).is_err());
        std::fs::remove_dir_all(&t).unwrap();
    }
}
