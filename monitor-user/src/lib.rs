//! vigil: the agent library. The `vigil` binary is a thin CLI over it.
//!
//! Folders follow the data, in the order it flows:
//!
//! ```text
//! sensor ──records──▶ enrich ──Event──▶ stage (resources, baselines)
//!    ──▶ pipeline fan-out ──▶ detect (matches) ──▶ sink (alerts, event lines, recorder)
//! recorded log ──▶ pipeline::replay ──▶ the same fan-out
//! ```
//!
//! - [`sensor`]: loads the eBPF programs and reads their records.
//! - [`event`]: the enriched event model (event, syscall arguments, shared
//!   values, escaped text, time).
//! - [`enrich`]: records into events: process table, cgroups, the container
//!   registry and runtime metadata.
//! - [`stage`]: stages that annotate events or emit their own (resources,
//!   baselines).
//! - [`detect`]: the rules in the agent: which rules load, matching events.
//! - [`sink`]: alert JSON and its writer, the throttle, event JSON lines, the
//!   recorder.
//! - [`pipeline`]: the live loop, the fan-out to sinks, replay, log queries,
//!   the stats line.
//! - [`config`]: the config file (`vigil run --config`).
//! - [`serve`]: the HTTP listener: health, readiness and Prometheus metrics.
//!
//! docs/architecture.md has the picture and the checklists.

pub mod config;
pub mod detect;
pub mod enrich;
pub mod event;
pub mod pipeline;
pub mod sensor;
pub mod serve;
pub mod sink;
pub mod stage;

#[cfg(test)]
mod testutil;
