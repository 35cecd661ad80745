//! `rilla token keygen|sign|verify`.

use std::{net::IpAddr, path::Path, time::Duration};

use anyhow::Context as _;
use rilla_token::{KeySet, Signer, Verifier, VerifierOptions, ViewerClaims, find_token, unix_now};

use super::Outcome;

/// Writes a new signing key and the updated JWKS into `dir`.
pub fn keygen(dir: &Path) -> anyhow::Result<Outcome> {
    let kid = KeySet::generate_into_dir(dir)
        .with_context(|| format!("cannot create a key in {}", dir.display()))?;
    Ok(Outcome::ok(format!(
        "kid: {kid}\nprivate key: {}\npublic keys: {}\n",
        dir.join(format!("{kid}.pem")).display(),
        dir.join(rilla_token::JWKS_FILE).display()
    )))
}

/// What to put into a new token.
#[derive(Debug, Clone)]
pub struct SignRequest<'a> {
    /// Key directory.
    pub keys: &'a Path,
    /// Viewer id (`sub`).
    pub sub: &'a str,
    /// Path scope.
    pub scope: &'a str,
    /// Lifetime.
    pub ttl: Duration,
    /// Audience.
    pub audience: &'a str,
    /// Client IP prefix to bind to, in CIDR notation.
    pub ip_prefix: Option<&'a str>,
    /// Key id to sign with; the newest key when `None`.
    pub kid: Option<&'a str>,
}

/// Signs a token and prints it.
pub fn sign(req: &SignRequest<'_>) -> anyhow::Result<Outcome> {
    let keys = KeySet::load_dir(req.keys)
        .with_context(|| format!("cannot load keys from {}", req.keys.display()))?;
    let signer = Signer::new(&keys, req.kid)?;
    let mut claims =
        ViewerClaims::new(req.sub, req.scope, req.ttl, unix_now()).with_audience(req.audience);
    if let Some(prefix) = req.ip_prefix {
        claims = claims.with_ip_prefix(prefix)?;
    }
    let token = signer.sign(&claims)?;
    Ok(Outcome::ok(format!("{token}\n")))
}

/// How to check a URL's token.
#[derive(Debug, Clone)]
pub struct VerifyRequest<'a> {
    /// Key directory (its `jwks.json` is used).
    pub keys: &'a Path,
    /// The URL whose token and path are checked.
    pub url: &'a str,
    /// The query parameter carrying the token.
    pub param: &'a str,
    /// Audience required.
    pub audience: &'a str,
    /// Clock skew tolerated.
    pub leeway: Duration,
    /// The client address, for tokens bound to an IP prefix.
    pub client_ip: Option<IpAddr>,
}

/// Verifies the token in a URL for that URL's path.
pub fn verify(req: &VerifyRequest<'_>) -> anyhow::Result<Outcome> {
    let keys = KeySet::load_dir(req.keys)
        .with_context(|| format!("cannot load keys from {}", req.keys.display()))?;
    let url = url::Url::parse(req.url)
        .or_else(|_| url::Url::parse("http://localhost").and_then(|b| b.join(req.url)))
        .with_context(|| format!("{:?} is not a URL", req.url))?;
    let verifier = Verifier::new(
        &keys,
        VerifierOptions {
            audience: req.audience.to_owned(),
            leeway: req.leeway,
            cache_capacity: 0,
        },
    );
    let token = url.query().and_then(|q| find_token(q, req.param));
    // The path as the client wrote it: URL parsing would resolve `%2e%2e` and `..`, which
    // the edge refuses rather than normalizes.
    let result = match token {
        Some(token) => verifier.verify(token, raw_path(req.url), req.client_ip, unix_now()),
        None => Err(rilla_token::TokenError::Missing),
    };
    Ok(match result {
        Ok(verified) => {
            let mut json = serde_json::to_string_pretty(verified.claims())?;
            json.push('\n');
            Outcome::ok(json)
        }
        Err(e) => Outcome::refused(format!("rejected: {}: {e}\n", e.reason())),
    })
}

/// The path of a URL or path-and-query as written, without query or fragment.
fn raw_path(url: &str) -> &str {
    let after_authority = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => url,
    };
    let end = after_authority
        .find(['?', '#'])
        .unwrap_or(after_authority.len());
    &after_authority[..end]
}

#[cfg(test)]
mod tests {
    use super::raw_path;

    #[test]
    fn raw_path_keeps_what_the_client_wrote() {
        assert_eq!(
            raw_path("https://e.example/a/%2e%2e/b.ts?rt=x"),
            "/a/%2e%2e/b.ts"
        );
        assert_eq!(raw_path("https://e.example:8443/a/../b.ts#f"), "/a/../b.ts");
        assert_eq!(raw_path("https://e.example?rt=x"), "/");
        assert_eq!(raw_path("/live/a.ts?rt=x"), "/live/a.ts");
    }
}
