//! The `vigil` binary: everything is in the library ([`monitor_user`]); the
//! command line lives in [`cli`].

use std::process::ExitCode;

// Decoding and enriching events allocates many short strings; mimalloc
// keeps that cheap (replay throughput, agent CPU).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;

/// Returns the memory freed so far to the system. mimalloc keeps the
/// freed pages of a thread resident until that thread allocates again;
/// the thread that loaded the sensor (tens of MiB of BTF and object
/// parsing) then mostly waits, so its pages would stay for good.
pub(crate) fn release_freed_memory() {
    // SAFETY: mi_collect only walks mimalloc's own heaps.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

fn main() -> ExitCode {
    cli::main()
}
