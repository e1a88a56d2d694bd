//! `vigil log show|query|export`: the recorded events a filter selects, as
//! JSON lines byte-identical to `vigil run --events`, or as a table for
//! reading in a terminal.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use monitor_user::event::{rfc3339, Data, Event};

use super::{finish, for_each, open_inputs, stdout, FilterArgs, Item, Problems};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line, as `vigil run --events` writes it.
    Json,
    /// Aligned columns: time, container, pid, type, process, details.
    Table,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output format (show: table, query: json).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub fn run(a: ShowArgs, default: Format) -> anyhow::Result<ExitCode> {
    write(&a.filter, a.format.unwrap_or(default))
}

pub fn export(a: FilterArgs) -> anyhow::Result<ExitCode> {
    write(&a, Format::Json)
}

fn write(filter: &FilterArgs, format: Format) -> anyhow::Result<ExitCode> {
    print(filter, format, &table_header(), table_row)
}

/// The events `filter` selects, one line each: JSON lines, or a table of
/// `row`s under `header`. A place where recording lost events is noted on
/// stderr where it is: a hole in the log is part of the answer.
pub(super) fn print(
    filter: &FilterArgs,
    format: Format,
    header: &str,
    row: fn(&Event, &mut Vec<u8>),
) -> anyhow::Result<ExitCode> {
    let query = filter.query()?;
    let log = open_inputs(&filter.paths, Some(&query))?;
    let mut problems = Problems::default();
    let mut out = stdout();
    let mut buf = Vec::with_capacity(4096);
    if format == Format::Table {
        writeln!(out, "{header}")?;
    }
    for_each(&log, &mut problems, |item| {
        match item {
            Item::Event(ev) if query.matches(&ev) => {
                buf.clear();
                match format {
                    Format::Json => monitor_user::sink::events::write_line(&ev, &mut buf),
                    Format::Table => row(&ev, &mut buf),
                }
                out.write_all(&buf)?;
            }
            Item::Event(_) => {}
            Item::Loss(source, n) => {
                eprintln!("note: {n} events lost here when recording ({source:?})");
            }
        }
        Ok(true)
    })?;
    finish(out)?;
    Ok(problems.exit_code())
}

fn table_header() -> String {
    format!(
        "{:<30} {:<16} {:>7} {:<13} {:<15} DETAILS",
        "TIME", "CONTAINER", "PID", "TYPE", "PROCESS"
    )
}

fn table_row(ev: &Event, out: &mut Vec<u8>) {
    let c = &ev.container;
    let container = c.name.as_deref().unwrap_or(&c.id);
    let _ = writeln!(
        out,
        "{:<30} {:<16} {:>7} {:<13} {:<15} {}",
        rfc3339(ev.wall_ns),
        clip(container, 16),
        ev.process.pid,
        clip(ev.evt_type(), 13),
        clip(&ev.process.name, 15),
        details(ev)
    );
}

fn clip(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The one thing worth reading about the event.
pub fn details(ev: &Event) -> String {
    let p = &ev.process;
    match &ev.data {
        Data::Exec(_) => format!(
            "{} {}",
            p.exec
                .exepath
                .as_deref()
                .or(p.exec.exe.as_deref())
                .unwrap_or(&p.name),
            p.exec.args.join(" ")
        )
        .trim_end()
        .to_owned(),
        Data::Clone(c) => format!("child {} {}", c.child_pid, c.flags_text),
        Data::Exit(x) if x.signal != 0 => format!("killed by signal {}", x.signal),
        Data::Exit(x) => format!("status {}", x.status),
        Data::Syscall(s) => {
            let what = s.fd_name.clone().unwrap_or_else(|| {
                s.args
                    .iter()
                    .map(|a| format!("{}={}", a.name, arg_text(&a.value)))
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            format!("{what} = {}", s.res)
        }
        Data::ModuleLoad { name } => name.clone(),
        Data::CgroupMkdir(g) | Data::CgroupRmdir(g) => g.path.clone(),
        Data::ContainerStats(st) => st
            .values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        Data::OomKill {
            victim_pid,
            victim_name,
        } => format!(
            "victim {victim_pid} {}",
            victim_name.as_deref().unwrap_or("")
        ),
        Data::Dns(d) => dns_line(d),
        Data::Throttled(t) => format!(
            "{} {} events held back by the {} over {} ms",
            t.count,
            t.kind,
            t.by.name(),
            t.window_ns / 1_000_000
        ),
    }
}

/// A DNS message as a responder reads it: "resolved c2.example.com ->
/// 203.0.113.7", "query c2.example.com A", "c2.example.com: NXDOMAIN".
pub fn dns_line(d: &monitor_user::event::DnsData) -> String {
    if let Some(e) = &d.error {
        return format!("not DNS ({e})");
    }
    if !d.response {
        return format!("query {} {}", d.name, d.qtype);
    }
    let rcode = d.rcode.as_deref().unwrap_or("NOERROR");
    if rcode != "NOERROR" {
        return format!("{} {}: {rcode}", d.name, d.qtype);
    }
    if d.answers.is_empty() {
        return format!("{} {}: no answer", d.name, d.qtype);
    }
    let data: Vec<&str> = d.answers.iter().map(|a| a.data.as_str()).collect();
    format!("resolved {} -> {}", d.name, data.join(", "))
}

fn arg_text(v: &monitor_user::event::sysargs::ArgValue) -> String {
    use monitor_user::event::sysargs::ArgValue::*;
    match v {
        Int(i) => i.to_string(),
        Uint(u) => u.to_string(),
        Str(s) => s.clone(),
        Flags { text, .. } => text.clone(),
    }
}
