//! vigil's rules engine: Falco's rule file format and condition language,
//! compiled into a matcher indexed by event type.
//!
//! Loading runs in named phases, each in its own module: **read**
//! (`yaml`: YAML to positioned nodes), **collect** (`collect`: items,
//! `append`/`override`), **compile** (`compile`: macros, lists, exceptions,
//! fields, types → `expr`). Every problem is a [`Diagnostic`] naming
//! `file:line:column`.
//!
//! ```
//! use monitor_rules::{RuleSet, RuleSource, LoadOptions};
//! let src = RuleSource::new("r.yaml", r#"
//! - rule: shell
//!   desc: a shell ran
//!   condition: evt.type = execve and proc.name in (sh, bash)
//!   output: "shell %proc.name"
//!   priority: WARNING
//! "#);
//! let (set, report) = RuleSet::load(&[src], &LoadOptions::default()).unwrap();
//! assert_eq!(report.loaded, 1);
//! assert_eq!(set.candidates_for("openat"), 0);
//! ```

mod action;
mod cli;
mod collect;
mod compile;
mod error;
mod evtype;
mod expr;
mod field;
pub use field::resource;
mod filter;
mod index;
mod net;
mod output;
mod parse;
mod priority;
mod ruleset;
mod transform;
mod value;
mod yaml;

pub use action::{Action, Capture, Enforce};
pub use cli::{check, list, CheckOutcome};
pub use compile::Skip;
pub use error::{DiagKind, Diagnostic, Pos, RulesError};
pub use expr::{ContextMemo, OpenPaths, PathNeed, PathPattern};
pub use field::{Field, FieldArg, FieldId, FieldType, Lookup};
pub use filter::{Filter, CONDITION_SOURCE};
pub use output::OutputTemplate;
pub use parse::{parse_condition, Ast, Op, SyntaxError, Xform};
pub use priority::Priority;
pub use ruleset::{CompiledRule, LoadOptions, LoadReport, Matching, RuleSet, RuleSource};
pub use value::{FieldSource, StrList, Value};
