//! Operators meet field types: checks that an operator fits the field's
//! type and the operands parse as that type, and builds the prepared test
//! (sets, lowered needles, compiled regexes and globs, numbers).

use memchr::memmem::Finder;

use crate::error::{DiagKind, Diagnostic};
use crate::expr::{glob_pred, glob_regex, Mode, NumPred, PathPat, StrPred, StrSet, Test};
use crate::field::{Field, FieldId, FieldType};
use crate::parse::{Lit, Op, Span, Xform};

use super::Compiler;

impl Compiler<'_> {
    /// `field op val(other)`: both fields must have comparable types
    /// (after their transformers; `oxf` are `other`'s).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn field_cmp(
        &self,
        f: &Field,
        ty: FieldType,
        op: Op,
        op_span: Span,
        other: Field,
        oty: FieldType,
        oxf: &[Xform],
    ) -> Result<Test, Diagnostic> {
        use FieldType::*;
        let err = |why: &str| {
            self.diag(
                op_span,
                DiagKind::Type,
                format!(
                    "type error: cannot compare '{}' with val({}) using '{op}': {why}",
                    f.name(),
                    other.name()
                ),
            )
        };
        let class = |t: FieldType| match t {
            Str | Dyn | Net => Some(Str),
            Num => Some(Num),
            Bool => Some(Bool),
            StrList => None,
        };
        let (a, b) = match (class(ty), class(oty)) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(err("list fields cannot be compared with val()")),
        };
        // Syscall arguments may be numbers or text: accept either side.
        let dynamic = ty == Dyn || oty == Dyn;
        if a != b && !dynamic {
            return Err(err(&format!("{ty} versus {oty}")));
        }
        let ok = match op {
            Op::Eq | Op::Ne => true,
            Op::Lt | Op::Le | Op::Gt | Op::Ge => a == Num || b == Num || dynamic,
            Op::Contains | Op::IContains | Op::StartsWith | Op::EndsWith => {
                a == Str && b == Str || dynamic
            }
            _ => false,
        };
        if !ok {
            return Err(err("operator not supported with val()"));
        }
        Ok(Test::FieldCmp {
            other,
            op,
            other_xf: oxf.into(),
        })
    }

    pub(super) fn test(
        &self,
        f: &Field,
        ty: FieldType,
        op: Op,
        op_span: Span,
        vals: &[Lit],
    ) -> Result<(Mode, Test), Diagnostic> {
        let name = f.name();
        let type_err = |what: &str| {
            self.diag(
                op_span,
                DiagKind::Type,
                format!("type error: operator '{op}' cannot be applied to {what} field '{name}'"),
            )
        };
        if op == Op::Exists {
            return Ok((Mode::Scalar, Test::Exists));
        }
        let any_of = f.id == FieldId::ProcAname && ty == FieldType::StrList;
        match ty {
            FieldType::StrList if !any_of && matches!(op, Op::In | Op::Intersects) => {
                let set: StrSet = vals.iter().map(|l| l.text.as_str().into()).collect();
                Ok((
                    Mode::Scalar,
                    if op == Op::In {
                        Test::ListIn(set)
                    } else {
                        Test::ListIntersects(set)
                    },
                ))
            }
            FieldType::Str | FieldType::StrList => {
                let mode = if ty == FieldType::StrList {
                    Mode::AnyOf
                } else {
                    Mode::Scalar
                };
                if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) {
                    return Err(type_err("string"));
                }
                let pred = self.str_pred(op, vals)?;
                Ok((
                    mode,
                    Test::Str {
                        pred,
                        negate: op == Op::Ne,
                    },
                ))
            }
            FieldType::Num => {
                if !matches!(
                    op,
                    Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::In | Op::Intersects
                ) {
                    return Err(type_err("numeric"));
                }
                let pred = self.num_pred(op, vals, &name)?;
                Ok((
                    Mode::Scalar,
                    Test::Num {
                        pred,
                        negate: op == Op::Ne,
                    },
                ))
            }
            FieldType::Bool => {
                if !matches!(op, Op::Eq | Op::Ne) {
                    return Err(type_err("boolean"));
                }
                let l = &vals[0];
                let want = match l.text.as_str() {
                    "true" => true,
                    "false" => false,
                    v => return Err(self.diag(l.span, DiagKind::Type, format!("type error: field '{name}' is boolean; expected true or false, not '{v}'"))),
                };
                Ok((
                    Mode::Scalar,
                    Test::Bool {
                        want,
                        negate: op == Op::Ne,
                    },
                ))
            }
            FieldType::Net => {
                if !matches!(op, Op::Eq | Op::Ne | Op::In | Op::Intersects) {
                    return Err(type_err("network"));
                }
                let mut nets = Vec::with_capacity(vals.len());
                for l in vals {
                    match crate::net::parse_net(&l.text) {
                        Some(n) => nets.push(n),
                        None => return Err(self.diag(
                            l.span,
                            DiagKind::Type,
                            format!("type error: field '{name}' is a network; '{}' is not an address or CIDR network (like 10.0.0.0/8 or fd00::/8)", l.text),
                        )),
                    }
                }
                Ok((
                    Mode::Scalar,
                    Test::Net {
                        nets: nets.into(),
                        negate: op == Op::Ne,
                    },
                ))
            }
            FieldType::Dyn => {
                let numeric_only = matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge);
                let all_num = vals.iter().all(|l| parse_num(&l.text).is_some());
                let n = if matches!(op, Op::Eq | Op::Ne | Op::In | Op::Intersects) && all_num
                    || numeric_only
                {
                    Some(self.num_pred(op, vals, &name)?)
                } else {
                    None
                };
                let s = if numeric_only {
                    None
                } else {
                    Some(self.str_pred(op, vals)?)
                };
                Ok((
                    Mode::Scalar,
                    Test::Dyn {
                        s,
                        n,
                        negate: op == Op::Ne,
                    },
                ))
            }
        }
    }

    fn str_pred(&self, op: Op, vals: &[Lit]) -> Result<StrPred, Diagnostic> {
        let v = |i: usize| vals[i].text.as_str();
        Ok(match op {
            Op::Eq | Op::Ne => StrPred::Eq(v(0).into()),
            Op::Contains => StrPred::Contains(Box::new(Finder::new(v(0).as_bytes()).into_owned())),
            Op::IContains => StrPred::IContains(v(0).to_ascii_lowercase().into_bytes().into()),
            Op::StartsWith => StrPred::StartsWith(v(0).into()),
            Op::EndsWith => StrPred::EndsWith(v(0).into()),
            Op::BContains | Op::BStartsWith => {
                let bytes = hex_bytes(v(0)).ok_or_else(|| {
                    self.diag(
                        vals[0].span,
                        DiagKind::Type,
                        format!(
                            "type error: '{op}' needs bytes written in hex, not '{}'",
                            v(0)
                        ),
                    )
                })?;
                if op == Op::BContains {
                    StrPred::Contains(Box::new(Finder::new(&bytes).into_owned()))
                } else {
                    StrPred::BStartsWith(bytes.into())
                }
            }
            // A regex, not a `Glob`: `Glob` is case-sensitive, and path
            // analysis (expr::paths) reads its literal prefix.
            Op::IGlob => StrPred::Regex(
                glob_regex(v(0))
                    .and_then(|r| {
                        regex::RegexBuilder::new(r.as_str())
                            .case_insensitive(true)
                            .build()
                    })
                    .map_err(|e| {
                        self.diag(
                            vals[0].span,
                            DiagKind::Regex,
                            format!("invalid glob '{}': {e}", v(0)),
                        )
                    })?,
            ),
            Op::Glob => glob_pred(v(0)).map_err(|e| {
                self.diag(
                    vals[0].span,
                    DiagKind::Regex,
                    format!("invalid glob '{}': {e}", v(0)),
                )
            })?,
            Op::Regex => StrPred::Regex(
                regex::RegexBuilder::new(v(0))
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        self.diag(
                            vals[0].span,
                            DiagKind::Regex,
                            format!("invalid regex '{}': {}", v(0), first_line(&e.to_string())),
                        )
                    })?,
            ),
            Op::In | Op::Intersects => {
                StrPred::In(vals.iter().map(|l| l.text.as_str().into()).collect())
            }
            Op::PMatch => {
                let mut pats = Vec::new();
                for l in vals {
                    let p = l.text.trim_end_matches('/');
                    if p.contains(['*', '?', '[']) {
                        let parts = p
                            .split('/')
                            .map(glob_regex)
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| {
                                self.diag(
                                    l.span,
                                    DiagKind::Regex,
                                    format!("invalid glob '{}': {e}", l.text),
                                )
                            })?;
                        pats.push(PathPat::Glob(parts.into()));
                    } else {
                        pats.push(PathPat::Prefix(p.into()));
                    }
                }
                StrPred::PMatch(pats.into())
            }
            Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Exists => unreachable!("handled by the caller"),
        })
    }

    fn num_pred(&self, op: Op, vals: &[Lit], name: &str) -> Result<NumPred, Diagnostic> {
        let mut nums = Vec::with_capacity(vals.len());
        for l in vals {
            match parse_num(&l.text) {
                Some(n) => nums.push(n),
                None => {
                    return Err(self.diag(
                        l.span,
                        DiagKind::Type,
                        format!(
                            "type error: field '{name}' is numeric; '{}' is not a number",
                            l.text
                        ),
                    ))
                }
            }
        }
        Ok(match op {
            Op::Eq | Op::Ne => NumPred::Eq(nums[0]),
            Op::Lt => NumPred::Lt(nums[0]),
            Op::Le => NumPred::Le(nums[0]),
            Op::Gt => NumPred::Gt(nums[0]),
            Op::Ge => NumPred::Ge(nums[0]),
            _ => NumPred::In(nums.into_iter().collect()),
        })
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_owned()
}

/// `504b0304` → bytes (an even number of hex digits, at least one byte).
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn parse_num(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok();
    }
    t.parse().ok()
}
