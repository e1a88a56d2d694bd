//! Where events and alerts leave the agent: [`alert`] (an alert in Falco's
//! JSON shape), [`writer`] (where alert lines go), [`throttle`] (the per-rule, per-container
//! alert rate limit), [`events`] (event JSON lines) and [`recorder`] (the
//! flight recorder's log).

pub mod alert;
pub mod events;
pub mod recorder;
pub mod throttle;
pub mod writer;
