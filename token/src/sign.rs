//! Issuing tokens.

use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::claims::ViewerClaims;
use crate::error::{KeyError, SignError};
use crate::keys::{KeySet, Kid};
use crate::verify::MAX_TOKEN_LEN;

/// Signs viewer tokens with one private key of a [`KeySet`].
#[derive(Clone)]
pub struct Signer {
    kid: Kid,
    key: EncodingKey,
    header: Header,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer using the private key `kid`, or the newest private key (the
    /// greatest kid) when `kid` is `None`.
    ///
    /// # Errors
    /// [`KeyError::NoSigningKey`], [`KeyError::UnknownSigningKid`], or
    /// [`KeyError::SigningKeyNotPublished`] when the key's public half is not
    /// in the set's JWKS (its tokens would be rejected everywhere).
    pub fn new(keys: &KeySet, kid: Option<&str>) -> Result<Signer, KeyError> {
        let (kid, key) = match kid {
            Some(kid) => keys
                .private_key(kid)
                .ok_or_else(|| KeyError::UnknownSigningKid(kid.to_owned()))?,
            None => keys
                .newest_signing_kid()
                .and_then(|kid| keys.private_key(kid.as_str()))
                .ok_or(KeyError::NoSigningKey)?,
        };
        match keys.public_key(kid.as_str()) {
            None => return Err(KeyError::SigningKeyNotPublished(kid.clone())),
            Some(public) if public.x != key.public => {
                return Err(KeyError::PublicKeyMismatch(kid.clone()));
            }
            Some(_) => {}
        }
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = None;
        header.kid = Some(kid.to_string());
        Ok(Signer {
            kid: kid.clone(),
            key: key.encoding.clone(),
            header,
        })
    }

    /// The kid this signer puts in token headers.
    #[must_use]
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// Validates `claims` and returns the signed compact JWT.
    ///
    /// # Errors
    /// [`SignError::Claims`] for invalid claims, [`SignError::TooLong`] if the
    /// token would exceed [`MAX_TOKEN_LEN`].
    pub fn sign(&self, claims: &ViewerClaims) -> Result<String, SignError> {
        claims.validate()?;
        let token = jsonwebtoken::encode(&self.header, claims, &self.key)
            .map_err(|e| SignError::Encode(e.to_string()))?;
        if token.len() > MAX_TOKEN_LEN {
            return Err(SignError::TooLong(token.len()));
        }
        Ok(token)
    }
}
