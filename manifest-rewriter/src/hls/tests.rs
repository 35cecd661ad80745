//! Unit tests of the HLS rewriter.

use super::*;
use crate::plan::{HintAction, Limits, NoHints, SafeUri, SegmentHint, Sha256Digest, ViewerId};

/// Signs URIs on `edge.example` (any port-less authority in `ours`) with a token that
/// spells out the path it was minted for, so each test can check which path was signed.
struct PathSigner {
    ours: Vec<&'static str>,
    token: String,
    asked: Vec<String>,
}

impl PathSigner {
    fn new() -> Self {
        Self {
            ours: vec!["edge.example"],
            token: String::new(),
            asked: Vec::new(),
        }
    }
}

/// The token [`PathSigner`] gives to `path`.
fn tok(path: &str) -> String {
    let mut t = String::from("t");
    for b in path.bytes() {
        t.push_str(&format!("{b:02x}"));
    }
    t
}

impl UriSigner for PathSigner {
    fn param(&self) -> &str {
        "rt"
    }
    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
        self.asked.push(format!(
            "{}://{}{}",
            target.scheme, target.authority, target.path
        ));
        if !self.ours.contains(&target.authority) {
            return None;
        }
        self.token = tok(target.path);
        Some(&self.token)
    }
}

/// Signs nothing.
struct NoSigner;

impl UriSigner for NoSigner {
    fn param(&self) -> &str {
        "rt"
    }
    fn token_for(&mut self, _: &SignTarget<'_>) -> Option<&str> {
        None
    }
}

const URL: &str = "https://edge.example/live/ch1/index.m3u8";

fn run_with(
    input: &str,
    url: &str,
    signer: &mut dyn UriSigner,
    session: Option<&SessionTag>,
    hints: &dyn crate::HintSource,
) -> Result<String, RewriteError> {
    let url = Url::parse(url).unwrap();
    let mut plan = RewritePlan {
        signer,
        session,
        hints,
        limits: Limits::default(),
    };
    let mut out = Vec::new();
    rewrite_into(input.as_bytes(), &url, &mut plan, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

fn sign(input: &str) -> String {
    run_with(input, URL, &mut PathSigner::new(), None, &NoHints).unwrap()
}

/// `uri` followed by the token for `path`.
fn s(uri: &str, sep: char, path: &str) -> String {
    format!("{uri}{sep}rt={}", tok(path))
}

#[test]
fn media_playlist_uris_are_signed_for_their_own_path() {
    let input = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"719@0\"\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k1.bin\",IV=0x1\n#EXTINF:4.0,\nseg1.m4s\n\
#EXT-X-PART:DURATION=1.0,URI=\"p/2.0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p/2.1.m4s\"\n\
#EXT-X-RENDITION-REPORT:URI=\"/live/ch2/index.m3u8\",LAST-MSN=2\n";
    let expected = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"{}\",BYTERANGE=\"719@0\"\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"{}\",IV=0x1\n#EXTINF:4.0,\n{}\n\
#EXT-X-PART:DURATION=1.0,URI=\"{}\",INDEPENDENT=YES\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"\n\
#EXT-X-RENDITION-REPORT:URI=\"{}\",LAST-MSN=2\n",
        s("init.mp4", '?', "/live/ch1/init.mp4"),
        s("../keys/k1.bin", '?', "/live/keys/k1.bin"),
        s("seg1.m4s", '?', "/live/ch1/seg1.m4s"),
        s("p/2.0.m4s", '?', "/live/ch1/p/2.0.m4s"),
        s("p/2.1.m4s", '?', "/live/ch1/p/2.1.m4s"),
        s("/live/ch2/index.m3u8", '?', "/live/ch2/index.m3u8"),
    );
    assert_eq!(sign(input), expected);
}

#[test]
fn multivariant_uris_are_signed() {
    let input = "#EXTM3U\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/en.m3u8\"\n\
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"cc\",INSTREAM-ID=\"CC1\"\n\
#EXT-X-SESSION-DATA:DATA-ID=\"com.x.lyrics\",URI=\"lyrics.json\"\n\
#EXT-X-SESSION-DATA:DATA-ID=\"com.x.title\",VALUE=\"URI=x\"\n\
#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"https://edge.example/k?id=1\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.4d401f,mp4a.40.2\",AUDIO=\"a\"\nv1/index.m3u8\n\
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"v1/iframe.m3u8\"\n\
#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=1,URI=\"thumbs/index.m3u8\"\n";
    let expected = format!(
        "#EXTM3U\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"{}\"\n\
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"cc\",INSTREAM-ID=\"CC1\"\n\
#EXT-X-SESSION-DATA:DATA-ID=\"com.x.lyrics\",URI=\"{}\"\n\
#EXT-X-SESSION-DATA:DATA-ID=\"com.x.title\",VALUE=\"URI=x\"\n\
#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"{}\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.4d401f,mp4a.40.2\",AUDIO=\"a\"\n{}\n\
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"{}\"\n\
#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=1,URI=\"{}\"\n",
        s("audio/en.m3u8", '?', "/live/ch1/audio/en.m3u8"),
        s("lyrics.json", '?', "/live/ch1/lyrics.json"),
        s("https://edge.example/k?id=1", '&', "/k"),
        s("v1/index.m3u8", '?', "/live/ch1/v1/index.m3u8"),
        s("v1/iframe.m3u8", '?', "/live/ch1/v1/iframe.m3u8"),
        s("thumbs/index.m3u8", '?', "/live/ch1/thumbs/index.m3u8"),
    );
    assert_eq!(sign(input), expected);
}

#[test]
fn drm_and_method_none_keys_are_never_touched() {
    let input = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n\
#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://twelve\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\n\
#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI=\"data:text/plain;base64,AAAAPnBz\",KEYFORMAT=\"urn:uuid:edef8ba9\"\n\
#EXT-X-KEY:METHOD=NONE,URI=\"key.bin\"\n\
#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd://x\"\n#EXTINF:4,\nhttps://cdn.other.example/a.ts\n";
    let mut signer = PathSigner::new();
    let out = run_with(input, URL, &mut signer, None, &NoHints).unwrap();
    assert_eq!(out, input);
    // Only the foreign segment was offered, and refused by the signer.
    assert_eq!(signer.asked, ["https://cdn.other.example/a.ts"]);
}

#[test]
fn foreign_hosts_are_left_as_written() {
    let input = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n//cdn.other.example/a.ts?x=1\n\
#EXTINF:4,\nHTTPS://EDGE.EXAMPLE/live/b.ts\n#EXTINF:4,\nhttp://edge.example:8080/c.ts\n";
    let out = sign(input);
    let expected = input.replace(
        "HTTPS://EDGE.EXAMPLE/live/b.ts",
        &s("HTTPS://EDGE.EXAMPLE/live/b.ts", '?', "/live/b.ts"),
    );
    assert_eq!(out, expected);
}

#[test]
fn query_fragment_and_existing_token() {
    let input = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts?x=1\n#EXTINF:4,\nb.ts#t=3\n\
#EXTINF:4,\nc.ts?rt=stale&y=2#f\n#EXTINF:4,\nd.ts?rt=1&rt=2\n";
    let expected = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n{}\n#EXTINF:4,\nb.ts?rt={}#t=3\n\
#EXTINF:4,\nc.ts?rt={}&y=2#f\n#EXTINF:4,\nd.ts?rt={}\n",
        s("a.ts?x=1", '&', "/live/ch1/a.ts"),
        tok("/live/ch1/b.ts"),
        tok("/live/ch1/c.ts"),
        tok("/live/ch1/d.ts"),
    );
    let out = sign(input);
    assert_eq!(out, expected);
    // Signing the output again changes nothing: tokens are replaced, never stacked.
    assert_eq!(sign(&out), out);
}

#[test]
fn line_endings_whitespace_and_bom_are_preserved() {
    let input = "\u{feff}\r\n  #EXTM3U\r\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\r\n \ta.ts  \r\n\
#EXT-X-UNKNOWN:URI=\"x.ts\"\n# comment a.ts\n\n#EXTINF:4,\n\tb.ts\t";
    let expected = format!(
        "\u{feff}\r\n  #EXTM3U\r\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\r\n \t{}  \r\n\
#EXT-X-UNKNOWN:URI=\"x.ts\"\n# comment a.ts\n\n#EXTINF:4,\n\t{}\t",
        s("a.ts", '?', "/live/ch1/a.ts"),
        s("b.ts", '?', "/live/ch1/b.ts"),
    );
    assert_eq!(sign(input), expected);
}

#[test]
fn no_token_means_byte_identical_output() {
    let input =
        "\u{feff}#EXTM3U\r\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"i.mp4\"\n#EXTINF:4,\r\na.ts";
    let out = run_with(input, URL, &mut NoSigner, None, &NoHints).unwrap();
    assert_eq!(out, input);
}

#[test]
fn define_name_value_is_substituted_then_signed() {
    let input = "#EXTM3U\n#EXT-X-DEFINE:NAME=\"dir\",VALUE=\"v720\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1\n{$dir}/index.m3u8\n";
    let expected = format!(
        "#EXTM3U\n#EXT-X-DEFINE:NAME=\"dir\",VALUE=\"v720\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n{}\n",
        s("v720/index.m3u8", '?', "/live/ch1/v720/index.m3u8")
    );
    assert_eq!(sign(input), expected);
}

#[test]
fn define_queryparam_comes_from_the_manifest_url() {
    let input =
        "#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"q\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8?k={$q}\n";
    let url = "https://edge.example/live/ch1/index.m3u8?q=ab%2Fc";
    let out = run_with(input, url, &mut PathSigner::new(), None, &NoHints).unwrap();
    assert!(
        out.ends_with(&format!(
            "\n{}\n",
            s("a.m3u8?k=ab/c", '&', "/live/ch1/a.m3u8")
        )),
        "{out}"
    );

    // A value that smuggles our own parameter is overridden, not doubled.
    let url = "https://edge.example/live/ch1/index.m3u8?q=x%26rt%3Dforged";
    let out = run_with(input, url, &mut PathSigner::new(), None, &NoHints).unwrap();
    let signed = format!("a.m3u8?k=x&rt={}\n", tok("/live/ch1/a.m3u8"));
    assert!(out.ends_with(&signed), "{out}");
}

#[test]
fn hostile_queryparam_is_not_substituted() {
    let input =
        "#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"q\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\na{$q}.m3u8\n";
    for value in [
        "x%0A%23EXT-X-KEY:METHOD=NONE",
        "x%0Dy",
        "a%20b",
        "a%22b",
        "a+b",
    ] {
        let url = format!("https://edge.example/live/ch1/index.m3u8?q={value}");
        let out = run_with(input, &url, &mut PathSigner::new(), None, &NoHints).unwrap();
        // Left as a reference, signed for the playlist's directory.
        let expected = format!("\n{}\n", s("a{$q}.m3u8", '?', "/live/ch1/"));
        assert!(out.ends_with(&expected), "{value}: {out}");
        assert_eq!(out.lines().count(), input.lines().count());
    }
}

#[test]
fn unresolved_references_fall_back_to_a_directory_token() {
    let input = "#EXTM3U\n#EXT-X-DEFINE:IMPORT=\"auth\"\n#EXT-X-TARGETDURATION:7\n\
#EXT-X-MAP:URI=\"init.mp4{$auth}\"\n#EXTINF:6,\nsub/s1.m4s{$auth}\n#EXTINF:6,\ns2.m4s?a={$auth}\n\
#EXTINF:6,\n{$auth}/s3.m4s\n#EXTINF:6,\nhttps://cdn.other.example/x/{$auth}\n#EXTINF:6,\n{$undefined}s4.m4s\n";
    let expected = format!(
        "#EXTM3U\n#EXT-X-DEFINE:IMPORT=\"auth\"\n#EXT-X-TARGETDURATION:7\n\
#EXT-X-MAP:URI=\"{}\"\n#EXTINF:6,\n{}\n#EXTINF:6,\n{}\n\
#EXTINF:6,\n{{$auth}}/s3.m4s\n#EXTINF:6,\nhttps://cdn.other.example/x/{{$auth}}\n#EXTINF:6,\n{{$undefined}}s4.m4s\n",
        s("init.mp4{$auth}", '?', "/live/ch1/"),
        s("sub/s1.m4s{$auth}", '?', "/live/ch1/sub/"),
        s("s2.m4s?a={$auth}", '&', "/live/ch1/s2.m4s"),
    );
    assert_eq!(sign(input), expected);
}

#[test]
fn unterminated_quote_on_a_signed_tag_is_an_error() {
    let input = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI=\"k.bin\n#EXTINF:4,\na.ts\n";
    let err = run_with(input, URL, &mut PathSigner::new(), None, &NoHints).unwrap_err();
    assert!(
        matches!(err, RewriteError::MalformedHls { line: 3, .. }),
        "{err}"
    );
    // The same on a tag that is copied as is, or a key that is never signed, is fine.
    for tolerated in [
        "#EXT-X-DATERANGE:ID=\"ad,START-DATE=\"x",
        "#EXT-X-KEY:METHOD=NONE,IV=\"x",
    ] {
        let input = format!("#EXTM3U\n#EXT-X-TARGETDURATION:4\n{tolerated}\n#EXTINF:4,\na.ts\n");
        assert!(run_with(&input, URL, &mut PathSigner::new(), None, &NoHints).is_ok());
    }
}

#[test]
fn limits_and_bad_input_are_errors_not_panics() {
    let mut signer = PathSigner::new();
    let url = Url::parse(URL).unwrap();
    let mut plan = RewritePlan {
        signer: &mut signer,
        session: None,
        hints: &NoHints,
        limits: Limits {
            max_line_bytes: 16,
            ..Limits::default()
        },
    };
    let mut out = Vec::new();
    let long = b"#EXTM3U\n#EXTINF:4,\nsegment-with-a-long-name.ts\n";
    assert_eq!(
        rewrite_into(long, &url, &mut plan, &mut out),
        Err(RewriteError::LineTooLong {
            line: 3,
            length: 27,
            limit: 16
        })
    );
    out.clear();
    assert_eq!(
        rewrite_into(
            b"#EXTM3U\n#EXTINF:4,\nse\xffg.ts\n",
            &url,
            &mut plan,
            &mut out
        ),
        Err(RewriteError::InvalidUtf8 { offset: 21 })
    );
    for not_hls in [
        &b""[..],
        b"\n\n",
        b"#EXT-X-VERSION:3\n#EXTM3U\n",
        b"<MPD/>",
        b"\xef\xbb\xbf",
    ] {
        out.clear();
        assert_eq!(
            rewrite_into(not_hls, &url, &mut plan, &mut out),
            Err(RewriteError::NotAManifest)
        );
    }
    plan.limits.max_manifest_bytes = 4;
    assert!(matches!(
        rewrite_into(b"#EXTM3U\n", &url, &mut plan, &mut out),
        Err(RewriteError::TooLarge { size: 8, limit: 4 })
    ));
    let ftp = Url::parse("ftp://edge.example/a.m3u8").unwrap();
    assert!(matches!(
        rewrite_into(b"#EXTM3U\n", &ftp, &mut plan, &mut out),
        Err(RewriteError::BadBaseUrl(_))
    ));
}

fn hint(msn: u64, part: Option<u32>, action: HintAction, sha: bool) -> SegmentHint {
    SegmentHint {
        segment: SegmentId::Sequence { msn, part },
        action,
        sha256: sha.then_some(Sha256Digest([0x5a; 32])),
    }
}

fn session() -> SessionTag {
    SessionTag {
        viewer: ViewerId::new("viewer-1").unwrap(),
        swarm: ViewerId::new("swarm_9").unwrap(),
        announce: SafeUri::new("/p2p/v1/announce?ch=1&x=2").unwrap(),
        announce_interval_secs: 20,
    }
}

#[test]
fn session_and_hints_are_injected_in_media_playlists() {
    let input = "#EXTM3U\r\n#EXT-X-TARGETDURATION:4\r\n#EXT-X-MEDIA-SEQUENCE:10\r\n#EXTINF:4,\r\na.ts\r\n\
#EXTINF:4,\nb.ts\n#EXT-X-PART:DURATION=1,URI=\"c.0.ts\"\n#EXT-X-PART:DURATION=1,URI=\"c.1.ts\"\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"c.2.ts\"";
    let hints = vec![
        hint(10, None, HintAction::Seed, false),
        hint(
            11,
            None,
            HintAction::Peers(vec![
                ViewerId::new("p1").unwrap(),
                ViewerId::new("p2").unwrap(),
            ]),
            true,
        ),
        hint(12, Some(1), HintAction::Cdn, true),
        hint(12, Some(2), HintAction::Seed, false),
        hint(13, None, HintAction::Seed, false),
    ];
    let tag = session();
    let out = run_with(input, URL, &mut NoSigner, Some(&tag), &hints).unwrap();
    let sha = "5a".repeat(32);
    let expected = format!(
        "#EXTM3U\r\n#EXT-X-RILLA-SESSION:VIEWER=\"viewer-1\",SWARM=\"swarm_9\",ANNOUNCE=\"/p2p/v1/announce?ch=1&x=2\",INTERVAL=20\r\n\
#EXT-X-TARGETDURATION:4\r\n#EXT-X-MEDIA-SEQUENCE:10\r\n#EXTINF:4,\r\n#EXT-X-RILLA-HINT:MSN=10,ACTION=SEED\r\na.ts\r\n\
#EXTINF:4,\n#EXT-X-RILLA-HINT:MSN=11,ACTION=PEERS,PEERS=\"p1,p2\",SHA256={sha}\nb.ts\n\
#EXT-X-PART:DURATION=1,URI=\"c.0.ts\"\n#EXT-X-RILLA-HINT:MSN=12,PART=1,ACTION=CDN,SHA256={sha}\n\
#EXT-X-PART:DURATION=1,URI=\"c.1.ts\"\n#EXT-X-RILLA-HINT:MSN=12,PART=2,ACTION=SEED\r\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"c.2.ts\""
    );
    assert_eq!(out, expected);
}

#[test]
fn nothing_is_injected_in_multivariant_playlists() {
    let input =
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nw.m3u8\n";
    let hints = vec![
        hint(0, None, HintAction::Seed, false),
        hint(1, None, HintAction::Cdn, false),
    ];
    let tag = session();
    let out = run_with(input, URL, &mut NoSigner, Some(&tag), &hints).unwrap();
    assert_eq!(out, input);
}

#[test]
fn unreadable_sequence_number_disables_hints() {
    let input = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1x\n#EXTINF:4,\na.ts\n";
    let hints = vec![
        hint(0, None, HintAction::Seed, false),
        hint(1, None, HintAction::Seed, false),
    ];
    let out = run_with(input, URL, &mut NoSigner, None, &hints).unwrap();
    assert_eq!(out, input);
}

#[test]
fn injected_tags_are_one_line_with_exactly_the_expected_attributes() {
    let input = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n";
    let peers: Vec<ViewerId> = (0..50)
        .map(|i| ViewerId::new(&format!("peer-{i}")).unwrap())
        .collect();
    let hints = vec![hint(0, None, HintAction::Peers(peers), true)];
    let tag = session();
    let out = run_with(input, URL, &mut NoSigner, Some(&tag), &hints).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), input.lines().count() + 2);
    let attributes_of = |line: &str, tag: &str| -> Vec<String> {
        let list = line.strip_prefix(tag).unwrap().strip_prefix(':').unwrap();
        attrs::attributes(list)
            .map(|a| a.unwrap().name.to_owned())
            .collect()
    };
    assert_eq!(
        attributes_of(lines[1], "#EXT-X-RILLA-SESSION"),
        ["VIEWER", "SWARM", "ANNOUNCE", "INTERVAL"]
    );
    assert_eq!(
        attributes_of(lines[4], "#EXT-X-RILLA-HINT"),
        ["MSN", "ACTION", "PEERS", "SHA256"]
    );
    assert_eq!(lines[5], "a.ts");
}

fn ids(input: &str) -> Vec<(u64, Option<u32>, HlsSegmentKind, String)> {
    segments(input.as_bytes())
        .unwrap()
        .into_iter()
        .map(|s| (s.msn, s.part, s.kind, s.uri))
        .collect()
}

#[test]
fn skip_advances_the_sequence_number() {
    let input = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:266\n\
#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXTINF:4,\na.mp4\n#EXT-X-DISCONTINUITY\n#EXTINF:4,\nb.mp4\n";
    use HlsSegmentKind::Full;
    assert_eq!(
        ids(input),
        [
            (269, None, Full, "a.mp4".into()),
            (270, None, Full, "b.mp4".into())
        ]
    );
    let info = segments(input.as_bytes()).unwrap();
    assert_eq!(
        info.iter().map(|s| s.discontinuity).collect::<Vec<_>>(),
        [false, true]
    );
}

#[test]
fn parts_belong_to_the_segment_they_precede() {
    let input = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:5\n#EXTINF:4,\ns5.mp4\n\
#EXT-X-PART:DURATION=1.0,URI=\"p6.mp4\",BYTERANGE=\"10@0\"\n#EXT-X-PART:DURATION=1.0,URI=\"p6.mp4\",BYTERANGE=\"10@10\"\n\
#EXTINF:2,\n#EXT-X-BYTERANGE:20@0\ns6.mp4\n#EXT-X-PART:DURATION=1.0,URI=\"p7.0.mp4\"\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p7.1.mp4\"\n#EXT-X-PRELOAD-HINT:TYPE=MAP,URI=\"init.mp4\"\n";
    use HlsSegmentKind::{Full, Part, PreloadHint};
    assert_eq!(
        ids(input),
        [
            (5, None, Full, "s5.mp4".into()),
            (6, Some(0), Part, "p6.mp4".into()),
            (6, Some(1), Part, "p6.mp4".into()),
            (6, None, Full, "s6.mp4".into()),
            (7, Some(0), Part, "p7.0.mp4".into()),
            (7, Some(1), PreloadHint, "p7.1.mp4".into()),
        ]
    );
    let info = segments(input.as_bytes()).unwrap();
    assert_eq!(info[2].byterange.as_deref(), Some("10@10"));
    assert_eq!(info[2].duration.as_deref(), Some("1.0"));
    assert_eq!(info[3].byterange.as_deref(), Some("20@0"));
    assert_eq!(info[3].duration.as_deref(), Some("2"));
}
