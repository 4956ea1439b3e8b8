//! Where the server may send requests on a tenant's behalf (upstream OpenID providers: discovery,
//! JWKS, token, userinfo). A tenant admin types the issuer and the provider's discovery document
//! names the other endpoints, so both are untrusted: without this policy they could make the server
//! fetch its cloud metadata service, internal admin ports or its own loopback listeners.
//!
//! The rule: https to public addresses. Plain http and internal addresses only where the operator
//! allowed them: loopback while Latchkey itself runs on a loopback URL (development), and the
//! networks listed in `LATCHKEY_ALLOWED_UPSTREAM_NETWORKS`. The decision is pure; the HTTP client
//! (latchkey-oauth/src/outbound.rs) applies it to every address it connects to.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use url::{Host, Url};

use crate::net::canonical;

#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    /// Latchkey's own public URL is loopback: a developer's machine, where the upstream is too.
    pub allow_loopback: bool,
    /// Operator-listed networks that may be reached even though internal, over http or https.
    pub allowed_networks: Vec<IpNet>,
}

/// Why a destination is refused; the message is shown to the tenant admin as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("'{0}' is not an absolute URL")]
    NotAUrl(String),
    #[error("only https URLs may be fetched (not {0}:)")]
    Scheme(String),
    #[error(
        "plain http is allowed only to networks the operator listed in LATCHKEY_ALLOWED_UPSTREAM_NETWORKS; use https"
    )]
    PlainHttp,
    #[error("URLs with a user name or password are not fetched")]
    Credentials,
    #[error("the URL has no host")]
    NoHost,
    #[error(
        "{0} is an internal address (loopback, private, link-local, multicast or reserved); the server does not fetch internal addresses unless the operator lists the network in LATCHKEY_ALLOWED_UPSTREAM_NETWORKS"
    )]
    Internal(IpAddr),
}

/// What a URL needs before it may be fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlCheck {
    /// The host is a permitted address literal: nothing to resolve.
    Ready,
    /// The host is a name: every address it resolves to must pass [`OutboundPolicy::check_addr`],
    /// and, for plain http, [`OutboundPolicy::check_plain_http_addr`].
    Resolve { host: String, plain_http: bool },
}

impl OutboundPolicy {
    /// The policy for a server whose public URL is `public_url`.
    pub fn for_public_url(public_url: &str, allowed_networks: Vec<IpNet>) -> Self {
        let allow_loopback = Url::parse(public_url).ok().is_some_and(|u| match u.host() {
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        });
        Self { allow_loopback, allowed_networks }
    }

    /// Whether plain http can ever pass (so the client need not insist on https for every URL).
    pub fn permits_any_plain_http(&self) -> bool {
        self.allow_loopback || !self.allowed_networks.is_empty()
    }

    fn operator_allowed(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allowed_networks.iter().any(|n| n.contains(&ip)) || (self.allow_loopback && ip.is_loopback())
    }

    /// An address the server may connect to.
    pub fn check_addr(&self, ip: IpAddr) -> Result<(), Refusal> {
        if is_internal(ip) && !self.operator_allowed(ip) { Err(Refusal::Internal(canonical(ip))) } else { Ok(()) }
    }

    /// An address the server may talk plain http to: only operator-allowed ones.
    pub fn check_plain_http_addr(&self, ip: IpAddr) -> Result<(), Refusal> {
        if self.operator_allowed(ip) { Ok(()) } else { Err(Refusal::PlainHttp) }
    }

    /// The checks that need no DNS: scheme, credentials, and the host when it is an address.
    pub fn check_url(&self, url: &Url) -> Result<UrlCheck, Refusal> {
        let plain_http = match url.scheme() {
            "https" => false,
            "http" if self.permits_any_plain_http() => true,
            "http" => return Err(Refusal::PlainHttp),
            other => return Err(Refusal::Scheme(other.to_owned())),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        let ip = match url.host() {
            None => return Err(Refusal::NoHost),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(d)) => return Ok(UrlCheck::Resolve { host: d.to_owned(), plain_http }),
        };
        self.check_addr(ip)?;
        if plain_http {
            self.check_plain_http_addr(ip)?;
        }
        Ok(UrlCheck::Ready)
    }

    /// [`Self::check_url`] on a string.
    pub fn check_str(&self, url: &str) -> Result<UrlCheck, Refusal> {
        let parsed = Url::parse(url).map_err(|_| Refusal::NotAUrl(url.chars().take(200).collect()))?;
        self.check_url(&parsed)
    }

    /// A name's resolved addresses: all must pass (one internal address among public ones is how a
    /// rebinding attacker would get in, so it refuses the lot).
    pub fn check_resolved(&self, addrs: &[IpAddr], plain_http: bool) -> Result<(), Refusal> {
        for ip in addrs {
            self.check_addr(*ip)?;
            if plain_http {
                self.check_plain_http_addr(*ip)?;
            }
        }
        Ok(())
    }
}

/// Not a public unicast address: loopback, private, shared (CGNAT), link-local, multicast,
/// broadcast, unspecified, documentation, benchmarking, reserved; for IPv6 also unique-local,
/// site-local, and the forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4), which are
/// judged by the IPv4 address they carry. Teredo is refused: it tunnels to an address we cannot see.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT), 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, 192.0.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, 198.18.0.0/15
        || a >= 240 // reserved, 240.0.0.0/4
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and the unspecified/loopback addresses share ::/96.
    if s[..6] == [0; 6] {
        return ip.is_unspecified() || ip.is_loopback() || is_internal_v4(Ipv4Addr::from(embedded_low(&s)));
    }
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its low bits; the local-use prefix is internal.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_internal_v4(Ipv4Addr::from(embedded_low(&s)));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return true;
    }
    // 6to4 (2002::/16) carries the IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return is_internal_v4(Ipv4Addr::from(((u32::from(s[1])) << 16) | u32::from(s[2])));
    }
    ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (s[0] == 0x2001 && s[1] == 0) // Teredo, 2001::/32
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation, 2001:db8::/32
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only, 100::/64
}

fn embedded_low(s: &[u16; 8]) -> u32 {
    (u32::from(s[6]) << 16) | u32::from(s[7])
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

    fn production() -> OutboundPolicy {
        OutboundPolicy::for_public_url("https://auth.example.com", vec![])
    }

    #[test]
    fn internal_addresses_of_both_families_and_their_ipv6_disguises() {
        for a in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.0.170",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::a9fe:a9fe",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:0:4136:e378::1",
            "2001:db8::1",
            "100::1",
        ] {
            assert!(is_internal(ip(a)), "{a} must be internal");
        }
        for a in ["8.8.8.8", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808"] {
            assert!(!is_internal(ip(a)), "{a} is public");
        }
    }

    #[test]
    fn schemes_other_than_https_are_refused_in_production() {
        let p = production();
        assert_eq!(p.check_str("http://idp.example.com"), Err(Refusal::PlainHttp));
        assert_eq!(p.check_str("file:///etc/passwd"), Err(Refusal::Scheme("file".into())));
        assert_eq!(p.check_str("ftp://idp.example.com/x"), Err(Refusal::Scheme("ftp".into())));
        assert_eq!(p.check_str("gopher://idp.example.com/x"), Err(Refusal::Scheme("gopher".into())));
        assert_eq!(p.check_str("https://u:p@idp.example.com"), Err(Refusal::Credentials));
        assert!(matches!(p.check_str("not a url"), Err(Refusal::NotAUrl(_))));
        assert_eq!(
            p.check_str("https://idp.example.com/realms/x"),
            Ok(UrlCheck::Resolve { host: "idp.example.com".into(), plain_http: false })
        );
        assert_eq!(p.check_str("https://93.184.216.34"), Ok(UrlCheck::Ready));
    }

    #[test]
    fn address_literals_are_checked_without_dns_in_every_spelling() {
        let p = production();
        for u in [
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1",
            "https://127.0.0.1:8443",
            "https://[::1]",
            "https://[::ffff:127.0.0.1]",
            "https://[::ffff:a9fe:a9fe]",
            "https://[fe80::1]",
            "https://0x7f000001", // url parses these IPv4 spellings to 127.0.0.1
            "https://2130706433",
            "https://0177.0.0.1",
            "https://127.1",
        ] {
            assert!(matches!(p.check_str(u), Err(Refusal::Internal(_))), "{u}: {:?}", p.check_str(u));
        }
    }

    #[test]
    fn loopback_is_allowed_only_when_latchkey_itself_is_on_loopback() {
        let dev = OutboundPolicy::for_public_url("http://127.0.0.1:8080", vec![]);
        assert!(dev.allow_loopback);
        assert_eq!(dev.check_str("http://127.0.0.1:9000"), Ok(UrlCheck::Ready));
        assert_eq!(dev.check_str("http://[::1]:9000"), Ok(UrlCheck::Ready));
        assert!(dev.check_resolved(&[ip("127.0.0.1")], true).is_ok());
        // Other internal networks stay closed in development.
        assert!(matches!(dev.check_str("http://169.254.169.254"), Err(Refusal::Internal(_))));
        assert!(matches!(dev.check_str("https://10.0.0.1"), Err(Refusal::Internal(_))));
        // Plain http to a public address is refused even in development: tokens would travel in clear.
        assert_eq!(dev.check_resolved(&[ip("93.184.216.34")], true), Err(Refusal::PlainHttp));
        assert!(OutboundPolicy::for_public_url("http://localhost:8080", vec![]).allow_loopback);
        assert!(!production().allow_loopback);
    }

    #[test]
    fn operator_listed_networks_open_internal_addresses_and_plain_http_to_them_only() {
        let nets = crate::net::parse_networks("10.20.0.0/16").expect("nets");
        let p = OutboundPolicy::for_public_url("https://auth.example.com", nets);
        assert_eq!(p.check_str("http://10.20.1.1:8080"), Ok(UrlCheck::Ready));
        assert_eq!(p.check_str("https://[::ffff:10.20.1.1]"), Ok(UrlCheck::Ready));
        assert!(matches!(p.check_str("https://10.21.0.1"), Err(Refusal::Internal(_))));
        assert!(matches!(p.check_str("http://127.0.0.1"), Err(Refusal::Internal(_))));
        assert!(p.check_resolved(&[ip("10.20.3.4")], true).is_ok());
        assert_eq!(p.check_resolved(&[ip("93.184.216.34")], true), Err(Refusal::PlainHttp));
        // One internal address among public ones refuses the name.
        assert!(p.check_resolved(&[ip("93.184.216.34"), ip("169.254.169.254")], false).is_err());
    }

    proptest! {
        #[test]
        fn mapped_ipv6_is_judged_like_the_ipv4_it_carries(octets in any::<[u8; 4]>()) {
            let v4 = Ipv4Addr::from(octets);
            prop_assert_eq!(is_internal(IpAddr::V6(v4.to_ipv6_mapped())), is_internal(IpAddr::V4(v4)));
        }

        #[test]
        fn any_string_gets_an_answer(s in ".{0,300}") {
            let _ = production().check_str(&s);
        }
    }
}
