//! TLS termination: ALPN for h2 and http/1.1, modern versions only, self-signed mode,
//! certificate reload from disk.

use std::sync::Arc;
use std::time::Duration;

use host::{RuntimeConfig, ServerConfig, TlsConfig};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::support::{
    EXAMPLE_WASM, FIXTURES_WASM, Proto, TestServer, json, request, send_on, tls_client,
};

/// Connects over TLS with a client trusting `cert_der` and offering `alpn`.
async fn connect(
    server: &TestServer,
    cert_der: &[u8],
    alpn: &[&[u8]],
) -> anyhow::Result<TlsStream<TcpStream>> {
    let stream = TcpStream::connect(server.addr).await?;
    let connector = TlsConnector::from(tls_client(cert_der, alpn)?);
    Ok(connector
        .connect(ServerName::try_from("localhost")?, stream)
        .await?)
}

fn peer_cert(stream: &TlsStream<TcpStream>) -> Vec<u8> {
    let (_, session) = stream.get_ref();
    session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.to_vec())
        .unwrap_or_default()
}

/// The certificate served once a client trusting only `der` gets through, polling for up to
/// 5 s; empty if it never does.
async fn served_within_5s(server: &TestServer, der: &[u8]) -> Vec<u8> {
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(stream) = connect(server, der, &[b"http/1.1"]).await {
            return peer_cert(&stream);
        }
    }
    Vec::new()
}

fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

struct CertFiles {
    dir: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

impl CertFiles {
    fn new(tag: &str) -> anyhow::Result<Self> {
        // A directory per call: the 0.2 and 0.3 runs of one test share its tag and run at
        // once, and must not overwrite each other's certificate.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("edge-host-tls-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        })
    }

    /// Writes a fresh localhost certificate and returns its DER.
    fn write_new(&self) -> anyhow::Result<Vec<u8>> {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
        // Write to temporary names and rename, as certificate tooling does.
        let (cert_tmp, key_tmp) = (self.dir.join("cert.tmp"), self.dir.join("key.tmp"));
        std::fs::write(&cert_tmp, made.cert.pem())?;
        std::fs::write(&key_tmp, made.signing_key.serialize_pem())?;
        std::fs::rename(&key_tmp, &self.key)?;
        std::fs::rename(&cert_tmp, &self.cert)?;
        Ok(made.cert.der().to_vec())
    }
}

impl Drop for CertFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn tls_server(tls: TlsConfig) -> anyhow::Result<TestServer> {
    tls_server_of(EXAMPLE_WASM, tls).await
}

async fn tls_server_of(example: &str, tls: TlsConfig) -> anyhow::Result<TestServer> {
    let config = ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    };
    TestServer::start_with(example, RuntimeConfig::default(), config).await
}

async fn alpn_negotiates_h2_and_http1_over_tls(example: &str) -> anyhow::Result<()> {
    let files = CertFiles::new("alpn")?;
    let der = files.write_new()?;
    let server = tls_server_of(
        example,
        TlsConfig::Files {
            cert: files.cert.clone(),
            key: files.key.clone(),
        },
    )
    .await?;

    let h2 = connect(&server, &der, &[b"h2", b"http/1.1"]).await?;
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let res = send_on(
        TokioIo::new(h2),
        Proto::Http2,
        request("GET", "/api/health", "")?,
    )
    .await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), http::Version::HTTP_2);
    assert_eq!(json(&res)?["status"], "healthy");

    let h1 = connect(&server, &der, &[b"http/1.1"]).await?;
    assert_eq!(h1.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let res = send_on(
        TokioIo::new(h1),
        Proto::Http1,
        request("GET", "/api/health", "")?,
    )
    .await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), http::Version::HTTP_11);
    Ok(())
}

#[tokio::test]
async fn behind_tls_the_guest_sees_the_https_scheme() -> anyhow::Result<()> {
    let files = CertFiles::new("scheme")?;
    let der = files.write_new()?;
    let config = ServerConfig {
        tls: Some(TlsConfig::Files {
            cert: files.cert.clone(),
            key: files.key.clone(),
        }),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(FIXTURES_WASM, RuntimeConfig::default(), config).await?;
    for (alpn, proto) in [(&b"h2"[..], Proto::Http2), (&b"http/1.1"[..], Proto::Http1)] {
        let tls = connect(&server, &der, &[alpn]).await?;
        let res = send_on(TokioIo::new(tls), proto, request("GET", "/request", "")?).await?;
        let text = String::from_utf8_lossy(res.body());
        assert!(text.contains("scheme=Some(Scheme::Https)"), "{text}");
        assert!(text.contains("x-forwarded-proto: https"), "{text}");
        assert!(text.contains("authority=localhost"), "{text}");
    }
    Ok(())
}

#[tokio::test]
async fn self_signed_mode_serves_the_certificate_it_fingerprints() -> anyhow::Result<()> {
    let server = tls_server(TlsConfig::SelfSigned).await?;
    let printed = server
        .fingerprint
        .clone()
        .expect("TLS servers report a fingerprint");

    // Trust whatever is served only if its fingerprint is the one printed (pinning).
    let stream = TcpStream::connect(server.addr).await?;
    let config = pinned_client()?;
    let tls = TlsConnector::from(config)
        .connect(ServerName::try_from("localhost")?, stream)
        .await?;
    assert_eq!(fingerprint(&peer_cert(&tls)), printed);
    let res = send_on(
        TokioIo::new(tls),
        Proto::Http1,
        request("GET", "/api/health", "")?,
    )
    .await?;
    assert_eq!(res.status(), 200);
    Ok(())
}

#[tokio::test]
async fn a_certificate_swapped_on_disk_is_picked_up() -> anyhow::Result<()> {
    let files = CertFiles::new("reload")?;
    let first = files.write_new()?;
    let server = tls_server(TlsConfig::Files {
        cert: files.cert.clone(),
        key: files.key.clone(),
    })
    .await?;
    let stream = connect(&server, &first, &[b"http/1.1"]).await?;
    assert_eq!(peer_cert(&stream), first);

    // Make sure the modification time moves even on coarse file systems.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = files.write_new()?;
    let served = served_within_5s(&server, &second).await;
    assert_eq!(served, second, "the new certificate is served within 5 s");

    // A broken file is not taken: the current certificate stays.
    std::fs::write(&files.cert, b"not a certificate")?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stream = connect(&server, &second, &[b"http/1.1"]).await?;
    assert_eq!(peer_cert(&stream), second);
    Ok(())
}

/// SIGHUP reloads the files even when nothing on disk looks changed (same modification
/// times), as after a `cp -p` or a restore from a backup.
#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_certificate() -> anyhow::Result<()> {
    // Listening for SIGHUP here too makes sure the signal never takes the default action
    // (ending the test process), whenever the server's own listener starts.
    let _ours = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let files = CertFiles::new("sighup")?;
    let first = files.write_new()?;
    let server = tls_server(TlsConfig::Files {
        cert: files.cert.clone(),
        key: files.key.clone(),
    })
    .await?;
    assert_eq!(
        peer_cert(&connect(&server, &first, &[b"http/1.1"]).await?),
        first
    );

    let stamps =
        [&files.cert, &files.key].map(|path| std::fs::metadata(path).and_then(|m| m.modified()));
    let second = files.write_new()?;
    for (path, stamp) in [&files.cert, &files.key].into_iter().zip(stamps) {
        std::fs::File::options()
            .write(true)
            .open(path)?
            .set_modified(stamp?)?;
    }
    // The watcher polls every second: without a signal, it sees nothing to reload.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        peer_cert(&connect(&server, &first, &[b"http/1.1"]).await?),
        first
    );

    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()?;
    assert!(status.success(), "kill -HUP: {status}");
    let served = served_within_5s(&server, &second).await;
    assert_eq!(
        served, second,
        "the new certificate is served within 5 s of SIGHUP"
    );
    Ok(())
}

/// A ClientHello offering only TLS 1.1 (legacy_version 0x0302, no supported_versions).
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // session id
    // Suites the server does support, so the version alone decides.
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f]);
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    // extensions: signature_algorithms = [ecdsa_secp256r1_sha256], which rustls checks first
    body.extend_from_slice(&[0x00, 0x08, 0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]);
    let mut handshake = vec![0x01, 0x00];
    handshake.extend_from_slice(&u16::try_from(body.len()).unwrap_or(0).to_be_bytes());
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&u16::try_from(handshake.len()).unwrap_or(0).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn tls_1_1_clients_are_refused() -> anyhow::Result<()> {
    let server = tls_server(TlsConfig::SelfSigned).await?;
    let mut stream = TcpStream::connect(server.addr).await?;
    stream.write_all(&tls11_client_hello()).await?;
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
    assert!(reply.len() >= 7, "an alert comes back: {reply:?}");
    assert_eq!(
        reply[0], 0x15,
        "an alert record, not a ServerHello: {reply:?}"
    );
    assert_eq!(reply[6], 70, "alert protocol_version: {reply:?}");
    Ok(())
}

/// A client that accepts any certificate: the test checks the fingerprint itself.
fn pinned_client() -> anyhow::Result<Arc<rustls::ClientConfig>> {
    #[derive(Debug)]
    struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

crate::each_world!(alpn_negotiates_h2_and_http1_over_tls);

/// Sends `bytes` on `io` and reads what the server sends back until it closes.
async fn answer_to<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut io: S,
    bytes: &[u8],
) -> anyhow::Result<Vec<u8>> {
    io.write_all(bytes).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), io.read_to_end(&mut answer)).await??;
    Ok(answer)
}

fn assert_goaway_protocol_error(answer: &[u8]) {
    let frames = crate::support::h2_frames(answer);
    let goaway = frames
        .iter()
        .find(|(kind, ..)| *kind == 0x7)
        .unwrap_or_else(|| panic!("no GOAWAY in {frames:?}"));
    assert_eq!(goaway.2, 0, "on stream 0");
    assert_eq!(&goaway.3[4..8], &[0, 0, 0, 1], "PROTOCOL_ERROR");
    assert_eq!(frames[0].0, 0x4, "the server's preface, SETTINGS, first");
}

#[tokio::test]
async fn an_invalid_http2_preface_gets_goaway_protocol_error() -> anyhow::Result<()> {
    let bad = b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n";
    // h2c: the preface line says HTTP/2, the rest is wrong.
    let server = TestServer::start(FIXTURES_WASM).await?;
    let answer = answer_to(TcpStream::connect(server.addr).await?, bad).await?;
    assert_goaway_protocol_error(&answer);
    // HTTP/1.1 on the same port is still HTTP/1.1.
    let answer = answer_to(
        TcpStream::connect(server.addr).await?,
        b"GET /ok HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await?;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // TLS with ALPN h2: anything but the preface, an HTTP/1.1 request included.
    let files = CertFiles::new("preface")?;
    let der = files.write_new()?;
    let server = tls_server_of(
        FIXTURES_WASM,
        TlsConfig::Files {
            cert: files.cert.clone(),
            key: files.key.clone(),
        },
    )
    .await?;
    for bytes in [&bad[..], b"GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n"] {
        let tls = connect(&server, &der, &[b"h2"]).await?;
        assert_goaway_protocol_error(&answer_to(tls, bytes).await?);
    }
    // And the server goes on.
    let tls = connect(&server, &der, &[b"h2"]).await?;
    let res = send_on(TokioIo::new(tls), Proto::Http2, request("GET", "/ok", "")?).await?;
    assert_eq!(res.status(), 200);
    Ok(())
}
