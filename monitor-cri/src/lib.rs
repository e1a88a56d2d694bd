//! The Kubernetes Container Runtime Interface, `runtime.v1`, as Rust types
//! and a tonic gRPC client.
//!
//! containerd and CRI-O serve this API on their sockets; the agent asks it
//! which pod, namespace, image and mounts a container has. The definitions
//! are k8s.io/cri-api's `api.proto` (Apache-2.0), vendored unchanged in
//! `proto/`, so field numbers match every runtime that speaks runtime.v1.
#![allow(clippy::all, missing_docs)]

/// Generated from `proto/api.proto` (package `runtime.v1`).
pub mod v1 {
    tonic::include_proto!("runtime.v1");
}
