//! DASH MPD rewriting.
//!
//! The MPD is read as a stream of quick-xml events and copied to the output byte for byte;
//! only the values of URL attributes and URL texts are edited (a token query parameter is
//! added or replaced), and the injected elements are spliced in. Nothing is re-serialized,
//! so declarations, comments, namespaces, attribute order, quoting, white space, CDATA, a
//! UTF-8 BOM and CRLF line ends all survive.
//!
//! Signed: `BaseURL` (at every level), `Location`, `PatchLocation` texts;
//! `SegmentTemplate@media|@initialization|@index|@bitstreamSwitching`,
//! `SegmentURL@media|@index`, `Initialization|RepresentationIndex|BitstreamSwitching@sourceURL`.
//! Never: anything inside `ContentProtection`, `EventStream`, `UTCTiming`,
//! `ContentSteering` or an element of another namespace, `xlink:href`, non-`http(s)` or
//! foreign URLs. See `docs/manifest-tags-dash.md`.

mod inject;
mod scan;
mod sign;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use url::Url;

use crate::resolve::Base;
use crate::{RewriteError, RewritePlan};

pub use inject::NAMESPACE;

use scan::{AttrSpan, Attrs, check_qname, decode_reference, is_ws, split_qname, trim_span};
use sign::{Out, Signing, UrlKind};

/// Rewrites a DASH MPD into `out`: signs the URLs the player will fetch, injects the
/// session element and per-Representation hints. On error, `out` may hold a partial result
/// and must be discarded.
pub fn rewrite_into(
    input: &[u8],
    manifest_url: &Url,
    plan: &mut RewritePlan<'_>,
    out: &mut Vec<u8>,
) -> Result<(), RewriteError> {
    if input.len() > plan.limits.max_manifest_bytes {
        return Err(RewriteError::TooLarge {
            size: input.len(),
            limit: plan.limits.max_manifest_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|e| RewriteError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let root_base = Base::new(manifest_url)
        .ok_or_else(|| RewriteError::BadBaseUrl(manifest_url.to_string()))?;
    out.reserve(input.len() + input.len() / 4 + 256);
    Rewriter::new(text, root_base, plan, out).run()
}

/// The element names the rewriter acts on (local names in the MPD's namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mpd,
    Period,
    AdaptationSet,
    Representation,
    BaseUrl,
    Location,
    PatchLocation,
    SegmentTemplate,
    SegmentUrl,
    SourceUrl,
    Excluded,
    Other,
}

impl Kind {
    fn of(local: &str) -> Self {
        match local {
            "Period" => Self::Period,
            "AdaptationSet" => Self::AdaptationSet,
            "Representation" => Self::Representation,
            "BaseURL" => Self::BaseUrl,
            "Location" => Self::Location,
            "PatchLocation" => Self::PatchLocation,
            "SegmentTemplate" => Self::SegmentTemplate,
            "SegmentURL" => Self::SegmentUrl,
            "Initialization" | "RepresentationIndex" | "BitstreamSwitching" => Self::SourceUrl,
            "ContentProtection" | "EventStream" | "UTCTiming" | "ContentSteering" => Self::Excluded,
            _ => Self::Other,
        }
    }

    /// Elements whose attributes the rewriter reads.
    fn reads_attributes(self) -> bool {
        matches!(
            self,
            Self::Period
                | Self::Representation
                | Self::SegmentTemplate
                | Self::SegmentUrl
                | Self::SourceUrl
        )
    }

    /// Elements whose text content is a URL.
    fn has_url_text(self) -> bool {
        matches!(self, Self::BaseUrl | Self::Location | Self::PatchLocation)
    }
}

/// A namespace an element name resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns<'a> {
    None,
    Uri(&'a str),
    Unbound(&'a str),
}

/// The unprefixed attributes the rewriter reads, by [`Wanted::slot`].
#[derive(Default)]
struct Wanted {
    spans: [Option<AttrSpan>; 6],
}

impl Wanted {
    fn slot(name: &str) -> Option<usize> {
        // Most attributes are none of these: rule them out on the first byte.
        if !matches!(name.as_bytes().first(), Some(b'i' | b'm' | b'b' | b's')) {
            return None;
        }
        Some(match name {
            "id" => Self::ID,
            "media" => Self::MEDIA,
            "initialization" => Self::INITIALIZATION,
            "index" => Self::INDEX,
            "bitstreamSwitching" => Self::BITSTREAM_SWITCHING,
            "sourceURL" => Self::SOURCE_URL,
            _ => return None,
        })
    }

    const ID: usize = 0;
    const MEDIA: usize = 1;
    const INITIALIZATION: usize = 2;
    const INDEX: usize = 3;
    const BITSTREAM_SWITCHING: usize = 4;
    const SOURCE_URL: usize = 5;
}

/// One open element.
struct Frame<'a> {
    kind: Kind,
    /// Inside an element whose URLs are never signed (or itself one).
    suppressed: bool,
    /// The base in effect for this element's URLs and children (index into `bases`).
    base: Option<usize>,
    /// The base before any `BaseURL` child: alternatives resolve against it.
    inherited: Option<usize>,
    has_base_child: bool,
    bases_len: usize,
    bindings_len: usize,
    /// Start of the URL text, while it is still plain text.
    text_start: Option<usize>,
    /// `Period@id` or `Representation@id`.
    id: Option<Cow<'a, str>>,
    /// White space between the start tag and the first child, when it is a line break
    /// plus indentation (used to lay out injected children).
    child_indent: Option<(usize, usize)>,
    /// End of the start tag.
    content_start: usize,
}

struct Rewriter<'a, 'p> {
    text: &'a str,
    input: &'a [u8],
    out: Out<'a>,
    plan_session: Option<&'p crate::SessionTag>,
    hints: &'p dyn crate::HintSource,
    limits: crate::Limits,
    signing: Signing<'p>,
    stack: Vec<Frame<'a>>,
    bases: Vec<Base>,
    bindings: Vec<(&'a str, &'a str)>,
    root_ns: Option<Ns<'a>>,
    root_done: bool,
    prefix: Option<String>,
    /// Where the namespace declaration goes in the output, once the root tag is seen.
    declaration_at: Option<usize>,
    injected: bool,
    xmlns: memchr::memmem::Finder<'static>,
}

fn malformed(position: usize, reason: impl Into<String>) -> RewriteError {
    RewriteError::MalformedXml {
        position: position as u64,
        reason: reason.into(),
    }
}

impl<'a, 'p> Rewriter<'a, 'p> {
    fn new(
        text: &'a str,
        root_base: Base,
        plan: &'p mut RewritePlan<'_>,
        out: &'a mut Vec<u8>,
    ) -> Self {
        let input = text.as_bytes();
        let mut bases = Vec::with_capacity(8);
        bases.push(root_base);
        Self {
            text,
            input,
            out: Out::new(input, out),
            plan_session: plan.session,
            hints: plan.hints,
            limits: plan.limits,
            signing: Signing::new(&mut *plan.signer),
            stack: Vec::with_capacity(16),
            bases,
            bindings: Vec::new(),
            root_ns: None,
            root_done: false,
            prefix: None,
            declaration_at: None,
            injected: false,
            xmlns: memchr::memmem::Finder::new(b"xmlns"),
        }
    }

    fn run(mut self) -> Result<(), RewriteError> {
        // quick-xml skips a BOM and counts positions after it: read past it and add it back.
        let bom = if self.text.starts_with('\u{feff}') {
            3
        } else {
            0
        };
        let mut reader = Reader::from_str(&self.text[bom..]);
        let mut seen_markup = false;
        loop {
            let start = bom + reader.buffer_position() as usize;
            let event = reader
                .read_event()
                .map_err(|e| RewriteError::MalformedXml {
                    position: bom as u64 + reader.error_position(),
                    reason: e.to_string(),
                })?;
            let end = bom + reader.buffer_position() as usize;
            let is_markup = !matches!(event, Event::Text(_));
            let is_cdata = matches!(event, Event::CData(_));
            match event {
                Event::Start(tag) => self.open(&tag, start, end, false)?,
                Event::Empty(tag) => self.open(&tag, start, end, true)?,
                Event::End(_) => {
                    self.check_tag_length(start, end)?;
                    self.close(start)?;
                }
                Event::Text(_) => {
                    if self.stack.is_empty() && !self.input[start..end].iter().all(|&b| is_ws(b)) {
                        return Err(malformed(start, "text outside the root element"));
                    }
                }
                Event::GeneralRef(reference) => {
                    if self.stack.is_empty() {
                        return Err(malformed(start, "reference outside the root element"));
                    }
                    if decode_reference(&reference.into_inner()).is_none() {
                        return Err(malformed(start, "unknown entity or invalid reference"));
                    }
                }
                Event::CData(_) | Event::Comment(_) | Event::PI(_) => {
                    if let Some(parent) = self.stack.last_mut() {
                        // A URL text mixed with other nodes is left as it is.
                        parent.text_start = None;
                    } else if is_cdata {
                        return Err(malformed(start, "CDATA outside the root element"));
                    }
                }
                Event::Decl(_) => {
                    if seen_markup {
                        return Err(malformed(start, "XML declaration not at the start"));
                    }
                }
                Event::DocType(_) => {
                    return Err(RewriteError::Doctype {
                        position: start as u64,
                    });
                }
                Event::Eof => break,
            }
            seen_markup |= is_markup;
        }
        if !self.stack.is_empty() {
            return Err(malformed(
                self.input.len(),
                "element not closed at end of input",
            ));
        }
        if !self.root_done {
            return Err(RewriteError::NotAManifest);
        }
        self.out.copy_to(self.input.len());
        if self.injected
            && let (Some(at), Some(prefix)) = (self.declaration_at, &self.prefix)
        {
            let buf = &mut *self.out.buf;
            let len = buf.len();
            inject::push_declaration(buf, prefix);
            let added = buf.len() - len;
            buf[at..].rotate_right(added);
        }
        Ok(())
    }

    fn check_tag_length(&self, start: usize, end: usize) -> Result<(), RewriteError> {
        let length = end - start;
        if length > self.limits.max_line_bytes {
            return Err(RewriteError::LineTooLong {
                line: scan::line_of(self.input, start),
                length,
                limit: self.limits.max_line_bytes,
            });
        }
        Ok(())
    }

    fn resolve_ns(&self, prefix: &'a str) -> Ns<'a> {
        match self.bindings.iter().rev().find(|(p, _)| *p == prefix) {
            Some((_, "")) => Ns::None,
            Some((_, uri)) => Ns::Uri(uri),
            None if prefix.is_empty() => Ns::None,
            None => Ns::Unbound(prefix),
        }
    }

    /// Chooses the namespace prefix on first use.
    fn ensure_prefix(&mut self) {
        if self.prefix.is_none() {
            self.prefix = Some(inject::choose_prefix(self.input));
        }
    }

    fn open(
        &mut self,
        tag: &BytesStart<'_>,
        start: usize,
        end: usize,
        empty: bool,
    ) -> Result<(), RewriteError> {
        self.check_tag_length(start, end)?;
        if self.root_done {
            return Err(malformed(start, "content after the root element"));
        }
        if self.stack.len() >= self.limits.max_xml_depth {
            return Err(RewriteError::TooDeep {
                position: start as u64,
                limit: self.limits.max_xml_depth,
            });
        }
        let name_len = tag.name().0.len();
        let name_end = start + 1 + name_len;
        let name = &self.text[start + 1..name_end];
        check_qname(name.as_bytes()).map_err(|reason| malformed(start + 1, reason))?;
        let attrs_end = if empty { end - 2 } else { end - 1 };
        if attrs_end < name_end || (empty && &self.input[attrs_end..end] != b"/>") {
            return Err(malformed(start, "malformed tag"));
        }

        if let Some(parent) = self.stack.last_mut() {
            parent.text_start = None;
        }
        let (prefix, local) = split_qname(name);
        let is_root = self.stack.is_empty();
        // Attributes are read (and checked) where they matter: on the root, on elements
        // whose attributes are rewritten or identify a rendition, and wherever a namespace
        // is declared. Elsewhere (most of all `S`) the tag is copied as quick-xml framed it.
        let read_attrs = is_root
            || Kind::of(local).reads_attributes()
            || self.xmlns.find(&self.input[name_end..attrs_end]).is_some();
        let bindings_len = self.bindings.len();
        let mut wanted = Wanted::default();
        let mut last_attr_end = name_end;
        let attrs_to_read = if read_attrs { attrs_end } else { name_end };
        for attr in Attrs::new(self.input, name_end, attrs_to_read) {
            let attr = attr.map_err(|(at, reason)| malformed(at, reason))?;
            last_attr_end = attr.value_end + 1;
            let attr_name = &self.text[attr.name_start..attr.name_end];
            if attr_name.starts_with("xmlns") {
                let value = &self.text[attr.value_start..attr.value_end];
                if attr_name == "xmlns" {
                    self.bindings.push(("", value));
                } else if let Some(prefix) = attr_name.strip_prefix("xmlns:") {
                    self.bindings.push((prefix, value));
                }
            } else if let Some(slot) = Wanted::slot(attr_name)
                && wanted.spans[slot].replace(attr).is_some()
            {
                return Err(malformed(attr.name_start, "duplicate attribute"));
            }
        }

        let ns = self.resolve_ns(prefix);
        let (parent_suppressed, base) = match self.stack.last() {
            Some(p) => (p.suppressed, p.base),
            None => (false, Some(0)),
        };
        let kind = if is_root {
            if local != "MPD" {
                return Err(RewriteError::NotAManifest);
            }
            self.root_ns = Some(ns);
            Kind::Mpd
        } else if self.root_ns == Some(ns) {
            Kind::of(local)
        } else {
            Kind::Other
        };
        let suppressed = parent_suppressed
            || kind == Kind::Excluded
            || kind == Kind::Other && !is_root && self.root_ns != Some(ns);

        if !suppressed && let Some(base) = base {
            self.sign_attributes(kind, &wanted, base);
        }

        let id = match kind {
            Kind::Period | Kind::Representation => wanted.spans[Wanted::ID]
                .and_then(|a| scan::unescape(&self.text[a.value_start..a.value_end])),
            _ => None,
        };
        let frame = Frame {
            kind,
            suppressed,
            base,
            inherited: base,
            has_base_child: false,
            bases_len: self.bases.len(),
            bindings_len,
            text_start: (kind.has_url_text() && !suppressed && !empty).then_some(end),
            id,
            child_indent: if kind == Kind::Representation {
                indent_after(self.input, end)
            } else {
                None
            },
            content_start: end,
        };

        if kind == Kind::Mpd {
            self.out.copy_to(last_attr_end);
            self.declaration_at = Some(self.out.buf.len());
            if let Some(session) = self.plan_session {
                self.inject_session(session, end, empty, name);
            }
        }
        if empty {
            if kind == Kind::Representation {
                self.inject_hints_into_empty(&frame, end, name);
            }
            self.bindings.truncate(bindings_len);
            if is_root {
                self.root_done = true;
            }
        } else {
            self.stack.push(frame);
        }
        Ok(())
    }

    fn sign_attributes(&mut self, kind: Kind, wanted: &Wanted, base: usize) {
        let slots: &[usize] = match kind {
            Kind::SegmentTemplate => &[
                Wanted::MEDIA,
                Wanted::INITIALIZATION,
                Wanted::INDEX,
                Wanted::BITSTREAM_SWITCHING,
            ],
            Kind::SegmentUrl => &[Wanted::MEDIA, Wanted::INDEX],
            Kind::SourceUrl => &[Wanted::SOURCE_URL],
            _ => return,
        };
        let url_kind = if kind == Kind::SegmentTemplate {
            UrlKind::Template
        } else {
            UrlKind::Plain
        };
        let mut spans: [Option<AttrSpan>; 4] = [None; 4];
        for (dst, &slot) in spans.iter_mut().zip(slots) {
            *dst = wanted.spans[slot];
        }
        spans.sort_by_key(|s| s.map_or(usize::MAX, |a| a.value_start));
        for attr in spans.into_iter().flatten() {
            let (s, e) = trim_span(self.input, attr.value_start, attr.value_end);
            let raw = &self.text[s..e];
            self.signing
                .sign(&mut self.out, raw, s, &self.bases[base], url_kind);
        }
    }

    fn close(&mut self, start: usize) -> Result<(), RewriteError> {
        let Some(frame) = self.stack.pop() else {
            return Err(malformed(start, "end tag without a start tag"));
        };
        self.bases.truncate(frame.bases_len.max(1));
        self.bindings.truncate(frame.bindings_len);
        if let Some(text_start) = frame.text_start {
            self.sign_text(&frame, text_start, start);
        } else if frame.kind == Kind::BaseUrl && !frame.suppressed {
            // A BaseURL that could not be read: nothing below it can be resolved.
            if let Some(parent) = self.stack.last_mut()
                && !parent.has_base_child
            {
                parent.has_base_child = true;
                parent.base = None;
            }
        }
        if frame.kind == Kind::Representation {
            self.inject_hints_before_end(&frame, start);
        }
        if self.stack.is_empty() {
            self.root_done = true;
        }
        Ok(())
    }

    /// Signs the text of a `BaseURL`, `Location` or `PatchLocation` and, for the first
    /// `BaseURL` of an element, makes it the base for that element's other children.
    fn sign_text(&mut self, frame: &Frame<'a>, text_start: usize, text_end: usize) {
        let (s, e) = trim_span(self.input, text_start, text_end);
        let raw = &self.text[s..e];
        let base = match frame.kind {
            Kind::BaseUrl => self.stack.last().and_then(|p| p.inherited),
            _ => Some(0),
        };
        if let Some(base) = base {
            self.signing
                .sign(&mut self.out, raw, s, &self.bases[base], UrlKind::Plain);
        }
        if frame.kind != Kind::BaseUrl {
            return;
        }
        let joined = base.and_then(|b| {
            let value = scan::unescape(raw)?;
            self.bases[b].join(&value)
        });
        let index = joined.map(|b| {
            self.bases.push(b);
            self.bases.len() - 1
        });
        if let Some(parent) = self.stack.last_mut()
            && !parent.has_base_child
        {
            parent.has_base_child = true;
            parent.base = index;
        }
    }

    fn inject_session(
        &mut self,
        session: &crate::SessionTag,
        tag_end: usize,
        empty: bool,
        name: &str,
    ) {
        let indent = indent_after(self.input, tag_end);
        self.ensure_prefix();
        let prefix = self.prefix.as_deref().unwrap_or_default();
        if empty {
            self.out.copy_to(tag_end - 2);
            self.out.skip_to(tag_end);
            self.out.buf.push(b'>');
        } else {
            self.out.copy_to(tag_end);
        }
        if let Some((s, e)) = indent {
            self.out.buf.extend_from_slice(&self.input[s..e]);
        }
        inject::push_session(self.out.buf, prefix, session);
        if empty {
            push_end_tag(self.out.buf, name);
        }
        self.injected = true;
    }

    fn representation_hints(&self, frame: &Frame<'_>) -> &'p [crate::SegmentHint] {
        let Some(id) = frame.id.as_deref() else {
            return &[];
        };
        let period = self
            .stack
            .iter()
            .rev()
            .find(|f| f.kind == Kind::Period)
            .and_then(|f| f.id.as_deref());
        let hints = self.hints;
        hints.hints(&crate::Rendition::Representation { period, id })
    }

    fn inject_hints_into_empty(&mut self, frame: &Frame<'a>, tag_end: usize, name: &str) {
        let hints = self.representation_hints(frame);
        if !hints.iter().any(inject::is_dash_hint) || tag_end - 2 < self.out.cursor() {
            return;
        }
        self.ensure_prefix();
        let prefix = self.prefix.as_deref().unwrap_or_default();
        self.out.copy_to(tag_end - 2);
        self.out.skip_to(tag_end);
        self.out.buf.push(b'>');
        for hint in hints {
            inject::push_hint(self.out.buf, prefix, hint);
        }
        push_end_tag(self.out.buf, name);
        self.injected = true;
    }

    fn inject_hints_before_end(&mut self, frame: &Frame<'a>, end_tag_start: usize) {
        let hints = self.representation_hints(frame);
        if !hints.iter().any(inject::is_dash_hint) {
            return;
        }
        // Lay the hints out like the other children when the end tag is on its own line.
        let mut at = end_tag_start;
        while at > frame.content_start && is_ws(self.input[at - 1]) {
            at -= 1;
        }
        let own_line = self.input[at..end_tag_start].contains(&b'\n');
        let indent = frame
            .child_indent
            .filter(|_| own_line && at >= self.out.cursor());
        if indent.is_none() {
            at = end_tag_start;
        }
        if at < self.out.cursor() {
            return;
        }
        self.ensure_prefix();
        let prefix = self.prefix.as_deref().unwrap_or_default();
        self.out.copy_to(at);
        for hint in hints.iter().filter(|h| inject::is_dash_hint(h)) {
            if let Some((s, e)) = indent {
                self.out.buf.extend_from_slice(&self.input[s..e]);
            }
            inject::push_hint(self.out.buf, prefix, hint);
        }
        self.injected = true;
    }
}

/// The white space after `pos` when it contains a line break and is followed by a tag.
fn indent_after(input: &[u8], pos: usize) -> Option<(usize, usize)> {
    let len = input[pos..].iter().take_while(|&&b| is_ws(b)).count();
    let end = pos + len;
    let ws = &input[pos..end];
    (ws.contains(&b'\n') && input.get(end) == Some(&b'<')).then_some((pos, end))
}

fn push_end_tag(buf: &mut Vec<u8>, name: &str) {
    buf.extend_from_slice(b"</");
    buf.extend_from_slice(name.as_bytes());
    buf.push(b'>');
}
