//! Output assembly and token insertion into escaped URL values.
//!
//! The output is the input with a few edits: [`Out`] copies the input up to each edit, and
//! [`sign_value`] works out where a token goes in one escaped URL value.

use crate::resolve::Base;
use crate::{SignTarget, UriSigner};

use super::scan::{Decoded, DecodedChars, unescape};

/// The input, copied to the output up to a cursor, with edits spliced in between.
pub(super) struct Out<'a> {
    input: &'a [u8],
    pub(super) buf: &'a mut Vec<u8>,
    cursor: usize,
}

impl<'a> Out<'a> {
    pub(super) fn new(input: &'a [u8], buf: &'a mut Vec<u8>) -> Self {
        Self {
            input,
            buf,
            cursor: 0,
        }
    }

    /// Copies the input up to `pos`. Edits come in input order, so `pos` never goes back.
    pub(super) fn copy_to(&mut self, pos: usize) {
        debug_assert!(
            pos >= self.cursor,
            "edit at {pos} before cursor {}",
            self.cursor
        );
        let pos = pos.min(self.input.len());
        if pos > self.cursor {
            self.buf.extend_from_slice(&self.input[self.cursor..pos]);
            self.cursor = pos;
        }
    }

    /// Drops the input up to `pos` (it has been replaced).
    pub(super) fn skip_to(&mut self, pos: usize) {
        self.cursor = self.cursor.max(pos.min(self.input.len()));
    }

    /// Where the next copy starts.
    pub(super) fn cursor(&self) -> usize {
        self.cursor
    }
}

/// How a URL value is interpreted by players.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UrlKind {
    /// A plain URL reference.
    Plain,
    /// A `SegmentTemplate` string, where `$` starts an identifier and `$$` is a literal `$`.
    Template,
}

/// Appends a token or parameter name for a URL query inside XML: URL-safe bytes as they
/// are, `$` doubled in templates, anything else percent-encoded (so nothing needs XML
/// escaping and nothing can end the value or start a template identifier).
pub(super) fn push_query_text(buf: &mut Vec<u8>, text: &str, kind: UrlKind) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    if text.bytes().all(url_safe) {
        buf.extend_from_slice(text.as_bytes());
        return;
    }
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => buf.push(b),
            b'$' if kind == UrlKind::Template => buf.extend_from_slice(b"$$"),
            b'$' => buf.push(b),
            _ => buf.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
        }
    }
}

/// Whether the escaped text `raw[piece]` is a query parameter named `param`.
fn piece_is_param(chars: &[Decoded], param: &str) -> bool {
    let mut name = chars.iter().map(|d| d.c).take_while(|&c| c != '=');
    let mut expected = param.chars();
    loop {
        match (name.next(), expected.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// The caller's signer, its parameter name, and scratch space reused between values.
pub(super) struct Signing<'p> {
    signer: &'p mut dyn UriSigner,
    param: String,
    scratch: Vec<Decoded>,
}

impl<'p> Signing<'p> {
    pub(super) fn new(signer: &'p mut dyn UriSigner) -> Self {
        let param = signer.param().to_owned();
        Self {
            signer,
            param,
            scratch: Vec::new(),
        }
    }

    /// Signs one escaped URL value `raw`, found at `offset` in the input, resolving it
    /// against `base`. Writes the edit through `out` and returns whether the value was
    /// signed. Values that are empty, not `http(s)`, not ours (the signer says `None`) or
    /// that cannot be edited unambiguously are left as they are.
    pub(super) fn sign(
        &mut self,
        out: &mut Out<'_>,
        raw: &str,
        offset: usize,
        base: &Base,
        kind: UrlKind,
    ) -> bool {
        let Self {
            signer,
            param,
            scratch,
        } = self;
        if raw.is_empty() || offset < out.cursor() {
            return false;
        }
        let Some(value) = unescape(raw) else {
            return false;
        };
        let Some(resolved) = base.resolve(&value) else {
            return false;
        };
        let target: SignTarget<'_> = resolved.target();
        let Some(token) = signer.token_for(&target) else {
            return false;
        };
        insert_token(out, raw, offset, param, token, kind, scratch)
    }
}

/// Writes the edit that puts `param=token` into the escaped URL value `raw` at `offset`.
fn insert_token(
    out: &mut Out<'_>,
    raw: &str,
    offset: usize,
    param: &str,
    token: &str,
    kind: UrlKind,
    scratch: &mut Vec<Decoded>,
) -> bool {
    scratch.clear();
    for d in DecodedChars::new(raw) {
        let Some(d) = d else { return false };
        scratch.push(d);
    }
    let chars = &scratch[..];
    let hash = chars.iter().position(|d| d.c == '#').unwrap_or(chars.len());
    let question = chars[..hash].iter().position(|d| d.c == '?');
    let insert_at = chars.get(hash).map_or(raw.len(), |d| d.start);

    let Some(question) = question else {
        out.copy_to(offset + insert_at);
        out.buf.push(b'?');
        push_query_text(out.buf, param, kind);
        out.buf.push(b'=');
        push_query_text(out.buf, token, kind);
        return true;
    };

    // Replace the value of every occurrence of our parameter; add it when there is none.
    let query = &chars[question + 1..hash];
    let mut replaced = false;
    for piece in query.split(|d| d.c == '&') {
        if piece.is_empty() || !piece_is_param(piece, param) {
            continue;
        }
        let piece_end = piece[piece.len() - 1].end;
        match piece.iter().position(|d| d.c == '=') {
            Some(eq) => {
                out.copy_to(offset + piece[eq].end);
                push_query_text(out.buf, token, kind);
                out.skip_to(offset + piece_end);
            }
            None => {
                out.copy_to(offset + piece_end);
                out.buf.push(b'=');
                push_query_text(out.buf, token, kind);
            }
        }
        replaced = true;
    }
    if replaced {
        return true;
    }
    out.copy_to(offset + insert_at);
    let needs_separator = query.last().is_some_and(|d| d.c != '&');
    if needs_separator {
        out.buf.extend_from_slice(b"&amp;");
    }
    push_query_text(out.buf, param, kind);
    out.buf.push(b'=');
    push_query_text(out.buf, token, kind);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    struct Fixed;
    impl UriSigner for Fixed {
        fn param(&self) -> &str {
            "rt"
        }
        fn token_for(&mut self, target: &SignTarget<'_>) -> Option<&str> {
            (target.authority == "edge.example").then_some("TOK")
        }
    }

    fn sign(raw: &str, kind: UrlKind) -> String {
        let base = Base::new(&Url::parse("https://edge.example/live/a.mpd").unwrap()).unwrap();
        let mut buf = Vec::new();
        let mut out = Out::new(raw.as_bytes(), &mut buf);
        let mut signer = Fixed;
        Signing::new(&mut signer).sign(&mut out, raw, 0, &base, kind);
        out.copy_to(raw.len());
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn token_goes_before_the_fragment_with_the_right_separator() {
        let p = UrlKind::Plain;
        assert_eq!(sign("a.mp4", p), "a.mp4?rt=TOK");
        assert_eq!(sign("a.mp4#t=1", p), "a.mp4?rt=TOK#t=1");
        assert_eq!(sign("a.mp4?x=1", p), "a.mp4?x=1&amp;rt=TOK");
        assert_eq!(sign("a.mp4?x=1&amp;", p), "a.mp4?x=1&amp;rt=TOK");
        assert_eq!(sign("a.mp4?", p), "a.mp4?rt=TOK");
        assert_eq!(sign("a.mp4?x=1#f?g", p), "a.mp4?x=1&amp;rt=TOK#f?g");
        assert_eq!(sign("a.mp4&#35;frag", p), "a.mp4?rt=TOK&#35;frag");
    }

    #[test]
    fn existing_parameter_is_replaced_not_doubled() {
        let p = UrlKind::Plain;
        assert_eq!(sign("a.mp4?rt=old", p), "a.mp4?rt=TOK");
        assert_eq!(
            sign("a.mp4?x=1&amp;rt=old&amp;y=2", p),
            "a.mp4?x=1&amp;rt=TOK&amp;y=2"
        );
        assert_eq!(sign("a.mp4?rt&#38;y", p), "a.mp4?rt=TOK&#38;y");
        assert_eq!(sign("a.mp4?rtx=1", p), "a.mp4?rtx=1&amp;rt=TOK");
    }

    #[test]
    fn foreign_and_non_http_values_are_untouched() {
        for raw in ["https://cdn.other/a.mp4", "data:abc", "skd://x", ""] {
            assert_eq!(sign(raw, UrlKind::Plain), raw);
        }
    }

    #[test]
    fn dollar_in_a_token_is_doubled_in_templates_only() {
        let mut buf = Vec::new();
        push_query_text(&mut buf, "a$b&c d", UrlKind::Template);
        assert_eq!(buf, b"a$$b%26c%20d");
        buf.clear();
        push_query_text(&mut buf, "a$b", UrlKind::Plain);
        assert_eq!(buf, b"a$b");
    }
}
