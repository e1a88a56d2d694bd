//! Rebuild when bpf-linker changes: the eBPF objects depend on it although
//! cargo cannot see that.
fn main() {
    if let Ok(linker) = which::which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", linker.display());
    }
}
