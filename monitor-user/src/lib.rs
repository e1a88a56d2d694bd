//! vigil: the agent library. The `vigil` binary is a thin CLI over it.
//!
//! Records flow `RecordSource` → [`enrich`] (with [`proctable`],
//! [`containers`] + [`cgroup`], [`metadata`]) → [`event::Event`] → [`json`],
//! driven by [`pipeline::run`]. [`engine`] matches events against the rules
//! ([`fields`] is the engine's view of an event) and writes [`alerts`].
//! [`record`] keeps every event in a flight recorder log; [`replay`] feeds
//! a log back into the same output stage and [`query`] selects events of a
//! log for `vigil log`.

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
pub mod status;
pub mod sysargs;
pub mod text;
pub mod throttle;

#[cfg(test)]
mod rule_fixtures;
#[cfg(test)]
mod testutil;
