//! Checking tokens on requests.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};

use crate::claims::{DEFAULT_AUDIENCE, ViewerClaims};
use crate::error::TokenError;
use crate::keys::{KeySet, Kid};
use crate::path;

/// Longest token accepted, in bytes. Longer tokens are rejected as
/// [`TokenError::Malformed`] before any decoding.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Default clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

/// Default number of verified tokens kept in the cache.
pub const DEFAULT_CACHE_CAPACITY: usize = 100_000;

/// Settings of a [`Verifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierOptions {
    /// The `aud` value tokens must carry. Default [`DEFAULT_AUDIENCE`].
    pub audience: String,
    /// Clock-skew allowance applied to `exp` and `nbf`, rounded down to
    /// whole seconds. Default [`DEFAULT_LEEWAY`] (5 s); keep it at 10 s or
    /// less and run NTP instead.
    pub leeway: Duration,
    /// How many verified tokens to remember so that repeat requests skip the
    /// signature check; 0 disables the cache. Default
    /// [`DEFAULT_CACHE_CAPACITY`].
    pub cache_capacity: usize,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        Self {
            audience: DEFAULT_AUDIENCE.to_owned(),
            leeway: DEFAULT_LEEWAY,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
        }
    }
}

/// What a signature check establishes, shared between cache and callers.
#[derive(Debug)]
struct Decoded {
    claims: ViewerClaims,
    kid: Kid,
    ipp: Option<IpNet>,
}

/// A token that passed every check for one request.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    inner: Arc<Decoded>,
    from_cache: bool,
}

impl VerifiedToken {
    /// The token's claims.
    #[must_use]
    pub fn claims(&self) -> &ViewerClaims {
        &self.inner.claims
    }

    /// The key that signed the token.
    #[must_use]
    pub fn kid(&self) -> &Kid {
        &self.inner.kid
    }

    /// Whether the signature check was skipped because the same token had
    /// been verified before.
    #[must_use]
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }
}

/// Verifies viewer tokens against the public keys of a [`KeySet`].
///
/// A `Verifier` is `Send + Sync` and meant to be shared by all request
/// handlers. Its key set is fixed: to rotate keys, build a new `Verifier`
/// (which also starts with an empty cache) and swap it in.
pub struct Verifier {
    keys: BTreeMap<Kid, DecodingKey>,
    validation: Validation,
    leeway: u64,
    cache: Option<Cache<[u8; 32], Arc<Decoded>>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("audience", &self.validation.aud)
            .field("leeway", &self.leeway)
            .field("cached_tokens", &self.cached_tokens())
            .finish()
    }
}

impl Verifier {
    /// A verifier accepting tokens signed by any public key in `keys`.
    #[must_use]
    pub fn new(keys: &KeySet, options: VerifierOptions) -> Verifier {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "sub"]);
        validation.set_audience(&[options.audience]);
        // Times are checked by `check_time` against the caller's `now`, for
        // cached tokens too; the library would read the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Verifier {
            keys: keys
                .public_keys()
                .map(|(kid, key)| (kid.clone(), key.decoding.clone()))
                .collect(),
            validation,
            leeway: options.leeway.as_secs(),
            cache: (options.cache_capacity > 0).then(|| Cache::new(options.cache_capacity)),
        }
    }

    /// Checks `token` for a request of `path` (the URL path without query)
    /// from `client_ip` at `now` (Unix seconds, see [`unix_now`](crate::unix_now)).
    ///
    /// In order: the token is present and at most [`MAX_TOKEN_LEN`] bytes;
    /// `path` is clean (no dot segments or encoded separators); then, unless
    /// the same token is cached, header (`alg` must be EdDSA, `kid` known),
    /// signature, audience and claim types; then on every call `exp`/`nbf`
    /// with the leeway, the scope, and the IP prefix when the token has one
    /// (an unknown `client_ip` fails a bound token).
    ///
    /// # Errors
    /// The [`TokenError`] naming the first failed check.
    pub fn verify(
        &self,
        token: &str,
        path: &str,
        client_ip: Option<IpAddr>,
        now: u64,
    ) -> Result<VerifiedToken, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("longer than 4096 bytes"));
        }
        path::check_clean(path).map_err(|_| TokenError::TamperedPath)?;

        let (decoded, from_cache) = match &self.cache {
            None => (Arc::new(self.decode(token)?), false),
            Some(cache) => {
                let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
                if let Some(decoded) = cache.get(&key) {
                    (decoded, true)
                } else {
                    let decoded = Arc::new(self.decode(token)?);
                    self.check_time(&decoded.claims, now)?;
                    cache.insert(key, Arc::clone(&decoded));
                    (decoded, false)
                }
            }
        };

        self.check_time(&decoded.claims, now)?;
        if !path::scope_covers(&decoded.claims.scope, path) {
            return Err(TokenError::WrongScope);
        }
        if let Some(net) = decoded.ipp {
            match client_ip {
                Some(ip) if net.contains(&ip.to_canonical()) => {}
                _ => return Err(TokenError::WrongClient),
            }
        }
        Ok(VerifiedToken {
            inner: decoded,
            from_cache,
        })
    }

    /// Number of tokens currently in the verified-token cache.
    #[must_use]
    pub fn cached_tokens(&self) -> usize {
        self.cache.as_ref().map_or(0, Cache::len)
    }

    /// Header, key lookup, signature, audience and claim formats.
    fn decode(&self, token: &str) -> Result<Decoded, TokenError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| TokenError::Malformed("header is not a JWT header with a known alg"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::BadSignature);
        }
        let kid = header
            .kid
            .ok_or(TokenError::Malformed("header has no kid"))?;
        let kid =
            Kid::new(kid).map_err(|_| TokenError::Malformed("kid is not 1-64 of [A-Za-z0-9_-]"))?;
        let key = self.keys.get(&kid).ok_or(TokenError::UnknownKid)?;
        let claims = jsonwebtoken::decode::<ViewerClaims>(token, key, &self.validation)
            .map_err(|e| map_jwt_error(e.kind()))?
            .claims;
        claims
            .validate()
            .map_err(|_| TokenError::Malformed("a claim has an invalid value"))?;
        let ipp = claims
            .ip_prefix()
            .map_err(|_| TokenError::Malformed("ipp is not a prefix"))?;
        Ok(Decoded { claims, kid, ipp })
    }

    fn check_time(&self, claims: &ViewerClaims, now: u64) -> Result<(), TokenError> {
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(TokenError::Expired { exp: claims.exp });
        }
        if claims.nbf > now.saturating_add(self.leeway) {
            return Err(TokenError::NotYetValid { nbf: claims.nbf });
        }
        Ok(())
    }
}

fn map_jwt_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => TokenError::BadSignature,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidToken => TokenError::Malformed("not three dot-separated parts"),
        ErrorKind::Base64(_) => TokenError::Malformed("a part is not unpadded base64url"),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            TokenError::Malformed("claims lack a required field or have a wrong type")
        }
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
            TokenError::Malformed("a required claim is missing or has a wrong type")
        }
        _ => TokenError::Malformed("not a valid viewer token"),
    }
}
