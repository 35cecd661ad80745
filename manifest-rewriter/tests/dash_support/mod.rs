//! Shared by the DASH integration tests: a path-bound test signer and an independent
//! checker (roxmltree + url) of what a rewrite may and must change.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::borrow::Cow;
use std::collections::BTreeMap;

use rilla_manifest_rewriter::dash::NAMESPACE;
use rilla_manifest_rewriter::{
    HintAction, HintSource, Rendition, SegmentHint, SegmentId, SessionTag, SignTarget, UriSigner,
};
use roxmltree::{Document, Node, NodeType};
use url::Url;

pub const HOST: &str = "edge.example";
pub const PARAM: &str = "rt";

/// Which hosts a signer mints tokens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Only [`HOST`].
    #[default]
    Edge,
    /// Every http(s) host (to exercise corpus files whose URLs are all absolute).
    AnyHost,
}

impl Scope {
    fn covers(self, authority: &str) -> bool {
        self == Scope::AnyHost || authority == HOST
    }
}

/// Signs URLs in scope with the hex of their resolved authority and path, so that each
/// token names exactly what it was minted for.
#[derive(Default)]
pub struct PathSigner {
    pub scope: Scope,
    token: String,
}

impl PathSigner {
    pub fn new(scope: Scope) -> Self {
        Self {
            scope,
            token: String::new(),
        }
    }
}

impl UriSigner for PathSigner {
    fn param(&self) -> &str {
        PARAM
    }

    fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
        if !self.scope.covers(target.authority) {
            return None;
        }
        self.token = hex_token(target.authority, target.path);
        Some(&self.token)
    }
}

/// Signs nothing.
pub struct NoSigner;

impl UriSigner for NoSigner {
    fn param(&self) -> &str {
        PARAM
    }

    fn token_for(&mut self, _: &SignTarget<'_>) -> Option<&str> {
        None
    }
}

pub fn hex_token(authority: &str, path: &str) -> String {
    authority
        .bytes()
        .chain(path.bytes())
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn authority_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => String::new(),
    }
}

/// Parses leniently: prefixes used without a declaration (found in real MPDs) get a
/// placeholder declaration on the root element, in input and output alike.
pub fn parse_lenient(xml: &str) -> Result<(Cow<'_, str>, Vec<String>), String> {
    let mut text = Cow::Borrowed(xml);
    let mut added = Vec::new();
    loop {
        match Document::parse(&text) {
            Ok(_) => return Ok((text, added)),
            Err(roxmltree::Error::UnknownNamespace(prefix, _)) if added.len() < 16 => {
                let root = root_name_end(&text).ok_or("no root element")?;
                let decl = format!(" xmlns:{prefix}=\"urn:undeclared:{prefix}\"");
                let mut owned = text.into_owned();
                owned.insert_str(root, &decl);
                text = Cow::Owned(owned);
                added.push(prefix);
            }
            Err(e) => return Err(format!("roxmltree: {e}")),
        }
    }
}

fn root_name_end(xml: &str) -> Option<usize> {
    let bytes = xml.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &bytes[i..]) {
        let at = i + off;
        match bytes.get(at + 1) {
            Some(b'?' | b'!') => i = at + 1,
            Some(_) => {
                let len = bytes[at + 1..]
                    .iter()
                    .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'>' | b'/'))
                    .count();
                return Some(at + 1 + len);
            }
            None => return None,
        }
    }
    None
}

/// What the rewrite was asked to inject.
pub struct Expect<'a> {
    pub session: Option<&'a SessionTag>,
    pub hints: &'a dyn HintSource,
}

/// What the checker saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub signed: usize,
    pub unsigned_urls: usize,
    pub sessions: usize,
    pub hints: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UrlKind {
    Plain,
    Template,
}

fn url_attributes(local: &str) -> &'static [&'static str] {
    match local {
        "SegmentTemplate" => &["media", "initialization", "index", "bitstreamSwitching"],
        "SegmentURL" => &["media", "index"],
        "Initialization" | "RepresentationIndex" | "BitstreamSwitching" => &["sourceURL"],
        _ => &[],
    }
}

fn is_excluded(local: &str) -> bool {
    matches!(
        local,
        "ContentProtection" | "EventStream" | "UTCTiming" | "ContentSteering"
    )
}

/// Removes our parameter from a URL's query (an empty query is dropped too).
pub fn strip_param(value: &str, param: &str) -> String {
    let (before_hash, fragment) = match value.find('#') {
        Some(i) => value.split_at(i),
        None => (value, ""),
    };
    let (path, query) = match before_hash.find('?') {
        Some(i) => (&before_hash[..i], Some(&before_hash[i + 1..])),
        None => (before_hash, None),
    };
    let kept: Vec<&str> = query
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty() && p.split('=').next() != Some(param))
                .collect()
        })
        .unwrap_or_default();
    let mut out = path.to_owned();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(fragment);
    out
}

/// The values of our parameter in a URL's query.
fn param_values<'v>(value: &'v str, param: &str) -> Vec<&'v str> {
    let before_hash = value.split('#').next().unwrap_or("");
    let Some((_, query)) = before_hash.split_once('?') else {
        return Vec::new();
    };
    query
        .split('&')
        .filter_map(|p| {
            let (name, v) = p.split_once('=').unwrap_or((p, ""));
            (name == param).then_some(v)
        })
        .collect()
}

#[derive(Clone, Copy)]
struct Ctx<'u> {
    base: Option<&'u Url>,
    inherited: Option<&'u Url>,
    root_url: &'u Url,
    suppressed: bool,
    period: Option<&'u str>,
}

struct Checker<'e> {
    param: &'e str,
    scope: Scope,
    expect: Expect<'e>,
    stats: Stats,
    root_ns: Option<String>,
}

fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(|n| n.is_element())
}

impl Checker<'_> {
    fn in_mpd_ns(&self, node: Node<'_, '_>) -> bool {
        node.tag_name().namespace() == self.root_ns.as_deref()
    }

    /// Checks one URL value: signed with the token for its own resolved path when it
    /// resolves to our host, unchanged otherwise.
    fn check_url(
        &mut self,
        what: &str,
        input: &str,
        output: &str,
        base: Option<&Url>,
        kind: UrlKind,
    ) -> Result<(), String> {
        let reference = input.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\r' | '\n'));
        let resolved = base.and_then(|b| b.join(reference).ok()).filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && !reference.is_empty()
        });
        let ours = resolved
            .as_ref()
            .filter(|u| self.scope.covers(&authority_of(u)));
        let Some(url) = ours else {
            self.stats.unsigned_urls += 1;
            return (input == output)
                .then_some(())
                .ok_or_else(|| format!("{what}: {input:?} must stay unchanged, got {output:?}"));
        };
        let is_ws = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
        let (lead_in, lead_out) = (
            input.len() - input.trim_start_matches(is_ws).len(),
            output.len() - output.trim_start_matches(is_ws).len(),
        );
        let (tail_in, tail_out) = (
            input.trim_end_matches(is_ws).len(),
            output.trim_end_matches(is_ws).len(),
        );
        if input[..lead_in] != output[..lead_out] || input[tail_in..] != output[tail_out..] {
            return Err(format!(
                "{what}: white space around {input:?} changed in {output:?}"
            ));
        }
        let (input, output) = (input.trim_matches(is_ws), output.trim_matches(is_ws));
        if strip_param(input, self.param) != strip_param(output, self.param) {
            return Err(format!(
                "{what}: {input:?} became {output:?} (beyond the token)"
            ));
        }
        let values = param_values(output, self.param);
        let [token] = values.as_slice() else {
            return Err(format!("{what}: expected exactly one token in {output:?}"));
        };
        let token = if kind == UrlKind::Template {
            token.replace("$$", "$")
        } else {
            (*token).to_owned()
        };
        let expected = hex_token(&authority_of(url), url.path());
        if token != expected {
            return Err(format!(
                "{what}: {output:?} carries a token for another path than {}",
                url.path()
            ));
        }
        self.stats.signed += 1;
        Ok(())
    }

    /// Compares one element. `base` is the base in effect for it (its parent's, after the
    /// parent's first BaseURL); `inherited` is the parent's own incoming base, against which
    /// BaseURL alternatives resolve.
    fn compare_element(
        &mut self,
        a: Node<'_, '_>,
        b: Node<'_, '_>,
        ctx: Ctx<'_>,
    ) -> Result<(), String> {
        let name = a.tag_name();
        if name != b.tag_name() {
            return Err(format!("element {name:?} became {:?}", b.tag_name()));
        }
        let local = name.name();
        let dash = self.in_mpd_ns(a);
        let suppressed = ctx.suppressed || !dash || is_excluded(local);
        let url_attrs = if suppressed {
            &[][..]
        } else {
            url_attributes(local)
        };

        let attrs_a: Vec<_> = a.attributes().collect();
        let attrs_b: Vec<_> = b.attributes().collect();
        if attrs_a.len() != attrs_b.len() {
            return Err(format!("<{local}> attribute count changed"));
        }
        for (x, y) in attrs_a.iter().zip(&attrs_b) {
            if x.name() != y.name() || x.namespace() != y.namespace() {
                return Err(format!(
                    "<{local}> attribute {} became {}",
                    x.name(),
                    y.name()
                ));
            }
            if x.namespace().is_none() && url_attrs.contains(&x.name()) {
                let kind = if local == "SegmentTemplate" {
                    UrlKind::Template
                } else {
                    UrlKind::Plain
                };
                let what = format!("{local}@{}", x.name());
                self.check_url(&what, x.value(), y.value(), ctx.base, kind)?;
            } else if x.value() != y.value() {
                return Err(format!("<{local}> @{} changed", x.name()));
            }
        }

        let url_text = !suppressed && matches!(local, "BaseURL" | "Location" | "PatchLocation");
        if url_text && a.children().all(|c| c.is_text()) && b.children().all(|c| c.is_text()) {
            let (tx, ty) = (a.text().unwrap_or(""), b.text().unwrap_or(""));
            let base = if local == "BaseURL" {
                ctx.inherited
            } else {
                Some(ctx.root_url)
            };
            return self.check_url(local, tx, ty, base, UrlKind::Plain);
        }

        // The base for this element's children: its first BaseURL, if any.
        let mut own_base = ctx.base.cloned();
        let first_base_url =
            elements(a).find(|c| self.in_mpd_ns(*c) && c.tag_name().name() == "BaseURL");
        if !suppressed && let Some(first) = first_base_url {
            own_base = if first.children().all(|c| c.is_text()) {
                let text = first.text().unwrap_or("");
                let trimmed = text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\r' | '\n'));
                ctx.base
                    .and_then(|b| b.join(trimmed).ok())
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            } else {
                None
            };
        }
        let period = if dash && local == "Period" {
            a.attribute("id")
        } else {
            ctx.period
        };
        let child_ctx = Ctx {
            base: own_base.as_ref(),
            inherited: ctx.base,
            root_url: ctx.root_url,
            suppressed,
            period,
        };
        self.compare_children(a, b, child_ctx)?;

        let injected: Vec<_> = elements(b)
            .filter(|n| n.tag_name().namespace() == Some(NAMESPACE))
            .collect();
        let is_root = a.parent().is_some_and(|p| p.is_root());
        if is_root {
            self.check_session(b, &injected)?;
        } else if dash && local == "Representation" {
            self.check_hints(a, period, &injected)?;
        } else if !injected.is_empty() {
            return Err(format!("unexpected injected element in <{local}>"));
        }
        Ok(())
    }

    fn compare_children(
        &mut self,
        a: Node<'_, '_>,
        b: Node<'_, '_>,
        ctx: Ctx<'_>,
    ) -> Result<(), String> {
        let xs = items(a, false);
        let ys = items(b, true);
        if xs.len() != ys.len() {
            return Err(format!(
                "<{}> has {} child nodes, {} after rewriting",
                a.tag_name().name(),
                xs.len(),
                ys.len()
            ));
        }
        for (x, y) in xs.iter().zip(&ys) {
            match (x, y) {
                (Item::Element(x), Item::Element(y)) => self.compare_element(*x, *y, ctx)?,
                (Item::Text(tx, _), Item::Text(ty, near_injected)) => {
                    let both_blank = tx.trim().is_empty() && ty.trim().is_empty();
                    if tx != ty && !(both_blank && *near_injected) {
                        return Err(format!("text {tx:?} became {ty:?}"));
                    }
                }
                (Item::Other(kx, vx), Item::Other(ky, vy)) if kx == ky && vx == vy => {}
                _ => return Err(format!("child nodes of <{}> differ", a.tag_name().name())),
            }
        }
        Ok(())
    }

    fn check_session(
        &mut self,
        root: Node<'_, '_>,
        injected: &[Node<'_, '_>],
    ) -> Result<(), String> {
        match (self.expect.session, injected) {
            (None, []) => Ok(()),
            (Some(s), [node]) => {
                if elements(root).next() != Some(*node) || node.tag_name().name() != "Session" {
                    return Err("the session must be the first child of MPD".into());
                }
                let interval = s.announce_interval_secs.to_string();
                let expected = [
                    ("viewer", s.viewer.as_str()),
                    ("swarm", s.swarm.as_str()),
                    ("announce", s.announce.as_str()),
                    ("interval", interval.as_str()),
                ];
                check_attrs(*node, &expected)?;
                if node.has_children() {
                    return Err("session element has content".into());
                }
                self.stats.sessions += 1;
                Ok(())
            }
            _ => Err(format!(
                "expected {} session element(s), found {}",
                u8::from(self.expect.session.is_some()),
                injected.len()
            )),
        }
    }

    fn check_hints(
        &mut self,
        rep: Node<'_, '_>,
        period: Option<&str>,
        injected: &[Node<'_, '_>],
    ) -> Result<(), String> {
        let expected: &[SegmentHint] = match rep.attribute("id") {
            Some(id) => self
                .expect
                .hints
                .hints(&Rendition::Representation { period, id }),
            None => &[],
        };
        let expected: Vec<&SegmentHint> = expected
            .iter()
            .filter(|h| matches!(h.segment, SegmentId::Number(_) | SegmentId::Time(_)))
            .collect();
        if expected.len() != injected.len() {
            return Err(format!(
                "Representation {:?}: {} hints expected, {} injected",
                rep.attribute("id"),
                expected.len(),
                injected.len()
            ));
        }
        for (hint, node) in expected.iter().zip(injected) {
            if node.tag_name().name() != "Hint" || node.has_children() {
                return Err("bad hint element".into());
            }
            let (attr, value) = match hint.segment {
                SegmentId::Number(n) => ("number", n),
                SegmentId::Time(t) => ("time", t),
                SegmentId::Sequence { .. } => unreachable!(),
            };
            let value = value.to_string();
            let mut attrs: Vec<(&str, String)> = vec![(attr, value)];
            match &hint.action {
                HintAction::Seed => attrs.push(("action", "seed".into())),
                HintAction::Cdn => attrs.push(("action", "cdn".into())),
                HintAction::Peers(peers) => {
                    attrs.push(("action", "peers".into()));
                    let list: Vec<&str> = peers.iter().map(|p| p.as_str()).collect();
                    attrs.push(("peers", list.join(" ")));
                }
            }
            if let Some(d) = &hint.sha256 {
                attrs.push(("sha256", d.to_string()));
            }
            let borrowed: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            check_attrs(*node, &borrowed)?;
            self.stats.hints += 1;
        }
        Ok(())
    }
}

fn check_attrs(node: Node<'_, '_>, expected: &[(&str, &str)]) -> Result<(), String> {
    let got: BTreeMap<&str, &str> = node.attributes().map(|a| (a.name(), a.value())).collect();
    let want: BTreeMap<&str, &str> = expected.iter().copied().collect();
    if node.attributes().any(|a| a.namespace().is_some()) || got != want {
        return Err(format!(
            "<{}> has attributes {got:?}, expected {want:?}",
            node.tag_name().name()
        ));
    }
    Ok(())
}

enum Item<'a, 'i> {
    Element(Node<'a, 'i>),
    /// Text, and whether an injected element was removed next to it.
    Text(String, bool),
    Other(&'static str, String),
}

/// Child nodes, with injected elements removed (in the output) and the text around them
/// merged.
fn items<'a, 'i>(node: Node<'a, 'i>, drop_injected: bool) -> Vec<Item<'a, 'i>> {
    let mut out: Vec<Item<'a, 'i>> = Vec::new();
    let mut removed_here = false;
    for child in node.children() {
        match child.node_type() {
            NodeType::Element
                if drop_injected && child.tag_name().namespace() == Some(NAMESPACE) =>
            {
                removed_here = true;
                if let Some(Item::Text(_, near)) = out.last_mut() {
                    *near = true;
                }
            }
            NodeType::Element => {
                if removed_here {
                    out.push(Item::Text(String::new(), true));
                    removed_here = false;
                }
                out.push(Item::Element(child));
            }
            NodeType::Text => {
                let text = child.text().unwrap_or("");
                if let Some(Item::Text(prev, near)) = out.last_mut() {
                    prev.push_str(text);
                    *near |= removed_here;
                } else {
                    out.push(Item::Text(text.to_owned(), removed_here));
                }
                removed_here = false;
            }
            NodeType::Comment => out.push(Item::Other(
                "comment",
                child.text().unwrap_or("").to_owned(),
            )),
            NodeType::PI => {
                let pi = child
                    .pi()
                    .map(|p| format!("{}{:?}", p.target, p.value))
                    .unwrap_or_default();
                out.push(Item::Other("pi", pi));
            }
            NodeType::Root => {}
        }
    }
    if removed_here {
        out.push(Item::Text(String::new(), true));
    }
    // An empty text item stands for "nothing" next to an injected element.
    out.retain(|i| !matches!(i, Item::Text(t, true) if t.is_empty()));
    if !drop_injected {
        out.retain(|i| !matches!(i, Item::Text(t, _) if t.is_empty()));
    }
    out
}

/// Checks that `output` is `input` with exactly the allowed changes: URL values signed for
/// their own resolved path (when on our host) and nothing else changed, plus the expected
/// injected elements.
pub fn check_rewrite(
    input: &str,
    output: &str,
    manifest_url: &Url,
    expect: Expect<'_>,
    scope: Scope,
) -> Result<Stats, String> {
    let (input_text, added_in) = parse_lenient(input)?;
    let (output_text, _) = parse_lenient(output)?;
    let a = Document::parse(&input_text).map_err(|e| e.to_string())?;
    let b = Document::parse(&output_text).map_err(|e| format!("output: {e}"))?;
    let mut checker = Checker {
        param: PARAM,
        scope,
        expect,
        stats: Stats::default(),
        root_ns: a.root_element().tag_name().namespace().map(str::to_owned),
    };
    let ctx = Ctx {
        base: Some(manifest_url),
        inherited: None,
        root_url: manifest_url,
        suppressed: false,
        period: None,
    };
    checker.compare_children(a.root(), b.root(), ctx)?;
    let injected = checker.stats.sessions + checker.stats.hints > 0;
    let ns_a: Vec<_> = a
        .root_element()
        .namespaces()
        .map(|n| (n.name(), n.uri()))
        .collect();
    let mut ns_b: Vec<_> = b
        .root_element()
        .namespaces()
        .map(|n| (n.name(), n.uri()))
        .collect();
    if injected {
        let ours = ns_b.iter().position(|(_, uri)| *uri == NAMESPACE);
        let Some(ours) = ours else {
            return Err("namespace declaration missing".into());
        };
        ns_b.remove(ours);
    }
    if ns_a != ns_b {
        return Err(format!(
            "namespaces changed: {ns_a:?} -> {ns_b:?} (added {added_in:?})"
        ));
    }
    Ok(checker.stats)
}
