//! Paths that name another path than their letters: a `.`, `..` or empty
//! component (`/tmp/../etc/shadow`, `/etc/./shadow`, `//etc/shadow`). No
//! prefix can be read off them, so the in-kernel open filter forwards them
//! and the agent normalises `fd.name`.
//!
//! The eBPF side reads the path a word (8 bytes, little-endian) at a time
//! and feeds each word to a [`Scan`]: masks built with arithmetic only, no
//! branch on the bytes, so the verifier walks one state per word. Shared
//! with the agent's tests, which check it against a plain split on `/`.

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
/// Bit 7 of every byte.
const HIGH: u64 = LOW7 + ONES;

/// Bit 7 of each byte of `x` that equals `c`, exactly (no carry from one
/// byte into the next).
#[inline(always)]
const fn bytes_equal(x: u64, c: u8) -> u64 {
    let t = x ^ (c as u64 * ONES);
    !(((t & LOW7) + LOW7) | t | LOW7)
}

/// The bytes of the word at byte offset `o` that belong to a path of
/// `len` bytes (`len` and `o` under 2^31): all of them, some or none.
/// Arithmetic only, no branch (the eBPF verifier then walks one state).
#[inline(always)]
pub const fn keep(len: u32, o: u32) -> u64 {
    let diff = len.wrapping_sub(o);
    // All ones when o > len (then no byte is kept).
    let past = ((diff as i32) >> 31) as u32;
    let left = diff & !past;
    // min(left, 8), without a branch.
    let over = left.wrapping_sub(8);
    let n = 8u32.wrapping_add(over & (((over as i32) >> 31) as u32));
    // Two shifts: a shift by 64 would be undefined.
    !((u64::MAX << (4 * n)) << (4 * n))
}

/// The words of a path so far: the previous word's `/`, `.` and end marks
/// (an end is a `/` or a byte past the path), and whether a pattern was
/// found. A pattern (`//`, `/.` then an end, `/..` then an end) starts in
/// the previous word and may end in the current one.
#[derive(Clone, Copy, Default)]
pub struct Scan {
    slash: u64,
    dot: u64,
    end: u64,
    hit: u64,
}

impl Scan {
    pub const fn new() -> Scan {
        Scan {
            slash: 0,
            dot: 0,
            end: 0,
            hit: 0,
        }
    }

    /// The next word `x` of the path, of which the bytes in `keep` belong
    /// to it ([`keep`]); a word past the path (`keep` 0) closes the
    /// patterns of the last one.
    #[inline(always)]
    pub fn word(&mut self, x: u64, keep: u64) {
        let x = x & keep;
        let slash = bytes_equal(x, b'/') & keep;
        let dot = bytes_equal(x, b'.') & keep;
        let end = slash | (!keep & HIGH);
        // The marks of the bytes 1, 2 and 3 after each byte of the
        // previous word.
        let next = |a: u64, b: u64, k: u32| (a >> (8 * k)) | (b << (64 - 8 * k));
        let (s1, d1, e2) = (
            next(self.slash, slash, 1),
            next(self.dot, dot, 1),
            next(self.end, end, 2),
        );
        let (d2, e3) = (next(self.dot, dot, 2), next(self.end, end, 3));
        self.hit |= self.slash & (s1 | d1 & (e2 | d2 & e3));
        (self.slash, self.dot, self.end) = (slash, dot, end);
    }

    /// Whether a `.`, `..` or empty component was found in the words fed.
    #[inline(always)]
    pub fn found(&self) -> bool {
        self.hit != 0
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;
    use std::vec::Vec;

    /// As the eBPF side runs it: every word of a 256-byte buffer whose
    /// bytes past the path are garbage, then one past the end.
    fn scan(path: &str) -> bool {
        let mut buf = [b'.'; 256];
        buf[..path.len()].copy_from_slice(path.as_bytes());
        let mut s = Scan::new();
        for (i, w) in buf.chunks_exact(8).enumerate() {
            let x = u64::from_le_bytes(w.try_into().unwrap());
            s.word(x, keep(path.len() as u32, 8 * i as u32));
        }
        s.word(0, 0);
        s.found()
    }

    /// The plain answer: a component after the first that is `.` or `..`,
    /// or empty between two slashes.
    fn reference(path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        let last = parts.len() - 1;
        parts
            .iter()
            .enumerate()
            .skip(1)
            .any(|(i, p)| *p == "." || *p == ".." || (p.is_empty() && i < last))
    }

    #[test]
    fn keeps_the_bytes_of_the_path() {
        assert_eq!(keep(20, 0), u64::MAX);
        assert_eq!(keep(20, 16), 0xffff_ffff);
        assert_eq!(keep(20, 15), 0xff_ffff_ffff);
        assert_eq!(keep(20, 20), 0);
        assert_eq!(keep(20, 24), 0);
        assert_eq!(keep(0, 248), 0);
        assert_eq!(keep(255, 248), 0x00ff_ffff_ffff_ffff);
        assert_eq!(keep(256, 248), u64::MAX);
    }

    #[test]
    fn finds_exactly_the_dot_and_empty_components() {
        let fixed = [
            "/tmp/../etc/shadow",
            "/etc/./shadow",
            "//etc/shadow",
            "/etc//shadow",
            "/etc/shadow/.",
            "/etc/..",
            "/.",
            "/..",
            "/",
            "/etc/",
            "/etc/shadow",
            "/home/u/.bashrc",
            "/srv/other/..unwatched",
            "/a/b.../c",
            "/a/.../c",
            "rel/../x",
            "./x",
            "../x",
            "",
        ];
        for p in fixed {
            assert_eq!(scan(p), reference(p), "{p:?}");
        }
        assert!(scan("/tmp/../etc/shadow") && !scan("/home/u/.bashrc"));
        // Every placement across word boundaries: each pattern at each
        // offset, with plain and dotted neighbours.
        for pad in 0..24 {
            for pat in [
                "/./", "/../", "//", "/.", "/..", "/.x/", "/..x/", "/x./", "/.../",
            ] {
                for tail in ["", "a", "/b", ".c"] {
                    let p = format!("/{}{pat}{tail}", "a".repeat(pad));
                    assert_eq!(scan(&p), reference(&p), "{p:?}");
                }
            }
        }
    }
}
