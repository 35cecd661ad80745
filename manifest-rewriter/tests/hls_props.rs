//! Properties of the HLS rewriter on generated media playlists: structure and identity are
//! unchanged, every URI of ours carries a token for exactly its own path, injection adds
//! whole lines only, and nothing panics.

use proptest::prelude::*;
use rilla_manifest_rewriter::hls::{self, HlsSegmentInfo, HlsSegmentKind};
use rilla_manifest_rewriter::{
    HintAction, Limits, NoHints, RewritePlan, SafeUri, SegmentHint, SegmentId, SessionTag,
    Sha256Digest, SignTarget, UriSigner, ViewerId,
};
use url::Url;

const BASE: &str = "https://edge.example/live/ch1/index.m3u8";

/// Signs everything on `edge.example` with `t` + the hex of the signed path.
struct PathSigner(String);

impl UriSigner for PathSigner {
    fn param(&self) -> &str {
        "rt"
    }
    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
        if target.authority != "edge.example" {
            return None;
        }
        self.0 = format!("t{}", hex(target.path.as_bytes()));
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(token: &str) -> Option<String> {
    let digits = token.strip_prefix('t')?;
    let bytes: Option<Vec<u8>> = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Removes every `rt=…` query component (with its separator) from a line.
fn strip_tokens(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    loop {
        let found = ["?rt=", "&rt="].iter().filter_map(|p| rest.find(p)).min();
        let Some(i) = found else {
            out.push_str(rest);
            return out;
        };
        let sep = &rest[i..i + 1];
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        let end = after
            .find(['&', '#', '"', ' ', '\t', '\r'])
            .unwrap_or(after.len());
        rest = &after[end..];
        if sep == "?"
            && let Some(r) = rest.strip_prefix('&')
        {
            out.push('?');
            rest = r;
        }
    }
}

/// The token of the `rt` parameter of `uri`, if any.
fn token_of(uri: &str) -> Option<&str> {
    let query = uri.split('#').next()?.split_once('?')?.1;
    query.split('&').find_map(|c| c.strip_prefix("rt="))
}

/// Sequence number, part index, kind, duration and byte range of a segment or part.
type Identity = (
    u64,
    Option<u32>,
    HlsSegmentKind,
    Option<String>,
    Option<String>,
);

#[derive(Debug, Clone)]
struct Segment {
    discontinuity: bool,
    key: Option<u8>,
    map: Option<Option<(u32, u32)>>,
    junk: Vec<u8>,
    parts: Vec<(u16, Option<(u32, u32)>)>,
    duration_ms: u32,
    title: bool,
    byterange: Option<(u32, Option<u32>)>,
    uri_kind: u8,
    spaces: (bool, bool),
}

fn segment() -> impl Strategy<Value = Segment> {
    (
        (
            any::<bool>(),
            prop::option::weighted(0.2, 0u8..3),
            prop::option::weighted(0.2, prop::option::of((1u32..5000, 0u32..5000))),
        ),
        prop::collection::vec(0u8..6, 0..3),
        prop::collection::vec(
            (1u16..2000, prop::option::of((1u32..9000, 0u32..9000))),
            0..4,
        ),
        (
            1u32..20_000,
            any::<bool>(),
            prop::option::weighted(0.3, (1u32..100_000, prop::option::of(0u32..100_000))),
        ),
        (0u8..6, any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (disc, key, map),
                junk,
                parts,
                (duration_ms, title, byterange),
                (uri_kind, lead, trail),
            )| Segment {
                discontinuity: disc,
                key,
                map,
                junk,
                parts,
                duration_ms,
                title,
                byterange,
                uri_kind,
                spaces: (lead, trail),
            },
        )
}

#[derive(Debug, Clone)]
struct Generated {
    text: String,
    media_sequence: u64,
    /// Expected (msn, part, kind, duration, byterange) per segment or part, in order.
    expected: Vec<Identity>,
}

fn uri_for(kind: u8, i: usize) -> String {
    match kind {
        0 => format!("seg{i}.ts"),
        1 => format!("sub/seg{i}.m4s?x={i}"),
        2 => format!("/abs/seg{i}.ts#f{i}"),
        3 => format!("https://edge.example/live/seg{i}.ts"),
        4 => format!("https://cdn.foreign.example/seg{i}.ts"),
        _ => format!("../up/seg{i}.ts?rt=stale"),
    }
}

fn junk_line(kind: u8, i: usize) -> String {
    match kind {
        0 => format!("#EXT-X-FOO-{i}:A=\"x,y\",URI=\"unknown-{i}.ts\""),
        1 => format!("# comment seg{i}.ts"),
        2 => "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z".to_owned(),
        3 => String::new(),
        4 => "#EXT-X-BITRATE:1000".to_owned(),
        _ => "#EXT-X-GAP-LIKE".to_owned(),
    }
}

fn playlist() -> impl Strategy<Value = Generated> {
    (
        prop::collection::vec(segment(), 0..12),
        0u64..2_000_000,
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(1u16..2000),
    )
        .prop_map(|(segments, media_sequence, crlf, final_newline, endlist, preload)| {
            let mut lines: Vec<String> = vec![
                "#EXTM3U".into(),
                "#EXT-X-VERSION:9".into(),
                "#EXT-X-TARGETDURATION:20".into(),
                format!("#EXT-X-MEDIA-SEQUENCE:{media_sequence}"),
            ];
            let mut expected = Vec::new();
            let mut msn = media_sequence;
            for (i, s) in segments.iter().enumerate() {
                if s.discontinuity {
                    lines.push("#EXT-X-DISCONTINUITY".into());
                }
                match s.key {
                    Some(0) => lines.push(format!("#EXT-X-KEY:METHOD=AES-128,URI=\"keys/k{i}.bin\",IV=0x{i:032x}")),
                    Some(1) => lines.push(format!("#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://k{i}\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"")),
                    Some(_) => lines.push(format!("#EXT-X-KEY:METHOD=AES-128,URI=\"https://edge.example/keys/k{i}?v=1\",IV=0x{i:032x}")),
                    None => {}
                }
                match s.map {
                    Some(Some((len, off))) => lines.push(format!("#EXT-X-MAP:URI=\"init{i}.mp4\",BYTERANGE=\"{len}@{off}\"")),
                    Some(None) => lines.push(format!("#EXT-X-MAP:URI=\"init{i}.mp4\"")),
                    None => {}
                }
                for j in &s.junk {
                    lines.push(junk_line(*j, i));
                }
                for (p, (dur, range)) in s.parts.iter().enumerate() {
                    let duration = format!("{}.{:03}", dur / 1000, dur % 1000);
                    let mut line = format!("#EXT-X-PART:DURATION={duration},URI=\"part{i}.{p}.m4s\"");
                    let byterange = range.map(|(l, o)| format!("{l}@{o}"));
                    if let Some(r) = &byterange {
                        line.push_str(&format!(",BYTERANGE=\"{r}\""));
                    }
                    if p == 0 {
                        line.push_str(",INDEPENDENT=YES");
                    }
                    lines.push(line);
                    expected.push((msn, Some(p as u32), HlsSegmentKind::Part, Some(duration), byterange));
                }
                let duration = format!("{}.{:03}", s.duration_ms / 1000, s.duration_ms % 1000);
                lines.push(format!("#EXTINF:{duration},{}", if s.title { "title, with comma" } else { "" }));
                let byterange = s.byterange.map(|(l, o)| match o {
                    Some(o) => format!("{l}@{o}"),
                    None => format!("{l}"),
                });
                if let Some(r) = &byterange {
                    lines.push(format!("#EXT-X-BYTERANGE:{r}"));
                }
                let lead = if s.spaces.0 { " \t" } else { "" };
                let trail = if s.spaces.1 { "  " } else { "" };
                lines.push(format!("{lead}{}{trail}", uri_for(s.uri_kind, i)));
                expected.push((msn, None, HlsSegmentKind::Full, Some(duration), byterange));
                msn += 1;
            }
            if let Some(p) = preload {
                lines.push(format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"next{p}.m4s\""));
                expected.push((msn, Some(0), HlsSegmentKind::PreloadHint, None, None));
            }
            if endlist && preload.is_none() {
                lines.push("#EXT-X-ENDLIST".into());
            }
            let mut text = String::new();
            let count = lines.len();
            for (n, line) in lines.into_iter().enumerate() {
                text.push_str(&line);
                if n + 1 < count || final_newline {
                    text.push_str(if crlf >> (n % 64) & 1 == 1 { "\r\n" } else { "\n" });
                }
            }
            Generated { text, media_sequence, expected }
        })
}

fn identities(segments: &[HlsSegmentInfo]) -> Vec<Identity> {
    segments
        .iter()
        .map(|s| {
            (
                s.msn,
                s.part,
                s.kind,
                s.duration.clone(),
                s.byterange.clone(),
            )
        })
        .collect()
}

fn hints_for(segments: &[HlsSegmentInfo], choices: &[u8]) -> Vec<SegmentHint> {
    segments
        .iter()
        .zip(choices.iter().cycle())
        .filter(|(_, c)| **c % 4 != 0)
        .map(|(s, c)| SegmentHint {
            segment: SegmentId::Sequence {
                msn: s.msn,
                part: s.part,
            },
            action: match c % 4 {
                1 => HintAction::Seed,
                2 => HintAction::Cdn,
                _ => HintAction::Peers(
                    (0..(c % 5))
                        .map(|i| ViewerId::new(&format!("p{i}")).expect("id"))
                        .collect(),
                ),
            },
            sha256: (c % 2 == 1).then_some(Sha256Digest([*c; 32])),
        })
        .collect()
}

fn rewrite(input: &str, hints: &[SegmentHint]) -> String {
    let session = SessionTag {
        viewer: ViewerId::new("viewer-7").expect("id"),
        swarm: ViewerId::new("ch1-720p").expect("id"),
        announce: SafeUri::new("https://edge.example/p2p/announce?a=1&b=2").expect("uri"),
        announce_interval_secs: 30,
    };
    let hints = hints.to_vec();
    let mut signer = PathSigner(String::new());
    let mut plan = RewritePlan {
        signer: &mut signer,
        session: Some(&session),
        hints: &hints,
        limits: Limits::default(),
    };
    let mut out = Vec::new();
    hls::rewrite_into(
        input.as_bytes(),
        &Url::parse(BASE).expect("url"),
        &mut plan,
        &mut out,
    )
    .expect("rewrite");
    String::from_utf8(out).expect("utf-8")
}

/// Splits an attribute list into names, honouring quoted strings (independently of the
/// rewriter's parser).
fn attribute_names(list: &str) -> Option<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        names.push(name.to_owned());
        let after = if let Some(q) = after.strip_prefix('"') {
            let close = q.find('"')?;
            &q[close + 1..]
        } else {
            after.find(',').map_or("", |c| &after[c..])
        };
        rest = match after.strip_prefix(',') {
            Some(r) => r,
            None if after.is_empty() => "",
            None => return None,
        };
    }
    Some(names)
}

const SIGNED_TAGS: [&str; 5] = [
    "#EXT-X-KEY:",
    "#EXT-X-MAP:",
    "#EXT-X-PART:",
    "#EXT-X-PRELOAD-HINT:",
    "#EXT-X-MEDIA:",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn identity_is_what_was_generated(g in playlist()) {
        let found = hls::segments(g.text.as_bytes()).expect("segments");
        prop_assert_eq!(identities(&found), g.expected.clone());
        prop_assert!(found.iter().filter(|s| s.kind == HlsSegmentKind::Full).all(|s| s.msn >= g.media_sequence));
    }

    #[test]
    fn rewriting_keeps_structure_and_signs_each_uri_for_its_own_path(g in playlist(), choices in prop::collection::vec(any::<u8>(), 1..16)) {
        let before = hls::segments(g.text.as_bytes()).expect("segments");
        let hints = hints_for(&before, &choices);
        let out = rewrite(&g.text, &hints);

        // Same segments, parts and identities; URIs equal once our token is removed.
        let after = hls::segments(out.as_bytes()).expect("segments of output");
        prop_assert_eq!(identities(&before), identities(&after));
        for (a, b) in before.iter().zip(&after) {
            prop_assert_eq!(strip_tokens(&a.uri), strip_tokens(&b.uri));
        }

        // Line for line, only tokens differ, and the injected lines are whole lines.
        let in_lines: Vec<&str> = g.text.split('\n').collect();
        let out_lines: Vec<&str> = out.split('\n').collect();
        let kept: Vec<&str> = out_lines.iter().copied().filter(|l| !l.starts_with("#EXT-X-RILLA-")).collect();
        prop_assert_eq!(kept.len(), in_lines.len());
        for (a, b) in in_lines.iter().zip(&kept) {
            prop_assert_eq!(strip_tokens(a), strip_tokens(b));
        }
        let injected: Vec<&str> = out_lines.iter().copied().filter(|l| l.starts_with("#EXT-X-RILLA-")).collect();
        prop_assert_eq!(injected.len(), 1 + hints.len());
        prop_assert!(injected[0].starts_with("#EXT-X-RILLA-SESSION:"));
        for (line, hint) in injected[1..].iter().zip(&hints) {
            let list = line.trim_end_matches('\r').strip_prefix("#EXT-X-RILLA-HINT:").expect("hint tag");
            let SegmentId::Sequence { msn, part } = hint.segment else { unreachable!() };
            let mut expected = vec!["MSN".to_owned()];
            if part.is_some() { expected.push("PART".into()); }
            expected.push("ACTION".into());
            if matches!(hint.action, HintAction::Peers(_)) { expected.push("PEERS".into()); }
            if hint.sha256.is_some() { expected.push("SHA256".into()); }
            prop_assert_eq!(attribute_names(list), Some(expected));
            let prefix = match part {
                Some(p) => format!("MSN={msn},PART={p},"),
                None => format!("MSN={msn},"),
            };
            prop_assert!(list.starts_with(&prefix), "{} for {:?}", list, hint.segment);
        }

        // Every URI a player fetches: a token for exactly its own path when it is ours.
        let base = Url::parse(BASE).expect("url");
        for line in out.lines() {
            let line = line.trim();
            let uris: Vec<&str> = if line.starts_with('#') {
                if !SIGNED_TAGS.iter().any(|t| line.starts_with(t)) { continue; }
                line.split("URI=\"").skip(1).filter_map(|s| s.split('"').next()).collect()
            } else if line.is_empty() {
                continue;
            } else {
                vec![line]
            };
            for uri in uris {
                let plain = strip_tokens(uri);
                let resolved = base.join(&plain).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
                let ours = resolved.as_ref().is_some_and(|u| u.host_str() == Some("edge.example"));
                match token_of(uri) {
                    Some(token) => {
                        prop_assert!(ours, "token on a foreign URI {}", uri);
                        let path = resolved.as_ref().map(|u| u.path().to_owned());
                        prop_assert_eq!(unhex(token), path, "token for the wrong path on {}", uri);
                        prop_assert_eq!(uri.matches("rt=").count(), 1, "signed twice: {}", uri);
                    }
                    None => prop_assert!(!ours, "URI of ours unsigned: {}", uri),
                }
            }
        }

        // An independent parser sees the same segments.
        let parsed_in = m3u8_rs::parse_media_playlist_res(g.text.as_bytes());
        let parsed_out = m3u8_rs::parse_media_playlist_res(out.as_bytes());
        if let Ok(pin) = parsed_in {
            let pout = parsed_out.expect("m3u8-rs parses the output");
            prop_assert_eq!(pin.media_sequence, pout.media_sequence);
            prop_assert_eq!(pin.segments.len(), pout.segments.len());
            for (a, b) in pin.segments.iter().zip(&pout.segments) {
                prop_assert_eq!(a.duration, b.duration);
                prop_assert_eq!(&a.byte_range, &b.byte_range);
                prop_assert_eq!(a.discontinuity, b.discontinuity);
                prop_assert_eq!(strip_tokens(&a.uri), strip_tokens(&b.uri));
                prop_assert_eq!(a.key.as_ref().map(|k| &k.method), b.key.as_ref().map(|k| &k.method));
                prop_assert_eq!(a.map.as_ref().map(|m| &m.byte_range), b.map.as_ref().map(|m| &m.byte_range));
            }
        }
    }

    #[test]
    fn without_tokens_or_injection_output_is_input(g in playlist()) {
        let mut plan = RewritePlan { signer: &mut NoSigner, session: None, hints: &NoHints, limits: Limits::default() };
        let mut out = Vec::new();
        hls::rewrite_into(g.text.as_bytes(), &Url::parse(BASE).expect("url"), &mut plan, &mut out).expect("rewrite");
        prop_assert_eq!(String::from_utf8(out).expect("utf-8"), g.text);
    }

    #[test]
    fn arbitrary_lines_never_panic(lines in prop::collection::vec(prop::string::string_regex("[#A-Z:=,\"{}$/?&. \t\r-]{0,40}").expect("regex"), 0..20), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut input = b"#EXTM3U\n#EXTINF:1,\n".to_vec();
        for l in &lines {
            input.extend_from_slice(l.as_bytes());
            input.push(b'\n');
        }
        let hints = vec![SegmentHint { segment: SegmentId::Sequence { msn: 0, part: None }, action: HintAction::Seed, sha256: None }];
        for candidate in [input.clone(), [input.clone(), bytes.clone()].concat(), bytes] {
            let mut signer = PathSigner(String::new());
            let mut plan = RewritePlan { signer: &mut signer, session: None, hints: &hints, limits: Limits::default() };
            let mut out = Vec::new();
            let _ = hls::rewrite_into(&candidate, &Url::parse(BASE).expect("url"), &mut plan, &mut out);
            let _ = hls::segments(&candidate);
        }
    }
}
