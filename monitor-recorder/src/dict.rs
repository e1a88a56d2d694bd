//! Definitions: byte strings that many records repeat (an event's process
//! and its exec context, its container), written once per region of a
//! segment as a definition record and referred to by number from the
//! records that use them.
//!
//! A payload type opts in from its `Serialize` impl: while a [`Recorder`]
//! encodes a record, [`define`] gives the number of some bytes in the
//! current region, and the recorder writes the definitions the record
//! needs just before it, in the same segment. While an [`EventReader`]
//! decodes a record, [`resolve`] gives back what a number stands for,
//! decoded once per definition. Outside those two (a value encoded for
//! something else), [`define`] says `None` and the value is written whole.
//!
//! Numbers are per segment and a region is [`REGION_BYTES`] of it: at each
//! region's start the writer forgets what it defined, and each definition
//! record says from which number on definitions are still referred to, so
//! a reader holds one region's definitions at most, and a damaged
//! definition record costs the records of its region that use it (each
//! reported with its offset), not more.
//!
//! [`Recorder`]: crate::Recorder
//! [`EventReader`]: crate::EventReader

use std::any::Any;
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use foldhash::fast::RandomState;

/// Bytes of a segment after which a writer defines anew what later
/// records use.
pub const REGION_BYTES: u64 = 2 << 20;

/// Values [`define_shared`] holds at most (a region of short-lived
/// processes meets a new one with every record): past it they are known
/// by their bytes alone.
const MAX_SHARED: usize = 4096;

/// A definition record's payload: `id` (u64 LE), `live_from` (u64 LE: no
/// later record refers to a number below it), then the bytes.
const DEFINE_HEADER: usize = 16;

/// What a writer has defined in the current region of a segment.
#[derive(Default)]
pub(crate) struct Dictionary {
    /// The segment its numbers belong to (its first sequence number).
    segment: Option<u64>,
    /// Where (bytes into the segment) the current region began.
    region_start: u64,
    live_from: u64,
    next_id: u64,
    known: HashMap<Box<[u8]>, u64, RandomState>,
    /// Values defined through [`define_shared`], by address: each holds
    /// its `Arc`, so no other value takes the address meanwhile.
    shared: HashMap<usize, (u64, Box<dyn Any + Send + Sync>), RandomState>,
    /// Definition payloads the record being encoded needs written first.
    pending: Vec<Vec<u8>>,
}

impl Dictionary {
    /// Before a record is encoded for `segment`, which has `bytes` in it.
    pub(crate) fn start(&mut self, segment: u64, bytes: u64) {
        if self.segment != Some(segment) {
            self.segment = Some(segment);
            self.next_id = 0;
            self.new_region(bytes);
        } else if bytes.saturating_sub(self.region_start) >= REGION_BYTES {
            self.new_region(bytes);
        }
        self.pending.clear();
    }

    /// Forgets what was defined: later records define again what they
    /// use. After a record that was not written, whose definitions may
    /// not have been either.
    pub(crate) fn new_region(&mut self, bytes: u64) {
        self.known.clear();
        self.shared.clear();
        self.pending.clear();
        self.live_from = self.next_id;
        self.region_start = bytes;
    }

    /// The definitions the record just encoded needs, to be written
    /// before it.
    pub(crate) fn pending(&self) -> impl Iterator<Item = &[u8]> {
        self.pending.iter().map(Vec::as_slice)
    }

    fn define(&mut self, bytes: &[u8]) -> u64 {
        if let Some(&id) = self.known.get(bytes) {
            return id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.known.insert(bytes.into(), id);
        let mut payload = Vec::with_capacity(DEFINE_HEADER + bytes.len());
        payload.extend_from_slice(&id.to_le_bytes());
        payload.extend_from_slice(&self.live_from.to_le_bytes());
        payload.extend_from_slice(bytes);
        self.pending.push(payload);
        id
    }
}

scoped_tls::scoped_thread_local!(static WRITING: RefCell<Dictionary>);
scoped_tls::scoped_thread_local!(static READING: Definitions);

/// Runs `encode` with `dict` as this thread's dictionary ([`define`]).
pub(crate) fn encoding<R>(dict: &RefCell<Dictionary>, encode: impl FnOnce() -> R) -> R {
    WRITING.set(dict, encode)
}

/// The number `bytes` go by in the record being encoded, which is then
/// written after their definition; `None` when no recorder is encoding
/// on this thread (write the bytes whole).
pub fn define(bytes: &[u8]) -> Option<u64> {
    WRITING
        .is_set()
        .then(|| WRITING.with(|d| d.borrow_mut().define(bytes)))
}

/// [`define`] for a value that records share through an `Arc`: the same
/// `Arc` again in the region is known without `encode` being asked for
/// its bytes. `None` like [`define`]; `encode`'s error is passed on.
pub fn define_shared<V, E>(
    value: &Arc<V>,
    encode: impl FnOnce() -> Result<Vec<u8>, E>,
) -> Option<Result<u64, E>>
where
    V: Send + Sync + 'static,
{
    if !WRITING.is_set() {
        return None;
    }
    let key = Arc::as_ptr(value) as *const () as usize;
    if let Some(id) = WRITING.with(|d| d.borrow().shared.get(&key).map(|(id, _)| *id)) {
        return Some(Ok(id));
    }
    // Not borrowed meanwhile: the value's encoding may define values too.
    let bytes = match encode() {
        Ok(b) => b,
        Err(e) => return Some(Err(e)),
    };
    WRITING.with(|d| {
        let mut d = d.borrow_mut();
        let id = d.define(&bytes);
        if d.shared.len() >= MAX_SHARED {
            // Values held for their address only: let them go.
            d.shared.clear();
        }
        d.shared.insert(key, (id, Box::new(value.clone())));
        Some(Ok(id))
    })
}

/// What a reader knows of the current region's definitions.
pub(crate) struct Definitions {
    segment: Option<Arc<Path>>,
    /// The number of `entries[0]`: numbers run on within a segment.
    base: u64,
    entries: VecDeque<Option<Definition>>,
    /// While a definition is decoded, the values it holds must be defined
    /// before it (a writer defines them first): a damaged or forged log
    /// cannot make a definition hold itself, nor nest deeper than
    /// [`MAX_DEPTH`] (the reader's stack).
    below: Cell<u64>,
    depth: Cell<u32>,
    /// The number last asked for and not found, for the error message
    /// (a decoder's own errors may not carry one).
    missing: Cell<Option<u64>>,
}

struct Definition {
    bytes: Box<[u8]>,
    /// What the bytes decoded to, the first time a record needed them.
    decoded: OnceCell<Box<dyn Any + Send + Sync>>,
}

/// Numbers a definition may skip (a writer skips none), and numbers a
/// reader holds at once (a region holds a few ten thousand at most): more
/// is damage, or a forged log out to exhaust the reader's memory.
const MAX_GAP: u64 = 1 << 16;
const MAX_HELD: u64 = 1 << 20;

/// Definitions inside definitions a reader follows (vigil's: two, a
/// process's exec context inside the process).
const MAX_DEPTH: u32 = 16;

impl Default for Definitions {
    fn default() -> Self {
        Definitions::new()
    }
}

/// A definition record that does not hold a definition.
#[derive(Debug)]
pub(crate) struct BadDefinition;

impl Definitions {
    /// Numbers are per segment: records of another segment start afresh.
    pub(crate) fn enter(&mut self, segment: &Arc<Path>) {
        if !self
            .segment
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, segment))
        {
            *self = Definitions {
                segment: Some(segment.clone()),
                ..Definitions::default()
            };
        }
    }

    /// Nothing yet: any number defined may be referred to.
    fn new() -> Self {
        Definitions {
            segment: None,
            base: 0,
            entries: VecDeque::new(),
            below: Cell::new(u64::MAX),
            depth: Cell::new(0),
            missing: Cell::new(None),
        }
    }

    /// Why the record just read did not decode, when it named a
    /// definition that was not read.
    pub(crate) fn take_missing(&self) -> Option<String> {
        self.missing.take().map(|id| {
            format!(
                "it refers to definition {id} of its segment, which was not read before it \
                 (a damaged definition record)"
            )
        })
    }

    /// Takes in a definition record's payload.
    pub(crate) fn add(&mut self, payload: &[u8]) -> Result<(), BadDefinition> {
        let word = |at: usize| -> Result<u64, BadDefinition> {
            let w = payload.get(at..at + 8).ok_or(BadDefinition)?;
            Ok(u64::from_le_bytes(w.try_into().map_err(|_| BadDefinition)?))
        };
        let (id, live_from) = (word(0)?, word(8)?);
        if live_from > id || id < self.base {
            return Err(BadDefinition);
        }
        if live_from > self.base {
            let gone = (live_from - self.base).min(self.entries.len() as u64);
            self.entries.drain(..gone as usize);
            self.base = live_from;
        }
        let at = id - self.base;
        if at > self.entries.len() as u64 + MAX_GAP || at >= MAX_HELD {
            return Err(BadDefinition);
        }
        if at >= self.entries.len() as u64 {
            self.entries.resize_with(at as usize + 1, || None);
        }
        self.entries[at as usize] = Some(Definition {
            bytes: payload[DEFINE_HEADER..].into(),
            decoded: OnceCell::new(),
        });
        Ok(())
    }

    fn get(&self, id: u64) -> Option<&Definition> {
        let at = id.checked_sub(self.base)?;
        self.entries.get(usize::try_from(at).ok()?)?.as_ref()
    }
}

/// Runs `decode` with `defs` as this thread's definitions ([`resolve`]).
pub(crate) fn reading<R>(defs: &Definitions, decode: impl FnOnce() -> R) -> R {
    defs.missing.set(None);
    READING.set(defs, decode)
}

/// What number `id` stands for in the record being decoded, through
/// `decode` the first time (a value of another type from the same bytes
/// is decoded anew each time). `None` when its definition was not read:
/// damaged, or no log is being read on this thread.
pub fn resolve<V, E>(id: u64, decode: impl FnOnce(&[u8]) -> Result<V, E>) -> Option<Result<V, E>>
where
    V: Clone + Send + Sync + 'static,
{
    if !READING.is_set() {
        return None;
    }
    READING.with(|defs| {
        let depth = defs.depth.get();
        let def = defs
            .get(id)
            .filter(|_| id < defs.below.get() && depth < MAX_DEPTH);
        let Some(def) = def else {
            defs.missing.set(Some(id));
            return None;
        };
        let cached = def.decoded.get();
        if let Some(v) = cached.and_then(|v| v.downcast_ref::<V>()) {
            return Some(Ok(v.clone()));
        }
        let outer = defs.below.replace(id);
        defs.depth.set(depth + 1);
        let value = decode(&def.bytes);
        defs.depth.set(depth);
        defs.below.set(outer);
        if let (Ok(v), None) = (&value, cached) {
            let _ = def.decoded.set(Box::new(v.clone()));
        }
        Some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs_of(dict: &RefCell<Dictionary>) -> Vec<Vec<u8>> {
        dict.borrow().pending().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn bytes_are_defined_once_per_region_and_segment() {
        let d = RefCell::new(Dictionary::default());
        d.borrow_mut().start(1, 0);
        let (a, b, a2) = encoding(&d, || {
            (
                define(b"a").unwrap(),
                define(b"b").unwrap(),
                define(b"a").unwrap(),
            )
        });
        assert_eq!((a, b, a2), (0, 1, 0));
        assert_eq!(defs_of(&d).len(), 2);
        // The next record of the region refers to them without defining.
        d.borrow_mut().start(1, 100);
        assert_eq!(encoding(&d, || define(b"a")), Some(0));
        assert!(defs_of(&d).is_empty());
        // A new region defines again, under new numbers, and says the old
        // ones are no longer used.
        d.borrow_mut().start(1, 100 + REGION_BYTES);
        assert_eq!(encoding(&d, || define(b"a")), Some(2));
        let p = &defs_of(&d)[0];
        assert_eq!(&p[..16], [2u64.to_le_bytes(), 2u64.to_le_bytes()].concat());
        assert_eq!(&p[16..], b"a");
        // A new segment starts from nothing.
        d.borrow_mut().start(9, 0);
        assert_eq!(encoding(&d, || define(b"a")), Some(0));
        // Nothing is defined when no recorder encodes.
        assert_eq!(define(b"a"), None);
    }

    #[test]
    fn a_reader_resolves_what_its_segment_defined() {
        let w = RefCell::new(Dictionary::default());
        w.borrow_mut().start(1, 0);
        encoding(&w, || define(b"seven").unwrap());
        let seg: Arc<Path> = Path::new("s1").into();
        let mut r = Definitions::default();
        r.enter(&seg);
        for p in w.borrow().pending() {
            r.add(p).unwrap();
        }
        let calls = std::cell::Cell::new(0);
        let parse = |b: &[u8]| -> Result<Arc<String>, ()> {
            calls.set(calls.get() + 1);
            Ok(Arc::new(String::from_utf8(b.to_vec()).unwrap()))
        };
        let got = reading(&r, || {
            [resolve(0, parse), resolve(0, parse), resolve(1, parse)]
        });
        assert_eq!(got[0], Some(Ok(Arc::new("seven".into()))));
        assert_eq!(got[1], got[0]);
        assert_eq!(got[2], None, "never defined");
        assert_eq!(calls.get(), 1, "decoded once");
        // Another segment's number 0 is not this one's.
        r.enter(&Path::new("s2").into());
        assert_eq!(reading(&r, || resolve(0, parse)), None);
        assert_eq!(resolve(0, parse), None, "no log being read");
    }

    /// A value made of the values its bytes name, by number (as a process
    /// holds its exec context).
    fn nested(bytes: &[u8]) -> Result<Arc<Vec<u64>>, ()> {
        let mut out = vec![];
        for &b in bytes {
            out.extend(resolve(u64::from(b), nested).ok_or(())??.iter());
            out.push(u64::from(b));
        }
        Ok(Arc::new(out))
    }

    #[test]
    fn a_definition_holds_only_what_was_defined_before_it() {
        let mut r = Definitions::default();
        r.enter(&Path::new("s").into());
        let def =
            |id: u64, holds: &[u8]| [&id.to_le_bytes()[..], &0u64.to_le_bytes(), holds].concat();
        r.add(&def(0, &[])).unwrap();
        r.add(&def(1, &[0])).unwrap();
        r.add(&def(2, &[1, 0])).unwrap();
        // Forged: holding itself, or a later one.
        r.add(&def(3, &[3])).unwrap();
        r.add(&def(4, &[5])).unwrap();
        r.add(&def(5, &[])).unwrap();
        reading(&r, || {
            assert_eq!(*resolve(2, nested).unwrap().unwrap(), [0, 1, 0]);
            assert_eq!(resolve(3, nested), Some(Err(())), "no endless recursion");
            assert_eq!(resolve(4, nested), Some(Err(())));
            assert_eq!(*resolve(5, nested).unwrap().unwrap(), Vec::<u64>::new());
        });
    }

    #[test]
    fn a_reader_follows_definitions_so_deep_only() {
        // Number k holds k-1, ..., 0: decoding it goes k + 1 deep.
        let chain = || {
            let mut r = Definitions::default();
            r.enter(&Path::new("s").into());
            let def = |id: u64, holds: &[u8]| {
                [&id.to_le_bytes()[..], &0u64.to_le_bytes(), holds].concat()
            };
            r.add(&def(0, &[])).unwrap();
            for id in 1..=u64::from(MAX_DEPTH) {
                r.add(&def(id, &[id as u8 - 1])).unwrap();
            }
            r
        };
        let deepest = u64::from(MAX_DEPTH) - 1;
        let r = chain();
        reading(&r, || {
            assert_eq!(
                resolve(deepest, nested).unwrap().unwrap().len(),
                deepest as usize
            );
        });
        let r = chain();
        reading(&r, || {
            assert_eq!(resolve(deepest + 1, nested), Some(Err(())))
        });
    }

    #[test]
    fn a_region_drops_the_definitions_no_longer_used() {
        let mut r = Definitions::default();
        r.enter(&Path::new("s").into());
        let def = |id: u64, live: u64| [id.to_le_bytes(), live.to_le_bytes()].concat();
        r.add(&def(0, 0)).unwrap();
        r.add(&def(1, 0)).unwrap();
        r.add(&def(2, 2)).unwrap();
        assert_eq!(r.base, 2);
        assert!(r.get(0).is_none() && r.get(1).is_none() && r.get(2).is_some());
        assert!(r.add(&[1, 2, 3]).is_err(), "too short");
        assert!(r.add(&def(3, 4)).is_err(), "live_from past its own number");
        assert!(r.add(&def(1, 0)).is_err(), "no longer live");
        assert!(r.add(&def(2 + MAX_GAP + 2, 2)).is_err(), "a gap");
        let far = 2 + MAX_HELD;
        assert!(r.add(&def(far, far)).is_ok(), "a new region far on");
        for step in 1..MAX_HELD / MAX_GAP {
            assert!(r.add(&def(far + step * MAX_GAP, far)).is_ok());
        }
        assert!(r.add(&def(far + MAX_HELD, far)).is_err(), "too many held");
    }
}
