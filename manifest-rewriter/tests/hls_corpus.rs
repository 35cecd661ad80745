//! Every playlist of the HLS corpus rewrites, keeps its structure (as an independent
//! parser, m3u8-rs, sees it) and gets tokens for exactly the paths its URIs resolve to.

use std::fs;
use std::path::PathBuf;

use m3u8_rs::{Key, MasterPlaylist, MediaPlaylist, Playlist};
use rilla_manifest_rewriter::hls::{self, HlsSegmentInfo};
use rilla_manifest_rewriter::{
    HintAction, Limits, NoHints, RewritePlan, SafeUri, SegmentHint, SegmentId, SessionTag,
    Sha256Digest, SignTarget, UriSigner, ViewerId,
};
use url::Url;

const PARAM: &str = "rt";

/// Signs everything on `edge.example` with a token that spells out the signed path.
struct PathSigner(String);

impl UriSigner for PathSigner {
    fn param(&self) -> &str {
        PARAM
    }
    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
        if target.authority != "edge.example" {
            return None;
        }
        self.0 = format!("t{}", hex(target.path.as_bytes()));
        Some(&self.0)
    }
}

/// Never signs.
struct NoSigner;

impl UriSigner for NoSigner {
    fn param(&self) -> &str {
        PARAM
    }
    fn token_for(&mut self, _: &SignTarget<'_>) -> Option<&str> {
        None
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(token: &str) -> String {
    let digits = token.strip_prefix('t').expect("token prefix");
    let bytes: Vec<u8> = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex token"))
        .collect();
    String::from_utf8(bytes).expect("utf-8 path")
}

/// Splits our parameter off `uri`: the URI without it, and the token if there was one.
/// An empty query or a trailing `&` is dropped too (the rewriter reuses a trailing `&`),
/// so compare the result with `strip_token` of the original.
fn strip_token(uri: &str) -> (String, Option<String>) {
    let (main, fragment) = match uri.find('#') {
        Some(i) => uri.split_at(i),
        None => (uri, ""),
    };
    let Some((path, query)) = main.split_once('?') else {
        return (uri.to_owned(), None);
    };
    let mut token = None;
    let mut kept: Vec<&str> = query
        .split('&')
        .filter(|c| match c.strip_prefix("rt=") {
            Some(t) => {
                token = Some(t.to_owned());
                false
            }
            None => true,
        })
        .collect();
    while kept.last() == Some(&"") {
        kept.pop();
    }
    let mut out = path.to_owned();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(fragment);
    (out, token)
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus/hls");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "m3u8"))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, fs::read(&p).expect("readable"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 30, "corpus has only {} files", files.len());
    files
}

fn url_for(name: &str) -> Url {
    Url::parse(&format!("https://edge.example/corpus/hls/{name}")).expect("url")
}

fn session() -> SessionTag {
    SessionTag {
        viewer: ViewerId::new("viewer-1").expect("id"),
        swarm: ViewerId::new("swarm-1").expect("id"),
        announce: SafeUri::new("/p2p/v1/announce").expect("uri"),
        announce_interval_secs: 15,
    }
}

/// A hint for every segment and part of the playlist, with every kind of action.
fn hints_for(segments: &[HlsSegmentInfo]) -> Vec<SegmentHint> {
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| SegmentHint {
            segment: SegmentId::Sequence {
                msn: s.msn,
                part: s.part,
            },
            action: match i % 3 {
                0 => HintAction::Seed,
                1 => HintAction::Cdn,
                _ => HintAction::Peers(vec![
                    ViewerId::new("peer-a").expect("id"),
                    ViewerId::new("peer_b").expect("id"),
                ]),
            },
            sha256: (i % 2 == 0).then_some(Sha256Digest([i as u8; 32])),
        })
        .collect()
}

fn rewrite(input: &[u8], url: &Url, signer: &mut dyn UriSigner, hints: &[SegmentHint]) -> Vec<u8> {
    let session = session();
    let hints = hints.to_vec();
    let mut plan = RewritePlan {
        signer,
        session: Some(&session),
        hints: &hints,
        limits: Limits::default(),
    };
    let mut out = Vec::new();
    hls::rewrite_into(input, url, &mut plan, &mut out).expect("rewrite");
    out
}

/// Checks that `uri` as written in the output carries a token for exactly where it
/// resolves, or no token when it is foreign or not http(s). Returns the URI without it.
fn check_uri(base: &Url, out_uri: &str, in_uri: &str, what: &str) -> String {
    let (stripped, token) = strip_token(out_uri);
    if in_uri.starts_with('#') {
        // m3u8-rs takes a tag after the last segment for a URI line (a known defect).
        println!("{what}: m3u8-rs reports the tag {in_uri:?} as a URI; not checked");
        return strip_token(in_uri).0;
    }
    if in_uri.contains("{$") {
        // Variables: covered by the unit tests; the text may have been substituted.
        return strip_token(in_uri).0;
    }
    let resolved = base.join(in_uri.trim()).ok();
    let ours = resolved.as_ref().is_some_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str() == Some("edge.example")
    });
    match token {
        Some(token) => {
            assert!(ours, "{what}: token on a URI that is not ours: {out_uri}");
            let path = resolved
                .as_ref()
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            assert_eq!(
                unhex(&token),
                path,
                "{what}: token for the wrong path in {out_uri}"
            );
        }
        None => assert!(!ours, "{what}: URI of ours left unsigned: {out_uri}"),
    }
    stripped
}

fn same_key(base: &Url, a: &Option<Key>, b: &Option<Key>, what: &str) {
    assert_eq!(a.is_some(), b.is_some(), "{what}: key presence");
    if let (Some(a), Some(b)) = (a, b) {
        assert_eq!(a.method, b.method, "{what}: key method");
        assert_eq!(a.iv, b.iv, "{what}: key IV");
        assert_eq!(a.keyformat, b.keyformat, "{what}: key format");
        match (&a.uri, &b.uri) {
            (Some(ua), Some(ub)) => assert_eq!(
                check_uri(base, ub, ua, what),
                strip_token(ua).0,
                "{what}: key URI"
            ),
            (ua, ub) => assert_eq!(ua, ub, "{what}: key URI"),
        }
    }
}

fn compare_master(base: &Url, a: &MasterPlaylist, b: &MasterPlaylist, name: &str) {
    assert_eq!(a.variants.len(), b.variants.len(), "{name}: variant count");
    for (va, vb) in a.variants.iter().zip(&b.variants) {
        let what = format!("{name}: variant {}", va.uri);
        assert_eq!(va.is_i_frame, vb.is_i_frame, "{what}");
        assert_eq!(va.bandwidth, vb.bandwidth, "{what}");
        assert_eq!(va.codecs, vb.codecs, "{what}");
        assert_eq!(va.resolution, vb.resolution, "{what}");
        assert_eq!(va.audio, vb.audio, "{what}");
        assert_eq!(va.subtitles, vb.subtitles, "{what}");
        assert_eq!(
            check_uri(base, &vb.uri, &va.uri, &what),
            strip_token(&va.uri).0,
            "{what}"
        );
    }
    assert_eq!(
        a.alternatives.len(),
        b.alternatives.len(),
        "{name}: alternatives count"
    );
    for (ma, mb) in a.alternatives.iter().zip(&b.alternatives) {
        let what = format!("{name}: media {}", ma.name);
        assert_eq!(
            (&ma.media_type, &ma.group_id, &ma.name),
            (&mb.media_type, &mb.group_id, &mb.name)
        );
        match (&ma.uri, &mb.uri) {
            (Some(ua), Some(ub)) => {
                assert_eq!(check_uri(base, ub, ua, &what), strip_token(ua).0, "{what}")
            }
            (ua, ub) => assert_eq!(ua, ub, "{what}"),
        }
    }
    assert_eq!(
        a.session_data.len(),
        b.session_data.len(),
        "{name}: session data count"
    );
    assert_eq!(
        a.session_key.len(),
        b.session_key.len(),
        "{name}: session key count"
    );
    for (ka, kb) in a.session_key.iter().zip(&b.session_key) {
        same_key(base, &Some(ka.0.clone()), &Some(kb.0.clone()), name);
    }
}

fn compare_media(base: &Url, a: &MediaPlaylist, b: &MediaPlaylist, name: &str) {
    assert_eq!(a.media_sequence, b.media_sequence, "{name}: media sequence");
    assert_eq!(
        a.target_duration, b.target_duration,
        "{name}: target duration"
    );
    assert_eq!(a.end_list, b.end_list, "{name}: end list");
    assert_eq!(a.segments.len(), b.segments.len(), "{name}: segment count");
    for (i, (sa, sb)) in a.segments.iter().zip(&b.segments).enumerate() {
        let what = format!("{name}: segment {i}");
        assert_eq!(sa.duration, sb.duration, "{what}: duration");
        assert_eq!(sa.byte_range, sb.byte_range, "{what}: byte range");
        assert_eq!(sa.discontinuity, sb.discontinuity, "{what}: discontinuity");
        assert_eq!(
            sa.program_date_time, sb.program_date_time,
            "{what}: date-time"
        );
        assert_eq!(
            check_uri(base, &sb.uri, &sa.uri, &what),
            strip_token(&sa.uri).0,
            "{what}: URI"
        );
        same_key(base, &sa.key, &sb.key, &what);
        assert_eq!(sa.map.is_some(), sb.map.is_some(), "{what}: map");
        if let (Some(ma), Some(mb)) = (&sa.map, &sb.map) {
            assert_eq!(ma.byte_range, mb.byte_range, "{what}: map byte range");
            assert_eq!(
                check_uri(base, &mb.uri, &ma.uri, &what),
                strip_token(&ma.uri).0,
                "{what}: map URI"
            );
        }
    }
}

#[test]
fn every_corpus_file_keeps_its_structure() {
    let mut compared = 0;
    for (name, input) in corpus() {
        let url = url_for(&name);
        let before = hls::segments(&input).expect("segments");
        let out = rewrite(
            &input,
            &url,
            &mut PathSigner(String::new()),
            &hints_for(&before),
        );

        // Our own view: same segments in the same order, same identity.
        let after = hls::segments(&out).expect("segments of output");
        assert_eq!(before.len(), after.len(), "{name}: segment count");
        for (a, b) in before.iter().zip(&after) {
            let (a_uri, b_uri) = if a.uri.contains("{$") {
                (a.uri.clone(), a.uri.clone())
            } else {
                (strip_token(&a.uri).0, strip_token(&b.uri).0)
            };
            let a = HlsSegmentInfo {
                uri: a_uri,
                ..a.clone()
            };
            let b = HlsSegmentInfo {
                uri: b_uri,
                ..b.clone()
            };
            assert_eq!(a, b, "{name}");
        }

        match m3u8_rs::parse_playlist_res(&input) {
            Err(e) => {
                let mut reason = format!("{e:?}");
                reason.truncate(60);
                println!("{name}: m3u8-rs cannot parse the input ({reason}…); comparison skipped");
            }
            Ok(parsed_in) => {
                let parsed_out = m3u8_rs::parse_playlist_res(&out)
                    .unwrap_or_else(|e| panic!("{name}: m3u8-rs cannot parse the output: {e:?}"));
                match (&parsed_in, &parsed_out) {
                    (Playlist::MasterPlaylist(a), Playlist::MasterPlaylist(b)) => {
                        compare_master(&url, a, b, &name)
                    }
                    (Playlist::MediaPlaylist(a), Playlist::MediaPlaylist(b)) => {
                        compare_media(&url, a, b, &name)
                    }
                    _ => panic!("{name}: playlist type changed"),
                }
                compared += 1;
            }
        }
    }
    assert!(
        compared >= 25,
        "only {compared} files compared with m3u8-rs"
    );
}

#[test]
fn every_corpus_file_is_byte_identical_without_tokens_or_injection() {
    for (name, input) in corpus() {
        let mut plan = RewritePlan {
            signer: &mut NoSigner,
            session: None,
            hints: &NoHints,
            limits: Limits::default(),
        };
        let mut out = Vec::new();
        hls::rewrite_into(&input, &url_for(&name), &mut plan, &mut out).expect("rewrite");
        assert!(out == input, "{name}: output differs from input");
    }
}

#[test]
fn injected_lines_are_exactly_the_session_and_one_line_per_hint() {
    for (name, input) in corpus() {
        let before = hls::segments(&input).expect("segments");
        let out = rewrite(&input, &url_for(&name), &mut NoSigner, &hints_for(&before));
        let text = String::from_utf8(out).expect("utf-8");
        let original = String::from_utf8(input).expect("utf-8");
        let kept: Vec<&str> = text
            .split('\n')
            .filter(|l| !l.starts_with("#EXT-X-RILLA-"))
            .collect();
        assert_eq!(kept, original.split('\n').collect::<Vec<_>>(), "{name}");
        let is_media = original.contains("#EXTINF") && !original.contains("STREAM-INF");
        let hint_lines = text
            .lines()
            .filter(|l| l.starts_with("#EXT-X-RILLA-HINT:"))
            .count();
        let session_lines = text
            .lines()
            .filter(|l| l.starts_with("#EXT-X-RILLA-SESSION:"))
            .count();
        if is_media {
            assert_eq!(session_lines, 1, "{name}");
            assert_eq!(hint_lines, before.len(), "{name}");
        } else {
            assert_eq!((session_lines, hint_lines), (0, 0), "{name}");
        }
    }
}
