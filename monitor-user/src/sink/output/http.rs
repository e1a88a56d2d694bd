//! HTTP output: one POST per alert, as Falco's `http_output` does, so
//! falcosidekick (`POST /`, Falco JSON, `Content-Type: application/json`)
//! takes vigil's alerts unchanged.
//!
//! Custom headers carry auth tokens; TLS uses rustls with the system roots
//! plus an optional CA file. Each request has a timeout; connection errors,
//! timeouts, 429 and 5xx answers are retried with exponential backoff, any
//! other non-2xx answer (the receiver rejects the alert itself) is not.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde::Deserialize;

use super::format::Format;
use super::stats::Counters;
use super::OutputError;

/// Options of an `http` output.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpOptions {
    /// Where alerts are POSTed (falcosidekick: `http://HOST:2801/`).
    pub url: String,
    #[serde(default)]
    pub format: Format,
    /// Extra headers, `Name: value` (e.g. `Authorization: Bearer ...`).
    #[serde(default)]
    pub headers: Vec<String>,
    /// PEM file of CA certificates trusted besides the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Per-request timeout, milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts after the first failed one.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First retry delay, milliseconds; doubled per retry (capped at 30 s).
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    #[serde(default)]
    pub queue: Option<usize>,
}

fn default_timeout_ms() -> u64 {
    5000
}
fn default_retries() -> u32 {
    3
}
fn default_backoff_ms() -> u64 {
    200
}

impl HttpOptions {
    pub fn new(url: impl Into<String>) -> HttpOptions {
        HttpOptions {
            url: url.into(),
            format: Format::default(),
            headers: Vec::new(),
            ca_file: None,
            timeout_ms: default_timeout_ms(),
            retries: default_retries(),
            backoff_ms: default_backoff_ms(),
            queue: None,
        }
    }
}

/// The longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why one attempt failed, and whether another may succeed.
struct Attempt {
    error: String,
    retry: bool,
}

/// Posts alerts to one URL.
pub struct HttpSender {
    client: reqwest::Client,
    url: reqwest::Url,
    format: Format,
    retries: u32,
    backoff: Duration,
}

impl HttpSender {
    pub fn new(opts: &HttpOptions) -> Result<HttpSender, OutputError> {
        let bad = |why: String| OutputError::Config(format!("http output {}: {why}", opts.url));
        let url = reqwest::Url::parse(&opts.url).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the URL must be http:// or https://".into()));
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(opts.format.content_type()),
        );
        for h in &opts.headers {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| bad(format!("header `{h}` is not `Name: value`")))?;
            let name =
                HeaderName::try_from(name.trim()).map_err(|e| bad(format!("header `{h}`: {e}")))?;
            let value = HeaderValue::try_from(value.trim())
                .map_err(|e| bad(format!("header `{h}`: {e}")))?;
            headers.insert(name, value);
        }
        let mut client = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(Duration::from_millis(opts.timeout_ms))
            .connect_timeout(Duration::from_millis(opts.timeout_ms));
        if let Some(ca) = &opts.ca_file {
            let pem = std::fs::read(ca).map_err(|e| bad(format!("{}: {e}", ca.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| bad(format!("{}: {e}", ca.display())))?;
            if certs.is_empty() {
                return Err(bad(format!("{}: no PEM certificate", ca.display())));
            }
            for c in certs {
                client = client.add_root_certificate(c);
            }
        }
        let client = client.build().map_err(|e| bad(e.to_string()))?;
        Ok(HttpSender {
            client,
            url,
            format: opts.format,
            retries: opts.retries,
            backoff: Duration::from_millis(opts.backoff_ms),
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    async fn attempt(&self, body: &[u8]) -> Result<(), Attempt> {
        let resp = self
            .client
            .post(self.url.clone())
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Attempt {
                error: error_chain(&e),
                retry: true,
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        Err(Attempt {
            error: format!("answered {status}"),
            retry: status.is_server_error() || status.as_u16() == 429,
        })
    }

    /// POSTs `body`, retrying as configured; the error is the last attempt's.
    pub async fn send(&self, body: &[u8], counters: &Counters) -> Result<(), String> {
        let mut delay = self.backoff;
        let mut tries = 0;
        loop {
            match self.attempt(body).await {
                Ok(()) => return Ok(()),
                Err(a) if a.retry && tries < self.retries => {
                    tries += 1;
                    counters.retried();
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
                Err(a) => return Err(a.error),
            }
        }
    }
}

/// reqwest's error with its causes (`error sending request: connection refused`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
