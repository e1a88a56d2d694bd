//! How full the ring buffer is: its consumer and producer positions.
//!
//! A BPF ring buffer map exposes, at the start of its mmap area, one page
//! holding the consumer position and one holding the producer position.
//! aya keeps its own mapping private, so this maps those two pages again,
//! read-only (the kernel allows any read-only mapping of the map), and
//! reads both positions: their difference is what the kernel has written
//! and the agent not yet read. The kernel drops records only when that
//! reaches the size, so watching it shows drops coming.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};

/// The two position pages, mapped read-only.
pub(crate) struct Fill {
    base: *mut libc::c_void,
    page: usize,
    size: u64,
}

// SAFETY: the mapping is only read, with atomic loads, and lives as long
// as this value; the kernel keeps the pages alive while they are mapped.
unsafe impl Send for Fill {}
// SAFETY: as above: concurrent atomic reads of kernel-written words.
unsafe impl Sync for Fill {}

impl Fill {
    /// Maps the position pages of the ring buffer `map` of `size` bytes.
    pub fn map(map: &impl AsFd, size: u64) -> std::io::Result<Fill> {
        let page = super::page_size();
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh read-only shared mapping of a valid map fd; the
        // result is checked before use and unmapped on drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ,
                libc::MAP_SHARED,
                map.as_fd().as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Fill { base, page, size })
    }

    fn position(&self, page: usize) -> u64 {
        // SAFETY: `page` is 0 or 1, inside the mapping; the kernel writes
        // these u64 positions with release semantics, page aligned.
        unsafe {
            let p = (self.base as *const u8).add(page * self.page) as *const AtomicU64;
            (*p).load(Ordering::Acquire)
        }
    }

    /// (bytes written and not yet consumed, ring size).
    pub fn used(&self) -> (u64, u64) {
        let consumer = self.position(0);
        let producer = self.position(1);
        (producer.saturating_sub(consumer).min(self.size), self.size)
    }
}

impl Drop for Fill {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`.
        unsafe { libc::munmap(self.base, 2 * self.page) };
    }
}
