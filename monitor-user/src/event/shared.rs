//! Event context shared between events: the process (and its exec
//! context), container and cgroup that thousands of events repeat.
//!
//! In memory they are `Arc`s, so every stage after the enricher hands them
//! on without copying strings. In the log (a compact encoding that is not
//! self-describing: postcard) each is written as a byte string holding its
//! own nested encoding; decoding looks those bytes up in a small per-thread
//! cache of recently decoded values, so a replay decodes each distinct one
//! once, not once per event, and the events share one allocation. Every record still carries its full context: nothing depends
//! on another record, so a damaged record costs only itself. Self-describing
//! formats (JSON) see the plain value.
//!
//! Used as `#[serde(with = "crate::event::shared")]` on `Arc<T>` fields of a type
//! that implements [`Shared`].

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserializer, Serialize, Serializer};

/// Slots in each type's decode cache (a power of two). Enough for the
/// threads active at once on a busy host; a miss only costs a decode.
const SLOTS: usize = 256;

/// A value that events share and that decodes through a cache.
pub trait Shared: Serialize + DeserializeOwned + 'static {
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

/// Direct-mapped: slot `hash(bytes) % SLOTS` holds the last value decoded
/// from bytes with that hash. Memory is bounded by `SLOTS` values.
pub struct Cache<T> {
    slots: Vec<Option<Entry<T>>>,
    /// The slot of the last lookup: runs of events of one process or
    /// container skip the hash.
    last: usize,
}

/// Encoded bytes and the value they decoded to.
type Entry<T> = (Box<[u8]>, Arc<T>);

impl<T: Shared> Cache<T> {
    fn new() -> Self {
        Cache {
            slots: (0..SLOTS).map(|_| None).collect(),
            last: 0,
        }
    }

    /// The value encoded by `bytes`, decoded at most once while it stays
    /// in its slot.
    fn get(&mut self, bytes: &[u8]) -> Result<Arc<T>, monitor_recorder::typed::DecodeError> {
        if let Some((key, value)) = &self.slots[self.last] {
            if **key == *bytes {
                return Ok(value.clone());
            }
        }
        self.last = hash(bytes) as usize % SLOTS;
        let slot = &mut self.slots[self.last];
        if let Some((key, value)) = slot {
            if **key == *bytes {
                return Ok(value.clone());
            }
        }
        let value = Arc::new(monitor_recorder::typed::decode::<T>(bytes)?);
        *slot = Some((bytes.into(), value.clone()));
        Ok(value)
    }
}

/// Hash of the first 32 bytes: enough to spread slots (the encodings
/// start with what tells values apart: pid and tid, the container id, the
/// cgroup id), and a collision only costs a decode.
fn hash(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(&bytes[..bytes.len().min(32)])
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
    let mut buf = SCRATCH.with(|b| b.borrow_mut().pop()).unwrap_or_default();
    buf.clear();
    let buf =
        monitor_recorder::typed::encode_into(&**value, buf).map_err(serde::ser::Error::custom)?;
    let out = s.serialize_bytes(&buf);
    SCRATCH.with(|b| b.borrow_mut().push(buf));
    out
}

pub fn deserialize<'de, T: Shared, D: Deserializer<'de>>(d: D) -> Result<Arc<T>, D::Error> {
    if d.is_human_readable() {
        return T::deserialize(d).map(Arc::new);
    }
    d.deserialize_bytes(Nested(PhantomData))
}

struct Nested<T>(PhantomData<T>);

impl<T: Shared> Visitor<'_> for Nested<T> {
    type Value = Arc<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the nested encoding of a {}", std::any::type_name::<T>())
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Arc<T>, E> {
        T::with_cache(|c| c.get(bytes)).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Container, Process};

    fn process(pid: u32, name: &str) -> Arc<Process> {
        Arc::new(Process {
            pid,
            name: name.into(),
            exec: Arc::new(crate::event::ExecContext {
                args: vec!["-c".into(), "id".into()],
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

    #[test]
    fn damaged_nested_bytes_are_an_error() {
        let e = ev(7, "sh", 1);
        let mut bytes = encode(&e);
        // The process's nested length comes first; claim one byte more
        // than the nested value holds, so it has trailing garbage.
        let inner = bytes[0] as usize;
        bytes[0] += 1;
        bytes.insert(1 + inner, 0x00);
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
