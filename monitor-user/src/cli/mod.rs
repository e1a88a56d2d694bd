//! The command line: the only code that knows clap. One file per
//! subcommand ([`run`], [`log`] (and `replay`), [`rules`], [`baseline`],
//! [`probe`]), the flags several of them share in [`args`], and what the
//! binary says about the host in [`status`]. Each subcommand turns its flags
//! into the library's typed options and calls it; signals (SIGINT, SIGTERM,
//! SIGHUP) are handled here too, never in the library.

mod args;
mod baseline;
mod config;
mod log;
mod probe;
mod replay;
mod rules;
mod run;
mod status;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rules::RulesCmd;

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Runtime syscall and behaviour monitor for Linux container hosts",
    long_about = "Runtime syscall and behaviour monitor for Linux container hosts.\n\n\
        eBPF programs on scheduler, syscall and cgroup hooks stream records to this agent, \
        which attributes every event to its container (docker, containerd, CRI-O, podman, \
        Kubernetes pods) by cgroup id, matches it against Falco-format rules and writes \
        Falco-compatible JSON alerts."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the agent (needs root).
    ///
    /// Loads and attaches the eBPF probes, logs what the kernel supports and
    /// each hook attached or refused, then `ready`. Logs a `stats {json}` line
    /// every --stats-interval seconds and at exit. SIGINT/SIGTERM stop it
    /// cleanly: outputs are flushed and every probe is detached.
    ///
    /// Matches every event against the embedded default rules plus any
    /// --rules files and writes each alert as one Falco-compatible JSON line
    /// to stdout, or to the --output destinations (files, HTTP, syslog; Falco
    /// JSON or OCSF; docs/outputs.md). SIGHUP reloads the rules (the new set
    /// is validated first, and if it has errors the running set stays) and
    /// reopens the alert files.
    ///
    /// --config FILE reads these options from a TOML file (docs/config.md);
    /// flags given here override it.
    #[command(args_override_self = true)]
    Run(run::RunArgs),
    /// Check a config file for `vigil run --config`.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// Report what this kernel and host support, which hooks `run` would
    /// use, and which container runtime APIs answer.
    Probe(run::RuntimeArgs),
    /// Ask questions of a flight-recorder log (`vigil run --record DIR`).
    Log {
        #[command(subcommand)]
        cmd: log::LogCmd,
    },
    /// Run recorded events through the same outputs as `vigil run`.
    Replay(replay::ReplayArgs),
    /// Check rule files, or list the rules a run would load.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Show, export or import the process baselines of `run --learn-baselines DIR`.
    #[command(subcommand)]
    Baseline(baseline::BaselineCmd),
    /// Benchmark helper: attach one probe-only hook until SIGINT/SIGTERM.
    #[command(hide = true)]
    BenchHook {
        hook: monitor_user::sensor::bench_hook::BenchHook,
    },
}

pub fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // What vigil writes (alerts, events, recorder segments, baselines) holds
    // command lines and paths: files 0600, directories 0700, whoever runs it.
    // SAFETY: umask has no preconditions and cannot fail.
    unsafe { libc::umask(0o077) };
    let argv = match config::expand_args(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(errors) => {
            for e in errors {
                ::log::error!("{e}");
            }
            ::log::error!("bad config file: nothing started");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(argv);
    let result = match cli.cmd {
        Cmd::Run(args) => {
            run::set_scheduling(args.scheduling);
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")
                .and_then(|rt| rt.block_on(run::run(args)))
        }
        Cmd::Probe(args) => probe::run(&args),
        Cmd::Config(cmd) => {
            return if config::run(cmd) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Cmd::Log { cmd } => return exit(log::run(cmd)),
        Cmd::Replay(args) => return exit(replay::replay(args)),
        Cmd::Rules(cmd) => {
            return if rules::run(cmd) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Cmd::Baseline(cmd) => match baseline::run(cmd) {
            Ok(text) => {
                print!("{text}");
                return ExitCode::SUCCESS;
            }
            Err(e) => Err(e.into()),
        },
        Cmd::BenchHook { hook } => monitor_user::sensor::bench_hook::run(hook).map_err(Into::into),
    };
    exit(result.map(|()| ExitCode::SUCCESS))
}

fn exit(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line with the whole cause chain.
            ::log::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use args::parse_ring_bytes;
    use std::path::{Path, PathBuf};

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["vigil", "run", "--events", "-", "--stats-interval", "5"])
            .unwrap();
        let Cmd::Run(a) = cli.cmd else {
            panic!("not run")
        };
        assert_eq!(a.events.events.as_deref(), Some(Path::new("-")));
        assert_eq!(
            (a.stats_interval, a.ring_bytes),
            (5, monitor_user::sensor::DEFAULT_RING_BYTES)
        );
        assert!(Cli::try_parse_from(["vigil", "run", "--stats-interval", "0"]).is_err());
        let cli = Cli::try_parse_from([
            "vigil",
            "run",
            "--rules",
            "a.yaml",
            "--rules",
            "d/",
            "--no-default-rules",
            "--alerts",
            "out.json",
        ])
        .unwrap();
        let Cmd::Run(a) = cli.cmd else {
            panic!("not run")
        };
        assert_eq!(
            a.alerting.rules,
            [PathBuf::from("a.yaml"), PathBuf::from("d/")]
        );
        assert!(a.alerting.no_default_rules);
        assert_eq!(a.alerting.alerts.as_deref(), Some(Path::new("out.json")));
        assert_eq!(
            a.alerting.alert_rate,
            monitor_user::sink::throttle::AlertRate::default()
        );
        let cli = Cli::try_parse_from(["vigil", "run", "--alert-rate", "2/10"]).unwrap();
        let Cmd::Run(a) = cli.cmd else {
            panic!("not run")
        };
        assert_eq!(
            (
                a.alerting.alert_rate.burst,
                a.alerting.alert_rate.period.as_secs()
            ),
            (2, 10)
        );
        assert!(Cli::try_parse_from(["vigil", "run", "--alert-rate", "0/10"]).is_err());
        assert!(Cli::try_parse_from(["vigil", "run", "--alert-rate", "off"]).is_ok());
        let cli = Cli::try_parse_from([
            "vigil",
            "run",
            "--output",
            "http:http://127.0.0.1:2801/,retries=1",
            "--output",
            "syslog",
            "--alerts",
            "a.json",
        ])
        .unwrap();
        let Cmd::Run(a) = cli.cmd else {
            panic!("not run")
        };
        let kinds: Vec<&str> = a.alerting.output_specs().iter().map(|s| s.kind()).collect();
        assert_eq!(kinds, ["http", "syslog", "file"]);
        let err = Cli::try_parse_from(["vigil", "run", "--output", "kafka:x"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("unknown output type `kafka`"), "{err}");
        assert!(Cli::try_parse_from(["vigil", "rules", "check"]).is_err());
        assert!(Cli::try_parse_from(["vigil", "rules", "check", "x.yaml", "--strict"]).is_ok());
        assert!(Cli::try_parse_from(["vigil", "rules", "list", "--rules", "x"]).is_ok());
    }

    #[test]
    fn ring_bytes_must_be_a_page_multiple_power_of_two() {
        assert_eq!(parse_ring_bytes("65536"), Ok(65536));
        assert!(parse_ring_bytes("1000")
            .unwrap_err()
            .contains("power of two"));
        assert!(parse_ring_bytes("2048").is_err());
        assert!(parse_ring_bytes("lots")
            .unwrap_err()
            .contains("not a number"));
    }
}
