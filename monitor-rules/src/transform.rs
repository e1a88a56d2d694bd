//! Field transformers at match time: `tolower`, `toupper`, `b64`,
//! `basename` and `len` applied to a field's value before its comparison.
//! Only checks that name a transformer come here (through
//! [`crate::expr::Test::Xform`]), so rules without one pay nothing; these
//! allocate when the transformer makes new text.

use base64::Engine as _;

use crate::parse::Xform;
use crate::value::{StrList, Value};

/// A transformed value: still borrowed from the event when the transformer
/// only narrowed it (`basename`), owned when it made new text.
pub(crate) enum Transformed<'a> {
    Borrowed(Value<'a>),
    Str(String),
    List(Vec<String>),
}

impl Transformed<'_> {
    pub(crate) fn value(&self) -> Value<'_> {
        match self {
            Transformed::Borrowed(v) => *v,
            Transformed::Str(s) => Value::Str(s),
            Transformed::List(l) => Value::List(StrList::Strings(l)),
        }
    }
}

/// Apply `xf` (innermost first). `None`: the value has no transformed form
/// (text that is not base64), so the comparison is false, as for a missing
/// field.
pub(crate) fn apply<'a>(xf: &[Xform], v: Value<'a>) -> Option<Transformed<'a>> {
    let mut cur = Transformed::Borrowed(v);
    for &x in xf {
        cur = step(x, cur)?;
    }
    Some(cur)
}

fn step(x: Xform, t: Transformed<'_>) -> Option<Transformed<'_>> {
    if x == Xform::Len {
        let n = match t.value() {
            Value::Str(s) => s.len(),
            Value::List(l) => l.len(),
            Value::Num(n) => n.to_string().len(),
            Value::Bool(b) => b.to_string().len(),
        };
        return Some(Transformed::Borrowed(Value::Num(n as i64)));
    }
    Some(match t {
        Transformed::Borrowed(Value::Str(s)) if x == Xform::Basename => {
            Transformed::Borrowed(Value::Str(basename(s)))
        }
        Transformed::Borrowed(Value::List(l)) => {
            Transformed::List(l.iter().map(|s| text(x, s)).collect::<Option<_>>()?)
        }
        Transformed::List(l) => {
            Transformed::List(l.iter().map(|s| text(x, s)).collect::<Option<_>>()?)
        }
        Transformed::Borrowed(v) => Transformed::Str(text(x, &v.to_string())?),
        Transformed::Str(s) => Transformed::Str(text(x, &s)?),
    })
}

/// One string through a text transformer.
fn text(x: Xform, s: &str) -> Option<String> {
    Some(match x {
        // ASCII only, as Falco (byte-wise `tolower` in the C locale).
        Xform::ToLower => s.to_ascii_lowercase(),
        Xform::ToUpper => s.to_ascii_uppercase(),
        Xform::Basename => basename(s).to_owned(),
        Xform::B64 => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .ok()?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Xform::Len => s.len().to_string(),
    })
}

/// The last path component, as Falco's `basename` gives it: `""` for a
/// path ending in `/`, the whole text when there is no `/`.
fn basename(s: &str) -> &str {
    s.rfind('/').map_or(s, |i| &s[i + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(x: &[Xform], s: &str) -> Option<String> {
        apply(x, Value::Str(s)).map(|t| t.value().to_string())
    }

    #[test]
    fn transformers_on_text() {
        use Xform::*;
        assert_eq!(one(&[ToLower], "BaSh").as_deref(), Some("bash"));
        assert_eq!(one(&[ToUpper], "bash").as_deref(), Some("BASH"));
        assert_eq!(one(&[ToUpper], "straße").as_deref(), Some("STRAßE"));
        assert_eq!(one(&[Basename], "/usr/bin/cat").as_deref(), Some("cat"));
        assert_eq!(one(&[Basename], "cat").as_deref(), Some("cat"));
        assert_eq!(one(&[Basename], "/usr/bin/").as_deref(), Some(""));
        assert_eq!(one(&[B64], "aGVsbG8=").as_deref(), Some("hello"));
        assert_eq!(one(&[B64], "not base64!"), None);
        assert_eq!(one(&[Len], "hello").as_deref(), Some("5"));
        // Chains apply innermost first.
        assert_eq!(
            one(&[Basename, ToUpper], "/x/y.so").as_deref(),
            Some("Y.SO")
        );
        assert_eq!(one(&[B64, Len], "aGVsbG8=").as_deref(), Some("5"));
        assert!(matches!(
            apply(&[Basename], Value::Str("/a/b")),
            Some(Transformed::Borrowed(Value::Str("b")))
        ));
    }

    #[test]
    fn transformers_on_lists() {
        let l = ["SH", "/bin/Init"];
        let t = apply(&[Xform::ToLower], Value::List(StrList::Strs(&l))).unwrap();
        assert_eq!(t.value().to_string(), "sh,/bin/init");
        let t = apply(&[Xform::Len], Value::List(StrList::Strs(&l))).unwrap();
        assert!(matches!(t.value(), Value::Num(2)));
    }
}
