//! The in-kernel open filter: which opens are worth sending to userspace.
//!
//! Ordinary opens never cross to userspace. The agent loads two maps: an LPM
//! trie of path prefixes ([`PathPrefix`], e.g. `/etc/shadow`, `/proc/sys/`,
//! `/var/run/docker.sock`) and a hash of final path components
//! ([`NameKey`], e.g. `release_agent`, `environ`), which also catches
//! relative paths and `/proc/<pid>/...`. The value says when a match counts.

/// Bytes of a path compared against the prefix trie.
pub const PREFIX_LEN: usize = 128;
/// Bytes of a final path component compared against the name set.
pub const NAME_LEN: usize = 32;
/// Entries of each map (prefixes, names).
pub const MAX_ENTRIES: u32 = 1024;

shared_struct! {
    /// Data of an LPM-trie key (the prefix length in bits is aya's `Key`).
    #[derive(Clone, Copy)]
    pub struct PathPrefix {
        pub bytes: [u8; PREFIX_LEN],
    }
}

shared_struct! {
    /// A final path component, NUL-padded.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct NameKey {
        pub bytes: [u8; NAME_LEN],
    }
}

/// Map values: when does a match make the open interesting.
pub mod when {
    /// Any open.
    pub const ANY: u32 = 1 << 0;
    /// Only an open for writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC).
    pub const WRITE: u32 = 1 << 1;
    /// Enforcement (`crate::enforce`): an open for writing from a
    /// container is refused in LSM mode. Counts as `WRITE` for reporting.
    pub const DENY_WRITE: u32 = 1 << 2;
    /// Enforcement: a process that opens for writing from a container is
    /// killed (`bpf_send_signal`) after the open. Counts as `WRITE`.
    pub const KILL_WRITE: u32 = 1 << 3;
}
