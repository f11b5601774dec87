//! Sending one outbound HTTP request to an address the rules were checked against.
//!
//! The allow-list names hosts; a name says nothing of where it points. So the host name is
//! resolved here, every address it resolves to is judged ([`permitted`]), and the
//! connection is made to an address that passed, never resolved again (a second lookup
//! could answer differently: DNS rebinding). An internal address (loopback, link-local,
//! which is where cloud metadata services answer, private, unspecified...: [`is_internal`])
//! is reached only when a rule names that address (an IP or a CIDR range) or the request is
//! to `localhost` and a rule names `localhost`. A wildcard or a public name that resolves to
//! one is refused with `destination-IP-prohibited`.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions};

use super::rules::{OutboundRule, canonical};

/// Whether `ip` is internal: reachable only where a rule names it.
///
/// IPv4: `0.0.0.0/8`, loopback, private (`10/8`, `172.16/12`, `192.168/16`), shared
/// (`100.64/10`, carrier-grade NAT), link-local (`169.254/16`, cloud metadata), IETF
/// protocol assignments (`192.0.0/24`), benchmarking (`198.18/15`), documentation,
/// multicast, reserved (`240/4`) and broadcast. IPv6: unspecified, loopback, unique local
/// (`fc00::/7`), link-local (`fe80::/10`), multicast, documentation (`2001:db8::/32`), and
/// the IPv4 address inside IPv4-mapped, NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`)
/// addresses judged as IPv4.
pub(crate) fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || a == 0
        || ip.is_loopback()
        || ip.is_private()
        || (a == 100 && (64..128).contains(&b))
        || ip.is_link_local()
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || ip.is_documentation()
        || ip.is_multicast()
        || a >= 240
        || ip.is_broadcast()
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    let s = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_internal_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_internal_v4(embedded(s[1], s[2]));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || ip.is_multicast()
        || (s[0] == 0x2001 && s[1] == 0x0db8)
}

/// Whether a request to `scheme://host:port` (already allowed by name) may go to `addr`,
/// one of the addresses `host` resolved to.
pub(crate) fn permitted(
    rules: &[OutboundRule],
    scheme: &str,
    host: &str,
    addr: SocketAddr,
) -> bool {
    let ip = addr.ip();
    if !is_internal(ip) {
        return true;
    }
    let port = addr.port();
    if rules
        .iter()
        .any(|rule| rule.names_address(scheme, ip, port))
    {
        return true;
    }
    let host = host.trim_end_matches('.');
    host.eq_ignore_ascii_case("localhost")
        && canonical(ip).is_loopback()
        && rules.iter().any(|rule| rule.names_localhost(scheme, port))
}

/// The body of an outbound response: hyper's, with the wait between frames timed.
pub(crate) struct ResponseBody {
    incoming: hyper::body::Incoming,
    between_bytes: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = tokio::time::Instant::now() + self.between_bytes;
                self.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) if err.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(Error::from(err)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(self.timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

/// What sending gives: the response, and the connection's remaining work (its body), which
/// wasmtime-wasi-http drives.
pub(crate) type Sent = (
    http::Response<ResponseBody>,
    Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>,
);

/// Sends `req` (absolute URI, already allowed by name) to an address of its host that
/// `rules` permit, within `options`' timeouts (all set: the host caps them).
pub(crate) async fn send<B>(
    mut req: http::Request<B>,
    options: RequestOptions,
    rules: Arc<[OutboundRule]>,
) -> Result<Sent, Error>
where
    B: Body<Data = Bytes, Error = Error> + Send + 'static,
{
    let connect_timeout = options.connect_timeout.unwrap_or(Duration::from_secs(5));
    let first_byte_timeout = options
        .first_byte_timeout
        .unwrap_or(Duration::from_secs(30));
    let between_bytes = options
        .between_bytes_timeout
        .unwrap_or(first_byte_timeout)
        .max(Duration::from_nanos(1));
    let uri = req.uri().clone();
    let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let scheme = if tls { "https" } else { "http" };
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });

    let stream = tokio::time::timeout(connect_timeout, async {
        let candidates = resolve(host, port).await?;
        let allowed: Vec<SocketAddr> = candidates
            .iter()
            .copied()
            .filter(|addr| permitted(&rules, scheme, host, *addr))
            .collect();
        if allowed.is_empty() {
            crate::throttle::warn_throttled!(
                upstream = %format!("{scheme}://{host}:{port}"),
                "outbound request denied: {host} resolves to internal addresses ({}) that no rule names",
                candidates.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            );
            return Err(Error::DestinationIpProhibited);
        }
        connect(&allowed).await
    })
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    let io: Box<dyn Stream> = if tls {
        let name = server_name(host)?;
        let connector = tokio_rustls::TlsConnector::from(client_config());
        let tls = tokio::time::timeout(connect_timeout, connector.connect(name, stream))
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(Error::Tls)?;
        Box::new(tls)
    } else {
        Box::new(stream)
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(Error::from)?;

    // The request line carries the path only; the authority is in `Host`.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *req.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;

    let mut conn = Box::pin(conn);
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(req));
    tokio::pin!(response);
    let mut ended = None;
    let response = tokio::select! {
        response = &mut response => response,
        end = &mut conn => {
            // The connection ended first; the response (or why there is none) is ready.
            ended = Some(end);
            response.await
        }
    };
    let response = match response {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => {
            return Err(match ended {
                Some(Err(conn_err)) => Error::from(conn_err),
                _ => Error::from(err),
            });
        }
        Err(_) => return Err(Error::ConnectionReadTimeout),
    };
    let body = response.map(|incoming| ResponseBody {
        incoming,
        between_bytes,
        timer: Box::pin(tokio::time::sleep(between_bytes)),
    });
    let rest: Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> = match ended {
        Some(end) => Box::pin(async move { end.map_err(Error::from) }),
        None => Box::pin(async move {
            conn.await.map_err(|err| {
                if err.is_timeout() {
                    Error::HttpResponseTimeout
                } else {
                    Error::from(err)
                }
            })
        }),
    };
    Ok((body, rest))
}

/// The transport under HTTP: TCP, or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// The addresses of `host` (an IP literal is its own).
async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found = tokio::net::lookup_host((host, port))
        .await
        .map_err(|err| Error::DnsError {
            rcode: Some(err.to_string()),
            info_code: None,
        })?;
    let found: Vec<SocketAddr> = found.collect();
    if found.is_empty() {
        return Err(Error::DestinationNotFound);
    }
    Ok(found)
}

/// A connection to the first of `addrs` that accepts one.
async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(err) => last = Some(err),
        }
    }
    Err(match last {
        Some(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
            Error::ConnectionRefused
        }
        Some(err) => Error::Connect(err),
        None => Error::DestinationNotFound,
    })
}

/// The name the server's certificate must carry: the request's host.
fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, Error> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(rustls::pki_types::ServerName::from(ip));
    }
    rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(Error::InvalidDnsNameError)
}

/// The TLS client configuration of every outbound request: the web PKI's roots (Mozilla's,
/// as wasmtime-wasi-http uses), ring, TLS 1.2 and 1.3. Built once.
fn client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            // ring supports the default versions; should that ever change, the process
            // default stands in.
            let builder = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap_or_else(|_| rustls::ClientConfig::builder());
            Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(texts: &[&str]) -> Vec<OutboundRule> {
        texts
            .iter()
            .map(|t| t.parse().expect("a valid rule"))
            .collect()
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "192.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            let ip: IpAddr = internal.parse().expect("an address");
            assert!(is_internal(ip), "{internal} is internal");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.215.14",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            let ip: IpAddr = public.parse().expect("an address");
            assert!(!is_internal(ip), "{public} is public");
        }
    }

    #[test]
    fn internal_addresses_need_a_rule_that_names_them() {
        let addr = |text: &str| -> SocketAddr { text.parse().expect("a socket address") };
        // (rules, scheme, host asked for, address it resolved to, permitted)
        let cases: &[(&[&str], &str, &str, &str, bool)] = &[
            // Public addresses: the name's rule is enough.
            (
                &["https://api.example.com"],
                "https",
                "api.example.com",
                "93.184.215.14:443",
                true,
            ),
            (&["*://*:*"], "http", "anything.example", "8.8.8.8:80", true),
            // A public name that resolves inside (DNS rebinding, a hostile record): refused.
            (
                &["https://api.example.com"],
                "https",
                "api.example.com",
                "127.0.0.1:443",
                false,
            ),
            (
                &["https://api.example.com"],
                "https",
                "api.example.com",
                "169.254.169.254:443",
                false,
            ),
            (
                &["http://*.example.com"],
                "http",
                "db.example.com",
                "10.0.0.5:80",
                false,
            ),
            (
                &["*://*:*"],
                "http",
                "169.254.169.254",
                "169.254.169.254:80",
                false,
            ),
            (&["*://*:*"], "http", "localhost", "127.0.0.1:80", false),
            (
                &["http://*:8080"],
                "http",
                "127.0.0.1",
                "127.0.0.1:8080",
                false,
            ),
            // Named: the address itself, a range holding it, or localhost by name.
            (
                &["http://127.0.0.1:8080"],
                "http",
                "127.0.0.1",
                "127.0.0.1:8080",
                true,
            ),
            (
                &["http://127.0.0.1:8080"],
                "http",
                "127.0.0.1",
                "127.0.0.1:8081",
                false,
            ),
            (&["http://[::1]:8080"], "http", "::1", "[::1]:8080", true),
            (
                &["http://10.0.0.0/8:*"],
                "http",
                "db.internal",
                "10.0.0.5:5432",
                true,
            ),
            (
                &["http://10.0.0.0/8:*"],
                "http",
                "db.internal",
                "192.168.0.5:5432",
                false,
            ),
            (
                &["http://localhost:3000"],
                "http",
                "localhost",
                "127.0.0.1:3000",
                true,
            ),
            (
                &["http://localhost:3000"],
                "http",
                "localhost",
                "[::1]:3000",
                true,
            ),
            (
                &["http://localhost:3000"],
                "http",
                "localhost",
                "10.0.0.1:3000",
                false,
            ),
            (
                &["https://localhost:3000"],
                "http",
                "localhost",
                "127.0.0.1:3000",
                false,
            ),
            // A rule naming one internal address does not open another.
            (
                &["http://127.0.0.1:8080", "http://*:8080"],
                "http",
                "evil.example",
                "10.0.0.1:8080",
                false,
            ),
        ];
        for (texts, scheme, host, resolved, expected) in cases {
            let got = permitted(&rules(texts), scheme, host, addr(resolved));
            assert_eq!(got, *expected, "{texts:?} {scheme}://{host} -> {resolved}");
        }
    }
}
