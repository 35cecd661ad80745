//! The verified-token cache: it skips the signature check only.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, NOW, b64_json, claims, claims_json, flip_signature};
use rilla_token::{TokenError, VerifierOptions};
use serde_json::json;

const PATH: &str = "/live/ch1/a.ts";

#[test]
fn repeat_requests_hit_the_cache() {
    let f = Fixture::new();
    let token = f.token();
    assert!(
        !f.verifier
            .verify(&token, PATH, None, NOW)
            .unwrap()
            .from_cache()
    );
    assert_eq!(f.verifier.cached_tokens(), 1);
    let hit = f
        .verifier
        .verify(&token, "/live/ch1/b.ts", None, NOW + 1)
        .unwrap();
    assert!(hit.from_cache());
    assert_eq!(hit.claims(), &claims());
}

#[test]
fn cached_token_still_expires() {
    let f = Fixture::new();
    let token = f.token();
    assert!(f.verifier.verify(&token, PATH, None, NOW).is_ok());
    assert!(
        f.verifier
            .verify(&token, PATH, None, NOW + 64)
            .unwrap()
            .from_cache()
    );
    assert_eq!(
        f.verifier.verify(&token, PATH, None, NOW + 65).unwrap_err(),
        TokenError::Expired { exp: NOW + 60 }
    );
}

#[test]
fn cached_token_still_not_yet_valid_before_nbf() {
    let f = Fixture::new();
    let token = f.token();
    assert!(f.verifier.verify(&token, PATH, None, NOW).is_ok());
    assert_eq!(
        f.verifier.verify(&token, PATH, None, NOW - 10).unwrap_err(),
        TokenError::NotYetValid { nbf: NOW }
    );
}

#[test]
fn cached_token_still_checks_scope_path_and_ip() {
    let f = Fixture::new();
    let bound = f
        .signer
        .sign(&claims().with_client_ip("203.0.113.7".parse().unwrap()))
        .unwrap();
    let client = Some("203.0.113.8".parse().unwrap());
    assert!(f.verifier.verify(&bound, PATH, client, NOW).is_ok());
    assert_eq!(
        f.verifier
            .verify(&bound, "/live/ch2/a.ts", client, NOW)
            .unwrap_err(),
        TokenError::WrongScope
    );
    assert_eq!(
        f.verifier
            .verify(&bound, "/live/ch1/../ch2/a.ts", client, NOW)
            .unwrap_err(),
        TokenError::TamperedPath
    );
    let elsewhere = Some("198.51.100.1".parse().unwrap());
    assert_eq!(
        f.verifier.verify(&bound, PATH, elsewhere, NOW).unwrap_err(),
        TokenError::WrongClient
    );
    assert_eq!(
        f.verifier.verify(&bound, PATH, None, NOW).unwrap_err(),
        TokenError::WrongClient
    );
}

#[test]
fn forged_variants_of_a_cached_token_are_rejected() {
    let f = Fixture::new();
    let token = f.token();
    assert!(f.verifier.verify(&token, PATH, None, NOW).is_ok());

    assert_eq!(
        f.verifier
            .verify(&flip_signature(&token), PATH, None, NOW)
            .unwrap_err(),
        TokenError::BadSignature
    );

    // Genuine header and signature, payload widened to every path.
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload = claims_json();
    payload["scope"] = json!("/");
    let forged = format!("{}.{}.{}", parts[0], b64_json(&payload), parts[2]);
    assert_eq!(
        f.verifier
            .verify(&forged, "/vod/secret.ts", None, NOW)
            .unwrap_err(),
        TokenError::BadSignature
    );

    // Extra trailing data does not reuse the cache entry either.
    let padded = format!("{token}A");
    assert!(f.verifier.verify(&padded, PATH, None, NOW).is_err());
    assert_eq!(f.verifier.cached_tokens(), 1);
}

#[test]
fn expired_tokens_are_not_cached() {
    let f = Fixture::new();
    let token = f.token();
    assert!(f.verifier.verify(&token, PATH, None, NOW + 100).is_err());
    assert_eq!(f.verifier.cached_tokens(), 0);
}

#[test]
fn cache_can_be_disabled() {
    let f = Fixture::with_options(VerifierOptions {
        cache_capacity: 0,
        ..Default::default()
    });
    let token = f.token();
    for _ in 0..3 {
        assert!(
            !f.verifier
                .verify(&token, PATH, None, NOW)
                .unwrap()
                .from_cache()
        );
    }
    assert_eq!(f.verifier.cached_tokens(), 0);
}

#[test]
fn cache_is_bounded() {
    let f = Fixture::with_options(VerifierOptions {
        cache_capacity: 16,
        ..Default::default()
    });
    for i in 0..200 {
        let token = f
            .signer
            .sign(&claims().with_session(format!("s{i}")))
            .unwrap();
        assert!(f.verifier.verify(&token, PATH, None, NOW).is_ok());
    }
    assert!(
        f.verifier.cached_tokens() <= 16,
        "{}",
        f.verifier.cached_tokens()
    );
}
