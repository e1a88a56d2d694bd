//! Kernel bytes → text, reversibly.
//!
//! Paths, argv and comm come from the kernel as raw bytes: they may be
//! invalid UTF-8 or hold control characters (a newline in a file name must
//! not split an event line, an ESC must not reach an analyst's terminal).
//! Every such string in an [`crate::event::Event`] is [`escape`]d text:
//!
//! - valid UTF-8 that is not a control character is kept as is;
//! - a backslash becomes `\\`;
//! - every other byte (invalid UTF-8, C0/C1 controls, DEL) becomes `\xNN`
//!   (two lowercase hex digits), one escape per byte.
//!
//! [`unescape`] gives back the exact original bytes, so recorded events lose
//! nothing.

use thiserror::Error;

/// Escape raw bytes into printable, single-line text (see the module docs).
pub fn escape(bytes: &[u8]) -> String {
    // Most of what the kernel sends (an exec's environment: kilobytes a
    // record) is printable ASCII without a backslash, kept as it is: copied
    // at once, not a char at a time.
    let plain = bytes.iter().position(|&b| !kept(b)).unwrap_or(bytes.len());
    let (head, rest) = bytes.split_at(plain);
    let mut out = String::with_capacity(bytes.len());
    out.push_str(std::str::from_utf8(head).expect("printable ASCII is UTF-8"));
    for chunk in rest.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if c.is_control() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    push_hex(&mut out, b);
                }
            } else {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            push_hex(&mut out, b);
        }
    }
    out
}

/// A byte [`escape`] keeps as it is on its own: printable ASCII but the
/// backslash.
fn kept(b: u8) -> bool {
    (b' '..=b'~').contains(&b) && b != b'\\'
}

/// Printable ASCII without a backslash: what [`escape`] gives back
/// unchanged, so such bytes may be compared with escaped text as they are.
pub fn is_plain_ascii(bytes: &[u8]) -> bool {
    // Without an early exit the loop is vectorised: inputs are mostly
    // plain (environment entries, checked on every exec).
    bytes.iter().fold(true, |plain, &b| plain & kept(b))
}

/// Whether `escaped` is what [`escape`] makes of `raw`, without escaping
/// plain bytes (the usual case) again.
pub fn escapes_to(raw: &[u8], escaped: &str) -> bool {
    if is_plain_ascii(raw) {
        raw == escaped.as_bytes()
    } else {
        escape(raw) == escaped
    }
}

fn push_hex(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 15) as usize] as char);
}

/// A string that [`escape`] cannot have produced.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UnescapeError {
    #[error("dangling backslash at byte {0}")]
    Dangling(usize),
    #[error("unknown escape \\{1} at byte {0}")]
    Unknown(usize, char),
    #[error("bad hex digits in \\x escape at byte {0}")]
    BadHex(usize),
}

/// Invert [`escape`].
pub fn unescape(s: &str) -> Result<Vec<u8>, UnescapeError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            None => return Err(UnescapeError::Dangling(i)),
            Some(b'\\') => {
                out.push(b'\\');
                i += 2;
            }
            Some(b'x') => {
                let hex = b.get(i + 2..i + 4).ok_or(UnescapeError::BadHex(i))?;
                let digit = |h: u8| (h as char).to_digit(16).filter(|_| h.is_ascii_hexdigit());
                match (digit(hex[0]), digit(hex[1])) {
                    (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                    _ => return Err(UnescapeError::BadHex(i)),
                }
                i += 4;
            }
            Some(_) => {
                let c = s[i + 1..].chars().next().unwrap_or('?');
                return Err(UnescapeError::Unknown(i, c));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Small deterministic PRNG (xorshift64*) for property-style tests.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// Random bytes biased towards the interesting ones: backslashes,
        /// controls, UTF-8 lead/continuation bytes, quotes.
        pub(crate) fn bytes(&mut self, max: usize) -> Vec<u8> {
            let len = (self.next() % (max as u64 + 1)) as usize;
            (0..len)
                .map(|_| {
                    let r = self.next();
                    match r % 8 {
                        0 => b"\\\"\n\r\t\0\x1b\x7fx"[(r >> 8) as usize % 9],
                        1 => 0xc0 | (r >> 8) as u8 & 0x3f,
                        2 => 0x80 | (r >> 8) as u8 & 0x3f,
                        3 => 0xe0 | (r >> 8) as u8 & 0x1f,
                        _ => (r >> 8) as u8,
                    }
                })
                .collect()
        }
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(escape(b"/usr/bin/ls -la"), "/usr/bin/ls -la");
        assert_eq!(
            escape("caf\u{e9} \u{1f600}".as_bytes()),
            "caf\u{e9} \u{1f600}"
        );
    }

    #[test]
    fn escapes_controls_backslash_and_invalid_bytes() {
        assert_eq!(escape(b"a\nb"), "a\\x0ab");
        assert_eq!(escape(b"a\\b"), "a\\\\b");
        assert_eq!(escape(b"\xff\xfe"), "\\xff\\xfe");
        assert_eq!(escape(b"\x1b[31m"), "\\x1b[31m");
        // C1 control U+0085 (NEL) as its two UTF-8 bytes.
        assert_eq!(escape("\u{85}".as_bytes()), "\\xc2\\x85");
        // A literal "\x41" in a name must not read back as "A".
        assert_eq!(unescape(&escape(b"\\x41")).unwrap(), b"\\x41");
    }

    #[test]
    fn round_trips_random_bytes() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let bytes = rng.bytes(40);
            let text = escape(&bytes);
            assert!(text.chars().all(|c| !c.is_control()), "{text:?}");
            assert_eq!(unescape(&text).unwrap(), bytes, "{text:?}");
            assert_eq!(
                is_plain_ascii(&bytes),
                text.as_bytes() == bytes && bytes.is_ascii()
            );
            // Behind printable ASCII (copied at once), the same escapes.
            let behind = escape(&[b"HOME=/root ~".as_slice(), &bytes].concat());
            assert_eq!(behind, format!("HOME=/root ~{text}"));
        }
    }

    #[test]
    fn rejects_malformed_escapes() {
        assert_eq!(unescape("a\\"), Err(UnescapeError::Dangling(1)));
        assert_eq!(unescape("\\q"), Err(UnescapeError::Unknown(0, 'q')));
        assert_eq!(unescape("\\xg1"), Err(UnescapeError::BadHex(0)));
        assert_eq!(unescape("\\x1"), Err(UnescapeError::BadHex(0)));
        assert_eq!(unescape("\\x\u{e9}"), Err(UnescapeError::BadHex(0)));
        assert_eq!(unescape("\\x+1"), Err(UnescapeError::BadHex(0)));
    }
}
