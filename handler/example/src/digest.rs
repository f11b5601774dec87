//! `POST /api/v1/digest`: the length and SHA-256 of the request body, read as it streams in
//! (an [`Upload`]), so a body far larger than the instance's memory is digested in a few
//! kilobytes of it. Bodies over [`MAX_DIGEST_BODY`] are `413` at the byte that crosses it.

use serde::Serialize;
use sha2::{Digest, Sha256};

use edge_toolkit::Problem;
use edge_toolkit::body::Upload;
use edge_toolkit::extract::Json;

/// The largest body digested.
pub const MAX_DIGEST_BODY: usize = 1024 * 1024 * 1024;

/// The body of the answer.
#[derive(Debug, Serialize)]
pub struct BodyDigest {
    /// The body's length in bytes.
    pub bytes: u64,
    /// Its SHA-256, in lowercase hex.
    pub sha256: String,
}

/// Reads the body chunk by chunk, hashing as it goes.
pub async fn digest(mut upload: Upload) -> Result<Json<BodyDigest>, Problem> {
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = upload.chunk().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(Json(BodyDigest { bytes, sha256 }))
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    fn post(body: &[u8]) -> edge_toolkit::Response {
        crate::handle(
            http::Request::post("/api/v1/digest")
                .body(body.to_vec())
                .expect("valid request"),
        )
    }

    #[test]
    fn the_route_answers_the_length_and_sha256_of_the_body() {
        let res = post(b"abc");
        assert_eq!(res.status(), StatusCode::OK);
        let answer: serde_json::Value = serde_json::from_slice(res.body()).expect("JSON");
        assert_eq!(answer["bytes"], 3);
        // SHA-256("abc"), FIPS 180-2's first example.
        assert_eq!(
            answer["sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let empty: serde_json::Value = serde_json::from_slice(post(b"").body()).expect("JSON");
        assert_eq!(empty["bytes"], 0);
    }
}
