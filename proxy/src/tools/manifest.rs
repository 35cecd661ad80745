//! `rilla manifest rewrite`: personalizes a manifest the way the proxy does.

use std::{path::Path, time::Duration};

use anyhow::Context as _;
use rilla_config::Config;
use rilla_manifest_rewriter::{NoHints, RewritePlan, SafeUri, SessionTag, ViewerId};
use rilla_plugins::{HintTable, ViewerSigner, rewrite_limits};
use rilla_token::{KeySet, Signer, unix_now};

/// What to rewrite and for whom.
#[derive(Debug, Clone)]
pub struct RewriteRequest<'a> {
    /// Key directory.
    pub keys: &'a Path,
    /// The URL the manifest was fetched from (its host counts as ours).
    pub url: &'a str,
    /// Viewer id; `viewer` when not given.
    pub viewer: Option<&'a str>,
    /// JSON hints file (format in `docs/manifest-tags.md`).
    pub hints: Option<&'a Path>,
    /// Configuration: signing hosts, token settings, limits.
    pub config: &'a Config,
    /// Token lifetime, overriding the configuration.
    pub ttl: Option<Duration>,
}

/// Rewrites `input` and returns the personalized manifest bytes.
pub fn rewrite(req: &RewriteRequest<'_>, input: &[u8]) -> anyhow::Result<Vec<u8>> {
    let url =
        url::Url::parse(req.url).with_context(|| format!("--url {:?} is not a URL", req.url))?;
    let authority = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => anyhow::bail!("--url {:?} has no host", req.url),
    };
    let keys = KeySet::load_dir(req.keys)
        .with_context(|| format!("cannot load keys from {}", req.keys.display()))?;
    let tokens = &req.config.file.tokens;
    let signer = Signer::new(&keys, tokens.signing_kid.as_deref())?;
    let viewer = req.viewer.unwrap_or("viewer");
    let viewer_id = ViewerId::new(viewer).context("--viewer")?;
    let ttl = req.ttl.unwrap_or(tokens.ttl.get());
    let claims = ViewerSigner::claims_for(viewer, &tokens.audience, ttl, unix_now());
    let mut uri_signer = ViewerSigner::new(
        &signer,
        &tokens.query_param,
        &req.config.signing_hosts,
        &authority,
        claims,
    );
    let table = match req.hints {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(HintTable::from_json(&text)?)
        }
        None => None,
    };
    let default_session;
    let session = match table.as_ref().and_then(|t| t.session.as_ref()) {
        Some(s) => s,
        None => {
            default_session = SessionTag {
                viewer: viewer_id,
                swarm: ViewerId::new(&swarm_id(url.path())).context("swarm id")?,
                announce: SafeUri::new("/p2p/v1/announce").context("announce path")?,
                announce_interval_secs: 5,
            };
            &default_session
        }
    };
    let mut plan = RewritePlan {
        signer: &mut uri_signer,
        session: Some(session),
        hints: match &table {
            Some(t) => t,
            None => &NoHints,
        },
        limits: rewrite_limits(&req.config.file.limits),
    };
    let out = rilla_manifest_rewriter::rewrite(input, &url, &mut plan)
        .with_context(|| format!("cannot rewrite the manifest from {}", req.url))?;
    if let Some(e) = uri_signer.take_error() {
        return Err(e).context("cannot sign the manifest's URIs");
    }
    Ok(out)
}

/// A stable swarm id for a manifest path: 16 hex digits of FNV-1a over the path.
pub fn swarm_id(path: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}
