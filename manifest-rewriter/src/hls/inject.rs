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

/// Appends the decimal form of `n`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `bytes` as lower-case hex digits.
fn push_hex(out: &mut Vec<u8>, bytes: &[u8; 32]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 64];
    for (pair, b) in buf.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
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
pub(crate) enum HintIndex<'h> {
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
        if hints.len() <= LINEAR_MAX {
            Self::Linear(hints)
        } else {
            let mut sorted: Vec<&SegmentHint> = hints.iter().collect();
            sorted.sort_by_key(|h| h.segment);
            Self::Sorted(sorted)
        }
    }

    /// Whether there are no hints at all.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Self::Linear(h) => h.is_empty(),
            Self::Sorted(h) => h.is_empty(),
        }
    }

    /// The hint for `segment`, if any (the first one given, if several).
    pub(crate) fn get(&self, segment: SegmentId) -> Option<&'h SegmentHint> {
        match self {
            Self::Linear(hints) => hints.iter().find(|h| h.segment == segment),
            Self::Sorted(sorted) => {
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
        for n in [0, 7, 10, 1234567890, u64::MAX] {
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
        assert!(matches!(sorted, HintIndex::Sorted(_)));
        for msn in 0..55 {
            for part in [None, Some(1)] {
                let id = SegmentId::Sequence { msn, part };
                let linear = hints.iter().find(|h| h.segment == id);
                assert_eq!(
                    sorted.get(id).map(|h| h as *const _),
                    linear.map(|h| h as *const _)
                );
            }
        }
    }
}
