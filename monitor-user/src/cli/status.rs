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

/// The LSM hooks of LSM mode, by name.
pub fn lsm_hooks() -> String {
    let hooks: Vec<&str> = monitor_common::lsm::HOOKS.iter().map(|h| h.hook).collect();
    hooks.join(", ")
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
        feature("io_uring", &k.io_uring),
        format!(
            "{:<22} {} (exec, fork, exit); per-syscall tracepoints for syscalls; \
             raw tracepoints for cgroup and module; tracepoint for OOM",
            "hooks", k.lifecycle_hook_kind
        ),
    ];
    // Not probed (`vigil run`): the sensor's load decides, and the agent
    // logs the mode it got.
    match &k.lsm_hooks {
        Some(f) if f.supported => lines.push(format!(
            "{:<22} lsm (BPF-LSM {}; syscall tracepoints for the rest)",
            "hook mode",
            lsm_hooks()
        )),
        Some(f) => lines.push(format!(
            "{:<22} TRACEPOINT: BPF-LSM refused ({}); NOT COVERED: {}",
            "hook mode",
            f.detail,
            monitor_common::lsm::TRACEPOINT_MODE_GAPS.join("; ")
        )),
        None => {}
    }
    if !k.io_uring.supported {
        lines.push(format!(
            "{:<22} NOT COVERED: {}",
            "io_uring",
            monitor_common::io_uring::GAP
        ));
    }
    if !k.missing_syscalls.is_empty() {
        lines.push(format!(
            "{:<22} {} (no tracepoint on this kernel: not monitored)",
            "missing syscalls",
            k.missing_syscalls.join(", ")
        ));
    }
    let untraceable = untraceable_attempts(&k.missing_syscalls);
    if !untraceable.is_empty() {
        lines.push(format!(
            "{:<22} {}: attempts NOT seen by default; seen with --watch-untraceable \
             (raw_syscalls/sys_exit: every syscall of every task pays a program run)",
            "untraceable attempts",
            untraceable.join(", ")
        ));
    }
    lines
}

/// The security-relevant syscalls among `missing` (no tracepoint here)
/// whose failed calls `--watch-untraceable` reports.
fn untraceable_attempts<'a>(missing: &[&'a str]) -> Vec<&'a str> {
    missing
        .iter()
        .copied()
        .filter(|m| {
            monitor_common::attempts::ATTEMPTS
                .iter()
                .any(|id| id.name() == *m)
        })
        .collect()
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

/// The inode of the initial (host) PID namespace: fixed by the kernel
/// (`PROC_PID_INIT_INO`), so a container can tell whether it shares it.
const HOST_PID_NS_INO: u64 = 0xEFFF_FFFC;

/// Whether this process sees the host's processes (in a container:
/// `hostPID: true` / `--pid=host`).
fn pid_namespace_line() -> String {
    use std::os::unix::fs::MetadataExt;
    let what = match std::fs::metadata("/proc/self/ns/pid") {
        Ok(m) if m.ino() == HOST_PID_NS_INO => "host (every process visible in /proc)".to_string(),
        Ok(m) => format!(
            "private (inode {}): only this container's processes are visible; \
             run with hostPID (--pid=host) to see the host's",
            m.ino()
        ),
        Err(e) => format!("unknown ({e})"),
    };
    format!("{:<22} {what}", "PID namespace")
}

/// Host facts: PID namespace, tracefs, cgroup layout and where container
/// metadata comes from (what `vigil probe` in the image can see).
pub fn host_lines() -> Vec<String> {
    let tracefs = Path::new("/sys/kernel/tracing/events/syscalls");
    let mut lines = vec![
        pid_namespace_line(),
        format!(
            "{:<22} {}",
            "tracefs",
            if tracefs.is_dir() {
                "/sys/kernel/tracing (syscall events present)"
            } else {
                "/sys/kernel/tracing has no events: mount tracefs there (in a container: a hostPath)"
            }
        ),
    ];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untraceable_attempts_are_the_missing_security_syscalls() {
        // `clone3` is missing but no reported attempt; the module and
        // kexec calls are.
        let missing = ["init_module", "clone3", "kexec_file_load"];
        assert_eq!(
            untraceable_attempts(&missing),
            ["init_module", "kexec_file_load"]
        );
        assert!(untraceable_attempts(&[]).is_empty());
    }
}
