//! Which client a request came from behind trusted proxies: a pure decision over addresses.
use std::net::IpAddr;

pub use ipnet::IpNet;

/// Parses a comma- or space-separated list of networks (`10.0.0.0/8, 192.168.1.7`). A bare address
/// is a single-host network.
pub fn parse_networks(s: &str) -> Result<Vec<IpNet>, String> {
    s.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{p}' is not an IP network (CIDR) or address"))
        })
        .collect()
}

/// IPv4-mapped IPv6 addresses are the IPv4 address they carry (`::ffff:10.0.0.2` is `10.0.0.2`).
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy; then `X-Forwarded-For` is
/// walked from the right (the entries proxies appended) and the first address that is not a trusted
/// proxy is the client. Entries left of it were written by the client and are never believed.
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return canonical(peer);
    }
    let mut client = peer;
    for entry in forwarded_for.iter().rev().flat_map(|h| h.rsplit(',')) {
        let Some(ip) = parse_forwarded_entry(entry) else {
            // A malformed entry: stop at the last address a trusted hop vouched for.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    canonical(client)
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:567`, `[::1]:8`).
fn parse_forwarded_entry(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).and_then(|r| r.parse().ok())
}

// Test code only: its expect() calls unwrap address and network literals written in the tests, which
// parse by construction; no request reaches them.
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn forwarded_for_is_walked_from_the_right_past_trusted_proxies_only() {
        let trusted = parse_networks("10.0.0.0/8").expect("nets");
        // Nothing trusted: the peer, whatever the header says.
        assert_eq!(client_ip(ip("203.0.113.9"), &["1.2.3.4"], &[]), ip("203.0.113.9"));
        // The client wrote a fake leftmost entry; the proxy appended the real one.
        assert_eq!(client_ip(ip("10.0.0.2"), &["6.6.6.6, 198.51.100.7"], &trusted), ip("198.51.100.7"));
        // Two trusted hops.
        assert_eq!(client_ip(ip("10.0.0.2"), &["6.6.6.6, 198.51.100.7, 10.0.0.3"], &trusted), ip("198.51.100.7"));
        // Several headers are one list.
        assert_eq!(client_ip(ip("10.0.0.2"), &["6.6.6.6", "198.51.100.7"], &trusted), ip("198.51.100.7"));
        // An untrusted peer sending the header is not believed.
        assert_eq!(client_ip(ip("198.51.100.1"), &["10.0.0.9"], &trusted), ip("198.51.100.1"));
        // Garbage stops the walk at the last vouched address.
        assert_eq!(client_ip(ip("10.0.0.2"), &["nonsense"], &trusted), ip("10.0.0.2"));
    }

    proptest! {
        #[test]
        fn client_ip_never_panics_and_is_never_a_trusted_hop_when_a_client_is_named(
            header in ".{0,200}", peer in any::<[u8; 4]>()
        ) {
            let trusted = parse_networks("10.0.0.0/8").expect("nets");
            let peer = IpAddr::from(peer);
            let got = client_ip(peer, &[header.as_str()], &trusted);
            if !trusted.iter().any(|n| n.contains(&peer)) {
                prop_assert_eq!(got, peer);
            }
        }

    }
}
