//! The `vigil` binary: everything is in the library ([`monitor_user`]); the
//! command line lives in [`cli`].

use std::process::ExitCode;

// Decoding and enriching events allocates many short strings; mimalloc
// keeps that cheap (replay throughput, agent CPU).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;

fn main() -> ExitCode {
    cli::main()
}
