//! Why a manifest could not be rewritten.

/// Why a manifest could not be rewritten. Every variant names the problem and, where it
/// has one, the position in the input (1-based line for HLS, byte offset for XML).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// The input is larger than [`crate::Limits::max_manifest_bytes`].
    #[error("manifest is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// Neither an HLS playlist (`#EXTM3U`) nor a DASH MPD.
    #[error("not a manifest: expected an HLS playlist starting with #EXTM3U or a DASH MPD")]
    NotAManifest,
    /// The manifest URL cannot serve as a base (not `http(s)`, no host).
    #[error("manifest URL {0:?} is not an http(s) URL with a host")]
    BadBaseUrl(String),
    /// The input is not valid UTF-8.
    #[error("invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// An HLS line is longer than [`crate::Limits::max_line_bytes`].
    #[error("line {line} is {length} bytes, over the limit of {limit} bytes")]
    LineTooLong {
        /// 1-based line number.
        line: usize,
        /// Its length.
        length: usize,
        /// The limit in force.
        limit: usize,
    },
    /// An HLS playlist that breaks the format in a way that makes rewriting unsafe.
    #[error("malformed HLS playlist at line {line}: {reason}")]
    MalformedHls {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The MPD is not well-formed XML.
    #[error("malformed MPD at byte {position}: {reason}")]
    MalformedXml {
        /// Byte offset where the problem was found.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// The MPD carries a document type declaration (entity expansion is never allowed).
    #[error("MPD at byte {position} has a DOCTYPE declaration, which is refused")]
    Doctype {
        /// Byte offset of the declaration.
        position: u64,
    },
    /// The MPD nests elements deeper than [`crate::Limits::max_xml_depth`].
    #[error("MPD nests elements deeper than {limit} at byte {position}")]
    TooDeep {
        /// Byte offset of the element that crossed the limit.
        position: u64,
        /// The limit in force.
        limit: usize,
    },
}
