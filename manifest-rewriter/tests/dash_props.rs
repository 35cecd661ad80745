//! Property tests: generated MPDs (random periods, adaptation sets, representations,
//! templates with timelines, segment lists, BaseURLs at random levels, comments, vendor
//! elements) keep their structure, every signed URL carries the token for exactly its own
//! resolved path, and injection adds exactly the expected elements.

#![allow(clippy::unwrap_used)]

mod dash_support;

use dash_support::{Expect, NoSigner, PathSigner, Scope, check_rewrite};
use proptest::prelude::*;
use rilla_manifest_rewriter::{
    HintAction, HintSource, Limits, NoHints, Rendition, RewritePlan, SafeUri, SegmentHint,
    SegmentId, SessionTag, Sha256Digest, UriSigner, ViewerId, dash,
};
use url::Url;

/// A stream of choices; 0 (the shrink target) always picks the simplest option.
struct Choices<'a> {
    values: &'a [u32],
    next: usize,
}

impl Choices<'_> {
    fn pick(&mut self, n: usize) -> usize {
        let v = self.values.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        v as usize % n.max(1)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.pick(100) < percent
    }

    fn one<'s>(&mut self, options: &[&'s str]) -> &'s str {
        options[self.pick(options.len())]
    }
}

const BASE_URLS: &[&str] = &[
    "a/",
    "../up/",
    "/root/",
    "https://edge.example/abs/",
    "https://cdn.other.example/far/",
    "q/?k=v&amp;z=1",
    "f/#frag",
    "file.mp4",
    "  padded/ ",
    "",
    "sub%20dir/",
    "data:text/plain,x",
];

const TEMPLATES: &[&str] = &[
    "seg-$Number$.m4s",
    "$RepresentationID$/$Time$.m4s",
    "chunk_$Number%05d$.m4s?x=1",
    "a$$b-$Number$.m4s",
    "https://edge.example/t/$Bandwidth$/$Number$.m4s",
    "https://cdn.other.example/t/$Number$.m4s",
    "../up/$Number$.m4s",
    "q.m4s?rt=old&amp;n=$Number$",
    "Fragments(video=$Time$,format=mpd-time-cmaf)",
];

const PLAIN_URLS: &[&str] = &[
    "init.mp4",
    "seg1.m4s",
    "../x/seg.m4s?a=b",
    "https://edge.example/l/seg.m4s",
    "https://cdn.other.example/l/seg.m4s",
    "s&amp;t.m4s",
    "/r/seg.m4s#t=1",
];

struct Gen<'c, 'v> {
    c: &'c mut Choices<'v>,
    out: String,
    pretty: bool,
    depth: usize,
    reps: Vec<(Option<String>, String)>,
}

impl Gen<'_, '_> {
    fn line(&mut self) {
        if self.pretty {
            self.out.push('\n');
            for _ in 0..self.depth {
                self.out.push_str("  ");
            }
        }
    }

    fn open(&mut self, tag: &str) {
        self.line();
        self.out.push_str(tag);
        self.depth += 1;
    }

    fn close(&mut self, tag: &str) {
        self.depth -= 1;
        self.line();
        self.out.push_str(tag);
    }

    fn leaf(&mut self, text: &str) {
        self.line();
        self.out.push_str(text);
    }

    fn extras(&mut self) {
        if self.c.chance(15) {
            self.leaf("<!-- a comment with <tags> & BaseURL -->");
        }
        if self.c.chance(10) {
            self.leaf(
                "<v:Ext xmlns:v=\"urn:vendor\" v:url=\"x.m4s\"><BaseURL>vendor/</BaseURL></v:Ext>",
            );
        }
    }

    fn base_urls(&mut self) {
        for _ in 0..self.c.pick(3) {
            let url = self.c.one(BASE_URLS);
            let attr = if self.c.chance(30) {
                " serviceLocation=\"b\""
            } else {
                ""
            };
            self.leaf(&format!("<BaseURL{attr}>{url}</BaseURL>"));
        }
    }

    fn timeline(&mut self) {
        self.open("<SegmentTimeline>");
        let mut t = u64::from(self.c.pick(1000) as u32) * 90_000;
        for _ in 0..1 + self.c.pick(4) {
            let d = 90_000 + self.c.pick(3) as u64 * 1000;
            let r = self.c.pick(5);
            let r_attr = if r > 0 {
                format!(" r=\"{r}\"")
            } else {
                String::new()
            };
            self.leaf(&format!("<S t=\"{t}\" d=\"{d}\"{r_attr}/>"));
            t += d * (r as u64 + 1);
        }
        self.close("</SegmentTimeline>");
    }

    fn segment_template(&mut self) {
        let media = self.c.one(TEMPLATES);
        let init = self.c.one(&["init-$RepresentationID$.mp4", "i.mp4", ""]);
        let init_attr = if init.is_empty() {
            String::new()
        } else {
            format!(" initialization=\"{init}\"")
        };
        let tag = format!("<SegmentTemplate timescale=\"90000\" media=\"{media}\"{init_attr}");
        if self.c.chance(50) {
            self.open(&format!("{tag}>"));
            self.timeline();
            self.close("</SegmentTemplate>");
        } else {
            self.leaf(&format!("{tag} duration=\"180000\" startNumber=\"1\"/>"));
        }
    }

    fn segment_list(&mut self) {
        self.open("<SegmentList timescale=\"1000\" duration=\"2000\">");
        let init = self.c.one(PLAIN_URLS);
        self.leaf(&format!("<Initialization sourceURL=\"{init}\"/>"));
        for _ in 0..1 + self.c.pick(3) {
            let media = self.c.one(PLAIN_URLS);
            if self.c.chance(30) {
                let index = self.c.one(PLAIN_URLS);
                self.leaf(&format!(
                    "<SegmentURL media=\"{media}\" index=\"{index}\" mediaRange=\"0-99\"/>"
                ));
            } else {
                self.leaf(&format!("<SegmentURL media=\"{media}\"/>"));
            }
        }
        self.close("</SegmentList>");
    }

    fn content_protection(&mut self) {
        self.open(
            "<ContentProtection schemeIdUri=\"urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e\" xmlns:dashif=\"https://dashif.org/CPS\">",
        );
        self.leaf("<dashif:Laurl>https://edge.example/license?x=1&amp;y=2</dashif:Laurl>");
        self.leaf("<BaseURL>lic/</BaseURL>");
        self.close("</ContentProtection>");
    }

    fn representation(&mut self, period: Option<&str>, id: String) {
        let head = format!(
            "<Representation id=\"{id}\" bandwidth=\"{}\"",
            100_000 + self.c.pick(9) * 100_000
        );
        self.reps.push((period.map(str::to_owned), id));
        if self.c.chance(20) {
            self.leaf(&format!("{head}/>"));
            return;
        }
        self.open(&format!("{head}>"));
        self.base_urls();
        match self.c.pick(4) {
            0 => {}
            1 => self.segment_template(),
            2 => self.segment_list(),
            _ => {
                let init = self.c.one(PLAIN_URLS);
                self.open("<SegmentBase indexRange=\"0-100\">");
                self.leaf(&format!(
                    "<Initialization sourceURL=\"{init}\" range=\"0-50\"/>"
                ));
                self.close("</SegmentBase>");
            }
        }
        self.extras();
        self.close("</Representation>");
    }

    fn mpd(&mut self) {
        if self.c.chance(50) {
            self.out
                .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        }
        if self.c.chance(20) {
            self.leaf("<!-- generated -->");
        }
        let (open, close) = if self.c.chance(15) {
            (
                "<mpd:MPD xmlns:mpd=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\">",
                "</mpd:MPD>",
            )
        } else {
            (
                "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" type=\"dynamic\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\">",
                "</MPD>",
            )
        };
        let prefixed = open.starts_with("<mpd:");
        self.open(open);
        if prefixed {
            // Unprefixed elements are not in the MPD namespace here: only comments.
            self.extras();
            self.leaf("<mpd:Period id=\"p\"><mpd:BaseURL>p/</mpd:BaseURL><BaseURL>x/</BaseURL><mpd:AdaptationSet><mpd:SegmentTemplate media=\"m$Number$.m4s\"/><mpd:Representation id=\"r\"/></mpd:AdaptationSet></mpd:Period>");
            self.reps.push((Some("p".to_owned()), "r".to_owned()));
            self.close(close);
            return;
        }
        self.base_urls();
        if self.c.chance(30) {
            let location = self.c.one(&[
                "https://edge.example/live/next.mpd",
                "next.mpd",
                "https://cdn.other.example/m.mpd",
            ]);
            self.leaf(&format!("<Location>{location}</Location>"));
        }
        if self.c.chance(20) {
            self.leaf("<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-xsdate:2014\" value=\"https://edge.example/time\"/>");
        }
        self.extras();
        for p in 0..1 + self.c.pick(3) {
            let period_id = self.c.chance(80).then(|| format!("p{p}"));
            let id_attr = period_id
                .as_ref()
                .map(|id| format!(" id=\"{id}\""))
                .unwrap_or_default();
            self.open(&format!("<Period{id_attr} start=\"PT{p}S\">"));
            self.base_urls();
            if self.c.chance(25) {
                self.segment_template();
            }
            if self.c.chance(20) {
                self.leaf("<EventStream schemeIdUri=\"urn:x\"><Event id=\"1\">https://edge.example/beacon</Event></EventStream>");
            }
            for a in 0..1 + self.c.pick(3) {
                self.open(&format!(
                    "<AdaptationSet id=\"{a}\" mimeType=\"video/mp4\">"
                ));
                if self.c.chance(30) {
                    self.content_protection();
                }
                self.base_urls();
                if self.c.chance(50) {
                    self.segment_template();
                }
                for r in 0..1 + self.c.pick(3) {
                    self.representation(period_id.as_deref(), format!("v{a}_{r}"));
                }
                self.extras();
                self.close("</AdaptationSet>");
            }
            self.close("</Period>");
        }
        self.close(close);
        if self.pretty {
            self.out.push('\n');
        }
    }
}

struct Generated {
    mpd: String,
    reps: Vec<(Option<String>, String)>,
}

fn generate(values: &[u32]) -> Generated {
    let mut c = Choices { values, next: 0 };
    let pretty = c.chance(70);
    let mut g = Gen {
        c: &mut c,
        out: String::new(),
        pretty,
        depth: 0,
        reps: Vec::new(),
    };
    g.mpd();
    Generated {
        mpd: g.out,
        reps: g.reps,
    }
}

struct PerRep(Vec<(Option<String>, String, Vec<SegmentHint>)>);

impl HintSource for PerRep {
    fn hints(&self, rendition: &Rendition<'_>) -> &[SegmentHint] {
        let Rendition::Representation { period, id } = rendition else {
            return &[];
        };
        self.0
            .iter()
            .find(|(p, i, _)| p.as_deref() == *period && i == id)
            .map_or(&[], |(_, _, h)| h)
    }
}

fn hints_for(reps: &[(Option<String>, String)], seed: &[u32]) -> PerRep {
    let mut c = Choices {
        values: seed,
        next: 0,
    };
    let viewer = |i: usize| ViewerId::new(&format!("peer-{i}")).unwrap();
    let mut per_rep = Vec::new();
    for (period, id) in reps {
        if !c.chance(60) {
            continue;
        }
        {
            let count = 1 + c.pick(3);
            let hints: Vec<SegmentHint> = (0..count)
                .map(|i| SegmentHint {
                    segment: if c.chance(50) {
                        SegmentId::Number(100 + i as u64)
                    } else {
                        SegmentId::Time(90_000 * i as u64)
                    },
                    action: match c.pick(3) {
                        0 => HintAction::Seed,
                        1 => HintAction::Cdn,
                        _ => HintAction::Peers((0..c.pick(4)).map(viewer).collect()),
                    },
                    sha256: c.chance(50).then_some(Sha256Digest([i as u8; 32])),
                })
                .collect();
            per_rep.push((period.clone(), id.clone(), hints));
        }
    }
    PerRep(per_rep)
}

fn rewrite(
    input: &str,
    signer: &mut dyn UriSigner,
    session: Option<&SessionTag>,
    hints: &dyn HintSource,
) -> Result<String, String> {
    let url = Url::parse("https://edge.example/live/ch1/manifest.mpd").unwrap();
    let mut plan = RewritePlan {
        signer,
        session,
        hints,
        limits: Limits::default(),
    };
    let mut out = Vec::new();
    dash::rewrite_into(input.as_bytes(), &url, &mut plan, &mut out).map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

fn session() -> SessionTag {
    SessionTag {
        viewer: ViewerId::new("me").unwrap(),
        swarm: ViewerId::new("swarm-1").unwrap(),
        announce: SafeUri::new("https://edge.example/p2p/announce?a=1&b=2").unwrap(),
        announce_interval_secs: 5,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_mpds_pass_through_unchanged_under_a_no_op_plan(values in proptest::collection::vec(any::<u32>(), 0..400)) {
        let g = generate(&values);
        let out = rewrite(&g.mpd, &mut NoSigner, None, &NoHints).map_err(TestCaseError::fail)?;
        prop_assert_eq!(out, g.mpd);
    }

    #[test]
    fn generated_mpds_change_only_as_allowed(
        values in proptest::collection::vec(any::<u32>(), 0..400),
        hint_seed in proptest::collection::vec(any::<u32>(), 0..64),
        with_session in any::<bool>(),
        any_host in any::<bool>(),
    ) {
        let g = generate(&values);
        let url = Url::parse("https://edge.example/live/ch1/manifest.mpd").unwrap();
        let scope = if any_host { Scope::AnyHost } else { Scope::Edge };
        let hints = hints_for(&g.reps, &hint_seed);
        let s = session();
        let session = with_session.then_some(&s);
        let out = rewrite(&g.mpd, &mut PathSigner::new(scope), session, &hints)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", g.mpd)))?;
        let expect = Expect { session, hints: &hints };
        check_rewrite(&g.mpd, &out, &url, expect, scope)
            .map_err(|e| TestCaseError::fail(format!("{e}\ninput:\n{}\noutput:\n{out}", g.mpd)))?;
        // Rewriting the output again changes nothing more (tokens are replaced, not added).
        let again = rewrite(&out, &mut PathSigner::new(scope), None, &NoHints)
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(again, out);
    }
}

/// Applies `edits` (position, byte) to `mpd`: inserts markup-significant characters and
/// deletes bytes, keeping the text UTF-8.
fn mangle(mpd: &str, edits: &[(usize, u8)]) -> String {
    const INSERTS: &[u8] = b"<>&\"'/=$?#; \n:x";
    let mut bytes = mpd.as_bytes().to_vec();
    for &(pos, op) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = pos % bytes.len();
        if op % 3 == 0 {
            bytes.remove(at);
        } else {
            bytes.insert(at, INSERTS[usize::from(op) % INSERTS.len()]);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mangled_mpds_never_panic_and_well_formed_input_stays_well_formed(
        values in proptest::collection::vec(any::<u32>(), 0..200),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        hint_seed in proptest::collection::vec(any::<u32>(), 0..32),
    ) {
        let g = generate(&values);
        let input = mangle(&g.mpd, &edits);
        let hints = hints_for(&g.reps, &hint_seed);
        let s = session();
        let Ok(out) = rewrite(&input, &mut PathSigner::new(Scope::AnyHost), Some(&s), &hints) else {
            return Ok(());
        };
        if roxmltree::Document::parse(&input).is_ok() {
            roxmltree::Document::parse(&out)
                .map_err(|e| TestCaseError::fail(format!("{e}\ninput:\n{input}\noutput:\n{out}")))?;
        }
        let again = rewrite(&out, &mut PathSigner::new(Scope::AnyHost), None, &NoHints)
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(again, out);
        let same = rewrite(&input, &mut NoSigner, None, &NoHints).map_err(TestCaseError::fail)?;
        prop_assert_eq!(same, input);
    }
}
