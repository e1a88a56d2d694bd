//! `vigil rules`: check rule files and list what a run would load. The
//! binary parses [`RulesCmd`] and calls [`run`]; the exit status is 0 when
//! everything loaded, 1 otherwise.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use monitor_rules::{LoadOptions, RuleSet};
use monitor_user::detect::{error_lines, sensor_needs, unhooked_lines, RuleSpec};

#[derive(Subcommand, Debug)]
pub enum RulesCmd {
    /// Validate rule files and directories.
    ///
    /// Loads the files in order (a directory's *.yaml/*.yml sorted by name;
    /// later files append to and override earlier ones, as in Falco) and
    /// prints `file:line:column: message` for every error: YAML errors,
    /// unknown fields, macros or lists, type errors, bad regexes. Rules
    /// using Falco fields vigil does not supply are skipped with one line
    /// each. Exit status 0 if the files load, else 1.
    Check(CheckArgs),
    /// List the rules `vigil run` would load with the same options.
    ///
    /// One line per rule: name, priority, enabled or disabled, the event
    /// types it is indexed under (`*`: any) and its tags; then the counts.
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Rule files or directories.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Treat rules that need fields vigil does not supply as errors
    /// instead of skipping them.
    #[arg(long)]
    pub strict: bool,
    /// Check the files on top of the embedded default rules (so they may
    /// use the defaults' macros and lists, and append to them).
    #[arg(long)]
    pub with_defaults: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Extra rule files or directories, loaded after the defaults (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Leave out the embedded default rules.
    #[arg(long)]
    pub no_default_rules: bool,
}

/// Run a `vigil rules` command, printing to stdout. Returns whether it succeeded.
pub fn run(cmd: RulesCmd) -> bool {
    match cmd {
        RulesCmd::Check(a) if !a.with_defaults => {
            let out = monitor_rules::check(&a.paths, a.strict);
            let (summary, rest) = out.lines.split_last().expect("check prints a summary");
            for l in rest {
                println!("{l}");
            }
            // Rules that load but watch syscalls vigil does not hook.
            if out.ok {
                if let Ok((set, _)) = RuleSet::load_paths(&a.paths, &LoadOptions::default()) {
                    unhooked_lines(&set).iter().for_each(|l| println!("{l}"));
                    // ...and rules the open filter cannot serve.
                    print_sensing_notes(&set);
                }
            }
            println!("{summary}");
            out.ok
        }
        RulesCmd::Check(a) => report(
            &RuleSpec {
                paths: a.paths,
                no_defaults: false,
                strict: a.strict,
            },
            false,
        ),
        RulesCmd::List(a) => report(
            &RuleSpec {
                paths: a.rules,
                no_defaults: a.no_default_rules,
                strict: false,
            },
            true,
        ),
    }
}

fn report(spec: &RuleSpec, list: bool) -> bool {
    match spec.load() {
        Ok((set, report)) => {
            for s in &report.skipped {
                println!("{s}");
            }
            for w in &report.warnings {
                println!("{}: warning: {}", w.pos, w.message);
            }
            unhooked_lines(&set).iter().for_each(|l| println!("{l}"));
            print_sensing_notes(&set);
            if list {
                print!("{}", monitor_rules::list(&set, &report));
            } else {
                println!("ok: {}", report.summary());
            }
            true
        }
        Err(e) => {
            let lines = error_lines(&e);
            for l in &lines {
                println!("{l}");
            }
            println!("{} error(s)", lines.len());
            false
        }
    }
}

/// Rules the open filter cannot fully serve, except the embedded defaults'
/// (documented in docs/rules.md; `vigil run` logs them at debug level).
fn print_sensing_notes(set: &RuleSet) {
    for n in sensor_needs(set).notes.iter().filter(|n| !n.default_rule) {
        println!("{n}");
    }
}
