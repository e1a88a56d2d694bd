//! Which opened paths a condition can match: the facts a sensor needs to
//! report every open a rule could fire on, and nothing else.
//!
//! [`Expr::open_paths`] works out, from a compiled condition, a set of
//! [`PathPattern`]s such that whenever the condition holds for an open, the
//! opened path matches one of them. A conjunction needs one bounded term; a
//! disjunction needs all of its terms bounded; negations and tests that
//! cannot be turned into a prefix or a file name (`contains`, regexes) bound
//! nothing. A term that also requires a write open (`evt.is_open_write =
//! true`) makes its patterns count for writes only.

use super::{Check, Expr, Mode, PathPat, StrPred, Test};
use crate::field::FieldId;

/// A path test a kernel filter can apply.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathPattern {
    /// Paths that start with this string.
    Prefix(String),
    /// Paths whose final component is exactly this.
    Name(String),
}

/// One pattern and whether it only matters for opens that can write.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathNeed {
    pub pattern: PathPattern,
    pub write_only: bool,
}

/// What a rule can match among opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenPaths {
    /// Only opens of paths matching one of these (empty: no open at all).
    Only(Vec<PathNeed>),
    /// Opens of any path: nothing in the condition bounds the path.
    Any,
}

impl Expr {
    /// The paths this condition can match on an open event.
    pub(crate) fn open_paths(&self) -> OpenPaths {
        match need(self) {
            Some(mut v) => {
                v.sort();
                v.dedup();
                OpenPaths::Only(v)
            }
            None => OpenPaths::Any,
        }
    }
}

/// `None`: unbounded.
fn need(e: &Expr) -> Option<Vec<PathNeed>> {
    match e {
        Expr::Const(false) => Some(Vec::new()),
        Expr::Const(true) | Expr::Not(_) => None,
        Expr::Check(c) => check_need(c).map(|ps| {
            ps.into_iter()
                .map(|pattern| PathNeed {
                    pattern,
                    write_only: false,
                })
                .collect()
        }),
        Expr::Or(v) => {
            let mut out = Vec::new();
            for x in v.iter() {
                out.extend(need(x)?);
            }
            Some(out)
        }
        Expr::And(v) => {
            // Any bounded term bounds the whole: pick the one that lets
            // the fewest opens through ([`breadth`]).
            let mut best = v.iter().filter_map(need).min_by_key(|n| breadth(n))?;
            if v.iter().any(implies_write) {
                best.iter_mut().for_each(|n| n.write_only = true);
            }
            Some(best)
        }
    }
}

/// How many opens a bound lets through, for choosing among the terms of a
/// conjunction: a prefix of one directory (`/proc/`, `/etc/`) before
/// anything else, then any prefix, since file names are exact (and also
/// match relative paths), then the number of patterns.
fn breadth(n: &[PathNeed]) -> (bool, bool, usize) {
    let prefix = |p: &PathNeed| match &p.pattern {
        PathPattern::Prefix(s) => Some(s.split('/').filter(|c| !c.is_empty()).count()),
        PathPattern::Name(_) => None,
    };
    let shallow = n.iter().any(|p| prefix(p).is_some_and(|depth| depth < 2));
    let any_prefix = n.iter().any(|p| prefix(p).is_some());
    (shallow, any_prefix, n.len())
}

/// Does the condition only hold for opens that can write?
fn implies_write(e: &Expr) -> bool {
    match e {
        Expr::Check(c) => {
            c.field.id == FieldId::EvtIsOpenWrite
                && matches!(
                    c.test,
                    Test::Bool {
                        want: true,
                        negate: false
                    }
                )
        }
        Expr::And(v) => v.iter().any(implies_write),
        Expr::Or(v) => !v.is_empty() && v.iter().all(implies_write),
        _ => false,
    }
}

fn check_need(c: &Check) -> Option<Vec<PathPattern>> {
    if c.mode != Mode::Scalar {
        return None;
    }
    let Test::Str {
        pred,
        negate: false,
    } = &c.test
    else {
        return None;
    };
    match c.field.id {
        FieldId::FdName | FieldId::FdNameraw => preds(pred, &path_pred),
        FieldId::FdFilename => preds(pred, &file_pred),
        FieldId::FdDirectory => preds(pred, &dir_pred),
        _ => None,
    }
}

/// A predicate and its merged alternatives ([`StrPred::Any`]).
fn preds(
    p: &StrPred,
    one: &dyn Fn(&StrPred) -> Option<Vec<PathPattern>>,
) -> Option<Vec<PathPattern>> {
    match p {
        StrPred::Any(v) => {
            let mut out = Vec::new();
            for x in v.iter() {
                out.extend(preds(x, one)?);
            }
            Some(out)
        }
        p => one(p),
    }
}

fn prefix(s: &str) -> Option<PathPattern> {
    (!s.is_empty()).then(|| PathPattern::Prefix(s.to_owned()))
}

/// `fd.name`.
fn path_pred(p: &StrPred) -> Option<Vec<PathPattern>> {
    match p {
        StrPred::Eq(x) | StrPred::StartsWith(x) => Some(vec![prefix(x)?]),
        StrPred::In(set) => set.iter().map(|x| prefix(x)).collect(),
        StrPred::Glob(re) => Some(vec![prefix(&glob_literal_prefix(re.as_str())?)?]),
        StrPred::PMatch(pats) => pats
            .iter()
            .map(|p| match p {
                PathPat::Prefix(d) => prefix(d).or(Some(PathPattern::Prefix("/".into()))),
                PathPat::Glob(parts) => prefix(&pmatch_literal_prefix(parts)?),
            })
            .collect(),
        // "…/name": the final component is `name`.
        StrPred::EndsWith(x) => match x.rsplit_once('/') {
            Some((_, name)) if !name.is_empty() => Some(vec![PathPattern::Name(name.to_owned())]),
            _ => None,
        },
        _ => None,
    }
}

/// `fd.filename`.
fn file_pred(p: &StrPred) -> Option<Vec<PathPattern>> {
    let name = |x: &str| (!x.is_empty()).then(|| PathPattern::Name(x.to_owned()));
    match p {
        StrPred::Eq(x) => Some(vec![name(x)?]),
        StrPred::In(set) => set.iter().map(|x| name(x)).collect(),
        _ => None,
    }
}

/// `fd.directory`: the path is below the directory.
fn dir_pred(p: &StrPred) -> Option<Vec<PathPattern>> {
    let under = |d: &str| {
        let d = d.trim_end_matches('/');
        PathPattern::Prefix(format!("{d}/"))
    };
    match p {
        StrPred::Eq(x) => Some(vec![under(x)]),
        StrPred::In(set) => Some(set.iter().map(|x| under(x)).collect()),
        StrPred::StartsWith(x) => Some(vec![prefix(x)?]),
        StrPred::PMatch(pats) => pats
            .iter()
            .map(|p| match p {
                PathPat::Prefix(d) => Some(under(d)),
                PathPat::Glob(parts) => prefix(&pmatch_literal_prefix(parts)?),
            })
            .collect(),
        _ => None,
    }
}

/// The literal text a glob regex ([`super::glob_regex`]: `(?s)^…$`) starts
/// with, up to its first wildcard.
fn glob_literal_prefix(re: &str) -> Option<String> {
    let body = re.strip_prefix("(?s)^")?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '.' | '[' | '(' | '*' | '+' | '?' | '{' | '|' | '^' | '$' => break,
            c => out.push(c),
        }
    }
    Some(out)
}

/// The literal leading components of a `pmatch` glob, plus the literal
/// start of the first component with a wildcard.
fn pmatch_literal_prefix(parts: &[regex::Regex]) -> Option<String> {
    let mut out = String::new();
    for (i, re) in parts.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        let lit = glob_literal_prefix(re.as_str())?;
        // A whole literal component ends with `$`.
        let whole = re.as_str().len() == "(?s)^".len() + escaped_len(&lit) + 1;
        out.push_str(&lit);
        if !whole {
            break;
        }
    }
    Some(out)
}

fn escaped_len(lit: &str) -> usize {
    regex::escape(lit).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RuleSet, RuleSource};

    fn paths(cond: &str) -> OpenPaths {
        let src = RuleSource::new(
            "t.yaml",
            format!(
                "- macro: open_write\n  condition: (evt.type in (open, openat) and evt.is_open_write = true)\n\
                 - rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: WARNING\n"
            ),
        );
        let (set, _) = RuleSet::load(&[src], &Default::default()).unwrap();
        set.rules()[0].open_paths()
    }

    fn pre(s: &str, w: bool) -> PathNeed {
        PathNeed {
            pattern: PathPattern::Prefix(s.into()),
            write_only: w,
        }
    }

    fn name(s: &str, w: bool) -> PathNeed {
        PathNeed {
            pattern: PathPattern::Name(s.into()),
            write_only: w,
        }
    }

    #[test]
    fn path_tests_become_prefixes_and_names() {
        assert_eq!(
            paths("evt.type = openat and fd.name startswith /srv/app/secrets/"),
            OpenPaths::Only(vec![pre("/srv/app/secrets/", false)])
        );
        assert_eq!(
            paths("evt.type = openat and (fd.name in (/a, /b) or fd.filename = token)"),
            OpenPaths::Only(vec![
                pre("/a", false),
                pre("/b", false),
                name("token", false)
            ])
        );
        assert_eq!(
            paths("evt.type = openat and fd.directory = /opt/keys"),
            OpenPaths::Only(vec![pre("/opt/keys/", false)])
        );
        assert_eq!(
            paths("evt.type = openat and fd.name glob '/data/*/key'"),
            OpenPaths::Only(vec![pre("/data/", false)])
        );
        assert_eq!(
            paths("evt.type = openat and fd.name pmatch (/var/lib/db, /x/y*/z)"),
            OpenPaths::Only(vec![pre("/var/lib/db", false), pre("/x/y", false)])
        );
        assert_eq!(
            paths("evt.type = openat and fd.name endswith /.bashrc"),
            OpenPaths::Only(vec![name(".bashrc", false)])
        );
    }

    #[test]
    fn conjunctions_take_the_narrowest_bound() {
        // A name also matches the path when it is passed relative.
        assert_eq!(
            paths("evt.type = openat and fd.name = /srv/a/app.token and fd.filename = app.token"),
            OpenPaths::Only(vec![name("app.token", false)])
        );
        // `/proc/` would send every /proc open; two names do not.
        assert_eq!(
            paths(
                "evt.type = openat and fd.name startswith /proc/ and fd.filename in (environ, mem)"
            ),
            OpenPaths::Only(vec![name("environ", false), name("mem", false)])
        );
        // Fewer patterns win among bounds of one kind.
        assert_eq!(
            paths("evt.type = openat and fd.name in (/srv/a/x, /srv/a/y) and fd.name startswith /srv/a/"),
            OpenPaths::Only(vec![pre("/srv/a/", false)])
        );
    }

    #[test]
    fn write_opens_are_marked() {
        assert_eq!(
            paths("open_write and fd.name startswith /etc/app/"),
            OpenPaths::Only(vec![pre("/etc/app/", true)])
        );
        assert_eq!(
            paths("evt.type = openat and (open_write and fd.name = /w or fd.name = /r)"),
            OpenPaths::Only(vec![pre("/r", false), pre("/w", true)])
        );
    }

    #[test]
    fn unbounded_conditions_say_so() {
        for cond in [
            "evt.type = openat",
            "evt.type = openat and not fd.name startswith /tmp",
            "evt.type = openat and fd.name contains secret",
            "evt.type = openat and (fd.name = /a or proc.name = cat)",
            "evt.type = openat and fd.name endswith .pem",
            "evt.type = openat and fd.name iglob '/Data/*'",
        ] {
            assert_eq!(paths(cond), OpenPaths::Any, "{cond}");
        }
    }
}
