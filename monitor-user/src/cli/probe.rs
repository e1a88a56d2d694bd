//! `vigil probe`: what this kernel and host support, which hooks `run`
//! would use, and which container runtime APIs answer (and what they are).

use std::time::Duration;

use monitor_user::enrich::metadata::cri::CriClient;
use monitor_user::enrich::metadata::docker_api::DockerApi;
use monitor_user::sensor::features::{probe_features, LsmProbe};

use super::run::RuntimeArgs;
use super::status;

pub fn run(runtimes: &RuntimeArgs) -> anyhow::Result<()> {
    for line in status::feature_lines(&probe_features(LsmProbe::Load)) {
        println!("{line}");
    }
    for line in status::host_lines() {
        println!("{line}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for line in rt.block_on(runtime_lines(runtimes)) {
        println!("{line}");
    }
    Ok(())
}

/// One line per runtime socket: absent, or what answers there.
async fn runtime_lines(args: &RuntimeArgs) -> Vec<String> {
    let Some(cfg) = args.remote() else {
        return vec![format!("{:<22} off (--no-runtime-api)", "runtime APIs")];
    };
    let timeout = Duration::from_secs(2);
    let mut lines = Vec::new();
    for socket in &cfg.cri_sockets {
        let state = match status::socket_state(socket) {
            "present" => match CriClient::new(socket, timeout).version().await {
                Ok(v) => format!(
                    "answers: {} {} (CRI {})",
                    v.runtime_name, v.runtime_version, v.api_version
                ),
                Err(e) => format!("present, not answering: {e}"),
            },
            other => other.to_owned(),
        };
        lines.push(format!("{:<22} {} {state}", "CRI socket", socket.display()));
    }
    if let Some(socket) = &cfg.docker_socket {
        let state = match status::socket_state(socket) {
            "present" => match DockerApi::new(socket, timeout).version().await {
                Ok(v) => format!("answers: Docker Engine {v}"),
                Err(e) => format!("present, not answering: {e}"),
            },
            other => other.to_owned(),
        };
        lines.push(format!(
            "{:<22} {} {state}",
            "docker API socket",
            socket.display()
        ));
    }
    lines
}
