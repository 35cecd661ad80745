//! The claims carried by a viewer token.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::ClaimsError;
use crate::path;

/// Audience used when none is configured.
pub const DEFAULT_AUDIENCE: &str = "rilla-edge";

const MAX_ID_LEN: usize = 64;
const MAX_AUD_LEN: usize = 128;

/// The claims of a viewer token: "viewer `sub` may fetch paths under `scope`
/// from `nbf` until `exp`", optionally only from the IP prefix `ipp`.
///
/// Times are Unix seconds. On verification every field except `ipp` and
/// `sid` must be present with the JSON type shown here; unknown claims are
/// ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerClaims {
    /// Viewer id: 1-64 characters of `[A-Za-z0-9_-]`.
    pub sub: String,
    /// Audience: which deployment the token is for.
    pub aud: String,
    /// Issued at.
    pub iat: u64,
    /// Not valid before.
    pub nbf: u64,
    /// Not valid from this time on.
    pub exp: u64,
    /// Path prefix ending in `/` (covers everything below it), or an exact
    /// path.
    pub scope: String,
    /// Client IP prefix in CIDR notation (an IPv4 /24 or IPv6 /64 when
    /// issued by [`with_client_ip`](ViewerClaims::with_client_ip)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipp: Option<String>,
    /// Opaque session id: 1-64 characters of `[A-Za-z0-9_-]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl ViewerClaims {
    /// Claims for `sub` on `scope`, valid from `now` for `ttl` (rounded down
    /// to whole seconds), with the [`DEFAULT_AUDIENCE`].
    ///
    /// Nothing is checked here; [`validate`](ViewerClaims::validate) (called
    /// by [`Signer::sign`](crate::Signer::sign)) does.
    #[must_use]
    pub fn new(sub: impl Into<String>, scope: impl Into<String>, ttl: Duration, now: u64) -> Self {
        Self {
            sub: sub.into(),
            aud: DEFAULT_AUDIENCE.to_owned(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl.as_secs()),
            scope: scope.into(),
            ipp: None,
            sid: None,
        }
    }

    /// Sets the audience.
    #[must_use]
    pub fn with_audience(mut self, aud: impl Into<String>) -> Self {
        self.aud = aud.into();
        self
    }

    /// Sets the session id.
    #[must_use]
    pub fn with_session(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }

    /// Binds the token to the /24 (IPv4) or /64 (IPv6) around `ip`.
    /// IPv4-mapped IPv6 addresses count as IPv4.
    #[must_use]
    pub fn with_client_ip(mut self, ip: IpAddr) -> Self {
        let prefix = match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                format!("{}/24", Ipv4Addr::new(a, b, c, 0))
            }
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        };
        self.ipp = Some(prefix);
        self
    }

    /// Binds the token to an explicit prefix in CIDR notation, e.g.
    /// `203.0.113.0/24`. Host bits are cleared.
    ///
    /// # Errors
    /// [`ClaimsError::IpPrefix`] if `cidr` is not an IP prefix.
    pub fn with_ip_prefix(mut self, cidr: &str) -> Result<Self, ClaimsError> {
        let net: IpNet = cidr.trim().parse().map_err(|_| ClaimsError::IpPrefix)?;
        self.ipp = Some(net.trunc().to_string());
        Ok(self)
    }

    /// Checks every claim's format: `sub`/`sid` charset and length, `aud`,
    /// `scope` (absolute, clean, no wildcard, at most 1024 bytes), `ipp`
    /// parses, and `exp > nbf`.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), ClaimsError> {
        if !is_id(&self.sub) {
            return Err(ClaimsError::Subject);
        }
        if self.sid.as_deref().is_some_and(|sid| !is_id(sid)) {
            return Err(ClaimsError::Session);
        }
        if self.aud.is_empty()
            || self.aud.len() > MAX_AUD_LEN
            || !self.aud.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ClaimsError::Audience);
        }
        path::check_scope(&self.scope).map_err(ClaimsError::Scope)?;
        if self.ipp.is_some() {
            self.ip_prefix()?;
        }
        if self.exp <= self.nbf {
            return Err(ClaimsError::Lifetime);
        }
        Ok(())
    }

    /// The parsed `ipp` claim, if any.
    pub(crate) fn ip_prefix(&self) -> Result<Option<IpNet>, ClaimsError> {
        self.ipp
            .as_deref()
            .map(|p| p.parse::<IpNet>().map_err(|_| ClaimsError::IpPrefix))
            .transpose()
    }
}

/// Whether `s` is a valid `sub`/`sid`/`kid`: 1-64 of `[A-Za-z0-9_-]`.
pub(crate) fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ViewerClaims {
        ViewerClaims::new("v1", "/live/ch1/", Duration::from_secs(60), 1000)
    }

    #[test]
    fn new_sets_times() {
        let c = base();
        assert_eq!((c.iat, c.nbf, c.exp), (1000, 1000, 1060));
        assert_eq!(c.aud, DEFAULT_AUDIENCE);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn client_ip_is_truncated() {
        let c = base().with_client_ip("203.0.113.77".parse().unwrap());
        assert_eq!(c.ipp.as_deref(), Some("203.0.113.0/24"));
        let c = base().with_client_ip("2001:db8:1:2:3:4:5:6".parse().unwrap());
        assert_eq!(c.ipp.as_deref(), Some("2001:db8:1:2::/64"));
        let c = base().with_client_ip("::ffff:198.51.100.9".parse().unwrap());
        assert_eq!(c.ipp.as_deref(), Some("198.51.100.0/24"));
        let c = base().with_ip_prefix("10.1.2.3/16").unwrap();
        assert_eq!(c.ipp.as_deref(), Some("10.1.0.0/16"));
        assert_eq!(
            base().with_ip_prefix("10.1.2.3").unwrap_err(),
            ClaimsError::IpPrefix
        );
    }

    #[test]
    fn invalid_claims() {
        let mut c = base();
        c.sub = "a b".into();
        assert_eq!(c.validate(), Err(ClaimsError::Subject));
        c.sub = "x".repeat(65);
        assert_eq!(c.validate(), Err(ClaimsError::Subject));
        assert_eq!(
            base().with_session("").validate(),
            Err(ClaimsError::Session)
        );
        assert_eq!(
            base().with_audience("a b").validate(),
            Err(ClaimsError::Audience)
        );
        let mut c = base();
        c.scope = "/live/../".into();
        assert!(matches!(c.validate(), Err(ClaimsError::Scope(_))));
        let mut c = base();
        c.ipp = Some("nonsense".into());
        assert_eq!(c.validate(), Err(ClaimsError::IpPrefix));
        let c = ViewerClaims::new("v1", "/a/", Duration::ZERO, 1000);
        assert_eq!(c.validate(), Err(ClaimsError::Lifetime));
    }
}
