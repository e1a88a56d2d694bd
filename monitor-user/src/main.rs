fn main() {
    let obj = include_bytes!(concat!(env!("OUT_DIR"), "/vigil-probes"));
    let mut ebpf = aya::Ebpf::load(obj).expect("load");
    println!(
        "programs: {:?}",
        ebpf.programs().map(|(n, _)| n).collect::<Vec<_>>()
    );
    let _ = &mut ebpf;
}
