//! The interface between the engine and an event: [`FieldSource`] answers
//! field lookups with borrowed [`Value`]s, so evaluating a rule allocates
//! nothing.

use std::fmt;

use crate::field::Field;

/// A field's value as borrowed from the event.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Str(&'a str),
    /// Integers (pids, uids, ports, results). Unsigned kernel values above
    /// `i64::MAX` do not occur in the fields vigil provides.
    Num(i64),
    Bool(bool),
    /// A list of strings, for list fields (`proc.anames`) and for
    /// "any ancestor" lookups (`proc.aname` without an index).
    List(StrList<'a>),
}

/// A borrowed list of strings in whichever shape the event stores it.
#[derive(Debug, Clone, Copy)]
pub enum StrList<'a> {
    Strings(&'a [String]),
    Strs(&'a [&'a str]),
    Boxed(&'a [Box<str>]),
}

impl<'a> StrList<'a> {
    pub fn len(&self) -> usize {
        match self {
            StrList::Strings(v) => v.len(),
            StrList::Strs(v) => v.len(),
            StrList::Boxed(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match *self {
            StrList::Strings(v) => v.get(i).map(String::as_str),
            StrList::Strs(v) => v.get(i).copied(),
            StrList::Boxed(v) => v.get(i).map(|b| &**b),
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let l = *self;
        (0..l.len()).filter_map(move |i| l.get(i))
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Num(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::List(l) => {
                for (i, s) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(s)?;
                }
                Ok(())
            }
        }
    }
}

/// An event as the rules engine sees it. The agent's event type implements
/// this; tests implement it over a map.
///
/// `get` returns `None` when the event has no value for the field (a
/// comparison on a missing field is false, as in Falco). Lookups must be
/// cheap: they run for every condition check.
pub trait FieldSource {
    fn get(&self, field: &Field) -> Option<Value<'_>>;
    /// The event type (`evt.type`), used to pick candidate rules.
    fn evt_type(&self) -> &str;
}
