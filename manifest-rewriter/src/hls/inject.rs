//! The tags the edge adds to media playlists: `#EXT-X-RILLA-SESSION` and
//! `#EXT-X-RILLA-HINT`.
//!
//! Every injected value comes from a type that rules out `"`, `,` (where it would split an
//! attribute), CR, LF and other controls ([`crate::ViewerId`], [`crate::SafeUri`],
//! [`crate::Sha256Digest`], integers), so each tag is exactly one line and one attribute
//! list with exactly the attributes written here.

use crate::plan::{HintAction, SegmentHint, SegmentId, SessionTag};

/// Name of the session tag, with its `#`.
pub(crate) const SESSION_TAG: &str = "#EXT-X-RILLA-SESSION";
/// Name of the per-segment hint tag, with its `#`.
pub(crate) const HINT_TAG: &str = "#EXT-X-RILLA-HINT";

/// `"00"` to `"99"`.
const DECIMAL_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    pairs
};

/// `"00"` to `"ff"`.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [DIGITS[i >> 4], DIGITS[i & 0x0f]];
        i += 1;
    }
    pairs
};

/// Appends the decimal form of `n`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while n >= 100 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DECIMAL_PAIRS[(n % 100) as usize]);
        n /= 100;
    }
    if n >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DECIMAL_PAIRS[n as usize]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `bytes` as lower-case hex digits.
fn push_hex(out: &mut Vec<u8>, bytes: &[u8; 32]) {
    let mut buf = [0u8; 64];
    for (pair, &b) in buf.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
    out.extend_from_slice(&buf);
}

/// Writes the session tag line, ending with `eol`.
pub(crate) fn write_session(tag: &SessionTag, eol: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(SESSION_TAG.as_bytes());
    out.extend_from_slice(b":VIEWER=\"");
    out.extend_from_slice(tag.viewer.as_str().as_bytes());
    out.extend_from_slice(b"\",SWARM=\"");
    out.extend_from_slice(tag.swarm.as_str().as_bytes());
    out.extend_from_slice(b"\",ANNOUNCE=\"");
    out.extend_from_slice(tag.announce.as_str().as_bytes());
    out.extend_from_slice(b"\",INTERVAL=");
    push_u64(out, u64::from(tag.announce_interval_secs));
    out.extend_from_slice(eol.as_bytes());
}

/// Writes the hint tag line for the segment `msn` (and `part`), ending with `eol`.
pub(crate) fn write_hint(
    hint: &SegmentHint,
    msn: u64,
    part: Option<u32>,
    eol: &str,
    out: &mut Vec<u8>,
) {
    // Room for the longest line without peers, and for the peers.
    let peers = match &hint.action {
        HintAction::Peers(peers) => peers.iter().map(|p| p.as_str().len() + 1).sum(),
        HintAction::Seed | HintAction::Cdn => 0,
    };
    out.reserve(160 + peers + eol.len());
    out.extend_from_slice(HINT_TAG.as_bytes());
    out.extend_from_slice(b":MSN=");
    push_u64(out, msn);
    if let Some(part) = part {
        out.extend_from_slice(b",PART=");
        push_u64(out, u64::from(part));
    }
    out.extend_from_slice(b",ACTION=");
    match &hint.action {
        HintAction::Seed => out.extend_from_slice(b"SEED"),
        HintAction::Cdn => out.extend_from_slice(b"CDN"),
        HintAction::Peers(peers) => {
            out.extend_from_slice(b"PEERS,PEERS=\"");
            for (i, peer) in peers.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(peer.as_str().as_bytes());
            }
            out.push(b'"');
        }
    }
    if let Some(digest) = &hint.sha256 {
        out.extend_from_slice(b",SHA256=");
        push_hex(out, &digest.0);
    }
    out.extend_from_slice(eol.as_bytes());
}

/// Finds the hint for a segment among the hints of the playlist.
pub(crate) struct HintIndex<'h> {
    lookup: Lookup<'h>,
    /// The smallest and largest media sequence numbers hinted (`MIN > MAX` when none):
    /// most segments of a live playlist have no hint, and are ruled out at once.
    msn_range: (u64, u64),
}

enum Lookup<'h> {
    /// Few hints: a linear scan is fastest.
    Linear(&'h [SegmentHint]),
    /// Many hints, sorted by segment (stable, so the first of duplicates wins).
    Sorted(Vec<&'h SegmentHint>),
}

/// Above this many hints, lookups go through a sorted index.
const LINEAR_MAX: usize = 24;

impl<'h> HintIndex<'h> {
    /// Indexes `hints`.
    pub(crate) fn new(hints: &'h [SegmentHint]) -> Self {
        let mut msn_range = (u64::MAX, u64::MIN);
        for hint in hints {
            if let SegmentId::Sequence { msn, .. } = hint.segment {
                msn_range = (msn_range.0.min(msn), msn_range.1.max(msn));
            }
        }
        let lookup = if hints.len() <= LINEAR_MAX {
            Lookup::Linear(hints)
        } else {
            let mut sorted: Vec<&SegmentHint> = hints.iter().collect();
            sorted.sort_by_key(|h| h.segment);
            Lookup::Sorted(sorted)
        };
        Self { lookup, msn_range }
    }

    /// Whether a segment or part of `msn` may have a hint.
    #[inline]
    pub(crate) fn may_have(&self, msn: u64) -> bool {
        (self.msn_range.0..=self.msn_range.1).contains(&msn)
    }

    /// The hint for `segment`, if any (the first one given, if several).
    pub(crate) fn get(&self, segment: SegmentId) -> Option<&'h SegmentHint> {
        if let SegmentId::Sequence { msn, .. } = segment
            && !(self.msn_range.0..=self.msn_range.1).contains(&msn)
        {
            return None;
        }
        match &self.lookup {
            Lookup::Linear(hints) => hints.iter().find(|h| h.segment == segment),
            Lookup::Sorted(sorted) => {
                let i = sorted.partition_point(|h| h.segment < segment);
                sorted.get(i).copied().filter(|h| h.segment == segment)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{SafeUri, Sha256Digest, ViewerId};

    #[test]
    fn integers_are_written_in_decimal() {
        let mut numbers = vec![0, 7, 10, 1234567890, u64::MAX, u64::MAX - 1];
        for digits in 1..20 {
            let p = 10u64.pow(digits);
            numbers.extend([p - 1, p, p + 1, p + 9, p / 2 + 3]);
        }
        for n in numbers {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    #[test]
    fn tags_have_the_documented_form() {
        let session = SessionTag {
            viewer: ViewerId::new("v1").unwrap(),
            swarm: ViewerId::new("s-2").unwrap(),
            announce: SafeUri::new("/p2p/announce?a=1&b=2").unwrap(),
            announce_interval_secs: 15,
        };
        let mut out = Vec::new();
        write_session(&session, "\r\n", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "#EXT-X-RILLA-SESSION:VIEWER=\"v1\",SWARM=\"s-2\",ANNOUNCE=\"/p2p/announce?a=1&b=2\",INTERVAL=15\r\n"
        );

        let hint = SegmentHint {
            segment: SegmentId::Sequence {
                msn: 9,
                part: Some(2),
            },
            action: HintAction::Peers(vec![
                ViewerId::new("a").unwrap(),
                ViewerId::new("b").unwrap(),
            ]),
            sha256: Some(Sha256Digest([0xab; 32])),
        };
        let mut out = Vec::new();
        write_hint(&hint, 9, Some(2), "\n", &mut out);
        let expected = format!(
            "#EXT-X-RILLA-HINT:MSN=9,PART=2,ACTION=PEERS,PEERS=\"a,b\",SHA256={}\n",
            "ab".repeat(32)
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);

        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        let mut out = Vec::new();
        push_hex(&mut out, &bytes);
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn sorted_index_agrees_with_linear_scan() {
        let hints: Vec<SegmentHint> = (0..100u64)
            .map(|i| SegmentHint {
                segment: SegmentId::Sequence {
                    msn: (i * 7919) % 50,
                    part: (i % 3 == 0).then_some(1),
                },
                action: if i % 2 == 0 {
                    HintAction::Seed
                } else {
                    HintAction::Cdn
                },
                sha256: None,
            })
            .collect();
        let sorted = HintIndex::new(&hints);
        assert!(matches!(sorted.lookup, Lookup::Sorted(_)));
        let linear_index = HintIndex::new(&hints[..LINEAR_MAX]);
        assert!(matches!(linear_index.lookup, Lookup::Linear(_)));
        for msn in 0..55 {
            for part in [None, Some(1)] {
                let id = SegmentId::Sequence { msn, part };
                let linear = hints.iter().find(|h| h.segment == id);
                assert_eq!(
                    sorted.get(id).map(|h| h as *const _),
                    linear.map(|h| h as *const _)
                );
                let linear = hints[..LINEAR_MAX].iter().find(|h| h.segment == id);
                assert_eq!(
                    linear_index.get(id).map(|h| h as *const _),
                    linear.map(|h| h as *const _)
                );
            }
        }
    }
}
