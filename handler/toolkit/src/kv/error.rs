//! Why a key-value operation failed, and the HTTP status that failure is answered with.

use http::StatusCode;

use crate::Problem;

/// Why a key-value operation failed: the variants of Spin's
/// `fermyon:spin/key-value@2.0.0` `error`.
///
/// | Variant | Status | Why |
/// | --- | --- | --- |
/// | [`NoSuchStore`](KvError::NoSuchStore) | `500` | the manifest grants no store by that label: a deployment fault |
/// | [`AccessDenied`](KvError::AccessDenied) | `500` | the component may not use the store: a deployment fault |
/// | [`StoreTableFull`](KvError::StoreTableFull) | `503` | too many stores open at once: transient |
/// | [`Other`](KvError::Other) | `503` | the backing store failed (I/O, a lost connection): most likely transient |
///
/// The first two are server configuration faults that no retry will cure, hence `500`. The
/// others are the backing store being unavailable, which `503` tells clients may pass.
///
/// ```
/// use edge_toolkit::kv::KvError;
///
/// assert_eq!(KvError::AccessDenied.status(), 500);
/// assert_eq!(KvError::Other("disk full".into()).status(), 503);
///
/// let res = edge_toolkit::Problem::from(KvError::NoSuchStore).into_response();
/// assert_eq!(res.status(), 500);
/// assert_eq!(res.headers()["content-type"], "application/problem+json");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The host does not recognise the store's label.
    #[error(
        "the key-value store is not known to the host (is it in the manifest's key_value_stores?)"
    )]
    NoSuchStore,
    /// The component may not use the store (which may or may not exist).
    #[error("the component is not allowed to use the key-value store")]
    AccessDenied,
    /// Too many stores are open at once.
    #[error("too many key-value stores are open at once")]
    StoreTableFull,
    /// Any other failure of the store, as the host describes it.
    #[error("the key-value store failed: {0}")]
    Other(String),
}

impl KvError {
    /// The status a request failing with this error is answered with: `500` for
    /// configuration faults, `503` otherwise (see the table above).
    pub fn status(&self) -> StatusCode {
        match self {
            KvError::NoSuchStore | KvError::AccessDenied => StatusCode::INTERNAL_SERVER_ERROR,
            KvError::StoreTableFull | KvError::Other(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl KvError {
    /// What a client may be told: the kind of failure, never the host's or the backing
    /// store's own words (those go to the log).
    pub fn summary(&self) -> &'static str {
        match self {
            KvError::NoSuchStore => "the key-value store is not configured",
            KvError::AccessDenied => "the component may not use the key-value store",
            KvError::StoreTableFull => "too many key-value stores are open at once",
            KvError::Other(_) => "the key-value store failed",
        }
    }
}

/// The problem carries the [`summary`](KvError::summary); the whole error goes to stderr,
/// the host's log.
impl From<KvError> for Problem {
    fn from(err: KvError) -> Self {
        eprintln!("key-value error: {err}");
        Problem::new(err.status()).with_detail(err.summary())
    }
}

/// Why [`Cas::swap`](super::Cas::swap) did not write.
///
/// ```
/// use edge_toolkit::kv::{KvError, SwapError};
///
/// assert_eq!(SwapError::from(KvError::AccessDenied), SwapError::Store(KvError::AccessDenied));
/// assert!(SwapError::Conflict.to_string().contains("changed"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SwapError {
    /// The key was written (or deleted, or created) since the snapshot: the other write is
    /// kept and this one is not made. Take a new snapshot to retry.
    #[error("the key changed since it was read")]
    Conflict,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] KvError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_problems() {
        let cases = [
            (KvError::NoSuchStore, 500),
            (KvError::AccessDenied, 500),
            (KvError::StoreTableFull, 503),
            (KvError::Other("io".into()), 503),
        ];
        for (err, status) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            let summary = err.summary();
            let problem = Problem::from(err);
            assert_eq!(problem.status(), status);
            assert_eq!(problem.detail(), Some(summary));
        }
        let err = KvError::Other("disk full at /var/lib/spin/kv.db".into());
        assert!(err.to_string().contains("disk full"), "the log keeps it");
        let problem = Problem::from(err);
        assert_eq!(problem.detail(), Some("the key-value store failed"));
    }
}
