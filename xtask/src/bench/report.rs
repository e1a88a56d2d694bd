//! The benchmark report: a table on stdout and target/bench/report.json.

use serde_json::{json, Value};
use vigil_tests::AgentStats;

use super::rate::{self, Step};
use super::stats::{ratio, summarize, Summary};
use super::{BenchArgs, Condition, Samples, WorkloadDef};

pub struct Row {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub without: Option<Summary>,
    pub vigil: Option<Summary>,
    pub raw: Option<Summary>,
}

impl Row {
    fn ratio(&self, with: Option<Summary>) -> Option<f64> {
        ratio(with?.median, self.without?.median)
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
}

pub struct Report {
    pub flood: Option<Flood>,
    reps: usize,
    limits: Vec<String>,
    rows: Vec<Row>,
    raw_skipped: Option<String>,
    agent_stats: Vec<AgentStats>,
    steps: Vec<Step>,
    ring_bytes: u32,
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
        agent_stats: Vec<AgentStats>,
        steps: Vec<Step>,
        args: &BenchArgs,
    ) -> Report {
        let get = |k, c| samples.get(&(k, c)).and_then(|v| summarize(v));
        let rows = workloads
            .iter()
            .map(|w| Row {
                key: w.key,
                label: w.label,
                unit: w.unit,
                without: get(w.key, Condition::Without),
                vigil: get(w.key, Condition::Vigil),
                raw: get(w.key, Condition::RawSysEnter),
            })
            .collect();
        Report {
            flood: None,
            reps,
            limits: limits.to_vec(),
            rows,
            raw_skipped,
            agent_stats,
            steps,
            ring_bytes: args.rate_ring_bytes,
            sensitive_path: args.sensitive_path.display().to_string(),
            rate_seconds: args.rate_seconds,
        }
    }

    pub fn print(&self) {
        println!();
        println!("medians of {} interleaved repetitions", self.reps);
        println!(
            "{:<28} {:>8} {:>10} {:>10} {:>7} {:>12} {:>7}",
            "workload", "unit", "without", "vigil", "ratio", "raw sys_enter", "ratio"
        );
        for r in &self.rows {
            println!(
                "{:<28} {:>8} {:>10} {:>10} {:>7} {:>12} {:>7}",
                r.label,
                r.unit,
                fmt_med(r.without),
                fmt_med(r.vigil),
                fmt_ratio(r.ratio(r.vigil)),
                fmt_med(r.raw),
                fmt_ratio(r.ratio(r.raw)),
            );
        }
        println!();
        println!(
            "syscall-hook design (untraced getpid): {}",
            self.hook_design_line()
        );
        if !self.steps.is_empty() {
            match rate::highest_clean(&self.steps) {
                Some(r) => println!(
                    "highest event rate with zero drops: {r:.0} events/s ({} opens, {} s steps, {} B ring)",
                    self.sensitive_path, self.rate_seconds, self.ring_bytes
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
                "flood ({} s, {:.0} opens/s): {} records, {} throttled, drops: {}; log {} bytes",
                f.seconds,
                f.opens_per_second,
                f.records,
                f.throttled,
                if drops.is_empty() {
                    "none".to_string()
                } else {
                    drops.join(", ")
                },
                f.record_bytes
            );
        }
        let drops: u64 = self.agent_stats.iter().map(|s| s.total_drops).sum();
        println!("agent drops during the workloads: {drops}");
    }

    fn getpid(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == "getpid")
    }

    fn hook_design_line(&self) -> String {
        let Some(r) = self.getpid() else {
            return "not measured".into();
        };
        let base = r.without.map(|s| s.median);
        let added = |s: Option<Summary>| Some(s?.median - base?);
        let vigil = match added(r.vigil) {
            Some(d) => format!("per-syscall tracepoints (vigil) {d:+.1} ns/call"),
            None => "vigil not measured".into(),
        };
        match (&self.raw_skipped, added(r.raw)) {
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
                json!({
                    "name": r.key,
                    "label": r.label,
                    "unit": r.unit,
                    "without": r.without,
                    "vigil": r.vigil,
                    "ratio": r.ratio(r.vigil),
                    "raw_sys_enter": r.raw,
                    "raw_sys_enter_ratio": r.ratio(r.raw),
                })
            })
            .collect();
        let hook = self.getpid().map(|r| {
            let base = r.without.map(|s| s.median);
            json!({
                "untraced_getpid_ns": base,
                "per_syscall_tracepoints_added_ns": r.vigil.zip(base).map(|(s, b)| s.median - b),
                "raw_sys_enter_added_ns": r.raw.zip(base).map(|(s, b)| s.median - b),
                "raw_sys_enter_skipped": self.raw_skipped,
            })
        });
        json!({
            "generated_by": "cargo xtask bench",
            "kernel": kernel.trim(),
            "repetitions": self.reps,
            "statistic": "median",
            "cgroup_limits": self.limits,
            "workloads": workloads,
            "syscall_hook_design": hook,
            "agent_stats_during_workloads": self.agent_stats,
            "max_event_rate": {
                "path": self.sensitive_path,
                "ring_bytes": self.ring_bytes,
                "step_seconds": self.rate_seconds,
                "steps": self.steps,
                "highest_zero_drop_rate": rate::highest_clean(&self.steps),
            },
            "flood": self.flood,
        })
    }
}

fn fmt_med(s: Option<Summary>) -> String {
    s.map_or("-".into(), |s| format!("{:.1}", s.median))
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}x"))
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
        let rep = Report::new(
            5,
            &["pids.max=256".into()],
            &defs,
            &samples,
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
        assert!((w["ratio"].as_f64().unwrap() - 250.0 / 205.0).abs() < 1e-9);
        assert_eq!(
            j["syscall_hook_design"]["per_syscall_tracepoints_added_ns"],
            45.0
        );
        assert_eq!(j["syscall_hook_design"]["raw_sys_enter_added_ns"], 95.0);
        // Workloads without samples are reported as missing, not as zero.
        assert!(j["workloads"][1]["ratio"].is_null());
        assert!(rep.hook_design_line().contains("+95.0"));
    }
}
