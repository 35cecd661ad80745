//! Personalizing a typical live media playlist (10 fMP4 segments with `EXT-X-MAP` and
//! `EXT-X-PROGRAM-DATE-TIME`, hints with hashes on the last 3, a session tag, a
//! JWT-sized token on every URI), against m3u8-rs parsing and serializing the same input.
//!
//! After the criterion measurements, `cargo bench` also prints the ratio of the two, measured
//! interleaved (alternating rounds, best round of each), which is steadier than comparing
//! two criterion runs taken seconds apart on a busy machine.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use rilla_manifest_rewriter::hls;
use rilla_manifest_rewriter::{
    HintAction, Limits, RewritePlan, SafeUri, SegmentHint, SegmentId, SessionTag, Sha256Digest,
    SignTarget, UriSigner, ViewerId,
};
use url::Url;

const FIRST_MSN: u64 = 184_230;

fn live_playlist() -> String {
    let mut p = String::from(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-INDEPENDENT-SEGMENTS\n",
    );
    p.push_str(&format!("#EXT-X-MEDIA-SEQUENCE:{FIRST_MSN}\n"));
    p.push_str("#EXT-X-MAP:URI=\"init-v1080p.mp4\"\n");
    for i in 0..10u64 {
        let msn = FIRST_MSN + i;
        p.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-27T20:{:02}:{:02}.000Z\n#EXTINF:4.000,\nseg-v1080p-{msn}.m4s\n",
            (i * 4) / 60,
            (i * 4) % 60
        ));
    }
    p
}

/// Returns a fixed token the size of an Ed25519-signed JWT for paths under `/live/`.
struct JwtSigner {
    token: String,
}

impl UriSigner for JwtSigner {
    fn param(&self) -> &str {
        "rt"
    }
    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
        (target.authority == "edge.example" && target.path.starts_with("/live/"))
            .then_some(self.token.as_str())
    }
}

fn jwt_sized_token() -> String {
    let header = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9";
    // Claims (viewer, scope, expiry, issue time, key id) and a 64-byte signature, base64url.
    let claims = "eyJzdWIiOiJWcTNuOGtYeTJMbVAwYUI3Y0Q5ZUZnIiwic2NvcGUiOiIvbGl2ZS9jaDEvIiwiZXhwIjoxNzkyMDAwMDAwLCJpYXQiOjE3OTE5OTY0MDAsImtpZCI6ImsxIn0";
    let signature =
        "Q2xvc2VkRWQyNTUxOVNpZ25hdHVyZUJ5dGVzXzAxMjM0NTY3ODlhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5e";
    let token = format!("{header}.{claims}.{signature}");
    assert!(
        (240..=270).contains(&token.len()),
        "token is {} chars",
        token.len()
    );
    token
}

fn hints() -> Vec<SegmentHint> {
    (7..10u64)
        .map(|i| SegmentHint {
            segment: SegmentId::Sequence {
                msn: FIRST_MSN + i,
                part: None,
            },
            action: if i == 9 {
                HintAction::Seed
            } else {
                HintAction::Peers(vec![
                    ViewerId::new("Vq3n8kXy2LmP0aB7cD9eFg").expect("id"),
                    ViewerId::new("Zt5r1HuJ6wQ4sE8yN2vKpA").expect("id"),
                ])
            },
            sha256: Some(Sha256Digest([i as u8 * 17; 32])),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let input = live_playlist();
    let url = Url::parse("https://edge.example/live/ch1/v1080p.m3u8").expect("url");
    let session = SessionTag {
        viewer: ViewerId::new("Vq3n8kXy2LmP0aB7cD9eFg").expect("id"),
        swarm: ViewerId::new("ch1-v1080p").expect("id"),
        announce: SafeUri::new("/p2p/v1/announce").expect("uri"),
        announce_interval_secs: 15,
    };
    let hints = hints();
    let mut signer = JwtSigner {
        token: jwt_sized_token(),
    };
    let mut out = Vec::with_capacity(16 * 1024);

    // Sanity: the personalized playlist has what the benchmark claims.
    {
        let mut plan = RewritePlan {
            signer: &mut signer,
            session: Some(&session),
            hints: &hints,
            limits: Limits::default(),
        };
        hls::rewrite_into(input.as_bytes(), &url, &mut plan, &mut out).expect("rewrite");
        let text = String::from_utf8_lossy(&out);
        assert_eq!(text.matches("?rt=").count(), 11);
        assert_eq!(text.matches("#EXT-X-RILLA-HINT:").count(), 3);
        assert_eq!(text.matches("SHA256=").count(), 3);
        assert_eq!(text.matches("#EXT-X-RILLA-SESSION:").count(), 1);
    }

    let mut personalize = || {
        out.clear();
        let mut plan = RewritePlan {
            signer: &mut signer,
            session: Some(&session),
            hints: &hints,
            limits: Limits::default(),
        };
        hls::rewrite_into(black_box(input.as_bytes()), &url, &mut plan, &mut out).expect("rewrite");
        black_box(out.len())
    };
    let mut written = Vec::with_capacity(16 * 1024);
    let mut round_trip = || {
        written.clear();
        let playlist = m3u8_rs::parse_playlist_res(black_box(input.as_bytes())).expect("parse");
        playlist.write_to(&mut written).expect("write");
        black_box(written.len())
    };

    let mut group = c.benchmark_group("hls");
    group.bench_function("personalize", |b| b.iter(&mut personalize));
    group.bench_function("m3u8-rs_parse_serialize", |b| b.iter(&mut round_trip));
    group.finish();

    // Only under `cargo bench` (not `cargo test --benches`, not `--profile-time`).
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--profile-time") {
        print_ratio(&mut personalize, &mut round_trip);
    }
}

/// Times `a` and `b` in alternating rounds and prints the best round of each, and `b / a`.
fn print_ratio(a: &mut dyn FnMut() -> usize, b: &mut dyn FnMut() -> usize) {
    const ROUNDS: usize = 15;
    let mut best = [f64::MAX; 2];
    let time = |f: &mut dyn FnMut() -> usize, n: u32| {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
    };
    for _ in 0..ROUNDS {
        best[0] = best[0].min(time(&mut *a, 2000));
        best[1] = best[1].min(time(&mut *b, 200));
    }
    println!(
        "hls: personalize {:.0} ns, m3u8-rs parse+serialize {:.0} ns: {:.1}x (best of {ROUNDS} interleaved rounds)",
        best[0],
        best[1],
        best[1] / best[0]
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
