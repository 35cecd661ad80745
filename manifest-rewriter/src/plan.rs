//! What the caller decides: which token signs which URI, what to inject, and the limits.

use std::fmt;

/// Everything the rewriter needs besides the manifest and its URL.
pub struct RewritePlan<'a> {
    /// Decides, per resolved URI, which token (if any) to attach.
    pub signer: &'a mut dyn UriSigner,
    /// Injected at the top of media playlists and MPDs; `None` injects nothing.
    pub session: Option<&'a SessionTag>,
    /// Per-segment hints; [`NoHints`] injects none.
    pub hints: &'a dyn HintSource,
    /// Bounds on hostile input.
    pub limits: Limits,
}

/// Bounds on the input, checked before and while rewriting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest manifest accepted, in bytes (default 4 MiB).
    pub max_manifest_bytes: usize,
    /// Longest HLS line or XML tag accepted, in bytes (default 64 KiB).
    pub max_line_bytes: usize,
    /// Deepest XML element nesting accepted (default 32).
    pub max_xml_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_manifest_bytes: 4 * 1024 * 1024,
            max_line_bytes: 64 * 1024,
            max_xml_depth: 32,
        }
    }
}

/// Where a URI in the manifest points once resolved against the manifest URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignTarget<'a> {
    /// `http` or `https` (other schemes are never offered for signing).
    pub scheme: &'a str,
    /// Host, lower-cased, with the port when the URI names one (`cdn.example:8443`).
    pub authority: &'a str,
    /// The path, percent-encoded as written, beginning with `/`, without query or fragment.
    pub path: &'a str,
}

/// Mints or looks up the token for a URI.
pub trait UriSigner {
    /// Name of the query parameter that carries the token (for example `rt`).
    fn param(&self) -> &str;

    /// The token to attach to a URI resolving to `target`, or `None` when the URI must stay
    /// as it is (a host that is not ours: the edge must never sign foreign URLs).
    /// The returned token must consist of URL-safe characters only (`A-Z a-z 0-9 - _ .`).
    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str>;
}

/// Which rendition of the manifest a set of hints belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendition<'a> {
    /// An HLS media playlist: the playlist itself is the rendition.
    Playlist,
    /// A DASH Representation, by its `@id` (and the `@id` of its Period, when it has one).
    Representation {
        /// `Period@id`, if present.
        period: Option<&'a str>,
        /// `Representation@id`.
        id: &'a str,
    },
}

/// Identity of a segment, independent of its (tokenized) URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SegmentId {
    /// HLS: media sequence number, and the index of a partial segment within it.
    Sequence {
        /// The media sequence number.
        msn: u64,
        /// Index of the partial segment (`EXT-X-PART`) within the segment, from 0.
        part: Option<u32>,
    },
    /// DASH `$Number$` addressing.
    Number(u64),
    /// DASH `$Time$` addressing, in the timescale of the representation.
    Time(u64),
}

/// Supplies hints for the segments of one rendition.
pub trait HintSource {
    /// Hints for the segments of `rendition`, in any order; at most one per [`SegmentId`].
    fn hints(&self, rendition: &Rendition<'_>) -> &[SegmentHint];
}

/// A [`HintSource`] with no hints.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHints;

impl HintSource for NoHints {
    fn hints(&self, _: &Rendition<'_>) -> &[SegmentHint] {
        &[]
    }
}

impl HintSource for Vec<SegmentHint> {
    fn hints(&self, _: &Rendition<'_>) -> &[SegmentHint] {
        self
    }
}

/// What a viewer should do for one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentHint {
    /// The segment this hint is for.
    pub segment: SegmentId,
    /// Where to fetch it from.
    pub action: HintAction,
    /// The SHA-256 of the segment's bytes, when the edge has seen them.
    pub sha256: Option<Sha256Digest>,
}

/// Where a viewer should fetch a segment from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HintAction {
    /// Fetch from the CDN (through the edge) and then serve it to other viewers.
    Seed,
    /// Ask these viewers first, in order; the CDN remains the fallback.
    Peers(Vec<ViewerId>),
    /// Fetch from the CDN and do not wait for peers.
    Cdn,
}

/// A value that cannot be injected safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct InvalidValue {
    /// Which kind of value was rejected.
    pub what: &'static str,
    /// Why.
    pub reason: &'static str,
}

/// An opaque viewer identifier assigned by the edge: 1 to 64 characters of
/// `A-Z a-z 0-9 - _`. The type guarantees it can be written into an HLS attribute list or
/// an XML attribute without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewerId(String);

impl ViewerId {
    /// Validates `s` as a viewer id.
    pub fn new(s: &str) -> Result<Self, InvalidValue> {
        let invalid = |reason| InvalidValue {
            what: "viewer id",
            reason,
        };
        if s.is_empty() || s.len() > 64 {
            return Err(invalid("must be 1 to 64 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid("only A-Z, a-z, 0-9, '-' and '_' are allowed"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ViewerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A URI or URI path safe to inject: 1 to 2048 printable ASCII characters, none of
/// `" < > \ ^ ` { | }` or space. `&` is allowed and XML-escaped where needed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SafeUri(String);

impl SafeUri {
    /// Validates `s`.
    pub fn new(s: &str) -> Result<Self, InvalidValue> {
        let invalid = |reason| InvalidValue {
            what: "URI",
            reason,
        };
        if s.is_empty() || s.len() > 2048 {
            return Err(invalid("must be 1 to 2048 characters"));
        }
        if !s.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
                )
        }) {
            return Err(invalid("contains a character not allowed in a URI"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The URI as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SafeUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SHA-256 digest, written as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, InvalidValue> {
        let invalid = |reason| InvalidValue {
            what: "SHA-256",
            reason,
        };
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(invalid("must be 64 hex digits"));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or(invalid("not a hex digit"))?;
            let lo = hex_value(pair[1]).ok_or(invalid("not a hex digit"))?;
            out[i] = hi << 4 | lo;
        }
        Ok(Self(out))
    }

    /// Writes the digest as 64 lower-case hex digits.
    pub fn write_hex(&self, out: &mut Vec<u8>) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for b in self.0 {
            out.push(DIGITS[usize::from(b >> 4)]);
            out.push(DIGITS[usize::from(b & 0x0f)]);
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = Vec::with_capacity(64);
        self.write_hex(&mut s);
        f.write_str(&String::from_utf8_lossy(&s))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

/// The session header injected at the top of media playlists and MPDs: who the viewer is,
/// which swarm it is in and where it announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTag {
    /// The viewer this manifest was personalized for.
    pub viewer: ViewerId,
    /// The swarm (stream + rendition) of this manifest.
    pub swarm: ViewerId,
    /// Where the viewer announces (a path on the edge, or an absolute URL).
    pub announce: SafeUri,
    /// Seconds between announces the edge asks for.
    pub announce_interval_secs: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewer_id_refuses_anything_that_could_break_a_line_or_attribute() {
        for bad in [
            "",
            "a\"b",
            "a\nb",
            "a,b",
            "a b",
            "a<b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(ViewerId::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(ViewerId::new("v-1_Z").unwrap().as_str(), "v-1_Z");
    }

    #[test]
    fn safe_uri_refuses_quotes_angle_brackets_and_controls() {
        for bad in ["", "/a\"b", "/a<b", "/a\r\n", "/a b", "/a\u{7f}"] {
            assert!(SafeUri::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(SafeUri::new("/p2p/v1/announce?x=1&y=2").is_ok());
    }

    #[test]
    fn sha256_hex_round_trip() {
        let hex = "00ff10a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c";
        let d = Sha256Digest::from_hex(hex).unwrap();
        assert_eq!(d.to_string(), hex);
        assert!(Sha256Digest::from_hex(&hex[1..]).is_err());
        assert!(Sha256Digest::from_hex(&hex.replace('0', "g")).is_err());
    }
}
