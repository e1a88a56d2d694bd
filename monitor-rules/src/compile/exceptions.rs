//! Falco's rule exceptions turned into condition terms: each value tuple is
//! an AND of `field comp value`, the tuples are OR-ed, and the rule's
//! condition becomes `condition and not (tuples)`.

use crate::collect::{ExceptionDef, RuleDef};
use crate::error::{DiagKind, Diagnostic};
use crate::parse::{parse_op, split_field, Ast, Lit, Op, Rhs, Span};
use crate::yaml::{Node, NodeKind, Style};

use super::Compiler;

impl Compiler<'_> {
    fn node_lit(&mut self, n: &Node) -> Lit {
        let (id, text) = self.texts.add(std::slice::from_ref(n));
        let bare = matches!(&n.kind, NodeKind::Scalar(_, Style::Plain));
        Lit {
            text,
            bare,
            span: Span { text: id, off: 0 },
        }
    }

    fn node_span(&mut self, n: &Node) -> Span {
        let (id, _) = self.texts.add(std::slice::from_ref(n));
        Span { text: id, off: 0 }
    }

    fn scalar_err(&self, n: &Node, msg: &str) -> Diagnostic {
        Diagnostic {
            pos: self.sm.node_pos(n),
            kind: DiagKind::Schema,
            message: msg.to_owned(),
        }
    }

    /// Falco's exceptions as one expression: the OR of every value tuple
    /// (each an AND of `field comp value`), to be negated and ANDed in.
    pub(super) fn exceptions(&mut self, r: &RuleDef) -> Result<Option<Ast>, Diagnostic> {
        let mut rows = Vec::new();
        for ex in &r.exceptions {
            self.exception(ex, &mut rows)?;
        }
        Ok(match rows.len() {
            0 => None,
            1 => rows.pop(),
            _ => Some(Ast::Or(rows)),
        })
    }

    fn exception(&mut self, ex: &ExceptionDef, rows: &mut Vec<Ast>) -> Result<(), Diagnostic> {
        let Some(fields) = &ex.fields else {
            return Err(
                self.scalar_err(&ex.pos, &format!("exception '{}' has no 'fields'", ex.name))
            );
        };
        match &fields.kind {
            NodeKind::Scalar(..) => {
                // One field: `comps` is one operator (default `in`); values
                // are the operands.
                let (op, op_span) = match &ex.comps {
                    Some(c) => (self.op_of(c)?, self.node_span(c)),
                    None => (Op::In, self.node_span(fields)),
                };
                let (name, arg) = split_field(fields.as_str().unwrap_or(""));
                let (name, arg) = (name.to_owned(), arg.map(str::to_owned));
                let span = self.node_span(fields);
                let mut lits = Vec::new();
                for v in &ex.values {
                    match &v.kind {
                        NodeKind::Scalar(..) => lits.push(self.node_lit(v)),
                        NodeKind::Seq(items) => {
                            for x in items {
                                if x.as_str().is_none() {
                                    return Err(
                                        self.scalar_err(x, "exception values must be strings")
                                    );
                                }
                                lits.push(self.node_lit(x));
                            }
                        }
                        NodeKind::Map(_) => {
                            return Err(
                                self.scalar_err(v, "exception values must be strings or lists")
                            )
                        }
                    }
                }
                if lits.is_empty() {
                    return Ok(());
                }
                if op.takes_list() {
                    rows.push(Ast::Check {
                        field: name,
                        arg,
                        xf: Vec::new(),
                        span,
                        op,
                        op_span,
                        rhs: Rhs::List(lits),
                    });
                } else {
                    for l in lits {
                        let rhs = if op == Op::Exists {
                            Rhs::None
                        } else {
                            Rhs::Value(l)
                        };
                        rows.push(Ast::Check {
                            field: name.clone(),
                            arg: arg.clone(),
                            xf: Vec::new(),
                            span,
                            op,
                            op_span,
                            rhs,
                        });
                    }
                }
            }
            NodeKind::Seq(fs) => {
                let mut ops = Vec::new();
                match &ex.comps {
                    None => {
                        for f in fs {
                            ops.push((Op::Eq, self.node_span(f)));
                        }
                    }
                    Some(c) => match &c.kind {
                        NodeKind::Seq(cs) => {
                            if cs.len() != fs.len() {
                                return Err(self.scalar_err(
                                    c,
                                    &format!(
                                        "exception '{}' has {} fields but {} comps",
                                        ex.name,
                                        fs.len(),
                                        cs.len()
                                    ),
                                ));
                            }
                            for c in cs {
                                ops.push((self.op_of(c)?, self.node_span(c)));
                            }
                        }
                        _ => {
                            return Err(
                                self.scalar_err(c, "comps must be a list when fields is a list")
                            )
                        }
                    },
                }
                let mut names = Vec::new();
                for f in fs {
                    let Some(s) = f.as_str() else {
                        return Err(self.scalar_err(f, "exception fields must be field names"));
                    };
                    let (n, a) = split_field(s);
                    let span = self.node_span(f);
                    names.push((n.to_owned(), a.map(str::to_owned), span));
                }
                for v in &ex.values {
                    let NodeKind::Seq(tuple) = &v.kind else {
                        return Err(self.scalar_err(
                            v,
                            &format!(
                                "exception '{}': each value must be a list of {} values",
                                ex.name,
                                fs.len()
                            ),
                        ));
                    };
                    if tuple.len() != fs.len() {
                        return Err(self.scalar_err(
                            v,
                            &format!(
                                "exception '{}': value has {} items but there are {} fields",
                                ex.name,
                                tuple.len(),
                                fs.len()
                            ),
                        ));
                    }
                    let mut terms = Vec::new();
                    for (i, x) in tuple.iter().enumerate() {
                        let (op, op_span) = ops[i];
                        let (name, arg, span) = names[i].clone();
                        let rhs = match &x.kind {
                            NodeKind::Seq(items) if op.takes_list() => {
                                let mut l = Vec::new();
                                for it in items {
                                    if it.as_str().is_none() {
                                        return Err(self.scalar_err(it, "exception values must be strings"));
                                    }
                                    l.push(self.node_lit(it));
                                }
                                Rhs::List(l)
                            }
                            NodeKind::Scalar(..) if op.takes_list() => Rhs::List(vec![self.node_lit(x)]),
                            NodeKind::Scalar(..) if op == Op::Exists => Rhs::None,
                            NodeKind::Scalar(..) => Rhs::Value(self.node_lit(x)),
                            _ => return Err(self.scalar_err(x, &format!("a list value needs an operator that takes a list (in, intersects, pmatch), not '{op}'"))),
                        };
                        terms.push(Ast::Check {
                            field: name,
                            arg,
                            xf: Vec::new(),
                            span,
                            op,
                            op_span,
                            rhs,
                        });
                    }
                    rows.push(if terms.len() == 1 {
                        terms.pop().expect("one")
                    } else {
                        Ast::And(terms)
                    });
                }
            }
            NodeKind::Map(_) => {
                return Err(self.scalar_err(
                    fields,
                    "fields must be a field name or a list of field names",
                ))
            }
        }
        Ok(())
    }

    fn op_of(&self, n: &Node) -> Result<Op, Diagnostic> {
        let s = n
            .as_str()
            .ok_or_else(|| self.scalar_err(n, "expected an operator"))?;
        parse_op(s).ok_or_else(|| Diagnostic {
            pos: self.sm.node_pos(n),
            kind: DiagKind::Syntax,
            message: format!("unknown operator '{s}'"),
        })
    }
}
