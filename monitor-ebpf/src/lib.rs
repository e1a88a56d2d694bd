//! Host-side library target so monitor-user can build-depend on this crate
//! (cargo then rebuilds the agent when the programs change). Empty by design.
#![no_std]
