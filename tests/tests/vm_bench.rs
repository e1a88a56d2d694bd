//! The VM benchmark: what each hook mode costs the workloads around the
//! agent, in the Debian 6.1 guest where both modes load
//! (`cargo xtask vm vm_bench`). A benchmark, not a test: it fails only if a
//! workload or the agent does, and prints a table of medians and ratios.
//!
//! The workloads are `cargo xtask bench`'s own ([`vigil_tests::workloads`]):
//! an untraced syscall (getpid), an open+close the in-kernel filter drops,
//! a fork+exec of /bin/true. Each runs without the agent, then beside it in
//! tracepoint mode and in LSM mode (one agent per mode: its start takes
//! tens of seconds under emulation), three times per condition (the table has the
//! median). The guest is emulated (qemu TCG): ratios are indications of
//! how the modes compare, the absolute times mean nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use vigil_tests::{in_vm, require_root, require_vigil_binary, workloads, Agent};

/// Start-up in the VM: emulated (TCG), about 25 s in LSM mode on a
/// shared 2-core host (docs/hooks.md), far more on a loaded one.
const READY: Duration = Duration::from_secs(900);
const RUNS: usize = 3;
const GETPID: u64 = 200_000;
const OPENS: u64 = 20_000;
const EXECS: u64 = 100;

/// Nanoseconds per iteration of each workload, median of [`RUNS`].
fn measure(plain: &Path) -> [f64; 3] {
    let time = |f: &dyn Fn() -> u64| -> f64 {
        let mut v: Vec<f64> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                let n = f();
                t.elapsed().as_nanos() as f64 / n as f64
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v[RUNS / 2]
    };
    [
        time(&|| workloads::getpid(GETPID)),
        time(&|| workloads::open_close(plain, OPENS).expect("open+close")),
        time(&|| workloads::fork_exec(Path::new("/bin/true"), EXECS).expect("fork+exec")),
    ]
}

#[test]
fn hook_modes_cost_in_the_vm() {
    if !in_vm() {
        eprintln!("the VM benchmark runs in the guest: cargo xtask vm vm_bench");
        return;
    }
    assert!(require_root("load eBPF programs") && require_vigil_binary().is_some());
    let dir = std::env::temp_dir().join(format!("vigil-vm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("plain-file");
    std::fs::write(&plain, "not sensitive\n").unwrap();
    // Warm caches and page tables once.
    measure(&plain);
    let mut rows = vec![("without", measure(&plain))];
    for mode in ["tracepoint", "lsm"] {
        let agent = Agent::builder([
            "run",
            "--hooks",
            mode,
            "--listen",
            "off",
            "--no-runtime-api",
        ])
        .ready_timeout(READY)
        .echo(false)
        .start()
        .unwrap_or_else(|e| panic!("start vigil run --hooks {mode}: {e}"));
        rows.push((mode, measure(&plain)));
        let stopped = agent.stop().expect("stop the agent");
        assert_eq!(stopped.status.code(), Some(0), "{:?}", stopped.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let base = rows[0].1;
    println!(
        "vm-bench: Debian 6.1 under qemu TCG (emulated: ratios are indications); \
         medians of {RUNS} runs"
    );
    println!(
        "vm-bench: {:<11} {:>16} {:>22} {:>22}",
        "condition", "getpid ns/call", "open+close ns/iter", "fork+exec us/iter"
    );
    for (name, v) in &rows {
        println!(
            "vm-bench: {name:<11} {:>9.0} ({:.2}x) {:>15.0} ({:.2}x) {:>15.0} ({:.2}x)",
            v[0],
            v[0] / base[0],
            v[1],
            v[1] / base[1],
            v[2] / 1000.0,
            v[2] / base[2],
        );
    }
}
