//! The string, path and number predicates of compiled checks: equality,
//! prefixes, substrings (memchr, Aho-Corasick), case-insensitive search,
//! globs and regexes, path patterns, numeric comparisons.

use super::*;

use aho_corasick::{AhoCorasick, BuildError};

impl StrPred {
    pub(super) fn cost(&self) -> u32 {
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
            StrPred::Any(v) => v.iter().any(|p| p.test_one(s)),
            p => p.test_one(s),
        }
    }

    /// One predicate. The alternatives of an `Any` are tested here in a
    /// loop, not by a call each (the merge never nests an `Any`; one that
    /// is goes back through [`StrPred::test`]).
    #[inline(always)]
    fn test_one(&self, s: &str) -> bool {
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
            StrPred::Substrings(n) => n.is_match(s),
            StrPred::Any(_) => self.test_nested(s),
        }
    }

    #[inline(never)]
    fn test_nested(&self, s: &str) -> bool {
        self.test(s)
    }
}

impl PathPat {
    pub(super) fn test(&self, s: &str) -> bool {
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
    pub(super) fn test(&self, n: i64) -> bool {
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

/// Texts shorter than this are scanned plainly: a vectorised search
/// costs more to set up than the scan ([`icontains`], [`Needles`]).
const SHORT_TEXT: usize = 64;

/// Several needles found in one pass (Aho-Corasick). Two automata for one
/// set: a short text (most command lines) is scanned byte by byte, the
/// prefilter a long one is worth costs more than such a scan.
#[derive(Debug)]
pub(crate) struct Needles {
    short: AhoCorasick,
    long: AhoCorasick,
}

impl Needles {
    /// `fold`: match ASCII letters case-insensitively.
    pub(super) fn new(needles: &[Vec<u8>], fold: bool) -> Result<Needles, BuildError> {
        let build = |prefilter: bool| {
            AhoCorasick::builder()
                .ascii_case_insensitive(fold)
                .prefilter(prefilter)
                .build(needles)
        };
        Ok(Needles {
            short: build(false)?,
            long: build(true)?,
        })
    }

    #[inline]
    pub(super) fn is_match(&self, s: &str) -> bool {
        if s.len() < SHORT_TEXT {
            self.short.is_match(s)
        } else {
            self.long.is_match(s)
        }
    }
}

/// ASCII case-insensitive substring search; `needle` is lowercase.
pub(super) fn icontains(hay: &[u8], needle: &[u8]) -> bool {
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
    if hay.len() < SHORT_TEXT {
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
pub(super) struct NumBuf {
    buf: [u8; 20],
    start: usize,
}

impl NumBuf {
    pub(super) fn new(n: i64) -> NumBuf {
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
    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("")
    }
    /// A buffer holding `v`'s text when it is a number.
    pub(super) fn of(v: Value<'_>) -> NumBuf {
        match v {
            Value::Num(n) => NumBuf::new(n),
            _ => NumBuf::new(0),
        }
    }
    /// `v` as text (numbers through this buffer; lists are not text).
    pub(super) fn text<'a>(&'a self, v: Value<'a>) -> &'a str {
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
