//! A small parser for HLS attribute lists (RFC 8216 §4.2).
//!
//! `NAME=value,NAME="quoted, value",…`. Quoted strings may contain commas; nothing is
//! unescaped (HLS has no escapes). Each attribute reports where its value sits in the input
//! so that a single value can be replaced while every other byte is copied as written.
//! The parser is lenient the way players are: spaces around names and values are tolerated,
//! an item without `=` is skipped, and an unquoted value runs to the next comma.

/// One `NAME=value` item of an attribute list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attr<'a> {
    /// The attribute name, trimmed of surrounding spaces.
    pub(crate) name: &'a str,
    /// The value without its quotes (and, when unquoted, without surrounding spaces).
    pub(crate) value: &'a str,
    /// Byte offset of `value` within the attribute list.
    pub(crate) value_start: usize,
    /// Whether the value was a quoted string.
    pub(crate) quoted: bool,
}

/// A quoted string that never closes: where its opening quote is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unterminated {
    /// Byte offset of the opening `"` within the attribute list.
    pub(crate) offset: usize,
}

/// Iterates over the attributes of `list` (the text after `TAG:`).
pub(crate) fn attributes(list: &str) -> Attributes<'_> {
    Attributes { list, pos: 0 }
}

/// Iterator returned by [`attributes`]. After an [`Unterminated`] error it ends.
#[derive(Debug, Clone)]
pub(crate) struct Attributes<'a> {
    list: &'a str,
    pos: usize,
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Result<Attr<'a>, Unterminated>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.list.as_bytes();
        loop {
            if self.pos >= bytes.len() {
                return None;
            }
            let item_start = self.pos;
            // The name runs to `=`; a comma first means an item without a value.
            let rest = &bytes[item_start..];
            let Some(eq) = memchr::memchr2(b'=', b',', rest) else {
                self.pos = bytes.len();
                return None;
            };
            if rest[eq] == b',' {
                self.pos = item_start + eq + 1;
                continue;
            }
            let name = self.list[item_start..item_start + eq].trim_matches([' ', '\t']);
            let mut vpos = item_start + eq + 1;
            while vpos < bytes.len() && is_space(bytes[vpos]) {
                vpos += 1;
            }
            if bytes.get(vpos) == Some(&b'"') {
                let open = vpos;
                let Some(close) = memchr::memchr(b'"', &bytes[open + 1..]) else {
                    self.pos = bytes.len();
                    return Some(Err(Unterminated { offset: open }));
                };
                let close = open + 1 + close;
                // Skip anything up to the next comma (players ignore it too).
                self.pos = memchr::memchr(b',', &bytes[close + 1..])
                    .map_or(bytes.len(), |c| close + 1 + c + 1);
                return Some(Ok(Attr {
                    name,
                    value: &self.list[open + 1..close],
                    value_start: open + 1,
                    quoted: true,
                }));
            }
            let end = memchr::memchr(b',', &bytes[vpos..]).map_or(bytes.len(), |c| vpos + c);
            self.pos = if end < bytes.len() { end + 1 } else { end };
            let raw = &self.list[vpos..end];
            let value = raw.trim_end_matches([' ', '\t']);
            return Some(Ok(Attr {
                name,
                value,
                value_start: vpos,
                quoted: false,
            }));
        }
    }
}

/// The value of the first attribute called `name`, ignoring a malformed tail.
pub(crate) fn find<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    attributes(list)
        .map_while(Result::ok)
        .find(|a| a.name == name)
        .map(|a| a.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(list: &str) -> Vec<(&str, &str, bool)> {
        attributes(list)
            .map(|a| {
                let a = a.unwrap();
                assert_eq!(&list[a.value_start..a.value_start + a.value.len()], a.value);
                (a.name, a.value, a.quoted)
            })
            .collect()
    }

    #[test]
    fn quoted_strings_keep_their_commas() {
        assert_eq!(
            collect(r#"BANDWIDTH=1280000,CODECS="avc1.4d401f,mp4a.40.2",URI="a,b.m3u8""#),
            vec![
                ("BANDWIDTH", "1280000", false),
                ("CODECS", "avc1.4d401f,mp4a.40.2", true),
                ("URI", "a,b.m3u8", true),
            ]
        );
    }

    #[test]
    fn empty_and_odd_items_are_tolerated() {
        assert_eq!(collect(""), vec![]);
        assert_eq!(
            collect(r#"A=1,,JUNK, B = "x" ,C=,D="""#),
            vec![
                ("A", "1", false),
                ("B", "x", true),
                ("C", "", false),
                ("D", "", true)
            ]
        );
    }

    #[test]
    fn unterminated_quote_is_reported() {
        let mut it = attributes(r#"METHOD=AES-128,URI="key.bin"#);
        assert_eq!(
            it.next(),
            Some(Ok(Attr {
                name: "METHOD",
                value: "AES-128",
                value_start: 7,
                quoted: false
            }))
        );
        assert_eq!(it.next(), Some(Err(Unterminated { offset: 19 })));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn find_returns_the_first_match() {
        assert_eq!(find(r#"URI="a",URI="b""#, "URI"), Some("a"));
        assert_eq!(find("TYPE=PART", "URI"), None);
    }
}
