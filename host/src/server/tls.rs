//! TLS termination with rustls (ring): certificates from PEM files, reloaded when they
//! change, or a self-signed certificate for local development.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use crate::{TlsConfig, TlsError};

/// How often certificate files are checked for changes.
const RELOAD_POLL: Duration = Duration::from_secs(1);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate and key made for `localhost`, `127.0.0.1` and `::1`.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
    /// SHA-256 of the certificate's DER, as colon-separated upper-case hex.
    pub fingerprint: String,
}

/// Makes a fresh self-signed certificate for local development.
pub fn self_signed_localhost() -> Result<SelfSigned, TlsError> {
    let names = ["localhost", "127.0.0.1", "::1"]
        .map(str::to_owned)
        .to_vec();
    let made = rcgen::generate_simple_self_signed(names)?;
    Ok(SelfSigned {
        cert_pem: made.cert.pem(),
        key_pem: made.signing_key.serialize_pem(),
        fingerprint: fingerprint(made.cert.der()),
    })
}

/// SHA-256 of a certificate's DER, as `AB:CD:...`.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses a PEM certificate chain and key into a key rustls can serve.
fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert_path.to_owned()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::NoKey(key_path.to_owned()))?;
    Ok(Arc::new(CertifiedKey::from_der(chain, key, &provider())?))
}

/// Serves whichever certificate was loaded last.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A poisoned lock still holds a valid key: keep serving it.
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        Some(current.clone())
    }
}

/// A ready TLS configuration, plus what the operator should be told about it.
pub(crate) struct Tls {
    pub(crate) config: Arc<rustls::ServerConfig>,
    /// SHA-256 fingerprint of the leaf certificate in use at start-up.
    pub(crate) fingerprint: String,
    reload: Option<Reload>,
}

struct Reload {
    resolver: Arc<Resolver>,
    cert: PathBuf,
    key: PathBuf,
}

impl Tls {
    /// Builds the rustls configuration: TLS 1.3 and 1.2 with ring's AEAD suites only,
    /// ALPN `h2` then `http/1.1`.
    pub(crate) fn new(source: &TlsConfig) -> Result<Self, TlsError> {
        let (key, reload_paths) = match source {
            TlsConfig::Files { cert, key } => {
                crate::files::warn_if_shared(key, "TLS private key");
                let certified = certified_key(&read(cert)?, &read(key)?, cert, key)?;
                (certified, Some((cert.clone(), key.clone())))
            }
            TlsConfig::SelfSigned => {
                let made = self_signed_localhost()?;
                let certified = certified_key(
                    made.cert_pem.as_bytes(),
                    made.key_pem.as_bytes(),
                    Path::new("<self-signed>"),
                    Path::new("<self-signed>"),
                )?;
                (certified, None)
            }
        };
        let fingerprint = key
            .cert
            .first()
            .map(|leaf| fingerprint(leaf))
            .unwrap_or_default();
        let resolver = Arc::new(Resolver {
            current: RwLock::new(key),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            fingerprint,
            reload: reload_paths.map(|(cert, key)| Reload {
                resolver,
                cert,
                key,
            }),
        })
    }

    /// Reloads the certificate files whenever they change or SIGHUP arrives, until the
    /// returned task is aborted. A failed reload keeps the previous certificate.
    pub(crate) fn spawn_reloader(&self) -> Option<tokio::task::JoinHandle<()>> {
        let reload = self.reload.as_ref()?;
        let resolver = reload.resolver.clone();
        let (cert, key) = (reload.cert.clone(), reload.key.clone());
        Some(tokio::spawn(async move {
            let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            let mut seen: (Option<SystemTime>, Option<SystemTime>) =
                (modified(&cert), modified(&key));
            let mut hangup = hangup_signal();
            loop {
                let signalled = tokio::select! {
                    () = tokio::time::sleep(RELOAD_POLL) => false,
                    () = next_hangup(&mut hangup) => true,
                };
                let now = (modified(&cert), modified(&key));
                if !signalled && now == seen {
                    continue;
                }
                seen = now;
                let loaded = read(&cert)
                    .and_then(|c| read(&key).map(|k| (c, k)))
                    .and_then(|(c, k)| certified_key(&c, &k, &cert, &key));
                match loaded {
                    Ok(new_key) => {
                        let fp = new_key
                            .cert
                            .first()
                            .map(|l| fingerprint(l))
                            .unwrap_or_default();
                        *resolver.current.write().unwrap_or_else(|p| p.into_inner()) = new_key;
                        tracing::info!(cert = %cert.display(), sha256 = %fp, "TLS certificate reloaded");
                    }
                    Err(err) => {
                        tracing::warn!(cert = %cert.display(), "TLS reload failed, keeping the previous certificate: {err}");
                    }
                }
            }
        }))
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
fn hangup_signal() -> Hangup {}

#[cfg(unix)]
async fn next_hangup(signal: &mut Hangup) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangup) {
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificate_loads_and_fingerprint_is_sha256_hex() {
        let made = self_signed_localhost().expect("generate");
        let key = certified_key(
            made.cert_pem.as_bytes(),
            made.key_pem.as_bytes(),
            Path::new("c"),
            Path::new("k"),
        )
        .expect("valid pair");
        assert_eq!(fingerprint(&key.cert[0]), made.fingerprint);
        assert_eq!(made.fingerprint.len(), 32 * 3 - 1);
    }

    #[test]
    fn mismatched_key_is_rejected() {
        let a = self_signed_localhost().expect("generate");
        let b = self_signed_localhost().expect("generate");
        let err = certified_key(
            a.cert_pem.as_bytes(),
            b.key_pem.as_bytes(),
            Path::new("c"),
            Path::new("k"),
        )
        .expect_err("keys differ");
        assert!(matches!(err, TlsError::Rustls(_)), "{err}");
    }

    #[test]
    fn files_without_pem_blocks_are_named_in_the_error() {
        let err = certified_key(
            b"nope",
            b"nope",
            Path::new("cert.pem"),
            Path::new("key.pem"),
        )
        .expect_err("no pem");
        assert_eq!(err.to_string(), "cert.pem contains no PEM certificate");
    }
}
