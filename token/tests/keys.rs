//! Key directories, JWKS and rotation.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;

use common::{NOW, claims, claims_json, eddsa_header, encoding_key, sign_json};
use rilla_token::{JWKS_FILE, KeyError, KeySet, Signer, TokenError, Verifier, VerifierOptions};
use serde_json::Value;

const PATH: &str = "/live/ch1/a.ts";

fn jwks(dir: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(dir.join(JWKS_FILE)).unwrap()).unwrap()
}

fn verifier(dir: &Path) -> Verifier {
    Verifier::new(&KeySet::load_dir(dir).unwrap(), VerifierOptions::default())
}

/// Removes `kid` from the directory's jwks.json.
fn unpublish(dir: &Path, kid: &str) {
    let mut doc = jwks(dir);
    doc["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k["kid"] != kid);
    fs::write(dir.join(JWKS_FILE), doc.to_string()).unwrap();
}

#[test]
fn keygen_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let kid = KeySet::generate_into_dir(&dir).unwrap();
    let pem_path = dir.join(format!("{kid}.pem"));
    let pem = fs::read_to_string(&pem_path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&pem_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o077, 0);
    }
    let doc = jwks(&dir);
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = keys[0].as_object().unwrap();
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kid"], kid.as_str());
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["x"].as_str().unwrap().len(), 43);
    assert!(!key.contains_key("d"), "private part leaked into JWKS");
    let kid_text = kid.as_str();
    assert!(kid_text.starts_with('k') && kid_text.len() == 21 && kid_text.as_bytes()[9] == b'T');
}

#[test]
fn keygen_appends_and_newest_signs() {
    let tmp = tempfile::tempdir().unwrap();
    let first = KeySet::generate_into_dir(tmp.path()).unwrap();
    let second = KeySet::generate_into_dir(tmp.path()).unwrap();
    assert_ne!(first, second);
    let doc = jwks(tmp.path());
    let kids: Vec<&str> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&first.as_str()) && kids.contains(&second.as_str()));

    let keys = KeySet::load_dir(tmp.path()).unwrap();
    assert_eq!(keys.signing_kids().count(), 2);
    assert_eq!(keys.verification_kids().count(), 2);
    let newest = first.clone().max(second.clone());
    assert_eq!(Signer::new(&keys, None).unwrap().kid(), &newest);
    assert_eq!(
        Signer::new(&keys, Some(first.as_str())).unwrap().kid(),
        &first
    );
    assert!(matches!(
        Signer::new(&keys, Some("k1")),
        Err(KeyError::UnknownSigningKid(_))
    ));
}

#[test]
fn rotation_old_key_verifies_until_removed_from_jwks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let old = KeySet::generate_into_dir(dir).unwrap();
    let old_token = Signer::new(&KeySet::load_dir(dir).unwrap(), None)
        .unwrap()
        .sign(&claims())
        .unwrap();

    let new = KeySet::generate_into_dir(dir).unwrap();
    let keys = KeySet::load_dir(dir).unwrap();
    let new_token = Signer::new(&keys, Some(new.as_str()))
        .unwrap()
        .sign(&claims())
        .unwrap();
    let v = verifier(dir);
    assert_eq!(v.verify(&old_token, PATH, None, NOW).unwrap().kid(), &old);
    assert_eq!(v.verify(&new_token, PATH, None, NOW).unwrap().kid(), &new);

    // Retire: the private key goes, the public key stays for the overlap.
    fs::remove_file(dir.join(format!("{old}.pem"))).unwrap();
    let v = verifier(dir);
    assert!(v.verify(&old_token, PATH, None, NOW).is_ok());

    // End of overlap: the public key goes too.
    unpublish(dir, old.as_str());
    let v = verifier(dir);
    assert_eq!(
        v.verify(&old_token, PATH, None, NOW).unwrap_err(),
        TokenError::UnknownKid
    );
    assert!(v.verify(&new_token, PATH, None, NOW).is_ok());
}

#[test]
fn signer_refuses_unpublished_key() {
    let tmp = tempfile::tempdir().unwrap();
    let old = KeySet::generate_into_dir(tmp.path()).unwrap();
    let new = KeySet::generate_into_dir(tmp.path()).unwrap();
    unpublish(tmp.path(), new.as_str());
    let keys = KeySet::load_dir(tmp.path()).unwrap();
    let err = Signer::new(&keys, Some(new.as_str())).unwrap_err();
    assert!(
        matches!(err, KeyError::SigningKeyNotPublished(ref k) if *k == new),
        "{err}"
    );
    assert!(Signer::new(&keys, Some(old.as_str())).is_ok());
}

#[test]
fn mismatched_jwks_entry_is_refused() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let kid_a = KeySet::generate_into_dir(a.path()).unwrap();
    let kid_b = KeySet::generate_into_dir(b.path()).unwrap();
    // a's jwks.json now claims b's public key under a's kid.
    let text = fs::read_to_string(b.path().join(JWKS_FILE)).unwrap();
    fs::write(
        a.path().join(JWKS_FILE),
        text.replace(kid_b.as_str(), kid_a.as_str()),
    )
    .unwrap();
    let err = KeySet::load_dir(a.path()).unwrap_err();
    assert!(
        matches!(err, KeyError::PublicKeyMismatch(ref k) if *k == kid_a),
        "{err}"
    );
}

#[test]
fn load_dir_errors() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        KeySet::load_dir(tmp.path()),
        Err(KeyError::Io { .. })
    ));
    fs::write(tmp.path().join(JWKS_FILE), r#"{"keys":[]}"#).unwrap();
    assert!(matches!(
        KeySet::load_dir(tmp.path()),
        Err(KeyError::NoVerificationKeys)
    ));

    let kid = KeySet::generate_into_dir(tmp.path()).unwrap();
    fs::write(tmp.path().join(format!("{kid}.pem")), "not a key").unwrap();
    assert!(matches!(
        KeySet::load_dir(tmp.path()),
        Err(KeyError::InvalidPrivateKey { .. })
    ));
}

#[test]
fn hidden_and_unrelated_files_are_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    KeySet::generate_into_dir(tmp.path()).unwrap();
    fs::write(tmp.path().join(".hidden.pem"), "junk").unwrap();
    fs::write(tmp.path().join("README.txt"), "junk").unwrap();
    fs::create_dir(tmp.path().join("old.pem")).unwrap();
    assert_eq!(
        KeySet::load_dir(tmp.path()).unwrap().signing_kids().count(),
        1
    );
}

#[test]
fn keygen_refuses_corrupt_jwks() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join(JWKS_FILE), "{ not json").unwrap();
    assert!(matches!(
        KeySet::generate_into_dir(tmp.path()),
        Err(KeyError::InvalidJwks(_))
    ));
    assert_eq!(
        fs::read_to_string(tmp.path().join(JWKS_FILE)).unwrap(),
        "{ not json"
    );
}

#[test]
fn from_jwks_is_verify_only() {
    let tmp = tempfile::tempdir().unwrap();
    let kid = KeySet::generate_into_dir(tmp.path()).unwrap();
    let keys = KeySet::load_dir(tmp.path()).unwrap();
    let peer = KeySet::from_jwks(&keys.jwks_json()).unwrap();
    assert!(matches!(
        Signer::new(&peer, None),
        Err(KeyError::NoSigningKey)
    ));
    let token = sign_json(
        &eddsa_header(Some(kid.as_str())),
        &claims_json(),
        &encoding_key(&tmp.path().join(format!("{kid}.pem"))),
    );
    let v = Verifier::new(&peer, VerifierOptions::default());
    assert!(v.verify(&token, PATH, None, NOW).is_ok());
}
