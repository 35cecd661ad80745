//! HLS playlist rewriting, line by line.
//!
//! The playlist is never parsed into a model: lines are copied as written and only the
//! bytes of a URI that a player will fetch through the edge are replaced, by the same URI
//! with the viewer's token in its query. What gets signed:
//!
//! - URI lines (media segments, and variant streams after `EXT-X-STREAM-INF`);
//! - the `URI` attribute of `EXT-X-MAP`, `EXT-X-MEDIA`, `EXT-X-I-FRAME-STREAM-INF`,
//!   `EXT-X-IMAGE-STREAM-INF`, `EXT-X-PART`, `EXT-X-PRELOAD-HINT`,
//!   `EXT-X-RENDITION-REPORT`, `EXT-X-SESSION-DATA`, `EXT-X-KEY` and `EXT-X-SESSION-KEY`
//!   (keys only when the URI is `http(s)` or relative and the method is not `NONE`).
//!
//! A URI is signed only when the [`crate::UriSigner`] returns a token for where it
//! resolves; otherwise (a foreign host, `skd://`, `data:`) it is left byte for byte.
//!
//! In media playlists the edge also injects `#EXT-X-RILLA-SESSION` after `#EXTM3U` and an
//! `#EXT-X-RILLA-HINT` line before each segment or partial segment it has a hint for.
//! Segments are identified by media sequence number (and part index), never by URI.
//!
//! `EXT-X-DEFINE` references (`{$name}`) in a URI are substituted before signing when the
//! value is known here (`NAME`/`VALUE` earlier in the playlist, `QUERYPARAM` from the
//! playlist URL's query) and acceptable (no controls, whitespace or `"`). When a reference
//! remains, the URI is written as it is with a token for the literal part of its path:
//! its exact path when the reference is only in the query or fragment, otherwise the
//! directory before the reference (the playlist's own directory for a bare file name). A
//! URI that starts with an unresolved reference is left unsigned, since it could expand
//! to another host.

mod attrs;
mod define;
mod inject;
mod query;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use url::Url;

use crate::plan::{Rendition, SegmentId, SessionTag, SignTarget, UriSigner};
use crate::resolve::{Base, BaseRef};
use crate::{RewriteError, RewritePlan};

use define::Variables;
use inject::HintIndex;

/// What kind of media resource a [`HlsSegmentInfo`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HlsSegmentKind {
    /// A full media segment (a URI line).
    Full,
    /// A partial segment (`EXT-X-PART`).
    Part,
    /// The partial segment announced by `EXT-X-PRELOAD-HINT:TYPE=PART`.
    PreloadHint,
}

/// The identity and description of one media segment or partial segment, as the
/// rewriter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsSegmentInfo {
    /// Media sequence number.
    pub msn: u64,
    /// Index of the partial segment within `msn`, from 0; `None` for a full segment.
    pub part: Option<u32>,
    /// Full segment, part or preload hint.
    pub kind: HlsSegmentKind,
    /// The duration as written (`EXTINF` or `DURATION`), if any.
    pub duration: Option<String>,
    /// The byte range as written (`EXT-X-BYTERANGE` or `BYTERANGE`), if any.
    pub byterange: Option<String>,
    /// The URI as written, without surrounding whitespace.
    pub uri: String,
    /// Whether an `EXT-X-DISCONTINUITY` precedes the segment (or the segment the part
    /// belongs to).
    pub discontinuity: bool,
}

/// Rewrites the HLS playlist `input`, fetched from `manifest_url`, into `out`.
///
/// On error, `out` may hold a partial result and must be discarded.
pub fn rewrite_into(
    input: &[u8],
    manifest_url: &Url,
    plan: &mut RewritePlan<'_>,
    out: &mut Vec<u8>,
) -> Result<(), RewriteError> {
    let base = BaseRef::new(manifest_url)
        .ok_or_else(|| RewriteError::BadBaseUrl(manifest_url.to_string()))?;
    // The parameter name is read once, as `?name=`; a short one is kept on the stack (no
    // allocation).
    let mut inline = [0u8; 64];
    let owned: String;
    let query_param: &str = {
        let param = plan.signer.param();
        match inline.get_mut(..param.len() + 2) {
            Some(buf) => {
                buf[0] = b'?';
                buf[1..=param.len()].copy_from_slice(param.as_bytes());
                buf[param.len() + 1] = b'=';
                std::str::from_utf8(buf).unwrap_or_default()
            }
            None => {
                owned = format!("?{param}=");
                &owned
            }
        }
    };
    let hints = plan.hints.hints(&Rendition::Playlist);
    let mut rewriter = Rewriter::new(
        plan.limits.max_line_bytes,
        plan.session,
        HintIndex::new(hints),
    );
    rewriter.signing = Some(Signing {
        url: manifest_url,
        base,
        full_base: None,
        signer: &mut *plan.signer,
        param: &query_param[1..query_param.len() - 1],
        query_param,
        scratch: String::new(),
        path: String::with_capacity(base.dir().len() + 128),
    });
    rewriter.manifest_url = Some(manifest_url);
    rewriter.run(input, plan.limits.max_manifest_bytes, out)
}

/// Lists the media segments, parts and preload hints of a media playlist with the identity
/// the rewriter gives them (hints are matched against these identities).
pub fn segments(input: &[u8]) -> Result<Vec<HlsSegmentInfo>, RewriteError> {
    let limits = crate::Limits::default();
    let mut found = Vec::new();
    let mut rewriter = Rewriter::new(limits.max_line_bytes, None, HintIndex::new(&[]));
    rewriter.record = Some(&mut found);
    let mut sink = Vec::with_capacity(input.len());
    rewriter.run(input, limits.max_manifest_bytes, &mut sink)?;
    Ok(found)
}

/// What signing needs: where URIs resolve, and who mints tokens.
struct Signing<'p> {
    url: &'p Url,
    /// The parts of `url` that the common case needs.
    base: BaseRef<'p>,
    /// `url` prepared for resolving any reference, made on first need.
    full_base: Option<Base>,
    signer: &'p mut dyn UriSigner,
    /// The name of the token parameter.
    param: &'p str,
    /// `?`, the name of the token parameter and `=`.
    query_param: &'p str,
    /// Reused buffer for variable substitution.
    scratch: String,
    /// Reused buffer for resolved paths.
    path: String,
}

/// The base for references [`BaseRef::resolve_into`] does not take, made on first need.
fn full_base<'b>(slot: &'b mut Option<Base>, url: &Url) -> Option<&'b Base> {
    if slot.is_none() {
        *slot = Base::new(url);
    }
    slot.as_ref()
}

impl Signing<'_> {
    /// Writes `pending` to `out`, with its end, `uri` (trimmed), signed when the signer has a
    /// token for it. (`pending` is the text before the URI that is still to be copied,
    /// followed by the URI.)
    fn write(&mut self, pending: &str, uri: &str, vars: &Variables<'_>, out: &mut Vec<u8>) {
        // The common case: a plain relative or absolute path, resolved without `Url`.
        if let Some(simple) = self.base.resolve_into(uri, &mut self.path) {
            let rest = &uri[simple.path_len..];
            if !has_reference(rest) {
                match self.signer.token_for(&simple.target) {
                    Some(token) if rest.is_empty() => {
                        out.reserve(pending.len() + self.query_param.len() + token.len());
                        out.extend_from_slice(pending.as_bytes());
                        out.extend_from_slice(self.query_param.as_bytes());
                        out.extend_from_slice(token.as_bytes());
                    }
                    Some(token) => {
                        let before = &pending[..pending.len() - uri.len()];
                        out.extend_from_slice(before.as_bytes());
                        query::write_with_token(uri, self.param, token, out);
                    }
                    None => out.extend_from_slice(pending.as_bytes()),
                }
                return;
            }
        }
        let before = &pending[..pending.len() - uri.len()];
        out.extend_from_slice(before.as_bytes());
        if has_reference(uri) {
            let mut text = std::mem::take(&mut self.scratch);
            text.clear();
            match vars.substitute(uri, &mut text) {
                None => self.write_plain(&text, uri, out),
                Some(at) => self.write_unresolved(&text, at, uri, out),
            }
            self.scratch = text;
        } else {
            self.write_plain(uri, uri, out);
        }
    }

    /// Signs `uri`; `raw` (the URI before substitution) is written when there is no token.
    fn write_plain(&mut self, uri: &str, raw: &str, out: &mut Vec<u8>) {
        let base = full_base(&mut self.full_base, self.url);
        let token = match base.and_then(|base| base.resolve(uri)) {
            Some(resolved) => self.signer.token_for(&resolved.target()),
            None => None,
        };
        match token {
            Some(token) => query::write_with_token(uri, self.param, token, out),
            None => out.extend_from_slice(raw.as_bytes()),
        }
    }

    /// `text` still has a variable reference at byte `at`: sign what is literal. `raw` is
    /// written when there is no token.
    fn write_unresolved(&mut self, text: &str, at: usize, raw: &str, out: &mut Vec<u8>) {
        let prefix = &text[..at];
        let token = if prefix.contains(['?', '#']) {
            // Only the query or fragment is variable: the path is known exactly.
            let base = full_base(&mut self.full_base, self.url);
            match base.and_then(|base| base.resolve(prefix)) {
                Some(resolved) => self.signer.token_for(&resolved.target()),
                None => None,
            }
        } else if prefix.is_empty() {
            // The reference could expand to an absolute URL on another host.
            None
        } else {
            let dir = &prefix[..prefix.rfind('/').map_or(0, |i| i + 1)];
            if dir.is_empty() {
                let target = SignTarget {
                    scheme: self.base.scheme(),
                    authority: self.base.authority(),
                    path: self.base.dir(),
                };
                self.signer.token_for(&target)
            } else {
                let base = full_base(&mut self.full_base, self.url);
                match base.and_then(|base| base.resolve(dir)) {
                    Some(resolved) => self.signer.token_for(&resolved.target()),
                    None => None,
                }
            }
        };
        match token {
            Some(token) => query::write_with_token(text, self.param, token, out),
            None => out.extend_from_slice(raw.as_bytes()),
        }
    }
}

/// One line of the playlist body.
struct Line<'a> {
    /// Byte offset of the line in the body.
    start: usize,
    /// The line without its terminator.
    content: &'a str,
    /// `"\n"`, `"\r\n"`, or empty for a last line without one.
    eol: &'a str,
    /// 1-based line number.
    number: usize,
}

/// The state of one pass over a playlist.
struct Rewriter<'a, 'p> {
    signing: Option<Signing<'p>>,
    manifest_url: Option<&'p Url>,
    session: Option<&'p SessionTag>,
    hints: HintIndex<'p>,
    record: Option<&'p mut Vec<HlsSegmentInfo>>,
    max_line: usize,
    vars: Variables<'a>,
    /// Whether this is a media playlist (injection happens only there).
    media: bool,
    /// Line terminator for injected lines that precede a last line without one.
    default_eol: &'a str,
    /// How much of the body has been copied to the output.
    copied: usize,
    /// Media sequence number of the next full segment.
    msn: u64,
    /// Index of the next partial segment within `msn`.
    part: u32,
    /// False once a sequence number could not be read: no hints from then on.
    identity_known: bool,
    /// Whether a segment, part or `EXT-X-SKIP` has been seen.
    seen_segment: bool,
    duration: Option<&'a str>,
    byterange: Option<&'a str>,
    discontinuity: bool,
}

/// Tag name of a line that starts with `#` (without the `#`), and the text after `:`.
fn split_tag(tag: &str) -> (&str, Option<&str>) {
    match tag.bytes().position(|b| b == b':') {
        Some(i) => (&tag[..i], Some(&tag[i + 1..])),
        None => (tag, None),
    }
}

/// Finds the end of a line. Lines are short, and most of the cost of `memchr::memchr` on a
/// short line is choosing an implementation at each call: on x86-64, SSE2 is always there.
#[derive(Clone, Copy)]
struct Newline {
    #[cfg(target_arch = "x86_64")]
    sse2: Option<memchr::arch::x86_64::sse2::memchr::One>,
}

impl Newline {
    fn new() -> Self {
        Self {
            #[cfg(target_arch = "x86_64")]
            sse2: memchr::arch::x86_64::sse2::memchr::One::new(b'\n'),
        }
    }

    /// The offset of the first `\n` in `haystack`.
    #[inline]
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(sse2) = &self.sse2 {
            return sse2.find(haystack);
        }
        memchr::memchr(b'\n', haystack)
    }
}

/// The tags the rewriter acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Inf,
    ByteRange,
    MediaSequence,
    Skip,
    Define,
    Discontinuity,
    Part,
    PreloadHint,
    Map,
    Media,
    IFrameStreamInf,
    ImageStreamInf,
    RenditionReport,
    SessionData,
    Key,
    SessionKey,
}

/// `Some(value)` when `tag` is the tag `name`: `Some(None)` without a value, or
/// `Some(Some(text after ':'))`.
#[inline(always)]
fn tag_value<'t>(tag: &'t str, name: &str) -> Option<Option<&'t str>> {
    let rest = tag.strip_prefix(name)?;
    match rest.as_bytes().first() {
        None => Some(None),
        Some(b':') => Some(Some(&rest[1..])),
        Some(_) => None,
    }
}

/// The tag of a line starting with `#` (`tag` follows the `#`) if the rewriter acts on it,
/// and the text after its `:`. The same as comparing the text before the first `:` with
/// each name, without scanning for the `:`.
fn classify(tag: &str) -> Option<(Tag, Option<&str>)> {
    macro_rules! one_of {
        ($($name:literal => $kind:ident),+) => {{
            $(
                if let Some(value) = tag_value(tag, $name) {
                    return Some((Tag::$kind, value));
                }
            )+
            None
        }};
    }
    let bytes = tag.as_bytes();
    if !bytes.starts_with(b"EXT") {
        return None;
    }
    match (bytes.get(3), bytes.get(6)) {
        (Some(b'I'), _) => one_of!("EXTINF" => Inf),
        (Some(b'-'), Some(b'B')) => one_of!("EXT-X-BYTERANGE" => ByteRange),
        (Some(b'-'), Some(b'M')) => one_of!(
            "EXT-X-MAP" => Map,
            "EXT-X-MEDIA" => Media,
            "EXT-X-MEDIA-SEQUENCE" => MediaSequence
        ),
        (Some(b'-'), Some(b'S')) => one_of!(
            "EXT-X-SKIP" => Skip,
            "EXT-X-SESSION-DATA" => SessionData,
            "EXT-X-SESSION-KEY" => SessionKey
        ),
        (Some(b'-'), Some(b'D')) => one_of!(
            "EXT-X-DEFINE" => Define,
            "EXT-X-DISCONTINUITY" => Discontinuity
        ),
        (Some(b'-'), Some(b'P')) => one_of!(
            "EXT-X-PART" => Part,
            "EXT-X-PRELOAD-HINT" => PreloadHint
        ),
        (Some(b'-'), Some(b'I')) => one_of!(
            "EXT-X-I-FRAME-STREAM-INF" => IFrameStreamInf,
            "EXT-X-IMAGE-STREAM-INF" => ImageStreamInf
        ),
        (Some(b'-'), Some(b'R')) => one_of!("EXT-X-RENDITION-REPORT" => RenditionReport),
        (Some(b'-'), Some(b'K')) => one_of!("EXT-X-KEY" => Key),
        _ => None,
    }
}

/// Whether `uri` may hold a variable reference (`{$`).
fn has_reference(uri: &str) -> bool {
    uri.as_bytes().windows(2).any(|w| w == b"{$")
}

/// Whether the playlist is a media playlist: it has `EXTINF` or `EXT-X-TARGETDURATION`
/// and no variant stream tag.
fn is_media_playlist(body: &str) -> bool {
    let bytes = body.as_bytes();
    static VARIANT: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"STREAM-INF"));
    let may_have_variants = VARIANT.find(bytes).is_some();
    let mut media = false;
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let line = body[start..end].trim_ascii_start();
        if let Some(tag) = line.strip_prefix("#EXT") {
            let (name, _) = split_tag(tag);
            match name {
                "-X-STREAM-INF" | "-X-I-FRAME-STREAM-INF" | "-X-IMAGE-STREAM-INF" => return false,
                "INF" | "-X-TARGETDURATION" => {
                    media = true;
                    if !may_have_variants {
                        return true;
                    }
                }
                _ => {}
            }
        }
        start = end + 1;
    }
    media
}

impl<'a, 'p> Rewriter<'a, 'p> {
    fn new(max_line: usize, session: Option<&'p SessionTag>, hints: HintIndex<'p>) -> Self {
        Self {
            signing: None,
            manifest_url: None,
            session,
            hints,
            record: None,
            max_line,
            vars: Variables::default(),
            media: false,
            default_eol: "\n",
            copied: 0,
            msn: 0,
            part: 0,
            identity_known: true,
            seen_segment: false,
            duration: None,
            byterange: None,
            discontinuity: false,
        }
    }

    fn run(
        &mut self,
        input: &'a [u8],
        max_bytes: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), RewriteError> {
        if input.len() > max_bytes {
            return Err(RewriteError::TooLarge {
                size: input.len(),
                limit: max_bytes,
            });
        }
        let text = std::str::from_utf8(input).map_err(|e| RewriteError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        let body = match text.strip_prefix('\u{feff}') {
            Some(rest) => {
                out.extend_from_slice("\u{feff}".as_bytes());
                rest
            }
            None => text,
        };
        out.reserve(input.len() + input.len() / 2 + 256);
        self.media = is_media_playlist(body);

        let bytes = body.as_bytes();
        let mut start = 0;
        let mut number = 0;
        let newline = Newline::new();
        // Where the line starting at `start` ends: its content, and the next line.
        let line_end = |start: usize| -> (usize, usize) {
            let (end, next) = match newline.find(&bytes[start..]) {
                Some(i) => (start + i, start + i + 1),
                None => (bytes.len(), bytes.len()),
            };
            if end > start && bytes[end - 1] == b'\r' {
                (end - 1, next)
            } else {
                (end, next)
            }
        };
        let max_line = self.max_line;
        let too_long = |number: usize, length: usize| RewriteError::LineTooLong {
            line: number,
            length,
            limit: max_line,
        };

        // Up to `#EXTM3U`.
        loop {
            if start >= bytes.len() {
                return Err(RewriteError::NotAManifest);
            }
            number += 1;
            let (content_end, next) = line_end(start);
            if content_end - start > max_line {
                return Err(too_long(number, content_end - start));
            }
            let line = Line {
                start,
                content: &body[start..content_end],
                eol: &body[content_end..next],
                number,
            };
            let header_seen = self.header(&line, body, next, out)?;
            start = next;
            if header_seen {
                break;
            }
        }

        while start < bytes.len() {
            number += 1;
            let (content_end, next) = line_end(start);
            let length = content_end - start;
            if length > max_line {
                return Err(too_long(number, length));
            }
            if length > 0 {
                let line = Line {
                    start,
                    content: &body[start..content_end],
                    eol: &body[content_end..next],
                    number,
                };
                match bytes[start] {
                    b'#' => self.tag(&line, start + 1, &line.content[1..], body, out)?,
                    // Leading whitespace: trimmed first.
                    b' ' | b'\t' | b'\r' | b'\x0c' => self.line(&line, body, out)?,
                    _ => self.uri_line(&line, start, line.content.trim_ascii_end(), body, out),
                }
            }
            start = next;
        }
        self.flush(body, body.len(), out);
        Ok(())
    }

    /// Handles a line before `#EXTM3U` has been seen; returns whether this is it.
    fn header(
        &mut self,
        line: &Line<'a>,
        body: &'a str,
        next: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, RewriteError> {
        let trimmed = line.content.trim_ascii();
        if trimmed.is_empty() {
            return Ok(false);
        }
        if !trimmed.starts_with("#EXTM3U") {
            return Err(RewriteError::NotAManifest);
        }
        if !line.eol.is_empty() {
            self.default_eol = line.eol;
        }
        if let (true, Some(session)) = (self.media, self.session) {
            self.flush(body, next, out);
            if line.eol.is_empty() {
                out.extend_from_slice(self.default_eol.as_bytes());
            }
            inject::write_session(session, line.eol, out);
        }
        Ok(true)
    }

    /// Copies the body up to `upto` to the output.
    fn flush(&mut self, body: &str, upto: usize, out: &mut Vec<u8>) {
        if upto > self.copied {
            out.extend_from_slice(&body.as_bytes()[self.copied..upto]);
            self.copied = upto;
        }
    }

    /// Writes `uri`, which sits at byte `at` of the body, signed where possible.
    fn write_uri(&mut self, body: &str, at: usize, uri: &str, out: &mut Vec<u8>) {
        let Some(signing) = self.signing.as_mut() else {
            return;
        };
        let end = at + uri.len();
        // What is left to copy before the URI, and the URI.
        let pending = body.get(self.copied..end).filter(|_| self.copied <= at);
        signing.write(pending.unwrap_or(uri), uri, &self.vars, out);
        self.copied = end;
    }

    fn line(
        &mut self,
        line: &Line<'a>,
        body: &'a str,
        out: &mut Vec<u8>,
    ) -> Result<(), RewriteError> {
        let rest = line.content.trim_ascii_start();
        if rest.is_empty() {
            return Ok(());
        }
        let lead = line.content.len() - rest.len();
        match rest.strip_prefix('#') {
            Some(tag) => self.tag(line, line.start + lead + 1, tag, body, out),
            None => {
                self.uri_line(line, line.start + lead, rest.trim_ascii_end(), body, out);
                Ok(())
            }
        }
    }

    fn uri_line(
        &mut self,
        line: &Line<'a>,
        at: usize,
        uri: &'a str,
        body: &'a str,
        out: &mut Vec<u8>,
    ) {
        if self.media {
            self.inject_hint(line, None, body, out);
            self.record_segment(
                HlsSegmentKind::Full,
                None,
                uri,
                self.duration,
                self.byterange,
            );
        }
        self.write_uri(body, at, uri, out);
        if self.media {
            self.msn = self.msn.saturating_add(1);
            self.part = 0;
            self.seen_segment = true;
            self.duration = None;
            self.byterange = None;
            self.discontinuity = false;
        }
    }

    /// Handles a line starting with `#`; `tag` follows the `#`, at byte `at` of the body.
    fn tag(
        &mut self,
        line: &Line<'a>,
        at: usize,
        tag: &'a str,
        body: &'a str,
        out: &mut Vec<u8>,
    ) -> Result<(), RewriteError> {
        let Some((kind, value)) = classify(tag) else {
            return Ok(());
        };
        let Some(value) = value else {
            if kind == Tag::Discontinuity {
                self.discontinuity = true;
            }
            return Ok(());
        };
        let name = &tag[..tag.len() - value.len() - 1];
        let value_at = at + name.len() + 1;
        match kind {
            // Duration and byte range are only reported by `segments`.
            Tag::Inf if self.record.is_some() => {
                let duration = value
                    .bytes()
                    .position(|b| b == b',')
                    .map_or(value, |i| &value[..i]);
                self.duration = Some(duration.trim_ascii());
            }
            Tag::ByteRange if self.record.is_some() => self.byterange = Some(value.trim_ascii()),
            Tag::MediaSequence if !self.seen_segment => match value.trim_ascii().parse() {
                Ok(msn) => self.msn = msn,
                Err(_) => self.identity_known = false,
            },
            Tag::Skip => {
                match attrs::find(value, "SKIPPED-SEGMENTS").and_then(|n| n.parse::<u64>().ok()) {
                    Some(skipped) => self.msn = self.msn.saturating_add(skipped),
                    None => self.identity_known = false,
                }
                self.seen_segment = true;
            }
            Tag::Define => self.vars.define(value, self.manifest_url),
            Tag::Part => {
                let part = self.part;
                if self.media {
                    self.inject_hint(line, Some(part), body, out);
                }
                if self.record.is_some() {
                    let uri = attrs::find(value, "URI").unwrap_or_default();
                    let duration = attrs::find(value, "DURATION");
                    let byterange = attrs::find(value, "BYTERANGE");
                    self.record_segment(HlsSegmentKind::Part, Some(part), uri, duration, byterange);
                }
                self.sign_attributes(line, name, value_at, value, body, out)?;
                self.part = part.saturating_add(1);
                self.seen_segment = true;
            }
            Tag::PreloadHint => {
                if attrs::find(value, "TYPE") == Some("PART") {
                    let part = self.part;
                    if self.media {
                        self.inject_hint(line, Some(part), body, out);
                    }
                    if self.record.is_some() {
                        let uri = attrs::find(value, "URI").unwrap_or_default();
                        let kind = HlsSegmentKind::PreloadHint;
                        self.record_segment(kind, Some(part), uri, None, None);
                    }
                }
                self.sign_attributes(line, name, value_at, value, body, out)?;
            }
            Tag::Map
            | Tag::Media
            | Tag::IFrameStreamInf
            | Tag::ImageStreamInf
            | Tag::RenditionReport
            | Tag::SessionData => {
                self.sign_attributes(line, name, value_at, value, body, out)?;
            }
            Tag::Key | Tag::SessionKey if attrs::find(value, "METHOD") != Some("NONE") => {
                self.sign_attributes(line, name, value_at, value, body, out)?;
            }
            Tag::Inf
            | Tag::ByteRange
            | Tag::MediaSequence
            | Tag::Key
            | Tag::SessionKey
            | Tag::Discontinuity => {}
        }
        Ok(())
    }

    /// Signs every `URI` attribute of the attribute list `list`, at byte `at` of the body.
    fn sign_attributes(
        &mut self,
        line: &Line<'a>,
        name: &str,
        at: usize,
        list: &'a str,
        body: &'a str,
        out: &mut Vec<u8>,
    ) -> Result<(), RewriteError> {
        for attr in attrs::attributes(list) {
            let attr = attr.map_err(|e| RewriteError::MalformedHls {
                line: line.number,
                reason: format!(
                    "{name}: quoted string opened at column {} is never closed",
                    at - line.start + e.offset + 1
                ),
            })?;
            if attr.name != "URI" {
                continue;
            }
            let uri = attr.value.trim_ascii();
            if uri.is_empty() {
                continue;
            }
            let lead = attr.value.len() - attr.value.trim_ascii_start().len();
            self.write_uri(body, at + attr.value_start + lead, uri, out);
        }
        Ok(())
    }

    /// Writes the hint line for `(msn, part)` before `line`, if there is a hint for it.
    #[inline]
    fn inject_hint(&mut self, line: &Line<'a>, part: Option<u32>, body: &str, out: &mut Vec<u8>) {
        if self.identity_known && self.hints.may_have(self.msn) {
            self.inject_hint_slow(line, part, body, out);
        }
    }

    fn inject_hint_slow(
        &mut self,
        line: &Line<'a>,
        part: Option<u32>,
        body: &str,
        out: &mut Vec<u8>,
    ) {
        let Some(hint) = self.hints.get(SegmentId::Sequence {
            msn: self.msn,
            part,
        }) else {
            return;
        };
        self.flush(body, line.start, out);
        let eol = if line.eol.is_empty() {
            self.default_eol
        } else {
            line.eol
        };
        inject::write_hint(hint, self.msn, part, eol, out);
    }

    #[inline]
    fn record_segment(
        &mut self,
        kind: HlsSegmentKind,
        part: Option<u32>,
        uri: &str,
        duration: Option<&str>,
        byterange: Option<&str>,
    ) {
        if self.record.is_some() {
            self.record_segment_slow(kind, part, uri, duration, byterange);
        }
    }

    fn record_segment_slow(
        &mut self,
        kind: HlsSegmentKind,
        part: Option<u32>,
        uri: &str,
        duration: Option<&str>,
        byterange: Option<&str>,
    ) {
        if let Some(found) = self.record.as_deref_mut() {
            found.push(HlsSegmentInfo {
                msn: self.msn,
                part,
                kind,
                duration: duration.map(str::to_owned),
                byterange: byterange.map(str::to_owned),
                uri: uri.trim_ascii().to_owned(),
                discontinuity: self.discontinuity,
            });
        }
    }
}
