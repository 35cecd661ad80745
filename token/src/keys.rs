//! Key ids, key sets, key directories and JWKS.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::ed25519::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::ed25519::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::Deserialize;
use serde_json::json;

use crate::claims::is_id;
use crate::error::KeyError;

/// Name of the public key set inside a key directory.
pub const JWKS_FILE: &str = "jwks.json";

/// How many times key generation retries when a fresh kid is already taken.
const KID_ATTEMPTS: usize = 8;

/// A key id: 1-64 characters of `[A-Za-z0-9_-]`.
///
/// Generated ids look like `k20260301T120000-3fa9` (UTC creation time plus
/// four random hex digits), so sorting them sorts keys by age.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kid(String);

impl Kid {
    /// Validates and wraps a key id.
    ///
    /// # Errors
    /// [`KeyError::InvalidKid`] if `kid` is empty, longer than 64 characters
    /// or contains characters other than `[A-Za-z0-9_-]`.
    pub fn new(kid: impl Into<String>) -> Result<Kid, KeyError> {
        let kid = kid.into();
        if is_id(&kid) {
            Ok(Kid(kid))
        } else {
            Err(KeyError::InvalidKid(kid))
        }
    }

    /// The key id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fresh id for a key created at `now`.
    fn generate(now: SystemTime) -> Result<Kid, KeyError> {
        let stamp: String = humantime::format_rfc3339_seconds(now)
            .to_string()
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == 'T')
            .collect();
        let mut suffix = [0u8; 2];
        getrandom::getrandom(&mut suffix).map_err(|e| KeyError::Random(e.to_string()))?;
        Kid::new(format!("k{stamp}-{:04x}", u16::from_be_bytes(suffix)))
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Kid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Kid {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for Kid {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kid::new(s)
    }
}

/// A private key able to sign, with its public half.
#[derive(Clone)]
pub(crate) struct PrivateKey {
    pub(crate) encoding: EncodingKey,
    pub(crate) public: [u8; 32],
}

/// A public key able to verify.
#[derive(Clone)]
pub(crate) struct PublicKey {
    pub(crate) x: [u8; 32],
    pub(crate) decoding: DecodingKey,
}

impl PublicKey {
    fn from_bytes(x: [u8; 32]) -> Result<Self, KeyError> {
        VerifyingKey::from_bytes(&x)
            .map_err(|_| KeyError::InvalidJwks("x is not a valid Ed25519 public key".into()))?;
        Ok(Self {
            x,
            decoding: DecodingKey::from_ed_der(&x),
        })
    }
}

/// A set of Ed25519 keys identified by kid: private keys to sign with and
/// public keys to verify with. Several keys are held at once so that keys
/// can be rotated with an overlap.
///
/// On disk a key set is a directory holding `<kid>.pem` files (PKCS#8 PEM
/// private keys, mode 0600) and [`JWKS_FILE`], the public keys of every key
/// that verifies. Verification uses exactly the keys in `jwks.json`; signing
/// uses a private key, which must also be listed there.
#[derive(Clone)]
pub struct KeySet {
    private: BTreeMap<Kid, PrivateKey>,
    public: BTreeMap<Kid, PublicKey>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("signing", &self.private.keys().collect::<Vec<_>>())
            .field("verifying", &self.public.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeySet {
    /// Loads a key directory: `jwks.json` (required, at least one key) and
    /// every `<kid>.pem` file. Hidden files and other files are ignored.
    ///
    /// # Errors
    /// I/O errors, an invalid JWKS or private key, a `.pem` file whose name is
    /// not a valid kid, [`KeyError::NoVerificationKeys`], or
    /// [`KeyError::PublicKeyMismatch`] when a private key disagrees with the
    /// JWKS entry of the same kid.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<KeySet, KeyError> {
        let dir = dir.as_ref();
        let jwks_path = dir.join(JWKS_FILE);
        let jwks = fs::read_to_string(&jwks_path).map_err(io_err(&jwks_path))?;
        let public = parse_jwks(&jwks)?;
        if public.is_empty() {
            return Err(KeyError::NoVerificationKeys);
        }
        let mut private = BTreeMap::new();
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".pem") else {
                continue;
            };
            if name.starts_with('.') || !fs::metadata(&path).map_err(io_err(&path))?.is_file() {
                continue;
            }
            let kid = Kid::new(stem)?;
            let key = read_private_key(&path)?;
            if public.get(&kid).is_some_and(|p| p.x != key.public) {
                return Err(KeyError::PublicKeyMismatch(kid));
            }
            private.insert(kid, key);
        }
        Ok(KeySet { private, public })
    }

    /// Creates a new key in `dir` (creating the directory, mode 0700, if
    /// needed): writes `<kid>.pem` (mode 0600) and rewrites `jwks.json` with
    /// the existing entries plus the new public key. Returns the new kid.
    ///
    /// The new key becomes the signing key of the directory, since it has the
    /// greatest kid. Do not create two keys within the same second: their
    /// order would then be random.
    ///
    /// # Errors
    /// I/O errors, an existing `jwks.json` that does not parse, or a failing
    /// random number generator.
    pub fn generate_into_dir(dir: impl AsRef<Path>) -> Result<Kid, KeyError> {
        let dir = dir.as_ref();
        create_private_dir(dir)?;
        let jwks_path = dir.join(JWKS_FILE);
        let mut public = match fs::read_to_string(&jwks_path) {
            Ok(text) => parse_jwks(&text)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io_err(&jwks_path)(e)),
        };
        let (kid, pem_path) = fresh_kid(dir, &public)?;
        let signing = random_signing_key()?;
        let pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        write_new_private_file(&pem_path, pem.as_bytes())?;
        public.insert(
            kid.clone(),
            PublicKey::from_bytes(signing.verifying_key().to_bytes())?,
        );
        let set = KeySet {
            private: BTreeMap::new(),
            public,
        };
        write_atomically(&jwks_path, set.jwks_json().as_bytes())?;
        Ok(kid)
    }

    /// A verify-only key set from a JWKS document (as served at
    /// `/.well-known/jwks.json`). Every entry must be an Ed25519 key
    /// (`kty` "OKP", `crv` "Ed25519", base64url `x`, a valid `kid`, and if
    /// present `alg` "EdDSA" and `use` "sig").
    ///
    /// # Errors
    /// [`KeyError::InvalidJwks`] or [`KeyError::NoVerificationKeys`].
    pub fn from_jwks(json: &str) -> Result<KeySet, KeyError> {
        let public = parse_jwks(json)?;
        if public.is_empty() {
            return Err(KeyError::NoVerificationKeys);
        }
        Ok(KeySet {
            private: BTreeMap::new(),
            public,
        })
    }

    /// A key set holding one freshly generated key, in memory only, that
    /// both signs and verifies. For tests, benchmarks and throw-away setups.
    ///
    /// # Errors
    /// [`KeyError::Random`] if the random number generator fails.
    pub fn generate_in_memory() -> Result<KeySet, KeyError> {
        let kid = Kid::generate(SystemTime::now())?;
        let signing = random_signing_key()?;
        let key = private_key(&signing)?;
        let public = PublicKey::from_bytes(key.public)?;
        Ok(KeySet {
            private: BTreeMap::from([(kid.clone(), key)]),
            public: BTreeMap::from([(kid, public)]),
        })
    }

    /// The public keys as a JWKS document (pretty-printed JSON, keys sorted
    /// by kid), as written to `jwks.json` and served to peers. Never
    /// contains private material.
    #[must_use]
    pub fn jwks_json(&self) -> String {
        let keys: Vec<_> = self
            .public
            .iter()
            .map(|(kid, key)| {
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(key.x),
                    "kid": kid.as_str(),
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        format!("{:#}\n", json!({ "keys": keys }))
    }

    /// Kids of the private keys, oldest (smallest) first.
    pub fn signing_kids(&self) -> impl Iterator<Item = &Kid> {
        self.private.keys()
    }

    /// Kids of the public keys used for verification, smallest first.
    pub fn verification_kids(&self) -> impl Iterator<Item = &Kid> {
        self.public.keys()
    }

    /// The kid that signs by default: the greatest kid with a private key.
    #[must_use]
    pub fn newest_signing_kid(&self) -> Option<&Kid> {
        self.private.keys().next_back()
    }

    pub(crate) fn private_key(&self, kid: &str) -> Option<(&Kid, &PrivateKey)> {
        self.private.get_key_value(kid)
    }

    pub(crate) fn public_key(&self, kid: &str) -> Option<&PublicKey> {
        self.public.get(kid)
    }

    pub(crate) fn public_keys(&self) -> impl Iterator<Item = (&Kid, &PublicKey)> {
        self.public.iter()
    }
}

#[derive(Deserialize)]
struct JwksDoc {
    keys: Vec<JwkEntry>,
}

#[derive(Deserialize)]
struct JwkEntry {
    kty: String,
    crv: String,
    x: String,
    kid: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
}

fn parse_jwks(json: &str) -> Result<BTreeMap<Kid, PublicKey>, KeyError> {
    let doc: JwksDoc =
        serde_json::from_str(json).map_err(|e| KeyError::InvalidJwks(e.to_string()))?;
    let mut keys = BTreeMap::new();
    for entry in doc.keys {
        let kid = Kid::new(entry.kid)?;
        let bad = |what: &str| KeyError::InvalidJwks(format!("key {kid}: {what}"));
        if entry.kty != "OKP" || entry.crv != "Ed25519" {
            return Err(bad("only kty \"OKP\" with crv \"Ed25519\" is supported"));
        }
        if entry.alg.as_deref().is_some_and(|a| a != "EdDSA") {
            return Err(bad("alg must be \"EdDSA\""));
        }
        if entry.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(bad("use must be \"sig\""));
        }
        let x: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&entry.x)
            .ok()
            .and_then(|x| x.try_into().ok())
            .ok_or_else(|| bad("x must be 32 bytes in unpadded base64url"))?;
        let key = PublicKey::from_bytes(x).map_err(|_| bad("x is not a valid Ed25519 point"))?;
        if keys.insert(kid.clone(), key).is_some() {
            return Err(KeyError::InvalidJwks(format!("duplicate kid {kid}")));
        }
    }
    Ok(keys)
}

fn random_signing_key() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

fn private_key(signing: &SigningKey) -> Result<PrivateKey, KeyError> {
    let der = signing
        .to_pkcs8_der()
        .map_err(|e| KeyError::Encode(e.to_string()))?;
    Ok(PrivateKey {
        encoding: EncodingKey::from_ed_der(der.as_bytes()),
        public: signing.verifying_key().to_bytes(),
    })
}

fn read_private_key(path: &Path) -> Result<PrivateKey, KeyError> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    let signing = SigningKey::from_pkcs8_pem(&text).map_err(|_| KeyError::InvalidPrivateKey {
        path: path.to_owned(),
    })?;
    private_key(&signing)
}

fn fresh_kid(dir: &Path, public: &BTreeMap<Kid, PublicKey>) -> Result<(Kid, PathBuf), KeyError> {
    for _ in 0..KID_ATTEMPTS {
        let kid = Kid::generate(SystemTime::now())?;
        let pem_path = dir.join(format!("{kid}.pem"));
        if !public.contains_key(&kid) && !pem_path.exists() {
            return Ok((kid, pem_path));
        }
    }
    Err(KeyError::Io {
        path: dir.to_owned(),
        source: io::Error::new(io::ErrorKind::AlreadyExists, "could not pick an unused kid"),
    })
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_err(dir))
}

fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io_err(path))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io_err(path))
}

fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let tmp = path.with_file_name(format!(".{JWKS_FILE}.{}.tmp", std::process::id()));
    let result = fs::File::create(&tmp)
        .and_then(|mut file| file.write_all(contents).and_then(|()| file.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_format() {
        let kid =
            Kid::generate(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_772_366_400))
                .unwrap();
        let s = kid.as_str();
        assert!(s.starts_with("k20260301T120000-"), "{s}");
        assert_eq!(s.len(), "k20260301T120000-0000".len());
        assert!(Kid::new("a/b").is_err());
        assert!(Kid::new("").is_err());
        assert!(Kid::new("x".repeat(65)).is_err());
    }

    #[test]
    fn jwks_round_trip() {
        let set = KeySet::generate_in_memory().unwrap();
        let json = set.jwks_json();
        assert!(!json.contains("\"d\""));
        let back = KeySet::from_jwks(&json).unwrap();
        assert_eq!(back.jwks_json(), json);
        assert_eq!(back.signing_kids().count(), 0);
    }

    #[test]
    fn jwks_rejections() {
        for bad in [
            "{}",
            r#"{"keys":[]}"#,
            r#"{"keys":[{"kty":"RSA","crv":"Ed25519","x":"AAAA","kid":"a"}]}"#,
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"a"}]}"#,
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"../x"}]}"#,
        ] {
            assert!(KeySet::from_jwks(bad).is_err(), "{bad}");
        }
    }
}
