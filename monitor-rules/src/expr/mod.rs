//! The compiled matcher: a condition after macro expansion, list
//! resolution and type checking, with every operand prepared once (lowered
//! strings for `icontains`, hash sets for `in`, compiled regexes and globs,
//! substring finders). Evaluation borrows values from the event and
//! allocates nothing.
//!
//! This file holds the compiled forms and their evaluation; [`optimize`]
//! flattens and orders them and merges string tests, [`strings`] owns the
//! string, path and number predicates (substring search, globs), [`set`]
//! the string sets of `in`.

mod optimize;
mod paths;
mod set;
mod strings;

pub use paths::{OpenPaths, PathNeed, PathPattern};

pub(crate) use set::StrSet;
pub(crate) use strings::{glob_pred, glob_regex};
use strings::{icontains, Needles, NumBuf};

use std::collections::HashSet;

use memchr::memmem::Finder;
use regex::Regex;

use crate::field::{Field, FieldId};
use crate::parse::Xform;
use crate::value::{FieldSource, Value};

/// Hashing for the engine's sets and indexes: foldhash, fast on short
/// strings (keys are rule-author values and event types).
pub(crate) type FastHash = foldhash::fast::RandomState;

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
const MEMO_WORDS: usize = MEMO_SLOTS / 64;

pub(crate) struct Memo {
    known: [u64; MEMO_WORDS],
    val: [u64; MEMO_WORDS],
}

/// What one event's matching learnt about the checks of its context (the
/// fields that are the same for every event sharing a process and
/// container, [`crate::LoadOptions::context_fields`]): kept by the caller
/// and handed to the matching of the context's next event
/// ([`crate::RuleSet::matching_from`]), whose rules then find those checks
/// answered, and are refuted by them before being walked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextMemo {
    known: [u64; MEMO_WORDS],
    val: [u64; MEMO_WORDS],
}

impl ContextMemo {
    /// How many checks it answers.
    pub fn len(&self) -> usize {
        self.known.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What it knows of the checks in `mask`.
    pub(crate) fn masked(&self, mask: &SlotMask) -> ContextMemo {
        ContextMemo {
            known: std::array::from_fn(|w| self.known[w] & mask[w]),
            val: std::array::from_fn(|w| self.val[w] & mask[w]),
        }
    }
}

/// The memo slots of context checks, as a bit mask.
pub(crate) type SlotMask = [u64; MEMO_WORDS];

impl Memo {
    pub(crate) fn new() -> Memo {
        Memo {
            known: [0; MEMO_WORDS],
            val: [0; MEMO_WORDS],
        }
    }

    /// A memo that starts out knowing what `context` knows.
    pub(crate) fn from_context(context: &ContextMemo) -> Memo {
        Memo {
            known: context.known,
            val: context.val,
        }
    }

    /// What it knows of the checks in `mask`.
    pub(crate) fn context(&self, mask: &SlotMask) -> ContextMemo {
        ContextMemo {
            known: self.known,
            val: self.val,
        }
        .masked(mask)
    }

    /// Whether a check of `req` is already known to be false for this
    /// event: the condition then fails without being walked (a host
    /// event is refuted by `container.id != host` once for every
    /// container rule).
    #[inline]
    pub(crate) fn refutes(&self, req: &Required) -> bool {
        // One OR over the words up to the last the rule uses (most rules:
        // one), no early exit: it runs once per candidate rule, and a
        // branch per word costs more than the words.
        let mut refuted = 0;
        for w in 0..usize::from(req.words) {
            refuted |= req.bits[w] & self.known[w] & !self.val[w];
        }
        refuted != 0
    }
}

/// The memo slots of the checks a condition cannot hold without (its
/// top-level conjuncts that have a slot), as a bit mask, and how many of
/// its words hold bits (up to the last that does).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Required {
    bits: [u64; MEMO_SLOTS / 64],
    words: u8,
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
    Substrings(Box<Needles>),
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
    pub(crate) fn eval<E: FieldSource + ?Sized>(&self, ev: &E, memo: &mut Memo) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::And(v) => v.iter().all(|e| e.eval_term(ev, memo)),
            Expr::Or(v) => v.iter().any(|e| e.eval_term(ev, memo)),
            Expr::Not(e) => !e.eval(ev, memo),
            Expr::Check(c) => c.eval_memo(ev, memo),
        }
    }

    /// A rule's whole condition: the top-level `and` (most conditions)
    /// walked in place, saving a call per rule and event.
    #[inline]
    pub(crate) fn eval_condition<E: FieldSource + ?Sized>(&self, ev: &E, memo: &mut Memo) -> bool {
        match self {
            Expr::And(v) => v.iter().all(|e| e.eval_term(ev, memo)),
            e => e.eval(ev, memo),
        }
    }

    /// A term of an `and`/`or`: checks (most terms) are tested in place,
    /// since a recursive call per term costs as much as a simple test; so
    /// are the checks of a term's `or` or `not` (macros expand into an
    /// `and` of such).
    #[inline(always)]
    fn eval_term<E: FieldSource + ?Sized>(&self, ev: &E, memo: &mut Memo) -> bool {
        match self {
            Expr::Check(c) => c.eval_memo(ev, memo),
            Expr::Or(v) => v.iter().any(|e| e.eval_leaf(ev, memo)),
            Expr::Not(e) => !e.eval_leaf(ev, memo),
            e => e.eval(ev, memo),
        }
    }

    /// [`Expr::eval_term`] one level down: a check in place, else a call.
    #[inline(always)]
    fn eval_leaf<E: FieldSource + ?Sized>(&self, ev: &E, memo: &mut Memo) -> bool {
        match self {
            Expr::Check(c) => c.eval_memo(ev, memo),
            e => e.eval(ev, memo),
        }
    }

    /// Top-level conjuncts `field = x` / `field in (...)` (string fields,
    /// not negated): the rule can only match if `field` takes one of these
    /// values.
    pub(crate) fn required_values(&self) -> Vec<(&Field, Vec<&str>)> {
        self.required(false)
    }

    /// [`Expr::required_values`], syscall arguments compared with text
    /// (`evt.arg.cmd = BPF_PROG_LOAD`) included.
    pub(crate) fn required_values_and_args(&self) -> Vec<(&Field, Vec<&str>)> {
        self.required(true)
    }

    fn required(&self, args: bool) -> Vec<(&Field, Vec<&str>)> {
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
                Test::Dyn {
                    s: Some(StrPred::Eq(x)),
                    n: None,
                    negate: false,
                } if args => out.push((&c.field, vec![&**x])),
                Test::Dyn {
                    s: Some(StrPred::In(s)),
                    n: None,
                    negate: false,
                } if args => out.push((&c.field, s.iter().map(|x| &**x).collect())),
                _ => {}
            }
        }
        out
    }

    /// The memo slots of its top-level conjuncts ([`Memo::refutes`]);
    /// call after slots are assigned.
    pub(crate) fn required_slots(&self) -> Required {
        let terms: &[Expr] = match self {
            Expr::And(v) => v,
            e => std::slice::from_ref(e),
        };
        let mut req = Required::default();
        for t in terms {
            if let Expr::Check(c) = t {
                let slot = c.slot as usize;
                if slot < MEMO_SLOTS {
                    req.bits[slot / 64] |= 1 << (slot % 64);
                    req.words = req.words.max((slot / 64 + 1) as u8);
                }
            }
        }
        req
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
    /// Whether every field the check reads satisfies `f` (the compared
    /// field of a `field op val(other)` included).
    pub(crate) fn reads_only(&self, f: impl Fn(&Field) -> bool) -> bool {
        fn other(t: &Test) -> Option<&Field> {
            match t {
                Test::FieldCmp { other, .. } => Some(other),
                Test::Xform { inner, .. } => other(inner),
                _ => None,
            }
        }
        f(&self.field) && other(&self.test).is_none_or(f)
    }

    /// [`Check::eval`] through the memo when the check has a slot.
    #[inline(always)]
    fn eval_memo<E: FieldSource + ?Sized>(&self, ev: &E, memo: &mut Memo) -> bool {
        let slot = self.slot as usize;
        if slot >= MEMO_SLOTS {
            return self.eval(ev);
        }
        let (w, bit) = (slot / 64, 1u64 << (slot % 64));
        if memo.known[w] & bit != 0 {
            return memo.val[w] & bit != 0;
        }
        let r = self.eval(ev);
        memo.known[w] |= bit;
        if r {
            memo.val[w] |= bit;
        }
        r
    }

    fn eval<E: FieldSource + ?Sized>(&self, ev: &E) -> bool {
        let v = if self.field.id == FieldId::EvtType {
            Some(Value::Str(ev.evt_type()))
        } else {
            ev.get(&self.field)
        };
        let Some(v) = v else { return false };
        // The most common shapes (a string or boolean test of a plain
        // value) in place: a call to the general test costs as much.
        match (&self.test, v) {
            (Test::Str { pred, negate }, Value::Str(s)) => pred.test(s) != *negate,
            (Test::Bool { want, negate }, Value::Bool(b)) => (b == *want) != *negate,
            (test, v) => test.eval(v, ev),
        }
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
    fn needles_match_short_and_long_texts_alike() {
        let n = Needles::new(&[b"stratum+tcp".to_vec(), b"randomx".to_vec()], true).unwrap();
        let pad = "x".repeat(80);
        for (text, hit) in [
            ("xmrig --RandomX", true),
            ("stratum+tc", false),
            ("", false),
        ] {
            assert_eq!(n.is_match(text), hit, "{text:?}");
            let long = format!("{pad}{text}");
            assert_eq!(n.is_match(&long), hit, "{long:?}");
        }
        let exact = Needles::new(&[b"ab".to_vec(), b"cd".to_vec()], false).unwrap();
        assert!(exact.is_match("xxcd") && !exact.is_match("AB"));
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
