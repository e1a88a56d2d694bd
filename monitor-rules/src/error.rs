//! Error and diagnostic types: every problem found in a rule file is a
//! [`Diagnostic`] naming `file:line:column` and what is wrong; loading fails
//! with [`RulesError`] carrying all of them (not only the first).

use std::fmt;
use std::path::PathBuf;

/// A position in a rule file (line and column are 1-based; columns count
/// characters, not bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: std::sync::Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// What kind of problem a diagnostic reports (lets tests and callers match
/// on the class of error without parsing the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagKind {
    /// The file is not valid YAML (or not UTF-8).
    Yaml,
    /// The YAML is valid but does not have the rule file's shape
    /// (unknown item or key, wrong node type, missing key).
    Schema,
    /// The condition or output text does not parse.
    Syntax,
    /// A field name that neither vigil nor Falco knows.
    UnknownField,
    /// A macro referenced but never defined, or a macro cycle.
    UnknownMacro,
    /// `append`/`override` of a list that does not exist.
    UnknownList,
    /// `append`/`override` of a rule or macro that does not exist.
    UnknownRule,
    /// Operator or value does not fit the field's type.
    Type,
    /// A regular expression or glob that does not compile.
    Regex,
    /// A priority that is not one of Falco's levels.
    Priority,
    /// A rule skipped because it needs something vigil lacks (a field or
    /// a source); an error only in strict mode.
    Unsupported,
    /// Not an error: something worth telling the author.
    Warning,
}

/// One problem found in a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub pos: Pos,
    pub kind: DiagKind,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

/// Why a rule set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more problems in the rule files, each `file:line:column: message`.
    #[error("{}", join_lines(.0))]
    Invalid(Vec<Diagnostic>),
}

impl RulesError {
    /// The diagnostics, if the error is about the content of the files.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            RulesError::Invalid(d) => d,
            RulesError::Io { .. } => &[],
        }
    }
}

fn join_lines(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
