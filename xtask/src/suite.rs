//! `cargo xtask test`: every test stage in order, then one summary line.
//!
//! Stages: build the release agent, the container image (`cargo xtask
//! image`, for the deploy test), the workspace tests (unit tests and the
//! root integration tests in tests/tests/, which drive target/release/vigil
//! and real containers), the VM test, and a short run of each fuzz target.
//! A failed stage does not stop the later ones; the summary counts stages
//! (`N passed, N failed`), names the failed tests and why they failed, and
//! the exit status is non-zero if any failed.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::failures;
use crate::sh::{self, cmd};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Leave out the VM test.
    #[arg(long)]
    no_vm: bool,
    /// Leave out the fuzz runs.
    #[arg(long)]
    no_fuzz: bool,
    /// Seconds per fuzz target (env VIGIL_FUZZ_SECONDS, default 30).
    #[arg(long, env = "VIGIL_FUZZ_SECONDS", default_value_t = 30)]
    fuzz_seconds: u64,
}

enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

struct Stage {
    name: String,
    outcome: Outcome,
    took: Duration,
}

fn stage(stages: &mut Vec<Stage>, name: &str, f: impl FnOnce() -> Result<Outcome>) {
    println!("\n==> {name}");
    let start = Instant::now();
    let outcome = f().unwrap_or_else(|e| Outcome::Failed(format!("{e:#}")));
    stages.push(Stage {
        name: name.to_string(),
        outcome,
        took: start.elapsed(),
    });
}

pub fn run(root: &Path, args: &TestArgs) -> Result<()> {
    crate::setup::run(root)?;
    let mut stages = Vec::new();
    stage(&mut stages, "build release agent", || {
        crate::agent::build(root)?;
        Ok(Outcome::Passed)
    });
    // The deploy test runs the DaemonSet's pod from this image.
    stage(&mut stages, "container image", || {
        crate::image::run(root, &crate::image::ImageArgs { tag: None })?;
        Ok(Outcome::Passed)
    });
    stage(&mut stages, "workspace tests", || {
        if !sh::is_root() {
            println!("note: not root: root integration tests will say they cannot run (and fail if CI is set)");
        }
        let (passed, failures) = failures::run(
            cmd(
                "cargo",
                // --no-fail-fast: one failing test binary must not hide
                // the results of the others.
                [
                    "test",
                    "--workspace",
                    "--exclude",
                    "monitor-ebpf",
                    "--no-fail-fast",
                ],
            )
            .current_dir(root),
        )?;
        Ok(match passed {
            true => Outcome::Passed,
            false => Outcome::Failed(failures::describe(&failures)),
        })
    });
    if args.no_vm {
        stages.push(skipped("VM test", "--no-vm"));
    } else {
        stage(&mut stages, "VM test (Debian kernel in qemu)", || {
            // The smoke test checks the guest itself, so a sensor failure
            // is never a broken guest in disguise.
            let args = crate::vm::VmArgs {
                tests: vec!["vm_smoke".into(), "sensor".into(), "lsm".into()],
                ..crate::vm::VmArgs::default()
            };
            crate::vm::run(root, &args)?;
            Ok(Outcome::Passed)
        });
    }
    if args.no_fuzz {
        stages.push(skipped("fuzz", "--no-fuzz"));
    } else {
        for target in fuzz_targets(root)? {
            stage(
                &mut stages,
                &format!("fuzz {target} ({} s)", args.fuzz_seconds),
                || run_fuzz(root, &target, args.fuzz_seconds),
            );
        }
    }
    summarise(&stages)
}

fn skipped(name: &str, why: &str) -> Stage {
    Stage {
        name: name.to_string(),
        outcome: Outcome::Skipped(why.to_string()),
        took: Duration::ZERO,
    }
}

/// The fuzz hook: every target `cargo fuzz list` reports for fuzz/ (the
/// rule-parser and recorder-decoder targets land there). None yet is fine.
fn fuzz_targets(root: &Path) -> Result<Vec<String>> {
    if !root.join("fuzz/Cargo.toml").exists() {
        println!("\n==> fuzz: no fuzz/ crate yet, nothing to run");
        return Ok(Vec::new());
    }
    let list = sh::output(cmd("cargo", ["+nightly", "fuzz", "list"]).current_dir(root))?;
    Ok(list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// A short run of one target, from its corpus (kept between runs) plus
/// the committed seeds of `fuzz/seeds/<target>/` when it has some, so a
/// short run starts from inputs that reach the syntax worth fuzzing.
fn run_fuzz(root: &Path, target: &str, seconds: u64) -> Result<Outcome> {
    let corpus = root.join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    let mut c = cmd("cargo", ["+nightly", "fuzz", "run", target]);
    c.arg(&corpus);
    let seeds = root.join("fuzz/seeds").join(target);
    if seeds.is_dir() {
        c.arg(&seeds);
    }
    sh::run(
        c.arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .current_dir(root),
    )?;
    Ok(Outcome::Passed)
}

fn summarise(stages: &[Stage]) -> Result<()> {
    println!("\n==> summary");
    let (mut passed, mut failed) = (0, 0);
    for s in stages {
        let (word, detail) = match &s.outcome {
            Outcome::Passed => {
                passed += 1;
                ("PASS", String::new())
            }
            Outcome::Failed(why) => {
                failed += 1;
                // The first line beside the stage, the rest (the failed
                // tests) below it, where CI's tail of the output shows it.
                let mut lines = why.lines();
                let mut detail = format!(": {}", lines.next().unwrap_or(""));
                for l in lines.take(SUMMARY_LINES) {
                    detail.push_str(&format!("\n      {l}"));
                }
                ("FAIL", detail)
            }
            Outcome::Skipped(why) => ("SKIP", format!(": {why}")),
        };
        println!("{word}  {} ({:.0} s){detail}", s.name, s.took.as_secs_f64());
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} stage(s) failed");
    }
    Ok(())
}

/// Lines of a failed stage's detail the summary repeats.
const SUMMARY_LINES: usize = 40;
