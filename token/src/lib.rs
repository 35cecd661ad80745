//! Viewer tokens for Rilla Edge: short-lived Ed25519-signed JWTs that let a
//! viewer fetch every object under one path scope (like a CDN ACL token:
//! "viewer V may fetch `/live/ch1/*` until T"), optionally bound to the
//! viewer's IPv4 /24 or IPv6 /64.
//!
//! The crate covers the whole life of a token: key directories and JWKS
//! ([`KeySet`]), issuing ([`Signer`], [`ViewerClaims`]), checking on every
//! request with a bounded cache of verified tokens ([`Verifier`]), and
//! keeping the token out of origin requests and cache keys ([`find_token`],
//! [`strip_token`]). Every rejection has a stable machine-readable reason
//! ([`TokenError::reason`]) for HTTP 403 bodies and metrics labels.
//!
//! It is not an identity provider or a general JWT library: it signs and
//! accepts exactly one algorithm (EdDSA over Ed25519), one claim layout,
//! never fetches keys from the network (`jku`/`x5u` are ignored), and does no
//! HTTP or manifest handling itself.
//!
//! ```
//! use std::time::Duration;
//! use rilla_token::{KeySet, Signer, Verifier, VerifierOptions, ViewerClaims};
//!
//! let keys = KeySet::generate_in_memory()?;
//! let signer = Signer::new(&keys, None)?;
//! let now = 1_800_000_000;
//! let claims = ViewerClaims::new("viewer-42", "/live/ch1/", Duration::from_secs(60), now);
//! let token = signer.sign(&claims)?;
//!
//! let verifier = Verifier::new(&keys, VerifierOptions::default());
//! let ok = verifier.verify(&token, "/live/ch1/seg-1.ts", None, now + 1)?;
//! assert_eq!(ok.claims().sub, "viewer-42");
//! assert_eq!(
//!     verifier.verify(&token, "/live/ch2/seg-1.ts", None, now + 1).unwrap_err().reason(),
//!     "wrong_scope"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod claims;
mod error;
mod keys;
mod path;
mod query;
mod sign;
mod time;
mod verify;

pub use claims::{DEFAULT_AUDIENCE, ViewerClaims};
pub use error::{ClaimsError, KeyError, SignError, TokenError};
pub use keys::{JWKS_FILE, KeySet, Kid};
pub use query::{DEFAULT_QUERY_PARAM, find_token, strip_token};
pub use sign::Signer;
pub use time::{parse_duration, unix_now};
pub use verify::{
    DEFAULT_CACHE_CAPACITY, DEFAULT_LEEWAY, MAX_TOKEN_LEN, VerifiedToken, Verifier, VerifierOptions,
};
