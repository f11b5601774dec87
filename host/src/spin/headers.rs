//! The headers Spin sets for a component: `spin-full-url`, `spin-path-info` (the path below
//! the route's prefix), `spin-matched-route`, `spin-raw-component-route`,
//! `spin-component-route`, `spin-base-path`, `spin-path-match-<name>` for `:name` segments,
//! and `spin-client-addr`. Headers of those names sent by the client are dropped first.

use std::net::SocketAddr;

use http::{HeaderName, HeaderValue, header};

use super::routes::RouteMatch;

/// The Spin headers of a matched route; `base` is the application's base path.
pub(super) fn route_headers<T>(found: &RouteMatch<'_, T>, base: &str) -> Vec<(HeaderName, String)> {
    // The route as the manifest wrote it, without the application's base.
    let trimmed = base.trim_end_matches('/');
    let raw = match found.pattern.as_str().strip_prefix(trimmed) {
        Some("") => "/",
        Some(raw) if raw.starts_with('/') => raw,
        _ => found.pattern.as_str(),
    };
    let component_route = raw.strip_suffix("/...").unwrap_or(raw);
    let mut headers = vec![
        (
            HeaderName::from_static("spin-path-info"),
            found.path_info.clone(),
        ),
        (
            HeaderName::from_static("spin-matched-route"),
            found.pattern.as_str().to_owned(),
        ),
        (
            HeaderName::from_static("spin-raw-component-route"),
            raw.to_owned(),
        ),
        (
            HeaderName::from_static("spin-component-route"),
            component_route.to_owned(),
        ),
        (HeaderName::from_static("spin-base-path"), base.to_owned()),
    ];
    for (name, value) in &found.params {
        // As Spin names them: `:user_id` is `spin-path-match-user-id`.
        let name = format!("spin-path-match-{}", name.replace('_', "-"));
        if let Ok(name) = HeaderName::try_from(name.to_ascii_lowercase()) {
            headers.push((name, value.clone()));
        }
    }
    headers
}

/// Replaces the client's `spin-*` headers with the host's: the guest must be able to trust
/// them, as it does under Spin.
pub(super) fn set_spin_headers(
    headers: &mut http::HeaderMap,
    spin: Vec<(HeaderName, String)>,
    full_url: &str,
    client: Option<SocketAddr>,
) {
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("spin-"))
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(name);
    }
    let full_url = (
        HeaderName::from_static("spin-full-url"),
        full_url.to_owned(),
    );
    // Spin's name for the client's address, which the server gives as `forwarded` too.
    let client = client.map(|addr| {
        (
            HeaderName::from_static("spin-client-addr"),
            addr.to_string(),
        )
    });
    for (name, value) in spin.into_iter().chain([full_url]).chain(client) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// The URL the client asked for: scheme, authority (from the request target or `Host`),
/// path and query.
pub(super) fn full_url(parts: &http::request::Parts, https: bool) -> String {
    let scheme = if https { "https" } else { "http" };
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or("localhost");
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{scheme}://{authority}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_headers_replace_client_supplied_ones() {
        let mut headers = http::HeaderMap::new();
        headers.insert("spin-client-addr", HeaderValue::from_static("6.6.6.6:1"));
        headers.insert("spin-path-info", HeaderValue::from_static("/evil"));
        let peer: SocketAddr = "[::1]:4000".parse().expect("addr");
        set_spin_headers(&mut headers, Vec::new(), "http://localhost/", Some(peer));
        assert_eq!(headers["spin-client-addr"], "[::1]:4000");
        assert_eq!(headers["spin-full-url"], "http://localhost/");
        assert!(!headers.contains_key("spin-path-info"));
    }
}
