//! The open filter's two kernel maps, owned apart from the rest of the
//! loaded object so the agent can change what the kernel reports while it
//! runs (a rule reload brings new paths).
//!
//! [`FilterUpdater::replace`] inserts the new entries before it removes the
//! stale ones, so an entry present in both the old and the new filter is
//! never missing, not even for a moment.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use aya::maps::{lpm_trie::Key, HashMap, LpmTrie, MapData, MapError};
use aya::Ebpf;
use monitor_common::filter::{NameKey, PathPrefix};
use monitor_common::names;

use super::filter::{Encoded, OpenFilter};
use super::loader::map_err;
use super::SensorError;

/// The maps and what is in them now.
pub(crate) struct FilterMaps {
    prefixes: LpmTrie<MapData, PathPrefix, u32>,
    names: HashMap<MapData, NameKey, u32>,
    current: Encoded,
}

impl FilterMaps {
    /// Take the maps out of the loaded object and fill them.
    pub(crate) fn take(ebpf: &mut Ebpf, filter: Encoded) -> Result<FilterMaps, SensorError> {
        let take = |ebpf: &mut Ebpf, name: &'static str| {
            ebpf.take_map(name).ok_or(SensorError::Missing {
                what: "map",
                name: name.into(),
            })
        };
        let prefixes = LpmTrie::try_from(take(ebpf, names::OPEN_PREFIXES)?)
            .map_err(|e| map_err(names::OPEN_PREFIXES, e))?;
        let names_map = HashMap::try_from(take(ebpf, names::OPEN_NAMES)?)
            .map_err(|e| map_err(names::OPEN_NAMES, e))?;
        let mut maps = FilterMaps {
            prefixes,
            names: names_map,
            current: Encoded::default(),
        };
        maps.apply(filter)?;
        Ok(maps)
    }

    fn apply(&mut self, new: Encoded) -> Result<(), SensorError> {
        for (bits, key, when) in &new.prefixes {
            self.prefixes
                .insert(&Key::new(*bits, *key), when, 0)
                .map_err(|e| map_err(names::OPEN_PREFIXES, e))?;
        }
        for (key, when) in &new.names {
            self.names
                .insert(key, when, 0)
                .map_err(|e| map_err(names::OPEN_NAMES, e))?;
        }
        let keep: BTreeSet<(u32, &[u8])> = new
            .prefixes
            .iter()
            .map(|(b, k, _)| (*b, &k.bytes[..]))
            .collect();
        for (bits, key, _) in &self.current.prefixes {
            if !keep.contains(&(*bits, &key.bytes[..])) {
                gone(self.prefixes.remove(&Key::new(*bits, *key)))
                    .map_err(|e| map_err(names::OPEN_PREFIXES, e))?;
            }
        }
        for (key, _) in &self.current.names {
            if !new.names.iter().any(|(k, _)| k == key) {
                gone(self.names.remove(key)).map_err(|e| map_err(names::OPEN_NAMES, e))?;
            }
        }
        self.current = new;
        Ok(())
    }
}

/// Removing a key that is not there is no error.
fn gone(r: Result<(), MapError>) -> Result<(), MapError> {
    match r {
        Err(MapError::KeyNotFound) => Ok(()),
        Err(MapError::SyscallError(e)) if e.io_error.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}

/// Changes the running sensor's open filter; cheap to clone, usable from
/// any task (the SIGHUP handler) while the sensor reads events.
#[derive(Clone)]
pub struct FilterUpdater {
    pub(crate) maps: Arc<Mutex<FilterMaps>>,
    /// Fixed at start: its names stay in the filter across reloads.
    pub(crate) enforce: Arc<super::EnforceConfig>,
}

impl FilterUpdater {
    /// Make the kernel report exactly the opens `filter` selects (plus the
    /// names enforcement watches). On error (an invalid entry, more than
    /// `filter::MAX_ENTRIES` of a kind) the kernel keeps the previous
    /// filter, or for a map error, the previous entries plus whatever was
    /// inserted.
    pub fn replace(&self, filter: &OpenFilter) -> Result<(), SensorError> {
        let enc = self.enforce.arm(filter).encode()?;
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        maps.apply(enc)
    }
}
