//! Stages beside the event flow that annotate events or emit their own:
//! [`resources`] samples every container's cgroup and emits
//! `container_stats` events; [`baselines`] learns each image's processes and
//! marks execs that leave the baseline.

pub mod baselines;
pub mod resources;
