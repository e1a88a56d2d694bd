//! Builds the eBPF object (monitor-ebpf, for bpfel-unknown-none with the
//! nightly toolchain) into OUT_DIR so the agent can embed it.
//!
//! With `AYA_BUILD_SKIP=1` (host-only iteration) aya-build builds nothing;
//! an empty object is then embedded so the crate still compiles, and the
//! sensor refuses it at load time with a parse error.
fn main() -> anyhow::Result<()> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../monitor-ebpf");
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "monitor-ebpf",
            root_dir: root,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )?;
    let object = std::path::Path::new(&std::env::var("OUT_DIR")?).join("vigil-probes");
    if !object.exists() {
        std::fs::write(&object, [])?;
    }
    Ok(())
}
