//! syslog output: each alert as one syslog message, RFC 5424 (default) or
//! RFC 3164, to the local socket (`/dev/log` or another path), UDP or TCP.
//!
//! The message text is the alert in the output's format (Falco JSON by
//! default, so a SIEM parses it as it parses Falco's); the syslog severity
//! is the Falco priority's namesake (Warning → 4, Critical → 2, ...).
//! RFC 5424 messages also carry the rule, priority and uuid as structured
//! data (`[vigil@32473 ...]`, the documentation enterprise number of RFC
//! 5612). fasyslog formats; the sockets are tokio's. TCP uses octet-counting
//! framing (RFC 6587 3.4.1), so a message may contain line ends; a stream
//! the receiver closed is reopened before the next message, and a failed
//! write is retried on a new connection.

use std::path::PathBuf;
use std::time::Duration;

use fasyslog::format::SyslogContext;
use fasyslog::{Facility, SDElement, Severity};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket, UnixDatagram, UnixStream};

use super::format::Format;
use super::stats::Counters;
use super::OutputError;
use crate::sink::alert::Alert;

/// RFC 5424 or RFC 3164 (BSD) messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Rfc5424,
    Rfc3164,
}

/// Options of a `syslog` output.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogOptions {
    /// `/dev/log` (default) or another socket path (`unix:PATH` too),
    /// `udp://HOST:PORT` or `tcp://HOST:PORT`.
    #[serde(default = "default_address")]
    pub address: String,
    #[serde(default)]
    pub protocol: Protocol,
    /// Facility name (`user`, `daemon`, `local0` ... `local7`).
    #[serde(default = "default_facility")]
    pub facility: String,
    #[serde(default)]
    pub format: Format,
    /// Connect and write timeout, milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts after the first failed one (reconnecting in between).
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default)]
    pub queue: Option<usize>,
}

fn default_address() -> String {
    "/dev/log".into()
}
fn default_facility() -> String {
    "user".into()
}
fn default_timeout_ms() -> u64 {
    5000
}
fn default_retries() -> u32 {
    2
}

impl SyslogOptions {
    pub fn new(address: impl Into<String>) -> SyslogOptions {
        SyslogOptions {
            address: address.into(),
            protocol: Protocol::default(),
            facility: default_facility(),
            format: Format::default(),
            timeout_ms: default_timeout_ms(),
            retries: default_retries(),
            queue: None,
        }
    }
}

/// Where messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Address {
    Unix(PathBuf),
    Udp(String),
    Tcp(String),
}

impl Address {
    fn parse(s: &str) -> Result<Address, String> {
        if let Some(a) = s.strip_prefix("udp://") {
            Ok(Address::Udp(a.to_owned()))
        } else if let Some(a) = s.strip_prefix("tcp://") {
            Ok(Address::Tcp(a.to_owned()))
        } else if let Some(p) = s.strip_prefix("unix:") {
            Ok(Address::Unix(p.into()))
        } else if s.starts_with('/') {
            Ok(Address::Unix(s.into()))
        } else {
            Err(format!(
                "syslog address `{s}`: expected a socket path, unix:PATH, udp://HOST:PORT or tcp://HOST:PORT"
            ))
        }
    }
}

/// The syslog severity of a Falco priority.
pub fn severity(priority: &str) -> Severity {
    match priority {
        "Emergency" => Severity::EMERGENCY,
        "Alert" => Severity::ALERT,
        "Critical" => Severity::CRITICAL,
        "Error" => Severity::ERROR,
        "Warning" => Severity::WARNING,
        "Notice" => Severity::NOTICE,
        "Debug" => Severity::DEBUG,
        _ => Severity::INFORMATIONAL,
    }
}

enum Conn {
    UnixDgram(UnixDatagram),
    UnixStream(UnixStream),
    Udp(UdpSocket),
    Tcp(TcpStream),
}

impl Conn {
    /// Whether a stream's peer has closed it (reads end of file or fail).
    fn closed_by_peer(&self) -> bool {
        let mut buf = [0u8; 256];
        let r = match self {
            Conn::Tcp(s) => s.try_read(&mut buf),
            Conn::UnixStream(s) => s.try_read(&mut buf),
            Conn::UnixDgram(_) | Conn::Udp(_) => return false,
        };
        match r {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }
}

/// Sends alerts to one syslog destination.
pub struct SyslogSender {
    address: Address,
    protocol: Protocol,
    format: Format,
    context: SyslogContext,
    timeout: Duration,
    retries: u32,
    conn: Option<Conn>,
}

impl SyslogSender {
    pub fn new(opts: &SyslogOptions) -> Result<SyslogSender, OutputError> {
        let address = Address::parse(&opts.address).map_err(OutputError::Config)?;
        let facility: Facility = opts.facility.parse().map_err(|_| {
            OutputError::Config(format!("syslog facility `{}`: unknown", opts.facility))
        })?;
        let mut context = SyslogContext::default();
        context
            .facility(facility)
            .appname("vigil")
            .procid(std::process::id().to_string());
        Ok(SyslogSender {
            address,
            protocol: opts.protocol,
            format: opts.format,
            context,
            timeout: Duration::from_millis(opts.timeout_ms),
            retries: opts.retries,
            conn: None,
        })
    }

    /// The syslog message for `alert`, without framing.
    pub fn message(&mut self, alert: &Alert) -> String {
        let body = String::from_utf8_lossy(&self.format.encode(alert)).into_owned();
        self.context.hostname(alert.hostname.clone());
        let sev = severity(alert.priority);
        match self.protocol {
            Protocol::Rfc3164 => self.context.format_rfc3164(sev, Some(body)).to_string(),
            Protocol::Rfc5424 => {
                let mut sd = Vec::new();
                if let Ok(mut e) = SDElement::new("vigil@32473") {
                    let params = [
                        ("uuid", alert.uuid.as_str()),
                        ("rule", alert.rule.as_str()),
                        ("priority", alert.priority),
                    ];
                    if params.iter().all(|(k, v)| e.add_param(*k, *v).is_ok()) {
                        sd.push(e);
                    }
                }
                self.context
                    .format_rfc5424(sev, Some("alert"), sd, Some(body))
                    .to_string()
            }
        }
    }

    async fn connect(&self) -> std::io::Result<Conn> {
        Ok(match &self.address {
            Address::Unix(p) => {
                let s = UnixDatagram::unbound()?;
                match s.connect(p) {
                    Ok(()) => Conn::UnixDgram(s),
                    // A stream socket at the path (some syslog daemons).
                    Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                        Conn::UnixStream(UnixStream::connect(p).await?)
                    }
                    Err(e) => return Err(e),
                }
            }
            Address::Udp(a) => {
                let peer = tokio::net::lookup_host(a.as_str())
                    .await?
                    .next()
                    .ok_or_else(|| std::io::Error::other(format!("{a}: no address")))?;
                let local = if peer.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let s = UdpSocket::bind(local).await?;
                s.connect(peer).await?;
                Conn::Udp(s)
            }
            Address::Tcp(a) => Conn::Tcp(TcpStream::connect(a.as_str()).await?),
        })
    }

    async fn write(&mut self, msg: &str) -> std::io::Result<()> {
        // A stream the receiver closed (restart) still takes one write into
        // the kernel's buffer before failing: that message would be lost
        // quietly. The receiver's FIN shows as end of file: reconnect first.
        if self.conn.as_ref().is_some_and(Conn::closed_by_peer) {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
        }
        match self.conn.as_mut().expect("connected above") {
            Conn::UnixDgram(s) => s.send(msg.as_bytes()).await.map(drop),
            Conn::Udp(s) => s.send(msg.as_bytes()).await.map(drop),
            // Stream transports: octet-counting framing, `LEN SP MSG`.
            Conn::UnixStream(s) => s.write_all(&octet_counted(msg)).await,
            Conn::Tcp(s) => s.write_all(&octet_counted(msg)).await,
        }
    }

    /// Sends one alert; on failure reconnects and retries as configured.
    pub async fn send(&mut self, alert: &Alert, counters: &Counters) -> Result<(), String> {
        let msg = self.message(alert);
        let mut tries = 0;
        loop {
            let r = match tokio::time::timeout(self.timeout, self.write(&msg)).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("timed out".to_owned()),
            };
            match r {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.conn = None;
                    if tries >= self.retries {
                        return Err(e);
                    }
                    tries += 1;
                    counters.retried();
                    tokio::time::sleep(Duration::from_millis(100) * tries).await;
                }
            }
        }
    }
}

fn octet_counted(msg: &str) -> Vec<u8> {
    let mut v = format!("{} ", msg.len()).into_bytes();
    v.extend_from_slice(msg.as_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            uuid: "6b4c5f0e-1d2a-5b3c-8d4e-5f6a7b8c9d0e".into(),
            time: "2026-11-22T06:18:23.123456789Z".into(),
            rule: "Shadow read".into(),
            priority: "Critical",
            output: "06:18:23.123456789: Critical shadow read".into(),
            output_fields: serde_json::json!({"proc.pid": 1})
                .as_object()
                .unwrap()
                .clone(),
            tags: vec![],
            hostname: "node-1".into(),
            source: "syscall",
        }
    }

    #[test]
    fn addresses_parse() {
        assert_eq!(
            Address::parse("/dev/log"),
            Ok(Address::Unix("/dev/log".into()))
        );
        assert_eq!(Address::parse("unix:/x"), Ok(Address::Unix("/x".into())));
        assert_eq!(
            Address::parse("udp://127.0.0.1:514"),
            Ok(Address::Udp("127.0.0.1:514".into()))
        );
        assert_eq!(
            Address::parse("tcp://[::1]:601"),
            Ok(Address::Tcp("[::1]:601".into()))
        );
        assert!(Address::parse("127.0.0.1:514").is_err());
    }

    #[test]
    fn rfc5424_message_has_priority_host_app_and_structured_data() {
        let mut opts = SyslogOptions::new("udp://127.0.0.1:514");
        opts.facility = "local0".into();
        let mut s = SyslogSender::new(&opts).unwrap();
        let m = s.message(&alert());
        // local0 (16) * 8 + critical (2) = 130
        assert!(m.starts_with("<130>1 "), "{m}");
        assert!(m.contains(" node-1 vigil "), "{m}");
        assert!(m.contains(" alert [vigil@32473 uuid=\"6b4c5f0e-1d2a-5b3c-8d4e-5f6a7b8c9d0e\" rule=\"Shadow read\" priority=\"Critical\"] {\""), "{m}");
        let json = &m[m.find("] {").unwrap() + 2..];
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["rule"], "Shadow read");
    }

    #[test]
    fn rfc3164_message_and_severities() {
        let mut opts = SyslogOptions::new("/dev/log");
        opts.protocol = Protocol::Rfc3164;
        opts.format = Format::Text;
        let mut s = SyslogSender::new(&opts).unwrap();
        let m = s.message(&alert());
        assert!(m.starts_with("<10>"), "{m}"); // user (1) * 8 + critical (2)
        assert!(
            m.ends_with(": 06:18:23.123456789: Critical shadow read"),
            "{m}"
        );
        assert_eq!(severity("Warning").code(), 4);
        assert_eq!(severity("Emergency").code(), 0);
        assert_eq!(severity("Debug").code(), 7);
        assert!(SyslogSender::new(&SyslogOptions {
            facility: "nope".into(),
            ..opts
        })
        .is_err());
    }
}
