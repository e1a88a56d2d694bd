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
    let mut p = Parser {
        s: text,
        i: 0,
        id: text_id,
        depth: 0,
    };
    p.ws();
    if p.i >= p.s.len() {
        return Err(p.err("empty condition"));
    }
    let ast = p.or()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err(&format!("unexpected '{}'", p.peek_token())));
    }
    Ok(ast)
}

/// Parse a list item as written in a `list:` (bare or quoted).
pub fn parse_list_item(text: &str) -> String {
    let t = text.trim();
    if t.len() >= 2 {
        let q = t.as_bytes()[0];
        if (q == b'"' || q == b'\'') && t.as_bytes()[t.len() - 1] == q {
            let mut p = Parser {
                s: t,
                i: 0,
                id: 0,
                depth: 0,
            };
            if let Ok(s) = p.quoted() {
                if p.i == t.len() {
                    return s;
                }
            }
        }
    }
    t.to_owned()
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
    id: u32,
    depth: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-'
}
fn is_bare_end(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || c == ','
}

impl<'a> Parser<'a> {
    fn err(&self, msg: &str) -> SyntaxError {
        SyntaxError {
            off: self.i.min(self.s.len()),
            message: msg.to_owned(),
        }
    }
    fn span(&self, off: usize) -> Span {
        Span {
            text: self.id,
            off: off as u32,
        }
    }
    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }
    fn ws(&mut self) {
        while let Some(c) = self.s[self.i..].chars().next() {
            if c.is_whitespace() {
                self.i += c.len_utf8();
            } else {
                break;
            }
        }
    }
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }
    fn peek_token(&self) -> &'a str {
        let rest = &self.s[self.i..];
        let end = rest
            .char_indices()
            .find(|&(i, c)| i > 0 && is_bare_end(c))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        &rest[..end]
    }
    /// The identifier-like word at the cursor, without consuming it.
    fn word(&self) -> &'a str {
        let b = self.bytes();
        let mut j = self.i;
        if j < b.len() && is_ident_start(b[j]) {
            while j < b.len() && is_ident(b[j]) {
                j += 1;
            }
        }
        &self.s[self.i..j]
    }
    fn keyword(&mut self, kw: &str) -> bool {
        if self.word() == kw {
            self.i += kw.len();
            true
        } else {
            false
        }
    }
    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("condition is nested too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Ast, SyntaxError> {
        self.chain("or", Self::and, Ast::Or)
    }

    fn and(&mut self) -> Result<Ast, SyntaxError> {
        self.chain("and", Self::unary, Ast::And)
    }

    /// `operand (keyword operand)*`: one node for a run of the same
    /// operator, or the operand alone.
    fn chain(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<Ast, SyntaxError>,
        node: fn(Vec<Ast>) -> Ast,
    ) -> Result<Ast, SyntaxError> {
        let mut items = vec![operand(self)?];
        loop {
            self.ws();
            if !self.keyword(keyword) {
                break;
            }
            self.ws();
            items.push(operand(self)?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            node(items)
        })
    }

    fn unary(&mut self) -> Result<Ast, SyntaxError> {
        self.ws();
        self.enter()?;
        let r = self.unary_inner();
        self.depth -= 1;
        r
    }

    fn unary_inner(&mut self) -> Result<Ast, SyntaxError> {
        if self.keyword("not") {
            self.ws();
            return Ok(Ast::Not(Box::new(self.unary()?)));
        }
        match self.peek() {
            None => Err(self.err("unexpected end of condition: expected a check, a macro or '('")),
            Some(b'(') => {
                self.i += 1;
                self.ws();
                let e = self.or()?;
                self.ws();
                if self.peek() != Some(b')') {
                    return Err(self.err("expected ')'"));
                }
                self.i += 1;
                Ok(e)
            }
            Some(c) if is_ident_start(c) => {
                let start = self.i;
                let w = self.word();
                if matches!(w, "and" | "or") {
                    return Err(self.err(&format!("unexpected '{w}': expected a check or a macro")));
                }
                self.i += w.len();
                if w.contains('.') {
                    let arg = self.field_arg()?;
                    self.check(w.to_owned(), arg, Vec::new(), start)
                } else if self.peek() == Some(b'(') {
                    self.i = start;
                    let (field, arg, xf, _) = self.transformed(false)?;
                    self.check(field, arg, xf, start)
                } else {
                    Ok(Ast::Macro {
                        name: w.to_owned(),
                        span: self.span(start),
                    })
                }
            }
            Some(_) => Err(self.err(&format!(
                "unexpected '{}': expected a field, a macro or '('",
                self.peek_token()
            ))),
        }
    }

    /// A field's `[argument]`, if one follows.
    fn field_arg(&mut self) -> Result<Option<String>, SyntaxError> {
        if self.peek() != Some(b'[') {
            return Ok(None);
        }
        let close = self.s[self.i..]
            .find(']')
            .ok_or_else(|| self.err("missing ']' after field argument"))?;
        let arg = self.s[self.i + 1..self.i + close].to_owned();
        self.i += close + 1;
        Ok(Some(arg))
    }

    /// `XFORM(... FIELD ...)` at the cursor (or, with `allow_val`, around
    /// `val(FIELD)`): the field, its argument, the transformers innermost
    /// first, and where the field name starts.
    #[allow(clippy::type_complexity)]
    fn transformed(
        &mut self,
        allow_val: bool,
    ) -> Result<(String, Option<String>, Vec<Xform>, usize), SyntaxError> {
        let mut outer = Vec::new();
        loop {
            self.ws();
            let w = self.word();
            let after = self.s[self.i + w.len()..].trim_start();
            if w.is_empty() || !after.starts_with('(') || w.contains('.') {
                break;
            }
            if w == "val" && allow_val {
                break;
            }
            let Some(x) = Xform::from_word(w) else {
                return Err(self.err(&format!(
                    "unknown transformer '{w}': expected one of tolower, toupper, b64, basename, len{}",
                    if allow_val { ", val" } else { "" }
                )));
            };
            if outer.len() >= MAX_DEPTH {
                return Err(self.err("condition is nested too deeply"));
            }
            outer.push(x);
            self.i += w.len();
            self.ws();
            self.i += 1; // '('
        }
        let (field, arg, start) = if allow_val && self.s[self.i..].starts_with("val(") {
            match self.val_field()? {
                Rhs::Field {
                    field, arg, span, ..
                } => (field, arg, span.off as usize),
                _ => unreachable!("val_field returns a field"),
            }
        } else {
            let start = self.i;
            let w = self.word();
            if !w.contains('.') {
                return Err(self.err("expected a field name"));
            }
            self.i += w.len();
            (w.to_owned(), self.field_arg()?, start)
        };
        for _ in &outer {
            self.ws();
            if self.peek() != Some(b')') {
                return Err(self.err("expected ')' to close the transformer"));
            }
            self.i += 1;
        }
        outer.reverse();
        Ok((field, arg, outer, start))
    }

    fn check(
        &mut self,
        field: String,
        arg: Option<String>,
        xf: Vec<Xform>,
        start: usize,
    ) -> Result<Ast, SyntaxError> {
        self.ws();
        let op_start = self.i;
        let op = self.op()?;
        let op_span = self.span(op_start);
        let rhs = if op == Op::Exists {
            Rhs::None
        } else {
            self.ws();
            if op.takes_list() {
                if self.peek() != Some(b'(') {
                    return Err(self.err(&format!("expected '(' to start the list after '{op}'")));
                }
                Rhs::List(self.list()?)
            } else if self.s[self.i..].starts_with("val(") {
                self.val_field()?
            } else if self.at_transformer() {
                let (field, arg, xf, at) = self.transformed(true)?;
                Rhs::Field {
                    field,
                    arg,
                    span: self.span(at),
                    xf,
                }
            } else {
                Rhs::Value(self.value()?)
            }
        };
        Ok(Ast::Check {
            field,
            arg,
            xf,
            span: self.span(start),
            op,
            op_span,
            rhs,
        })
    }

    /// A transformer name followed by `(` at the cursor.
    fn at_transformer(&self) -> bool {
        let w = self.word();
        Xform::from_word(w).is_some() && self.s[self.i + w.len()..].trim_start().starts_with('(')
    }

    /// `val(field[arg])`, the cursor on `val(`.
    fn val_field(&mut self) -> Result<Rhs, SyntaxError> {
        self.i += 4;
        self.ws();
        let start = self.i;
        let w = self.word();
        if !w.contains('.') {
            return Err(self.err("expected a field name in val(...)"));
        }
        self.i += w.len();
        let arg = self.field_arg()?;
        self.ws();
        if self.peek() != Some(b')') {
            return Err(self.err("expected ')' to close val("));
        }
        self.i += 1;
        Ok(Rhs::Field {
            field: w.to_owned(),
            arg,
            span: self.span(start),
            xf: Vec::new(),
        })
    }

    fn op(&mut self) -> Result<Op, SyntaxError> {
        let b = self.bytes();
        let two = |c: u8| b.get(self.i + 1) == Some(&c);
        let (op, len) = match self.peek() {
            Some(b'=') if two(b'=') => (Op::Eq, 2),
            Some(b'=') => (Op::Eq, 1),
            Some(b'!') if two(b'=') => (Op::Ne, 2),
            Some(b'<') if two(b'=') => (Op::Le, 2),
            Some(b'<') => (Op::Lt, 1),
            Some(b'>') if two(b'=') => (Op::Ge, 2),
            Some(b'>') => (Op::Gt, 1),
            _ => {
                let w = self.word();
                match Op::from_word(w) {
                    Some(op) => (op, w.len()),
                    None if w.is_empty() && self.i >= self.s.len() => {
                        return Err(self.err("unexpected end of condition: expected an operator"))
                    }
                    None => {
                        return Err(self.err(&format!(
                            "unknown operator '{}'",
                            if w.is_empty() { self.peek_token() } else { w }
                        )))
                    }
                }
            }
        };
        self.i += len;
        Ok(op)
    }

    fn list(&mut self) -> Result<Vec<Lit>, SyntaxError> {
        self.i += 1; // '('
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b')') {
            self.i += 1;
            return Ok(items);
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(items);
                }
                None => return Err(self.err("unterminated list: expected ')'")),
                Some(_) => return Err(self.err("expected ',' or ')' in list")),
            }
        }
    }

    fn value(&mut self) -> Result<Lit, SyntaxError> {
        let start = self.i;
        match self.peek() {
            None => Err(self.err("unexpected end of condition: expected a value")),
            Some(b'"') | Some(b'\'') => {
                let text = self.quoted()?;
                Ok(Lit {
                    text,
                    bare: false,
                    span: self.span(start),
                })
            }
            Some(_) => {
                let rest = &self.s[self.i..];
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| is_bare_end(c))
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len());
                if end == 0 {
                    return Err(self.err(&format!("expected a value, found '{}'", &rest[..1])));
                }
                self.i += end;
                Ok(Lit {
                    text: rest[..end].to_owned(),
                    bare: true,
                    span: self.span(start),
                })
            }
        }
    }

    fn quoted(&mut self) -> Result<String, SyntaxError> {
        let start = self.i;
        let q = self.bytes()[self.i] as char;
        self.i += 1;
        let mut out = String::new();
        let mut chars = self.s[self.i..].char_indices();
        while let Some((k, c)) = chars.next() {
            if c == q {
                self.i += k + 1;
                return Ok(out);
            }
            if c == '\\' {
                match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, e @ ('\\' | '"' | '\''))) => out.push(e),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => break,
                }
            } else {
                out.push(c);
            }
        }
        self.i = start;
        Err(self.err("unterminated quoted string"))
    }
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
