use url::Url;

use super::rewrite_into;
use crate::{
    HintAction, HintSource, Limits, NoHints, Rendition, RewriteError, RewritePlan, SafeUri,
    SegmentHint, SegmentId, SessionTag, Sha256Digest, SignTarget, UriSigner, ViewerId,
};

/// Signs `edge.example` URLs with the hex of the resolved path, so each token names the
/// exact path it was minted for.
#[derive(Default)]
struct PathSigner {
    token: String,
    seen: Vec<String>,
}

impl UriSigner for PathSigner {
    fn param(&self) -> &str {
        "rt"
    }

    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
        self.seen
            .push(format!("{}{}", target.authority, target.path));
        if target.authority != "edge.example" {
            return None;
        }
        self.token = tok(target.path);
        Some(&self.token)
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

fn tok(path: &str) -> String {
    path.bytes().map(|b| format!("{b:02x}")).collect()
}

const URL: &str = "https://edge.example/live/ch1/manifest.mpd";

fn run_with(
    input: &str,
    signer: &mut dyn UriSigner,
    session: Option<&SessionTag>,
    hints: &dyn HintSource,
    limits: Limits,
) -> Result<String, RewriteError> {
    let mut plan = RewritePlan {
        signer,
        session,
        hints,
        limits,
    };
    let mut out = Vec::new();
    rewrite_into(
        input.as_bytes(),
        &Url::parse(URL).unwrap(),
        &mut plan,
        &mut out,
    )?;
    Ok(String::from_utf8(out).expect("output is UTF-8"))
}

fn sign(input: &str) -> String {
    run_with(
        input,
        &mut PathSigner::default(),
        None,
        &NoHints,
        Limits::default(),
    )
    .unwrap()
}

fn mpd(body: &str) -> String {
    format!("<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\">{body}</MPD>")
}

#[test]
fn every_url_kind_is_signed_for_its_own_path() {
    let input = mpd(concat!(
        "<Location>https://edge.example/live/ch1/next.mpd</Location>",
        "<PatchLocation ttl=\"60\">patch.mpp</PatchLocation>",
        "<Period id=\"p0\"><AdaptationSet>",
        "<SegmentTemplate media=\"v/$Number$.m4s\" initialization=\"v/init.mp4\" index=\"v/idx.sidx\" bitstreamSwitching=\"v/bs.mp4\"/>",
        "<Representation id=\"r1\"><SegmentList>",
        "<Initialization sourceURL=\"l/init.mp4\"/>",
        "<RepresentationIndex sourceURL=\"l/index.sidx\"/>",
        "<BitstreamSwitching sourceURL=\"l/bs.mp4\"/>",
        "<SegmentURL media=\"l/1.m4s\" index=\"l/1.sidx\"/>",
        "</SegmentList></Representation>",
        "<Representation id=\"r2\"><BaseURL>file.mp4</BaseURL><SegmentBase indexRange=\"0-99\"/></Representation>",
        "</AdaptationSet></Period>",
    ));
    let t = |p: &str| tok(&format!("/live/ch1/{p}"));
    let expected = mpd(&format!(
        concat!(
            "<Location>https://edge.example/live/ch1/next.mpd?rt={}</Location>",
            "<PatchLocation ttl=\"60\">patch.mpp?rt={}</PatchLocation>",
            "<Period id=\"p0\"><AdaptationSet>",
            "<SegmentTemplate media=\"v/$Number$.m4s?rt={}\" initialization=\"v/init.mp4?rt={}\" index=\"v/idx.sidx?rt={}\" bitstreamSwitching=\"v/bs.mp4?rt={}\"/>",
            "<Representation id=\"r1\"><SegmentList>",
            "<Initialization sourceURL=\"l/init.mp4?rt={}\"/>",
            "<RepresentationIndex sourceURL=\"l/index.sidx?rt={}\"/>",
            "<BitstreamSwitching sourceURL=\"l/bs.mp4?rt={}\"/>",
            "<SegmentURL media=\"l/1.m4s?rt={}\" index=\"l/1.sidx?rt={}\"/>",
            "</SegmentList></Representation>",
            "<Representation id=\"r2\"><BaseURL>file.mp4?rt={}</BaseURL><SegmentBase indexRange=\"0-99\"/></Representation>",
            "</AdaptationSet></Period>",
        ),
        t("next.mpd"),
        t("patch.mpp"),
        t("v/$Number$.m4s"),
        t("v/init.mp4"),
        t("v/idx.sidx"),
        t("v/bs.mp4"),
        t("l/init.mp4"),
        t("l/index.sidx"),
        t("l/bs.mp4"),
        t("l/1.m4s"),
        t("l/1.sidx"),
        t("file.mp4"),
    ));
    assert_eq!(sign(&input), expected);
}

#[test]
fn templates_keep_dollar_escapes_identifiers_and_entities() {
    let input = mpd(
        "<Period><SegmentTemplate media=\"a$$b/$RepresentationID$/$Number%05d$.m4s?x=1&amp;y=$Time$\" initialization=\"i&amp;n.mp4\"/></Period>",
    );
    let expected = mpd(&format!(
        "<Period><SegmentTemplate media=\"a$$b/$RepresentationID$/$Number%05d$.m4s?x=1&amp;y=$Time$&amp;rt={}\" initialization=\"i&amp;n.mp4?rt={}\"/></Period>",
        tok("/live/ch1/a$$b/$RepresentationID$/$Number%05d$.m4s"),
        tok("/live/ch1/i&n.mp4"),
    ));
    assert_eq!(sign(&input), expected);
}

/// A signer whose tokens contain characters that must not reach a template unescaped.
struct OddSigner;

impl UriSigner for OddSigner {
    fn param(&self) -> &str {
        "rt"
    }

    fn token_for(&mut self, _: &SignTarget<'_>) -> Option<&str> {
        Some("a$b&c\"d")
    }
}

#[test]
fn token_characters_are_escaped_for_templates_and_xml() {
    let input =
        mpd("<Period><SegmentTemplate media=\"s$Number$.m4s\"/><BaseURL>b/</BaseURL></Period>");
    let out = run_with(&input, &mut OddSigner, None, &NoHints, Limits::default()).unwrap();
    assert!(
        out.contains("media=\"s$Number$.m4s?rt=a$$b%26c%22d\""),
        "{out}"
    );
    assert!(
        out.contains("<BaseURL>b/?rt=a$b%26c%22d</BaseURL>"),
        "{out}"
    );
    roxmltree::Document::parse(&out).unwrap();
}

#[test]
fn protected_and_excluded_content_is_never_signed() {
    let body = concat!(
        "<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-xsdate:2014\" value=\"https://edge.example/time\"/>",
        "<ContentSteering defaultServiceLocation=\"a\">https://edge.example/steer</ContentSteering>",
        "<Period xlink:href=\"https://edge.example/remote.xml\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">",
        "<EventStream schemeIdUri=\"urn:x\"><Event><BaseURL>https://edge.example/ev</BaseURL></Event></EventStream>",
        "<AdaptationSet>",
        "<ContentProtection schemeIdUri=\"urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e\" xmlns:dashif=\"https://dashif.org/CPS\" xmlns:clearkey=\"http://dashif.org/guidelines/clearKey\">",
        "<dashif:Laurl>https://edge.example/license</dashif:Laurl>",
        "<clearkey:Laurl Lic_type=\"EME-1.0\">https://edge.example/ck</clearkey:Laurl>",
        "<BaseURL>https://edge.example/inside-cp</BaseURL>",
        "<SegmentTemplate media=\"never.m4s\"/>",
        "</ContentProtection>",
        "<ms:laurl xmlns:ms=\"urn:microsoft\" licenseUrl=\"https://edge.example/pr\"/>",
        "<vendor:Thing xmlns:vendor=\"urn:vendor\"><BaseURL>https://edge.example/vendor</BaseURL></vendor:Thing>",
        "</AdaptationSet></Period>",
    );
    let input = mpd(body);
    let mut signer = PathSigner::default();
    let out = run_with(&input, &mut signer, None, &NoHints, Limits::default()).unwrap();
    assert_eq!(out, input);
    assert!(
        signer.seen.is_empty(),
        "signer asked about {:?}",
        signer.seen
    );
}

#[test]
fn foreign_and_non_http_urls_are_left_alone() {
    let input = mpd(concat!(
        "<BaseURL>https://cdn.other.example/x/</BaseURL>",
        "<Period><AdaptationSet><SegmentTemplate media=\"seg-$Number$.m4s\"/></AdaptationSet></Period>",
        "<Period><BaseURL>ftp://edge.example/a/</BaseURL><SegmentList><SegmentURL media=\"a.m4s\"/></SegmentList></Period>",
    ));
    assert_eq!(sign(&input), input);
}

#[test]
fn base_urls_nest_and_absolute_ones_reset() {
    let input = mpd(concat!(
        "<BaseURL>mpd/</BaseURL>",
        "<Period><BaseURL>period/</BaseURL>",
        "<AdaptationSet><BaseURL>../as/</BaseURL>",
        "<Representation id=\"a\"><BaseURL>rep/</BaseURL><SegmentTemplate media=\"s.m4s\"/></Representation>",
        "<Representation id=\"b\"><BaseURL>https://edge.example/abs/</BaseURL><SegmentTemplate media=\"s.m4s\"/></Representation>",
        "<Representation id=\"c\"><BaseURL>/root/</BaseURL><BaseURL>alt/</BaseURL><SegmentTemplate media=\"s.m4s\"/></Representation>",
        "</AdaptationSet></Period>",
        "<Period><SegmentTemplate media=\"p2.m4s\"/></Period>",
    ));
    let out = sign(&input);
    let expect = |text: &str, path: &str| {
        let needle = format!("{text}?rt={}<", tok(path));
        assert!(out.contains(&needle), "missing {needle} in {out}");
    };
    expect("<BaseURL>mpd/", "/live/ch1/mpd/");
    expect("<BaseURL>period/", "/live/ch1/mpd/period/");
    expect("<BaseURL>../as/", "/live/ch1/mpd/as/");
    expect("<BaseURL>rep/", "/live/ch1/mpd/as/rep/");
    expect("<BaseURL>https://edge.example/abs/", "/abs/");
    expect("<BaseURL>/root/", "/root/");
    // An alternative BaseURL resolves against the parent's base, not the first sibling.
    expect("<BaseURL>alt/", "/live/ch1/mpd/as/alt/");
    let media = |path: &str| format!("media=\"s.m4s?rt={}\"", tok(path));
    assert!(out.contains(&media("/live/ch1/mpd/as/rep/s.m4s")), "{out}");
    assert!(out.contains(&media("/abs/s.m4s")), "{out}");
    assert!(out.contains(&media("/root/s.m4s")), "{out}");
    assert!(out.contains(&format!(
        "media=\"p2.m4s?rt={}\"",
        tok("/live/ch1/mpd/p2.m4s")
    )));
}

#[test]
fn base_url_text_keeps_its_padding_and_entities() {
    let input = mpd("<BaseURL>\n   https://edge.example/a/?x=1&amp;y=2 \n</BaseURL><Period/>");
    let expected = mpd(&format!(
        "<BaseURL>\n   https://edge.example/a/?x=1&amp;y=2&amp;rt={} \n</BaseURL><Period/>",
        tok("/a/")
    ));
    assert_eq!(sign(&input), expected);
}

#[test]
fn existing_query_and_existing_token() {
    let input = mpd(concat!(
        "<Period><SegmentList>",
        "<SegmentURL media=\"a.m4s?k=v\"/>",
        "<SegmentURL media=\"b.m4s?rt=stale&amp;k=v#t=5\"/>",
        "</SegmentList></Period>",
    ));
    let expected = mpd(&format!(
        concat!(
            "<Period><SegmentList>",
            "<SegmentURL media=\"a.m4s?k=v&amp;rt={}\"/>",
            "<SegmentURL media=\"b.m4s?rt={}&amp;k=v#t=5\"/>",
            "</SegmentList></Period>",
        ),
        tok("/live/ch1/a.m4s"),
        tok("/live/ch1/b.m4s"),
    ));
    let once = sign(&input);
    assert_eq!(once, expected);
    assert_eq!(
        sign(&once),
        expected,
        "signing twice must not add a second token"
    );
}

#[test]
fn prefixed_mpd_namespace_is_recognised() {
    let input = concat!(
        "<?xml version=\"1.0\"?>\n<mpd:MPD xmlns:mpd=\"urn:mpeg:dash:schema:mpd:2011\">",
        "<mpd:Period><mpd:BaseURL>p/</mpd:BaseURL><BaseURL>not-dash/</BaseURL>",
        "<mpd:SegmentTemplate media=\"x.m4s\"/></mpd:Period></mpd:MPD>"
    );
    let out = sign(input);
    assert!(out.contains(&format!(
        "<mpd:BaseURL>p/?rt={}</mpd:BaseURL>",
        tok("/live/ch1/p/")
    )));
    assert!(out.contains("<BaseURL>not-dash/</BaseURL>"), "{out}");
    assert!(out.contains(&format!("media=\"x.m4s?rt={}\"", tok("/live/ch1/p/x.m4s"))));
}

#[test]
fn no_op_rewrite_is_byte_identical() {
    let input = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!-- c -->\r\n<MPD xmlns='urn:mpeg:dash:schema:mpd:2011'  a = \"1\">\r\n\t<BaseURL><![CDATA[x/]]></BaseURL>\r\n<Period><SegmentTemplate media='s-$Number$.m4s'/></Period>\r\n</MPD>\r\n";
    let out = run_with(input, &mut NoSigner, None, &NoHints, Limits::default()).unwrap();
    assert_eq!(out, input);
}

fn session() -> SessionTag {
    SessionTag {
        viewer: ViewerId::new("viewer-1").unwrap(),
        swarm: ViewerId::new("ch1_v").unwrap(),
        announce: SafeUri::new("/p2p/announce?a=1&b=2").unwrap(),
        announce_interval_secs: 15,
    }
}

struct PerRep(Vec<(Option<&'static str>, &'static str, Vec<SegmentHint>)>);

impl HintSource for PerRep {
    fn hints(&self, rendition: &Rendition<'_>) -> &[SegmentHint] {
        let Rendition::Representation { period, id } = rendition else {
            return &[];
        };
        self.0
            .iter()
            .find(|(p, i, _)| p == period && i == id)
            .map_or(&[], |(_, _, h)| h)
    }
}

fn hint(segment: SegmentId, action: HintAction) -> SegmentHint {
    SegmentHint {
        segment,
        action,
        sha256: None,
    }
}

#[test]
fn session_and_hints_are_injected_in_place() {
    let input = concat!(
        "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\">\n",
        "  <Period id=\"p1\">\n    <AdaptationSet>\n",
        "      <Representation id=\"v1\">\n        <SegmentBase/>\n      </Representation>\n",
        "      <Representation id=\"v2\"/>\n",
        "      <Representation id=\"v3\"></Representation>\n",
        "    </AdaptationSet>\n  </Period>\n</MPD>\n"
    );
    let peers = vec![ViewerId::new("a").unwrap(), ViewerId::new("b").unwrap()];
    let mut with_digest = hint(SegmentId::Time(9000), HintAction::Cdn);
    with_digest.sha256 = Some(Sha256Digest([0x11; 32]));
    let hints = PerRep(vec![
        (
            Some("p1"),
            "v1",
            vec![
                hint(SegmentId::Number(7), HintAction::Peers(peers)),
                hint(SegmentId::Number(8), HintAction::Seed),
            ],
        ),
        (Some("p1"), "v2", vec![with_digest]),
        (
            Some("p1"),
            "v3",
            vec![hint(SegmentId::Number(1), HintAction::Seed)],
        ),
        (
            None,
            "v1",
            vec![hint(SegmentId::Number(99), HintAction::Seed)],
        ),
    ]);
    let s = session();
    let out = run_with(input, &mut NoSigner, Some(&s), &hints, Limits::default()).unwrap();
    let expected = format!(
        concat!(
            "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\" xmlns:rilla=\"urn:rilla:edge:2026\">\n",
            "  <rilla:Session viewer=\"viewer-1\" swarm=\"ch1_v\" announce=\"/p2p/announce?a=1&amp;b=2\" interval=\"15\"/>\n",
            "  <Period id=\"p1\">\n    <AdaptationSet>\n",
            "      <Representation id=\"v1\">\n        <SegmentBase/>\n",
            "        <rilla:Hint number=\"7\" action=\"peers\" peers=\"a b\"/>\n",
            "        <rilla:Hint number=\"8\" action=\"seed\"/>\n      </Representation>\n",
            "      <Representation id=\"v2\"><rilla:Hint time=\"9000\" action=\"cdn\" sha256=\"{}\"/></Representation>\n",
            "      <Representation id=\"v3\"><rilla:Hint number=\"1\" action=\"seed\"/></Representation>\n",
            "    </AdaptationSet>\n  </Period>\n</MPD>\n"
        ),
        "11".repeat(32)
    );
    assert_eq!(out, expected);
    roxmltree::Document::parse(&out).unwrap();
}

#[test]
fn taken_prefix_is_not_reused() {
    let input = "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" xmlns:rilla=\"urn:other\"><Period><AdaptationSet><Representation id=\"r\"><rilla:x/></Representation></AdaptationSet></Period></MPD>";
    let hints = vec![hint(SegmentId::Number(3), HintAction::Cdn)];
    let out = run_with(
        input,
        &mut NoSigner,
        Some(&session()),
        &hints,
        Limits::default(),
    )
    .unwrap();
    assert!(
        out.contains("xmlns:rilla=\"urn:other\" xmlns:rilla1=\"urn:rilla:edge:2026\">"),
        "{out}"
    );
    assert!(out.contains("<rilla1:Session "), "{out}");
    assert!(
        out.contains("<rilla:x/><rilla1:Hint number=\"3\" action=\"cdn\"/></Representation>"),
        "{out}"
    );
    let doc = roxmltree::Document::parse(&out).unwrap();
    let injected = doc
        .descendants()
        .filter(|n| n.tag_name().namespace() == Some("urn:rilla:edge:2026"))
        .count();
    assert_eq!(injected, 2);
}

#[test]
fn self_closing_root_gets_a_session() {
    let input = "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"/>";
    let out = run_with(
        input,
        &mut NoSigner,
        Some(&session()),
        &NoHints,
        Limits::default(),
    )
    .unwrap();
    assert!(out.starts_with("<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" xmlns:rilla=\"urn:rilla:edge:2026\"><rilla:Session "));
    assert!(out.ends_with("/></MPD>"));
    roxmltree::Document::parse(&out).unwrap();
}

fn refuse(input: &[u8]) -> RewriteError {
    refuse_with(input, Limits::default())
}

fn refuse_with(input: &[u8], limits: Limits) -> RewriteError {
    let mut signer = PathSigner::default();
    let mut plan = RewritePlan {
        signer: &mut signer,
        session: None,
        hints: &NoHints,
        limits,
    };
    let mut out = Vec::new();
    rewrite_into(input, &Url::parse(URL).unwrap(), &mut plan, &mut out).unwrap_err()
}

#[test]
fn doctype_and_entity_bombs_are_refused() {
    let bomb = concat!(
        "<?xml version=\"1.0\"?><!DOCTYPE MPD [<!ENTITY a \"aaaaaaaaaa\">",
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>",
        "<MPD><BaseURL>&b;</BaseURL></MPD>"
    );
    assert!(matches!(
        refuse(bomb.as_bytes()),
        RewriteError::Doctype { position: 21 }
    ));
    let undeclared = mpd("<BaseURL>&b;</BaseURL>");
    assert!(matches!(
        refuse(undeclared.as_bytes()),
        RewriteError::MalformedXml { .. }
    ));
}

#[test]
fn depth_is_limited_without_recursion() {
    let limits = Limits {
        max_xml_depth: 4,
        ..Limits::default()
    };
    let ok = mpd("<Period><AdaptationSet><Representation/></AdaptationSet></Period>");
    run_with(&ok, &mut NoSigner, None, &NoHints, limits).unwrap();
    let deep = mpd(
        "<Period><AdaptationSet><Representation><SegmentBase/></Representation></AdaptationSet></Period>",
    );
    assert!(matches!(
        refuse_with(deep.as_bytes(), limits),
        RewriteError::TooDeep { limit: 4, .. }
    ));
    let very_deep = format!(
        "<MPD>{}{}</MPD>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    assert!(matches!(
        refuse(very_deep.as_bytes()),
        RewriteError::TooDeep { limit: 32, .. }
    ));
}

#[test]
fn malformed_documents_are_refused() {
    for bad in [
        "<MPD><Period></MPD>",
        "<MPD><Period>",
        "<MPD></MPD><MPD></MPD>",
        "<MPD></MPD>trailing",
        "<MPD a=\"1\" a2=1></MPD>",
        "<MPD><</MPD>",
        "<MPD><Period id=\"1\" id=\"2\"/></MPD>",
        "<MPD>a & b</MPD>",
        "<MPD><Period x=\"<\"/></MPD>",
        "<MPD><?xml version=\"1.0\"?></MPD>",
        "<MPD><!-- unterminated </MPD>",
        "</MPD>",
    ] {
        let err = refuse(bad.as_bytes());
        assert!(
            matches!(err, RewriteError::MalformedXml { .. }),
            "{bad:?} gave {err:?}"
        );
    }
}

#[test]
fn other_documents_are_not_manifests() {
    for bad in [
        "<html><body/></html>",
        "",
        "  \n",
        "<!-- only a comment -->",
        "<mpd/>",
    ] {
        let err = refuse(bad.as_bytes());
        assert_eq!(err, RewriteError::NotAManifest, "{bad:?}");
    }
}

#[test]
fn invalid_utf8_size_and_tag_length_are_refused() {
    assert_eq!(
        refuse(b"<MPD><BaseURL>\xff</BaseURL></MPD>"),
        RewriteError::InvalidUtf8 { offset: 14 }
    );
    let small = Limits {
        max_manifest_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        refuse_with(b"<MPD></MPD> ", small),
        RewriteError::TooLarge {
            size: 12,
            limit: 10
        }
    ));
    let short_tags = Limits {
        max_line_bytes: 40,
        ..Limits::default()
    };
    let long = format!("<MPD>\n\n<Period id=\"{}\"/></MPD>", "x".repeat(40));
    assert!(matches!(
        refuse_with(long.as_bytes(), short_tags),
        RewriteError::LineTooLong { line: 3, .. }
    ));
}

#[test]
fn truncated_and_mangled_input_never_panics() {
    let input = concat!(
        "\u{feff}<?xml version=\"1.0\"?><MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"><BaseURL>a/?x=1&amp;y</BaseURL>",
        "<Period id=\"p\"><AdaptationSet><SegmentTemplate media=\"$Number$.m4s?rt=1\"/>",
        "<Representation id=\"r\"><SegmentList><SegmentURL media=\"s&#38;.m4s\"/></SegmentList></Representation>",
        "</AdaptationSet></Period></MPD>"
    );
    let hints = vec![hint(SegmentId::Number(1), HintAction::Seed)];
    let s = session();
    let bytes = input.as_bytes();
    for cut in 0..=bytes.len() {
        for variant in [&bytes[..cut], &bytes[cut..]] {
            let Ok(text) = std::str::from_utf8(variant) else {
                continue;
            };
            let _ = run_with(
                text,
                &mut PathSigner::default(),
                Some(&s),
                &hints,
                Limits::default(),
            );
        }
        let mut mangled = bytes.to_vec();
        if cut < mangled.len() {
            mangled[cut] = b'<';
            if let Ok(text) = std::str::from_utf8(&mangled) {
                let _ = run_with(
                    text,
                    &mut PathSigner::default(),
                    Some(&s),
                    &hints,
                    Limits::default(),
                );
            }
        }
    }
}
