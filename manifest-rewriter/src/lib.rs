//! Personalizes HLS playlists and DASH MPDs for one viewer.
//!
//! Manifest bytes, the URL they were fetched from and a [`RewritePlan`] go in; the
//! personalized manifest comes out. Every URI a player will fetch through the edge gets the
//! viewer's token as a query parameter, media playlists and MPDs get a session tag, and
//! segments get peer hints (which viewers to ask, or an instruction to seed from the CDN)
//! and their SHA-256 where the edge knows it. Everything else is copied byte for byte.
//!
//! This crate does no I/O and knows nothing of Pingora, sockets or key material: the
//! caller decides which token authorises which path ([`UriSigner`]) and which hints apply
//! ([`HintSource`]). See `docs/manifest-tags.md` for the injected tags.

pub mod dash;
mod error;
pub mod hls;
mod plan;
mod resolve;

pub use error::RewriteError;
pub use plan::{
    HintAction, HintSource, InvalidValue, Limits, NoHints, Rendition, RewritePlan, SafeUri,
    SegmentHint, SegmentId, SessionTag, Sha256Digest, SignTarget, UriSigner, ViewerId,
};
pub use resolve::{Base, Resolved};

use url::Url;

/// The manifest formats the rewriter understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    /// An HLS multivariant (master) or media playlist.
    Hls,
    /// A DASH Media Presentation Description.
    Dash,
}

/// Detects the format from the content alone (a UTF-8 BOM and leading whitespace are
/// skipped): `#EXTM3U` means HLS, an XML document whose root is `MPD` means DASH.
pub fn detect_format(input: &[u8]) -> Result<ManifestFormat, RewriteError> {
    let body = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let body = &body[start..];
    if body.starts_with(b"#EXTM3U") {
        return Ok(ManifestFormat::Hls);
    }
    if body.starts_with(b"<") {
        // The root element may follow an XML declaration and comments.
        let head = &body[..body.len().min(4096)];
        if memchr::memmem::find(head, b"<MPD").is_some()
            || memchr::memmem::find(head, b":MPD").is_some()
        {
            return Ok(ManifestFormat::Dash);
        }
    }
    Err(RewriteError::NotAManifest)
}

/// Personalizes `input`, detecting its format from the content.
///
/// `manifest_url` is the URL the player used to fetch the manifest (after redirects): it is
/// the base against which relative URIs are resolved and scoped.
pub fn rewrite(
    input: &[u8],
    manifest_url: &Url,
    plan: &mut RewritePlan<'_>,
) -> Result<Vec<u8>, RewriteError> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 2 + 256);
    rewrite_into(input, manifest_url, plan, &mut out)?;
    Ok(out)
}

/// Like [`rewrite`], appending to a caller-owned buffer so that it can be reused.
/// On error, `out` may hold a partial result and must be discarded.
pub fn rewrite_into(
    input: &[u8],
    manifest_url: &Url,
    plan: &mut RewritePlan<'_>,
    out: &mut Vec<u8>,
) -> Result<(), RewriteError> {
    if input.len() > plan.limits.max_manifest_bytes {
        return Err(RewriteError::TooLarge {
            size: input.len(),
            limit: plan.limits.max_manifest_bytes,
        });
    }
    match detect_format(input)? {
        ManifestFormat::Hls => hls::rewrite_into(input, manifest_url, plan, out),
        ManifestFormat::Dash => dash::rewrite_into(input, manifest_url, plan, out),
    }
}
