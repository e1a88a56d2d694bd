//! vigil: the agent library. The `vigil` binary is a thin CLI over it.
//!
//! [`sensor`] loads the eBPF programs and reads their records. Records flow
//! `RecordSource` → [`enrich`] (with [`proctable`], [`containers`] +
//! [`cgroup`], [`metadata`]) → [`event::Event`] → the output stage of
//! [`pipeline`]: [`json`] event lines, [`engine`] rule matching ([`fields`]
//! is the engine's view of an event) into [`alerts`] (rate-limited by
//! [`throttle`]), and the [`record`] flight recorder. [`resources`] adds
//! periodic per-container `container_stats` events and [`baselines`] learned
//! per-image process baselines. [`replay`] feeds a recorded log back into
//! the same output stage; [`query`] selects events of a log for `vigil log`.
//! [`status`] is what `vigil probe` and `vigil run` say about the host.

pub mod alerts;
pub mod baseline_cli;
pub mod baselines;
pub mod cgroup;
pub mod cli_rules;
pub mod containers;
pub mod engine;
pub mod enrich;
pub mod event;
pub mod fields;
pub mod json;
pub mod metadata;
pub mod pipeline;
pub mod proctable;
pub mod query;
pub mod record;
pub mod replay;
pub mod resources;
pub mod sensor;
pub mod shared;
pub mod status;
pub mod sysargs;
pub mod text;
pub mod throttle;

#[cfg(test)]
mod rule_fixtures;
#[cfg(test)]
mod testutil;
