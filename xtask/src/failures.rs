//! The failed tests of a `cargo test` run, read from its output as it
//! passes through, so the suite's summary can name them.
//!
//! CI keeps only the tail of a run's output, and a failed test's message
//! is printed far above it, in the middle of thousands of lines. The
//! summary repeats each failed test's name and where and why it panicked.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// One failed test: its name and the lines that say why.
#[derive(Debug, PartialEq)]
pub struct Failure {
    pub test: String,
    pub why: Vec<String>,
}

/// Lines of a failure's message kept for the summary, and their length.
const WHY_LINES: usize = 4;
const LINE_CHARS: usize = 300;

/// What the summary says of a failed run: each test, then why, indented.
pub fn describe(failures: &[Failure]) -> String {
    if failures.is_empty() {
        return "cargo test failed, and named no failed test (a build error? see above)".into();
    }
    let mut s = format!("{} test(s) failed:", failures.len());
    for f in failures {
        s.push_str(&format!("\n{}", f.test));
        for why in &f.why {
            s.push_str(&format!("\n    {why}"));
        }
    }
    s
}

/// Runs `c`, copying its stdout through, and returns whether it succeeded
/// with the failures its output reported.
pub fn run(c: &mut Command) -> Result<(bool, Vec<Failure>)> {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {c:?}"))?;
    let mut reader = Reader::default();
    let stdout = child.stdout.take().expect("piped");
    let mut out = std::io::stdout().lock();
    let mut stdout = BufReader::new(stdout);
    let mut line = Vec::new();
    // Bytes pass through as they are; the parser sees them as text.
    while stdout
        .read_until(b'\n', &mut line)
        .context("reading cargo test")?
        > 0
    {
        let _ = out.write_all(&line);
        let text = String::from_utf8_lossy(&line);
        reader.line(text.trim_end_matches(['\n', '\r']));
        line.clear();
    }
    let status = child.wait().with_context(|| format!("{c:?}"))?;
    reader.close();
    Ok((status.success(), reader.failures))
}

/// The parser: a test binary prints `---- NAME stdout ----`, that test's
/// captured output, and then the next such header or `failures:`.
#[derive(Default)]
struct Reader {
    failures: Vec<Failure>,
    /// The open section's lines, if one is open.
    section: Option<Vec<String>>,
    /// The open section's backtrace began: what follows is not kept.
    backtrace: bool,
}

impl Reader {
    fn line(&mut self, line: &str) {
        let header = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"));
        if header.is_some() || line == "failures:" {
            self.close();
        }
        if let Some(test) = header {
            self.failures.push(Failure {
                test: test.to_owned(),
                why: Vec::new(),
            });
            self.section = Some(Vec::new());
            self.backtrace = false;
        } else if let Some(lines) = &mut self.section {
            let line = line.trim();
            self.backtrace |= line == "stack backtrace:";
            if !self.backtrace
                && !line.is_empty()
                && !line.starts_with("note: run with `RUST_BACKTRACE")
            {
                lines.push(line.to_owned());
            }
        }
    }

    /// Why the open section's test failed: from its panic on, or (a test
    /// that returned an error) its last lines.
    fn close(&mut self) {
        let Some(lines) = self.section.take() else {
            return;
        };
        let from = match lines.iter().rposition(|l| l.contains("panicked at")) {
            Some(at) => at,
            None => lines.len().saturating_sub(WHY_LINES),
        };
        let why = lines
            .into_iter()
            .skip(from)
            .take(WHY_LINES)
            .map(|mut l| {
                if l.len() > LINE_CHARS {
                    let cut = (0..=LINE_CHARS).rev().find(|&i| l.is_char_boundary(i));
                    l.truncate(cut.unwrap_or(0));
                    l.push_str(" [...]");
                }
                l
            })
            .collect();
        self.failures.last_mut().expect("a section has a test").why = why;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_tests_are_named_with_their_panic() {
        let mut r = Reader::default();
        for l in [
            "test a ... ok",
            "test b::c ... FAILED",
            "",
            "failures:",
            "",
            "---- b::c stdout ----",
            "some output of the test",
            "thread 'b::c' panicked at tests/x.rs:3:5:",
            "the alert: {\"rule\": 1}",
            "note: run with `RUST_BACKTRACE=1`",
            "more",
            "stack backtrace:",
            "   0: __rustc::rust_begin_unwind",
            "---- d stdout ----",
            "no panic line here",
            "",
            "failures:",
            "    b::c",
            "    d",
            "test result: FAILED. 1 passed; 2 failed",
        ] {
            r.line(l);
        }
        assert_eq!(
            r.failures,
            [
                Failure {
                    test: "b::c".into(),
                    why: vec![
                        "thread 'b::c' panicked at tests/x.rs:3:5:".into(),
                        "the alert: {\"rule\": 1}".into(),
                        "more".into(),
                    ],
                },
                Failure {
                    test: "d".into(),
                    why: vec!["no panic line here".into()],
                },
            ]
        );
    }
}
