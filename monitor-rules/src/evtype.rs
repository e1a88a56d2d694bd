//! Derives, from a compiled condition, the set of event types for which it
//! can be true, so a rule is only evaluated for those types. For each node
//! we compute a superset of types where it can be true (P) and where it can
//! be false (N): `not` swaps them, `and` intersects P and unites N, `or`
//! does the opposite. Only `evt.type` checks narrow a set; everything else
//! can be true or false for any type.

use std::collections::BTreeSet;

use crate::expr::{Check, Expr, Mode, StrPred, Test};
use crate::field::FieldId;

/// A set of event types, possibly "all except these".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeSet {
    Only(BTreeSet<Box<str>>),
    AllBut(BTreeSet<Box<str>>),
}

impl TypeSet {
    fn all() -> TypeSet {
        TypeSet::AllBut(BTreeSet::new())
    }
    fn none() -> TypeSet {
        TypeSet::Only(BTreeSet::new())
    }
    fn complement(self) -> TypeSet {
        match self {
            TypeSet::Only(s) => TypeSet::AllBut(s),
            TypeSet::AllBut(s) => TypeSet::Only(s),
        }
    }
    fn and(self, o: TypeSet) -> TypeSet {
        use TypeSet::*;
        match (self, o) {
            (Only(a), Only(b)) => Only(a.intersection(&b).cloned().collect()),
            (Only(a), AllBut(b)) | (AllBut(b), Only(a)) => {
                Only(a.difference(&b).cloned().collect())
            }
            (AllBut(a), AllBut(b)) => AllBut(a.union(&b).cloned().collect()),
        }
    }
    fn or(self, o: TypeSet) -> TypeSet {
        self.complement().and(o.complement()).complement()
    }
}

/// (can be true for, can be false for)
fn sets(e: &Expr) -> (TypeSet, TypeSet) {
    match e {
        Expr::Const(true) => (TypeSet::all(), TypeSet::none()),
        Expr::Const(false) => (TypeSet::none(), TypeSet::all()),
        Expr::Not(x) => {
            let (p, n) = sets(x);
            (n, p)
        }
        Expr::And(v) => v
            .iter()
            .map(sets)
            .fold((TypeSet::all(), TypeSet::none()), |(p, n), (p2, n2)| {
                (p.and(p2), n.or(n2))
            }),
        Expr::Or(v) => v
            .iter()
            .map(sets)
            .fold((TypeSet::none(), TypeSet::all()), |(p, n), (p2, n2)| {
                (p.or(p2), n.and(n2))
            }),
        Expr::Check(c) => check_sets(c),
    }
}

fn check_sets(c: &Check) -> (TypeSet, TypeSet) {
    if c.field.id != FieldId::EvtType || c.mode != Mode::Scalar {
        return (TypeSet::all(), TypeSet::all());
    }
    let (set, negate) = match &c.test {
        Test::Str {
            pred: StrPred::Eq(x),
            negate,
        } => (BTreeSet::from([x.clone()]), *negate),
        Test::Str {
            pred: StrPred::In(s),
            negate,
        } => (s.iter().cloned().collect(), *negate),
        _ => return (TypeSet::all(), TypeSet::all()),
    };
    let p = TypeSet::Only(set.clone());
    let n = TypeSet::AllBut(set);
    if negate {
        (n, p)
    } else {
        (p, n)
    }
}

/// The event types a rule can match: `Some(types)` or `None` for any type.
pub(crate) fn event_types(e: &Expr) -> Option<BTreeSet<Box<str>>> {
    match sets(e).0 {
        TypeSet::Only(s) => Some(s),
        TypeSet::AllBut(_) => None,
    }
}
