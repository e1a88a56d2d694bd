//! Where events and alerts leave the agent: [`alert`] (an alert in Falco's
//! JSON shape), [`writer`] (where alert lines go), [`throttle`] (the per-rule, per-container
//! alert rate limit), [`output`] (the alert outputs: stdout, files, HTTP,
//! syslog, each with its own queue; Falco JSON or OCSF), [`events`] (event
//! JSON lines) and [`recorder`] (the flight recorder's log).

pub mod alert;
pub mod events;
pub mod output;
pub mod record_budget;
pub mod recorder;
pub mod throttle;
pub mod writer;
