//! `vigil run`: the agent. Loads the rules, the eBPF sensor and the
//! optional stages (recorder, baselines, resource sampling), logs what the
//! kernel supports and `ready`, then runs the pipeline until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::status;
use anyhow::Context;
use clap::Args;
use monitor_user::detect::{self, Reloader};
use monitor_user::enrich::creator::{CreatorConfig, SocketKind};
use monitor_user::enrich::metadata::{remote, MetadataConfig};
use monitor_user::enrich::{AgentId, EnrichConfig, Enricher};
use monitor_user::pipeline;
use monitor_user::sensor::features::{probe_features, LsmProbe};
use monitor_user::sensor::{
    EnforceConfig, EnforceMode, FilterUpdater, HookMode, Mode, Sensor, SensorConfig,
};
use monitor_user::serve::{self, state::HookCounts, AgentState};
use monitor_user::sink::output::Reopener;
use monitor_user::sink::writer::Delivery;

use super::args::{open_events, AlertArgs, EventsArgs};
use super::args::{parse_ring_bytes, RecordArgs};

#[derive(Args)]
pub struct RunArgs {
    /// Read these options from a TOML file first (every key a flag name,
    /// docs/config.md); flags given on the command line override it.
    /// SIGHUP reloads the rules; other changes in the file need a restart
    /// (the log says which).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub events: EventsArgs,
    /// Ring buffer size in bytes: a power of two and a multiple of the page size.
    #[arg(long, value_name = "N", default_value_t = monitor_user::sensor::DEFAULT_RING_BYTES, value_parser = parse_ring_bytes)]
    pub ring_bytes: u32,
    /// Seconds between two periodic `stats` log lines.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub stats_interval: u64,
    #[command(flatten)]
    pub record: RecordArgs,
    #[command(flatten)]
    pub alerting: AlertArgs,
    /// Seconds between two resource samples: each pass reads every
    /// container's cgroup and emits one `container_stats` event per
    /// container for the resource rules (docs/resources.md).
    #[arg(long, value_name = "SECS", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub resource_interval: u64,
    /// Do not sample container resources (no `container_stats` events).
    #[arg(long)]
    pub no_resources: bool,
    /// Also watch the filesystem holding PATH for container storage
    /// filling up (repeatable: a volume directory, a runtime's storage root
    /// elsewhere). The podman, Docker and containerd roots under /var/lib
    /// are always watched when they exist (docs/resources.md, "Host storage").
    #[arg(long = "storage-path", value_name = "PATH")]
    pub storage_paths: Vec<PathBuf>,
    /// Report network peers on loopback too (connect, accept, listen and
    /// sends to 127.0.0.0/8 or ::1). Off by default: the kernel drops this
    /// chatter before it costs anything (docs/hooks.md, network).
    #[arg(long)]
    pub net_loopback: bool,
    /// Records one container may send per syscall, per CPU and per second;
    /// beyond it the kernel holds them back and sends one `throttled`
    /// event per second saying how many, so a flooding container cannot
    /// crowd out everyone else's events. 0: no limit (docs/performance.md).
    #[arg(long, value_name = "N", default_value_t = monitor_common::flood::DEFAULT_RATE)]
    pub throttle: u32,
    /// Also report attempts of the security-relevant syscalls this kernel
    /// has no tracepoint for (built without them: `init_module`,
    /// `kexec_load` and the like fail with ENOSYS unseen; `vigil probe`
    /// names them), from the global `raw_syscalls/sys_exit` tracepoint.
    /// Costs every syscall of every task on the host a program run at exit
    /// (docs/hooks.md, "Refused attempts"), so it is off by default.
    #[arg(long)]
    pub watch_untraceable: bool,
    /// Learn per image what normally runs, then alert on anything else
    /// (`proc.in_baseline`): baselines are read from and saved to DIR, one
    /// reviewable TOML file per image (docs/baselines.md).
    #[arg(long, value_name = "DIR")]
    pub learn_baselines: Option<PathBuf>,
    /// Serve /healthz, /readyz and /metrics (counters only, no event data)
    /// on ADDR:PORT, or `off`. Default: 127.0.0.1:9376, loopback only; if
    /// that port is taken the agent runs without the listener, while a
    /// given ADDR that cannot be bound is an error.
    #[arg(long, value_name = "ADDR:PORT|off", value_parser = parse_listen)]
    pub listen: Option<Listen>,
    /// How long an image without a baseline file learns before enforcing.
    #[arg(long, value_name = "SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub baseline_learn_secs: u64,
    #[command(flatten)]
    pub runtimes: RuntimeArgs,
    /// Which kernel hooks see opens, mounts and module/kexec loads: `lsm`
    /// (BPF-LSM: resolved paths, io_uring operations; the agent fails to
    /// start where the kernel refuses it), `tracepoint` (syscall
    /// tracepoints), or `auto`: LSM where the kernel loads it, tracepoints
    /// otherwise, saying loudly what that mode does not cover
    /// (docs/hooks.md).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = HooksArg::Auto)]
    pub hooks: HooksArg,
    /// Carry out the actions rules ask for (`action: deny` or `kill`):
    /// `off` (the default: alerts only), `dry-run` (nothing is done; events
    /// and alerts say `would_deny`/`would_kill`) or `on` (in LSM mode the
    /// kernel refuses the armed operations of container processes with
    /// EPERM; `kill` works in both modes; alerts say `denied`/`killed`).
    /// Which default rules ask, and what the kernel can decide:
    /// docs/enforcement.md. Fixed at start (SIGHUP does not change it).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = EnforceArg::Off)]
    pub enforce: EnforceArg,
    /// How the kernel schedules the agent's threads: `batch` (the default:
    /// a woken agent does not preempt the task running on a CPU; it runs at
    /// once on an idle CPU, else at the scheduler's next tick) or `normal`
    /// (it preempts like any task: a busy node's short-lived processes are
    /// looked up in /proc a few ms sooner, at the workloads' expense).
    /// docs/performance.md, "Who yields the CPU".
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = SchedArg::Batch)]
    pub scheduling: SchedArg,
}

/// `--scheduling`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SchedArg {
    Batch,
    Normal,
}

/// Puts the calling thread under `policy`; threads it starts afterwards
/// (the runtime's workers, the blocking pool) inherit it, so call it
/// before the runtime exists. A refusal is logged, never fatal.
pub fn set_scheduling(policy: SchedArg) {
    let p = match policy {
        SchedArg::Batch => libc::SCHED_BATCH,
        SchedArg::Normal => libc::SCHED_OTHER,
    };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param; pid 0 is the calling thread.
    if unsafe { libc::sched_setscheduler(0, p, &param) } != 0 {
        log::warn!(
            "scheduling policy {policy:?} refused: {}; the agent runs under the inherited one",
            std::io::Error::last_os_error()
        );
    }
}

/// `--enforce`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EnforceArg {
    Off,
    DryRun,
    On,
}

impl From<EnforceArg> for EnforceMode {
    fn from(e: EnforceArg) -> EnforceMode {
        match e {
            EnforceArg::Off => EnforceMode::Off,
            EnforceArg::DryRun => EnforceMode::DryRun,
            EnforceArg::On => EnforceMode::On,
        }
    }
}

/// `--hooks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HooksArg {
    Auto,
    Lsm,
    Tracepoint,
}

impl From<HooksArg> for HookMode {
    fn from(h: HooksArg) -> HookMode {
        match h {
            HooksArg::Auto => HookMode::Auto,
            HooksArg::Lsm => HookMode::Lsm,
            HooksArg::Tracepoint => HookMode::Tracepoints,
        }
    }
}

/// Where the container runtimes' APIs are (docs/events.md: runtime metadata).
#[derive(Args, Debug)]
pub struct RuntimeArgs {
    /// A CRI socket (containerd, CRI-O) to ask for pod and container
    /// metadata (repeatable; default: the usual containerd, CRI-O and k3s
    /// sockets, whichever exist).
    #[arg(long = "cri-socket", value_name = "PATH")]
    pub cri_sockets: Vec<PathBuf>,
    /// The Docker Engine API socket.
    #[arg(long, value_name = "PATH", default_value = remote::DEFAULT_DOCKER_SOCKET)]
    pub docker_socket: PathBuf,
    /// Ask no runtime API; read only the runtimes' state files.
    #[arg(long)]
    pub no_runtime_api: bool,
}

impl RuntimeArgs {
    /// The sockets whose clients start containers: the usual ones and
    /// those named here (watched even with `--no-runtime-api`).
    pub fn creator(&self) -> CreatorConfig {
        let mut cfg = CreatorConfig::default();
        cfg.sockets
            .push((self.docker_socket.clone(), SocketKind::Docker));
        cfg.sockets.extend(
            self.cri_sockets
                .iter()
                .map(|s| (s.clone(), SocketKind::Cri)),
        );
        cfg
    }

    pub fn remote(&self) -> Option<remote::RemoteConfig> {
        if self.no_runtime_api {
            return None;
        }
        let mut cfg = remote::RemoteConfig {
            docker_socket: Some(self.docker_socket.clone()),
            ..Default::default()
        };
        if !self.cri_sockets.is_empty() {
            cfg.cri_sockets = self.cri_sockets.clone();
        }
        Some(cfg)
    }
}

/// `--listen`: an address, or no listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    Addr(SocketAddr),
    Off,
}

pub fn parse_listen(s: &str) -> Result<Listen, String> {
    if s == "off" {
        return Ok(Listen::Off);
    }
    s.parse().map(Listen::Addr).map_err(|e| {
        format!("{e}: expected ADDR:PORT (e.g. 127.0.0.1:9376, 0.0.0.0:9376) or `off`")
    })
}

/// The running HTTP listener: stop it, then wait for it.
type Listener = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
);

/// Starts the HTTP listener per `--listen`.
async fn start_listener(
    listen: Option<Listen>,
    state: &Arc<AgentState>,
) -> anyhow::Result<Option<Listener>> {
    let (addr, explicit) = match listen {
        Some(Listen::Off) => return Ok(None),
        Some(Listen::Addr(a)) => (a, true),
        None => (serve::DEFAULT_LISTEN.parse().expect("valid default"), false),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let bound = serve::bind(addr, state.clone(), async {
        let _ = rx.await;
    })
    .await;
    let (local, server) = match bound {
        Ok(b) => b,
        Err(e) if !explicit => {
            log::warn!("no HTTP listener: {e} (use --listen ADDR:PORT)");
            return Ok(None);
        }
        Err(e) => return Err(e).context("starting the HTTP listener"),
    };
    // Worded without "ready": that word alone is the readiness line.
    log::info!("HTTP listener on http://{local}: health, readiness and metrics endpoints");
    let task = tokio::spawn(async move {
        if let Err(e) = server.await {
            log::error!("HTTP listener failed: {e}");
        }
    });
    Ok(Some((tx, task)))
}

/// Says at start what enforcement does in this run, and what it cannot.
fn log_enforcement(e: &EnforceConfig, mode: Mode) {
    if e.mode == EnforceMode::Off {
        return;
    }
    if !e.armed() {
        log::warn!(
            "enforcement: {} but no enabled rule asks for an action the kernel can carry out",
            e.mode.name()
        );
        return;
    }
    let dry = e.mode == EnforceMode::DryRun;
    let mut denied = Vec::new();
    if !e.deny_write_names.is_empty() {
        denied.push(format!("writes to {}", e.deny_write_names.join(", ")));
    }
    if e.deny_modules {
        denied.push("module loads".to_owned());
    }
    if e.deny_memfd_exec {
        denied.push("execs of a memfd".to_owned());
    }
    if e.deny_signals {
        denied.push("signals to this agent".to_owned());
    }
    if e.deny_ptrace {
        denied.push("ptrace of this agent".to_owned());
    }
    if e.deny_bpf_prog_load {
        denied.push("BPF program loads".to_owned());
    }
    if let Some((last, rest)) = denied.split_last() {
        let denied = if rest.is_empty() {
            last.clone()
        } else {
            format!("{}; and {last}", rest.join("; "))
        };
        match (mode, dry) {
            (Mode::Lsm, false) => log::warn!(
                "enforcement: on: from containers, {denied} are refused with EPERM"
            ),
            (Mode::Lsm, true) => log::warn!(
                "enforcement: dry-run: from containers, {denied} are flagged would_deny (nothing refused)"
            ),
            (Mode::Tracepoints, _) => log::warn!(
                "enforcement: deny needs the LSM hooks: in tracepoint mode NOTHING IS REFUSED ({denied} only alert)"
            ),
        }
    }
    if !e.kill_write_names.is_empty() {
        let what = if dry {
            "would be killed (dry run, flagged would_kill)"
        } else {
            "is killed as the open returns"
        };
        log::warn!(
            "enforcement: {}: a container process opening {} for writing {what}",
            e.mode.name(),
            e.kill_write_names.join(", ")
        );
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    // Rules first: a bad rule file should fail before anything is loaded.
    let config_file = match &args.config {
        Some(p) => Some(monitor_user::config::ConfigFile::load(p)?),
        None => None,
    };
    let named = match &config_file {
        Some(c) => super::config::outputs(c)?,
        None => Vec::new(),
    };
    let (alerting, reloader) =
        args.alerting
            .alerting(detect::hostname(), Delivery::Drop, &named)?;
    let state = Arc::new(AgentState::default());
    let rules = alerting.detector().rule_set().rules().len() as u64;
    state.rules_loaded(false, Some(rules));
    // The sensor's open filter comes from the rules; a reload changes it
    // once the sensor is loaded.
    let filter_slot: FilterSlot = Arc::default();
    let _reload = reload_on_sighup(
        reloader,
        alerting.reopener(),
        state.clone(),
        config_file,
        filter_slot.clone(),
    )
    .context("installing the SIGHUP handler")?;
    let initial_rules = alerting.detector().rule_set();
    let needs = detect::sensor_needs(&initial_rules);
    log_needs(&needs);
    // Before the sensor: /readyz says what is missing while probes attach.
    let listener = start_listener(args.listen, &state).await?;
    // The sensor's load below tries the LSM hooks; probing them here too
    // would double the verifier's work (minutes on slow machines).
    for line in status::feature_lines(&probe_features(LsmProbe::Skip)) {
        log::info!("{line}");
    }
    for line in status::host_lines() {
        log::info!("{line}");
    }
    let (enforce, notes) = monitor_user::detect::enforce::kernel_policy(
        &alerting.detector().rule_set(),
        args.enforce.into(),
    );
    for n in &notes {
        log::warn!("enforcement: {n}");
    }
    let mut source = Sensor::load(&SensorConfig {
        ring_bytes: args.ring_bytes,
        hooks: args.hooks.into(),
        open_filter: needs.filter,
        net_loopback: args.net_loopback,
        enforce: enforce.clone(),
        throttle: args.throttle,
        watch_untraceable: args.watch_untraceable,
    })
    .context("loading the eBPF sensor")?;
    {
        let updater = source.filter_updater();
        // A reload during the load would have found no sensor to update.
        let latest = alerting.detector().latest_rules();
        if !Arc::ptr_eq(&latest, &initial_rules) {
            update_filter(&updater, &latest);
        }
        *filter_slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(updater);
    }
    let mode = source.mode();
    log_enforcement(&enforce, mode);
    match mode {
        Mode::Lsm => log::info!(
            "hook mode: lsm (BPF-LSM hooks for {}; syscall tracepoints for the rest)",
            status::lsm_hooks()
        ),
        Mode::Tracepoints if args.hooks == HooksArg::Tracepoint => {
            log::info!("hook mode: tracepoint (--hooks tracepoint)")
        }
        Mode::Tracepoints => log::warn!(
            "hook mode: TRACEPOINT (BPF-LSM refused by this kernel); NOT COVERED: {}",
            monitor_user::sensor::gaps(mode, source.hooks()).join("; ")
        ),
    }
    // The loader logs each refused hook with the kernel's reason.
    for line in status::hook_lines(source.hooks()) {
        log::debug!("{line}");
    }
    let refused = source
        .hooks()
        .iter()
        .filter(|h| h.attached.is_err())
        .count();
    let attached = source.hooks().len() - refused;
    log::info!("{attached} hooks attached, {refused} refused");
    state.set_hooks(HookCounts {
        attached: attached as u64,
        refused: refused as u64,
        mode: mode.name(),
        not_covered: monitor_user::sensor::gaps(mode, source.hooks()),
    });
    // Seed after the probes are attached, so no process falls in between.
    let mut enricher = Enricher::from_host(EnrichConfig {
        proc_root: Some(PathBuf::from("/proc")),
        agent: Some(AgentId::current()),
        metadata: MetadataConfig {
            remote: args.runtimes.remote(),
            ..Default::default()
        },
        creator: args.runtimes.creator(),
        ..Default::default()
    });
    if enforce.armed() {
        enricher = enricher.with_enforcement(source.container_cgroups());
    }
    let mut config = pipeline::Config::new(enricher);
    config.stats_interval = Duration::from_secs(args.stats_interval);
    if let Some(dir) = &args.record.record {
        let rec = monitor_user::sink::recorder::EventRecorder::open(dir, &args.record.config())
            .with_context(|| format!("opening the flight recorder in {}", dir.display()))?;
        log::info!("recording every event to {}", dir.display());
        config.recorder = Some(rec);
    }
    config.alerting = Some(alerting);
    config.state = Some(state);
    config.events_format = args.events.events_format;
    if let Some(dir) = &args.learn_baselines {
        let b = monitor_user::stage::baselines::BaselineStage::open(
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
        // The sampler keeps a few files of every container open.
        if let Err(e) = monitor_stateful::cgroupfs::raise_nofile_limit() {
            log::warn!("cannot raise RLIMIT_NOFILE: {e}");
        }
        match monitor_user::stage::resources::ResourceStage::from_host(Some(PathBuf::from("/proc")))
        {
            Ok(mut st) => {
                st.watch_storage(&args.storage_paths);
                config.resources = Some(st);
                config.resource_interval = Duration::from_secs(args.resource_interval);
            }
            Err(e) => log::warn!("no resource sampling: reading the cgroup mounts: {e}"),
        }
    }
    // Start-up parsed kernel BTF twice and loaded the eBPF object several
    // times: hand what it freed, and the object's own pages, back.
    monitor_user::sensor::release_object_pages();
    crate::release_freed_memory();
    log::info!("ready");
    let mut events = open_events(args.events.events.as_deref()).await?;
    let summary = pipeline::run(config, &mut source, events.as_mut(), shutdown_signal()).await;
    if let Some((stop, task)) = listener {
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    let summary = summary?;
    // Detach every probe now (in parallel, see sensor::links), and say how long it took.
    let started = std::time::Instant::now();
    drop(source);
    log::info!(
        "probes detached in {:.2} s",
        started.elapsed().as_secs_f64()
    );
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

/// Where the SIGHUP handler finds the sensor's open filter once it is loaded.
type FilterSlot = Arc<Mutex<Option<FilterUpdater>>>;

/// Log what the rules need of the open filter, and what it cannot deliver.
fn log_needs(needs: &detect::SensorNeeds) {
    // The defaults' gaps are documented (docs/rules.md); a user's are news.
    for n in &needs.notes {
        if n.default_rule {
            log::debug!("{n}");
        } else {
            log::warn!("{n}");
        }
    }
    log::info!(
        "open filter: {} path prefixes, {} file names ({} from the rules beyond the built-in list)",
        needs.filter.prefixes.len(),
        needs.filter.names.len(),
        needs.added
    );
}

/// Point the running sensor's open filter at what `rules` test.
fn update_filter(updater: &FilterUpdater, rules: &monitor_rules::RuleSet) {
    let needs = detect::sensor_needs(rules);
    log_needs(&needs);
    match updater.replace(&needs.filter) {
        Ok(()) => log::info!("open filter updated for the reloaded rules"),
        Err(e) => log::error!("updating the open filter for the reloaded rules: {e}"),
    }
}

/// Reload the rules on every SIGHUP until the task is dropped, and reopen
/// the alert files (logrotate's convention); each reload's outcome goes to
/// the metrics. With a config file, says which of its changes wait for a
/// restart.
fn reload_on_sighup(
    reloader: Reloader,
    files: Option<Reopener>,
    state: Arc<AgentState>,
    mut config: Option<monitor_user::config::ConfigFile>,
    filter: FilterSlot,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            if let Some(old) = config.as_mut() {
                match super::config::load_checked(&old.path) {
                    Ok(new) => {
                        for key in super::config::changed_keys(old, &new) {
                            log::warn!(
                                "{}: `{key}` changed: it cannot change while running; restart vigil to apply it",
                                old.path.display()
                            );
                        }
                        *old = new;
                    }
                    Err(errors) => {
                        for e in errors {
                            log::error!("{e}");
                        }
                        log::error!("config file has errors: keeping the running settings");
                    }
                }
            }
            log::info!("SIGHUP: reloading rules, reopening alert files");
            if let Some(f) = &files {
                f.reopen();
            }
            let r = reloader.reload_and_log();
            state.rules_loaded(true, r.map(|n| n as u64));
            if r.is_some() {
                let updater = filter.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(u) = updater {
                    update_filter(&u, &reloader.rules());
                }
            }
        }
    }))
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
