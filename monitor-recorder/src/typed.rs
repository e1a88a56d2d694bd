//! The typed layer: event payloads are `T` encoded with postcard (compact
//! varint encoding with a written, stable wire specification). Reading turns
//! records into `Entry<T>`: an event, or a loss marker; definition records
//! are taken in on the way, for the events that refer to them
//! ([`crate::dict`]). Payloads that do not decode as `T` are reported with
//! segment, offset and sequence number, and reading goes on.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::dict::{self, Definitions};
use crate::error::{ReadError, WriteError};
use crate::format::{Loss, RecordKind};
use crate::reader::{LogReader, Records};

/// Appends the encoding of `value` to `buf`.
pub fn encode_into<T: Serialize>(value: &T, buf: Vec<u8>) -> Result<Vec<u8>, WriteError> {
    postcard::to_extend(value, buf).map_err(|e| WriteError::Encode(e.to_string()))
}

/// Why a payload did not decode.
pub type DecodeError = postcard::Error;

/// Decodes a value from the start of `bytes`; returns it and the rest
/// (to read a payload's leading fields without decoding all of it).
pub fn decode_prefix<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<(T, &'a [u8]), DecodeError> {
    postcard::take_from_bytes(bytes)
}

/// Decodes one payload; trailing bytes are an error (a payload is exactly
/// one value).
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    let (v, rest) = postcard::take_from_bytes(payload)?;
    if rest.is_empty() {
        Ok(v)
    } else {
        Err(postcard::Error::DeserializeBadEncoding)
    }
}

/// What a record holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Body<T> {
    Event(T),
    Loss(Loss),
}

/// One recorded event or loss marker with its place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<T> {
    pub seq: u64,
    pub timestamp_ns: u64,
    pub body: Body<T>,
    pub segment: Arc<Path>,
    pub offset: u64,
}

/// Says, from an event's payload, that it is of no use to the reader.
type PassOver = Box<dyn FnMut(&[u8]) -> bool>;

/// Streams `Entry<T>` from a log; records of unknown kinds are skipped.
pub struct EventReader<T> {
    records: Records,
    /// The current region's definitions ([`crate::dict`]).
    defs: Definitions,
    pass_over: Option<PassOver>,
    passed_over: u64,
    _t: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> EventReader<T> {
    pub fn new(log: &LogReader) -> Self {
        Self {
            records: log.records(),
            defs: Definitions::default(),
            pass_over: None,
            passed_over: 0,
            _t: PhantomData,
        }
    }

    /// Event records whose (checksummed) payload `f` rejects are passed
    /// over without being decoded, and counted ([`passed_over`]): a reader
    /// that can tell from a payload's first bytes that it has no use for
    /// the event saves decoding it.
    ///
    /// [`passed_over`]: Self::passed_over
    pub fn pass_over(mut self, f: impl FnMut(&[u8]) -> bool + 'static) -> Self {
        self.pass_over = Some(Box::new(f));
        self
    }

    /// Event records passed over so far.
    pub fn passed_over(&self) -> u64 {
        self.passed_over
    }

    /// Segments skipped whole because of the time range.
    pub fn skipped_segments(&self) -> u64 {
        self.records.skipped_segments()
    }
}

impl<T: DeserializeOwned> Iterator for EventReader<T> {
    type Item = Result<Entry<T>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let frame = match self.records.next_frame()? {
                Ok(f) => f,
                Err(e) => return Some(Err(e)),
            };
            let segment = self
                .records
                .current_segment()
                .expect("a frame implies an open segment");
            let payload = self.records.payload(&frame);
            self.defs.enter(segment);
            if frame.kind == RecordKind::Define {
                if self.defs.add(payload).is_err() {
                    return Some(Err(ReadError::BadPayload {
                        path: segment.to_path_buf(),
                        offset: frame.offset,
                        seq: frame.seq,
                        kind: "definition",
                        len: payload.len(),
                    }));
                }
                continue;
            }
            if frame.kind == RecordKind::Event
                && self.pass_over.as_mut().is_some_and(|f| f(payload))
            {
                self.passed_over += 1;
                continue;
            }
            let body = match frame.kind {
                RecordKind::Event => match dict::reading(&self.defs, || decode::<T>(payload)) {
                    Ok(v) => Body::Event(v),
                    Err(e) => {
                        return Some(Err(ReadError::Decode {
                            path: segment.to_path_buf(),
                            offset: frame.offset,
                            seq: frame.seq,
                            message: self.defs.take_missing().unwrap_or_else(|| e.to_string()),
                        }))
                    }
                },
                RecordKind::Loss => match Loss::decode(payload) {
                    Some(l) => Body::Loss(l),
                    None => {
                        return Some(Err(ReadError::BadPayload {
                            path: segment.to_path_buf(),
                            offset: frame.offset,
                            seq: frame.seq,
                            kind: "loss",
                            len: payload.len(),
                        }))
                    }
                },
                RecordKind::Footer | RecordKind::Define | RecordKind::Unknown(_) => continue,
            };
            return Some(Ok(Entry {
                seq: frame.seq,
                timestamp_ns: frame.timestamp_ns,
                body,
                segment: segment.clone(),
                offset: frame.offset,
            }));
        }
    }
}
