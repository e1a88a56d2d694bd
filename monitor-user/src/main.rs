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

/// Keeps the agent's heap in 4 KiB pages. mimalloc asks for transparent
/// huge pages on its arenas; a 2 MiB page then stays resident while any
/// block in it lives, and the few long-lived blocks left among start-up's
/// freed ones held 30 MiB of huge pages at idle where 4 KiB pages hold 15.
/// Only the agent (`vigil run`, always the first argument) needs this:
/// replay, which allocates and frees at a steady rate, keeps them.
fn keep_heap_in_small_pages() {
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's memory.
    if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
        ::log::debug!(
            "transparent huge pages stay on: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn main() -> ExitCode {
    // Before the first allocations: a huge page faulted in stays one.
    if std::env::args_os().nth(1).is_some_and(|a| a == "run") {
        keep_heap_in_small_pages();
    }
    cli::main()
}
