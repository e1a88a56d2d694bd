//! The agent's HTTP listener: `/healthz`, `/readyz` and `/metrics`.
//!
//! For kubelet probes and Prometheus. It serves counters and health
//! verdicts only — no events, alerts, command lines or paths — and binds to
//! loopback unless told otherwise (`--listen`), so a node does not expose an
//! unauthenticated port by default. The listener runs on the agent's tokio
//! runtime but never touches the pipeline: it reads [`AgentState`], which
//! the pipeline updates, so a scrape cannot slow detection and a stuck
//! pipeline shows as a failing `/healthz`.

pub mod metrics;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;

pub use state::AgentState;

/// The default `--listen` address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9376";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

struct Shared {
    state: Arc<AgentState>,
    registry: Registry,
}

/// Binds `addr` (so a taken port fails `vigil run` at once) and returns the
/// bound address and the server future, which ends when `shutdown` does.
pub async fn bind(
    addr: SocketAddr,
    state: Arc<AgentState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = std::io::Result<()>>), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let shared = Arc::new(Shared {
        registry: metrics::registry(state.clone()),
        state,
    });
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(shared);
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown);
    Ok((local, async move { server.await }))
}

fn json(ok: bool, body: String) -> Response {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn healthz(State(s): State<Arc<Shared>>) -> Response {
    let v = s.state.health();
    json(v.ok, v.body)
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    let v = s.state.readiness();
    json(v.ok, v.body)
}

async fn metrics_text(State(s): State<Arc<Shared>>) -> Response {
    match metrics::encode(&s.registry) {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "encoding metrics failed").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A plain HTTP/1.1 GET; returns (status, body).
    fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
        (status, body)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn endpoints_answer_with_status_and_body() {
        let state = Arc::new(AgentState::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr, server) = bind("127.0.0.1:0".parse().unwrap(), state.clone(), async {
            let _ = rx.await;
        })
        .await
        .unwrap();
        let server = tokio::spawn(server);
        let fetch = |path: &'static str| tokio::task::spawn_blocking(move || get(addr, path));

        let (code, body) = fetch("/readyz").await.unwrap();
        assert_eq!(code, 503, "{body}");
        state.set_hooks(state::HookCounts {
            attached: 3,
            refused: 0,
            ..Default::default()
        });
        state.polled();
        state.beat();
        let (code, body) = fetch("/readyz").await.unwrap();
        assert_eq!(code, 200, "{body}");
        let (code, body) = fetch("/healthz").await.unwrap();
        assert_eq!(code, 200, "{body}");
        let (code, body) = fetch("/metrics").await.unwrap();
        assert_eq!(code, 200);
        assert!(body.contains("vigil_ready 1"), "{body}");
        let (code, _) = fetch("/nothing").await.unwrap();
        assert_eq!(code, 404);

        // Binding a taken port is an error that names the address.
        let err = bind(addr, state, async {}).await.err().unwrap();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");

        tx.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
