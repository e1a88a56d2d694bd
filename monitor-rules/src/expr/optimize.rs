//! Making a compiled condition cheap to evaluate: flatten nested
//! `and`/`or`, order each group cheapest first, and merge an `or` of plain
//! string tests on one field into one check (Aho-Corasick for several
//! substrings).

use super::*;

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
            _ => match Needles::new(&needles, fold) {
                Ok(n) => StrPred::Substrings(Box::new(n)),
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
