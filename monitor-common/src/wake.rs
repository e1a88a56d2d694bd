//! When the kernel wakes the agent to read the ring buffer.
//!
//! A wakeup per record costs a context switch per record, and the woken
//! agent competes for a CPU with the workload that made the record. So a
//! record is submitted without a wakeup and the agent reads the ring every
//! [`POLL_MS`]; a record wakes it at once when more than
//! `size >> FULL_SHIFT` bytes wait (a burst is drained before it fills the
//! ring), and so does an exec record without its context
//! (`exec_flags::CONTEXT_KNOWN` clear: a kernel without the members, a
//! refused exec), because the agent then reads the new program's `/proc`
//! entries (working directory, environment, standard fds), which a
//! short-lived process takes with it. Measured with `cargo xtask bench`:
//! fork+exec 1.42x → 1.18x for the lazy wakeups, and from about 1.09x to
//! 1.02x once exec records carried their context (docs/performance.md).

/// How often the agent reads the ring when nothing woke it.
pub const POLL_MS: u64 = 10;

/// While reads find the ring empty, the interval doubles up to this: an
/// idle agent wakes about 12 times a second, not 100. The first records
/// after a quiet spell wait at most this long.
pub const IDLE_POLL_MS: u64 = 80;

/// Past `size >> FULL_SHIFT` bytes waiting (a sixteenth), every record
/// wakes the reader.
pub const FULL_SHIFT: u32 = 4;

/// `bpf_ringbuf_submit`/`output` flag: no wakeup.
pub const BPF_RB_NO_WAKEUP: u64 = 1;
/// `bpf_ringbuf_submit`/`output` flag: wake the reader.
pub const BPF_RB_FORCE_WAKEUP: u64 = 2;
