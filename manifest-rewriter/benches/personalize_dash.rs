//! Personalizing a typical live MPD: 3 video Representations and 1 audio, SegmentTemplate
//! with a SegmentTimeline at AdaptationSet level, a realistic signer (a fixed ~250-character
//! token for in-scope paths), the session element and hints for the last 3 segments of each
//! Representation.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rilla_manifest_rewriter::{
    HintAction, HintSource, Limits, Rendition, RewritePlan, SafeUri, SegmentHint, SegmentId,
    SessionTag, Sha256Digest, SignTarget, UriSigner, ViewerId, dash,
};
use url::Url;

/// Signs paths under `/live/` on the edge host with one fixed token.
struct FixedSigner {
    token: String,
}

impl UriSigner for FixedSigner {
    fn param(&self) -> &str {
        "rt"
    }

    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
        (target.authority == "edge.example" && target.path.starts_with("/live/"))
            .then_some(self.token.as_str())
    }
}

struct LastSegments(Vec<(String, Vec<SegmentHint>)>);

impl HintSource for LastSegments {
    fn hints(&self, rendition: &Rendition<'_>) -> &[SegmentHint] {
        let Rendition::Representation { id, .. } = rendition else {
            return &[];
        };
        self.0
            .iter()
            .find(|(rep, _)| rep == id)
            .map_or(&[], |(_, hints)| hints)
    }
}

const FIRST_NUMBER: u64 = 812_345;
const SEGMENTS: u64 = 30;

fn timeline(out: &mut String, timescale: u64) {
    out.push_str("        <SegmentTimeline>\n");
    let d = 2 * timescale;
    let t = FIRST_NUMBER * d;
    let _ = writeln!(
        out,
        "          <S t=\"{t}\" d=\"{d}\" r=\"{}\"/>",
        SEGMENTS - 2
    );
    let _ = writeln!(out, "          <S d=\"{}\"/>", d - timescale / 50);
    out.push_str("        </SegmentTimeline>\n");
}

fn typical_mpd() -> String {
    let mut mpd = String::from(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" xmlns:cenc=\"urn:mpeg:cenc:2013\" ",
        "type=\"dynamic\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" ",
        "availabilityStartTime=\"2026-01-01T00:00:00Z\" publishTime=\"2026-03-01T10:00:00Z\" ",
        "minimumUpdatePeriod=\"PT2S\" timeShiftBufferDepth=\"PT60S\" maxSegmentDuration=\"PT2S\" ",
        "minBufferTime=\"PT4S\" suggestedPresentationDelay=\"PT6S\">\n",
        "  <Period id=\"p0\" start=\"PT0S\">\n",
        "    <AdaptationSet id=\"1\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\">\n",
        "      <ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\" cenc:default_KID=\"9990a266-80f9-3e09-a55a-bf35a70d8065\"/>\n",
        "      <SegmentTemplate timescale=\"90000\" initialization=\"video/$RepresentationID$/init.mp4\" media=\"video/$RepresentationID$/seg-$Number$.m4s\" startNumber=\"812345\">\n",
    ));
    timeline(&mut mpd, 90_000);
    mpd.push_str("      </SegmentTemplate>\n");
    for (id, bw, w, h) in [
        ("v1080", 6_000_000, 1920, 1080),
        ("v720", 3_000_000, 1280, 720),
        ("v360", 800_000, 640, 360),
    ] {
        let _ = writeln!(
            mpd,
            "      <Representation id=\"{id}\" bandwidth=\"{bw}\" width=\"{w}\" height=\"{h}\" codecs=\"avc1.64001f\" frameRate=\"30\"/>"
        );
    }
    mpd.push_str(concat!(
        "    </AdaptationSet>\n",
        "    <AdaptationSet id=\"2\" contentType=\"audio\" mimeType=\"audio/mp4\" lang=\"en\" segmentAlignment=\"true\">\n",
        "      <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"2\"/>\n",
        "      <SegmentTemplate timescale=\"48000\" initialization=\"audio/$RepresentationID$/init.mp4\" media=\"audio/$RepresentationID$/seg-$Number$.m4s\" startNumber=\"812345\">\n",
    ));
    timeline(&mut mpd, 48_000);
    mpd.push_str(concat!(
        "      </SegmentTemplate>\n",
        "      <Representation id=\"a128\" bandwidth=\"128000\" codecs=\"mp4a.40.2\" audioSamplingRate=\"48000\"/>\n",
        "    </AdaptationSet>\n",
        "  </Period>\n",
        "  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-xsdate:2014\" value=\"https://time.example/now\"/>\n",
        "</MPD>\n",
    ));
    mpd
}

fn hints() -> LastSegments {
    let peers: Vec<ViewerId> = (0..3)
        .map(|i| ViewerId::new(&format!("Zk3q9vJ2LmXpT8sRw0{i}")).expect("viewer id"))
        .collect();
    let last = FIRST_NUMBER + SEGMENTS - 1;
    let reps = ["v1080", "v720", "v360", "a128"].map(|id| {
        let hints = (last - 2..=last)
            .map(|n| SegmentHint {
                segment: SegmentId::Number(n),
                action: if n == last {
                    HintAction::Seed
                } else {
                    HintAction::Peers(peers.clone())
                },
                sha256: (n != last).then_some(Sha256Digest([n as u8; 32])),
            })
            .collect();
        (id.to_owned(), hints)
    });
    LastSegments(reps.into())
}

fn bench(c: &mut Criterion) {
    let input = typical_mpd();
    let url = Url::parse("https://edge.example/live/ch1/manifest.mpd").expect("URL");
    let mut signer = FixedSigner {
        token: "eyJhbGciOiJFZERTQSJ9.".to_owned() + &"x".repeat(230),
    };
    let session = SessionTag {
        viewer: ViewerId::new("Zk3q9vJ2LmXpT8sRw0Ab").expect("viewer id"),
        swarm: ViewerId::new("ch1-video").expect("swarm id"),
        announce: SafeUri::new("/p2p/v1/announce").expect("announce URI"),
        announce_interval_secs: 10,
    };
    let hints = hints();
    let mut out = Vec::with_capacity(input.len() * 2);

    let mut group = c.benchmark_group("personalize_dash");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("typical_live_mpd", |b| {
        b.iter(|| {
            out.clear();
            let mut plan = RewritePlan {
                signer: &mut signer,
                session: Some(&session),
                hints: &hints,
                limits: Limits::default(),
            };
            dash::rewrite_into(black_box(input.as_bytes()), &url, &mut plan, &mut out)
                .expect("rewrite");
            black_box(out.len())
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
