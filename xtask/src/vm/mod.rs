//! `cargo xtask vm`: run integration test binaries inside a Debian kernel
//! under qemu, to prove the eBPF programs load and emit on a kernel other
//! than the host's (Debian 6.1, where BPF LSM and fentry also load).
//!
//! Steps, one module each: fetch and cache the kernel ([`kernel`]), build the
//! test binaries statically ([`binaries`]), pack them with busybox and
//! tests/vm/init into an initramfs ([`initramfs`]), boot and decide by the
//! result marker ([`qemu`]). Everything lives under target/vm/.

pub(crate) mod binaries;
mod initramfs;
mod kernel;
mod qemu;

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};

#[derive(clap::Args, Clone)]
pub struct VmArgs {
    /// Integration tests (tests/tests/<name>.rs) to run in the guest.
    #[arg(default_values_t = vec!["sensor".to_string()])]
    pub tests: Vec<String>,
    /// Extra arguments for each test binary (e.g. a test name filter).
    #[arg(long = "test-arg", allow_hyphen_values = true)]
    pub test_args: Vec<String>,
    /// Kernel modules (by name, from the kernel package) to load in the
    /// guest before the tests, in this order (dependencies first).
    #[arg(long = "module", default_values_t = vec!["overlay".to_string()])]
    pub modules: Vec<String>,
    /// Give up and kill qemu after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// Do not copy the guest console to stdout (it is always in the log file).
    #[arg(long)]
    pub quiet: bool,
}

impl Default for VmArgs {
    fn default() -> VmArgs {
        VmArgs {
            tests: vec!["sensor".to_string()],
            test_args: Vec::new(),
            modules: vec!["overlay".to_string()],
            timeout: 900,
            quiet: false,
        }
    }
}

pub fn run(root: &Path, args: &VmArgs) -> Result<()> {
    let dir = crate::agent::target_dir(root).join("vm");
    std::fs::create_dir_all(&dir)?;
    let vmlinuz = kernel::ensure(&dir.join("kernel"))?;
    println!("vm: kernel {}", vmlinuz.display());
    let modules = kernel::modules(&vmlinuz, &args.modules)?;
    let bins = binaries::build(root, &args.tests)?;
    let agent = binaries::build_agent(root)?;
    let run_id = run_id();
    let initrd = dir.join("initrd.gz");
    let contents = initramfs::Contents {
        bins: &bins,
        agent: &agent,
        modules: &modules,
        run_id: &run_id,
        test_args: &args.test_args,
    };
    initramfs::build(root, &dir.join("initramfs"), &initrd, &contents)?;
    let log = dir.join("console.log");
    println!("vm: booting qemu (TCG); console log {}", log.display());
    let outcome = qemu::boot(
        &vmlinuz,
        &initrd,
        &log,
        &run_id,
        Duration::from_secs(args.timeout),
        !args.quiet,
    )?;
    match outcome {
        qemu::Outcome::Exit(0) => {
            println!("vm: PASS ({})", args.tests.join(", "));
            Ok(())
        }
        other => {
            eprintln!("vm: last console lines ({}):", log.display());
            eprintln!("{}", qemu::tail(&log, 80));
            bail!("VM test failed: {other}")
        }
    }
}

/// A per-run id the result marker must carry, so no earlier output (or a
/// test printing marker-like text) can pass for this run's result.
fn run_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{:x}{:08x}{:x}",
        t.as_secs(),
        t.subsec_nanos(),
        std::process::id()
    )
}
