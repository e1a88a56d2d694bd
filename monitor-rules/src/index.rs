//! Candidate selection: which rules an event is checked against. Rules are
//! bucketed by event type; inside a bucket, when several rules require one
//! field to equal one of a few strings (`proc.name in (...)` as a top-level
//! conjunct), the bucket is split by that field's value, so an event is only
//! checked against the rules its value can satisfy plus the rules without
//! such a requirement. Candidates always come out in definition order.

use std::collections::HashMap;

use crate::expr::{Expr, FastHash};
use crate::field::{Field, FieldId};
use crate::value::{FieldSource, Value};

/// The rules of one event type (or of the catch-all).
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    /// Every rule of the bucket, sorted.
    all: Box<[u32]>,
    split: Option<Split>,
}

#[derive(Debug)]
struct Split {
    field: Field,
    /// Rules that do not constrain `field` (sorted).
    always: Box<[u32]>,
    /// Rules per accepted value of `field` (each sorted).
    by_value: HashMap<Box<str>, Box<[u32]>, FastHash>,
}

impl Bucket {
    /// Build a bucket from rule ids (sorted) and a way to get each rule's
    /// expression.
    pub(crate) fn build<'r>(ids: Vec<u32>, expr_of: impl Fn(u32) -> &'r Expr) -> Bucket {
        // Count, per field, how many rules require it to take given values.
        let mut counts: HashMap<&Field, usize> = HashMap::new();
        for &i in &ids {
            let mut seen: Vec<&Field> = Vec::new();
            for (f, _) in expr_of(i).required_values() {
                if !seen.contains(&f) {
                    seen.push(f);
                    *counts.entry(f).or_default() += 1;
                }
            }
        }
        let best = counts
            .into_iter()
            .filter(|(f, n)| *n >= 2 && f.id != FieldId::EvtType)
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.name().cmp(&a.0.name())))
            .map(|(f, _)| f.clone());
        let split = best.map(|field| {
            let mut always = Vec::new();
            let mut by_value: HashMap<Box<str>, Vec<u32>, FastHash> = HashMap::default();
            for &i in &ids {
                let req = expr_of(i).required_values();
                match req.iter().find(|(f, _)| **f == field) {
                    Some((_, values)) => {
                        for v in values {
                            let e = by_value.entry((*v).into()).or_default();
                            if e.last() != Some(&i) {
                                e.push(i);
                            }
                        }
                    }
                    None => always.push(i),
                }
            }
            Split {
                field,
                always: always.into(),
                by_value: by_value
                    .into_iter()
                    .map(|(k, v)| (k, v.into_boxed_slice()))
                    .collect(),
            }
        });
        Bucket {
            all: ids.into(),
            split,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.all.len()
    }

    /// The rules `ev` must be checked against, in definition order.
    pub(crate) fn candidates<'s, E: FieldSource + ?Sized>(&'s self, ev: &E) -> Candidates<'s> {
        let Some(s) = &self.split else {
            return Candidates::merge(&self.all, &[]);
        };
        match ev.get(&s.field) {
            // A missing field fails the required check: only `always` remain.
            None => Candidates::merge(&s.always, &[]),
            Some(Value::Str(v)) => {
                Candidates::merge(&s.always, s.by_value.get(v).map_or(&[][..], |b| b))
            }
            // Unexpected value shape: check everything (still correct).
            Some(_) => Candidates::merge(&self.all, &[]),
        }
    }
}

/// Merge of two sorted id lists.
pub(crate) struct Candidates<'s> {
    a: &'s [u32],
    b: &'s [u32],
}

impl<'s> Candidates<'s> {
    fn merge(a: &'s [u32], b: &'s [u32]) -> Candidates<'s> {
        Candidates { a, b }
    }
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(x), Some(y)) => x <= y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let s = if take_a { &mut self.a } else { &mut self.b };
        let (first, rest) = s.split_first()?;
        *s = rest;
        Some(*first)
    }
}
