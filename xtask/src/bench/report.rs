//! The benchmark report: a table on stdout and target/bench/report.json.

use serde_json::{json, Value};
use vigil_tests::AgentStats;

use super::rate::{self, Step};
use super::stats::{paired_ratios, summarize, Summary};
use super::usage::{self, Usage};
use super::{node, BenchArgs, Condition, Counts, Samples, WorkloadDef};

/// One condition of one workload: its samples' summary, and the summary of
/// its per-repetition ratios to "without" (the headline figure).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cell {
    pub value: Option<Summary>,
    pub ratio: Option<Summary>,
}

pub struct Row {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub without: Option<Summary>,
    pub vigil: Cell,
    pub raw: Cell,
    pub auditd: Cell,
    /// vigil with `--watch-untraceable` (getpid only).
    pub untraceable: Cell,
    /// Empty programs on `openat`'s tracepoints (open+close only).
    pub open_hooks: Cell,
}

impl Row {
    /// What condition `cell` adds to the "without" median.
    fn added(&self, cell: Cell) -> Option<f64> {
        Some(cell.value?.median - self.without?.median)
    }
}

/// The flood test's outcome (`bench::flood_test`).
#[derive(Debug, serde::Serialize)]
pub struct Flood {
    pub seconds: u64,
    pub opens: u64,
    pub opens_per_second: f64,
    /// Records the agent read.
    pub records: u64,
    /// Records the kernel's per-cgroup rate limit held back.
    pub throttled: u64,
    /// Records lost in the kernel, per kind: a flood must leave exec,
    /// clone and procexit at 0.
    pub kernel_drops: std::collections::BTreeMap<String, u64>,
    pub total_drops: u64,
    /// Size of the recorded log at the end.
    pub record_bytes: u64,
    /// Events the recorder wrote (the flood budget summarises the rest).
    pub logged_events: u64,
    /// The agent's resident memory at the end; the highest of samples
    /// taken every 250 ms during the flood; its peak since start-up
    /// (`VmHWM`, which includes start-up's).
    pub rss_mib: f64,
    pub max_rss_mib: f64,
    pub peak_rss_mib: f64,
    /// The agent's CPU time over the flood.
    pub agent_cpu_seconds: f64,
}

impl Flood {
    /// Minutes of this flood the log's default retention (`vigil run
    /// --record-retention-size`, the recorder's default) holds: how fast a
    /// flood pushes everyone else's history out.
    pub fn retention_minutes(&self) -> Option<f64> {
        let retention = monitor_recorder::Config::default().retention_bytes? as f64;
        let per_minute = self.record_bytes as f64 / self.seconds.max(1) as f64 * 60.0;
        (per_minute > 0.0).then(|| retention / per_minute)
    }

    /// Log bytes per event written.
    pub fn bytes_per_event(&self) -> Option<f64> {
        (self.logged_events > 0).then(|| self.record_bytes as f64 / self.logged_events as f64)
    }

    /// Agent CPU, in % of a core, per 100K records/s.
    pub fn cpu_pct_per_100k(&self) -> Option<f64> {
        let rate = self.records as f64 / self.seconds.max(1) as f64;
        let pct = self.agent_cpu_seconds / self.seconds.max(1) as f64 * 100.0;
        (rate > 0.0).then(|| pct / (rate / 100_000.0))
    }
}

pub struct Report {
    pub flood: Option<Flood>,
    /// Per workload, what the agent read and spent (vigil condition).
    pub counts: Counts,
    /// The agent's memory at idle, once per repetition.
    pub idle: Vec<Usage>,
    pub node: Vec<node::Step>,
    /// Rules loaded for the auditd condition, or why it was skipped.
    pub auditd: Result<usize, String>,
    reps: usize,
    limits: Vec<String>,
    rows: Vec<Row>,
    raw_skipped: Option<String>,
    open_hooks_skipped: Option<String>,
    agent_stats: Vec<AgentStats>,
    steps: Vec<Step>,
    /// The rate test's ring; None: the agent's default.
    ring_bytes: Option<u32>,
    sensitive_path: String,
    rate_seconds: f64,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        reps: usize,
        limits: &[String],
        workloads: &[WorkloadDef],
        samples: &Samples,
        raw_skipped: Option<String>,
        open_hooks_skipped: Option<String>,
        agent_stats: Vec<AgentStats>,
        steps: Vec<Step>,
        args: &BenchArgs,
    ) -> Report {
        let get = |k, c| samples.get(&(k, c)).and_then(|v| summarize(v));
        let cell = |k, c| {
            let ratios = match (samples.get(&(k, Condition::Without)), samples.get(&(k, c))) {
                (Some(w), Some(v)) => paired_ratios(v, w),
                _ => Vec::new(),
            };
            Cell {
                value: get(k, c),
                ratio: summarize(&ratios),
            }
        };
        let rows = workloads
            .iter()
            .map(|w| Row {
                key: w.key,
                label: w.label,
                unit: w.unit,
                without: get(w.key, Condition::Without),
                vigil: cell(w.key, Condition::Vigil),
                raw: cell(w.key, Condition::RawSysEnter),
                auditd: cell(w.key, Condition::Auditd),
                untraceable: cell(w.key, Condition::VigilUntraceable),
                open_hooks: cell(w.key, Condition::OpenHooks),
            })
            .collect();
        Report {
            flood: None,
            counts: Counts::new(),
            idle: Vec::new(),
            node: Vec::new(),
            auditd: Err("not run".into()),
            reps,
            limits: limits.to_vec(),
            rows,
            raw_skipped,
            open_hooks_skipped,
            agent_stats,
            steps,
            ring_bytes: args.rate_ring_bytes,
            sensitive_path: args.sensitive_path.display().to_string(),
            rate_seconds: args.rate_seconds,
        }
    }

    pub fn print(&self) {
        println!();
        println!(
            "medians of {} interleaved repetitions; ratios: median of the per-repetition \
             pairs (with / without, back to back) [min-max]",
            self.reps
        );
        println!(
            "{:<28} {:>8} {:>9} {:>9} {:>19} {:>19} {:>19}",
            "workload", "unit", "without", "vigil", "vigil ratio", "raw sys_enter", "auditd"
        );
        for r in &self.rows {
            println!(
                "{:<28} {:>8} {:>9} {:>9} {:>19} {:>19} {:>19}",
                r.label,
                r.unit,
                fmt_med(r.without),
                fmt_med(r.vigil.value),
                fmt_ratio(r.vigil.ratio),
                fmt_ratio(r.raw.ratio),
                fmt_ratio(r.auditd.ratio),
            );
        }
        if let Some(r) = self.getpid() {
            print_extra(r, r.untraceable, "vigil --watch-untraceable");
        }
        if let Some(r) = self.open_close() {
            print_extra(r, r.open_hooks, "empty programs on openat's tracepoints");
        }
        if let Err(why) = &self.auditd {
            println!("auditd comparison skipped: {why}");
        }
        println!();
        println!("counted, per workload iteration (vigil): records read, agent CPU");
        for r in &self.rows {
            if let Some(c) = self.counts.get(r.key) {
                println!(
                    "  {:<28} {:>9.3} records/iter {:>9} agent CPU us/record",
                    r.label,
                    per(c.records, c.iterations).unwrap_or(0.0),
                    cpu_us(c.cpu_ticks, c.records).map_or("-".into(), |v| format!("{v:.2}")),
                );
            }
        }
        if let Some(m) = self.idle_summary() {
            println!(
                "agent memory at idle (median of {}): RSS {:.1} MiB = {:.1} anonymous (heap) + {:.1} file-backed (the binary, and the ring buffer mapped twice); start-up peak {:.1} MiB",
                self.idle.len(),
                m.rss_kib as f64 / 1024.0,
                m.anon_kib as f64 / 1024.0,
                (m.file_kib + m.shmem_kib) as f64 / 1024.0,
                m.peak_rss_kib as f64 / 1024.0
            );
        }
        println!();
        println!(
            "syscall-hook design (untraced getpid): {}",
            self.hook_design_line()
        );
        println!(
            "open hooks (filtered open+close): {}",
            self.open_floor_line()
        );
        if !self.steps.is_empty() {
            match rate::highest_clean(&self.steps) {
                Some(r) => println!(
                    "highest event rate with zero drops: {r:.0} events/s ({} opens, {} s steps, {}, recording on)",
                    self.sensitive_path,
                    self.rate_seconds,
                    self.ring_bytes
                        .map_or("the agent's default ring".into(), |b| format!("{b} B ring"))
                ),
                None => println!("highest event rate with zero drops: none of the steps was clean (see report.json)"),
            }
        }
        if let Some(f) = &self.flood {
            let drops: Vec<String> = f
                .kernel_drops
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            println!(
                "flood ({} s, {:.0} opens/s): {} records, {} throttled, drops: {}; log {} bytes, {} events",
                f.seconds,
                f.opens_per_second,
                f.records,
                f.throttled,
                if drops.is_empty() {
                    "none".to_string()
                } else {
                    drops.join(", ")
                },
                f.record_bytes,
                f.logged_events
            );
            println!(
                "flood: the log's default retention holds {} minutes of it",
                f.retention_minutes()
                    .map_or("-".into(), |m| format!("{m:.0}"))
            );
            println!(
                "flood: agent RSS {:.1} MiB at the end, at most {:.1} during it (peak since start-up {:.1}), \
                 {} log bytes/event, {} % of a core per 100K records/s",
                f.rss_mib,
                f.max_rss_mib,
                f.peak_rss_mib,
                f.bytes_per_event().map_or("-".into(), |b| format!("{b:.1}")),
                f.cpu_pct_per_100k().map_or("-".into(), |c| format!("{c:.1}"))
            );
        }
        for n in &self.node {
            println!("node: {}", n.line());
        }
        let drops: u64 = self.agent_stats.iter().map(|s| s.total_drops).sum();
        println!("agent drops during the workloads: {drops}");
    }

    /// The per-field median of the idle readings.
    fn idle_summary(&self) -> Option<Usage> {
        let med = |f: fn(&Usage) -> u64| {
            let v: Vec<f64> = self.idle.iter().map(|u| f(u) as f64).collect();
            super::stats::median(&v).map(|m| m as u64)
        };
        Some(Usage {
            cpu_ticks: 0,
            rss_kib: med(|u| u.rss_kib)?,
            peak_rss_kib: med(|u| u.peak_rss_kib)?,
            anon_kib: med(|u| u.anon_kib)?,
            file_kib: med(|u| u.file_kib)?,
            shmem_kib: med(|u| u.shmem_kib)?,
            read_syscalls: 0,
        })
    }

    fn getpid(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == "getpid")
    }

    fn open_close(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == "open_close")
    }

    /// What opens pay for the hooks themselves (empty programs) and what
    /// vigil's programs add on top, per open+close.
    fn open_floor_line(&self) -> String {
        if let Some(why) = &self.open_hooks_skipped {
            return format!("floor skipped: {why}");
        }
        let Some(r) = self.open_close() else {
            return "not measured".into();
        };
        match (r.added(r.open_hooks), r.added(r.vigil)) {
            (Some(floor), Some(vigil)) => format!(
                "empty programs {floor:+.1} ns/iter (the floor); vigil {vigil:+.1} ns/iter, \
                 of which its programs' work {:+.1}",
                vigil - floor
            ),
            _ => "not measured".into(),
        }
    }

    fn hook_design_line(&self) -> String {
        let Some(r) = self.getpid() else {
            return "not measured".into();
        };
        let vigil = match r.added(r.vigil) {
            Some(d) => format!("per-syscall tracepoints (vigil) {d:+.1} ns/call"),
            None => "vigil not measured".into(),
        };
        let vigil = match r.added(r.untraceable) {
            Some(d) => format!("{vigil}; with --watch-untraceable {d:+.1} ns/call"),
            None => vigil,
        };
        match (&self.raw_skipped, r.added(r.raw)) {
            (None, Some(d)) => format!("{vigil}; one program on raw sys_enter {d:+.1} ns/call"),
            (Some(why), _) => format!("{vigil}; raw sys_enter alternative skipped: {why}"),
            (None, None) => format!("{vigil}; raw sys_enter not measured"),
        }
    }

    pub fn json(&self) -> Value {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let workloads: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let c = self.counts.get(r.key);
                json!({
                    "name": r.key,
                    "label": r.label,
                    "unit": r.unit,
                    "without": r.without,
                    "vigil": r.vigil.value,
                    "ratio": r.vigil.ratio.map(|s| s.median),
                    "ratio_spread": r.vigil.ratio,
                    "raw_sys_enter": r.raw.value,
                    "raw_sys_enter_ratio": r.raw.ratio.map(|s| s.median),
                    "raw_sys_enter_ratio_spread": r.raw.ratio,
                    "auditd": r.auditd.value,
                    "auditd_ratio": r.auditd.ratio.map(|s| s.median),
                    "auditd_ratio_spread": r.auditd.ratio,
                    "vigil_untraceable": r.untraceable.value,
                    "vigil_untraceable_ratio": r.untraceable.ratio.map(|s| s.median),
                    "vigil_untraceable_ratio_spread": r.untraceable.ratio,
                    "open_hooks": r.open_hooks.value,
                    "open_hooks_ratio": r.open_hooks.ratio.map(|s| s.median),
                    "open_hooks_ratio_spread": r.open_hooks.ratio,
                    "vigil_counted": c.map(|c| json!({
                        "iterations": c.iterations,
                        "records": c.records,
                        "records_per_iteration": per(c.records, c.iterations),
                        "agent_cpu_ticks": c.cpu_ticks,
                        "agent_cpu_us_per_record": cpu_us(c.cpu_ticks, c.records),
                    })),
                })
            })
            .collect();
        let hook = self.getpid().map(|r| {
            json!({
                "untraced_getpid_ns": r.without.map(|s| s.median),
                "per_syscall_tracepoints_added_ns": r.added(r.vigil),
                "raw_sys_enter_added_ns": r.added(r.raw),
                "raw_sys_enter_skipped": self.raw_skipped,
                "watch_untraceable_added_ns": r.added(r.untraceable),
            })
        });
        let open_floor = self.open_close().map(|r| {
            json!({
                "without_ns": r.without.map(|s| s.median),
                "empty_hooks_added_ns": r.added(r.open_hooks),
                "vigil_added_ns": r.added(r.vigil),
                "skipped": self.open_hooks_skipped,
            })
        });
        json!({
            "generated_by": "cargo xtask bench",
            "kernel": kernel.trim(),
            "repetitions": self.reps,
            "statistic": "median; ratios are medians of per-repetition pairs, with min and max",
            "cgroup_limits": self.limits,
            "workloads": workloads,
            "syscall_hook_design": hook,
            "open_hook_floor": open_floor,
            "agent_stats_during_workloads": self.agent_stats,
            "max_event_rate": {
                "path": self.sensitive_path,
                "ring_bytes": self.ring_bytes,
                "recording": true,
                "step_seconds": self.rate_seconds,
                "steps": self.steps,
                "highest_zero_drop_rate": rate::highest_clean(&self.steps),
            },
            "flood": self.flood.as_ref().map(|f| {
                let mut v = serde_json::to_value(f).unwrap_or_default();
                v["log_bytes_per_event"] = json!(f.bytes_per_event());
                v["retention_minutes"] = json!(f.retention_minutes());
                v["agent_cpu_pct_per_100k_records_per_s"] = json!(f.cpu_pct_per_100k());
                v
            }),
            "agent_idle": {
                "readings": self.idle,
                "median": self.idle_summary(),
            },
            "auditd": match &self.auditd {
                Ok(rules) => json!({"rules": rules}),
                Err(why) => json!({"skipped": why}),
            },
            "node_growth": self.node,
        })
    }
}

/// A table line for a condition measured on one workload only.
fn print_extra(r: &Row, cell: Cell, what: &str) {
    println!(
        "{:<28} {:>8} {:>9} {:>9} {:>19}   ({what})",
        r.label,
        r.unit,
        fmt_med(r.without),
        fmt_med(cell.value),
        fmt_ratio(cell.ratio),
    );
}

fn fmt_med(s: Option<Summary>) -> String {
    s.map_or("-".into(), |s| format!("{:.1}", s.median))
}

fn fmt_ratio(r: Option<Summary>) -> String {
    r.map_or("-".into(), |r| {
        format!("{:.2}x [{:.2}-{:.2}]", r.median, r.min, r.max)
    })
}

fn per(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// Agent CPU microseconds per record, from clock ticks.
fn cpu_us(ticks: u64, records: u64) -> Option<f64> {
    per(ticks, records).map(|t| t / usage::ticks_per_second() * 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use clap::Parser;

    #[derive(Parser)]
    struct A {
        #[command(flatten)]
        a: BenchArgs,
    }

    #[test]
    fn report_from_samples() {
        let args = A::parse_from(["bench"]).a;
        let defs = super::super::workload_defs(&args, &PathBuf::from("/tmp/plain"));
        let mut samples = Samples::new();
        samples.insert(
            ("getpid", Condition::Without),
            vec![200.0, 210.0, 205.0, 190.0, 400.0],
        );
        samples.insert(
            ("getpid", Condition::Vigil),
            vec![250.0, 245.0, 240.0, 260.0, 255.0],
        );
        samples.insert(
            ("getpid", Condition::RawSysEnter),
            vec![300.0, 290.0, 310.0, 305.0, 295.0],
        );
        samples.insert(
            ("getpid", Condition::VigilUntraceable),
            vec![330.0, 320.0, 340.0, 335.0, 325.0],
        );
        let rep = Report::new(
            5,
            &["pids.max=256".into()],
            &defs,
            &samples,
            None,
            None,
            vec![],
            vec![],
            &args,
        );
        let j = rep.json();
        let w = &j["workloads"][0];
        assert_eq!(w["name"], "getpid");
        assert_eq!(w["without"]["median"], 205.0);
        assert_eq!(w["vigil"]["median"], 250.0);
        // Pairs: 250/200, 245/210, 240/205, 260/190, 255/400; the outlier
        // of "without" (400) spoils one pair, not the median.
        let pairs = [
            250.0 / 200.0,
            245.0 / 210.0,
            240.0 / 205.0,
            260.0 / 190.0,
            255.0 / 400.0,
        ];
        let mut sorted = pairs;
        sorted.sort_by(f64::total_cmp);
        assert!((w["ratio"].as_f64().unwrap() - sorted[2]).abs() < 1e-9);
        assert!((w["ratio_spread"]["min"].as_f64().unwrap() - 255.0 / 400.0).abs() < 1e-9);
        assert_eq!(w["ratio_spread"]["n"], 5);
        assert!(w["auditd_ratio"].is_null());
        assert_eq!(
            j["syscall_hook_design"]["per_syscall_tracepoints_added_ns"],
            45.0
        );
        assert_eq!(j["syscall_hook_design"]["raw_sys_enter_added_ns"], 95.0);
        assert_eq!(w["vigil_untraceable"]["median"], 330.0);
        assert_eq!(
            j["syscall_hook_design"]["watch_untraceable_added_ns"],
            125.0
        );
        // Workloads without samples are reported as missing, not as zero.
        assert!(j["workloads"][1]["ratio"].is_null());
        assert!(j["open_hook_floor"]["empty_hooks_added_ns"].is_null());
        assert!(rep.hook_design_line().contains("+95.0"));
    }

    /// The open hooks' floor: what empty programs on openat's tracepoints
    /// add, and what vigil adds beyond them.
    #[test]
    fn open_floor_from_samples() {
        let args = A::parse_from(["bench"]).a;
        let defs = super::super::workload_defs(&args, &PathBuf::from("/tmp/plain"));
        let mut samples = Samples::new();
        let k = "open_close";
        samples.insert((k, Condition::Without), vec![600.0, 590.0, 610.0]);
        samples.insert((k, Condition::OpenHooks), vec![700.0, 690.0, 720.0]);
        samples.insert((k, Condition::Vigil), vec![900.0, 880.0, 910.0]);
        let rep = Report::new(1, &[], &defs, &samples, None, None, vec![], vec![], &args);
        let j = rep.json();
        assert_eq!(j["open_hook_floor"]["empty_hooks_added_ns"], 100.0);
        assert_eq!(j["open_hook_floor"]["vigil_added_ns"], 300.0);
        let w = &j["workloads"][1];
        assert_eq!(w["open_hooks"]["median"], 700.0);
        // Ratios pair by repetition: 700/600, 690/590, 720/610.
        assert!((w["open_hooks_ratio"].as_f64().unwrap() - 690.0 / 590.0).abs() < 1e-9);
        let line = rep.open_floor_line();
        assert!(line.contains("+100.0") && line.contains("+200.0"), "{line}");
        let skipped = Report::new(
            1,
            &[],
            &defs,
            &samples,
            None,
            Some("no".into()),
            vec![],
            vec![],
            &args,
        );
        assert!(skipped.open_floor_line().contains("skipped: no"));
    }
}
