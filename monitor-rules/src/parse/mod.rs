//! The condition language parser: Falco's boolean expressions over field
//! comparisons, macro references and value lists. It produces an [`Ast`]
//! whose nodes carry byte offsets into the parsed text, so errors found
//! later (unknown macro, type error) still point at the right character.
//!
//! Grammar (precedence `not` > `and` > `or`):
//! ```text
//! expr    := and ('or' and)*
//! and     := unary ('and' unary)*
//! unary   := 'not' unary | '(' expr ')' | check | MACRO
//! check   := operand ( 'exists' | OP (value | ref) | LISTOP list )
//! operand := XFORM '(' operand ')' | FIELD ('[' ARG ']')?
//! ref     := 'val(' FIELD ('[' ARG ']')? ')' | XFORM '(' (ref | operand) ')'
//! list    := '(' (value (',' value)*)? ')'
//! value   := "quoted" | 'quoted' | bareword
//! XFORM   := tolower | toupper | b64 | basename | len
//! ```
//!
//! A bare field on the right (`proc.name = proc.pname`) is a literal, as in
//! Falco; only `val(...)` or a transformer makes it a field reference.

use std::fmt;

mod parser;

/// Deepest parenthesis/`not` nesting accepted.
const MAX_DEPTH: usize = 200;

/// A byte offset in a parsed text; `text` identifies the text (the loader
/// maps it back to a file position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub text: u32,
    pub off: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    StartsWith,
    EndsWith,
    Glob,
    /// Case-insensitive glob.
    IGlob,
    /// Contains the bytes written in hex (`bcontains 504b0304`).
    BContains,
    /// Starts with the bytes written in hex.
    BStartsWith,
    In,
    Intersects,
    PMatch,
    Exists,
    Regex,
}

impl Op {
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }
    fn from_word(w: &str) -> Option<Op> {
        Some(match w {
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "startswith" => Op::StartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "bcontains" => Op::BContains,
            "bstartswith" => Op::BStartsWith,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::PMatch,
            "exists" => Op::Exists,
            "regex" => Op::Regex,
            _ => return None,
        })
    }
}

/// Parse an operator written alone (as in an exception's `comps`).
pub fn parse_op(s: &str) -> Option<Op> {
    Some(match s.trim() {
        "=" | "==" => Op::Eq,
        "!=" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        w => return Op::from_word(w),
    })
}

/// Split `proc.aname[2]` into its name and argument text.
pub fn split_field(s: &str) -> (&str, Option<&str>) {
    let s = s.trim();
    match (s.find('['), s.ends_with(']')) {
        (Some(i), true) => (&s[..i], Some(&s[i + 1..s.len() - 1])),
        _ => (s, None),
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::StartsWith => "startswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::BContains => "bcontains",
            Op::BStartsWith => "bstartswith",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::PMatch => "pmatch",
            Op::Exists => "exists",
            Op::Regex => "regex",
        })
    }
}

/// A field transformer (Falco's `tolower(...)` and friends), applied to a
/// field's value before the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Xform {
    ToLower,
    ToUpper,
    /// Base64-decode (text that does not decode has no value).
    B64,
    /// The last path component.
    Basename,
    /// The length in bytes (of a list: its number of elements).
    Len,
}

impl Xform {
    pub const ALL: [Xform; 5] = [
        Xform::ToLower,
        Xform::ToUpper,
        Xform::B64,
        Xform::Basename,
        Xform::Len,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Xform::ToLower => "tolower",
            Xform::ToUpper => "toupper",
            Xform::B64 => "b64",
            Xform::Basename => "basename",
            Xform::Len => "len",
        }
    }
    fn from_word(w: &str) -> Option<Xform> {
        Xform::ALL.into_iter().find(|x| x.name() == w)
    }
}

/// A literal operand. `bare` values may name a list (inside `(...)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Lit {
    pub text: String,
    pub bare: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    None,
    Value(Lit),
    List(Vec<Lit>),
    /// `val(field)` or a transformed field (`tolower(proc.pname)`):
    /// compare with another field of the same event.
    Field {
        field: String,
        arg: Option<String>,
        span: Span,
        /// Transformers, innermost (applied first) first.
        xf: Vec<Xform>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    And(Vec<Ast>),
    Or(Vec<Ast>),
    Not(Box<Ast>),
    Macro {
        name: String,
        span: Span,
    },
    Check {
        field: String,
        arg: Option<String>,
        /// Transformers on the field, innermost (applied first) first.
        xf: Vec<Xform>,
        span: Span,
        op: Op,
        op_span: Span,
        rhs: Rhs,
    },
}

/// A syntax error at a byte offset of the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub off: usize,
    pub message: String,
}

/// Parse a condition. `text_id` is recorded in every span.
pub fn parse_condition(text: &str, text_id: u32) -> Result<Ast, SyntaxError> {
    parser::condition(text, text_id)
}

/// Parse a list item as written in a `list:` (bare or quoted).
pub fn parse_list_item(text: &str) -> String {
    parser::list_item(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Ast {
        parse_condition(s, 0).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }
    fn e(s: &str) -> SyntaxError {
        parse_condition(s, 0).expect_err(s)
    }

    #[test]
    fn precedence_not_and_or() {
        match p("a or b and not c") {
            Ast::Or(v) => {
                assert!(matches!(&v[0], Ast::Macro { name, .. } if name == "a"));
                match &v[1] {
                    Ast::And(w) => assert!(matches!(&w[1], Ast::Not(_))),
                    o => panic!("{o:?}"),
                }
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn checks_and_values() {
        match p("proc.name=bash") {
            Ast::Check {
                field,
                op: Op::Eq,
                rhs: Rhs::Value(l),
                ..
            } => {
                assert_eq!(field, "proc.name");
                assert_eq!(l.text, "bash");
                assert!(l.bare);
            }
            o => panic!("{o:?}"),
        }
        match p("proc.aname[2] in (sh, \"a b\", 'c\\'d', runc:[0:PARENT])") {
            Ast::Check {
                arg,
                op: Op::In,
                rhs: Rhs::List(v),
                ..
            } => {
                assert_eq!(arg.as_deref(), Some("2"));
                let t: Vec<_> = v.iter().map(|l| l.text.as_str()).collect();
                assert_eq!(t, ["sh", "a b", "c'd", "runc:[0:PARENT]"]);
                assert!(!v[1].bare);
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(
            p("proc.pname exists"),
            Ast::Check {
                op: Op::Exists,
                rhs: Rhs::None,
                ..
            }
        ));
        assert!(matches!(
            p("evt.rawres >= 0"),
            Ast::Check { op: Op::Ge, .. }
        ));
        assert!(matches!(p("x.y != 1"), Ast::Check { op: Op::Ne, .. }));
        assert!(matches!(p("x.y in ()"), Ast::Check { rhs: Rhs::List(v), .. } if v.is_empty()));
        // Keywords need a word boundary: `notify` is a macro name.
        assert!(matches!(p("notify"), Ast::Macro { .. }));
        assert!(matches!(p("(((a)))"), Ast::Macro { .. }));
    }

    #[test]
    fn field_operands() {
        match p("proc.pid != val(proc.ppid)") {
            Ast::Check {
                rhs:
                    Rhs::Field {
                        field,
                        arg: None,
                        span,
                        ..
                    },
                ..
            } => {
                assert_eq!(field, "proc.ppid");
                assert_eq!(span.off, 16);
            }
            o => panic!("{o:?}"),
        }
        match p("proc.name = val( proc.aname[2] )") {
            Ast::Check {
                rhs: Rhs::Field { arg, .. },
                ..
            } => assert_eq!(arg.as_deref(), Some("2")),
            o => panic!("{o:?}"),
        }
        assert!(e("proc.pid = val(x)").message.contains("field name"));
        let t = e("lower(proc.name) = bash");
        assert_eq!(t.off, 0);
        assert!(
            t.message.contains("unknown transformer 'lower'"),
            "{}",
            t.message
        );
        assert!(e("proc.pid = val(a.b").message.contains("close val"));
    }

    #[test]
    fn transformers_on_either_side() {
        match p("toupper( basename(fd.name) ) = val(proc.name) and x") {
            Ast::And(v) => match &v[0] {
                Ast::Check {
                    field,
                    xf,
                    span,
                    rhs:
                        Rhs::Field {
                            field: f2, xf: x2, ..
                        },
                    ..
                } => {
                    assert_eq!(field, "fd.name");
                    assert_eq!(xf, &[Xform::Basename, Xform::ToUpper]);
                    assert_eq!(span.off, 0);
                    assert_eq!(f2, "proc.name");
                    assert!(x2.is_empty());
                }
                o => panic!("{o:?}"),
            },
            o => panic!("{o:?}"),
        }
        match p("len(proc.aname[2]) > 3") {
            Ast::Check { arg, xf, .. } => {
                assert_eq!(arg.as_deref(), Some("2"));
                assert_eq!(xf, vec![Xform::Len]);
            }
            o => panic!("{o:?}"),
        }
        match p("tolower(proc.name) = tolower(val(proc.pname))") {
            Ast::Check {
                rhs: Rhs::Field {
                    field, xf, span, ..
                },
                ..
            } => {
                assert_eq!(field, "proc.pname");
                assert_eq!(xf, vec![Xform::ToLower]);
                assert_eq!(span.off, 33);
            }
            o => panic!("{o:?}"),
        }
        match p("proc.name startswith b64(proc.pname)") {
            Ast::Check {
                rhs: Rhs::Field { xf, .. },
                ..
            } => assert_eq!(xf, vec![Xform::B64]),
            o => panic!("{o:?}"),
        }
        // A bare field on the right stays a literal, as in Falco.
        assert!(matches!(
            p("proc.name = proc.pname"),
            Ast::Check {
                rhs: Rhs::Value(_),
                ..
            }
        ));
        assert!(e("tolower(proc.name = x")
            .message
            .contains("close the transformer"));
        assert!(e("tolower(x) = y")
            .message
            .contains("expected a field name"));
        assert!(e("tolower(val(proc.name)) = y")
            .message
            .contains("unknown transformer 'val'"));
        assert_eq!(e("proc.name = lower(proc.pname)").off, 17);
    }

    #[test]
    fn spans_point_at_tokens() {
        match p("  a and fd.name  contains x") {
            Ast::And(v) => match &v[1] {
                Ast::Check {
                    span,
                    op_span,
                    rhs: Rhs::Value(l),
                    ..
                } => {
                    assert_eq!(span.off, 8);
                    assert_eq!(op_span.off, 17);
                    assert_eq!(l.span.off, 26);
                }
                o => panic!("{o:?}"),
            },
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn syntax_errors_have_offsets() {
        assert_eq!(e("a and").off, 5);
        assert_eq!(e("(a or b").off, 7);
        assert_eq!(e("proc.name foo bar").off, 10);
        assert!(e("proc.name foo bar")
            .message
            .contains("unknown operator 'foo'"));
        assert_eq!(e("proc.name = 'abc").off, 12);
        assert_eq!(e("a b").off, 2);
        assert!(e("").message.contains("empty"));
        assert!(e("proc.name in x").message.contains("expected '('"));
        assert!(e("proc.name in (a b)").message.contains("expected ','"));
        assert!(e("proc.name[1 = x").message.contains("']'"));
        let deep = "(".repeat(1000) + "a" + &")".repeat(1000);
        assert!(e(&deep).message.contains("nested too deeply"));
    }

    #[test]
    fn list_items_unquote() {
        assert_eq!(parse_list_item("'\"(systemd)\"'"), "\"(systemd)\"");
        assert_eq!(parse_list_item("\"(systemd)\""), "(systemd)");
        assert_eq!(parse_list_item("bash"), "bash");
    }
}
