//! The few values the enricher built last, so that a context can be
//! reused rather than built again: a direct-mapped table of `N` slots (a
//! power of two), each holding the last value put for a key of its slot.
//! A key whose slot holds another's is a miss, which only costs the build
//! it would have cost. The context caches (`exec_cache`,
//! `container_cache`, `process_cache`) keep their slots here, and so does
//! what the rules learnt about a context (`detect::context_memo`).

pub struct Recent<T, const N: usize> {
    slots: Vec<Option<T>>,
}

impl<T, const N: usize> Default for Recent<T, N> {
    fn default() -> Self {
        Recent {
            slots: (0..N).map(|_| None).collect(),
        }
    }
}

impl<T, const N: usize> Recent<T, N> {
    /// The value in `key`'s slot, if `wanted` says it is the one sought.
    pub fn get(&self, key: u64, wanted: impl FnOnce(&T) -> bool) -> Option<&T> {
        self.slots[Self::slot(key)].as_ref().filter(|v| wanted(v))
    }

    /// [`Recent::get`], to change the value in place.
    pub fn get_mut(&mut self, key: u64, wanted: impl FnOnce(&T) -> bool) -> Option<&mut T> {
        self.slots[Self::slot(key)].as_mut().filter(|v| wanted(v))
    }

    /// Puts `value` in `key`'s slot, in place of what was there.
    pub fn put(&mut self, key: u64, value: T) {
        self.slots[Self::slot(key)] = Some(value);
    }

    /// Keys (pids, thread ids, cgroup ids) are handed out mostly in
    /// sequence: their low bits spread them.
    fn slot(key: u64) -> usize {
        key as usize % N
    }
}
