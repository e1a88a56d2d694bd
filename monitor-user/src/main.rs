//! The `vigil` binary: command line, logging and signals. Everything else
//! lives in the library; this file only wires it together.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

mod logcmd;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use vigil::alerts::AlertSink;
use vigil::cli_rules::{self, RulesCmd};
use vigil::engine::{self, Detector, RuleSpec};
use vigil::enrich::{AgentId, EnrichConfig, Enricher};
use vigil::pipeline;
use vigil::sensor::features::probe_features;
use vigil::sensor::{Sensor, SensorConfig};
use vigil::status;

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
    /// to stdout (or --alerts FILE). SIGHUP reloads the rules: the new set
    /// is validated first, and if it has errors the running set stays.
    Run(RunArgs),
    /// Report what this kernel and host support, and which hooks `run` would use.
    Probe,
    /// Ask questions of a flight-recorder log (`vigil run --record DIR`).
    Log {
        #[command(subcommand)]
        cmd: logcmd::LogCmd,
    },
    /// Run recorded events through the same outputs as `vigil run`.
    Replay(logcmd::ReplayArgs),
    /// Check rule files, or list the rules a run would load.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Show, export or import the process baselines of `run --learn-baselines DIR`.
    #[command(subcommand)]
    Baseline(vigil::baseline_cli::BaselineCmd),
    /// Benchmark helper: attach one probe-only hook until SIGINT/SIGTERM.
    #[command(hide = true)]
    BenchHook {
        hook: vigil::sensor::bench_hook::BenchHook,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Write every event as one JSON line to FILE, or to stdout with `-`
    /// (schema: docs/events.md).
    #[arg(long, value_name = "FILE|-")]
    events: Option<PathBuf>,
    /// Ring buffer size in bytes: a power of two and a multiple of the page size.
    #[arg(long, value_name = "N", default_value_t = 16 << 20, value_parser = parse_ring_bytes)]
    ring_bytes: u32,
    /// Seconds between two periodic `stats` log lines.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    stats_interval: u64,
    #[command(flatten)]
    record: logcmd::RecordArgs,
    /// Extra rule file or directory, loaded after the defaults in the order
    /// given; may append to or override earlier rules, lists and macros
    /// (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Do not load the embedded default rules.
    #[arg(long)]
    no_default_rules: bool,
    /// Append alerts (Falco JSON lines) to FILE instead of writing them to stdout.
    #[arg(long, value_name = "FILE")]
    alerts: Option<PathBuf>,
    /// Alert throttle per rule and container: each may raise BURST alerts
    /// at once, then one per SECS; the next alert written carries the
    /// count held back (`vigil.suppressed`), and the `stats` line the
    /// totals. `off` writes every alert.
    #[arg(long, value_name = "BURST/SECS|off", default_value_t = vigil::throttle::AlertRate::default())]
    alert_rate: vigil::throttle::AlertRate,
    /// Seconds between two resource samples: each pass reads every
    /// container's cgroup and emits one `container_stats` event per
    /// container for the resource rules (docs/resources.md).
    #[arg(long, value_name = "SECS", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    resource_interval: u64,
    /// Do not sample container resources (no `container_stats` events).
    #[arg(long)]
    no_resources: bool,
    /// Learn per image what normally runs, then alert on anything else
    /// (`proc.in_baseline`): baselines are read from and saved to DIR, one
    /// reviewable TOML file per image (docs/baselines.md).
    #[arg(long, value_name = "DIR")]
    learn_baselines: Option<PathBuf>,
    /// How long an image without a baseline file learns before enforcing.
    #[arg(long, value_name = "SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    baseline_learn_secs: u64,
}

fn parse_ring_bytes(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .parse()
        .map_err(|e| format!("not a number of bytes: {e}"))?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u32;
    if !n.is_power_of_two() || !n.is_multiple_of(page) {
        return Err(format!(
            "{n} is not a power of two that is a multiple of the page size ({page})"
        ));
    }
    Ok(n)
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
            .and_then(|rt| rt.block_on(run(args))),
        Cmd::Probe => probe(),
        Cmd::Log { cmd } => return exit(logcmd::run(cmd)),
        Cmd::Replay(args) => return exit(logcmd::replay(args)),
        Cmd::Rules(cmd) => {
            return if cli_rules::run(cmd) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Cmd::Baseline(cmd) => match vigil::baseline_cli::run(cmd) {
            Ok(text) => {
                print!("{text}");
                return ExitCode::SUCCESS;
            }
            Err(e) => Err(e.into()),
        },
        Cmd::BenchHook { hook } => vigil::sensor::bench_hook::run(hook).map_err(Into::into),
    };
    exit(result.map(|()| ExitCode::SUCCESS))
}

fn exit(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line with the whole cause chain.
            log::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    // Rules first: a bad rule file should fail before anything is loaded.
    let spec = RuleSpec {
        paths: args.rules.clone(),
        no_defaults: args.no_default_rules,
        strict: false,
    };
    let (rules, report) = spec
        .load()
        .map_err(|e| anyhow::anyhow!("{}", engine::error_lines(&e).join("\n")))
        .context("loading rules")?;
    engine::log_report("rules", &report);
    let sink = match &args.alerts {
        None => AlertSink::stdout(),
        Some(p) => AlertSink::append_to(p).with_context(|| format!("opening {}", p.display()))?,
    };
    let (mut detector, reloader) = Detector::new(rules, spec, engine::hostname(), sink);
    detector.set_alert_rate(args.alert_rate);
    let _reload = reloader
        .spawn_on_sighup()
        .context("installing the SIGHUP handler")?;
    for line in status::feature_lines(&probe_features()) {
        log::info!("{line}");
    }
    for line in status::host_lines() {
        log::info!("{line}");
    }
    let mut source = Sensor::load(&SensorConfig {
        ring_bytes: args.ring_bytes,
        ..Default::default()
    })
    .context("loading the eBPF sensor")?;
    // The loader logs each refused hook with the kernel's reason.
    for line in status::hook_lines(source.hooks()) {
        log::debug!("{line}");
    }
    let refused = source
        .hooks()
        .iter()
        .filter(|h| h.attached.is_err())
        .count();
    log::info!(
        "{} hooks attached, {refused} refused",
        source.hooks().len() - refused
    );
    // Seed after the probes are attached, so no process falls in between.
    let enricher = Enricher::from_host(EnrichConfig {
        proc_root: Some(PathBuf::from("/proc")),
        agent: Some(AgentId::current()),
        ..Default::default()
    });
    let mut config = pipeline::Config::new(enricher);
    config.stats_interval = Duration::from_secs(args.stats_interval);
    if let Some(dir) = &args.record.record {
        let rec = vigil::record::EventRecorder::open(dir, &args.record.config())
            .with_context(|| format!("opening the flight recorder in {}", dir.display()))?;
        log::info!("recording every event to {}", dir.display());
        config.recorder = Some(rec);
    }
    config.detector = Some(detector);
    if let Some(dir) = &args.learn_baselines {
        let b = vigil::baselines::BaselineStage::open(
            dir,
            Duration::from_secs(args.baseline_learn_secs),
        )
        .with_context(|| format!("loading baselines from {}", dir.display()))?;
        log::info!(
            "baselines: {} images from {}",
            b.store().images().count(),
            dir.display()
        );
        config.baselines = Some(b);
    }
    if !args.no_resources {
        match vigil::resources::ResourceStage::from_host(Some(PathBuf::from("/proc"))) {
            Ok(st) => {
                config.resources = Some(st);
                config.resource_interval = Duration::from_secs(args.resource_interval);
            }
            Err(e) => log::warn!("no resource sampling: reading the cgroup mounts: {e}"),
        }
    }
    log::info!("ready");
    let summary = match args.events.as_deref() {
        None => {
            pipeline::run(
                config,
                &mut source,
                None::<&mut tokio::io::Stdout>,
                shutdown_signal(),
            )
            .await?
        }
        Some(p) if p == Path::new("-") => {
            let mut out = tokio::io::stdout();
            pipeline::run(config, &mut source, Some(&mut out), shutdown_signal()).await?
        }
        Some(p) => {
            let mut out = tokio::fs::File::create(p)
                .await
                .with_context(|| format!("creating {}", p.display()))?;
            pipeline::run(config, &mut source, Some(&mut out), shutdown_signal()).await?
        }
    };
    log::info!(
        "stopped ({:?}) after {} events, {} alerts",
        summary.ended_by,
        summary.events,
        summary.alerts
    );
    if let Some(r) = summary.recorder {
        log::info!(
            "recorder closed: {} events written, {} dropped, {} failed, {} bytes",
            r.written,
            r.dropped,
            r.failed,
            r.bytes
        );
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let Ok(mut term) = term else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => log::info!("SIGINT: stopping"),
        _ = term.recv() => log::info!("SIGTERM: stopping"),
    }
}

fn probe() -> anyhow::Result<()> {
    for line in status::feature_lines(&probe_features()) {
        println!("{line}");
    }
    for line in status::host_lines() {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["vigil", "run", "--events", "-", "--stats-interval", "5"])
            .unwrap();
        let Cmd::Run(a) = cli.cmd else {
            panic!("not run")
        };
        assert_eq!(a.events.as_deref(), Some(Path::new("-")));
        assert_eq!((a.stats_interval, a.ring_bytes), (5, 16 << 20));
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
        assert_eq!(a.rules, [PathBuf::from("a.yaml"), PathBuf::from("d/")]);
        assert!(a.no_default_rules);
        assert_eq!(a.alerts.as_deref(), Some(Path::new("out.json")));
        assert_eq!(a.alert_rate, vigil::throttle::AlertRate::default());
        let cli = Cli::try_parse_from(["vigil", "run", "--alert-rate", "2/10"]).unwrap();
        let Cmd::Run(a) = cli.cmd else {
            panic!("not run")
        };
        assert_eq!((a.alert_rate.burst, a.alert_rate.period.as_secs()), (2, 10));
        assert!(Cli::try_parse_from(["vigil", "run", "--alert-rate", "0/10"]).is_err());
        assert!(Cli::try_parse_from(["vigil", "run", "--alert-rate", "off"]).is_ok());
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
