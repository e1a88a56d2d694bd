//! The compiled matcher: a condition after macro expansion, list
//! resolution and type checking, with every operand prepared once (lowered
//! strings for `icontains`, hash sets for `in`, compiled regexes and globs,
//! substring finders). Evaluation borrows values from the event and
//! allocates nothing.

use std::collections::HashSet;

use aho_corasick::AhoCorasick;
use memchr::memmem::Finder;
use regex::Regex;

use crate::field::{Field, FieldId};
use crate::parse::Xform;
use crate::value::{FieldSource, Value};

/// Hashing for the engine's sets and indexes: foldhash, fast on short
/// strings (keys are rule-author values and event types).
pub(crate) type FastHash = foldhash::fast::RandomState;

/// Sets up to this size are scanned linearly (faster than hashing).
const SMALL_SET: usize = 8;

/// A set of strings for `in`: a short slice or a hash set.
#[derive(Debug)]
pub(crate) enum StrSet {
    Small(Box<[Box<str>]>),
    Hash(HashSet<Box<str>, FastHash>),
}

impl FromIterator<Box<str>> for StrSet {
    fn from_iter<I: IntoIterator<Item = Box<str>>>(it: I) -> StrSet {
        let mut v: Vec<Box<str>> = it.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        if v.len() <= SMALL_SET {
            StrSet::Small(v.into())
        } else {
            StrSet::Hash(v.into_iter().collect())
        }
    }
}

impl StrSet {
    #[inline]
    pub(crate) fn contains(&self, s: &str) -> bool {
        match self {
            StrSet::Small(v) => v
                .iter()
                .any(|x| x.len() == s.len() && x.as_bytes() == s.as_bytes()),
            StrSet::Hash(h) => h.contains(s),
        }
    }
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = &Box<str>> + '_> {
        match self {
            StrSet::Small(v) => Box::new(v.iter()),
            StrSet::Hash(h) => Box::new(h.iter()),
        }
    }
}

#[derive(Debug)]
pub(crate) enum Expr {
    Const(bool),
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
    Not(Box<Expr>),
    Check(Box<Check>),
}

/// How a field's value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One value.
    Scalar,
    /// A list where the check holds if it holds for any element
    /// (`proc.aname` without index: any ancestor).
    AnyOf,
}

#[derive(Debug)]
pub(crate) struct Check {
    pub field: Field,
    pub mode: Mode,
    pub test: Test,
    /// Identity of this check's meaning (field, operator, operands); equal
    /// checks in different rules share it.
    pub key: u32,
    /// Slot in [`Memo`] when the check occurs in several rules, else
    /// [`NO_SLOT`].
    pub slot: u32,
}

pub(crate) const NO_SLOT: u32 = u32::MAX;

/// Checks shared between rules are evaluated once per event: results are
/// remembered here (on the stack: no allocation per event).
pub(crate) const MEMO_SLOTS: usize = 256;

pub(crate) struct Memo {
    known: [u64; MEMO_SLOTS / 64],
    val: [u64; MEMO_SLOTS / 64],
}

impl Memo {
    pub(crate) fn new() -> Memo {
        Memo {
            known: [0; MEMO_SLOTS / 64],
            val: [0; MEMO_SLOTS / 64],
        }
    }
}

#[derive(Debug)]
pub(crate) enum Test {
    Exists,
    Str {
        pred: StrPred,
        negate: bool,
    },
    Num {
        pred: NumPred,
        negate: bool,
    },
    Bool {
        want: bool,
        negate: bool,
    },
    /// Syscall arguments: numeric when the value is a number and the
    /// operand is one, textual otherwise.
    Dyn {
        s: Option<StrPred>,
        n: Option<NumPred>,
        negate: bool,
    },
    /// `field op val(other)` (or a transformed `other`).
    FieldCmp {
        other: Field,
        op: crate::parse::Op,
        /// Transformers on `other`, innermost first (usually none).
        other_xf: Box<[Xform]>,
    },
    /// The field's value goes through transformers, then `inner`.
    Xform {
        xf: Box<[Xform]>,
        inner: Box<Test>,
    },
    /// Network fields (`fd.snet`): the address is in one of the networks.
    Net {
        nets: Box<[ipnet::IpNet]>,
        negate: bool,
    },
    /// List field: every element is in the set (and there is at least one).
    ListIn(StrSet),
    /// List field: some element is in the set.
    ListIntersects(StrSet),
}

#[derive(Debug)]
pub(crate) enum StrPred {
    Eq(Box<str>),
    Contains(Box<Finder<'static>>),
    /// Needle already ASCII-lowercased.
    IContains(Box<[u8]>),
    StartsWith(Box<str>),
    BStartsWith(Box<[u8]>),
    EndsWith(Box<str>),
    Glob(Regex),
    In(StrSet),
    PMatch(Box<[PathPat]>),
    Regex(Regex),
    /// Any of several needles occurs (case-insensitively for merged
    /// `icontains`), in one pass ([`combine_substrings`]).
    Substrings(Box<AhoCorasick>),
    /// Any of these holds: an `or` of plain string tests on one field,
    /// merged so the field is read and dispatched on once
    /// ([`Expr::merge_alternatives`]).
    Any(Box<[StrPred]>),
}

#[derive(Debug)]
pub(crate) enum PathPat {
    /// A directory prefix without trailing slash ("" is the root).
    Prefix(Box<str>),
    /// Path components, each a compiled glob.
    Glob(Box<[Regex]>),
}

#[derive(Debug)]
pub(crate) enum NumPred {
    Eq(i64),
    Lt(i64),
    Le(i64),
    Gt(i64),
    Ge(i64),
    In(HashSet<i64, FastHash>),
}

impl Expr {
    /// Flatten nested `and`/`or` (macro expansion creates many) and order
    /// each group's terms cheapest first; `evt.type` checks go last since
    /// the type index has usually decided them already. Terms have no side
    /// effects, so order does not change the result.
    pub(crate) fn optimize(self) -> Expr {
        match self {
            Expr::And(v) => group(v, true),
            Expr::Or(v) => group(v, false),
            Expr::Not(e) => match e.optimize() {
                Expr::Not(inner) => *inner,
                Expr::Const(b) => Expr::Const(!b),
                e => Expr::Not(Box::new(e)),
            },
            e => e,
        }
    }

    fn cost(&self) -> u32 {
        match self {
            Expr::Const(_) => 0,
            Expr::Not(e) => e.cost(),
            Expr::And(v) | Expr::Or(v) => v.iter().map(Expr::cost).sum::<u32>().min(1000),
            Expr::Check(c) => {
                if c.field.id == FieldId::EvtType {
                    return 50;
                }
                let base = if c.mode == Mode::AnyOf { 10 } else { 0 };
                base + match &c.test {
                    Test::Exists | Test::Bool { .. } | Test::Num { .. } => 1,
                    Test::Str { pred, .. } => pred.cost(),
                    Test::Dyn { s, .. } => s.as_ref().map_or(2, StrPred::cost),
                    Test::ListIn(_) | Test::ListIntersects(_) | Test::FieldCmp { .. } => 8,
                    Test::Net { .. } => 6,
                    Test::Xform { .. } => 12,
                }
            }
        }
    }
}

impl Expr {
    /// Merge, in every `or`, the plain string tests (`startswith`,
    /// `endswith`, `contains`, `icontains`) on one field into one
    /// check of [`StrPred::Any`]: `proc.exepath startswith /tmp/ or
    /// proc.exepath startswith /var/tmp/ or ...` reads the field once.
    /// Same result: each test is a pure function of the field's value, and
    /// a missing field fails them all. `key` interns the merged check's
    /// identity (from its members') so equal merges still share a memo
    /// slot.
    pub(crate) fn merge_alternatives(self, key: &mut impl FnMut(String) -> u32) -> Expr {
        match self {
            Expr::And(v) => Expr::And(
                v.into_vec()
                    .into_iter()
                    .map(|e| e.merge_alternatives(key))
                    .collect(),
            ),
            Expr::Not(e) => Expr::Not(Box::new(e.merge_alternatives(key))),
            Expr::Or(v) => {
                let mut out: Vec<Expr> = Vec::with_capacity(v.len());
                // Index in `out` of the merge for each (field, mode).
                let mut merged: Vec<(Field, Mode, usize, Vec<u32>)> = Vec::new();
                for e in v.into_vec() {
                    let e = e.merge_alternatives(key);
                    let Expr::Check(c) = e else {
                        out.push(e);
                        continue;
                    };
                    if !c.is_plain_str_test() {
                        out.push(Expr::Check(c));
                        continue;
                    }
                    let Check {
                        field,
                        mode,
                        test,
                        key: k,
                        ..
                    } = *c;
                    let Test::Str { pred, .. } = test else {
                        unreachable!("a plain string test")
                    };
                    match merged
                        .iter_mut()
                        .find(|(f, m, _, _)| *f == field && *m == mode)
                    {
                        Some((_, _, at, keys)) => {
                            keys.push(k);
                            let Expr::Check(m) = &mut out[*at] else {
                                unreachable!("merge slots hold checks")
                            };
                            let Test::Str { pred: p, .. } = &mut m.test else {
                                unreachable!("merged checks are string tests")
                            };
                            let prev = std::mem::replace(p, StrPred::Any(Box::new([])));
                            let mut all = match prev {
                                StrPred::Any(v) => v.into_vec(),
                                one => vec![one],
                            };
                            all.push(pred);
                            *p = StrPred::Any(all.into());
                        }
                        None => {
                            merged.push((field.clone(), mode, out.len(), vec![k]));
                            out.push(Expr::Check(Box::new(Check {
                                field,
                                mode,
                                test: Test::Str {
                                    pred,
                                    negate: false,
                                },
                                key: k,
                                slot: NO_SLOT,
                            })));
                        }
                    }
                }
                for (_, _, at, keys) in merged.iter().filter(|m| m.3.len() > 1) {
                    if let Expr::Check(c) = &mut out[*at] {
                        let ids: Vec<String> = keys.iter().map(u32::to_string).collect();
                        c.key = key(format!("any\u{1f}{}", ids.join(",")));
                        if let Test::Str { pred, .. } = &mut c.test {
                            combine_substrings(pred);
                        }
                    }
                }
                out.sort_by_key(Expr::cost);
                Expr::Or(out.into())
            }
            e => e,
        }
    }
}

/// In a merged [`StrPred::Any`], several `contains` (or `icontains`)
/// needles become one Aho-Corasick automaton: one pass over the text
/// instead of one per needle (the crypto-miner rule looks for six strings
/// in every command line).
fn combine_substrings(pred: &mut StrPred) {
    let StrPred::Any(v) = pred else { return };
    let mut rest = Vec::with_capacity(v.len());
    let (mut exact, mut folded): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    for p in std::mem::take(v).into_vec() {
        match p {
            StrPred::Contains(f) => exact.push(f.needle().to_vec()),
            StrPred::IContains(n) => folded.push(n.into_vec()),
            p => rest.push(p),
        }
    }
    for (needles, fold) in [(exact, false), (folded, true)] {
        let one = match needles.len() {
            0 => continue,
            1 if fold => StrPred::IContains(needles[0].clone().into()),
            1 => StrPred::Contains(Box::new(Finder::new(&needles[0]).into_owned())),
            _ => match AhoCorasick::builder()
                .ascii_case_insensitive(fold)
                .build(&needles)
            {
                Ok(ac) => StrPred::Substrings(Box::new(ac)),
                // Too large an automaton (not for a few needles): one by one.
                Err(_) => {
                    rest.extend(needles.into_iter().map(|n| {
                        if fold {
                            StrPred::IContains(n.into())
                        } else {
                            StrPred::Contains(Box::new(Finder::new(&n).into_owned()))
                        }
                    }));
                    continue;
                }
            },
        };
        rest.push(one);
    }
    *pred = match rest.len() {
        1 => rest.pop().expect("one"),
        _ => StrPred::Any(rest.into()),
    };
}

impl Check {
    /// A non-negated prefix, suffix or substring test. Not `evt.type`
    /// and not `=`: the type index and the candidate split read those.
    fn is_plain_str_test(&self) -> bool {
        self.field.id != FieldId::EvtType
            && matches!(
                &self.test,
                Test::Str {
                    pred: StrPred::StartsWith(_)
                        | StrPred::EndsWith(_)
                        | StrPred::BStartsWith(_)
                        | StrPred::Contains(_)
                        | StrPred::IContains(_),
                    negate: false,
                }
            )
    }
}

fn group(v: Box<[Expr]>, and: bool) -> Expr {
    let mut out = Vec::with_capacity(v.len());
    for e in v.into_vec() {
        match e.optimize() {
            Expr::And(inner) if and => out.extend(inner.into_vec()),
            Expr::Or(inner) if !and => out.extend(inner.into_vec()),
            // `true` in an and / `false` in an or is a no-op.
            Expr::Const(b) if b == and => {}
            Expr::Const(b) => return Expr::Const(b),
            e => out.push(e),
        }
    }
    out.sort_by_key(Expr::cost);
    match out.len() {
        0 => Expr::Const(and),
        1 => out.pop().expect("one"),
        _ if and => Expr::And(out.into()),
        _ => Expr::Or(out.into()),
    }
}

impl Expr {
    pub(crate) fn eval<E: FieldSource + ?Sized>(&self, ev: &E, memo: &mut Memo) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::And(v) => v.iter().all(|e| e.eval(ev, memo)),
            Expr::Or(v) => v.iter().any(|e| e.eval(ev, memo)),
            Expr::Not(e) => !e.eval(ev, memo),
            Expr::Check(c) => {
                let slot = c.slot as usize;
                if slot >= MEMO_SLOTS {
                    return c.eval(ev);
                }
                let (w, bit) = (slot / 64, 1u64 << (slot % 64));
                if memo.known[w] & bit != 0 {
                    return memo.val[w] & bit != 0;
                }
                let r = c.eval(ev);
                memo.known[w] |= bit;
                if r {
                    memo.val[w] |= bit;
                }
                r
            }
        }
    }

    /// Top-level conjuncts `field = x` / `field in (...)` (string fields,
    /// not negated): the rule can only match if `field` takes one of these
    /// values.
    pub(crate) fn required_values(&self) -> Vec<(&Field, Vec<&str>)> {
        let terms: &[Expr] = match self {
            Expr::And(v) => v,
            e => std::slice::from_ref(e),
        };
        let mut out = Vec::new();
        for t in terms {
            let Expr::Check(c) = t else { continue };
            if c.mode != Mode::Scalar {
                continue;
            }
            match &c.test {
                Test::Str {
                    pred: StrPred::Eq(x),
                    negate: false,
                } => out.push((&c.field, vec![&**x])),
                Test::Str {
                    pred: StrPred::In(s),
                    negate: false,
                } => out.push((&c.field, s.iter().map(|x| &**x).collect())),
                _ => {}
            }
        }
        out
    }

    /// Visit the field of every check.
    pub(crate) fn fields<'a>(&'a self, f: &mut impl FnMut(&'a Field)) {
        match self {
            Expr::Const(_) => {}
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.fields(f)),
            Expr::Not(e) => e.fields(f),
            Expr::Check(c) => f(&c.field),
        }
    }

    /// Visit every check (to assign memo slots).
    pub(crate) fn checks_mut(&mut self, f: &mut impl FnMut(&mut Check)) {
        match self {
            Expr::Const(_) => {}
            Expr::And(v) | Expr::Or(v) => v.iter_mut().for_each(|e| e.checks_mut(f)),
            Expr::Not(e) => e.checks_mut(f),
            Expr::Check(c) => f(c),
        }
    }
}

impl Check {
    fn eval<E: FieldSource + ?Sized>(&self, ev: &E) -> bool {
        let v = if self.field.id == FieldId::EvtType {
            Some(Value::Str(ev.evt_type()))
        } else {
            ev.get(&self.field)
        };
        let Some(v) = v else { return false };
        self.test.eval(v, ev)
    }
}

impl Test {
    fn eval<E: FieldSource + ?Sized>(&self, v: Value<'_>, ev: &E) -> bool {
        match self {
            Test::Exists => true,
            Test::Str { pred, negate } => {
                let hit = match v {
                    Value::Str(s) => pred.test(s),
                    Value::List(l) => l.iter().any(|s| pred.test(s)),
                    Value::Num(n) => pred.test(NumBuf::new(n).as_str()),
                    Value::Bool(b) => pred.test(if b { "true" } else { "false" }),
                };
                hit != *negate
            }
            Test::Num { pred, negate } => {
                let hit = match v {
                    Value::Num(n) => pred.test(n),
                    Value::Str(s) => s.trim().parse().map(|n| pred.test(n)).unwrap_or(false),
                    Value::Bool(b) => pred.test(b as i64),
                    Value::List(l) => l
                        .iter()
                        .any(|s| s.trim().parse().map(|n| pred.test(n)).unwrap_or(false)),
                };
                hit != *negate
            }
            Test::Bool { want, negate } => {
                let b = match v {
                    Value::Bool(b) => b,
                    Value::Num(n) => n != 0,
                    Value::Str(s) => match s {
                        "true" => true,
                        "false" => false,
                        _ => return false,
                    },
                    Value::List(_) => return false,
                };
                (b == *want) != *negate
            }
            Test::Dyn { s, n, negate } => {
                let hit = match v {
                    Value::Num(x) => match (n, s) {
                        (Some(np), _) => np.test(x),
                        (None, Some(sp)) => sp.test(NumBuf::new(x).as_str()),
                        (None, None) => false,
                    },
                    Value::Str(st) => match (s, n) {
                        (Some(sp), _) => sp.test(st),
                        (None, Some(np)) => st.trim().parse().map(|x| np.test(x)).unwrap_or(false),
                        (None, None) => false,
                    },
                    Value::Bool(b) => match s {
                        Some(sp) => sp.test(if b { "true" } else { "false" }),
                        None => false,
                    },
                    Value::List(l) => match s {
                        Some(sp) => l.iter().any(|x| sp.test(x)),
                        None => false,
                    },
                };
                hit != *negate
            }
            Test::FieldCmp {
                other,
                op,
                other_xf,
            } => {
                let w = if other.id == FieldId::EvtType {
                    Some(Value::Str(ev.evt_type()))
                } else {
                    ev.get(other)
                };
                match w {
                    Some(w) if other_xf.is_empty() => field_cmp(v, w, *op),
                    Some(w) => match crate::transform::apply(other_xf, w) {
                        Some(t) => field_cmp(v, t.value(), *op),
                        None => false,
                    },
                    None => false,
                }
            }
            Test::Xform { xf, inner } => match crate::transform::apply(xf, v) {
                Some(t) => inner.eval(t.value(), ev),
                None => false,
            },
            Test::Net { nets, negate } => {
                let hit = match v {
                    Value::Str(s) => crate::net::in_any(nets, s),
                    Value::List(l) => l.iter().any(|s| crate::net::in_any(nets, s)),
                    Value::Num(_) | Value::Bool(_) => false,
                };
                hit != *negate
            }
            Test::ListIn(set) => match v {
                Value::List(l) => !l.is_empty() && l.iter().all(|x| set.contains(x)),
                Value::Str(x) => set.contains(x),
                _ => false,
            },
            Test::ListIntersects(set) => match v {
                Value::List(l) => l.iter().any(|x| set.contains(x)),
                Value::Str(x) => set.contains(x),
                _ => false,
            },
        }
    }
}

impl StrPred {
    fn cost(&self) -> u32 {
        match self {
            StrPred::Eq(_) | StrPred::StartsWith(_) | StrPred::EndsWith(_) => 2,
            StrPred::BStartsWith(_) => 2,
            StrPred::In(_) => 3,
            StrPred::PMatch(_) => 4,
            StrPred::Contains(_) | StrPred::IContains(_) => 5,
            StrPred::Glob(_) | StrPred::Regex(_) => 8,
            StrPred::Substrings(_) => 6,
            StrPred::Any(v) => v.iter().map(StrPred::cost).sum::<u32>().min(20),
        }
    }

    #[inline]
    pub(crate) fn test(&self, s: &str) -> bool {
        match self {
            StrPred::Eq(x) => s == &**x,
            StrPred::Contains(f) => f.find(s.as_bytes()).is_some(),
            StrPred::IContains(n) => icontains(s.as_bytes(), n),
            StrPred::StartsWith(x) => s.starts_with(&**x),
            StrPred::BStartsWith(x) => s.as_bytes().starts_with(x),
            StrPred::EndsWith(x) => s.ends_with(&**x),
            StrPred::Glob(r) | StrPred::Regex(r) => r.is_match(s),
            StrPred::In(set) => set.contains(s),
            StrPred::PMatch(pats) => pats.iter().any(|p| p.test(s)),
            StrPred::Substrings(ac) => ac.is_match(s),
            StrPred::Any(v) => v.iter().any(|p| p.test(s)),
        }
    }
}

impl PathPat {
    fn test(&self, s: &str) -> bool {
        match self {
            PathPat::Prefix(p) => {
                s.starts_with(&**p) && (s.len() == p.len() || s.as_bytes()[p.len()] == b'/')
            }
            PathPat::Glob(parts) => {
                let mut comps = s.split('/');
                parts.iter().all(|re| match comps.next() {
                    Some(c) => re.is_match(c),
                    None => false,
                })
            }
        }
    }
}

impl NumPred {
    #[inline]
    fn test(&self, n: i64) -> bool {
        match self {
            NumPred::Eq(x) => n == *x,
            NumPred::Lt(x) => n < *x,
            NumPred::Le(x) => n <= *x,
            NumPred::Gt(x) => n > *x,
            NumPred::Ge(x) => n >= *x,
            NumPred::In(set) => set.contains(&n),
        }
    }
}

/// Compare two values of one event (`val()`): numbers numerically (text
/// that parses as a number counts), everything else as text.
fn field_cmp(a: Value<'_>, b: Value<'_>, op: crate::parse::Op) -> bool {
    use crate::parse::Op;
    use std::cmp::Ordering;
    let num = |v: Value<'_>| match v {
        Value::Num(n) => Some(n),
        Value::Str(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(b as i64),
        Value::List(_) => None,
    };
    let ord = match (num(a), num(b)) {
        (Some(x), Some(y))
            if !matches!(
                op,
                Op::Contains | Op::IContains | Op::StartsWith | Op::EndsWith
            ) =>
        {
            x.cmp(&y)
        }
        _ => {
            let (ab, bb) = (NumBuf::of(a), NumBuf::of(b));
            let (x, y) = (ab.text(a), bb.text(b));
            match op {
                Op::Contains => return x.contains(y),
                Op::IContains => return icontains(x.as_bytes(), y.to_ascii_lowercase().as_bytes()),
                Op::StartsWith => return x.starts_with(y),
                Op::EndsWith => return x.ends_with(y),
                _ => x.cmp(y),
            }
        }
    };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        _ => false,
    }
}

/// ASCII case-insensitive substring search; `needle` is lowercase.
fn icontains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    let last_start = hay.len() - needle.len();
    let matches_at = |at: usize| {
        hay[at + 1..at + needle.len()]
            .iter()
            .zip(rest)
            .all(|(h, n)| h.to_ascii_lowercase() == *n)
    };
    // Short texts (most command lines and paths): a plain scan beats
    // setting up a vectorised search.
    if hay.len() < 64 {
        return (0..=last_start).any(|at| hay[at].to_ascii_lowercase() == first && matches_at(at));
    }
    let upper = first.to_ascii_uppercase();
    let mut from = 0;
    while from <= last_start {
        let Some(k) = memchr::memchr2(first, upper, &hay[from..=last_start]) else {
            return false;
        };
        let at = from + k;
        if matches_at(at) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// An integer formatted on the stack, for string operators applied to
/// numeric values.
struct NumBuf {
    buf: [u8; 20],
    start: usize,
}

impl NumBuf {
    fn new(n: i64) -> NumBuf {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let neg = n < 0;
        let mut u = n.unsigned_abs();
        loop {
            i -= 1;
            buf[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        if neg {
            i -= 1;
            buf[i] = b'-';
        }
        NumBuf { buf, start: i }
    }
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("")
    }
    /// A buffer holding `v`'s text when it is a number.
    fn of(v: Value<'_>) -> NumBuf {
        match v {
            Value::Num(n) => NumBuf::new(n),
            _ => NumBuf::new(0),
        }
    }
    /// `v` as text (numbers through this buffer; lists are not text).
    fn text<'a>(&'a self, v: Value<'a>) -> &'a str {
        match v {
            Value::Str(s) => s,
            Value::Num(_) => self.as_str(),
            Value::Bool(true) => "true",
            Value::Bool(false) => "false",
            Value::List(_) => "",
        }
    }
}

/// The predicate of `glob`: globs whose only wildcard is a leading and/or
/// trailing `*` (most path globs in rules: `/dev/sd*`, `*.so`) are a
/// plain prefix, suffix or substring test, many times cheaper than a regex;
/// the rest go through [`glob_regex`].
pub(crate) fn glob_pred(glob: &str) -> Result<StrPred, regex::Error> {
    let (lead, inner) = match glob.strip_prefix('*') {
        Some(rest) => (true, rest),
        None => (false, glob),
    };
    let (trail, lit) = match inner.strip_suffix('*') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    if lit.contains(['*', '?', '[']) {
        return glob_regex(glob).map(StrPred::Glob);
    }
    Ok(match (lead, trail) {
        (false, false) => StrPred::Eq(lit.into()),
        (false, true) => StrPred::StartsWith(lit.into()),
        (true, false) => StrPred::EndsWith(lit.into()),
        (true, true) => StrPred::Contains(Box::new(Finder::new(lit.as_bytes()).into_owned())),
    })
}

/// Translate a glob (`*`, `?`, `[...]`) into an anchored regex. `*` also
/// matches `/`, as fnmatch does without FNM_PATHNAME.
pub(crate) fn glob_regex(glob: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("(?s)^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                // Copy a bracket expression; `!` negates as in fnmatch.
                let mut class = String::from("[");
                let mut closed = false;
                if chars.peek() == Some(&'!') || chars.peek() == Some(&'^') {
                    chars.next();
                    class.push('^');
                }
                let mut first = true;
                for d in chars.by_ref() {
                    if d == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    if d == '\\' || d == '[' || d == '&' || d == '~' {
                        class.push('\\');
                    }
                    class.push(d);
                }
                if closed {
                    class.push(']');
                    re.push_str(&class);
                } else {
                    re.push_str(&regex::escape(&class));
                }
            }
            c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    re.push('$');
    Regex::new(&re)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icontains_is_ascii_case_insensitive() {
        assert!(icontains(b"BEGIN RSA Private KEY", b"rsa private"));
        assert!(!icontains(b"BEGIN RSA", b"rsa private"));
        assert!(icontains(b"x", b""));
        assert!(icontains(b"aaB", b"ab"));
        // Past the short-text scan, through the vectorised search.
        let long = format!("{}--Donate-Level=1", "x".repeat(80));
        assert!(icontains(long.as_bytes(), b"--donate-level"));
        assert!(!icontains(long.as_bytes(), b"--donate-levels"));
    }

    #[test]
    fn numbuf() {
        assert_eq!(NumBuf::new(0).as_str(), "0");
        assert_eq!(NumBuf::new(-12).as_str(), "-12");
        assert_eq!(NumBuf::new(i64::MIN).as_str(), i64::MIN.to_string());
    }

    #[test]
    fn simple_globs_are_plain_string_tests_with_the_regex_meaning() {
        let globs = [
            "/dev/sd*",
            "*.so",
            "*/.ssh/*",
            "/etc/shadow",
            "*",
            "**",
            "",
            "a*b",
            "/x?",
        ];
        let texts = [
            "/dev/sda",
            "/dev/s",
            "lib.so",
            "lib.so.1",
            "/root/.ssh/id",
            ".ssh",
            "",
            "*",
            "ab",
            "a-b",
            "/x1",
            "/etc/shadow",
        ];
        for g in globs {
            let fast = glob_pred(g).unwrap();
            let re = glob_regex(g).unwrap();
            for t in texts {
                assert_eq!(fast.test(t), re.is_match(t), "glob {g:?} on {t:?}");
            }
        }
        assert!(matches!(
            glob_pred("/dev/sd*").unwrap(),
            StrPred::StartsWith(_)
        ));
        assert!(matches!(glob_pred("*.so").unwrap(), StrPred::EndsWith(_)));
        assert!(matches!(
            glob_pred("*/.ssh/*").unwrap(),
            StrPred::Contains(_)
        ));
        assert!(matches!(glob_pred("a*b").unwrap(), StrPred::Glob(_)));
    }

    #[test]
    fn globs() {
        let g = glob_regex("/home/*/.ssh/*").unwrap();
        assert!(g.is_match("/home/a/.ssh/id_rsa"));
        assert!(!g.is_match("/root/.ssh/id_rsa"));
        let g = glob_regex("*../*../*").unwrap();
        assert!(g.is_match("/a/../b/../c"));
        let g = glob_regex("/dev/sd[a-c]?").unwrap();
        assert!(g.is_match("/dev/sdb1"));
        assert!(!g.is_match("/dev/sdd1"));
        let g = glob_regex("x[!0-9]").unwrap();
        assert!(g.is_match("xa") && !g.is_match("x1"));
        let g = glob_regex("a.b+").unwrap();
        assert!(g.is_match("a.b+") && !g.is_match("axb+"));
        assert!(glob_regex("[").unwrap().is_match("["));
    }
}
