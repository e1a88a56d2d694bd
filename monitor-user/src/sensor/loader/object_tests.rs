use super::*;
use monitor_common::names::programs as P;

/// Every program the loader asks for by name is in the built object.
#[test]
fn the_object_has_every_named_program() {
    use object::{Object, ObjectSymbol};
    if OBJECT.is_empty() {
        let why = "the eBPF object was not built (AYA_BUILD_SKIP)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED: {why}");
        return;
    }
    let obj = object::File::parse(OBJECT).expect("parse the eBPF object");
    let have: std::collections::HashSet<&str> =
        obj.symbols().filter_map(|s| s.name().ok()).collect();
    let syscalls = SyscallId::ALL.iter().map(|id| id.program());
    let lsm = monitor_common::lsm::HOOKS.iter().map(|h| h.program);
    for name in P::ALL.iter().copied().chain(syscalls).chain(lsm) {
        assert!(
            have.contains(name),
            "program {name} is not in the eBPF object"
        );
    }
}
