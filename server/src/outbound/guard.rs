//! The SSRF guard. Registry hosts and run-task endpoints are typed by users,
//! so the server must not become their way into our own network: a request
//! goes out only over https to public addresses, checked after DNS (the
//! resolver below filters what the connection may use, so a name that
//! resolves to 127.0.0.1 or 169.254.169.254 is refused, and a rebinding
//! answer gains nothing). The allow-list setting (`OUTBOUND_ALLOW`) opens
//! named hosts or networks, and plain http for entries written `http://…`;
//! tests need it, production normally does not.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Why a URL may not be fetched; the message is shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// An IP network from the allow-list, e.g. `10.0.0.0/8` or `::1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Net { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let (a, b, bits) = match (self.addr, canonical(ip)) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32u32),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128u32),
            _ => return false,
        };
        let shift = bits - self.prefix as u32;
        shift >= bits || (a >> shift) == (b >> shift)
    }
}

/// IPv4-mapped IPv6 addresses are the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Whether an address is on the public internet: not loopback, private,
/// shared (CGNAT), link-local (cloud metadata lives at 169.254.169.254 and
/// fd00:ec2::254), documentation, benchmarking, multicast or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return false;
    }
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    !((s[0] & 0xfe00) == 0xfc00        // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80   // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0   // site-local (deprecated), fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[0] == 0x0100 && s[1..4] == [0, 0, 0] // discard-only, 100::/64
        || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
}

/// The allow-list and the rules; cheap to clone behind an `Arc`.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Host names allowed whatever they resolve to, lowercase, without port.
    hosts: Vec<String>,
    nets: Vec<Net>,
    /// Hosts (names or IP literals) that may be reached over plain http.
    plain_http: Vec<String>,
}

impl Guard {
    /// Parses `OUTBOUND_ALLOW`: comma-separated host names, IP addresses or
    /// networks (`10.0.0.0/8`), each optionally written `http://…` to allow
    /// plain http to it. Empty: public https only.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut guard = Guard::default();
        for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (http, entry) = match raw.strip_prefix("http://") {
                Some(rest) => (true, rest.trim_end_matches('/')),
                None => (false, raw.strip_prefix("https://").unwrap_or(raw).trim_end_matches('/')),
            };
            let entry = entry.to_lowercase();
            if let Some(net) = Net::parse(&entry) {
                guard.nets.push(net);
            } else if !entry.is_empty() && entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                guard.hosts.push(entry.clone());
            } else {
                return Err(format!("\"{raw}\" is not a host name, IP address or network (e.g. registry.internal, 10.0.0.0/8)"));
            }
            if http {
                guard
                    .plain_http
                    .push(entry.split('/').next().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string());
            }
        }
        Ok(guard)
    }

    /// Hosts (names or IP literals) that may be reached over plain http.
    pub fn plain_http_hosts(&self) -> &[String] {
        &self.plain_http
    }

    fn host_listed(&self, host: &str) -> bool {
        let host = host.to_lowercase();
        self.hosts.iter().any(|h| *h == host)
    }

    fn address_allowed(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.nets.iter().any(|n| n.contains(ip))
    }

    /// The scheme to reach `host` (no port) with: http only where the
    /// allow-list says so.
    pub fn scheme_for(&self, host: &str) -> &'static str {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_lowercase();
        if self.plain_http.iter().any(|h| *h == host) {
            "http"
        } else {
            "https"
        }
    }

    /// Checks what can be checked before DNS: scheme, credentials in the
    /// URL, and IP literals. Names are checked again on resolution.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refusal> {
        let host = url.host_str().ok_or_else(|| Refusal(format!("{url} has no host")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal("URLs with a user name or password are not fetched".into()));
        }
        match url.scheme() {
            "https" => {}
            "http" if self.scheme_for(host) == "http" => {}
            "http" => return Err(Refusal(format!("{host} must be reached over https"))),
            other => return Err(Refusal(format!("{other}: URLs are not fetched; only https"))),
        }
        if let Some(ip) = literal_ip(host) {
            if !self.address_allowed(ip) {
                return Err(Refusal(format!("{host} is not a public address")));
            }
        }
        Ok(())
    }

    /// The addresses a connection to `host` may use; refuses when none is allowed.
    pub fn filter(&self, host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refusal> {
        if self.host_listed(host) {
            return Ok(addrs);
        }
        let all: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| self.address_allowed(a.ip())).collect();
        match all.len() {
            _ if !allowed.is_empty() => Ok(allowed),
            0 => Err(Refusal(format!("{host} does not resolve to any address"))),
            1 => Err(Refusal(format!("{host} resolves to {}, which is not a public address", all[0]))),
            _ => Err(Refusal(format!("{host} resolves to {}, which are not public addresses", all.join(", ")))),
        }
    }
}

fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// A DNS resolver that only hands out addresses the guard allows.
struct GuardedResolver(Arc<Guard>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = guard.filter(&host, addrs)?;
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What every guarded client shares: resolution filtered, no proxy (the
/// proxy would resolve names for us), timeouts and a user agent.
fn builder(guard: Arc<Guard>, timeout: std::time::Duration, user_agent: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver(guard)))
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
        .pool_max_idle_per_host(32)
        .user_agent(user_agent)
}

/// An HTTP client bound to the guard that follows at most three redirects,
/// each one checked again.
pub fn client(guard: Arc<Guard>, timeout: std::time::Duration, user_agent: &str) -> Result<reqwest::Client, reqwest::Error> {
    let redirect_guard = guard.clone();
    builder(guard, timeout, user_agent)
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 3 {
                attempt.error("more than three redirects")
            } else if let Err(r) = redirect_guard.check_url(attempt.url()) {
                attempt.error(r)
            } else {
                attempt.follow()
            }
        }))
        .build()
}

/// An HTTP client bound to the guard that follows no redirect: a 3xx is
/// the answer (Terraform Cloud does not follow a run-task endpoint's redirects).
pub fn client_without_redirects(
    guard: Arc<Guard>,
    timeout: std::time::Duration,
    user_agent: &str,
) -> Result<reqwest::Client, reqwest::Error> {
    builder(guard, timeout, user_agent).redirect(reqwest::redirect::Policy::none()).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_private_addresses() {
        let cases: &[(&str, bool)] = &[
            ("8.8.8.8", true),
            ("151.101.1.69", true),
            ("127.0.0.1", false),
            ("127.8.9.10", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("172.32.0.1", true),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("100.128.0.1", true),
            ("0.0.0.0", false),
            ("224.0.0.1", false),
            ("255.255.255.255", false),
            ("192.0.2.10", false),
            ("198.18.0.1", false),
            ("::1", false),
            ("::", false),
            ("fe80::1", false),
            ("fd00:ec2::254", false),
            ("fc00::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::a9fe:a9fe", false),
            ("64:ff9b::808:808", true),
            ("2002:7f00:1::", false),
            ("2606:4700:4700::1111", true),
            ("2a00:1450:4001:82a::200e", true),
        ];
        for (ip, public) in cases {
            assert_eq!(is_public(ip.parse().unwrap()), *public, "{ip}");
        }
    }

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn urls_without_an_allow_list() {
        let g = Guard::default();
        assert_eq!(g.check_url(&url("https://registry.terraform.io/.well-known/terraform.json")), Ok(()));
        for bad in [
            "http://registry.terraform.io/",
            "ftp://example.com/",
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://169.254.169.254/latest/meta-data/",
            "https://user:pw@example.com/",
            "https://10.0.0.5/",
        ] {
            assert!(g.check_url(&url(bad)).is_err(), "{bad}");
        }
        assert_eq!(g.scheme_for("localhost"), "https");
    }

    #[test]
    fn resolved_addresses() {
        let g = Guard::default();
        let a = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let refusal = g.filter("evil.example", vec![a("127.0.0.1:0")]).unwrap_err();
        assert_eq!(refusal.0, "evil.example resolves to 127.0.0.1, which is not a public address");
        assert!(g.filter("metadata.example", vec![a("169.254.169.254:0")]).is_err());
        assert_eq!(g.filter("mixed.example", vec![a("10.0.0.1:0"), a("93.184.215.14:0")]).unwrap(), vec![a("93.184.215.14:0")]);
        assert!(g.filter("nothing.example", vec![]).is_err());
    }

    #[test]
    fn the_allow_list() {
        let g = Guard::parse("http://127.0.0.1, localhost, 10.0.0.0/8, http://registry.internal").unwrap();
        let a = |s: &str| -> SocketAddr { s.parse().unwrap() };
        assert_eq!(g.check_url(&url("http://127.0.0.1:8080/v1/")), Ok(()));
        assert_eq!(g.scheme_for("127.0.0.1"), "http");
        assert_eq!(g.scheme_for("registry.internal"), "http");
        assert_eq!(g.scheme_for("localhost"), "https", "allowed, but not for plain http");
        assert!(g.check_url(&url("http://localhost:8080/")).is_err());
        assert_eq!(g.check_url(&url("https://10.2.3.4/")), Ok(()));
        assert!(g.check_url(&url("https://11.2.3.4/")).is_ok(), "public anyway");
        assert!(g.check_url(&url("https://192.168.0.1/")).is_err());
        assert_eq!(g.filter("localhost", vec![a("127.0.0.1:0")]).unwrap().len(), 1);
        assert_eq!(g.filter("internal.example", vec![a("10.9.9.9:0")]).unwrap().len(), 1);
        assert!(g.filter("other.example", vec![a("192.168.9.9:0")]).is_err());
        assert!(g.filter("other.example", vec![a("127.0.0.2:0")]).is_err(), "only the listed address, not its network");
        for bad in ["not a host!", "10.0.0.0/40", "http://"] {
            assert!(Guard::parse(bad).is_err(), "{bad}");
        }
        assert!(Guard::parse("").unwrap().hosts.is_empty());
    }
}
