//! Error types.

use std::path::PathBuf;

use crate::keys::Kid;

/// Why a request's token was rejected.
///
/// Every variant has a stable [`reason`](TokenError::reason) string meant for
/// HTTP 403 bodies, logs and metrics labels; the `Display` text is for
/// operators. New variants may be added, so match with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The request carried no token (or an empty one).
    #[error("no token in the request")]
    Missing,
    /// The token is not a well-formed viewer token: wrong shape, too long,
    /// bad base64 or JSON, a missing or wrongly typed claim, a missing or
    /// ill-formed `kid`, or an unsupported header (`alg: none` lands here).
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The token names a key id that is not in the verification key set
    /// (never issued here, or retired and removed from `jwks.json`).
    #[error("token signed with an unknown key id")]
    UnknownKid,
    /// The signature does not verify with the key named by `kid`, or the
    /// header names an algorithm other than EdDSA.
    #[error("token signature is invalid")]
    BadSignature,
    /// The token's `exp` (plus leeway) has passed.
    #[error("token expired at {exp} (Unix seconds)")]
    Expired {
        /// The token's `exp` claim.
        exp: u64,
    },
    /// The token's `nbf` lies in the future (beyond the leeway).
    #[error("token not valid before {nbf} (Unix seconds); check clock synchronisation")]
    NotYetValid {
        /// The token's `nbf` claim.
        nbf: u64,
    },
    /// The token's `aud` is not the audience this verifier serves.
    #[error("token issued for another audience")]
    WrongAudience,
    /// The requested path is outside the token's `scope`.
    #[error("requested path is outside the token's scope")]
    WrongScope,
    /// The token is bound to a client IP prefix and the request came from
    /// outside it (or its address is unknown).
    #[error("client address is outside the token's IP prefix")]
    WrongClient,
    /// The requested path contains dot segments, encoded slashes, dots,
    /// backslashes or percent signs, or control characters, which could be
    /// used to step outside a scope.
    #[error("requested path contains dot segments or encoded separators")]
    TamperedPath,
}

impl TokenError {
    /// Every value [`reason`](TokenError::reason) can return, e.g. to
    /// pre-register metrics label values.
    pub const REASONS: &'static [&'static str] = &[
        "missing",
        "malformed",
        "unknown_kid",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "wrong_audience",
        "wrong_scope",
        "wrong_client",
        "tampered_path",
    ];

    /// Stable machine-readable reason, e.g. `"expired"`; safe to show to
    /// clients and to use as a metrics label.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed(_) => "malformed",
            Self::UnknownKid => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::WrongAudience => "wrong_audience",
            Self::WrongScope => "wrong_scope",
            Self::WrongClient => "wrong_client",
            Self::TamperedPath => "tampered_path",
        }
    }
}

/// A claim that cannot be put into a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// `sub` is empty, longer than 64 characters or not `[A-Za-z0-9_-]`.
    #[error("sub must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_'")]
    Subject,
    /// `sid` is empty, longer than 64 characters or not `[A-Za-z0-9_-]`.
    #[error("sid must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_'")]
    Session,
    /// `aud` is empty, too long or not printable ASCII.
    #[error("aud must be 1-128 printable ASCII characters without spaces")]
    Audience,
    /// `scope` is not an absolute, clean path.
    #[error("invalid scope: {0}")]
    Scope(&'static str),
    /// `ipp` is not an IP prefix in CIDR notation.
    #[error("ipp must be an IP prefix in CIDR notation, e.g. 203.0.113.0/24 or 2001:db8::/64")]
    IpPrefix,
    /// `exp` is not after `nbf`, or the times overflow.
    #[error("exp must be later than nbf (is the TTL zero?)")]
    Lifetime,
}

/// Signing a token failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The claims are invalid; nothing was signed.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// The signed token would exceed [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN)
    /// bytes and be rejected by every verifier.
    #[error("token would be {0} bytes, over the limit; shorten the scope or ids")]
    TooLong(usize),
    /// The JWT library failed to encode or sign.
    #[error("signing failed: {0}")]
    Encode(String),
}

/// Loading, generating or selecting keys failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading or writing a file in the key directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A key id is not 1-64 characters of `[A-Za-z0-9_-]`.
    #[error("invalid key id {0:?}: must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_'")]
    InvalidKid(String),
    /// A private key file is not a PKCS#8 PEM Ed25519 key.
    #[error("{}: not a PKCS#8 PEM Ed25519 private key", path.display())]
    InvalidPrivateKey {
        /// The offending file.
        path: PathBuf,
    },
    /// The JWKS document is unusable.
    #[error("invalid JWKS: {0}")]
    InvalidJwks(String),
    /// The key set has no verification key at all.
    #[error("no verification keys (jwks.json lists no key)")]
    NoVerificationKeys,
    /// The key set has no private key to sign with.
    #[error("no private signing key (no <kid>.pem file)")]
    NoSigningKey,
    /// The requested signing key id has no private key.
    #[error("no private key for kid {0}")]
    UnknownSigningKid(String),
    /// The signing key's public half is not in the JWKS, so its tokens would
    /// not verify anywhere.
    #[error(
        "private key {0} is not published in jwks.json; tokens signed with it would not verify"
    )]
    SigningKeyNotPublished(Kid),
    /// The JWKS entry for a private key's kid holds a different public key.
    #[error("jwks.json entry for kid {0} does not match its private key")]
    PublicKeyMismatch(Kid),
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
    /// Encoding a new key failed.
    #[error("encoding the new key failed: {0}")]
    Encode(String),
}
