//! HLS playlist rewriting.

use url::Url;

use crate::{RewriteError, RewritePlan};

/// Rewrites an HLS playlist into `out`.
pub fn rewrite_into(
    _input: &[u8],
    _manifest_url: &Url,
    _plan: &mut RewritePlan<'_>,
    _out: &mut Vec<u8>,
) -> Result<(), RewriteError> {
    Err(RewriteError::NotAManifest)
}
