//! Decoding the strings every event repeats (paths, flag names, `comm`)
//! without validating ASCII byte by byte. In the log (postcard) a string
//! is its length and bytes, and serde's `String` validates them as UTF-8
//! one byte at a time: for the short ASCII texts of events that costs more
//! than the copy. Here the bytes are checked with the word-at-a-time
//! `is_ascii`, and only text that is not ASCII is validated in full. The
//! encoding is a `String`'s; bytes that are not UTF-8 are still an error;
//! self-describing formats (JSON) decode as usual.
//!
//! Used as `#[serde(deserialize_with = "crate::event::string::deserialize")]`,
//! or `crate::event::string::option` (with `#[serde(default)]`) on an
//! `Option<String>`; `arc` and `arc_option` likewise for `Arc<str>`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, Visitor};

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    if d.is_human_readable() {
        return String::deserialize(d);
    }
    d.deserialize_bytes(Text(PhantomData))
}

pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    if d.is_human_readable() {
        return Option::<String>::deserialize(d);
    }
    d.deserialize_option(MaybeText(PhantomData))
}

/// [`deserialize`] for shared text ([`crate::event::Text`]): one
/// allocation, where serde's own goes through a `String` and a copy.
pub fn arc<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
    if d.is_human_readable() {
        return Arc::<str>::deserialize(d);
    }
    d.deserialize_bytes(Text(PhantomData))
}

/// [`option`] for shared text.
pub fn arc_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<str>>, D::Error> {
    if d.is_human_readable() {
        return Option::<Arc<str>>::deserialize(d);
    }
    d.deserialize_option(MaybeText(PhantomData))
}

/// Decodes to `T` (`String` or `Arc<str>`) from a `str`.
struct Text<T>(PhantomData<T>);

impl<T: for<'a> From<&'a str>> Visitor<'_> for Text<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<T, E> {
        if b.is_ascii() {
            // SAFETY: ASCII bytes are valid UTF-8.
            return Ok(T::from(unsafe { std::str::from_utf8_unchecked(b) }));
        }
        match std::str::from_utf8(b) {
            Ok(s) => Ok(T::from(s)),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(b), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        Ok(T::from(s))
    }
}

struct MaybeText<T>(PhantomData<T>);

impl<'de, T: for<'a> From<&'a str>> Visitor<'de> for MaybeText<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an optional string")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_bytes(Text(PhantomData)).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use monitor_recorder::typed::{decode, encode_into};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct S {
        #[serde(deserialize_with = "super::deserialize")]
        s: String,
        #[serde(default, deserialize_with = "super::option")]
        o: Option<String>,
    }

    /// The same encoding decoded as shared text.
    #[derive(Deserialize, Debug, PartialEq)]
    struct Shared {
        #[serde(deserialize_with = "super::arc")]
        s: std::sync::Arc<str>,
        #[serde(default, deserialize_with = "super::arc_option")]
        o: Option<std::sync::Arc<str>>,
    }

    /// What serde's own `String` and `Option<String>` decode to.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Plain {
        s: String,
        o: Option<String>,
    }

    #[test]
    fn decodes_as_a_string_does() {
        let texts = [
            "",
            "/etc/shadow",
            "O_RDONLY|O_CLOEXEC",
            "caf\u{e9} \u{1f600}",
            "a\\x00",
        ];
        for s in texts {
            for o in [None, Some(s.to_owned()), Some("x".repeat(100))] {
                let v = S { s: s.to_owned(), o };
                let bytes = encode_into(&v, Vec::new()).unwrap();
                let plain: Plain = decode(&bytes).unwrap();
                assert_eq!((plain.s.as_str(), plain.o.as_ref()), (s, v.o.as_ref()));
                assert_eq!(decode::<S>(&bytes).unwrap(), v);
                let shared: Shared = decode(&bytes).unwrap();
                assert_eq!((&*shared.s, shared.o.as_deref()), (s, v.o.as_deref()));
                let json = serde_json::to_string(&v).unwrap();
                assert_eq!(serde_json::from_str::<S>(&json).unwrap(), v);
                let shared: Shared = serde_json::from_str(&json).unwrap();
                assert_eq!((&*shared.s, shared.o.as_deref()), (s, v.o.as_deref()));
            }
        }
        // Absent from JSON: none, as for a plain `Option`.
        let v: S = serde_json::from_str(r#"{"s":"a"}"#).unwrap();
        assert_eq!(v.o, None);
        let v: Shared = serde_json::from_str(r#"{"s":"a"}"#).unwrap();
        assert_eq!(v.o, None);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_an_error() {
        // A length-prefixed byte string as postcard writes strings.
        struct B(&'static [u8]);
        impl Serialize for B {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        #[derive(Deserialize)]
        struct One(#[serde(deserialize_with = "super::deserialize")] String);
        #[derive(Deserialize)]
        struct Arc(#[serde(deserialize_with = "super::arc")] std::sync::Arc<str>);
        for bad in [&[0x66, 0xff, 0x6f][..], &[0xc3][..], &[0x80; 9][..]] {
            let bytes = encode_into(&B(bad), Vec::new()).unwrap();
            assert!(decode::<One>(&bytes).is_err(), "{bad:?}");
            assert!(decode::<Arc>(&bytes).is_err(), "{bad:?}");
        }
        let ok = encode_into(&B("é".as_bytes()), Vec::new()).unwrap();
        assert_eq!(decode::<One>(&ok).unwrap().0, "é");
        assert_eq!(&*decode::<Arc>(&ok).unwrap().0, "é");
    }
}
