//! Standalone conditions, for questions asked of events outside any rule
//! (`vigil log query 'proc.name = curl and container'`): a condition
//! compiled with the macros and lists of a loaded rule set, with the same
//! checks and `file:line:column` errors (the file is `<condition>`).

use std::collections::BTreeSet;

use crate::collect::RuleDef;
use crate::compile::Compiler;
use crate::error::{DiagKind, Diagnostic, RulesError};
use crate::expr::{Expr, Memo};
use crate::ruleset::RuleSet;
use crate::value::FieldSource;
use crate::yaml::{Node, NodeKind, Style};
use crate::Priority;

/// A compiled standalone condition.
#[derive(Debug)]
pub struct Filter {
    expr: Expr,
    evt_types: Option<BTreeSet<Box<str>>>,
}

impl Filter {
    /// Compile a condition that uses no macros or lists of a rule set.
    pub fn compile(condition: &str) -> Result<Filter, RulesError> {
        RuleSet::default().filter(condition)
    }

    pub fn matches<E: FieldSource + ?Sized>(&self, ev: &E) -> bool {
        self.expr.eval(ev, &mut Memo::new())
    }

    /// The event types the condition can match (`None`: any).
    pub fn evt_types(&self) -> Option<impl Iterator<Item = &str>> {
        self.evt_types.as_ref().map(|s| s.iter().map(|t| &**t))
    }
}

/// Name used in positions of errors in a standalone condition.
pub const CONDITION_SOURCE: &str = "<condition>";

impl RuleSet {
    /// Compile `condition` with this set's macros and lists.
    pub fn filter(&self, condition: &str) -> Result<Filter, RulesError> {
        let mut sm = self.defs.sm.clone();
        let file = sm.add(CONDITION_SOURCE, condition);
        let node = Node {
            kind: NodeKind::Scalar(condition.to_owned(), Style::Plain),
            file,
            line: 1,
            col0: 0,
        };
        let def = RuleDef {
            name: CONDITION_SOURCE.to_owned(),
            pos: node.clone(),
            desc: String::new(),
            cond: vec![node],
            output: None,
            priority: Priority::Debug,
            tags: Vec::new(),
            enabled: false,
            exceptions: Vec::new(),
            source: "syscall".to_owned(),
            skip_if_unknown_filter: false,
            warn_evttypes: false,
            capture: false,
            capture_duration: None,
            enforce: None,
        };
        let mut comp = Compiler::new(&sm, &self.defs.collected);
        comp.macros();
        match comp.rule(&def) {
            Ok(Some(c)) => Ok(Filter {
                expr: c.expr,
                evt_types: c.evt_types,
            }),
            Ok(None) => {
                let prefix = format!("rule '{CONDITION_SOURCE}': ");
                let mut errors = comp.errors;
                for d in &mut errors {
                    if let Some(m) = d.message.strip_prefix(&prefix) {
                        d.message = m.to_owned();
                    }
                }
                Err(RulesError::Invalid(errors))
            }
            Err(skip) => Err(RulesError::Invalid(vec![Diagnostic {
                pos: skip.pos,
                kind: DiagKind::Unsupported,
                message: skip.reason,
            }])),
        }
    }
}
