//! Every map of the object: the ring buffer, drop counters, the pending
//! syscall table, the open filter and per-CPU scratch space (the stack is
//! only 512 bytes, records are bigger).

use aya_ebpf::{
    macros::map,
    maps::{lpm_trie::Key, HashMap, LpmTrie, LruHashMap, LruPerCpuHashMap, PerCpuArray, RingBuf},
};
use monitor_common::{
    filter::{self, NameKey, PathPrefix},
    kinds::NUM_KIND_SLOTS,
    wake, CgroupCounters, EventKind, SyscallRecord, CGROUP_COUNTERS_MAX,
};

/// Default ring size; the loader overrides it with `set_max_entries`.
const DEFAULT_RING_BYTES: u32 = 8 << 20;

#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(DEFAULT_RING_BYTES, 0);

const BPF_RB_AVAIL_DATA: u64 = 0;
const BPF_RB_RING_SIZE: u64 = 1;

/// Bytes waiting in the ring, and its size.
#[inline(always)]
pub fn ring_fill() -> (u64, u64) {
    (
        EVENTS.query(BPF_RB_AVAIL_DATA),
        EVENTS.query(BPF_RB_RING_SIZE),
    )
}

/// Submit flags of a record the agent need not read at once
/// (`monitor_common::wake`): no wakeup, unless the ring is past its mark.
#[inline(always)]
pub fn lazy_wake() -> u64 {
    let (avail, size) = ring_fill();
    wake_for(avail, size)
}

/// [`lazy_wake`] for a fill already read.
#[inline(always)]
pub fn wake_for(avail: u64, size: u64) -> u64 {
    if avail > size >> wake::FULL_SHIFT {
        wake::BPF_RB_FORCE_WAKEUP
    } else {
        wake::BPF_RB_NO_WAKEUP
    }
}

#[map]
pub static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(NUM_KIND_SLOTS, 0);

/// A syscall record between sys_enter and sys_exit. `nr` is the arch
/// syscall number seen at entry: the exit checks it so that a stale entry
/// (an exit we never saw) cannot be reported as another syscall.
#[repr(C)]
pub struct Pending {
    pub nr: i64,
    /// Which socket the exit describes (`net::TUPLE_*`).
    pub tuple: u32,
    pub _pad: u32,
    pub rec: SyscallRecord,
}

#[map]
pub static PENDING: LruHashMap<u64, Pending> = LruHashMap::with_max_entries(16384, 0);

#[map]
pub static OPEN_PREFIXES: LpmTrie<PathPrefix, u32> =
    LpmTrie::with_max_entries(filter::MAX_ENTRIES, 0);

#[map]
pub static OPEN_NAMES: HashMap<NameKey, u32> = HashMap::with_max_entries(filter::MAX_ENTRIES, 0);

/// The cgroup v2 ids of the containers the agent knows: where enforcement
/// applies (`monitor_common::enforce`).
#[map]
pub static CONTAINER_CGROUPS: HashMap<u64, u8> =
    HashMap::with_max_entries(monitor_common::enforce::CONTAINER_CGROUPS_MAX, 0);

/// Per-cgroup resource counters (see `counters`), keyed by cgroup v2 id.
#[map]
pub static CGROUP_COUNTERS: LruPerCpuHashMap<u64, CgroupCounters> =
    LruPerCpuHashMap::with_max_entries(CGROUP_COUNTERS_MAX, 0);

/// Where a syscall record is assembled before it goes into `PENDING`.
#[map]
pub static SYSCALL_SCRATCH: PerCpuArray<Pending> = PerCpuArray::with_max_entries(1, 0);

/// Lookup keys of the open filter. The leading pad puts the (packed) trie
/// key's data at offset 8, so it can be cleared with aligned u64 stores.
#[repr(C)]
pub struct FilterScratch {
    pub _pad: [u8; 4],
    pub prefix: Key<PathPrefix>,
    pub name: NameKey,
}

#[map]
pub static FILTER_SCRATCH: PerCpuArray<FilterScratch> = PerCpuArray::with_max_entries(1, 0);

/// Count one lost record of `kind` (ring buffer full), per kind and for
/// the current task's cgroup.
#[inline(always)]
pub fn count_drop(kind: EventKind) {
    if let Some(p) = DROPS.get_ptr_mut(kind.slot()) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *p += 1 };
    }
    crate::counters::count(|c| c.dropped += 1);
}

/// A UDP flow seen leaving a socket: the socket and its destination.
#[repr(C)]
pub struct FlowKey {
    /// The socket's inode number (a sock address would be reused).
    pub ino: u64,
    pub family: u16,
    /// Network order, as in the sockaddr.
    pub port: u16,
    pub _pad: u32,
    pub addr: [u8; 16],
}

/// Flows whose first datagram was reported (`net::first_datagram`); the
/// least recently sent-to flow is forgotten beyond this (and reported again).
#[map]
pub static NET_FLOWS: LruHashMap<FlowKey, u8> = LruHashMap::with_max_entries(16384, 0);

/// io_uring requests between submission and completion, by `io_kiocb`
/// address (`io_uring.rs`); `Pending::nr` holds the request's user_data.
#[map]
pub static IO_URING_PENDING: LruHashMap<u64, Pending> = LruHashMap::with_max_entries(4096, 0);
