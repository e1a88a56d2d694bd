//! `cargo xtask`: the project's one entry point for setup, build, run, test,
//! the VM test and the benchmark.
//!
//! Every command that needs the machine prepared calls [`setup`] first, so
//! `cargo xtask run` and `cargo xtask test` work on a fresh machine. This file
//! only parses the command line and dispatches; each command lives in its
//! own module.

mod agent;
mod bench;
mod failures;
mod image;
mod setup;
mod sh;
mod suite;
mod vm;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "vigil's setup, build, run, test and bench commands"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what this machine lacks (toolchain parts, bpf-linker, Debian
    /// packages, podman config, kernel filesystems). Idempotent and fast.
    Setup,
    /// Setup, then build the release agent (target/release/vigil, statically
    /// linked: the same binary the container image ships).
    Build,
    /// Setup, then build the container image `localhost/vigil` (a static
    /// agent in a `FROM scratch` image, built offline with podman).
    Image(image::ImageArgs),
    /// Setup, build, then run `vigil run [ARGS]` (needs root).
    Run {
        /// Arguments for `vigil run`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Setup, build, then every test: workspace tests (root integration
    /// tests included), the VM test and short fuzz runs.
    Test(suite::TestArgs),
    /// Only the VM test: the integration test binaries in a Debian kernel under qemu.
    Vm(vm::VmArgs),
    /// Benchmark: workloads with and without the agent, as ratios.
    Bench(bench::BenchArgs),
    /// Internal: one benchmark workload, run by `bench` inside its cgroup.
    #[command(hide = true)]
    BenchWorker(bench::worker::WorkerArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    let root = workspace_root();
    match cli.cmd {
        Cmd::Setup => setup::run(&root),
        Cmd::Build => {
            setup::run(&root)?;
            agent::build(&root).map(drop)
        }
        Cmd::Image(args) => {
            setup::run(&root)?;
            image::run(&root, &args)
        }
        Cmd::Run { args } => {
            setup::run(&root)?;
            agent::build(&root)?;
            agent::exec_run(&root, &args)
        }
        Cmd::Test(args) => suite::run(&root, &args),
        Cmd::Vm(args) => {
            setup::run(&root)?;
            vm::run(&root, &args)
        }
        Cmd::Bench(args) => bench::run(&root, &args),
        Cmd::BenchWorker(args) => bench::worker::run(&args),
    }
}

/// The workspace root: xtask's manifest directory's parent.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_passes_agent_arguments_through() {
        for argv in [
            &["xtask", "run", "--", "--events", "-"][..],
            &["xtask", "run", "--events", "-"][..],
        ] {
            match Cli::try_parse_from(argv).unwrap().cmd {
                Cmd::Run { args } => assert_eq!(args, ["--events", "-"]),
                _ => panic!("not run"),
            }
        }
        match Cli::try_parse_from(["xtask", "run"]).unwrap().cmd {
            Cmd::Run { args } => assert!(args.is_empty()),
            _ => panic!("not run"),
        }
    }

    #[test]
    fn vm_takes_test_names() {
        match Cli::try_parse_from(["xtask", "vm"]).unwrap().cmd {
            Cmd::Vm(a) => assert_eq!(a.tests, ["sensor"]),
            _ => panic!("not vm"),
        }
        match Cli::try_parse_from(["xtask", "vm", "vm_smoke", "sensor", "--test-arg", "--exact"])
            .unwrap()
            .cmd
        {
            Cmd::Vm(a) => {
                assert_eq!(a.tests, ["vm_smoke", "sensor"]);
                assert_eq!(a.test_args, ["--exact"]);
            }
            _ => panic!("not vm"),
        }
    }
}
