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
use crate::resolve::Base;
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
    let base = Base::new(manifest_url)
        .ok_or_else(|| RewriteError::BadBaseUrl(manifest_url.to_string()))?;
    let param = plan.signer.param().to_owned();
    let hints = plan.hints.hints(&Rendition::Playlist);
    let mut rewriter = Rewriter::new(
        plan.limits.max_line_bytes,
        plan.session,
        HintIndex::new(hints),
    );
    rewriter.signing = Some(Signing {
        base: &base,
        signer: &mut *plan.signer,
        param,
        scratch: String::new(),
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
    base: &'p Base,
    signer: &'p mut dyn UriSigner,
    param: String,
    /// Reused buffer for variable substitution.
    scratch: String,
}

impl Signing<'_> {
    /// Writes `uri` (trimmed) to `out`, signed when the signer has a token for it.
    fn write(&mut self, uri: &str, vars: &Variables<'_>, out: &mut Vec<u8>) {
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
        let base = self.base;
        let token = match base.resolve(uri) {
            Some(resolved) => self.signer.token_for(&resolved.target()),
            None => None,
        };
        match token {
            Some(token) => query::write_with_token(uri, &self.param, token, out),
            None => out.extend_from_slice(raw.as_bytes()),
        }
    }

    /// `text` still has a variable reference at byte `at`: sign what is literal. `raw` is
    /// written when there is no token.
    fn write_unresolved(&mut self, text: &str, at: usize, raw: &str, out: &mut Vec<u8>) {
        let base = self.base;
        let prefix = &text[..at];
        let token = if prefix.contains(['?', '#']) {
            // Only the query or fragment is variable: the path is known exactly.
            match base.resolve(prefix) {
                Some(resolved) => self.signer.token_for(&resolved.target()),
                None => None,
            }
        } else if prefix.is_empty() {
            // The reference could expand to an absolute URL on another host.
            None
        } else {
            let dir = &prefix[..prefix.rfind('/').map_or(0, |i| i + 1)];
            if dir.is_empty() {
                let path = base.url().path();
                let target = SignTarget {
                    scheme: base.url().scheme(),
                    authority: base.authority(),
                    path: &path[..path.rfind('/').map_or(0, |i| i + 1)],
                };
                self.signer.token_for(&target)
            } else {
                match base.resolve(dir) {
                    Some(resolved) => self.signer.token_for(&resolved.target()),
                    None => None,
                }
            }
        };
        match token {
            Some(token) => query::write_with_token(text, &self.param, token, out),
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
        let mut header_seen = false;
        let mut start = 0;
        let mut number = 0;
        while start < bytes.len() {
            number += 1;
            let (end, next) = match memchr::memchr(b'\n', &bytes[start..]) {
                Some(i) => (start + i, start + i + 1),
                None => (bytes.len(), bytes.len()),
            };
            let content_end = if end > start && bytes[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            let line = Line {
                start,
                content: &body[start..content_end],
                eol: &body[content_end..next],
                number,
            };
            if line.content.len() > self.max_line {
                return Err(RewriteError::LineTooLong {
                    line: number,
                    length: line.content.len(),
                    limit: self.max_line,
                });
            }
            if header_seen {
                self.line(&line, body, out)?;
            } else {
                header_seen = self.header(&line, body, next, out)?;
            }
            start = next;
        }
        if !header_seen {
            return Err(RewriteError::NotAManifest);
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
        if self.signing.is_none() {
            return;
        }
        self.flush(body, at, out);
        if let Some(signing) = self.signing.as_mut() {
            signing.write(uri, &self.vars, out);
        }
        self.copied = at + uri.len();
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
        let (name, value) = split_tag(tag);
        let Some(value) = value else {
            if name == "EXT-X-DISCONTINUITY" {
                self.discontinuity = true;
            }
            return Ok(());
        };
        let value_at = at + name.len() + 1;
        match name {
            "EXTINF" => {
                let duration = value
                    .bytes()
                    .position(|b| b == b',')
                    .map_or(value, |i| &value[..i]);
                self.duration = Some(duration.trim_ascii());
            }
            "EXT-X-BYTERANGE" => self.byterange = Some(value.trim_ascii()),
            "EXT-X-MEDIA-SEQUENCE" if !self.seen_segment => match value.trim_ascii().parse() {
                Ok(msn) => self.msn = msn,
                Err(_) => self.identity_known = false,
            },
            "EXT-X-SKIP" => {
                match attrs::find(value, "SKIPPED-SEGMENTS").and_then(|n| n.parse::<u64>().ok()) {
                    Some(skipped) => self.msn = self.msn.saturating_add(skipped),
                    None => self.identity_known = false,
                }
                self.seen_segment = true;
            }
            "EXT-X-DEFINE" => self.vars.define(value, self.manifest_url),
            "EXT-X-PART" => {
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
            "EXT-X-PRELOAD-HINT" => {
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
            "EXT-X-MAP"
            | "EXT-X-MEDIA"
            | "EXT-X-I-FRAME-STREAM-INF"
            | "EXT-X-IMAGE-STREAM-INF"
            | "EXT-X-RENDITION-REPORT"
            | "EXT-X-SESSION-DATA" => {
                self.sign_attributes(line, name, value_at, value, body, out)?;
            }
            "EXT-X-KEY" | "EXT-X-SESSION-KEY" if attrs::find(value, "METHOD") != Some("NONE") => {
                self.sign_attributes(line, name, value_at, value, body, out)?;
            }
            _ => {}
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
    fn inject_hint(&mut self, line: &Line<'a>, part: Option<u32>, body: &str, out: &mut Vec<u8>) {
        if !self.identity_known || self.hints.is_empty() {
            return;
        }
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

    fn record_segment(
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
