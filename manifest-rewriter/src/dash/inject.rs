//! The elements injected into an MPD, in the `urn:rilla:edge:2026` namespace.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::{HintAction, SegmentHint, SegmentId, SessionTag};

use super::scan::push_escaped;

/// The namespace of the injected elements.
pub const NAMESPACE: &str = "urn:rilla:edge:2026";

/// The prefix used for [`NAMESPACE`] unless the input already uses it.
const PREFIX: &str = "rilla";

fn is_prefix_boundary(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Whether `input` uses `prefix` as a namespace prefix anywhere: declares it
/// (`xmlns:prefix=`) or names an element or attribute with it (`<prefix:x`, `prefix:y=`),
/// declared or not. Conservative: any `prefix:` after a byte that cannot be part of a
/// prefix counts, wherever it is.
fn prefix_in_use(input: &[u8], prefix: &str) -> bool {
    let prefix = prefix.as_bytes();
    memchr::memmem::find_iter(input, prefix).any(|at| {
        let after = input.get(at + prefix.len()).copied();
        let declared = input[..at].ends_with(b"xmlns:") && after.is_none_or(is_prefix_boundary);
        let before_ok = at == 0 || is_prefix_boundary(input[at - 1]);
        declared || (before_ok && after == Some(b':'))
    })
}

/// Chooses the prefix for [`NAMESPACE`]: `rilla`, or `rilla1`, `rilla2`, … when the
/// input already uses the previous ones.
pub(super) fn choose_prefix(input: &[u8]) -> String {
    let mut candidate = String::from(PREFIX);
    let mut n = 0u32;
    while prefix_in_use(input, &candidate) {
        n += 1;
        candidate.truncate(PREFIX.len());
        let _ = write!(candidate, "{n}");
    }
    candidate
}

/// Appends ` xmlns:{prefix}="urn:rilla:edge:2026"`.
pub(super) fn push_declaration(buf: &mut Vec<u8>, prefix: &str) {
    buf.extend_from_slice(b" xmlns:");
    buf.extend_from_slice(prefix.as_bytes());
    buf.extend_from_slice(b"=\"");
    buf.extend_from_slice(NAMESPACE.as_bytes());
    buf.push(b'"');
}

fn push_attr(buf: &mut Vec<u8>, name: &str, value: &str) {
    buf.push(b' ');
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"=\"");
    push_escaped(buf, value);
    buf.push(b'"');
}

/// Appends `<{prefix}:Session viewer="…" swarm="…" announce="…" interval="…"/>`.
pub(super) fn push_session(buf: &mut Vec<u8>, prefix: &str, session: &SessionTag) {
    buf.push(b'<');
    buf.extend_from_slice(prefix.as_bytes());
    buf.extend_from_slice(b":Session");
    push_attr(buf, "viewer", session.viewer.as_str());
    push_attr(buf, "swarm", session.swarm.as_str());
    push_attr(buf, "announce", session.announce.as_str());
    let _ = write!(buf, " interval=\"{}\"/>", session.announce_interval_secs);
}

/// Whether a hint applies to DASH (HLS sequence numbers do not).
pub(super) fn is_dash_hint(hint: &SegmentHint) -> bool {
    matches!(hint.segment, SegmentId::Number(_) | SegmentId::Time(_))
}

/// Appends `<{prefix}:Hint number="…"|time="…" action="…" [peers="…"] [sha256="…"]/>`.
/// Hints that are not for DASH segments write nothing.
pub(super) fn push_hint(buf: &mut Vec<u8>, prefix: &str, hint: &SegmentHint) {
    let (attr, value) = match hint.segment {
        SegmentId::Number(n) => ("number", n),
        SegmentId::Time(t) => ("time", t),
        SegmentId::Sequence { .. } => return,
    };
    buf.push(b'<');
    buf.extend_from_slice(prefix.as_bytes());
    let _ = write!(buf, ":Hint {attr}=\"{value}\"");
    match &hint.action {
        HintAction::Seed => buf.extend_from_slice(b" action=\"seed\""),
        HintAction::Cdn => buf.extend_from_slice(b" action=\"cdn\""),
        HintAction::Peers(peers) => {
            buf.extend_from_slice(b" action=\"peers\" peers=\"");
            for (i, peer) in peers.iter().enumerate() {
                if i > 0 {
                    buf.push(b' ');
                }
                push_escaped(buf, peer.as_str());
            }
            buf.push(b'"');
        }
    }
    if let Some(digest) = &hint.sha256 {
        buf.extend_from_slice(b" sha256=\"");
        digest.write_hex(buf);
        buf.push(b'"');
    }
    buf.extend_from_slice(b"/>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SafeUri, Sha256Digest, ViewerId};

    #[test]
    fn prefix_skips_every_form_of_use() {
        assert_eq!(choose_prefix(b"<MPD xmlns=\"x\"/>"), "rilla");
        assert_eq!(choose_prefix(b"<MPD xmlns:rilla=\"x\"/>"), "rilla1");
        assert_eq!(choose_prefix(b"<MPD><rilla:X/><rilla1:Y/></MPD>"), "rilla2");
        assert_eq!(choose_prefix(b"<MPD gorilla:x=\"1\"/>"), "rilla");
        assert_eq!(choose_prefix(b"<MPD a=\"rilla\"/>"), "rilla");
    }

    #[test]
    fn session_and_hints_are_escaped_and_complete() {
        let mut buf = Vec::new();
        let session = SessionTag {
            viewer: ViewerId::new("v1").unwrap(),
            swarm: ViewerId::new("s1").unwrap(),
            announce: SafeUri::new("/a?x=1&y=2").unwrap(),
            announce_interval_secs: 7,
        };
        push_session(&mut buf, "rilla", &session);
        assert_eq!(
            String::from_utf8_lossy(&buf),
            r#"<rilla:Session viewer="v1" swarm="s1" announce="/a?x=1&amp;y=2" interval="7"/>"#
        );
        buf.clear();
        let hint = SegmentHint {
            segment: SegmentId::Time(90),
            action: HintAction::Peers(vec![
                ViewerId::new("a").unwrap(),
                ViewerId::new("b").unwrap(),
            ]),
            sha256: Some(Sha256Digest([0xab; 32])),
        };
        push_hint(&mut buf, "r", &hint);
        let expected = format!(
            r#"<r:Hint time="90" action="peers" peers="a b" sha256="{}"/>"#,
            "ab".repeat(32)
        );
        assert_eq!(String::from_utf8_lossy(&buf), expected);
        buf.clear();
        let hls = SegmentHint {
            segment: SegmentId::Sequence { msn: 1, part: None },
            action: HintAction::Seed,
            sha256: None,
        };
        push_hint(&mut buf, "r", &hls);
        assert!(buf.is_empty());
    }
}
