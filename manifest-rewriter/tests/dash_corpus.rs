//! Every MPD of the real-world corpus: rewrites without error, a no-op plan gives the input
//! back byte for byte, and an independent parser sees exactly the allowed changes.

#![allow(clippy::unwrap_used)]

mod dash_support;

use std::fs;
use std::path::{Path, PathBuf};

use dash_support::{Expect, NoSigner, PathSigner, Scope, check_rewrite};
use rilla_manifest_rewriter::{
    HintAction, Limits, NoHints, RewritePlan, SafeUri, SegmentHint, SegmentId, SessionTag,
    Sha256Digest, UriSigner, ViewerId, dash,
};
use url::Url;

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus/dash");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "mpd"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "corpus has only {} MPDs", files.len());
    files
}

fn manifest_url(path: &Path) -> Url {
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .expect("file name");
    Url::parse(&format!("https://edge.example/dash/{file}")).expect("URL")
}

fn rewrite(
    input: &[u8],
    url: &Url,
    signer: &mut dyn UriSigner,
    session: Option<&SessionTag>,
    hints: &dyn rilla_manifest_rewriter::HintSource,
) -> Vec<u8> {
    let mut plan = RewritePlan {
        signer,
        session,
        hints,
        limits: Limits::default(),
    };
    let mut out = Vec::new();
    dash::rewrite_into(input, url, &mut plan, &mut out).unwrap_or_else(|e| panic!("{url}: {e}"));
    out
}

#[test]
fn no_op_plan_gives_every_corpus_file_back_byte_for_byte() {
    for path in corpus() {
        let input = fs::read(&path).expect("read");
        let out = rewrite(&input, &manifest_url(&path), &mut NoSigner, None, &NoHints);
        assert!(
            out == input,
            "{} changed under a no-op plan",
            path.display()
        );
    }
}

fn sign_corpus(scope: Scope) -> (usize, usize) {
    let (mut signed, mut unsigned) = (0, 0);
    for path in corpus() {
        let input = fs::read(&path).expect("read");
        let url = manifest_url(&path);
        let out = rewrite(&input, &url, &mut PathSigner::new(scope), None, &NoHints);
        let (input, out) = (
            String::from_utf8(input).unwrap(),
            String::from_utf8(out).unwrap(),
        );
        let expect = Expect {
            session: None,
            hints: &NoHints,
        };
        let stats = check_rewrite(&input, &out, &url, expect, scope)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        signed += stats.signed;
        unsigned += stats.unsigned_urls;
    }
    (signed, unsigned)
}

#[test]
fn signing_changes_only_url_values_and_each_token_fits_its_path() {
    let (signed, unsigned) = sign_corpus(Scope::Edge);
    assert!(signed > 50, "only {signed} URLs signed across the corpus");
    assert!(
        unsigned > 300,
        "only {unsigned} foreign URLs seen across the corpus"
    );
}

#[test]
fn every_host_in_scope_signs_every_url_of_the_corpus() {
    let (signed, unsigned) = sign_corpus(Scope::AnyHost);
    assert!(signed > 400, "only {signed} URLs signed across the corpus");
    assert_eq!(
        unsigned, 0,
        "URLs left unsigned although every host is in scope"
    );
}

#[test]
fn the_checker_notices_tampering() {
    let path = corpus()
        .into_iter()
        .find(|p| {
            p.to_string_lossy()
                .contains("static_time_timeline_cenc_pssh")
        })
        .expect("fixture");
    let input = fs::read_to_string(&path).expect("read");
    let url = manifest_url(&path);
    let out = rewrite(
        input.as_bytes(),
        &url,
        &mut PathSigner::default(),
        None,
        &NoHints,
    );
    let out = String::from_utf8(out).unwrap();
    let no_hints = || Expect {
        session: None,
        hints: &NoHints,
    };
    check_rewrite(&input, &out, &url, no_hints(), Scope::Edge).expect("genuine output passes");
    // A token moved to another URL, a changed attribute, a dropped comment, a stray element.
    let token_of = |attr: &str| {
        let at = out.find(attr).expect("attribute") + attr.len();
        let start = out[at..].find("rt=").expect("token") + at + 3;
        let end = out[start..].find('"').expect("end of value") + start;
        start..end
    };
    let (init, media) = (token_of("initialization=\""), token_of("media=\""));
    assert!(init.end < media.start);
    let moved = format!(
        "{}{}{}",
        &out[..media.start],
        &out[init.clone()],
        &out[media.end..]
    );
    let tampered = [
        moved,
        out.replacen("timescale=\"", "timescale=\"1", 1),
        out.replacen("<!--", "<!-- x", 1),
        out.replacen("</Period>", "<Extra/></Period>", 1),
        out.replacen("?rt=", "?rt=0", 1),
    ];
    for (i, t) in tampered.iter().enumerate() {
        assert!(t != &out, "tampering {i} changed nothing");
        assert!(
            check_rewrite(&input, t, &url, no_hints(), Scope::Edge).is_err(),
            "tampering {i} not noticed"
        );
    }
}

#[test]
fn injection_adds_only_the_session_and_hints() {
    let session = SessionTag {
        viewer: ViewerId::new("viewer-42").unwrap(),
        swarm: ViewerId::new("swarm_7").unwrap(),
        announce: SafeUri::new("/p2p/v1/announce?x=1&y=2").unwrap(),
        announce_interval_secs: 10,
    };
    let hints = vec![
        SegmentHint {
            segment: SegmentId::Number(5),
            action: HintAction::Peers(vec![
                ViewerId::new("p1").unwrap(),
                ViewerId::new("p2").unwrap(),
            ]),
            sha256: Some(Sha256Digest([7; 32])),
        },
        SegmentHint {
            segment: SegmentId::Time(123_456),
            action: HintAction::Seed,
            sha256: None,
        },
        SegmentHint {
            segment: SegmentId::Number(6),
            action: HintAction::Cdn,
            sha256: None,
        },
    ];
    let mut injected_files = 0;
    for path in corpus() {
        let input = fs::read(&path).expect("read");
        let url = manifest_url(&path);
        let out = rewrite(
            &input,
            &url,
            &mut PathSigner::new(Scope::AnyHost),
            Some(&session),
            &hints,
        );
        let (input, out) = (
            String::from_utf8(input).unwrap(),
            String::from_utf8(out).unwrap(),
        );
        let expect = Expect {
            session: Some(&session),
            hints: &hints,
        };
        let stats = check_rewrite(&input, &out, &url, expect, Scope::AnyHost)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(stats.sessions, 1, "{}", path.display());
        injected_files += usize::from(stats.hints > 0);
    }
    assert!(
        injected_files > 20,
        "hints landed in only {injected_files} files"
    );
}
