//! Shared fixtures for the integration tests.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rilla_token::{KeySet, Kid, Signer, Verifier, VerifierOptions, ViewerClaims};
use serde_json::Value;
use tempfile::TempDir;

/// A fixed "current time" for tests, far from the real clock on purpose.
pub const NOW: u64 = 1_800_000_000;

/// A key directory with one key, its signer and a default verifier.
pub struct Fixture {
    pub dir: TempDir,
    pub kid: Kid,
    pub keys: KeySet,
    pub signer: Signer,
    pub verifier: Verifier,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_options(VerifierOptions::default())
    }

    pub fn with_options(options: VerifierOptions) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let kid = KeySet::generate_into_dir(dir.path()).unwrap();
        let keys = KeySet::load_dir(dir.path()).unwrap();
        let signer = Signer::new(&keys, None).unwrap();
        let verifier = Verifier::new(&keys, options);
        Fixture {
            dir,
            kid,
            keys,
            signer,
            verifier,
        }
    }

    pub fn pem_path(&self) -> PathBuf {
        self.dir.path().join(format!("{}.pem", self.kid))
    }

    /// The private key as a `jsonwebtoken` key, to sign hand-made payloads.
    pub fn encoding_key(&self) -> EncodingKey {
        encoding_key(&self.pem_path())
    }

    /// A valid token for `claims()` signed by the fixture's key.
    pub fn token(&self) -> String {
        self.signer.sign(&claims()).unwrap()
    }

    /// Signs an arbitrary JSON payload with the fixture's key under its kid.
    pub fn sign_json(&self, payload: &Value) -> String {
        sign_json(
            &eddsa_header(Some(self.kid.as_str())),
            payload,
            &self.encoding_key(),
        )
    }

    /// The `x` member of the fixture key's JWKS entry.
    pub fn jwk_x(&self) -> String {
        let jwks: Value = serde_json::from_str(&self.keys.jwks_json()).unwrap();
        jwks["keys"][0]["x"].as_str().unwrap().to_owned()
    }
}

pub fn encoding_key(pem_path: &Path) -> EncodingKey {
    EncodingKey::from_ed_pem(&fs::read(pem_path).unwrap()).unwrap()
}

pub fn eddsa_header(kid: Option<&str>) -> Header {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = kid.map(str::to_owned);
    header
}

pub fn sign_json(header: &Header, payload: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, payload, key).unwrap()
}

/// `claims()` as JSON, for tests that alter single members.
pub fn claims_json() -> Value {
    serde_json::to_value(claims()).unwrap()
}

/// Viewer `viewer-1` on `/live/ch1/` for 60 s from [`NOW`].
pub fn claims() -> ViewerClaims {
    ViewerClaims::new("viewer-1", "/live/ch1/", Duration::from_secs(60), NOW)
}

/// Base64url (no padding) of a JSON value.
pub fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Replaces one character in the signature part with another base64url
/// character, so that the signature decodes to different bytes.
pub fn flip_signature(token: &str) -> String {
    let sig_start = token.rfind('.').unwrap() + 1;
    let mut bytes = token.as_bytes().to_vec();
    let i = sig_start + 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}
