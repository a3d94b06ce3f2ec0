//! The addresses the server is reached at (`--public-url`), and the checks that use
//! them: a request whose `Host` is not one of them gets 421 on every route
//! (`http::check_host`), a browser's WebSocket must come from one of their origins, and
//! an OAuth login may only return to one of them. This defeats DNS
//! rebinding, where a hostile page re-points its own name at this server: its requests
//! then carry the hostile name as `Host` and `Origin`, which match each other but not
//! this list.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap};

/// One address the server answers at: `scheme://host:port`, lower-cased, port explicit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    scheme: String,
    host: String,
    port: u16,
}

impl PublicUrl {
    /// Parses `http(s)://host[:port][/]` (a path other than `/` is refused: the app is
    /// served at the root).
    pub fn parse(text: &str) -> Result<PublicUrl, String> {
        let (scheme, rest) =
            text.split_once("://").ok_or_else(|| format!("`{text}` is not a URL; expected http(s)://host[:port]"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(format!("`{text}`: only http:// and https:// URLs can be public URLs")),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) || authority.is_empty() {
            return Err(format!("`{text}` must be scheme://host[:port] without a path or user"));
        }
        let (host, port) =
            split_authority(authority, default_port).ok_or_else(|| format!("`{text}` has an invalid host or port"))?;
        Ok(PublicUrl { scheme, host, port })
    }

    fn default_port(&self) -> u16 {
        if self.scheme == "https" {
            443
        } else {
            80
        }
    }

    /// `scheme://host[:port]` as a browser writes it in `Origin`.
    pub fn origin(&self) -> String {
        if self.port == self.default_port() {
            format!("{}://{}", self.scheme, self.host)
        } else {
            format!("{}://{}:{}", self.scheme, self.host, self.port)
        }
    }

    /// Whether a `Host` header names this address.
    fn matches_host(&self, host: &str) -> bool {
        split_authority(host, self.default_port()).is_some_and(|(h, p)| h == self.host && p == self.port)
    }
}

/// `(lower-cased host, port)`; IPv6 literals keep their brackets.
fn split_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let authority = authority.to_ascii_lowercase();
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (h, rest) = authority.split_at(end + 1);
        match rest.strip_prefix(':') {
            Some(p) => (h.to_string(), p.parse().ok()?),
            None if rest.is_empty() => (h.to_string(), default_port),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.clone(), default_port),
        }
    };
    let valid = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'));
    valid.then_some((host, port))
}

/// Every address the server answers at.
#[derive(Clone, Debug)]
pub struct PublicUrls(Vec<PublicUrl>);

impl PublicUrls {
    /// The configured URLs, then the loopback names and the listen address with its
    /// port (a page elsewhere cannot make a browser send those as `Host`, so they are
    /// always safe to answer); with nothing configured and listening on every
    /// interface, each interface's address and the host name too.
    pub fn new(configured: &[PublicUrl], listen: SocketAddr) -> PublicUrls {
        let port = listen.port();
        let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()];
        let ip_host = |ip: IpAddr| match ip {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        };
        if listen.ip().is_unspecified() && configured.is_empty() {
            hosts.extend(interface_addresses().into_iter().map(ip_host));
            if let Some(name) = host_name() {
                hosts.push(name);
            }
        } else if !listen.ip().is_unspecified() {
            hosts.push(ip_host(listen.ip()));
        }
        let mut urls: Vec<PublicUrl> = configured.to_vec();
        for host in hosts {
            let url = PublicUrl { scheme: "http".into(), host: host.to_ascii_lowercase(), port };
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        PublicUrls(urls)
    }

    /// Whether `origin` (`scheme://host[:port]`) is one of these addresses.
    pub fn has_origin(&self, origin: &str) -> bool {
        PublicUrl::parse(origin).is_ok_and(|o| self.0.contains(&o))
    }

    pub fn origins(&self) -> Vec<String> {
        self.0.iter().map(PublicUrl::origin).collect()
    }

    pub fn allows_host(&self, host: &str) -> bool {
        self.0.iter().any(|u| u.matches_host(host))
    }

    /// Browsers always send `Origin` on WebSocket upgrades; it must be one of ours
    /// (cross-site WebSocket hijacking). Non-browser clients send none and are allowed.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), String> {
        let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
        let origin = origin.to_str().map_err(|_| "Origin header is not valid text".to_string())?;
        let ours = PublicUrl::parse(origin).ok().is_some_and(|o| self.0.iter().any(|u| *u == o));
        if ours {
            Ok(())
        } else {
            Err(format!("cross-origin WebSocket refused: Origin {origin} is not one of the server's public URLs"))
        }
    }
}

fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return out;
    }
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: the family says which sockaddr type the pointer holds.
            match unsafe { (*ifa.ifa_addr).sa_family } as i32 {
                libc::AF_INET => {
                    let sa = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                    out.push(IpAddr::V4(u32::from_be(sa.sin_addr.s_addr).into()));
                }
                libc::AF_INET6 => {
                    let sa = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                    let ip = std::net::Ipv6Addr::from(sa.sin6_addr.s6_addr);
                    // Link-local addresses need a zone in URLs; browsers cannot use them.
                    if (ip.segments()[0] & 0xffc0) != 0xfe80 {
                        out.push(IpAddr::V6(ip));
                    }
                }
                _ => {}
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `list` came from getifaddrs.
    unsafe { libc::freeifaddrs(list) };
    out
}

fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return None;
    }
    let end = buf.iter().position(|b| *b == 0)?;
    let name = std::str::from_utf8(&buf[..end]).ok()?.to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, origin.parse().unwrap());
        h
    }

    #[test]
    fn defaults_are_the_listen_address_and_loopback_names() {
        let urls = PublicUrls::new(&[], "127.0.0.1:8080".parse().unwrap());
        assert_eq!(urls.origins(), ["http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"]);
        assert!(urls.allows_host("127.0.0.1:8080"));
        assert!(urls.allows_host("LOCALHOST:8080"));
        assert!(!urls.allows_host("127.0.0.1:8081"));
        assert!(!urls.allows_host("rebind.attacker.example:8080"));
        assert!(!urls.allows_host("127.0.0.1"), "port 80 is another address");
    }

    #[test]
    fn configured_urls_come_first_and_loopback_stays() {
        let nas = PublicUrl::parse("https://NAS.example/").unwrap();
        let urls = PublicUrls::new(&[nas], "0.0.0.0:8080".parse().unwrap());
        assert!(urls.allows_host("nas.example"));
        assert!(urls.allows_host("nas.example:443"));
        assert!(urls.allows_host("127.0.0.1:8080"), "on the machine itself");
        assert!(!urls.allows_host("192.0.2.1:8080"), "interface addresses only when nothing is configured");
        assert_eq!(urls.origins()[0], "https://nas.example");
        assert!(urls.check_origin(&headers("https://nas.example")).is_ok());
        assert!(urls.check_origin(&headers("http://nas.example")).is_err(), "the scheme counts");
        assert!(urls.check_origin(&HeaderMap::new()).is_ok(), "non-browser clients send no Origin");
    }

    #[test]
    fn a_matching_foreign_origin_and_host_do_not_pass() {
        let urls = PublicUrls::new(&[], "127.0.0.1:18080".parse().unwrap());
        assert!(urls.check_origin(&headers("http://rebind.attacker.example:18080")).is_err());
        assert!(urls.check_origin(&headers("null")).is_err());
        assert!(urls.check_origin(&headers("http://127.0.0.1:18080")).is_ok());
        assert!(urls.check_origin(&headers("http://[::1]:18080")).is_ok());
    }

    #[test]
    fn bad_public_urls_are_refused_with_a_reason() {
        assert!(PublicUrl::parse("nas:8080").unwrap_err().contains("not a URL"));
        assert!(PublicUrl::parse("ftp://nas").unwrap_err().contains("only http"));
        assert!(PublicUrl::parse("https://nas/cloudsync").unwrap_err().contains("without a path"));
        assert!(PublicUrl::parse("https://nas:99999").is_err());
    }

    #[test]
    fn every_interface_adds_its_addresses() {
        let urls = PublicUrls::new(&[], "0.0.0.0:8080".parse().unwrap());
        assert!(urls.allows_host("127.0.0.1:8080"), "loopback is an interface too");
    }
}
