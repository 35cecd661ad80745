//! Edge behaviour that sits between the configuration, the viewer tokens and the manifest
//! rewriter, kept free of Pingora types so that the `rilla` tools and the proxy share it.
//!
//! - [`signing`]: a [`rilla_manifest_rewriter::UriSigner`] that signs a viewer's URIs with
//!   path-scoped tokens, and only for hosts that are ours.
//! - [`cmcd`]: the CMCD keys the edge acts on (buffer length, throughput).
//! - [`forwarded`]: the client's address behind trusted load balancers.
//! - [`hints`]: a table of per-segment hints, loadable from JSON, that feeds the rewriter.

pub mod cmcd;
pub mod forwarded;
pub mod hints;
pub mod signing;

pub use cmcd::Cmcd;
pub use hints::{HintTable, HintsFileError};
pub use signing::ViewerSigner;

/// The rewriter limits a configuration asks for.
pub fn rewrite_limits(limits: &rilla_config::LimitsConfig) -> rilla_manifest_rewriter::Limits {
    let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    rilla_manifest_rewriter::Limits {
        max_manifest_bytes: clamp(limits.max_manifest_bytes),
        max_line_bytes: clamp(limits.max_line_bytes),
        max_xml_depth: clamp(limits.max_xml_depth),
    }
}
