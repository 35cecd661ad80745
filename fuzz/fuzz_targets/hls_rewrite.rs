#![no_main]
//! Arbitrary bytes through the HLS rewriter: it must never panic, and with a signer that
//! signs nothing and nothing to inject, a successful rewrite returns the input unchanged.

use libfuzzer_sys::fuzz_target;
use rilla_manifest_rewriter::hls;
use rilla_manifest_rewriter::{
    HintAction, Limits, NoHints, RewritePlan, SafeUri, SegmentHint, SegmentId, SessionTag,
    Sha256Digest, SignTarget, UriSigner, ViewerId,
};
use url::Url;

/// Signs everything on `edge.example` with a token derived from the path length.
struct Signer(String);

impl UriSigner for Signer {
    fn param(&self) -> &str {
        "rt"
    }
    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
        if target.authority != "edge.example" {
            return None;
        }
        self.0.clear();
        self.0.push_str("tok-");
        self.0.push_str(&target.path.len().to_string());
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
    "https://edge.example/live/ch1/index.m3u8",
    "https://edge.example/live/ch1/index.m3u8?token=a%2Fb&bad=x%0Ay&rt=old",
    "http://edge.example:8080/a.m3u8",
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
        SafeUri::new("/p2p/v1/announce"),
    ) else {
        return;
    };
    let session = SessionTag {
        viewer: viewer.clone(),
        swarm: viewer,
        announce,
        announce_interval_secs: 10,
    };
    let hints: Vec<SegmentHint> = (0..8u64)
        .map(|i| SegmentHint {
            segment: SegmentId::Sequence {
                msn: i,
                part: (i % 2 == 1).then_some((i / 2) as u32),
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
    let _ = hls::rewrite_into(input, &url, &mut plan, &mut out);
    let _ = hls::segments(input);

    let mut plan = RewritePlan {
        signer: &mut NoSigner,
        session: None,
        hints: &NoHints,
        limits,
    };
    out.clear();
    if hls::rewrite_into(input, &url, &mut plan, &mut out).is_ok() {
        assert_eq!(out, input, "a no-op rewrite changed the playlist");
    }
});
