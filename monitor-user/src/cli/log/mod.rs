//! The responder's side of the flight recorder, as CLI commands: `vigil
//! log show|query|export|net|tree|stats|verify`, `vigil replay`, and the
//! `--record*` flags of `vigil run`. Each subcommand is one file; this one
//! owns the shared arguments (inputs, filters) and the reporting of damaged
//! input: every read problem is printed with file and offset, reading goes
//! on, and the exit status is non-zero when the input was damaged (a torn
//! tail alone, what a crash leaves, is only a warning).

mod net;
mod show;
mod stats;
mod tree;
mod verify;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use monitor_recorder::{Body, EventReader, LogReader, LossSource, ReadError};
use monitor_user::event::Event;
use monitor_user::sink::recorder::open_log;

pub use super::args::FilterArgs;

#[derive(Subcommand)]
pub enum LogCmd {
    /// Print recorded events as a readable table (or JSON lines with --format json).
    Show(show::ShowArgs),
    /// Print recorded events as JSON lines, as `vigil run --events` writes them
    /// (or a table with --format table).
    Query(show::ShowArgs),
    /// Export recorded events as JSON lines (the `vigil run --events` schema).
    Export(FilterArgs),
    /// Network activity: connections (client -> server), accepts, listeners,
    /// UDP flows and packet/raw sockets, with their results.
    Net(net::NetArgs),
    /// The process tree of a container or a pid, with exec arguments and times.
    Tree(tree::TreeArgs),
    /// Events per type and per container, time span, losses recorded.
    Stats(stats::StatsArgs),
    /// Integrity check of every segment; exit status 1 on damage.
    Verify(verify::VerifyArgs),
}

pub fn run(cmd: LogCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        LogCmd::Show(a) => show::run(a, show::Format::Table),
        LogCmd::Query(a) => show::run(a, show::Format::Json),
        LogCmd::Export(a) => show::export(a),
        LogCmd::Net(a) => net::run(a),
        LogCmd::Tree(a) => tree::run(a),
        LogCmd::Stats(a) => stats::run(a),
        LogCmd::Verify(a) => verify::run(a),
    }
}

/// Opens the inputs, refusing an input that holds no segment at all.
pub(super) fn open_inputs(
    paths: &[PathBuf],
    filter: Option<&monitor_user::pipeline::query::Query>,
) -> anyhow::Result<LogReader> {
    for p in paths {
        if p.is_dir() {
            let n = LogReader::open(p)
                .with_context(|| format!("{}", p.display()))?
                .segments()
                .len();
            anyhow::ensure!(
                n > 0,
                "{}: no log segments in this directory (expected files named like 00000000000000000001.vlog)",
                p.display()
            );
        }
    }
    let log = open_log(paths)?;
    Ok(match filter {
        Some(q) => log.time_range(q.time_range()),
        None => log,
    })
}

/// Read problems met so far, and the exit status they imply.
#[derive(Default)]
pub(super) struct Problems {
    damage: u64,
    tails: u64,
}

impl Problems {
    pub(super) fn report(&mut self, e: &ReadError) {
        if e.is_truncated_tail() {
            self.tails += 1;
            eprintln!("warning: {e}");
        } else {
            self.damage += 1;
            eprintln!("error: {e}");
        }
    }

    pub(super) fn exit_code(&self) -> ExitCode {
        if self.damage > 0 {
            eprintln!(
                "error: the input is damaged ({} problem{}); everything readable was processed",
                self.damage,
                if self.damage == 1 { "" } else { "s" }
            );
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// What one pass over a log hands to a command.
enum Item {
    Event(Box<Event>),
    Loss(LossSource, u64),
}

/// Streams the log's events and loss markers to `f` (which returns false to
/// stop early), reporting problems as they come.
fn for_each(
    log: &LogReader,
    problems: &mut Problems,
    mut f: impl FnMut(Item) -> io::Result<bool>,
) -> anyhow::Result<()> {
    for item in EventReader::<Event>::new(log) {
        let go_on = match item {
            Ok(e) => match e.body {
                Body::Event(ev) => f(Item::Event(Box::new(ev))),
                Body::Loss(l) => f(Item::Loss(l.source, l.count)),
            },
            Err(e) => {
                problems.report(&e);
                Ok(true)
            }
        };
        match go_on {
            Ok(true) => {}
            Ok(false) => break,
            // `vigil log show | head`: the reader went away; not an error.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break,
            Err(e) => return Err(e).context("writing output"),
        }
    }
    Ok(())
}

/// Buffered stdout that ends quietly on a closed pipe.
fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

fn finish(mut out: impl Write) -> anyhow::Result<()> {
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("writing output"),
        _ => Ok(()),
    }
}
