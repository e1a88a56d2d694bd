//! `cargo xtask setup`: make this machine able to build, run and test vigil.
//!
//! Each item checks before it acts and prints one status line (`present` or
//! `installed`), so a second run is quick and changes nothing. Items: the
//! nightly `rust-src` (for `-Z build-std=core`), bpf-linker built against
//! nightly's own LLVM, the Debian packages the tests use, podman's config
//! for this kind of host, and the kernel filesystems the agent reads.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::sh::{self, cmd};

/// The bpf-linker release that links nightly's LLVM 22 bitcode.
const BPF_LINKER_VERSION: &str = "0.13.0";
/// Where nightly's libLLVM is linked for bpf-linker's build.
const LLVM_PREFIX: &str = "/opt/rust-llvm";

/// Debian packages the build, the tests, the VM test and the bench use.
pub const DEBIAN_PACKAGES: &[&str] = &[
    "podman",          // real containers in integration tests
    "runc",            // podman's runtime here (crun refuses hybrid cgroups)
    "busybox-static",  // test image rootfs and the VM's initramfs
    "qemu-system-x86", // the VM test
    "cpio",            // initramfs archive
    "bpftool",         // inspecting loaded programs when debugging tests
    "stress-ng",       // load generators in resource tests
    "binutils",        // `strip` for the VM's test binaries
    "gzip",            // initramfs compression
    "rsyslog",         // the syslog output's receiver in tests
    "prometheus",      // scrapes the agent's /metrics in the metrics test
    "containerd",      // the CRI runtime the metadata tests start (own socket and dirs)
    "docker.io",       // Docker Engine the metadata tests start (own socket and dirs)
    "auditd",          // the bench's comparison: the Linux audit subsystem
];

/// PyPI packages the OCSF tests use, with the module that shows each is
/// there: the OCSF schema (offline JSON Schema exports) and a validator.
pub const PYTHON_PACKAGES: &[(&str, &str)] = &[
    ("ocsf-json-schema==1.2.0", "ocsf_json_schema"),
    ("jsonschema", "jsonschema"),
];

/// The PyPI package that validates manifests against the Kubernetes API
/// schemas offline (deploy test).
const KUBERNETES_VALIDATE: &str = "kubernetes-validate";

/// Podman defaults this host needs: raising rlimits is refused here, crun
/// refuses hybrid cgroups, and there is no systemd to manage cgroups.
const PODMAN_DROP_IN: &str = "/etc/containers/containers.conf.d/50-vigil.conf";
const PODMAN_CONF: &str = r#"# Written by `cargo xtask setup` (vigil).
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"#;

/// Kernel filesystems the agent needs that this host does not mount at boot.
const MOUNTS: &[(&str, &str)] = &[
    ("tracefs", "/sys/kernel/tracing"),
    ("securityfs", "/sys/kernel/security"),
];

fn status(item: &str, state: &str) {
    println!("setup: {item:<52} {state}");
}

/// Not root: building still works, so report what is missing instead of
/// failing; running the agent and the root tests need these items.
fn needs_root(item: &str) {
    status(item, "MISSING (run `cargo xtask setup` as root)");
}

pub fn run(root: &Path) -> Result<()> {
    rust_src()?;
    bpf_linker()?;
    debian_packages()?;
    podman_config()?;
    python_packages()?;
    mounts()?;
    kubectl()?;
    kubernetes_validate()?;
    cargo_fuzz(root)?;
    Ok(())
}

fn rust_src() -> Result<()> {
    let installed = sh::output(&mut cmd(
        "rustup",
        ["component", "list", "--toolchain", "nightly", "--installed"],
    ))
    .context(
        "the nightly toolchain is needed for the eBPF build (rustup toolchain install nightly)",
    )?;
    if installed.lines().any(|l| l.trim().starts_with("rust-src")) {
        status("rust-src (nightly)", "present");
        return Ok(());
    }
    sh::run(&mut cmd(
        "rustup",
        ["component", "add", "rust-src", "--toolchain", "nightly"],
    ))?;
    status("rust-src (nightly)", "installed");
    Ok(())
}

/// `bpf-linker --version` under nightly's environment (rustup puts the
/// toolchain's lib dir, where libLLVM lives, on the library path).
fn bpf_linker_version() -> Option<String> {
    sh::output(&mut cmd(
        "rustup",
        ["run", "nightly", "bpf-linker", "--version"],
    ))
    .ok()
}

fn bpf_linker() -> Result<()> {
    let item = format!("bpf-linker {BPF_LINKER_VERSION}");
    if bpf_linker_version().is_some_and(|v| v.split_whitespace().any(|w| w == BPF_LINKER_VERSION)) {
        status(&item, "present");
        return Ok(());
    }
    // Build it against the nightly toolchain's own LLVM so the bitcode rustc
    // emits and the linker's LLVM match (a system LLVM would not).
    let sysroot = sh::output(&mut cmd("rustc", ["+nightly", "--print", "sysroot"]))?;
    let libdir = Path::new(sysroot.trim()).join("lib");
    let libllvm = std::fs::read_dir(&libdir)
        .with_context(|| format!("reading {}", libdir.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("libLLVM.so.") && name.contains("-rust-") && name.ends_with("nightly")
        })
        .with_context(|| format!("no libLLVM.so.*-rust-*nightly in {}", libdir.display()))?;
    let link_dir = Path::new(LLVM_PREFIX).join("lib");
    std::fs::create_dir_all(&link_dir)
        .with_context(|| format!("creating {}", link_dir.display()))?;
    let link = link_dir.join("libLLVM.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&libllvm, &link)
        .with_context(|| format!("linking {}", link.display()))?;
    println!(
        "setup: building bpf-linker {BPF_LINKER_VERSION} against {} (about 75 s)",
        libllvm.display()
    );
    sh::run(
        cmd(
            "cargo",
            [
                "install",
                "--force",
                &format!("bpf-linker@{BPF_LINKER_VERSION}"),
                "--no-default-features",
                "--features",
                "llvm-22",
            ],
        )
        .env("LLVM_PREFIX", LLVM_PREFIX),
    )?;
    match bpf_linker_version() {
        Some(v) if v.contains(BPF_LINKER_VERSION) => status(&item, "installed"),
        other => bail!("bpf-linker installed but `bpf-linker --version` says {other:?}"),
    }
    Ok(())
}

/// Packages from `pkgs` that dpkg does not list as installed.
fn missing_packages(pkgs: &[&str]) -> Vec<String> {
    let out = cmd("dpkg-query", ["-W", "-f=${Package} ${db:Status-Abbrev}\n"])
        .args(pkgs)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    installed_from_dpkg(&text, pkgs)
}

/// Parses `dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n'`: a package is
/// installed when its status starts with `ii`.
fn installed_from_dpkg(text: &str, pkgs: &[&str]) -> Vec<String> {
    pkgs.iter()
        .filter(|p| {
            !text.lines().any(|l| {
                let mut w = l.split_whitespace();
                w.next() == Some(**p) && w.next().is_some_and(|s| s.starts_with("ii"))
            })
        })
        .map(|p| p.to_string())
        .collect()
}

fn debian_packages() -> Result<()> {
    let missing = missing_packages(DEBIAN_PACKAGES);
    if missing.is_empty() {
        status(
            &format!("Debian packages ({})", DEBIAN_PACKAGES.len()),
            "present",
        );
        return Ok(());
    }
    if !sh::is_root() {
        needs_root(&format!("Debian packages ({})", missing.join(" ")));
        return Ok(());
    }
    println!("setup: installing {}", missing.join(" "));
    sh::run(cmd("apt-get", ["update"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
    sh::run(
        cmd("apt-get", ["install", "-y"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let still = missing_packages(DEBIAN_PACKAGES);
    if !still.is_empty() {
        bail!(
            "apt-get install finished but these are still not installed: {}",
            still.join(" ")
        );
    }
    status(
        &format!("Debian packages ({})", missing.join(" ")),
        "installed",
    );
    Ok(())
}

fn podman_config() -> Result<()> {
    let path = Path::new(PODMAN_DROP_IN);
    if path.exists() {
        status(PODMAN_DROP_IN, "present");
        return Ok(());
    }
    if !sh::is_root() {
        needs_root(PODMAN_DROP_IN);
        return Ok(());
    }
    let dir = path.parent().expect("absolute path");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(path, PODMAN_CONF).with_context(|| format!("writing {PODMAN_DROP_IN}"))?;
    status(PODMAN_DROP_IN, "installed");
    Ok(())
}

/// Whether /proc/self/mountinfo has a mount of `fstype` at `target`.
fn is_mounted(mountinfo: &str, fstype: &str, target: &str) -> bool {
    monitor_stateful::mountinfo::entries(mountinfo)
        .any(|e| e.fstype == fstype && e.mount_point == std::path::Path::new(target))
}

fn mounts() -> Result<()> {
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    for (fstype, target) in MOUNTS {
        let item = format!("{fstype} at {target}");
        if is_mounted(&mountinfo, fstype, target) {
            status(&item, "present");
            continue;
        }
        if !sh::is_root() {
            needs_root(&item);
            continue;
        }
        sh::run(&mut cmd("mount", ["-t", fstype, "none", target]))?;
        status(&item, "mounted");
    }
    Ok(())
}

/// The OCSF tests' PyPI packages, for the `python3` on PATH.
fn python_packages() -> Result<()> {
    let item = format!("Python packages ({})", PYTHON_PACKAGES.len());
    let imports = PYTHON_PACKAGES
        .iter()
        .map(|(_, m)| *m)
        .collect::<Vec<_>>()
        .join(", ");
    let check = || sh::succeeds(&mut cmd("python3", ["-c", &format!("import {imports}")]));
    if check() {
        status(&item, "present");
        return Ok(());
    }
    let pkgs = PYTHON_PACKAGES.iter().map(|(p, _)| *p);
    let mut install = cmd("python3", ["-m", "pip", "install", "--quiet"]);
    install.args(pkgs.clone());
    if sh::run(&mut install).is_err() {
        // Debian's own python3 refuses installs outside a venv unless told.
        let mut again = cmd(
            "python3",
            ["-m", "pip", "install", "--quiet", "--break-system-packages"],
        );
        again.args(pkgs);
        sh::run(&mut again)?;
    }
    if !check() {
        bail!("pip install finished but `import {imports}` still fails");
    }
    status(&item, "installed");
    Ok(())
}

/// `kubectl` (for `kubectl kustomize` in the deploy test): any installed
/// client will do; Debian's `kubernetes-client` otherwise.
fn kubectl() -> Result<()> {
    if sh::succeeds(&mut cmd("kubectl", ["version", "--client"])) {
        status("kubectl", "present");
        return Ok(());
    }
    if !sh::is_root() {
        needs_root("kubectl (Debian kubernetes-client)");
        return Ok(());
    }
    sh::run(
        cmd("apt-get", ["install", "-y", "kubernetes-client"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    status("kubectl", "installed");
    Ok(())
}

fn kubernetes_validate() -> Result<()> {
    if sh::succeeds(&mut cmd(KUBERNETES_VALIDATE, ["--version"])) {
        status(KUBERNETES_VALIDATE, "present");
        return Ok(());
    }
    sh::run(&mut cmd(
        "python3",
        ["-m", "pip", "install", "--quiet", KUBERNETES_VALIDATE],
    ))?;
    status(KUBERNETES_VALIDATE, "installed");
    Ok(())
}

/// cargo-fuzz, only once the workspace has fuzz targets (fuzz/Cargo.toml).
fn cargo_fuzz(root: &Path) -> Result<()> {
    if !root.join("fuzz/Cargo.toml").exists() {
        return Ok(());
    }
    if sh::succeeds(&mut cmd("cargo", ["fuzz", "--version"])) {
        status("cargo-fuzz", "present");
        return Ok(());
    }
    sh::run(&mut cmd("cargo", ["install", "--locked", "cargo-fuzz"]))?;
    status("cargo-fuzz", "installed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_parsing() {
        let text = "podman ii \nrunc rc \ncpio ii \n";
        assert_eq!(
            installed_from_dpkg(text, &["podman", "runc", "cpio", "bpftool"]),
            vec!["runc", "bpftool"]
        );
    }

    #[test]
    fn mountinfo_parsing() {
        let mi = "30 23 0:26 / /sys/kernel/tracing rw,nosuid - tracefs none rw\n\
                  31 23 0:7 / /sys/kernel/security rw - securityfs none rw\n\
                  32 23 0:8 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert!(is_mounted(mi, "tracefs", "/sys/kernel/tracing"));
        assert!(is_mounted(mi, "securityfs", "/sys/kernel/security"));
        assert!(!is_mounted(mi, "tracefs", "/sys/kernel/debug/tracing"));
        assert!(!is_mounted(mi, "cgroup2", "/sys/fs/cgroup"));
    }
}
