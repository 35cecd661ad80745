//! Verification: the accepted case and one test per rejection.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{
    Fixture, NOW, b64_json, claims, claims_json, eddsa_header, flip_signature, sign_json,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rilla_token::{KeySet, MAX_TOKEN_LEN, TokenError, Verifier, VerifierOptions, ViewerClaims};
use serde_json::json;

const PATH: &str = "/live/ch1/seg-001.ts";

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn verify(f: &Fixture, token: &str) -> Result<rilla_token::VerifiedToken, TokenError> {
    f.verifier.verify(token, PATH, None, NOW + 1)
}

#[test]
fn round_trip() {
    let f = Fixture::new();
    let token = f.token();
    let ok = verify(&f, &token).unwrap();
    assert_eq!(ok.claims(), &claims());
    assert_eq!(ok.kid(), &f.kid);
    assert_eq!(ok.claims().aud, "rilla-edge");
    assert_eq!(
        (ok.claims().iat, ok.claims().nbf, ok.claims().exp),
        (NOW, NOW, NOW + 60)
    );
}

#[test]
fn round_trip_with_optional_claims() {
    let f = Fixture::new();
    let claims = claims()
        .with_session("sess_42")
        .with_client_ip("203.0.113.7".parse().unwrap());
    let token = f.signer.sign(&claims).unwrap();
    let ok = f
        .verifier
        .verify(&token, PATH, ip("203.0.113.250"), NOW)
        .unwrap();
    assert_eq!(ok.claims(), &claims);
    assert_eq!(ok.claims().sid.as_deref(), Some("sess_42"));
}

#[test]
fn token_is_compact_and_header_minimal() {
    let f = Fixture::new();
    let token = f.token();
    assert!(token.len() < 400, "{} bytes", token.len());
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(f.kid.as_str()));
    assert!(header.jku.is_none() && header.x5u.is_none());
}

#[test]
fn expired_beyond_leeway() {
    let f = Fixture::new();
    let err = f
        .verifier
        .verify(&f.token(), PATH, None, NOW + 60 + 5)
        .unwrap_err();
    assert_eq!(err, TokenError::Expired { exp: NOW + 60 });
    assert_eq!(err.reason(), "expired");
}

#[test]
fn exp_within_leeway_accepted() {
    let f = Fixture::new();
    assert!(f.verifier.verify(&f.token(), PATH, None, NOW + 60).is_ok());
    assert!(f.verifier.verify(&f.token(), PATH, None, NOW + 64).is_ok());
}

#[test]
fn leeway_is_configurable() {
    let f = Fixture::with_options(VerifierOptions {
        leeway: Duration::ZERO,
        ..Default::default()
    });
    assert!(f.verifier.verify(&f.token(), PATH, None, NOW + 59).is_ok());
    assert_eq!(
        f.verifier
            .verify(&f.token(), PATH, None, NOW + 60)
            .unwrap_err(),
        TokenError::Expired { exp: NOW + 60 }
    );
}

#[test]
fn not_yet_valid() {
    let f = Fixture::new();
    let mut c = claims();
    c.nbf = NOW + 100;
    c.exp = NOW + 200;
    let token = f.signer.sign(&c).unwrap();
    let err = f.verifier.verify(&token, PATH, None, NOW).unwrap_err();
    assert_eq!(err, TokenError::NotYetValid { nbf: NOW + 100 });
    assert_eq!(err.reason(), "not_yet_valid");
    assert!(
        f.verifier.verify(&token, PATH, None, NOW + 95).is_ok(),
        "within leeway"
    );
}

#[test]
fn forged_signature_flipped_byte() {
    let f = Fixture::new();
    let err = verify(&f, &flip_signature(&f.token())).unwrap_err();
    assert_eq!(err, TokenError::BadSignature);
    assert_eq!(err.reason(), "bad_signature");
}

#[test]
fn forged_payload_with_genuine_signature() {
    let f = Fixture::new();
    let token = f.token();
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload = claims_json();
    payload["scope"] = json!("/");
    let forged = format!("{}.{}.{}", parts[0], b64_json(&payload), parts[2]);
    assert_eq!(
        f.verifier
            .verify(&forged, "/other/a.ts", None, NOW + 1)
            .unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn forged_by_other_key_with_same_kid() {
    let f = Fixture::new();
    let other = Fixture::new();
    let token = sign_json(
        &eddsa_header(Some(f.kid.as_str())),
        &claims_json(),
        &other.encoding_key(),
    );
    assert_eq!(verify(&f, &token).unwrap_err(), TokenError::BadSignature);
}

#[test]
fn truncated_signature() {
    let f = Fixture::new();
    let token = f.token();
    let cut = &token[..token.len() - 4];
    let err = verify(&f, cut).unwrap_err();
    assert!(
        matches!(err, TokenError::BadSignature | TokenError::Malformed(_)),
        "{err:?}"
    );
    let no_sig = &token[..=token.rfind('.').unwrap()];
    let err = verify(&f, no_sig).unwrap_err();
    assert!(
        matches!(err, TokenError::BadSignature | TokenError::Malformed(_)),
        "{err:?}"
    );
}

#[test]
fn alg_none_rejected() {
    let f = Fixture::new();
    for header in [
        json!({"alg": "none", "kid": f.kid.as_str()}),
        json!({"alg": "none", "typ": "JWT", "kid": f.kid.as_str()}),
        json!({"alg": "None", "kid": f.kid.as_str()}),
    ] {
        let token = format!("{}.{}.", b64_json(&header), b64_json(&claims_json()));
        let err = verify(&f, &token).unwrap_err();
        assert!(matches!(err, TokenError::Malformed(_)), "{header}: {err:?}");
    }
}

#[test]
fn hs256_with_public_key_as_secret_rejected() {
    let f = Fixture::new();
    let x = f.jwk_x();
    let raw = URL_SAFE_NO_PAD.decode(&x).unwrap();
    let pem = std::fs::read(f.pem_path()).unwrap();
    let jwks = f.keys.jwks_json();
    let secrets: [&[u8]; 4] = [&raw, x.as_bytes(), &pem, jwks.as_bytes()];
    for secret in secrets {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(f.kid.to_string());
        let token = sign_json(&header, &claims_json(), &EncodingKey::from_secret(secret));
        assert_eq!(verify(&f, &token).unwrap_err(), TokenError::BadSignature);
    }
}

#[test]
fn other_asymmetric_alg_header_rejected() {
    let f = Fixture::new();
    let token = f.token();
    let parts: Vec<&str> = token.split('.').collect();
    for alg in ["ES256", "RS256", "PS256", "HS512"] {
        let header = json!({"alg": alg, "kid": f.kid.as_str()});
        let forged = format!("{}.{}.{}", b64_json(&header), parts[1], parts[2]);
        assert_eq!(
            verify(&f, &forged).unwrap_err(),
            TokenError::BadSignature,
            "{alg}"
        );
    }
}

#[test]
fn unknown_kid() {
    let f = Fixture::new();
    let token = sign_json(
        &eddsa_header(Some("k20990101T000000-dead")),
        &claims_json(),
        &f.encoding_key(),
    );
    let err = verify(&f, &token).unwrap_err();
    assert_eq!(err, TokenError::UnknownKid);
    assert_eq!(err.reason(), "unknown_kid");
}

#[test]
fn missing_kid() {
    let f = Fixture::new();
    let token = sign_json(&eddsa_header(None), &claims_json(), &f.encoding_key());
    assert!(matches!(
        verify(&f, &token).unwrap_err(),
        TokenError::Malformed(_)
    ));
}

#[test]
fn ill_formed_kid() {
    let f = Fixture::new();
    let long = "k".repeat(65);
    for kid in ["../../etc/passwd", "", "a b", long.as_str(), "kid\u{0}"] {
        let token = sign_json(&eddsa_header(Some(kid)), &claims_json(), &f.encoding_key());
        assert!(
            matches!(verify(&f, &token).unwrap_err(), TokenError::Malformed(_)),
            "{kid:?}"
        );
    }
}

#[test]
fn jku_and_x5u_are_ignored() {
    let f = Fixture::new();
    let other = Fixture::new();
    let mut header = eddsa_header(Some(other.kid.as_str()));
    header.jku = Some("https://attacker.invalid/jwks.json".into());
    header.x5u = Some("https://attacker.invalid/cert.pem".into());
    let token = sign_json(&header, &claims_json(), &other.encoding_key());
    assert_eq!(verify(&f, &token).unwrap_err(), TokenError::UnknownKid);
}

#[test]
fn wrong_audience_in_token() {
    let f = Fixture::new();
    let token = f.signer.sign(&claims().with_audience("other-cdn")).unwrap();
    let err = verify(&f, &token).unwrap_err();
    assert_eq!(err, TokenError::WrongAudience);
    assert_eq!(err.reason(), "wrong_audience");
}

#[test]
fn wrong_audience_configured() {
    let f = Fixture::new();
    let verifier = Verifier::new(
        &f.keys,
        VerifierOptions {
            audience: "other-cdn".into(),
            ..Default::default()
        },
    );
    let err = verifier.verify(&f.token(), PATH, None, NOW).unwrap_err();
    assert_eq!(err, TokenError::WrongAudience);
}

#[test]
fn audience_array_rejected() {
    let f = Fixture::new();
    let mut payload = claims_json();
    payload["aud"] = json!(["rilla-edge", "other"]);
    assert!(matches!(
        verify(&f, &f.sign_json(&payload)).unwrap_err(),
        TokenError::Malformed(_)
    ));
}

#[test]
fn wrong_scope_other_channel() {
    let f = Fixture::new();
    let err = f
        .verifier
        .verify(&f.token(), "/live/ch2/seg-001.ts", None, NOW)
        .unwrap_err();
    assert_eq!(err, TokenError::WrongScope);
    assert_eq!(err.reason(), "wrong_scope");
}

#[test]
fn wrong_scope_prefix_boundary() {
    let f = Fixture::new();
    for path in ["/live/ch10/seg-001.ts", "/live/ch1", "/live/ch1.m3u8", "/"] {
        assert_eq!(
            f.verifier.verify(&f.token(), path, None, NOW).unwrap_err(),
            TokenError::WrongScope,
            "{path}"
        );
    }
    assert!(
        f.verifier
            .verify(&f.token(), "/live/ch1/720p/seg-1.ts", None, NOW)
            .is_ok()
    );
}

#[test]
fn exact_scope() {
    let f = Fixture::new();
    let c = ViewerClaims::new(
        "viewer-1",
        "/vod/movie/master.m3u8",
        Duration::from_secs(60),
        NOW,
    );
    let token = f.signer.sign(&c).unwrap();
    assert!(
        f.verifier
            .verify(&token, "/vod/movie/master.m3u8", None, NOW)
            .is_ok()
    );
    for path in [
        "/vod/movie/other.m3u8",
        "/vod/movie/master.m3u8/x",
        "/vod/movie/",
    ] {
        assert_eq!(
            f.verifier.verify(&token, path, None, NOW).unwrap_err(),
            TokenError::WrongScope
        );
    }
}

#[test]
fn tampered_paths() {
    let f = Fixture::new();
    for path in [
        "/live/ch1/../ch2/a.ts",
        "/live/ch1/%2e%2e/ch2/a.ts",
        "/live/ch1/%2E%2E/ch2/a.ts",
        "/live/ch1/..%2Fch2/a.ts",
        "/live/ch1%2F..%2Fch2/a.ts",
        "/live/ch1/./a.ts",
        "/live/ch1/..;/ch2/a.ts",
        "/live/ch1/%5c../a.ts",
        "/live/ch1/%252e%252e/ch2/a.ts",
        "/live/ch1\\..\\ch2\\a.ts",
        "live/ch1/a.ts",
    ] {
        let err = f.verifier.verify(&f.token(), path, None, NOW).unwrap_err();
        assert_eq!(err, TokenError::TamperedPath, "{path}");
        assert_eq!(err.reason(), "tampered_path");
    }
}

#[test]
fn exp_as_string_rejected() {
    let f = Fixture::new();
    let mut payload = claims_json();
    payload["exp"] = json!((NOW + 60).to_string());
    assert!(matches!(
        verify(&f, &f.sign_json(&payload)).unwrap_err(),
        TokenError::Malformed(_)
    ));
}

#[test]
fn nbf_as_string_rejected() {
    let f = Fixture::new();
    let mut payload = claims_json();
    payload["nbf"] = json!("99999999999");
    assert!(matches!(
        verify(&f, &f.sign_json(&payload)).unwrap_err(),
        TokenError::Malformed(_)
    ));
}

#[test]
fn times_with_other_wrong_types_rejected() {
    let f = Fixture::new();
    for (claim, value) in [
        ("iat", json!("1800000000")),
        ("exp", json!(1.8e9 + 60.5)),
        ("exp", json!(-1)),
        ("nbf", json!(null)),
        ("exp", json!([NOW + 60])),
        ("sub", json!(42)),
        ("scope", json!(["/live/ch1/"])),
    ] {
        let mut payload = claims_json();
        payload[claim] = value.clone();
        let err = verify(&f, &f.sign_json(&payload)).unwrap_err();
        assert!(
            matches!(err, TokenError::Malformed(_)),
            "{claim}={value}: {err:?}"
        );
    }
}

#[test]
fn missing_claims_rejected() {
    let f = Fixture::new();
    for claim in ["sub", "scope", "iat", "exp", "nbf", "aud"] {
        let mut payload = claims_json();
        payload.as_object_mut().unwrap().remove(claim);
        let err = verify(&f, &f.sign_json(&payload)).unwrap_err();
        assert!(matches!(err, TokenError::Malformed(_)), "{claim}: {err:?}");
    }
}

#[test]
fn invalid_claim_values_rejected_even_when_signed() {
    let f = Fixture::new();
    for (claim, value) in [
        ("sub", json!("")),
        ("sub", json!("a/b")),
        ("scope", json!("/live/../")),
        ("scope", json!("live/")),
        ("ipp", json!("not-a-prefix")),
        ("sid", json!("with space")),
    ] {
        let mut payload = claims_json();
        payload[claim] = value.clone();
        let err = verify(&f, &f.sign_json(&payload)).unwrap_err();
        assert!(
            matches!(err, TokenError::Malformed(_)),
            "{claim}={value}: {err:?}"
        );
    }
}

#[test]
fn unknown_claims_are_ignored() {
    let f = Fixture::new();
    let mut payload = claims_json();
    payload["x-extra"] = json!({"nested": true});
    assert!(verify(&f, &f.sign_json(&payload)).is_ok());
}

#[test]
fn oversized_token_rejected() {
    let f = Fixture::new();
    let mut payload = claims_json();
    payload["pad"] = json!("p".repeat(MAX_TOKEN_LEN));
    let token = f.sign_json(&payload);
    assert!(token.len() > MAX_TOKEN_LEN);
    assert_eq!(
        verify(&f, &token).unwrap_err(),
        TokenError::Malformed("longer than 4096 bytes")
    );
    let junk = "x".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(
        verify(&f, &junk).unwrap_err(),
        TokenError::Malformed("longer than 4096 bytes")
    );
}

#[test]
fn missing_token() {
    let f = Fixture::new();
    let err = verify(&f, "").unwrap_err();
    assert_eq!(err, TokenError::Missing);
    assert_eq!(err.reason(), "missing");
}

#[test]
fn garbage_strings() {
    let f = Fixture::new();
    for garbage in [
        "x",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "..",
        "...",
        "eyJ.eyJ.",
        "eyJhbGciOiJFZERTQSJ9",
        "not a token at all",
        "\u{0}\u{1}\u{2}",
        "ü.ö.ä",
        "%7B%7D.%7B%7D.",
    ] {
        let err = verify(&f, garbage).unwrap_err();
        assert!(
            matches!(err, TokenError::Malformed(_)),
            "{garbage:?}: {err:?}"
        );
    }
}

#[test]
fn ipv4_prefix_binding() {
    let f = Fixture::new();
    let token = f
        .signer
        .sign(&claims().with_client_ip("203.0.113.7".parse().unwrap()))
        .unwrap();
    let check = |client: Option<IpAddr>| f.verifier.verify(&token, PATH, client, NOW);
    assert!(check(ip("203.0.113.7")).is_ok());
    assert!(check(ip("203.0.113.255")).is_ok());
    assert!(check(ip("::ffff:203.0.113.9")).is_ok(), "IPv4-mapped IPv6");
    for other in ["203.0.114.7", "10.0.0.1", "2001:db8::1"] {
        let err = check(ip(other)).unwrap_err();
        assert_eq!(err, TokenError::WrongClient, "{other}");
        assert_eq!(err.reason(), "wrong_client");
    }
    assert_eq!(check(None).unwrap_err(), TokenError::WrongClient);
}

#[test]
fn ipv6_prefix_binding() {
    let f = Fixture::new();
    let token = f
        .signer
        .sign(&claims().with_client_ip("2001:db8:1:2::5".parse().unwrap()))
        .unwrap();
    let check = |client: Option<IpAddr>| f.verifier.verify(&token, PATH, client, NOW);
    assert!(check(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")).is_ok());
    for other in ["2001:db8:1:3::5", "2001:db9:1:2::5", "203.0.113.7"] {
        assert_eq!(
            check(ip(other)).unwrap_err(),
            TokenError::WrongClient,
            "{other}"
        );
    }
    assert_eq!(check(None).unwrap_err(), TokenError::WrongClient);
}

#[test]
fn unbound_token_ignores_client_ip() {
    let f = Fixture::new();
    assert!(
        f.verifier
            .verify(&f.token(), PATH, ip("198.51.100.1"), NOW)
            .is_ok()
    );
}

#[test]
fn verify_only_key_set_from_jwks() {
    let f = Fixture::new();
    let peer_keys = KeySet::from_jwks(&f.keys.jwks_json()).unwrap();
    let peer = Verifier::new(&peer_keys, VerifierOptions::default());
    assert!(peer.verify(&f.token(), PATH, None, NOW).is_ok());
}

#[test]
fn reasons_are_stable_and_distinct() {
    let all = [
        TokenError::Missing,
        TokenError::Malformed("x"),
        TokenError::UnknownKid,
        TokenError::BadSignature,
        TokenError::Expired { exp: 1 },
        TokenError::NotYetValid { nbf: 1 },
        TokenError::WrongAudience,
        TokenError::WrongScope,
        TokenError::WrongClient,
        TokenError::TamperedPath,
    ];
    let reasons: Vec<&str> = all.iter().map(TokenError::reason).collect();
    assert_eq!(reasons, TokenError::REASONS);
    for e in &all {
        assert!(!e.to_string().is_empty());
    }
}
