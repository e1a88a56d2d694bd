//! DNS messages into events, and the names the answers gave.
//!
//! [`parse`] turns a captured DNS payload ([`DnsRecord`]) into [`DnsData`]
//! (with `simple-dns`). [`Names`] keeps, per container, the addresses its
//! processes were told and the name that resolved to each, so a later
//! connect or send to that address can say which name it was for
//! (`fd.sip.name`). Entries live for their record's TTL plus a grace (a
//! client keeps using an answer a little past it), each container holds at
//! most [`PER_CONTAINER`] of them, and a container's table goes with its
//! cgroup.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use monitor_common::records::{dns_direction, DnsRecord};
use simple_dns::rdata::RData;
use simple_dns::Packet;

use crate::enrich::proctable::ContainerKey;
use crate::event::sysargs;
use crate::event::{DnsAnswer, DnsData};

/// Addresses remembered per container (the oldest expiry goes first).
pub const PER_CONTAINER: usize = 1024;
/// Containers with a table (beyond, the table expiring first is dropped).
pub const CONTAINERS: usize = 4096;
/// How long past its TTL an answer still names its address.
const GRACE_NS: u64 = 60_000_000_000;
/// Answers kept in one event (a response rarely has more).
const MAX_ANSWERS: usize = 32;

/// The event data of one captured DNS message. A payload that is not DNS
/// (something else on port 53) still makes an event, with the parse error.
pub fn parse(r: &DnsRecord) -> DnsData {
    let bytes = &r.payload[..usize::from(r.len).min(r.payload.len())];
    let server = sysargs::conn(&r.tuple, None, false).and_then(|c| c.server);
    let mut d = DnsData {
        response: r.direction == dns_direction::RECEIVED,
        id: 0,
        name: String::new(),
        qtype: String::new(),
        rcode: None,
        answers: Vec::new(),
        server,
        truncated: r.truncated != 0,
        error: None,
    };
    let p = match Packet::parse(bytes) {
        Ok(p) => p,
        Err(e) => {
            d.error = Some(e.to_string());
            return d;
        }
    };
    d.id = p.id();
    if let Some(q) = p.questions.first() {
        d.name = trim_dot(q.qname.to_string());
        d.qtype = type_name(u16::from(q.qtype));
    }
    if d.response {
        // RCODE is the low nibble of the header's fourth byte.
        d.rcode = Some(rcode_name(bytes.get(3).map_or(0, |b| b & 0x0f)).to_owned());
    }
    for rr in p.answers.iter().take(MAX_ANSWERS) {
        let data = match &rr.rdata {
            RData::A(a) => std::net::Ipv4Addr::from(a.address).to_string(),
            RData::AAAA(a) => std::net::Ipv6Addr::from(a.address).to_string(),
            RData::CNAME(c) => trim_dot(c.0.to_string()),
            RData::PTR(c) => trim_dot(c.0.to_string()),
            _ => continue,
        };
        d.answers.push(DnsAnswer {
            name: trim_dot(rr.name.to_string()),
            rtype: type_name(u16::from(rr.rdata.type_code())),
            data,
            ttl: rr.ttl,
        });
    }
    d
}

fn trim_dot(mut s: String) -> String {
    if s.ends_with('.') && s.len() > 1 {
        s.pop();
    }
    s
}

/// The mnemonic of a record type (RFC 1035 and successors), `TYPEn`
/// (RFC 3597) for the rest.
fn type_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        64 => "SVCB",
        65 => "HTTPS",
        255 => "ANY",
        _ => return format!("TYPE{t}"),
    };
    s.to_owned()
}

fn rcode_name(r: u8) -> &'static str {
    match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "OTHER",
    }
}

/// What one address was the answer for.
#[derive(Clone, Debug)]
struct Entry {
    name: Arc<str>,
    /// Boot-clock ns after which the answer no longer names the address.
    until_ns: u64,
}

/// Per container: address → the name that resolved to it.
#[derive(Default)]
pub struct Names {
    tables: HashMap<ContainerKey, HashMap<IpAddr, Entry>>,
}

impl Names {
    /// Remember the addresses a response gave `container` at `boot_ns`.
    /// The name is the one the process asked for (the question), not the
    /// end of a CNAME chain: that is what it meant to contact.
    pub fn learn(&mut self, container: &ContainerKey, d: &DnsData, boot_ns: u64) {
        if !d.response || d.name.is_empty() {
            return;
        }
        let asked: Arc<str> = Arc::from(d.name.as_str());
        let mut addrs = d
            .answers
            .iter()
            .filter_map(|a| Some((a.data.parse::<IpAddr>().ok()?, a.ttl)))
            .peekable();
        if addrs.peek().is_none() {
            return;
        }
        if !self.tables.contains_key(container) && self.tables.len() >= CONTAINERS {
            self.evict_container(boot_ns);
        }
        let table = self.tables.entry(container.clone()).or_default();
        for (ip, ttl) in addrs {
            if table.len() >= PER_CONTAINER && !table.contains_key(&ip) {
                table.retain(|_, e| e.until_ns > boot_ns);
                if table.len() >= PER_CONTAINER {
                    let oldest = table
                        .iter()
                        .min_by_key(|(_, e)| e.until_ns)
                        .map(|(k, _)| *k);
                    if let Some(k) = oldest {
                        table.remove(&k);
                    }
                }
            }
            let until_ns = boot_ns
                .saturating_add(u64::from(ttl) * 1_000_000_000)
                .saturating_add(GRACE_NS);
            table.insert(
                ip.to_canonical(),
                Entry {
                    name: asked.clone(),
                    until_ns,
                },
            );
        }
    }

    /// The name `container` resolved to `ip` (text), if it still holds at
    /// `boot_ns`.
    pub fn name_of(&self, container: &ContainerKey, ip: &str, boot_ns: u64) -> Option<Arc<str>> {
        let ip = ip.parse::<IpAddr>().ok()?.to_canonical();
        let e = self.tables.get(container)?.get(&ip)?;
        (e.until_ns > boot_ns).then(|| e.name.clone())
    }

    /// The container is gone: its answers with it.
    pub fn forget(&mut self, container: &str) {
        self.tables.retain(|k, _| k.as_deref() != Some(container));
    }

    /// Drop the table whose entries all expire first (expired ones first).
    fn evict_container(&mut self, boot_ns: u64) {
        for t in self.tables.values_mut() {
            t.retain(|_, e| e.until_ns > boot_ns);
        }
        self.tables.retain(|_, t| !t.is_empty());
        if self.tables.len() < CONTAINERS {
            return;
        }
        let victim = self
            .tables
            .iter()
            .min_by_key(|(_, t)| t.values().map(|e| e.until_ns).max().unwrap_or(0))
            .map(|(k, _)| k.clone());
        if let Some(k) = victim {
            self.tables.remove(&k);
        }
    }

    /// Addresses remembered, over all containers (for tests and stats).
    pub fn len(&self) -> usize {
        self.tables.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A response to "`name` A?" with one A record, built by hand (not by
    /// the crate that parses it).
    pub(crate) fn answer_bytes(id: u16, name: &str, ip: [u8; 4], ttl: u32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend(id.to_be_bytes());
        m.extend([0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
        for label in name.split('.') {
            m.push(label.len() as u8);
            m.extend(label.as_bytes());
        }
        m.extend([0, 0, 1, 0, 1]);
        // The answer's name points back at the question's (offset 12).
        m.extend([0xc0, 12, 0, 1, 0, 1]);
        m.extend(ttl.to_be_bytes());
        m.extend([0, 4]);
        m.extend(ip);
        m
    }

    fn record(direction: u16, msg: &[u8]) -> DnsRecord {
        // SAFETY: DnsRecord is plain integers and arrays; all-zero is valid.
        let mut r: DnsRecord = unsafe { std::mem::zeroed() };
        r.direction = direction;
        r.len = msg.len() as u16;
        r.payload[..msg.len()].copy_from_slice(msg);
        r
    }

    #[test]
    fn an_answer_parses_into_name_type_code_and_addresses() {
        let msg = answer_bytes(7, "c2.example.com", [203, 0, 113, 7], 60);
        let d = parse(&record(dns_direction::RECEIVED, &msg));
        assert!(d.response);
        assert_eq!(d.id, 7);
        assert_eq!(d.name, "c2.example.com");
        assert_eq!(d.qtype, "A");
        assert_eq!(d.rcode.as_deref(), Some("NOERROR"));
        assert_eq!(d.answers.len(), 1);
        assert_eq!(d.answers[0].data, "203.0.113.7");
        assert_eq!(d.answers[0].rtype, "A");
        assert_eq!(d.answers[0].ttl, 60);
        assert_eq!(d.error, None);
    }

    #[test]
    fn what_is_not_dns_keeps_its_event_with_the_reason() {
        let d = parse(&record(dns_direction::SENT, b"SSH-2.0-OpenSSH_9.2"));
        assert!(!d.response);
        assert!(d.error.is_some(), "{d:?}");
        // Cut anywhere: an error or a message, never a panic.
        let msg = answer_bytes(7, "c2.example.com", [203, 0, 113, 7], 60);
        for cut in 0..msg.len() {
            let _ = parse(&record(dns_direction::RECEIVED, &msg[..cut]));
        }
    }

    #[test]
    fn names_follow_ttl_container_and_removal() {
        let key: ContainerKey = Some(Arc::from("abc"));
        let other: ContainerKey = Some(Arc::from("def"));
        let msg = answer_bytes(7, "c2.example.com", [203, 0, 113, 7], 10);
        let d = parse(&record(dns_direction::RECEIVED, &msg));
        let mut n = Names::default();
        n.learn(&key, &d, 1_000);
        let s = 1_000_000_000;
        assert_eq!(
            n.name_of(&key, "203.0.113.7", 5 * s).as_deref(),
            Some("c2.example.com")
        );
        // IPv4-mapped IPv6 is the same address.
        assert!(n.name_of(&key, "::ffff:203.0.113.7", 5 * s).is_some());
        assert_eq!(n.name_of(&other, "203.0.113.7", 5 * s), None);
        // TTL 10 s plus the grace.
        assert!(n.name_of(&key, "203.0.113.7", 69 * s).is_some());
        assert_eq!(n.name_of(&key, "203.0.113.7", 71 * s), None);
        n.forget("abc");
        assert!(n.is_empty());
    }

    #[test]
    fn a_container_table_is_bounded() {
        let key: ContainerKey = None;
        let mut n = Names::default();
        for i in 0..(PER_CONTAINER + 10) {
            let ip = [10, 0, (i >> 8) as u8, i as u8];
            let msg = answer_bytes(1, "x.example", ip, 300);
            let d = parse(&record(dns_direction::RECEIVED, &msg));
            n.learn(&key, &d, i as u64);
        }
        assert_eq!(n.len(), PER_CONTAINER);
        // The newest answer stays.
        let last = PER_CONTAINER + 9;
        let ip = format!("10.0.{}.{}", last >> 8, last & 0xff);
        assert!(n.name_of(&key, &ip, 0).is_some());
    }
}
