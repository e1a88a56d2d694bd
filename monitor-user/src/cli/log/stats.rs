//! `vigil log stats`: what a log holds, in one streaming pass: events per
//! type and per container, the time span, the bytes it takes, and the
//! losses it records.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use monitor_recorder::LossSource;
use monitor_user::event::rfc3339;

use super::{finish, for_each, open_inputs, stdout, Item, Problems};

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Log directories and/or segment files.
    #[arg(required = true, value_name = "DIR|FILE")]
    pub paths: Vec<PathBuf>,
}

#[derive(Default)]
struct ContainerCount {
    name: Option<String>,
    image: Option<String>,
    events: u64,
}

pub fn run(a: StatsArgs) -> anyhow::Result<ExitCode> {
    let log = open_inputs(&a.paths, None)?;
    let mut problems = Problems::default();
    let mut events = 0u64;
    let mut span: Option<(u64, u64)> = None;
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    let mut containers: BTreeMap<String, ContainerCount> = BTreeMap::new();
    let mut lost: BTreeMap<LossSource, (u64, u64)> = BTreeMap::new();
    for_each(&log, &mut problems, |item| {
        match item {
            Item::Event(ev) => {
                events += 1;
                let t = ev.wall_ns;
                span = Some(span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
                match types.get_mut(ev.evt_type()) {
                    Some(n) => *n += 1,
                    None => {
                        types.insert(ev.evt_type().to_owned(), 1);
                    }
                }
                let c = containers.entry(ev.container.id.clone()).or_default();
                c.events += 1;
                if ev.container.name.is_some() {
                    c.name.clone_from(&ev.container.name);
                }
                if ev.container.image.is_some() {
                    c.image.clone_from(&ev.container.image);
                }
            }
            Item::Loss(src, n) => {
                let e = lost.entry(src).or_default();
                e.0 += 1;
                e.1 += n;
            }
        }
        Ok(true)
    })?;
    let mut out = stdout();
    writeln!(out, "segments: {}", log.segments().len())?;
    writeln!(out, "events: {events}")?;
    // Definitions and framing included: what the log costs per event.
    let bytes: u64 = log
        .segments()
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    writeln!(
        out,
        "bytes: {bytes} ({:.0} per event)",
        bytes as f64 / events.max(1) as f64
    )?;
    match span {
        Some((a, b)) => writeln!(
            out,
            "time span: {} .. {} ({:.3} s)",
            rfc3339(a),
            rfc3339(b),
            (b - a) as f64 / 1e9
        )?,
        None => writeln!(out, "time span: (no events)")?,
    }
    let total_lost: u64 = lost.values().map(|v| v.1).sum();
    writeln!(out, "lost when recording: {total_lost}")?;
    for (src, (records, n)) in &lost {
        writeln!(
            out,
            "  {:<22} {n:>10} ({records} loss records)",
            format!("{src:?}")
        )?;
    }
    writeln!(out, "by type:")?;
    let mut by_count: Vec<_> = types.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (t, n) in by_count {
        writeln!(out, "  {t:<22} {n:>10}")?;
    }
    writeln!(out, "by container:")?;
    let mut by_count: Vec<_> = containers.iter().collect();
    by_count.sort_by(|a, b| b.1.events.cmp(&a.1.events).then(a.0.cmp(b.0)));
    for (id, c) in by_count {
        writeln!(
            out,
            "  {id:<12} {:>10}  {} {}",
            c.events,
            c.name.as_deref().unwrap_or("-"),
            c.image.as_deref().unwrap_or("")
        )?;
    }
    if problems.damage + problems.tails > 0 {
        writeln!(
            out,
            "read problems: {} damaged, {} truncated tails (see stderr)",
            problems.damage, problems.tails
        )?;
    }
    finish(out)?;
    Ok(problems.exit_code())
}
