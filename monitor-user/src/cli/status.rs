//! What the agent says about its surroundings: the lines `vigil probe`
//! prints and `vigil run` logs at start (kernel features, hooks attached or
//! refused, cgroup layout, container metadata sources).
//!
//! Kept apart from the binary so both commands say exactly the same thing.

use std::path::Path;

use monitor_user::sensor::features::{Feature, KernelFeatures};
use monitor_user::sensor::HookStatus;

fn feature(name: &str, f: &Feature) -> String {
    let mark = if f.supported { "yes" } else { "no " };
    format!("{name:<22} {mark}  {}", f.detail)
}

/// One line per kernel capability, then which hooks the agent will use.
pub fn feature_lines(k: &KernelFeatures) -> Vec<String> {
    let mut lines = vec![
        format!("{:<22} {}", "kernel", k.kernel_release),
        feature("BTF", &k.btf),
        feature("ring buffer", &k.ring_buffer),
        feature("BTF tracepoints", &k.btf_tracepoints),
        feature("raw tracepoints", &k.raw_tracepoints),
        feature("syscall tracepoints", &k.syscall_tracepoints),
        feature("BPF LSM active", &k.bpf_lsm_active),
        feature("BPF LSM loadable", &k.bpf_lsm_loadable),
        feature("trampolines (fentry)", &k.trampolines),
        format!(
            "{:<22} {} (exec, fork, exit); per-syscall tracepoints for syscalls; \
             raw tracepoints for cgroup and module; tracepoint for OOM",
            "hooks", k.lifecycle_hook_kind
        ),
    ];
    if !k.missing_syscalls.is_empty() {
        lines.push(format!(
            "{:<22} {} (no tracepoint on this kernel: not monitored)",
            "missing syscalls",
            k.missing_syscalls.join(", ")
        ));
    }
    lines
}

/// One line per hook: attached, or refused with the kernel's reason.
pub fn hook_lines(hooks: &[HookStatus]) -> Vec<String> {
    hooks
        .iter()
        .map(|h| match &h.attached {
            Ok(()) => format!("hook {} ({}) attached", h.name, h.kind),
            Err(e) => format!("hook {} ({}) REFUSED: {e}", h.name, h.kind),
        })
        .collect()
}

/// Host facts: cgroup layout and where container metadata comes from.
pub fn host_lines() -> Vec<String> {
    let mut lines = Vec::new();
    match monitor_user::enrich::containers::find_cgroup2_root() {
        Ok(root) => {
            let mode = if root == Path::new("/sys/fs/cgroup") {
                "pure v2"
            } else {
                "hybrid (v1 controllers + v2)"
            };
            lines.push(format!("{:<22} {} ({mode})", "cgroup v2", root.display()));
        }
        Err(e) => lines.push(format!(
            "{:<22} not found ({e}): containers attributed from cgroup_mkdir records only",
            "cgroup v2"
        )),
    }
    let meta = monitor_user::enrich::metadata::MetadataConfig::default();
    for root in &meta.podman_roots {
        let f = root.join("overlay-containers/containers.json");
        lines.push(format!(
            "{:<22} {} ({})",
            "podman metadata",
            f.display(),
            if f.exists() { "present" } else { "absent" }
        ));
    }
    if let Some(d) = &meta.docker_root {
        let f = d.join("containers");
        lines.push(format!(
            "{:<22} {} ({})",
            "docker metadata",
            f.display(),
            if f.exists() { "present" } else { "absent" }
        ));
    }
    lines
}

/// `present` only for a unix socket (a stale regular file is not one).
pub fn socket_state(path: &Path) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_socket() => "present",
        Ok(_) => "not a socket",
        Err(_) => "absent",
    }
}
