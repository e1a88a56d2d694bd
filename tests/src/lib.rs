//! Support library for vigil's integration tests (`tests/tests/*.rs`).
//!
//! Integration tests exercise the real thing: the release `vigil` binary,
//! real podman containers, the host kernel or a Debian kernel in qemu. This
//! crate owns the plumbing they share so each test reads as "do the thing,
//! assert the event": deciding whether a test can run at all ([`require`]),
//! finding the agent binary ([`paths`]), starting and stopping the agent and
//! reading its logs ([`agent`], [`logline`]), and building a local busybox
//! image and running containers from it ([`podman`]), the static `vigil-actions`
//! helper and its image ([`actions`]), and tailing `--events` files ([`events`]), and plain HTTP GETs, also from
//! inside a pod's network namespace ([`http`]), and the deploy/ manifests
//! rendered and turned into podman pods or containers ([`kube`]), and the
//! benchmark's workloads ([`workloads`]). Everything a test
//! starts is undone by a Drop guard, also when the test panics.

pub mod actions;
pub mod agent;
pub mod child;
pub mod containerd;
pub mod docker;
pub mod error;
pub mod events;
pub mod http;
pub mod kube;
pub mod logline;
pub mod netns;
pub mod oci;
pub mod paths;
pub mod podman;
pub mod require;
pub mod workloads;

pub use agent::{Agent, AgentBuilder, Stopped};
pub use error::Error;
pub use events::EventFile;
pub use logline::AgentStats;
pub use podman::{ensure_test_image, Container, ImageBuilder, TEST_IMAGE};
pub use require::{
    in_ci, in_vm, require, require_daemon, require_podman, require_root, require_vigil_binary,
};
