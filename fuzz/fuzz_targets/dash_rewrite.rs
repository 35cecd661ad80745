#![no_main]
//! Arbitrary bytes through the DASH rewriter: it must never panic; with a signer that signs
//! nothing and nothing to inject, a successful rewrite returns the input unchanged; and a
//! successful personalized rewrite is accepted again (tokens are replaced, never doubled).

use libfuzzer_sys::fuzz_target;
use rilla_manifest_rewriter::dash;
use rilla_manifest_rewriter::{
    HintAction, Limits, NoHints, RewritePlan, SafeUri, SegmentHint, SegmentId, SessionTag,
    Sha256Digest, SignTarget, UriSigner, ViewerId,
};
use url::Url;

/// Signs everything on `edge.example` with a token derived from the path length; every
/// fourth token carries a `$` to exercise template escaping.
struct Signer(String);

impl UriSigner for Signer {
    fn param(&self) -> &str {
        "rt"
    }
    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
        if target.authority != "edge.example" {
            return None;
        }
        let len = target.path.len();
        self.0.clear();
        self.0.push_str(if len % 4 == 0 { "t$k-" } else { "tok-" });
        self.0.push_str(&len.to_string());
        Some(&self.0)
    }
}

struct NoSigner;

impl UriSigner for NoSigner {
    fn param(&self) -> &str {
        "rt"
    }
    fn token_for(&mut self, _: &SignTarget<'_>) -> Option<&str> {
        None
    }
}

const URLS: [&str; 3] = [
    "https://edge.example/live/ch1/manifest.mpd",
    "https://edge.example/live/ch1/manifest.mpd?token=a%2Fb&rt=old",
    "http://edge.example:8080/a.mpd",
];

fuzz_target!(|data: &[u8]| {
    let (selector, input) = match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, data),
    };
    let Ok(url) = Url::parse(URLS[usize::from(selector) % URLS.len()]) else {
        return;
    };
    let (Ok(viewer), Ok(peer), Ok(announce)) = (
        ViewerId::new("viewer-1"),
        ViewerId::new("peer-2"),
        SafeUri::new("/p2p/v1/announce?a=1&b=2"),
    ) else {
        return;
    };
    let session = SessionTag {
        viewer: viewer.clone(),
        swarm: viewer,
        announce,
        announce_interval_secs: 10,
    };
    let hints: Vec<SegmentHint> = (0..6u64)
        .map(|i| SegmentHint {
            segment: match i % 3 {
                0 => SegmentId::Number(i),
                1 => SegmentId::Time(i * 90_000),
                _ => SegmentId::Sequence { msn: i, part: None },
            },
            action: match i % 3 {
                0 => HintAction::Seed,
                1 => HintAction::Cdn,
                _ => HintAction::Peers(vec![peer.clone()]),
            },
            sha256: (i % 2 == 0).then_some(Sha256Digest([i as u8; 32])),
        })
        .collect();
    let limits = Limits {
        max_line_bytes: if selector & 0x80 != 0 { 64 } else { 64 * 1024 },
        max_xml_depth: if selector & 0x40 != 0 { 4 } else { 32 },
        ..Limits::default()
    };

    let mut signer = Signer(String::new());
    let mut plan = RewritePlan {
        signer: &mut signer,
        session: Some(&session),
        hints: &hints,
        limits,
    };
    let mut out = Vec::new();
    if dash::rewrite_into(input, &url, &mut plan, &mut out).is_ok() {
        let mut plan = RewritePlan {
            signer: &mut signer,
            session: None,
            hints: &NoHints,
            limits: Limits {
                max_line_bytes: usize::MAX,
                max_xml_depth: limits.max_xml_depth + 1,
                max_manifest_bytes: usize::MAX,
            },
        };
        let mut again = Vec::new();
        assert!(
            dash::rewrite_into(&out, &url, &mut plan, &mut again).is_ok(),
            "a personalized MPD is refused when rewritten again"
        );
        assert_eq!(again, out, "rewriting a personalized MPD again changed it");
    }

    let mut plan = RewritePlan {
        signer: &mut NoSigner,
        session: None,
        hints: &NoHints,
        limits,
    };
    out.clear();
    if dash::rewrite_into(input, &url, &mut plan, &mut out).is_ok() {
        assert_eq!(out, input, "a no-op rewrite changed the MPD");
    }
});
