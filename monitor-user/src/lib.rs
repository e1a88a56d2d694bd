//! vigil: the agent library. The `vigil` binary is a thin CLI over it.
//!
//! Records flow `RecordSource` → [`enrich`] (with [`proctable`],
//! [`containers`] + [`cgroup`], [`metadata`]) → [`event::Event`] → [`json`],
//! driven by [`pipeline::run`].

pub mod cgroup;
pub mod containers;
pub mod enrich;
pub mod event;
pub mod json;
pub mod metadata;
pub mod pipeline;
pub mod proctable;
pub mod sensor;
pub mod status;
pub mod sysargs;
pub mod text;

#[cfg(test)]
mod testutil;
