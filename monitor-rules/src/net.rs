//! Network matching for Falco's `fd.net`, `fd.cnet`, `fd.snet`, `fd.lnet`
//! and `fd.rnet`: the field's IP address (given as text by the event) is
//! tested against CIDR networks (`fd.snet in (10.0.0.0/8, fd00::/8)`); an
//! address without a prefix length is a one-address network.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// A network operand: CIDR text or a single address.
pub(crate) fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(n) = IpNet::from_str(s) {
        return Some(n.trunc());
    }
    IpAddr::from_str(s).ok().map(IpNet::from)
}

/// Does the address in `ip` (text) fall in any of `nets`? Text that is not
/// an address matches nothing. IPv4-mapped IPv6 addresses
/// (`::ffff:10.0.0.1`) also match IPv4 networks.
pub(crate) fn in_any(nets: &[IpNet], ip: &str) -> bool {
    let Ok(addr) = IpAddr::from_str(ip.trim()) else {
        return false;
    };
    let mapped = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        IpAddr::V4(_) => None,
    };
    nets.iter()
        .any(|n| n.contains(&addr) || mapped.is_some_and(|m| n.contains(&m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_membership_v4_and_v6() {
        let nets: Vec<IpNet> = ["10.0.0.0/8", "192.168.1.7", "fd00::/8", "172.16.5.9/12"]
            .iter()
            .map(|s| parse_net(s).unwrap())
            .collect();
        assert!(in_any(&nets, "10.200.3.4"));
        assert!(!in_any(&nets, "11.0.0.1"));
        assert!(in_any(&nets, "192.168.1.7"));
        assert!(!in_any(&nets, "192.168.1.8"));
        assert!(in_any(&nets, "fd12:3456::1"));
        assert!(!in_any(&nets, "fe80::1"));
        // Host bits in the operand are dropped, as in a network address.
        assert!(in_any(&nets, "172.31.255.255"));
        assert!(in_any(&nets, "::ffff:10.1.2.3"));
        assert!(!in_any(&nets, "not-an-ip"));
        assert!(parse_net("10.0.0.0/33").is_none());
        assert!(parse_net("example.com").is_none());
    }
}
