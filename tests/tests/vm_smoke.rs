//! Smoke test for the VM harness (`cargo xtask vm vm_smoke`): inside the
//! qemu guest it checks that the guest is the Debian 6.1 kernel with BTF,
//! BPF LSM active and the filesystems the agent needs mounted by /init.
//! Outside the VM there is nothing to check, so it says so and returns.

use std::path::Path;

fn in_vm_or_skip() -> bool {
    if vigil_tests::in_vm() {
        return true;
    }
    eprintln!("SKIPPED: runs only inside the VM (`cargo xtask vm vm_smoke` sets VIGIL_IN_VM=1)");
    false
}

#[test]
fn guest_kernel_is_debian_6_1_with_btf() {
    if !in_vm_or_skip() {
        return;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(release.starts_with("6.1."), "guest kernel is {release}");
    assert!(
        Path::new("/sys/kernel/btf/vmlinux").is_file(),
        "no BTF in the guest"
    );
}

#[test]
fn bpf_lsm_is_active() {
    if !in_vm_or_skip() {
        return;
    }
    let lsm =
        std::fs::read_to_string("/sys/kernel/security/lsm").expect("securityfs mounted by /init");
    assert!(
        lsm.split(',').any(|l| l.trim() == "bpf"),
        "active LSMs: {lsm}"
    );
}

#[test]
fn init_mounted_tracefs_and_cgroup2() {
    if !in_vm_or_skip() {
        return;
    }
    assert!(
        Path::new("/sys/kernel/tracing/events/syscalls").is_dir(),
        "tracefs not mounted"
    );
    assert!(
        Path::new("/sys/fs/cgroup/cgroup.controllers").is_file(),
        "cgroup2 not at /sys/fs/cgroup"
    );
    assert_eq!(
        vigil_tests::podman::cgroup2_root().as_deref(),
        Some(Path::new("/sys/fs/cgroup"))
    );
}

#[test]
fn harness_loaded_the_overlay_module() {
    if !in_vm_or_skip() {
        return;
    }
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap();
    assert!(
        fs.lines().any(|l| l.trim_end().ends_with("\toverlay")),
        "overlay not loaded:\n{fs}"
    );
}
