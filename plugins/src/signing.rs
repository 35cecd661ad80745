//! Signing the URIs of one viewer's manifest with path-scoped tokens.

use std::time::Duration;

use rilla_config::HostSet;
use rilla_manifest_rewriter::{SignTarget, UriSigner};
use rilla_token::{SignError, Signer, ViewerClaims};

/// Signs the URIs of one manifest for one viewer.
///
/// A URI is signed only when its host is ours: the host the viewer used for the manifest,
/// or one of the configured signing hosts. Tokens are scoped to a directory, so one token
/// covers every URI below the manifest's directory and a whole manifest usually costs a
/// single signature; a URI outside every scope minted so far gets a token for its own
/// directory. Minted tokens are kept for the life of this value (one personalization).
pub struct ViewerSigner<'a> {
    signer: &'a Signer,
    param: &'a str,
    hosts: &'a HostSet,
    request_authority: String,
    claims: ViewerClaims,
    preferred_scope: Option<String>,
    minted: Vec<(String, String)>,
    error: Option<SignError>,
}

/// The directory part of a path, with its trailing `/`. A DASH template path is cut before
/// its first `$` identifier, so that the scope covers every path the template expands to.
fn directory_of(path: &str) -> &str {
    let path = path.find('$').map_or(path, |i| &path[..i]);
    match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    }
}

/// Whether a token scoped to `scope` covers `path`.
fn covers(scope: &str, path: &str) -> bool {
    if scope.ends_with('/') {
        path.starts_with(scope)
    } else {
        path == scope
    }
}

impl<'a> ViewerSigner<'a> {
    /// A signer for `viewer`, whose manifest request arrived for `request_authority`
    /// (host and port as the viewer wrote them). `template` supplies every claim but the
    /// scope: subject, audience, times, IP prefix, session.
    pub fn new(
        signer: &'a Signer,
        param: &'a str,
        hosts: &'a HostSet,
        request_authority: &str,
        template: ViewerClaims,
    ) -> Self {
        Self {
            signer,
            param,
            hosts,
            request_authority: request_authority.to_ascii_lowercase(),
            claims: template,
            preferred_scope: None,
            minted: Vec::new(),
            error: None,
        }
    }

    /// Claims template for a viewer: `ttl` from `now`, with the given audience.
    pub fn claims_for(viewer: &str, audience: &str, ttl: Duration, now: u64) -> ViewerClaims {
        ViewerClaims::new(viewer, "/", ttl, now).with_audience(audience)
    }

    /// Prefers `scope` (usually the manifest's own directory) for every URI below it, so
    /// that one token covers a whole stream: its variants, renditions and segments.
    pub fn prefer_scope(&mut self, scope: &str) {
        self.preferred_scope = Some(scope.to_owned());
    }

    /// Adds a token the viewer already holds (for example the one it presented), so that
    /// URIs within its scope reuse it instead of getting a new signature.
    pub fn reuse(&mut self, scope: &str, token: &str) {
        self.minted.push((scope.to_owned(), token.to_owned()));
    }

    /// The first signing failure, if any: URIs whose token could not be minted were left
    /// unsigned, so a caller should treat this as an error for the whole manifest.
    pub fn take_error(&mut self) -> Option<SignError> {
        self.error.take()
    }

    /// How many distinct tokens this manifest used.
    pub fn tokens_used(&self) -> usize {
        self.minted.len()
    }

    fn is_ours(&self, authority: &str) -> bool {
        authority.eq_ignore_ascii_case(&self.request_authority) || self.hosts.contains(authority)
    }
}

impl UriSigner for ViewerSigner<'_> {
    fn param(&self) -> &str {
        self.param
    }

    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
        if !self.is_ours(target.authority) {
            return None;
        }
        if let Some(i) = self.minted.iter().position(|(s, _)| covers(s, target.path)) {
            return Some(&self.minted[i].1);
        }
        let scope = match &self.preferred_scope {
            Some(preferred) if covers(preferred, target.path) => preferred.as_str(),
            _ => directory_of(target.path),
        }
        .to_owned();
        let mut claims = self.claims.clone();
        claims.scope.clone_from(&scope);
        match self.signer.sign(&claims) {
            Ok(token) => {
                self.minted.push((scope, token));
                self.minted.last().map(|(_, t)| t.as_str())
            }
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rilla_token::{KeySet, Verifier, VerifierOptions};

    fn target<'a>(authority: &'a str, path: &'a str) -> SignTarget<'a> {
        SignTarget {
            scheme: "https",
            authority,
            path,
        }
    }

    fn verifier_accepts(keys: &KeySet, token: &str, path: &str, now: u64) -> bool {
        Verifier::new(keys, VerifierOptions::default())
            .verify(token, path, None, now)
            .is_ok()
    }

    #[test]
    fn a_preferred_scope_covers_a_whole_stream_with_one_token() {
        let keys = KeySet::generate_in_memory().unwrap();
        let signer = Signer::new(&keys, None).unwrap();
        let hosts = HostSet::default();
        let now = 1_800_000_000;
        let claims = ViewerSigner::claims_for("v1", "rilla-edge", Duration::from_secs(60), now);
        let mut s = ViewerSigner::new(&signer, "rt", &hosts, "edge.example", claims);
        s.prefer_scope("/live/ch1/");
        let a = s
            .token_for(&target("edge.example", "/live/ch1/v180/index.m3u8"))
            .unwrap()
            .to_owned();
        let b = s
            .token_for(&target("edge.example", "/live/ch1/v360/index.m3u8"))
            .unwrap()
            .to_owned();
        assert_eq!(a, b);
        assert_eq!(s.tokens_used(), 1);
        assert!(verifier_accepts(&keys, &a, "/live/ch1/v360/seg-1.m4s", now));
        assert!(!verifier_accepts(
            &keys,
            &a,
            "/live/ch2/v360/seg-1.m4s",
            now
        ));
    }

    #[test]
    fn one_token_per_directory_and_only_for_our_hosts() {
        let keys = KeySet::generate_in_memory().unwrap();
        let signer = Signer::new(&keys, None).unwrap();
        let hosts = HostSet::new(["cdn.example"]);
        let now = 1_800_000_000;
        let claims = ViewerSigner::claims_for("v1", "rilla-edge", Duration::from_secs(60), now);
        let mut s = ViewerSigner::new(&signer, "rt", &hosts, "Edge.Example", claims);

        let a = s
            .token_for(&target("edge.example", "/live/ch1/a.ts"))
            .unwrap()
            .to_owned();
        let b = s
            .token_for(&target("edge.example", "/live/ch1/b.ts"))
            .unwrap()
            .to_owned();
        assert_eq!(a, b, "same directory shares one token");
        let c = s
            .token_for(&target("cdn.example", "/ads/x.ts"))
            .unwrap()
            .to_owned();
        assert_ne!(a, c);
        assert!(
            s.token_for(&target("evil.example", "/live/ch1/a.ts"))
                .is_none()
        );
        assert_eq!(s.tokens_used(), 2);

        let verifier = Verifier::new(&keys, VerifierOptions::default());
        assert!(verifier.verify(&a, "/live/ch1/a.ts", None, now).is_ok());
        assert_eq!(
            verifier
                .verify(&a, "/ads/x.ts", None, now)
                .unwrap_err()
                .reason(),
            "wrong_scope"
        );
        assert!(verifier.verify(&c, "/ads/x.ts", None, now).is_ok());
    }
}
