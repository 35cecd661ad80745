//! Byte-level helpers for XML tags: name checks, attribute scanning, references, escaping.
//!
//! quick-xml hands out whole tags without checking their attributes; these helpers check
//! them (well enough to refuse what a conforming parser refuses in a start tag) and report
//! every attribute value as a byte range into the input, so that a rewrite can replace a
//! value without touching the rest of the tag.

use std::borrow::Cow;

/// Whether `b` may appear in an XML name (ASCII subset; every non-ASCII byte is accepted).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':') || b >= 0x80
}

/// Whether `b` may start an XML name (ASCII subset; every non-ASCII byte is accepted).
fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// XML white space.
pub(super) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Checks a qualified name: `local` or `prefix:local`, each part a valid name.
pub(super) fn check_qname(name: &[u8]) -> Result<(), &'static str> {
    let mut part_start = true;
    let mut colons = 0;
    for &b in name {
        if b == b':' {
            colons += 1;
            if part_start || colons > 1 {
                return Err("empty name part or more than one ':' in a name");
            }
            part_start = true;
        } else if part_start {
            if !is_name_start(b) {
                return Err("invalid character in a name");
            }
            part_start = false;
        } else if !is_name_byte(b) {
            return Err("invalid character in a name");
        }
    }
    if part_start {
        return Err("empty name or name part");
    }
    Ok(())
}

/// Splits `prefix:local`; the prefix is empty when there is none.
pub(super) fn split_qname(name: &str) -> (&str, &str) {
    match name.bytes().position(|b| b == b':') {
        Some(colon) => (&name[..colon], &name[colon + 1..]),
        None => ("", name),
    }
}

/// One attribute of a tag, as byte offsets into the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AttrSpan {
    /// Start of the name.
    pub(super) name_start: usize,
    /// End of the name.
    pub(super) name_end: usize,
    /// Start of the value (after the opening quote).
    pub(super) value_start: usize,
    /// End of the value (the closing quote).
    pub(super) value_end: usize,
}

/// Iterates over the attributes in `input[start..end]`, the part of a start tag between
/// its name and its closing `>` or `/>`.
pub(super) struct Attrs<'a> {
    input: &'a [u8],
    pos: usize,
    end: usize,
    failed: bool,
}

impl<'a> Attrs<'a> {
    pub(super) fn new(input: &'a [u8], start: usize, end: usize) -> Self {
        Self {
            input,
            pos: start,
            end,
            failed: false,
        }
    }

    fn skip_ws(&mut self) -> bool {
        let before = self.pos;
        while self.pos < self.end && is_ws(self.input[self.pos]) {
            self.pos += 1;
        }
        self.pos > before
    }

    fn scan(&mut self) -> Result<Option<AttrSpan>, (usize, &'static str)> {
        let had_ws = self.skip_ws();
        if self.pos >= self.end {
            return Ok(None);
        }
        if !had_ws {
            return Err((self.pos, "attributes must be separated by white space"));
        }
        let name_start = self.pos;
        while self.pos < self.end && !is_ws(self.input[self.pos]) && self.input[self.pos] != b'=' {
            self.pos += 1;
        }
        let name_end = self.pos;
        check_qname(&self.input[name_start..name_end]).map_err(|reason| (name_start, reason))?;
        self.skip_ws();
        if self.pos >= self.end || self.input[self.pos] != b'=' {
            return Err((self.pos, "attribute without '=' and a value"));
        }
        self.pos += 1;
        self.skip_ws();
        let quote = match self.input.get(self.pos) {
            Some(&q @ (b'"' | b'\'')) if self.pos < self.end => q,
            _ => return Err((self.pos, "attribute value must be quoted")),
        };
        let value_start = self.pos + 1;
        // Values are short: one plain pass finds the closing quote and notes markup.
        let mut markup = false;
        let mut value_end = None;
        for (i, &b) in self.input[value_start..self.end].iter().enumerate() {
            if b == quote {
                value_end = Some(value_start + i);
                break;
            }
            markup |= b == b'<' || b == b'&';
        }
        let Some(value_end) = value_end else {
            return Err((name_start, "unterminated attribute value"));
        };
        let value = &self.input[value_start..value_end];
        if markup {
            if value.contains(&b'<') {
                return Err((value_start, "'<' in an attribute value"));
            }
            if !references_are_valid(value) {
                return Err((value_start, "invalid reference in an attribute value"));
            }
        }
        self.pos = value_end + 1;
        Ok(Some(AttrSpan {
            name_start,
            name_end,
            value_start,
            value_end,
        }))
    }
}

impl Iterator for Attrs<'_> {
    type Item = Result<AttrSpan, (usize, &'static str)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.scan() {
            Ok(Some(attr)) => Some(Ok(attr)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Decodes the body of a reference (`amp`, `#38`, `#x26`) to its character.
pub(super) fn decode_reference(body: &str) -> Option<char> {
    match body {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let digits = body.strip_prefix('#')?;
            let code = match digits.strip_prefix('x') {
                Some(hex) if !hex.is_empty() && hex.len() <= 6 => {
                    u32::from_str_radix(hex, 16).ok()?
                }
                None if !digits.is_empty() && digits.len() <= 7 => {
                    if !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    digits.parse().ok()?
                }
                _ => return None,
            };
            let c = char::from_u32(code)?;
            let allowed = matches!(c, '\t' | '\n' | '\r')
                || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'));
            allowed.then_some(c)
        }
    }
}

fn references_are_valid(raw: &[u8]) -> bool {
    std::str::from_utf8(raw).is_ok_and(|s| DecodedChars::new(s).all(|c| c.is_some()))
}

/// Iterates over the characters of escaped XML text, yielding each decoded character with
/// the byte range it occupies in the raw text, or `None` (and stopping) at a bad reference.
pub(super) struct DecodedChars<'a> {
    raw: &'a str,
    pos: usize,
    failed: bool,
}

impl<'a> DecodedChars<'a> {
    pub(super) fn new(raw: &'a str) -> Self {
        Self {
            raw,
            pos: 0,
            failed: false,
        }
    }
}

/// A decoded character and where it sits in the raw text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decoded {
    pub(super) c: char,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Iterator for DecodedChars<'_> {
    type Item = Option<Decoded>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = &self.raw[self.pos..];
        let c = rest.chars().next()?;
        let start = self.pos;
        if c != '&' {
            self.pos += c.len_utf8();
            return Some(Some(Decoded {
                c,
                start,
                end: self.pos,
            }));
        }
        let decoded = rest
            .find(';')
            .filter(|&semi| semi <= 10)
            .and_then(|semi| Some((decode_reference(&rest[1..semi])?, semi)));
        match decoded {
            Some((c, semi)) => {
                self.pos += semi + 1;
                Some(Some(Decoded {
                    c,
                    start,
                    end: self.pos,
                }))
            }
            None => {
                self.failed = true;
                Some(None)
            }
        }
    }
}

/// Unescapes XML text; `None` when it holds an invalid reference.
pub(super) fn unescape(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains('&') {
        return Some(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    for d in DecodedChars::new(raw) {
        out.push(d?.c);
    }
    Some(Cow::Owned(out))
}

/// Appends `value` escaped for an XML attribute value or text.
pub(super) fn push_escaped(out: &mut Vec<u8>, value: &str) {
    let mut last = 0;
    for (i, b) in value.bytes().enumerate() {
        let entity: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\'' => b"&apos;",
            _ => continue,
        };
        out.extend_from_slice(&value.as_bytes()[last..i]);
        out.extend_from_slice(entity);
        last = i + 1;
    }
    out.extend_from_slice(&value.as_bytes()[last..]);
}

/// Byte range of `input[start..end]` without leading and trailing XML white space.
pub(super) fn trim_span(input: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && is_ws(input[start]) {
        start += 1;
    }
    while end > start && is_ws(input[end - 1]) {
        end -= 1;
    }
    (start, end)
}

/// 1-based line number of byte `offset`.
pub(super) fn line_of(input: &[u8], offset: usize) -> usize {
    1 + memchr::memchr_iter(b'\n', &input[..offset.min(input.len())]).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(tag: &str) -> Result<Vec<(String, String)>, (usize, &'static str)> {
        Attrs::new(tag.as_bytes(), 0, tag.len())
            .map(|a| {
                a.map(|a| {
                    (
                        tag[a.name_start..a.name_end].to_owned(),
                        tag[a.value_start..a.value_end].to_owned(),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn attributes_are_scanned_with_both_quote_styles() {
        let got = attrs(" a=\"1\" b = '2&amp;3'\n\tc:d=\"\" ").unwrap();
        assert_eq!(
            got,
            [("a", "1"), ("b", "2&amp;3"), ("c:d", "")].map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn malformed_attributes_are_refused() {
        for bad in [
            " a",
            " a=1",
            " a=\"1",
            " a=\"1\"b=\"2\"",
            " a=\"<\"",
            " a=\"&x;\"",
            " 1a=\"\"",
            " a:b:c=\"\"",
            " a=\"&#0;\"",
            " =\"x\"",
        ] {
            assert!(attrs(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn references_decode() {
        assert_eq!(unescape("a&amp;b&#38;c&#x26;d&lt;").unwrap(), "a&b&c&d<");
        assert_eq!(unescape("plain").unwrap(), "plain");
        assert!(unescape("a&b").is_none());
        assert!(unescape("&#xD800;").is_none());
        assert!(unescape("&#1;").is_none());
    }

    #[test]
    fn escaping_covers_markup_characters() {
        let mut out = Vec::new();
        push_escaped(&mut out, "a&b<c>\"'");
        assert_eq!(out, b"a&amp;b&lt;c&gt;&quot;&apos;");
    }

    #[test]
    fn qnames() {
        assert!(check_qname(b"mpd:BaseURL").is_ok());
        assert!(check_qname(b"BaseURL").is_ok());
        assert!(check_qname("é:ü".as_bytes()).is_ok());
        for bad in ["", ":a", "a:", "a:b:c", "<a", "1a", "a\"b", "a::b"] {
            assert!(check_qname(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
