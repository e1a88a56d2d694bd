//! A veth pair between two network namespaces the test makes (`ip netns
//! add`), with private addresses of a /30 of its own: containers on either
//! namespace (`podman run --network ns:PATH`) talk across a real link and
//! nothing can leave the machine (neither namespace has another
//! interface or a route out). Both namespaces, and with them the pair, are
//! deleted on drop, also when the test fails.

use std::process::Command;

use crate::podman::run;
use crate::Error;

/// Two namespaces joined by a veth pair: `a` has [`VethPair::addr_a`],
/// `b` has [`VethPair::addr_b`].
pub struct VethPair {
    pub ns_a: String,
    pub ns_b: String,
    pub addr_a: String,
    pub addr_b: String,
}

impl VethPair {
    /// Make the pair. `tag` (a few letters) and the process id keep names
    /// unique among parallel tests; the /30 comes from the process id too.
    pub fn new(tag: &str) -> Result<VethPair, Error> {
        let pid = std::process::id();
        let net = format!("10.{}.{}", 200 + pid % 50, (pid / 50) % 64 * 4);
        let pair = VethPair {
            ns_a: format!("vigil-{tag}-{pid}-a"),
            ns_b: format!("vigil-{tag}-{pid}-b"),
            addr_a: format!("{net}.1"),
            addr_b: format!("{net}.2"),
        };
        // Interface names are at most 15 bytes.
        let (if_a, if_b) = (
            format!("vg{}a", pid % 10_000_000),
            format!("vg{}b", pid % 10_000_000),
        );
        let ip = |args: &[&str]| run(Command::new("ip").args(args)).map(|_| ());
        ip(&["netns", "add", &pair.ns_a])?;
        // From here on, drop cleans up whatever was made.
        ip(&["netns", "add", &pair.ns_b])?;
        ip(&[
            "link", "add", &if_a, "netns", &pair.ns_a, "type", "veth", "peer", "name", &if_b,
            "netns", &pair.ns_b,
        ])?;
        for (ns, ifname, addr) in [
            (&pair.ns_a, &if_a, &pair.addr_a),
            (&pair.ns_b, &if_b, &pair.addr_b),
        ] {
            let cidr = format!("{addr}/30");
            ip(&["-n", ns, "addr", "add", &cidr, "dev", ifname])?;
            ip(&["-n", ns, "link", "set", ifname, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(pair)
    }

    /// `podman run --network` value for namespace `ns`.
    pub fn network(ns: &str) -> String {
        format!("ns:/run/netns/{ns}")
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
