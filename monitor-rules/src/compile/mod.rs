//! Compile phase: parses conditions, expands macros and lists, turns
//! exceptions into condition terms as Falco does, resolves fields against
//! the catalog, type-checks operators and operands, and lowers everything
//! into the [`Expr`] matcher. Problems become diagnostics mapped back to
//! `file:line:column`; rules that need fields vigil lacks become skips.
//! Exceptions live in `exceptions`, operator/type checking in `typing`.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use crate::collect::{Collected, RuleDef};
use crate::error::{DiagKind, Diagnostic, Pos};
use crate::expr::Expr;
use crate::field::{Field, FieldType, Lookup};
use crate::output::OutputTemplate;
use crate::parse::{parse_condition, parse_list_item, Ast, Lit, Rhs, Span};
use crate::yaml::{Node, NodeKind, SourceMap, Style};

mod check;
mod exceptions;
mod typing;

/// Deepest macro nesting accepted.
const MAX_MACRO_DEPTH: usize = 64;
/// Most nodes a rule's condition may have after macro expansion (macros
/// that use each other twice per level grow exponentially).
const MAX_EXPANDED_NODES: usize = 200_000;

/// A rule left out of the set, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub pos: Pos,
    pub rule: String,
    pub reason: String,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: rule '{}' skipped: {}",
            self.pos, self.rule, self.reason
        )
    }
}

/// A rule compiled successfully (the public wrapper lives in `ruleset`).
pub(crate) struct Compiled {
    pub name: String,
    pub pos: Pos,
    pub desc: String,
    pub priority: crate::Priority,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub source: String,
    pub expr: Expr,
    pub output: OutputTemplate,
    pub evt_types: Option<BTreeSet<Box<str>>>,
    pub capture: Option<crate::action::Capture>,
    pub enforce: Option<crate::action::Enforce>,
}

/// The texts conditions were parsed from, each a run of scalar nodes
/// joined by one space, so a span maps back to a node and an offset in it.
#[derive(Default)]
struct Texts {
    segs: Vec<Vec<(usize, Node)>>,
}

impl Texts {
    fn add(&mut self, nodes: &[Node]) -> (u32, String) {
        let mut text = String::new();
        let mut segs = Vec::new();
        for n in nodes {
            if !text.is_empty() {
                text.push(' ');
            }
            segs.push((text.len(), n.clone()));
            text.push_str(n.as_str().unwrap_or(""));
        }
        self.segs.push(segs);
        ((self.segs.len() - 1) as u32, text)
    }

    fn pos(&self, sm: &SourceMap, text: u32, off: usize) -> Pos {
        let segs = &self.segs[text as usize];
        let (start, node) = segs
            .iter()
            .rev()
            .find(|(s, _)| *s <= off)
            .unwrap_or(&segs[0]);
        let value = node.as_str().unwrap_or("");
        let local = (off - start).min(value.len());
        let local = (0..=local)
            .rev()
            .find(|&i| value.is_char_boundary(i))
            .unwrap_or(0);
        sm.pos_in_scalar(node, value[..local].chars().count())
    }
}

pub(crate) struct Compiler<'a> {
    sm: &'a SourceMap,
    col: &'a Collected,
    texts: Texts,
    macros: HashMap<String, Option<Rc<Ast>>>,
    lists: HashMap<String, Rc<Vec<Lit>>>,
    check_keys: HashMap<String, u32>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// Per-rule state while lowering.
#[derive(Default)]
struct RuleCtx {
    errors: Vec<Diagnostic>,
    unsupported: Option<String>,
    skip_unknown: bool,
}

impl<'a> Compiler<'a> {
    pub fn new(sm: &'a SourceMap, col: &'a Collected) -> Self {
        Compiler {
            sm,
            col,
            texts: Texts::default(),
            macros: HashMap::new(),
            lists: HashMap::new(),
            check_keys: HashMap::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn span_pos(&self, s: Span) -> Pos {
        self.texts.pos(self.sm, s.text, s.off as usize)
    }

    fn diag(&self, s: Span, kind: DiagKind, message: String) -> Diagnostic {
        Diagnostic {
            pos: self.span_pos(s),
            kind,
            message,
        }
    }

    /// A syntax error in condition text `id`, reported for `what`
    /// (`rule 'x'`).
    fn syntax(&self, id: u32, e: &crate::SyntaxError, what: &str) -> Diagnostic {
        let at = Span {
            text: id,
            off: e.off as u32,
        };
        self.diag(at, DiagKind::Syntax, format!("{what}: {}", e.message))
    }

    /// Parse every macro once, and check the field names it uses.
    pub fn macros(&mut self) {
        for m in &self.col.macros.items {
            let (id, text) = self.texts.add(&m.cond);
            match parse_condition(&text, id) {
                Ok(ast) => {
                    if m.source == "syscall" {
                        self.check_field_names(&ast);
                    }
                    self.macros.insert(m.name.clone(), Some(Rc::new(ast)));
                }
                Err(e) => {
                    let d = self.syntax(id, &e, &format!("macro '{}'", m.name));
                    self.errors.push(d);
                    self.macros.insert(m.name.clone(), None);
                }
            }
        }
    }

    fn check_field_names(&mut self, ast: &Ast) {
        match ast {
            Ast::And(v) | Ast::Or(v) => v.iter().for_each(|a| self.check_field_names(a)),
            Ast::Not(a) => self.check_field_names(a),
            Ast::Macro { .. } => {}
            Ast::Check {
                field, arg, span, ..
            } => {
                if let Lookup::Unknown(msg) = Field::lookup(field, arg.as_deref()) {
                    let d = self.diag(*span, DiagKind::UnknownField, msg);
                    self.errors.push(d);
                }
            }
        }
    }

    /// Compile one rule: `Ok(Some)` compiled, `Ok(None)` errors recorded,
    /// `Err(skip)` unsupported by vigil.
    pub fn rule(&mut self, r: &RuleDef) -> Result<Option<Compiled>, Skip> {
        let rule_pos = self.sm.node_pos(&r.pos);
        let skip = |reason: String| Skip {
            pos: rule_pos.clone(),
            rule: r.name.clone(),
            reason,
        };
        if r.source != "syscall" {
            return Err(skip(format!(
                "source '{}' is not supported by vigil",
                r.source
            )));
        }
        let (id, text) = self.texts.add(&r.cond);
        let ast = match parse_condition(&text, id) {
            Ok(a) => a,
            Err(e) => {
                let d = self.syntax(id, &e, &format!("rule '{}'", r.name));
                self.errors.push(d);
                return Ok(None);
            }
        };
        let mut stack = Vec::new();
        let mut budget = MAX_EXPANDED_NODES;
        let ast = match self.expand(&ast, &mut stack, &mut budget) {
            Ok(a) => a,
            Err(d) => {
                self.errors.push(d);
                return Ok(None);
            }
        };
        let ast = match self.exceptions(r) {
            Ok(Some(ex)) => Ast::And(vec![ast, Ast::Not(Box::new(ex))]),
            Ok(None) => ast,
            Err(d) => {
                self.errors.push(d);
                return Ok(None);
            }
        };
        let mut ctx = RuleCtx {
            skip_unknown: r.skip_if_unknown_filter,
            ..Default::default()
        };
        let expr = self.lower(&ast, &mut ctx);
        let output = match &r.output {
            Some(n) => match OutputTemplate::compile(n.as_str().unwrap_or("")) {
                Ok(t) => Some(t),
                Err(errs) => {
                    let value = n.as_str().unwrap_or("");
                    for e in errs {
                        let ch = value[..e.off.min(value.len())].chars().count();
                        ctx.errors.push(Diagnostic {
                            pos: self.sm.pos_in_scalar(n, ch),
                            kind: DiagKind::UnknownField,
                            message: e.message,
                        });
                    }
                    None
                }
            },
            None => None,
        };
        if !ctx.errors.is_empty() {
            self.errors.append(&mut ctx.errors);
            return Ok(None);
        }
        if let Some(f) = ctx.unsupported {
            return Err(skip(f));
        }
        let expr = expr
            .expect("no errors means an expression")
            .optimize()
            .merge_alternatives(&mut |text| self.key(text));
        let evt_types = crate::evtype::event_types(&expr);
        if evt_types.is_none() && r.enabled && r.warn_evttypes {
            self.warnings.push(Diagnostic {
                pos: rule_pos.clone(),
                kind: DiagKind::Warning,
                message: format!(
                    "rule '{}' does not restrict evt.type: it is checked against every event",
                    r.name
                ),
            });
        }
        Ok(Some(Compiled {
            name: r.name.clone(),
            pos: rule_pos,
            desc: r.desc.clone(),
            priority: r.priority,
            tags: r.tags.clone(),
            enabled: r.enabled,
            source: r.source.clone(),
            expr,
            output: output.unwrap_or_else(|| OutputTemplate::compile("").expect("empty template")),
            evt_types,
            capture: r.capture.then_some(crate::action::Capture {
                duration_ms: r.capture_duration,
            }),
            enforce: r.enforce.clone(),
        }))
    }

    fn expand(
        &mut self,
        ast: &Ast,
        stack: &mut Vec<String>,
        budget: &mut usize,
    ) -> Result<Ast, Diagnostic> {
        if *budget == 0 {
            let span = match ast {
                Ast::Macro { span, .. } | Ast::Check { span, .. } => *span,
                _ => Span { text: 0, off: 0 },
            };
            return Err(self.diag(
                span,
                DiagKind::Syntax,
                format!("condition has more than {MAX_EXPANDED_NODES} terms after macro expansion"),
            ));
        }
        *budget -= 1;
        Ok(match ast {
            Ast::And(v) => Ast::And(
                v.iter()
                    .map(|a| self.expand(a, stack, budget))
                    .collect::<Result<_, _>>()?,
            ),
            Ast::Or(v) => Ast::Or(
                v.iter()
                    .map(|a| self.expand(a, stack, budget))
                    .collect::<Result<_, _>>()?,
            ),
            Ast::Not(a) => Ast::Not(Box::new(self.expand(a, stack, budget)?)),
            Ast::Check { .. } => ast.clone(),
            Ast::Macro { name, span } => {
                if stack.contains(name) {
                    return Err(self.diag(
                        *span,
                        DiagKind::UnknownMacro,
                        format!(
                            "macro '{name}' refers to itself (through {})",
                            stack.join(" -> ")
                        ),
                    ));
                }
                if stack.len() >= MAX_MACRO_DEPTH {
                    return Err(self.diag(
                        *span,
                        DiagKind::UnknownMacro,
                        "macros are nested too deeply".into(),
                    ));
                }
                let body = match self.macros.get(name) {
                    Some(Some(b)) => b.clone(),
                    // Its syntax error is already reported; report the use too.
                    Some(None) => {
                        return Err(self.diag(
                            *span,
                            DiagKind::Syntax,
                            format!("macro '{name}' has a syntax error"),
                        ))
                    }
                    None => {
                        let hint = if self.col.lists.get(name).is_some() {
                            format!(" ('{name}' is a list; use it as 'field in ({name})')")
                        } else {
                            String::new()
                        };
                        return Err(self.diag(
                            *span,
                            DiagKind::UnknownMacro,
                            format!("unknown macro '{name}'{hint}"),
                        ));
                    }
                };
                stack.push(name.clone());
                let r = self.expand(&body, stack, budget);
                stack.pop();
                r?
            }
        })
    }

    /// A list's values, with nested list names expanded.
    fn list_values(&mut self, name: &str, stack: &mut Vec<String>) -> Rc<Vec<Lit>> {
        if let Some(v) = self.lists.get(name) {
            return v.clone();
        }
        let Some(def) = self.col.lists.get(name) else {
            return Rc::new(Vec::new());
        };
        stack.push(name.to_owned());
        let mut out = Vec::new();
        for item in &def.items {
            let raw = item.as_str().unwrap_or("");
            let is_plain = matches!(&item.kind, NodeKind::Scalar(_, Style::Plain));
            if is_plain && !stack.iter().any(|s| s == raw) && self.col.lists.get(raw).is_some() {
                out.extend(self.list_values(raw, stack).iter().cloned());
                continue;
            }
            let (id, _) = self.texts.add(std::slice::from_ref(item));
            out.push(Lit {
                text: parse_list_item(raw),
                bare: false,
                span: Span { text: id, off: 0 },
            });
        }
        stack.pop();
        let rc = Rc::new(out);
        self.lists.insert(name.to_owned(), rc.clone());
        rc
    }

    /// A defined list whose name is one or two edits from `s` (a likely
    /// typo: an unknown bare name in `in (...)` is a literal, as in Falco).
    fn near_list_name(&self, s: &str) -> Option<String> {
        if s.len() < 6 || s.len() > 64 {
            return None;
        }
        self.col
            .lists
            .names()
            .filter(|n| n.len().abs_diff(s.len()) <= 2)
            .map(|n| (edit_distance(s, n), n))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, n)| n.to_owned())
    }

    fn rhs_values(&mut self, rhs: &Rhs) -> Vec<Lit> {
        match rhs {
            Rhs::None | Rhs::Field { .. } => Vec::new(),
            Rhs::Value(l) => vec![l.clone()],
            Rhs::List(items) => {
                let mut out = Vec::new();
                for l in items {
                    if l.bare && self.col.lists.get(&l.text).is_some() {
                        out.extend(self.list_values(&l.text, &mut Vec::new()).iter().cloned());
                    } else {
                        if let Some(near) = l.bare.then(|| self.near_list_name(&l.text)).flatten() {
                            let w = self.diag(
                                l.span,
                                DiagKind::Warning,
                                format!("'{}' is not a defined list (did you mean '{near}'?); it is compared as a literal value", l.text),
                            );
                            if !self.warnings.contains(&w) {
                                self.warnings.push(w);
                            }
                        }
                        out.push(l.clone());
                    }
                }
                out
            }
        }
    }

    /// Interned identity of a check's meaning (for sharing across rules).
    fn key(&mut self, text: String) -> u32 {
        let next = self.check_keys.len() as u32;
        *self.check_keys.entry(text).or_insert(next)
    }

    /// Resolve a field. `Err(Some(placeholder))`: vigil lacks it (the rule
    /// will be skipped); `Err(None)`: an error was recorded.
    fn resolve(
        &self,
        field: &str,
        arg: Option<&str>,
        span: Span,
        ctx: &mut RuleCtx,
    ) -> Result<(Field, FieldType), Option<Expr>> {
        match Field::lookup(field, arg) {
            Lookup::Supported(f, ty) => Ok((f, ty)),
            Lookup::Unsupported => {
                let full = match arg {
                    Some(a) => format!("{field}[{a}]"),
                    None => field.to_owned(),
                };
                ctx.unsupported
                    .get_or_insert_with(|| format!("field '{full}' is not supported by vigil"));
                Err(Some(Expr::Const(false)))
            }
            Lookup::Unknown(msg) => {
                if ctx.skip_unknown {
                    ctx.unsupported
                        .get_or_insert_with(|| format!("{msg} (skip-if-unknown-filter)"));
                    return Err(Some(Expr::Const(false)));
                }
                ctx.errors
                    .push(self.diag(span, DiagKind::UnknownField, msg));
                Err(None)
            }
        }
    }

    fn lower(&mut self, ast: &Ast, ctx: &mut RuleCtx) -> Option<Expr> {
        match ast {
            Ast::And(v) => {
                let items: Vec<_> = v.iter().map(|a| self.lower(a, ctx)).collect();
                items
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(|v| Expr::And(v.into()))
            }
            Ast::Or(v) => {
                let items: Vec<_> = v.iter().map(|a| self.lower(a, ctx)).collect();
                items
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(|v| Expr::Or(v.into()))
            }
            Ast::Not(a) => self.lower(a, ctx).map(|e| Expr::Not(Box::new(e))),
            Ast::Macro { span, name } => {
                ctx.errors.push(self.diag(
                    *span,
                    DiagKind::UnknownMacro,
                    format!("unknown macro '{name}'"),
                ));
                None
            }
            Ast::Check {
                field,
                arg,
                xf,
                span,
                op,
                op_span,
                rhs,
            } => self.lower_check((field, arg.as_deref(), xf), *span, *op, *op_span, rhs, ctx),
        }
    }
}

/// Edit distance, for "did you mean" hints (short inputs only).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
