//! A falcosidekick stand-in: an HTTP receiver that applies falcosidekick's
//! own acceptance rules to each POST and records what it receives.
//!
//! falcosidekick (`handlers.go`, `types.FalcoPayload.Check`) answers `400
//! Please send a valid request body` unless the body decodes as Falco's
//! payload with a non-empty `rule`, a known `priority` (any case), a
//! non-zero RFC 3339 `time` and a non-empty `output_fields`; alerts arrive as
//! `POST /` with `Content-Type: application/json`. [`Sidekick`] checks the
//! same, and can be told to refuse (503) or to stall (hold requests
//! unanswered) until told otherwise, to test a destination that fails and
//! recovers. [`Sidekick::start_tls`] serves HTTPS with a certificate from
//! a CA made for the test. It runs on its own runtime thread, stopped on
//! drop. A test
//! file uses it with `mod sidekick;`.

#![allow(dead_code)] // each test file uses a part

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;

/// How the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Checks and records each alert (200 or 400).
    Accept = 0,
    /// Answers 503 without reading the alert.
    Refuse = 1,
    /// Holds each request unanswered until the mode changes.
    Stall = 2,
}

const PRIORITIES: &[&str] = &[
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
];

/// One request the receiver answered.
#[derive(Clone, Debug)]
pub struct Received {
    pub body: String,
    /// The request's headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// `None` when accepted, else why it was rejected.
    pub rejected: Option<String>,
}

#[derive(Default)]
struct State {
    mode: AtomicU8,
    log: Mutex<Vec<Received>>,
    changed: Condvar,
}

/// falcosidekick's acceptance rules for one request.
pub fn check(method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    if method != Method::POST || path != "/" {
        return Err(format!("{method} {path}: falcosidekick takes POST /"));
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(format!("Content-Type `{ct}`"));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let rule = v["rule"].as_str().unwrap_or("");
    if rule.is_empty() {
        return Err("empty rule".into());
    }
    let prio = v["priority"].as_str().unwrap_or("").to_ascii_lowercase();
    if !PRIORITIES.contains(&prio.as_str()) {
        return Err(format!("unknown priority {}", v["priority"]));
    }
    let time = v["time"].as_str().ok_or("no time")?;
    let t: jiff::Timestamp = time.parse().map_err(|e| format!("time `{time}`: {e}"))?;
    if t == jiff::Timestamp::UNIX_EPOCH {
        return Err("zero time".into());
    }
    if v["output_fields"].as_object().is_none_or(|m| m.is_empty()) {
        return Err("empty output_fields".into());
    }
    Ok(())
}

/// The running receiver.
pub struct Sidekick {
    addr: SocketAddr,
    state: Arc<State>,
    rt: Option<tokio::runtime::Runtime>,
    tls: bool,
}

/// A CA made for the test, and a server config with a certificate for
/// `127.0.0.1` it signed; the CA as PEM.
fn tls_config() -> (tokio_rustls::rustls::ServerConfig, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    use tokio_rustls::rustls;
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (config, ca_pem)
}

impl Sidekick {
    /// Starts on a free loopback port.
    pub fn start() -> Sidekick {
        Sidekick::serve(None)
    }

    /// Starts serving HTTPS; returns the PEM of the CA that signed its
    /// certificate (for `127.0.0.1`).
    pub fn start_tls() -> (Sidekick, String) {
        let (config, ca_pem) = tls_config();
        (Sidekick::serve(Some(config)), ca_pem)
    }

    fn serve(tls: Option<tokio_rustls::rustls::ServerConfig>) -> Sidekick {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("receiver runtime");
        let state = Arc::new(State::default());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding a loopback port");
        let addr = listener.local_addr().unwrap();
        let st = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let st = st.clone();
                async move { handle(&st, method, uri, headers, body).await }
            },
        );
        let is_tls = tls.is_some();
        match tls {
            None => {
                rt.spawn(async move {
                    let _ = axum::serve(listener, app).await;
                });
            }
            Some(config) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
                rt.spawn(async move {
                    while let Ok((tcp, _)) = listener.accept().await {
                        let (acceptor, app) = (acceptor.clone(), app.clone());
                        tokio::spawn(async move {
                            let Ok(tls) = acceptor.accept(tcp).await else {
                                return;
                            };
                            let svc = hyper_util::service::TowerToHyperService::new(app);
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                                .await;
                        });
                    }
                });
            }
        }
        Sidekick {
            addr,
            state,
            rt: Some(rt),
            tls: is_tls,
        }
    }

    /// `http://127.0.0.1:PORT/` (`https://` with TLS)
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Every request answered so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.log.lock().unwrap().clone()
    }

    /// The bodies of the accepted alerts, parsed.
    pub fn accepted(&self) -> Vec<Value> {
        self.received()
            .iter()
            .filter(|r| r.rejected.is_none())
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    }

    /// Requests rejected by the acceptance rules.
    pub fn rejected(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.rejected.is_some())
            .collect()
    }

    /// Waits until `done(accepted alerts)` holds; false after `timeout`.
    pub fn wait_accepted(&self, timeout: Duration, mut done: impl FnMut(&[Value]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut log = self.state.log.lock().unwrap();
        loop {
            let acc: Vec<Value> = log
                .iter()
                .filter(|r| r.rejected.is_none())
                .map(|r| serde_json::from_str(&r.body).unwrap())
                .collect();
            if done(&acc) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            log = self
                .state
                .changed
                .wait_timeout(log, deadline - now)
                .unwrap()
                .0;
        }
    }
}

async fn handle(
    st: &State,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    while st.mode.load(Ordering::SeqCst) == Mode::Stall as u8 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if st.mode.load(Ordering::SeqCst) == Mode::Refuse as u8 {
        return (StatusCode::SERVICE_UNAVAILABLE, "refusing");
    }
    let verdict = check(&method, uri.path(), &headers, &body);
    let rec = Received {
        body: String::from_utf8_lossy(&body).into_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        rejected: verdict.as_ref().err().cloned(),
    };
    st.log.lock().unwrap().push(rec);
    st.changed.notify_all();
    match verdict {
        Ok(()) => (StatusCode::OK, ""),
        Err(_) => (StatusCode::BAD_REQUEST, "Please send a valid request body"),
    }
}

impl Drop for Sidekick {
    fn drop(&mut self) {
        // Release stalled handlers, then stop the runtime without waiting.
        self.set_mode(Mode::Refuse);
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/json".parse().unwrap());
        h
    }

    #[test]
    fn applies_falcosidekicks_rules() {
        let ok = br#"{"rule":"r","priority":"Warning","time":"2026-11-22T06:18:23.123456789Z","output_fields":{"a":1},"output":"x"}"#;
        assert_eq!(check(&Method::POST, "/", &json_headers(), ok), Ok(()));
        assert!(check(&Method::GET, "/", &json_headers(), ok).is_err());
        assert!(check(&Method::POST, "/", &HeaderMap::new(), ok).is_err());
        for bad in [
            r#"{"rule":"","priority":"Warning","time":"2026-11-22T06:18:23Z","output_fields":{"a":1}}"#,
            r#"{"rule":"r","priority":"Loud","time":"2026-11-22T06:18:23Z","output_fields":{"a":1}}"#,
            r#"{"rule":"r","priority":"Warning","time":"yesterday","output_fields":{"a":1}}"#,
            r#"{"rule":"r","priority":"Warning","time":"2026-11-22T06:18:23Z","output_fields":{}}"#,
        ] {
            assert!(
                check(&Method::POST, "/", &json_headers(), bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }
}
