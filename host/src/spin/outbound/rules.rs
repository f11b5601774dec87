//! Which outbound requests and connections a guest may make, in spin.toml's
//! `allowed_outbound_hosts` syntax: `scheme://host[:port]`, where the scheme may be `*` (or
//! `tcp` / `udp` for sockets), the host `*`, `*.suffix`, a name, an IP address or an IP
//! range in CIDR form (`10.0.0.0/8`, `[fd00::]/8`), and the port `*`, a number or a range
//! `a..b` (end exclusive). Without a port, the scheme's default applies (80 for http, 443
//! for https). IPv6 hosts go in brackets (`http://[::1]:8080`). Spin's `self` and
//! `*.spin.internal` (calls into the same application) are refused with a message saying so.
//!
//! ```
//! use host::OutboundRule;
//!
//! let rule: OutboundRule = "https://*.example.com".parse().unwrap();
//! assert!(rule.allows("https", "api.example.com", 443));
//! assert!(!rule.allows("https", "example.com", 443));
//! assert!(!rule.allows("http", "api.example.com", 80));
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::str::FromStr;

/// One allowed destination.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundRule {
    scheme: Option<String>,
    host: HostPattern,
    ports: Ports,
    /// How the rule shows in logs and `Debug`: its text, or its template when a secret
    /// went into it.
    text: String,
}

impl fmt::Debug for OutboundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OutboundRule").field(&self.text).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.suffix`: any host ending in `.suffix`.
    Subdomain(String),
    /// An IP range in CIDR form: any address inside it.
    Range(ipnet::IpNet),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ports {
    Any,
    /// The scheme's default port.
    Default,
    Range(RangeInclusive<u16>),
}

/// A rule that is not in `scheme://host[:port]` form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid outbound host `{rule}`: {reason} (expected scheme://host[:port], e.g. https://api.example.com or http://localhost:8080)"
)]
pub struct InvalidOutboundRule {
    rule: String,
    reason: &'static str,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl FromStr for OutboundRule {
    type Err = InvalidOutboundRule;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| InvalidOutboundRule {
            rule: text.to_owned(),
            reason,
        };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| invalid("no scheme"))?;
        let scheme = match scheme {
            "*" => None,
            "" => return Err(invalid("empty scheme")),
            s if s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                Some(s.to_ascii_lowercase())
            }
            _ => return Err(invalid("the scheme is not valid")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut range = None;
        let (host, port) = if let Some((before, after)) = rest.split_once('/') {
            // `ip/prefix[:port]`: an IP range.
            let ip = before.trim_start_matches('[').trim_end_matches(']');
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(invalid("paths are not allowed"));
            }
            let (prefix, port) = match after.split_once(':') {
                Some((prefix, port)) => (prefix, Some(port)),
                None => (after, None),
            };
            let net = format!("{ip}/{prefix}")
                .parse::<ipnet::IpNet>()
                .map_err(|_| invalid("the IP range is not valid CIDR (such as 10.0.0.0/8)"))?;
            range = Some(net);
            (before, port)
        } else if rest.starts_with('[') {
            // An IPv6 literal: the port, if any, comes after the closing bracket.
            let end = rest
                .find(']')
                .ok_or_else(|| invalid("an IPv6 host lacks its `]`"))?;
            let (host, after) = rest.split_at(end + 1);
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(invalid("only `:port` may follow an IPv6 host")),
                },
            }
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        let lower = host.to_ascii_lowercase();
        if lower == "self" || lower == "spin.internal" || lower.ends_with(".spin.internal") {
            return Err(invalid(
                "calls into the same application (Spin's `self` and `*.spin.internal`) are \
                 not supported by edge-host; name the application's address instead",
            ));
        }
        let host = match (range, host) {
            (Some(net), _) => HostPattern::Range(net),
            (None, "" | "[]") => return Err(invalid("empty host")),
            (None, "*") => HostPattern::Any,
            (None, h) => match h.strip_prefix("*.") {
                Some(suffix) if !suffix.is_empty() && !suffix.contains('*') => {
                    HostPattern::Subdomain(suffix.to_ascii_lowercase())
                }
                Some(_) => return Err(invalid("a wildcard host must look like *.example.com")),
                None if h.contains('*') => {
                    return Err(invalid("`*` may only be the whole host or its first label"));
                }
                None => HostPattern::Exact(h.to_ascii_lowercase()),
            },
        };
        let ports = match port {
            None => {
                if scheme.as_deref().and_then(default_port).is_none() {
                    return Err(invalid(
                        "a port is needed unless the scheme is http or https",
                    ));
                }
                Ports::Default
            }
            Some("*") => Ports::Any,
            Some(p) => match p.split_once("..") {
                Some((a, b)) => {
                    let a: u16 = a
                        .parse()
                        .map_err(|_| invalid("the port range is not numeric"))?;
                    let b: u16 = b
                        .parse()
                        .map_err(|_| invalid("the port range is not numeric"))?;
                    if a >= b {
                        return Err(invalid("the port range is empty"));
                    }
                    // `a..b` excludes `b`, as in Spin.
                    Ports::Range(a..=b - 1)
                }
                None => {
                    let n: u16 = p.parse().map_err(|_| invalid("the port is not a number"))?;
                    Ports::Range(n..=n)
                }
            },
        };
        Ok(Self {
            scheme,
            host,
            ports,
            text: text.to_owned(),
        })
    }
}

impl fmt::Display for OutboundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl OutboundRule {
    /// The rule shown as `display` (in logs, errors and `Debug`): for a rule made from a
    /// template with a secret in it, the template.
    pub(crate) fn shown_as(mut self, display: &str) -> Self {
        display.clone_into(&mut self.text);
        self
    }

    /// Whether a request to `scheme://host:port` is allowed by this rule.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        if self.scheme.as_ref().is_some_and(|s| *s != scheme) {
            return false;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => h.trim_start_matches('[').trim_end_matches(']') == host,
            HostPattern::Subdomain(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
            HostPattern::Range(net) => host
                .parse::<IpAddr>()
                .is_ok_and(|ip| net.contains(&canonical(ip))),
        };
        host_ok && self.allows_port(&scheme, port)
    }

    fn allows_port(&self, scheme: &str, port: u16) -> bool {
        match &self.ports {
            Ports::Any => true,
            Ports::Default => default_port(scheme) == Some(port),
            Ports::Range(range) => range.contains(&port),
        }
    }

    /// For a socket (`protocol` `tcp` or `udp`): whether the rule covers that protocol at
    /// all (its scheme is `*` or the protocol).
    pub(crate) fn covers_protocol(&self, protocol: &str) -> bool {
        self.scheme.as_ref().is_none_or(|s| s == protocol)
    }

    /// For a socket: whether the rule allows `addr` over `protocol` by address alone (a
    /// rule of any host, an IP or an IP range), `None` when its host is a name to look up.
    pub(crate) fn allows_socket_addr(&self, protocol: &str, addr: SocketAddr) -> Option<bool> {
        if !self.covers_protocol(protocol) || !self.allows_port(protocol, addr.port()) {
            return Some(false);
        }
        let ip = canonical(addr.ip());
        match &self.host {
            HostPattern::Any => Some(true),
            HostPattern::Range(net) => Some(net.contains(&ip)),
            HostPattern::Exact(host) => {
                match host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                {
                    Ok(rule_ip) => Some(canonical(rule_ip) == ip),
                    Err(_) => None,
                }
            }
            HostPattern::Subdomain(_) => None,
        }
    }

    /// Whether the rule names `ip` itself, as an IP or a range holding it, for `scheme` and
    /// `port`: what an internal address needs (a wildcard host does not name it).
    pub(crate) fn names_address(&self, scheme: &str, ip: IpAddr, port: u16) -> bool {
        !matches!(self.host, HostPattern::Any)
            && self.allows_socket_addr(&scheme.to_ascii_lowercase(), SocketAddr::new(ip, port))
                == Some(true)
    }

    /// Whether the rule names the host `localhost` for `scheme` and `port`.
    pub(crate) fn names_localhost(&self, scheme: &str, port: u16) -> bool {
        matches!(&self.host, HostPattern::Exact(host) if host.eq_ignore_ascii_case("localhost"))
            && self.allows(scheme, "localhost", port)
    }

    /// The host name to look up for a socket rule whose host is a name (not a wildcard).
    pub(crate) fn host_name(&self) -> Option<&str> {
        match &self.host {
            HostPattern::Exact(host) if host.parse::<IpAddr>().is_err() => Some(host),
            _ => None,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether any of `rules` allows `uri` (which must carry scheme and host).
pub(crate) fn allowed(rules: &[OutboundRule], uri: &http::Uri) -> bool {
    let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return false;
    };
    let Some(port) = uri
        .port_u16()
        .or_else(|| default_port(&scheme.to_ascii_lowercase()))
    else {
        return false;
    };
    rules.iter().any(|rule| rule.allows(scheme, host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> OutboundRule {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn rules_match_scheme_host_and_port() {
        let cases = [
            (
                "https://api.example.com",
                "https",
                "api.example.com",
                443,
                true,
            ),
            (
                "https://api.example.com",
                "https",
                "api.example.com",
                8443,
                false,
            ),
            (
                "https://api.example.com",
                "http",
                "api.example.com",
                80,
                false,
            ),
            (
                "https://API.example.com",
                "https",
                "api.EXAMPLE.com",
                443,
                true,
            ),
            ("http://localhost:8080", "http", "localhost", 8080, true),
            ("http://localhost:8080", "http", "localhost", 80, false),
            ("http://127.0.0.1:*", "http", "127.0.0.1", 1234, true),
            (
                "http://127.0.0.1:3000..3010",
                "http",
                "127.0.0.1",
                3009,
                true,
            ),
            (
                "http://127.0.0.1:3000..3010",
                "http",
                "127.0.0.1",
                3010,
                false,
            ),
            ("*://example.com:443", "https", "example.com", 443, true),
            (
                "https://*.example.com",
                "https",
                "a.b.example.com",
                443,
                true,
            ),
            ("https://*.example.com", "https", "example.com", 443, false),
            (
                "https://*.example.com",
                "https",
                "badexample.com",
                443,
                false,
            ),
            ("https://*", "https", "anything.test", 443, true),
            ("*://*:*", "http", "x", 1, true),
            ("http://[::1]:8080", "http", "[::1]", 8080, true),
            ("http://[::1]", "http", "[::1]", 80, true),
            ("http://[::1]", "http", "[::1]", 8080, false),
            ("http://[::1]:*", "http", "[::1]", 9, true),
            ("http://h:65535", "http", "h", 65535, true),
            ("http://h:65534..65535", "http", "h", 65534, true),
            ("http://h:65534..65535", "http", "h", 65535, false),
            ("*://127.0.0.0/24:*", "http", "127.0.0.9", 8080, true),
            ("*://127.0.0.0/24:*", "http", "127.0.1.9", 8080, false),
            ("*://127.0.0.0/24:*", "http", "localhost", 8080, false),
            ("http://10.0.0.0/8", "http", "10.1.2.3", 80, true),
            ("http://10.0.0.0/8", "http", "10.1.2.3", 81, false),
            ("http://[fd00::]/8:*", "http", "[fd12::1]", 1, true),
            ("http://[fd00::]/8:*", "http", "[fe12::1]", 1, false),
        ];
        for (text, scheme, host, port, expected) in cases {
            assert_eq!(
                rule(text).allows(scheme, host, port),
                expected,
                "{text} vs {scheme}://{host}:{port}"
            );
        }
    }

    #[test]
    fn malformed_rules_are_rejected_with_a_reason() {
        for bad in [
            "example.com",
            "://example.com",
            "https://",
            "https://exa*mple.com",
            "https://example.com/path",
            "https://example.com:port",
            "https://example.com:10..5",
            "ftp://example.com",
            "http://[::1",
            "http://[::1]8080",
            "http://[]:80",
            "*://10.0.0.0/33:*",
            "*://10.0.0.0/x:*",
            "*://example.com/8:*",
        ] {
            let err = bad.parse::<OutboundRule>().expect_err(bad);
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid outbound host `{bad}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn spin_features_edge_host_lacks_are_named() {
        for (bad, says) in [
            ("http://self", "`self`"),
            ("http://SELF:3000", "`self`"),
            ("http://backend.spin.internal", "`*.spin.internal`"),
            ("http://*.spin.internal", "`*.spin.internal`"),
        ] {
            let err = bad.parse::<OutboundRule>().expect_err(bad).to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn socket_rules_match_protocol_address_and_port() {
        let addr = |s: &str| s.parse::<SocketAddr>().expect("addr");
        let r = rule("*://127.0.0.1:7000");
        assert_eq!(
            r.allows_socket_addr("tcp", addr("127.0.0.1:7000")),
            Some(true)
        );
        assert_eq!(
            r.allows_socket_addr("udp", addr("127.0.0.1:7000")),
            Some(true)
        );
        assert_eq!(
            r.allows_socket_addr("tcp", addr("127.0.0.1:7001")),
            Some(false)
        );
        assert_eq!(
            r.allows_socket_addr("tcp", addr("127.0.0.2:7000")),
            Some(false)
        );
        assert_eq!(
            r.allows_socket_addr("tcp", addr("[::ffff:127.0.0.1]:7000")),
            Some(true),
            "an IPv4-mapped address is the IPv4 address"
        );
        let tcp = rule("tcp://10.0.0.0/8:5000..5002");
        assert_eq!(
            tcp.allows_socket_addr("tcp", addr("10.9.9.9:5001")),
            Some(true)
        );
        assert_eq!(
            tcp.allows_socket_addr("tcp", addr("10.9.9.9:5002")),
            Some(false)
        );
        assert_eq!(
            tcp.allows_socket_addr("udp", addr("10.9.9.9:5001")),
            Some(false)
        );
        assert_eq!(
            tcp.allows_socket_addr("tcp", addr("11.0.0.1:5001")),
            Some(false)
        );
        let http = rule("http://127.0.0.1:7000");
        assert_eq!(
            http.allows_socket_addr("tcp", addr("127.0.0.1:7000")),
            Some(false),
            "an http rule grants no raw socket"
        );
        let name = rule("tcp://db.internal:5432");
        assert_eq!(name.allows_socket_addr("tcp", addr("10.0.0.1:5432")), None);
        assert_eq!(name.host_name(), Some("db.internal"));
        assert_eq!(
            rule("*://*:*").allows_socket_addr("udp", addr("[::1]:1")),
            Some(true)
        );
    }

    #[test]
    fn debug_shows_the_text_or_the_template() {
        let plain = rule("https://api.example.com");
        assert_eq!(
            format!("{plain:?}"),
            r#"OutboundRule("https://api.example.com")"#
        );
        let secret =
            rule("https://tenant-s3cr3t.example.com").shown_as("https://{{ tenant }}.example.com");
        let shown = format!("{secret:?} {secret}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(secret.allows("https", "tenant-s3cr3t.example.com", 443));
    }

    #[test]
    fn uris_need_a_matching_rule() {
        let rules = [rule("http://127.0.0.1:8080"), rule("https://*.example.com")];
        let ok = |u: &str| allowed(&rules, &u.parse().expect("uri"));
        assert!(ok("http://127.0.0.1:8080/x"));
        assert!(!ok("http://127.0.0.1:8081/x"));
        assert!(ok("https://api.example.com/v1"));
        assert!(!ok("http://api.example.com/v1"));
        assert!(!allowed(
            &[],
            &"http://127.0.0.1:8080/".parse().expect("uri")
        ));
    }
}
