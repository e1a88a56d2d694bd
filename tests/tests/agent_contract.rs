//! The agent's log and lifecycle contract (docs/architecture.md), driven
//! through the real release binary as root: `ready` once every probe is
//! attached, a periodic `stats {json}` line, and on SIGTERM a final `stats`
//! line and exit status 0. The benchmark and every agent test rely on it.

use std::time::Duration;

use vigil_tests::{logline, require_root, require_vigil_binary, Agent, AgentStats};

#[test]
fn ready_periodic_stats_and_clean_exit_on_sigterm() {
    if !require_root("load the agent's eBPF programs") || require_vigil_binary().is_none() {
        return;
    }
    let agent = Agent::run(&["--stats-interval", "1"]).expect("agent starts and logs ready");

    // A periodic stats line arrives within a few intervals and parses.
    let line = agent
        .wait_stderr(Duration::from_secs(10), |l| {
            logline::message(l).starts_with("stats ")
        })
        .expect("a periodic stats line within 10 s");
    let periodic = AgentStats::from_log_line(&line).expect("stats JSON per the contract");

    // Activity on the host is seen: exec a few processes.
    for _ in 0..3 {
        let st = std::process::Command::new("/bin/true")
            .status()
            .expect("run /bin/true");
        assert!(st.success());
    }
    std::thread::sleep(Duration::from_millis(1500));

    let stopped = agent.stop().expect("agent exits after SIGTERM");
    assert!(stopped.status.success(), "exit status {}", stopped.status);
    let last = stopped
        .stats
        .expect("a final stats line")
        .expect("final stats JSON");
    assert!(
        last.records >= periodic.records,
        "counters went backwards: {periodic:?} then {last:?}"
    );
    assert!(
        last.records > 0,
        "the agent read no records while processes were exec'd: {last:?}"
    );
    assert_eq!(
        last.total_drops,
        last.kernel_drops.values().sum::<u64>(),
        "total_drops is the sum of kernel_drops: {last:?}"
    );
    // The final stats line is the last stats line, after `ready`.
    let ready_at = stopped
        .stderr
        .iter()
        .position(|l| logline::is_ready(l))
        .expect("ready was logged");
    let final_at = stopped
        .stderr
        .iter()
        .rposition(|l| logline::message(l).starts_with("stats "))
        .expect("stats logged");
    assert!(final_at > ready_at);
}

#[test]
fn events_to_stdout_are_one_json_object_per_line() {
    if !require_root("load the agent's eBPF programs") || require_vigil_binary().is_none() {
        return;
    }
    let agent = Agent::run(&["--events", "-"]).expect("agent starts and logs ready");
    let marker = format!("vigil-contract-{}", std::process::id());
    // An argument carries a marker the exec event must show.
    let st = std::process::Command::new("/bin/true")
        .arg(&marker)
        .status()
        .expect("run /bin/true");
    assert!(st.success());
    let ev = agent.wait_stdout_json(Duration::from_secs(10), |v| {
        v["evt.type"] == "execve" && v.to_string().contains(&marker)
    });
    let stopped = agent.stop().expect("agent exits after SIGTERM");
    assert!(stopped.status.success(), "exit status {}", stopped.status);
    assert!(ev.is_some(), "no execve event naming {marker}");
    let all = vigil_tests::agent::parse_json_lines(&stopped.stdout)
        .expect("every line is one JSON value");
    assert!(
        all.iter().all(|v| v.is_object()),
        "a line is JSON but not an object"
    );
}

/// The scheduling policy of every thread of `pid` (`/proc/PID/task/*/stat`
/// field 41: 0 SCHED_OTHER, 3 SCHED_BATCH).
fn thread_policies(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir") {
        let stat = std::fs::read_to_string(t.unwrap().path().join("stat")).expect("stat");
        // Fields after the command name, which may hold spaces: state is 3.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let policy = rest.split(' ').nth(41 - 3).expect("policy field");
        out.push(policy.parse().expect("a number"));
    }
    out
}

#[test]
fn the_agent_yields_the_cpu_and_keeps_its_heap_in_small_pages() {
    if !require_root("load the agent's eBPF programs") || require_vigil_binary().is_none() {
        return;
    }
    let agent = Agent::run(&[]).expect("agent starts and logs ready");
    let policies = thread_policies(agent.pid());
    assert!(policies.len() > 1, "{policies:?}");
    assert!(
        policies.iter().all(|&p| p == 3),
        "every thread SCHED_BATCH by default: {policies:?}"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", agent.pid())).unwrap();
    assert!(
        status.lines().any(|l| l == "THP_enabled:\t0"),
        "transparent huge pages off for the agent:\n{status}"
    );
    assert!(agent.stop().expect("agent stops").status.success());

    let agent = Agent::run(&["--scheduling", "normal"]).expect("agent starts");
    let policies = thread_policies(agent.pid());
    assert!(policies.iter().all(|&p| p == 0), "{policies:?}");
    assert!(agent.stop().expect("agent stops").status.success());
}

/// The program types (`prog_type` in fdinfo: 5 tracepoint, 17 raw
/// tracepoint, ...) of the BPF programs whose fds `pid` holds, sorted.
fn bpf_program_types(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fdinfo")).expect("fdinfo dir") {
        // An fd may close between the listing and the read.
        let Ok(info) = std::fs::read_to_string(fd.unwrap().path()) else {
            continue;
        };
        if let Some(t) = info.lines().find_map(|l| l.strip_prefix("prog_type:\t")) {
            out.push(t.trim().parse().expect("a number"));
        }
    }
    out.sort();
    out
}

/// `vigil bench-hook`, which `cargo xtask bench` runs for its hook-design
/// conditions: each design loads its probe-only programs and no other,
/// logs where it attached them, reaches `ready`, and exits 0 on SIGTERM.
#[test]
fn bench_hooks_load_only_their_programs() {
    if !require_root("load the agent's eBPF programs") || require_vigil_binary().is_none() {
        return;
    }
    for (hook, types, attached) in [
        ("raw-sys-enter", vec![17], vec!["raw_tracepoint/sys_enter"]),
        (
            "open-tracepoints",
            vec![5, 5],
            vec![
                "tracepoint/syscalls/sys_enter_openat",
                "tracepoint/syscalls/sys_exit_openat",
            ],
        ),
    ] {
        let agent = Agent::builder(["bench-hook", hook])
            .start()
            .unwrap_or_else(|e| panic!("bench-hook {hook} starts: {e}"));
        assert_eq!(bpf_program_types(agent.pid()), types, "{hook}");
        let stopped = agent.stop().expect("bench-hook stops");
        assert!(stopped.status.success(), "{hook}: {}", stopped.status);
        for at in attached {
            assert!(
                stopped
                    .stderr
                    .iter()
                    .any(|l| l.ends_with(&format!(" to {at}"))),
                "{hook} attached to {at}:\n{}",
                stopped.stderr.join("\n")
            );
        }
    }
}
