//! Names from fixed vocabularies: syscall names, syscall argument names
//! and `evt.res` (`SUCCESS` or an errno name). In memory a [`Name`]
//! borrows the static text when the name is one vigil knows, so neither
//! the enricher nor a replay allocates for them (a syscall event carries
//! several). In the log it is a plain string, so the encoding is the same
//! as a `String`'s; decoding maps a known name back to its static text.
//!
//! Used as `#[serde(deserialize_with = "crate::event::name::deserialize")]`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use serde::de::{self, Visitor};
use serde::Deserializer;

/// A name that is usually one of a fixed set.
pub type Name = Cow<'static, str>;

/// Every name the sensor's tables can produce, by its bytes.
static KNOWN: LazyLock<HashMap<&'static [u8], &'static str, foldhash::fast::FixedState>> =
    LazyLock::new(|| {
        monitor_common::SyscallId::ALL
            .iter()
            .flat_map(|s| std::iter::once(s.name()).chain(s.args().iter().map(|a| a.name)))
            .chain(crate::event::sysargs::ERRNO_NAMES.iter().map(|(_, n)| *n))
            .chain(["SUCCESS"])
            .map(|n| (n.as_bytes(), n))
            .collect()
    });

/// `s` as a [`Name`]: the static text when it is a known name, else a copy.
pub fn name(s: &str) -> Name {
    match KNOWN.get(s.as_bytes()) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(s.to_owned()),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
    if d.is_human_readable() {
        return d.deserialize_str(NameVisitor);
    }
    // Compact encodings (postcard) write a string as its bytes: a known
    // name is found before, and instead of, validating UTF-8.
    d.deserialize_bytes(NameVisitor)
}

struct NameVisitor;

impl Visitor<'_> for NameVisitor {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a name")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Name, E> {
        Ok(name(s))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Name, E> {
        Ok(match KNOWN.get(s.as_bytes()) {
            Some(known) => Cow::Borrowed(known),
            None => Cow::Owned(s),
        })
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Name, E> {
        match KNOWN.get(b) {
            Some(known) => Ok(Cow::Borrowed(known)),
            None => match std::str::from_utf8(b) {
                Ok(s) => Ok(Cow::Owned(s.to_owned())),
                Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(b), &self)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_borrow_and_others_are_kept() {
        for known in ["openat", "flags", "ENOENT", "SUCCESS"] {
            assert!(matches!(name(known), Cow::Borrowed(s) if s == known));
        }
        assert!(matches!(name("no_such_name"), Cow::Owned(s) if s == "no_such_name"));
    }

    #[test]
    fn encodes_as_a_string_and_decodes_either_way() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct N {
            #[serde(deserialize_with = "deserialize")]
            n: Name,
        }
        for text in ["openat", "E4095", "caf\u{e9}"] {
            let n = N { n: name(text) };
            let bytes = monitor_recorder::typed::encode_into(&n, Vec::new()).unwrap();
            let plain = monitor_recorder::typed::encode_into(&text.to_owned(), Vec::new()).unwrap();
            assert_eq!(bytes, plain, "same encoding as a String");
            let back: N = monitor_recorder::typed::decode(&bytes).unwrap();
            assert_eq!(back.n, text);
            let json: N = serde_json::from_str(&serde_json::to_string(&n).unwrap()).unwrap();
            assert_eq!(json.n, text);
        }
        // Bytes that are not UTF-8 are an error, not a name.
        let bad = monitor_recorder::typed::encode_into(&serde_bytes_like(), Vec::new()).unwrap();
        assert!(monitor_recorder::typed::decode::<N>(&bad).is_err());
    }

    /// A length-prefixed byte string that is not UTF-8, as postcard writes
    /// strings.
    fn serde_bytes_like() -> impl serde::Serialize {
        struct B;
        impl serde::Serialize for B {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&[0x66, 0xff, 0x6f])
            }
        }
        B
    }
}
