//! What `vigil rules check` and `vigil rules list` print. The binary only
//! prints these and picks the exit status from [`CheckOutcome::ok`].

use std::fmt::Write;
use std::path::Path;

use crate::ruleset::{LoadOptions, LoadReport, RuleSet};

/// Result of checking rule files.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    /// True when every file loaded (exit 0); false means exit 1.
    pub ok: bool,
    /// Lines to print: errors (`file:line:column: message`), or skips,
    /// warnings, the skips grouped by reason and required plugins, then
    /// the summary.
    pub lines: Vec<String>,
}

/// Validate files and directories as `vigil rules check PATH...` does.
pub fn check<P: AsRef<Path>>(paths: &[P], strict: bool) -> CheckOutcome {
    let opts = LoadOptions {
        strict,
        ..LoadOptions::default()
    };
    match RuleSet::load_paths(paths, &opts) {
        Ok((_, report)) => {
            let mut lines: Vec<String> = report.skipped.iter().map(|s| s.to_string()).collect();
            lines.extend(
                report
                    .warnings
                    .iter()
                    .map(|w| format!("{}: warning: {}", w.pos, w.message)),
            );
            let groups = report.skips_by_reason();
            if !groups.is_empty() {
                lines.push(format!(
                    "skipped {} rule(s), by reason:",
                    report.skipped.len()
                ));
                for (reason, rules) in groups {
                    lines.push(format!(
                        "  {:>3}  {reason}: {}",
                        rules.len(),
                        rules.join(", ")
                    ));
                }
            }
            for (name, version) in &report.required_plugins {
                lines.push(format!(
                    "note: the files require Falco plugin '{name}' {version}: vigil loads no plugins: fields it supplies itself (container.*, ...) work, rules of plugin sources are skipped"
                ));
            }
            lines.push(format!("ok: {}", report.summary()));
            CheckOutcome { ok: true, lines }
        }
        Err(e) => {
            let mut lines: Vec<String> = match e.diagnostics() {
                [] => vec![e.to_string()],
                d => d.iter().map(|d| d.to_string()).collect(),
            };
            let n = lines.len();
            lines.push(format!("{n} error(s)"));
            CheckOutcome { ok: false, lines }
        }
    }
}

/// The table `vigil rules list` prints: one line per rule with its
/// priority, state, event types and tags, then the load summary.
pub fn list(set: &RuleSet, report: &LoadReport) -> String {
    let rows: Vec<[String; 5]> = set
        .rules()
        .iter()
        .map(|r| {
            let types = match r.evt_types() {
                Some(t) => t.collect::<Vec<_>>().join(","),
                None => "*".to_owned(),
            };
            [
                r.name().to_owned(),
                r.priority().to_string(),
                if r.enabled() { "enabled" } else { "disabled" }.to_owned(),
                types,
                r.tags().join(","),
            ]
        })
        .collect();
    let header = ["RULE", "PRIORITY", "STATE", "EVT.TYPE", "TAGS"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header.map(str::to_owned)).chain(rows) {
        let mut line = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                let _ = write!(line, "{c:<w$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = writeln!(out, "{}", report.summary());
    out
}
