//! The string sets of `in` and `intersects`: a short slice scanned
//! linearly, or a hash set with a cheap filter in front.

use std::collections::HashSet;

use super::FastHash;

/// Sets up to this size are scanned linearly (faster than hashing).
const SMALL_SET: usize = 8;

/// A set of strings for `in`: a short slice or a hash set.
#[derive(Debug)]
pub(crate) enum StrSet {
    Small(Box<[Box<str>]>),
    Hash(Box<HashedSet>),
}

/// A hash set with a filter in front: the lengths and first bytes of its
/// members. Most texts a rule asks about are not members (`proc.name in
/// (vigil_runtime_binaries)` for every exec), and most of those have a
/// length or a first byte no member has: they are answered without hashing.
#[derive(Debug)]
pub(crate) struct HashedSet {
    set: HashSet<Box<str>, FastHash>,
    /// Bit `n`: a member is `n` bytes long (bit 63: 63 or longer).
    lens: u64,
    /// Bit `b`: a member starts with byte `b`.
    firsts: [u64; 4],
}

impl HashedSet {
    fn new(v: Vec<Box<str>>) -> HashedSet {
        let (mut lens, mut firsts) = (0u64, [0u64; 4]);
        for x in &v {
            lens |= 1 << x.len().min(63);
            if let Some(&b) = x.as_bytes().first() {
                firsts[usize::from(b / 64)] |= 1 << (b % 64);
            }
        }
        HashedSet {
            set: v.into_iter().collect(),
            lens,
            firsts,
        }
    }

    #[inline]
    fn contains(&self, s: &str) -> bool {
        if self.lens & (1 << s.len().min(63)) == 0 {
            return false;
        }
        if let Some(&b) = s.as_bytes().first() {
            if self.firsts[usize::from(b / 64)] & (1 << (b % 64)) == 0 {
                return false;
            }
        }
        self.set.contains(s)
    }
}

impl FromIterator<Box<str>> for StrSet {
    fn from_iter<I: IntoIterator<Item = Box<str>>>(it: I) -> StrSet {
        let mut v: Vec<Box<str>> = it.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        if v.len() <= SMALL_SET {
            StrSet::Small(v.into())
        } else {
            StrSet::Hash(Box::new(HashedSet::new(v)))
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
            StrSet::Hash(h) => Box::new(h.set.iter()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_set_answers_as_its_members_say() {
        let members = [
            "runc",
            "crun",
            "conmon",
            "podman",
            "",
            "x",
            "dockerd",
            "a".repeat(70).as_str(),
        ]
        .iter()
        .chain(["b1", "b2", "b3"].iter())
        .map(|s| Box::<str>::from(*s))
        .collect::<Vec<_>>();
        let set: StrSet = members.iter().cloned().collect();
        assert!(matches!(set, StrSet::Hash(_)));
        for m in &members {
            assert!(set.contains(m), "{m:?}");
        }
        let long_other = "a".repeat(71);
        for other in [
            "sh",
            "runcc",
            "crux",
            "y",
            "b4",
            "\u{e9}",
            long_other.as_str(),
        ] {
            assert!(!set.contains(other), "{other:?}");
        }
    }
}
