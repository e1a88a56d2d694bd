//! `vigil log verify`: the recorder's integrity check over each input, with
//! a summary a person can act on; exit status 1 when anything is damaged.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use monitor_user::event::rfc3339;

use super::{finish, stdout};

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Log directories and/or segment files.
    #[arg(required = true, value_name = "DIR|FILE")]
    pub paths: Vec<PathBuf>,
}

pub fn run(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut out = stdout();
    let mut damaged = false;
    for p in &a.paths {
        let s = match monitor_recorder::verify(p) {
            Ok(s) => s,
            Err(e) => {
                writeln!(out, "{}: DAMAGED: {e}", p.display())?;
                damaged = true;
                continue;
            }
        };
        if s.segments == 0 {
            writeln!(
                out,
                "{}: DAMAGED: no log segments (expected files named like 00000000000000000001.vlog)",
                p.display()
            )?;
            damaged = true;
            continue;
        }
        damaged |= !s.is_intact();
        write!(out, "{}: {s}", p.display())?;
        if let (Some(a), Some(b)) = (s.min_ts, s.max_ts) {
            writeln!(out, "from {} to {}", rfc3339(a), rfc3339(b))?;
        }
        if !s.truncated_tails.is_empty() && s.is_intact() {
            writeln!(
                out,
                "note: {} truncated tail(s): the writer stopped mid-write (crash or still running); every complete record is intact",
                s.truncated_tails.len()
            )?;
        }
    }
    finish(out)?;
    Ok(if damaged {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
