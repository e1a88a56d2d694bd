//! The recursive-descent parser behind [`super::parse_condition`]: the
//! grammar in the module above, one method per rule, byte offsets in every
//! node.

use super::*;

pub(super) fn condition(text: &str, text_id: u32) -> Result<Ast, SyntaxError> {
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

/// A list item: quoted text unquoted, anything else trimmed.
pub(super) fn list_item(text: &str) -> String {
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
