//! A test event: field values by name, implementing `FieldSource`.
#![allow(dead_code)]

use std::collections::HashMap;

use monitor_rules::{Field, FieldArg, FieldId, FieldSource, StrList, Value};

#[derive(Debug, Clone)]
pub enum V {
    S(String),
    N(i64),
    B(bool),
    L(Vec<String>),
}

#[derive(Debug, Clone, Default)]
pub struct Ev {
    pub ty: String,
    pub vals: HashMap<String, V>,
}

impl Ev {
    pub fn new(ty: &str) -> Ev {
        Ev {
            ty: ty.to_owned(),
            vals: HashMap::new(),
        }
    }
    pub fn s(mut self, k: &str, v: &str) -> Ev {
        self.vals.insert(k.to_owned(), V::S(v.to_owned()));
        self
    }
    pub fn n(mut self, k: &str, v: i64) -> Ev {
        self.vals.insert(k.to_owned(), V::N(v));
        self
    }
    pub fn b(mut self, k: &str, v: bool) -> Ev {
        self.vals.insert(k.to_owned(), V::B(v));
        self
    }
    /// Ancestors, parent first (`proc.aname[1]` is the first).
    pub fn l(mut self, k: &str, v: &[&str]) -> Ev {
        self.vals.insert(
            k.to_owned(),
            V::L(v.iter().map(|s| s.to_string()).collect()),
        );
        self
    }
}

fn val(v: &V) -> Value<'_> {
    match v {
        V::S(s) => Value::Str(s),
        V::N(n) => Value::Num(*n),
        V::B(b) => Value::Bool(*b),
        V::L(l) => Value::List(StrList::Strings(l)),
    }
}

impl FieldSource for Ev {
    fn get(&self, f: &Field) -> Option<Value<'_>> {
        if f.id == FieldId::ProcAname {
            let Some(V::L(anc)) = self.vals.get("proc.anames") else {
                return None;
            };
            return match f.arg {
                FieldArg::Index(0) => self.vals.get("proc.name").map(val),
                FieldArg::Index(i) => anc.get(i as usize - 1).map(|s| Value::Str(s)),
                _ => Some(Value::List(StrList::Strings(anc))),
            };
        }
        self.vals.get(&f.name()).map(val)
    }
    fn evt_type(&self) -> &str {
        &self.ty
    }
}
