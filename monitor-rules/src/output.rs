//! Output templates: Falco's `%field` placeholders (also `%field[arg]` and
//! `%(field)`) in a rule's `output`, compiled once and formatted per alert.
//! Fields Falco has but vigil does not supply render as `<NA>`, as Falco
//! renders a field it cannot extract.

use crate::field::{Field, Lookup};
use crate::value::{FieldSource, Value};

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    /// `field` is `None` for a Falco field vigil does not supply.
    Field {
        name: String,
        field: Option<Field>,
    },
}

/// A compiled output template.
#[derive(Debug, Clone)]
pub struct OutputTemplate {
    pieces: Vec<Piece>,
}

/// A problem in a template, at a byte offset of its text.
#[derive(Debug, Clone)]
pub(crate) struct TemplateError {
    pub off: usize,
    pub message: String,
}

impl OutputTemplate {
    /// The supported fields the template names.
    pub fn named_fields(&self) -> impl Iterator<Item = &Field> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field { field, .. } => field.as_ref(),
            Piece::Text(_) => None,
        })
    }

    pub(crate) fn compile(text: &str) -> Result<OutputTemplate, Vec<TemplateError>> {
        let mut pieces = Vec::new();
        let mut errors = Vec::new();
        let mut lit = String::new();
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c != b'%' {
                let ch = text[i..].chars().next().expect("in bounds");
                lit.push(ch);
                i += ch.len_utf8();
                continue;
            }
            let start = i;
            i += 1;
            if b.get(i) == Some(&b'%') {
                lit.push('%');
                i += 1;
                continue;
            }
            let (raw, next) = if b.get(i) == Some(&b'(') {
                match text[i..].find(')') {
                    Some(close) => (&text[i + 1..i + close], i + close + 1),
                    None => {
                        errors.push(TemplateError {
                            off: start,
                            message: "missing ')' after '%('".into(),
                        });
                        break;
                    }
                }
            } else {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.')
                {
                    j += 1;
                }
                // A trailing '.' ends the sentence, not the field name.
                while j > i && b[j - 1] == b'.' {
                    j -= 1;
                }
                if j < b.len() && b[j] == b'[' {
                    if let Some(close) = text[j..].find(']') {
                        j += close + 1;
                    }
                }
                (&text[i..j], j)
            };
            if raw.is_empty() {
                lit.push('%');
                continue;
            }
            let (name, arg) = crate::parse::split_field(raw);
            let field = match Field::lookup(name, arg) {
                Lookup::Supported(f, _) => Some(f),
                Lookup::Unsupported => None,
                Lookup::Unknown(msg) => {
                    errors.push(TemplateError {
                        off: start,
                        message: format!("in output: {msg}"),
                    });
                    None
                }
            };
            if !lit.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut lit)));
            }
            let name = match &field {
                Some(f) => f.name(),
                None => raw.trim().to_owned(),
            };
            pieces.push(Piece::Field { name, field });
            i = next;
        }
        if !lit.is_empty() {
            pieces.push(Piece::Text(lit));
        }
        if errors.is_empty() {
            Ok(OutputTemplate { pieces })
        } else {
            Err(errors)
        }
    }

    /// Render the template for one event.
    pub fn format<E: FieldSource + ?Sized>(&self, ev: &E) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { field, .. } => match field.as_ref().and_then(|f| get(ev, f)) {
                    Some(v) => {
                        let _ = write!(out, "{v}");
                    }
                    None => out.push_str("<NA>"),
                },
            }
        }
        out
    }

    /// The fields the template names, each with its value in `ev` (`None`
    /// when missing or not supplied by vigil), in order, without repeats.
    pub fn fields<'e, E: FieldSource + ?Sized>(&self, ev: &'e E) -> Vec<(&str, Option<Value<'e>>)> {
        let mut out: Vec<(&str, Option<Value<'e>>)> = Vec::new();
        for p in &self.pieces {
            if let Piece::Field { name, field } = p {
                if out.iter().any(|(n, _)| n == name) {
                    continue;
                }
                out.push((name, field.as_ref().and_then(|f| get(ev, f))));
            }
        }
        out
    }
}

fn get<'e, E: FieldSource + ?Sized>(ev: &'e E, f: &Field) -> Option<Value<'e>> {
    if f.id == crate::field::FieldId::EvtType {
        Some(Value::Str(ev.evt_type()))
    } else {
        ev.get(f)
    }
}
