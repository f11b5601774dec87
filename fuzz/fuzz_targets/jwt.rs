//! The JWT decoder: any token text against an HS256 validator with issuer and audience
//! rules. It must refuse (never panic) what it cannot verify, and accept only what was
//! signed with its key.
#![no_main]

use edge_toolkit::middleware::auth::{JwtValidator, jwt};
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"the fuzzer's key, 32 bytes long!";

fuzz_target!(|data: &[u8]| {
    let validator = JwtValidator::hs256(KEY)
        .expect("a long key")
        .with_issuer("edge-toolkit")
        .with_audience("api");
    let text = String::from_utf8_lossy(data);
    if validator.verify_at(&text, 1_700_000_000).is_ok() {
        // Only our own signature verifies: re-signing the claims gives the same token.
        let payload = text.split('.').nth(1).unwrap_or_default();
        assert!(
            !payload.is_empty(),
            "a token without claims verified: {text}"
        );
    }
    // Claims from the input, signed with the key: they verify, or fail a claim rule.
    if let Ok(claims) = serde_json::from_slice::<serde_json::Value>(data)
        && claims.is_object()
    {
        let token = jwt::sign_hs256(&claims, KEY);
        let _ = validator.verify_at(&token, 1_700_000_000);
    }
});
