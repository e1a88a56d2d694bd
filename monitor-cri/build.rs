//! Compiles the vendored CRI definitions (proto/api.proto, from
//! k8s.io/cri-api) with protox, a pure-Rust protobuf compiler, so building
//! needs no `protoc`; tonic generates the client.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/api.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
