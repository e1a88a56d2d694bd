//! Event context shared between events: the process (and its exec
//! context), container and cgroup that thousands of events repeat.
//!
//! In memory they are `Arc`s, so every stage after the enricher hands them
//! on without copying strings. In the log (a compact encoding that is not
//! self-describing: postcard) the recorder writes each distinct one once
//! per region of a segment, as a definition record, and events carry its
//! number (`monitor_recorder::dict`): an event of a known process takes a
//! hundred bytes, not the kilobyte or more of its process's environment,
//! arguments and ancestry, and a replay decodes each definition once.
//! Encoded anywhere else, a value is written whole, as a byte string
//! holding its own nested encoding, which decoding looks up in a small
//! per-thread cache of recently decoded values. Self-describing formats
//! (JSON) see the plain value.
//!
//! Used as `#[serde(with = "crate::event::shared")]` on `Arc<T>` fields of a type
//! that implements [`Shared`].

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, VariantAccess, Visitor};
use serde::{Deserializer, Serialize, Serializer};

/// Slots in each type's decode cache (a power of two). Enough for the
/// threads active at once on a busy host; a miss only costs a decode.
const SLOTS: usize = 256;

/// A value that events share and that decodes through a cache.
pub trait Shared: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Runs `f` on this thread's decode cache for the type.
    fn with_cache<R>(f: impl FnOnce(&mut Cache<Self>) -> R) -> R;
}

/// Implements [`Shared`] for a type, with its own thread-local cache.
macro_rules! shared {
    ($t:ty) => {
        impl Shared for $t {
            fn with_cache<R>(f: impl FnOnce(&mut Cache<Self>) -> R) -> R {
                thread_local! {
                    static CACHE: RefCell<Cache<$t>> = RefCell::new(Cache::new());
                }
                CACHE.with(|c| f(&mut c.borrow_mut()))
            }
        }
    };
}
shared!(crate::event::Process);
shared!(crate::event::ExecContext);
shared!(crate::event::Container);
shared!(crate::event::Cgroup);

/// Direct-mapped: slot [`slot_of`]`(bytes)` holds the last value decoded
/// from bytes of that slot. Memory is bounded by `SLOTS` values and, per
/// slot, the largest encoding it has held.
pub struct Cache<T> {
    slots: Vec<Slot<T>>,
    /// The slot of the last lookup: runs of events of one process or
    /// container skip the hash.
    last: usize,
}

/// Encoded bytes and the value they decoded to. The key's buffer is
/// reused when the slot is taken over (a replay of a long log replaces
/// entries once per new process), so a miss allocates only the value.
struct Slot<T> {
    key: Vec<u8>,
    value: Option<Arc<T>>,
}

impl<T: Shared> Cache<T> {
    fn new() -> Self {
        Cache {
            slots: (0..SLOTS)
                .map(|_| Slot {
                    key: Vec::new(),
                    value: None,
                })
                .collect(),
            last: 0,
        }
    }

    /// The value encoded by `bytes`, decoded at most once while it stays
    /// in its slot. A value that does not decode leaves the cache as it was.
    fn get(&mut self, bytes: &[u8]) -> Result<Arc<T>, monitor_recorder::typed::DecodeError> {
        if let Some(v) = self.slots[self.last].hit(bytes) {
            return Ok(v);
        }
        self.last = slot_of(bytes);
        if let Some(v) = self.slots[self.last].hit(bytes) {
            return Ok(v);
        }
        let value = Arc::new(monitor_recorder::typed::decode::<T>(bytes)?);
        let slot = &mut self.slots[self.last];
        slot.key.clear();
        slot.key.extend_from_slice(bytes);
        slot.value = Some(value.clone());
        Ok(value)
    }
}

impl<T> Slot<T> {
    #[inline]
    fn hit(&self, bytes: &[u8]) -> Option<Arc<T>> {
        match &self.value {
            Some(v) if self.key == bytes => Some(v.clone()),
            _ => None,
        }
    }
}

/// The slot for an encoding: a multiplicative hash of its length and of
/// three 8-byte words (start, middle, end). The start tells most values
/// apart (pid and tid, the container id, the cgroup id come first), the
/// middle and end what shares a start (one program run with other
/// arguments); a collision only costs a decode. Cheaper than hashing every
/// byte, and lookups that hit are most lookups.
fn slot_of(bytes: &[u8]) -> usize {
    let n = bytes.len();
    let mixed = if n >= 8 {
        let word = |at: usize| {
            let w: [u8; 8] = bytes[at..at + 8].try_into().expect("8 bytes in range");
            u64::from_le_bytes(w)
        };
        word(0) ^ word((n - 8) / 2).rotate_left(21) ^ word(n - 8).rotate_left(42)
    } else {
        bytes.iter().fold(0, |h, &b| h << 8 | u64::from(b))
    };
    let h = (mixed ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - SLOTS.trailing_zeros())) as usize
}

thread_local! {
    /// Reused buffers for nested encodings, one per nesting level in use
    /// (a process's encoding holds its exec context's).
    static SCRATCH: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

pub fn serialize<T: Shared, S: Serializer>(value: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        return value.serialize(s);
    }
    // In a recorder's log: the number of its definition, encoded only the
    // first time the region meets this `Arc`.
    let encode = || monitor_recorder::typed::encode_into(&**value, Vec::new());
    if let Some(id) = monitor_recorder::dict::define_shared(value, encode) {
        let id = id.map_err(serde::ser::Error::custom)?;
        return s.serialize_newtype_variant(WIRE, DEFINED, VARIANTS[1], &id);
    }
    let mut buf = SCRATCH.with(|b| b.borrow_mut().pop()).unwrap_or_default();
    buf.clear();
    let buf =
        monitor_recorder::typed::encode_into(&**value, buf).map_err(serde::ser::Error::custom)?;
    let out = s.serialize_newtype_variant(WIRE, INLINE, VARIANTS[0], &Bytes(&buf));
    SCRATCH.with(|b| b.borrow_mut().push(buf));
    out
}

/// How a shared value is written: whole (variant 0: its own encoding as a
/// byte string), or, in a recorder's log, as the number of a definition
/// record before it in its segment (variant 1: `monitor_recorder::dict`).
const WIRE: &str = "Nested";
const VARIANTS: &[&str] = &["Inline", "Defined"];
const INLINE: u32 = 0;
const DEFINED: u32 = 1;

/// Bytes written as a byte string (not as a sequence of numbers).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

pub fn deserialize<'de, T: Shared, D: Deserializer<'de>>(d: D) -> Result<Arc<T>, D::Error> {
    if d.is_human_readable() {
        return T::deserialize(d).map(Arc::new);
    }
    d.deserialize_enum(WIRE, VARIANTS, Nested(PhantomData))
}

struct Nested<T>(PhantomData<T>);

impl<'de, T: Shared> Visitor<'de> for Nested<T> {
    type Value = Arc<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the nested encoding of a {}", std::any::type_name::<T>())
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Arc<T>, A::Error> {
        let (variant, value) = data.variant::<u32>()?;
        match variant {
            INLINE => value.newtype_variant_seed(self),
            DEFINED => {
                let id: u64 = value.newtype_variant()?;
                let decode =
                    |bytes: &[u8]| monitor_recorder::typed::decode::<T>(bytes).map(Arc::new);
                // Not read: the reader names the record and the number.
                match monitor_recorder::dict::resolve(id, decode) {
                    Some(v) => v.map_err(de::Error::custom),
                    None => Err(de::Error::custom(format_args!("definition {id} not read"))),
                }
            }
            other => Err(de::Error::invalid_value(
                de::Unexpected::Unsigned(other.into()),
                &"variant 0 or 1",
            )),
        }
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Arc<T>, E> {
        T::with_cache(|c| c.get(bytes)).map_err(E::custom)
    }
}

/// An inline value's bytes go through the cache.
impl<'de, T: Shared> de::DeserializeSeed<'de> for Nested<T> {
    type Value = Arc<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Arc<T>, D::Error> {
        d.deserialize_bytes(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Cgroup, Container, Process};

    fn process(pid: u32, name: &str) -> Arc<Process> {
        Arc::new(Process {
            pid,
            name: name.into(),
            exec: Arc::new(crate::event::ExecContext {
                args: vec!["-c".into(), "id".into()].into(),
                ..Default::default()
            }),
            ..Process::default()
        })
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Ev {
        #[serde(with = "crate::event::shared")]
        p: Arc<Process>,
        #[serde(with = "crate::event::shared")]
        c: Arc<Container>,
        n: u32,
    }

    /// Process `pid` named `name` in a host container, event number `n`.
    fn ev(pid: u32, name: &str, n: u32) -> Ev {
        Ev {
            p: process(pid, name),
            c: Arc::new(Container::default()),
            n,
        }
    }

    fn encode(ev: &Ev) -> Vec<u8> {
        monitor_recorder::typed::encode_into(ev, Vec::new()).unwrap()
    }

    fn round_trip(ev: &Ev) -> Ev {
        monitor_recorder::typed::decode(&encode(ev)).unwrap()
    }

    #[test]
    fn repeated_context_decodes_once_and_is_shared() {
        let a = ev(7, "sh", 1);
        let b = ev(7, "sh", 2);
        let other = Ev {
            c: a.c.clone(),
            ..ev(8, "cat", 3)
        };
        let (da, db, dother) = (round_trip(&a), round_trip(&b), round_trip(&other));
        assert_eq!((&da, &db, &dother), (&a, &b, &other));
        assert!(Arc::ptr_eq(&da.p, &db.p), "same bytes, same Arc");
        assert!(Arc::ptr_eq(&da.c, &dother.c));
        assert!(!Arc::ptr_eq(&da.p, &dother.p));
    }

    #[test]
    fn a_slot_collision_replaces_and_still_decodes_right() {
        // More distinct processes than slots: every one still decodes to
        // itself, whatever was evicted.
        for round in 0..2 {
            for pid in 0..(SLOTS as u32 * 2) {
                let e = ev(pid, "w", round);
                assert_eq!(round_trip(&e), e);
            }
        }
    }

    /// A cgroup's nested encoding (2 to 11 bytes: shorter than the
    /// hash's words).
    fn cgroup_bytes(id: u64) -> Vec<u8> {
        monitor_recorder::typed::encode_into(&Cgroup { id, path: None }, Vec::new()).unwrap()
    }

    /// Two cgroup ids whose encodings share a slot.
    fn colliding() -> (u64, u64) {
        let mut seen = std::collections::HashMap::new();
        for id in 0.. {
            if let Some(first) = seen.insert(slot_of(&cgroup_bytes(id)), id) {
                return (first, id);
            }
        }
        unreachable!()
    }

    #[test]
    fn colliding_values_evict_each_other_and_still_decode_right() {
        let mut cache = Cache::<Cgroup>::new();
        let (a, b) = colliding();
        let (ka, kb) = (cgroup_bytes(a), cgroup_bytes(b));
        let va = cache.get(&ka).unwrap();
        assert!(Arc::ptr_eq(&va, &cache.get(&ka).unwrap()), "a hit");
        let vb = cache.get(&kb).unwrap();
        assert_eq!(vb.id, b);
        let va2 = cache.get(&ka).unwrap();
        assert_eq!(va2.id, a);
        assert!(!Arc::ptr_eq(&va, &va2), "b evicted a: decoded anew");
        let vb2 = cache.get(&kb).unwrap();
        assert_eq!(vb2.id, b);
        assert!(!Arc::ptr_eq(&vb, &vb2), "and a evicted b");
    }

    #[test]
    fn bytes_that_do_not_decode_leave_the_cache_as_it_was() {
        let mut cache = Cache::<Cgroup>::new();
        assert!(cache.get(&[]).is_err(), "an empty slot is no hit");
        let ka = cgroup_bytes(7);
        let va = cache.get(&ka).unwrap();
        // The same value with trailing bytes (an error), in its slot.
        let bad = (0..=u16::MAX)
            .map(|x| [&ka[..], &x.to_le_bytes()].concat())
            .find(|b| slot_of(b) == slot_of(&ka))
            .unwrap();
        assert!(cache.get(&bad).is_err());
        assert!(Arc::ptr_eq(&va, &cache.get(&ka).unwrap()), "still cached");
    }

    #[test]
    fn a_prefix_of_a_key_is_another_key() {
        let mut cache = Cache::<Process>::new();
        let long = monitor_recorder::typed::encode_into(&*process(7, "sh"), Vec::new()).unwrap();
        let short = monitor_recorder::typed::encode_into(&*process(7, ""), Vec::new()).unwrap();
        assert_eq!(&*cache.get(&long).unwrap().name, "sh");
        assert_eq!(&*cache.get(&short).unwrap().name, "");
        assert_eq!(&*cache.get(&long).unwrap().name, "sh");
    }

    #[test]
    fn damaged_nested_bytes_are_an_error() {
        let e = ev(7, "sh", 1);
        let mut bytes = encode(&e);
        // The process comes first, whole (variant 0), then its nested
        // length; claim one byte more than the nested value holds, so it
        // has trailing garbage.
        assert_eq!(bytes[0], INLINE as u8);
        let inner = bytes[1] as usize;
        bytes[1] += 1;
        bytes.insert(2 + inner, 0x00);
        assert!(monitor_recorder::typed::decode::<Ev>(&bytes).is_err());
    }

    #[test]
    fn damaged_real_events_never_panic_and_never_poison_the_cache() {
        // Every truncation and every single-byte change of real enriched
        // events of each kind: an error or some event, never a panic; and
        // the intact events still decode to themselves afterwards (a bad
        // record never leaves a wrong value cached under good bytes).
        let evs = crate::sink::recorder::tests::events();
        let encoded: Vec<Vec<u8>> = evs
            .iter()
            .map(|e| monitor_recorder::typed::encode_into(e, Vec::new()).unwrap())
            .collect();
        for bytes in &encoded {
            for cut in 0..bytes.len() {
                assert!(
                    monitor_recorder::typed::decode::<crate::event::Event>(&bytes[..cut]).is_err()
                );
            }
            for at in 0..bytes.len() {
                let mut bad = bytes.clone();
                bad[at] ^= 0x5a;
                let _ = monitor_recorder::typed::decode::<crate::event::Event>(&bad);
            }
        }
        for (e, bytes) in evs.iter().zip(&encoded) {
            let back: crate::event::Event = monitor_recorder::typed::decode(bytes).unwrap();
            assert_eq!(&back, e);
        }
    }

    #[test]
    fn json_sees_the_plain_value() {
        let e = ev(7, "sh", 1);
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains(r#""name":"sh""#), "{text}");
        assert_eq!(serde_json::from_str::<Ev>(&text).unwrap(), e);
    }
}
