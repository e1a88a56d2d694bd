//! LSM mode and its tracepoint fallback, end to end: `vigil run` with the
//! default rules, and a sandbox (its own cgroup, named as Docker names a
//! container's, and its own mount, UTS and IPC namespaces) that execs a
//! network tool, reads /etc/shadow, reads /etc/gshadow through io_uring,
//! mounts procfs, tries to load a (garbage) kernel module and opens a
//! cgroup v1 `release_agent` for writing, connects to a runtime socket
//! path and (through io_uring) to a loopback mining-pool port, and binds a
//! loopback port. Each act must raise its default rule's alert (the bind,
//! which no default rule alerts on without a baseline, its event).
//!
//! In the VM (`cargo xtask vm lsm`, Debian 6.1 with BPF-LSM) the agent runs
//! with `--hooks lsm --enforce on`: the events come from the LSM hooks
//! (paths resolved, the io_uring read flagged as such), and the acts the
//! default rules mark `action: deny` (the release_agent write, the module
//! load) and the BPF program load a tuning file marks so fail with EPERM
//! in the sandbox, their alerts saying `denied`, and
//! the sandbox's signal to the agent is refused (self-protection). On the host, whose kernel refuses
//! BPF-LSM, `--hooks auto` falls back to tracepoints and must say so in its
//! log, `/readyz` and `/metrics` (final paths are then a named gap);
//! io_uring's own tracepoints still report the io_uring read.
//!
//! The sandbox is this test binary run again (the ignored `sandbox_body`
//! test), placed in its cgroup and namespaces before it starts; it and its
//! acts are in [`sandbox`].

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use vigil_tests::events::EventFile;
use vigil_tests::{http, in_vm, require_root, require_vigil_binary, Agent};

mod acts;
mod sandbox;
use sandbox::Sandbox;

const WAIT: Duration = Duration::from_secs(30);
/// Start-up in the VM: emulated (TCG), the verifier takes a minute or
/// more there (every LSM program, once: `vigil run` does not probe them
/// before its load), more on a loaded host.
const READY: Duration = Duration::from_secs(600);
const SANDBOX_ENV: &str = "VIGIL_LSM_SANDBOX";
/// The agent's pid, for the sandbox's signal to it (self-protection).
const AGENT_PID_ENV: &str = "VIGIL_LSM_AGENT_PID";
/// Set: the sandbox also tries to ptrace the agent (only where that is
/// refused: a ptrace that works would stop nothing, but it is the agent).
const PTRACE_ENV: &str = "VIGIL_LSM_PTRACE";
/// `MINER,BIND`: the loopback ports of the sandbox's network acts.
const NET_PORTS_ENV: &str = "VIGIL_LSM_NET_PORTS";
/// Mining-pool ports of the default rules (`vigil_miner_ports`): the
/// test listens on the first one free here for the sandbox's connect.
const MINER_PORTS: &[u16] = &[3333, 3334, 3335, 3336, 3357, 4444, 5555, 5556, 5588, 5730];

/// The tests that enforce in the kernel (LSM mode) run one at a time: an
/// agent with `--enforce on` refuses every container's acts, the other
/// test's sandbox included.
static ENFORCING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn enforcing() -> std::sync::MutexGuard<'static, ()> {
    ENFORCING.lock().unwrap_or_else(|e| e.into_inner())
}

fn can_run() -> bool {
    require_root("load eBPF programs and make cgroups") && require_vigil_binary().is_some()
}

/// What the VM lacks for the secret reads (never touches a host's files).
fn vm_secrets() {
    if !in_vm() {
        return;
    }
    for f in ["/etc/shadow", "/etc/gshadow"] {
        if !Path::new(f).exists() {
            std::fs::write(f, "root:*:19000:0:99999:7:::\n").unwrap();
        }
    }
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v["output_fields"][name].as_str().unwrap_or("")
}

#[test]
fn sandbox_acts_raise_their_alerts_in_either_mode() {
    if !can_run() {
        return;
    }
    let _one = enforcing();
    vm_secrets();
    let sandbox = Sandbox::new();
    let port = http::free_port().expect("a free port");
    let listen = format!("127.0.0.1:{port}");
    let hooks = if in_vm() { "lsm" } else { "auto" };
    let enforce = if in_vm() { "on" } else { "off" };
    let events = sandbox.dir.join("events.jsonl");
    let started = std::time::Instant::now();
    let args = [
        "run",
        "--hooks",
        hooks,
        "--enforce",
        enforce,
        "--no-runtime-api",
        "--alert-rate",
        "off",
        // The network acts stay on loopback.
        "--net-loopback",
    ];
    // An operator's tuning file asks to deny BPF program loads (no default
    // rule does: docs/enforcement.md says why).
    let tuning = sandbox.dir.join("deny-bpf.yaml");
    std::fs::write(
        &tuning,
        "- rule: BPF program load from container\n  action: deny\n  \
         override:\n    action: replace\n",
    )
    .unwrap();
    let agent = Agent::builder(args)
        .arg("--rules")
        .arg(&tuning)
        .arg("--listen")
        .arg(&listen)
        .arg("--events")
        .arg(&events)
        .ready_timeout(READY)
        .echo(false)
        .start()
        .expect("start vigil run");
    // A figure for docs/hooks.md (start-up cost of the verifier), not an
    // assertion.
    println!("agent ready after {:.1} s", started.elapsed().as_secs_f64());

    // The mode, the same in the log, /readyz and /metrics.
    let addr = listen.parse().unwrap();
    let ready = http::get(addr, "/readyz").expect("GET /readyz");
    let ready: Value = serde_json::from_str(&ready.body).expect("readyz JSON");
    let mode = ready["hook_mode"].as_str().unwrap_or("").to_owned();
    let metrics = http::get(addr, "/metrics").expect("GET /metrics").body;
    assert!(
        metrics.contains(&format!("vigil_hook_mode{{mode=\"{mode}\"}} 1")),
        "mode {mode:?} not in /metrics:\n{metrics}"
    );
    let log = agent.stderr_lines().join("\n");
    if in_vm() {
        assert_eq!(mode, "lsm", "BPF-LSM loads in the VM: {ready}\n{log}");
    }
    match mode.as_str() {
        "lsm" => {
            assert!(log.contains("hook mode: lsm"), "{log}");
            assert_eq!(ready["not_covered"], serde_json::json!([]), "{ready}");
        }
        "tracepoint" => {
            // The loud fallback names what is not covered, everywhere.
            let warn = log
                .lines()
                .find(|l| l.contains("hook mode: TRACEPOINT"))
                .unwrap_or_else(|| panic!("no fallback warning in the log:\n{log}"));
            assert!(
                warn.contains("NOT COVERED") && warn.contains("final paths"),
                "{warn}"
            );
            let gaps = ready["not_covered"].as_array().cloned().unwrap_or_default();
            assert!(
                gaps.iter()
                    .any(|g| g.as_str().is_some_and(|g| g.contains("final paths"))),
                "{ready}"
            );
            assert!(
                metrics.contains("vigil_not_covered{what=\"final paths"),
                "{metrics}"
            );
        }
        other => panic!("unknown hook mode {other:?} in /readyz: {ready}"),
    }

    let miner = MINER_PORTS
        .iter()
        .find_map(|&p| std::net::TcpListener::bind(("127.0.0.1", p)).ok())
        .expect("a free mining-pool port on loopback");
    let miner_port = miner.local_addr().unwrap().port();
    let bind_port = http::free_port().expect("a free port");
    let out = sandbox.run(agent.pid(), in_vm(), Some((miner_port, bind_port)));
    drop(miner);
    println!("{out}");

    let short = &sandbox.id[..12];
    let wait = |rule: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        agent
            .wait_stdout_json(WAIT, |v| {
                v["rule"] == rule && field(v, "container.id") == short && pred(v)
            })
            .unwrap_or_else(|| {
                let alerts = agent.stdout_lines().join("\n");
                let events = std::fs::read_to_string(&events).unwrap_or_default();
                let mine: Vec<&str> = events.lines().filter(|l| l.contains(short)).collect();
                panic!(
                    "no alert {rule:?} for the sandbox ({mode} mode); sandbox said:\n{out}\n\
                     alerts:\n{alerts}\nthe sandbox's events:\n{}",
                    mine.join("\n")
                )
            })
    };
    wait("Network tool in container", &|v| {
        field(v, "proc.name") == "wget"
    });
    wait("Read of shadow or sudoers file in container", &|v| {
        field(v, "fd.name") == "/etc/shadow"
    });
    let mnt = sandbox.dir.join("mnt").display().to_string();
    let mount = wait(
        "Mount of host device or kernel filesystem in container",
        &|v| field(v, "evt.arg.type") == "proc",
    );
    // This host's kernel has no module syscall tracepoints (`vigil probe`
    // lists them as missing): there only the LSM hooks see module loads.
    let tracefs = Path::new("/sys/kernel/tracing/events/syscalls/sys_enter_init_module");
    // With enforcement on, the LSM hooks refused what the default rules
    // mark `action: deny`, and their alerts say so.
    let denied = |v: &Value| !in_vm() || v["output_fields"]["vigil.enforcement"] == "denied";
    if mode == "lsm" || tracefs.exists() {
        wait("Kernel module load from container", &denied);
    }
    // In the VM the exec LSM hook refused the memfd exec and reported it
    // (the binary the kernel opened; evt.res EPERM); on the host it ran.
    let fileless = wait("Fileless execution in container", &denied);
    assert!(
        field(&fileless, "proc.exepath").starts_with("/memfd:vigil-lsm"),
        "{fileless}"
    );
    if in_vm() {
        assert_eq!(field(&fileless, "evt.res"), "EPERM", "{fileless}");
    }
    let agent_write = wait("Write to host kernel control file from container", &|v| {
        field(v, "fd.name").ends_with("/release_agent") && denied(v)
    });
    if in_vm() {
        let said = |act: &str| {
            out.lines()
                .find(|l| l.starts_with(act))
                .unwrap_or_else(|| panic!("the sandbox did not try {act:?}:\n{out}"))
                .to_owned()
        };
        for act in [
            "open release_agent for writing:",
            "init_module:",
            "signal the agent:",
            "exec a memfd:",
            "ptrace the agent:",
            "bpf prog load:",
        ] {
            let line = said(act);
            assert!(
                line.contains("os error 1)"),
                "not refused with EPERM: {line}"
            );
        }
        // Self-protection: the refused signal and ptrace are still reported.
        wait("Signal sent to vigil", &|v| field(v, "evt.type") == "kill");
        wait("Signal sent to vigil", &|v| {
            field(v, "evt.type") == "ptrace"
        });

        // Not enforced: reads of secrets and the proc mount went through.
        assert_eq!(said("read /etc/shadow:"), "read /etc/shadow: ok");
        assert!(
            agent_write["output"]
                .as_str()
                .is_some_and(|o| o.ends_with("(enforcement: denied)")),
            "{agent_write}"
        );
    }

    // io_uring's opens bypass the open syscalls: the LSM hook sees them in
    // LSM mode, io_uring's own tracepoints in tracepoint mode; the event
    // says so either way.
    wait("Read of shadow or sudoers file in container", &|v| {
        field(v, "fd.name") == "/etc/gshadow"
    });
    // The events file has its own writer: its line may land after the
    // alert's.
    let uring = EventFile::new(&events)
        .wait_for(WAIT, |e| {
            e["fd.name"] == "/etc/gshadow" && e["evt.arg.io_uring"] == 1
        })
        .expect("read the events file")
        .unwrap_or_else(|| panic!("no io_uring-flagged event for /etc/gshadow"));
    if mode == "lsm" {
        assert_eq!(uring["evt.arg.lsm_hook"], "file_open", "{uring}");
        // The sandbox mounted at a relative path; the hook saw it resolved.
        assert_eq!(field(&mount, "evt.arg.dir"), mnt, "{mount}");
    }

    // The second set of hooks: the same alerts and events in both modes,
    // from the LSM hooks in LSM mode.
    wait("BPF program load from container", &denied);
    wait("Root change in container", &|v| {
        field(v, "evt.type") == "chroot"
    });
    wait("Root change in container", &|v| {
        field(v, "evt.type") == "pivot_root"
    });
    wait("Capabilities raised in container", &|_| true);
    let hook_of = |ty: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let text =
                std::fs::read_to_string(sandbox.dir.join("events.jsonl")).unwrap_or_default();
            let found = text
                .lines()
                .filter(|l| l.contains(short))
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|e| e["evt.type"] == ty && pred(e));
            if let Some(e) = found {
                return e;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {ty} event of the sandbox ({mode} mode)"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let setuid = hook_of("setuid", &|e| e["evt.arg.uid"] == 0);
    let mmap = hook_of("mmap", &|e| {
        e["evt.arg.prot"] == "PROT_READ|PROT_WRITE|PROT_EXEC"
            && e["evt.arg.flags"]
                .as_str()
                .is_some_and(|f| f.contains("MAP_ANONYMOUS"))
    });
    let mprotect = hook_of("mprotect", &|e| {
        e["evt.arg.prot"] == "PROT_READ|PROT_WRITE|PROT_EXEC" && e["evt.arg.length"] == 4096
    });
    if mode == "lsm" {
        for (e, hook) in [
            (&setuid, "task_fix_setuid"),
            (&mmap, "mmap_file"),
            (&mprotect, "file_mprotect"),
        ] {
            assert_eq!(e["evt.arg.lsm_hook"], hook, "{e}");
        }
    }

    // Network: the connects and the bind, from `socket_connect` and
    // `socket_bind` in LSM mode (io_uring's connect included), from the
    // syscall and io_uring tracepoints in tracepoint mode.
    for act in ["io_uring connect to the miner port: ok", "bind: ok"] {
        assert!(out.lines().any(|l| l == act), "{act:?} not in:\n{out}");
    }
    wait("Container runtime socket access from container", &|v| {
        field(v, "fd.name") == "/var/run/dockershim.sock"
    });
    let miner = wait("Connection to mining pool port from container", &|v| {
        v["output_fields"]["fd.sport"] == miner_port
    });
    assert_eq!(miner["output_fields"]["vigil.io_uring"], true, "{miner}");
    let connect = hook_of("connect", &|e| e["fd.sport"] == miner_port);
    assert_eq!(connect["evt.arg.io_uring"], 1, "{connect}");
    let unix = hook_of("connect", &|e| e["fd.name"] == "/var/run/dockershim.sock");
    let bind = hook_of("bind", &|e| e["fd.sport"] == bind_port);
    assert_eq!(bind["fd.sip"], "127.0.0.1", "{bind}");
    if mode == "lsm" {
        for (e, hook) in [
            (&connect, "socket_connect"),
            (&unix, "socket_connect"),
            (&bind, "socket_bind"),
        ] {
            assert_eq!(e["evt.arg.lsm_hook"], hook, "{e}");
        }
    }

    let stopped = agent.stop().expect("stop the agent");
    assert_eq!(stopped.status.code(), Some(0), "{:?}", stopped.stderr);
}

/// The kill action in tracepoint mode (the host's): with `--enforce on`, a
/// rule asking `action: kill` for writes to a file name gets the sandbox's
/// writer killed as its open returns (it never writes, never says
/// "survived"), and the alert says `killed`. Nothing outside the sandbox
/// is affected: the name is this test's own.
#[test]
fn kill_action_kills_a_container_writer_in_tracepoint_mode() {
    if !can_run() {
        return;
    }
    if in_vm() {
        // The VM stage checks LSM mode; this is the host's test.
        eprintln!("the kill action in tracepoint mode is tested on the host");
        return;
    }
    let sandbox = Sandbox::new();
    let trap = format!("vigil-trap-{}", std::process::id());
    let rule = "Vigil test: write to the trap file";
    let rules = sandbox.dir.join("kill.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: \"{rule}\"\n  desc: the kill action's test\n  \
             condition: vigil_open_write and vigil_container and fd.filename = {trap}\n  \
             output: trap written (file=%fd.name)\n  priority: Critical\n  \
             action: kill\n  enforce_write: [{trap}]\n"
        ),
    )
    .unwrap();
    let agent = Agent::builder([
        "run",
        "--hooks",
        "tracepoint",
        "--enforce",
        "on",
        "--no-runtime-api",
        "--alert-rate",
        "off",
        "--listen",
        "off",
    ])
    .arg("--rules")
    .arg(&rules)
    .echo(false)
    .start()
    .expect("start vigil run");
    let target = sandbox.dir.join(&trap);
    let out = sandbox
        .command("/bin/sh")
        .arg("-c")
        .arg(format!("echo x > '{}'; echo survived", target.display()))
        .output()
        .expect("run the writer");
    use std::os::unix::process::ExitStatusExt;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "the writer was not killed: {} {stdout}\n{}",
        out.status,
        agent.stderr_lines().join("\n")
    );
    assert!(!stdout.contains("survived"), "{stdout}");
    // The open ran (tracepoint mode cannot refuse it); nothing was written.
    assert_eq!(std::fs::read(&target).unwrap_or_default(), b"");
    let short = &sandbox.id[..12];
    let alert = agent.wait_stdout_json(WAIT, |v| {
        v["rule"] == rule && field(v, "container.id") == short
    });
    let stopped = agent.stop().expect("stop the agent");
    let alert = alert.unwrap_or_else(|| panic!("no alert: {:?}", stopped.stderr));
    assert_eq!(
        alert["output_fields"]["vigil.enforcement"], "killed",
        "{alert}"
    );
    // The start log says what enforcement does in this mode, and what not.
    for said in [
        format!("opening {trap} for writing is killed as the open returns"),
        "in tracepoint mode NOTHING IS REFUSED".to_owned(),
    ] {
        assert!(
            stopped.stderr.iter().any(|l| l.contains(&said)),
            "{said:?} not in the log: {:?}",
            stopped.stderr
        );
    }
}

/// Dry run in the kernel (the VM's LSM mode): with `--enforce dry-run`
/// the acts the default rules would refuse (a memfd exec, a release_agent
/// write, a module load) go through, and their alerts say `would_deny`.
#[test]
fn dry_run_refuses_nothing_and_says_what_it_would_have() {
    if !can_run() {
        return;
    }
    if !in_vm() {
        // The host's kernel refuses BPF-LSM: nothing to dry-run.
        eprintln!("dry-run enforcement needs BPF-LSM: tested in the VM");
        return;
    }
    let _one = enforcing();
    vm_secrets();
    let sandbox = Sandbox::new();
    let agent = Agent::builder([
        "run",
        "--hooks",
        "lsm",
        "--enforce",
        "dry-run",
        "--no-runtime-api",
        "--alert-rate",
        "off",
        "--listen",
        "off",
    ])
    .ready_timeout(READY)
    .echo(false)
    .start()
    .expect("start vigil run");
    let out = sandbox.run(agent.pid(), false, None);
    println!("{out}");
    for act in ["exec a memfd: ok", "open release_agent for writing: ok"] {
        assert!(out.lines().any(|l| l == act), "{act:?} not in:\n{out}");
    }
    // The garbage module gets past the LSM hook and is refused by the
    // module loader itself, not with EPERM.
    let init = out.lines().find(|l| l.starts_with("init_module:"));
    assert!(
        init.is_some_and(|l| !l.contains("os error 1)")),
        "{init:?}\n{out}"
    );
    let short = &sandbox.id[..12];
    for rule in [
        "Fileless execution in container",
        "Write to host kernel control file from container",
        "Kernel module load from container",
    ] {
        let alert = agent.wait_stdout_json(WAIT, |v| {
            v["rule"] == rule && field(v, "container.id") == short
        });
        let alert = alert.unwrap_or_else(|| {
            panic!(
                "no alert {rule:?}:\n{}\n{}",
                agent.stdout_lines().join("\n"),
                agent.stderr_lines().join("\n")
            )
        });
        assert_eq!(
            alert["output_fields"]["vigil.enforcement"], "would_deny",
            "{alert}"
        );
    }
    let stopped = agent.stop().expect("stop the agent");
    assert_eq!(stopped.status.code(), Some(0), "{:?}", stopped.stderr);
    assert!(
        stopped
            .stderr
            .iter()
            .any(|l| l.contains("flagged would_deny (nothing refused)")
                && l.contains("execs of a memfd")),
        "{:?}",
        stopped.stderr
    );
}

/// `--hooks lsm` where the kernel refuses BPF-LSM (this host): the agent
/// does not start, and says why.
#[test]
fn hooks_lsm_fails_clearly_where_the_kernel_refuses_it() {
    if !can_run() {
        return;
    }
    // The VM loads BPF-LSM (the test above checks it); probing there
    // would only run the verifier over every LSM program once more.
    if in_vm() {
        eprintln!("BPF-LSM loads in the VM; nothing to refuse");
        return;
    }
    use monitor_user::sensor::features::{probe_features, LsmProbe};
    if probe_features(LsmProbe::Load)
        .lsm_hooks
        .is_some_and(|f| f.supported)
    {
        eprintln!("BPF-LSM loads here; nothing to refuse");
        return;
    }
    let agent = Agent::builder(["run", "--hooks", "lsm", "--listen", "off"])
        .no_wait_ready()
        .echo(false)
        .start()
        .expect("start vigil run");
    let line = agent.wait_stderr(WAIT, |l| l.contains("BPF-LSM was asked for"));
    let stopped = agent.stop().expect("the agent exits");
    let line = line.unwrap_or_else(|| panic!("no clear error: {:?}", stopped.stderr));
    assert!(line.contains("lsm/"), "names the refused hook: {line}");
    assert_ne!(stopped.status.code(), Some(0), "{:?}", stopped.stderr);
    assert!(
        !stopped
            .stderr
            .iter()
            .any(|l| vigil_tests::logline::is_ready(l)),
        "never ready without LSM: {:?}",
        stopped.stderr
    );
}

/// The sandbox's acts (run by the test above in its cgroup and namespaces,
/// never on its own: without the sandbox's environment it does nothing).
#[test]
#[ignore = "the sandbox process of sandbox_acts_raise_their_alerts_in_either_mode"]
fn sandbox_body() {
    sandbox::body();
}
