//! Who a request comes from. Normally the TCP peer. Behind a reverse proxy the peer is
//! the proxy, so, for peers in `--trusted-proxy` ranges only, the client is taken from
//! `X-Forwarded-For` (or `Forwarded: for=`): the right-most entry that is not itself a
//! trusted proxy. Entries further left were written by the client and are never
//! believed; a header from an untrusted peer is ignored altogether.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let net: IpAddr = addr.trim().parse().map_err(|_| format!("`{text}` is not an IP address or CIDR range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be a number from 0 to {max}"))?,
        };
        Ok(Cidr { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(u32::from(n) as u128, u32::from(a) as u128, self.bits, 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(u128::from(n), u128::from(a), self.bits, 128),
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, bits: u8, width: u32) -> bool {
    if bits == 0 {
        return true;
    }
    let shift = width - bits as u32;
    (a >> shift) == (b >> shift)
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn new(ranges: Vec<Cidr>) -> Self {
        TrustedProxies(ranges)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client of a request from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // Hops in the order proxies appended them: client first, nearest proxy last.
        let mut hops: Vec<IpAddr> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else { continue };
            hops.extend(text.split(',').filter_map(|h| parse_hop(h.trim())));
        }
        if hops.is_empty() {
            for value in headers.get_all("forwarded") {
                let Ok(text) = value.to_str() else { continue };
                for element in text.split(',') {
                    for pair in element.split(';') {
                        if let Some((k, v)) = pair.trim().split_once('=') {
                            if k.trim().eq_ignore_ascii_case("for") {
                                hops.extend(parse_hop(v.trim().trim_matches('"')));
                            }
                        }
                    }
                }
            }
        }
        hops.into_iter().rev().map(canonical).find(|ip| !self.trusts(*ip)).unwrap_or(peer)
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:80` or `2001:db8::1`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    text.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.9.8.7")) && !c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.1.1")));
        assert!(Cidr::parse("::1").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("10.0.0.0/33").unwrap_err().contains("0 to 32"));
        assert!(Cidr::parse("proxy.lan").unwrap_err().contains("not an IP address"));
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(none.client(ip("127.0.0.1"), &h), ip("127.0.0.1"), "spoofed header from a client");

        let proxy = TrustedProxies::new(vec![Cidr::parse("127.0.0.1").unwrap()]);
        assert_eq!(proxy.client(ip("127.0.0.1"), &h), ip("1.2.3.4"));
        assert_eq!(proxy.client(ip("192.168.1.5"), &h), ip("192.168.1.5"), "not from the proxy");
        // The client wrote the left part itself: only the entry the proxy added counts.
        let forged = headers(&[("x-forwarded-for", "9.9.9.9, 1.2.3.4")]);
        assert_eq!(proxy.client(ip("127.0.0.1"), &forged), ip("1.2.3.4"));
        let std = headers(&[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https")]);
        assert_eq!(proxy.client(ip("127.0.0.1"), &std), ip("2001:db8::7"));
        assert_eq!(proxy.client(ip("127.0.0.1"), &HeaderMap::new()), ip("127.0.0.1"));
    }

    #[test]
    fn chains_of_trusted_proxies_are_skipped() {
        let proxies = TrustedProxies::new(vec![Cidr::parse("10.0.0.0/8").unwrap()]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 5.5.5.5, 10.0.0.2")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &h), ip("5.5.5.5"));
    }
}
