//! Resolves URI references in a manifest against its base URL (RFC 3986), cheaply.
//!
//! Most references in a live manifest are plain relative paths (`seg-123.m4s`); those are
//! resolved by string concatenation. Anything with dot segments, a network-path reference
//! or a scheme goes through [`url::Url`].

use std::borrow::Cow;

use url::{Position, Url};

use crate::plan::SignTarget;

/// A base URL prepared for resolving many references.
#[derive(Debug, Clone)]
pub struct Base {
    url: Url,
    authority: String,
    /// The base path up to and including its last `/`.
    dir_end: usize,
}

/// A reference resolved to an `http(s)` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// `http` or `https`.
    pub scheme: Cow<'a, str>,
    /// Host (lower-cased) and port, when not the default one.
    pub authority: Cow<'a, str>,
    /// Path, beginning with `/`, without query or fragment.
    pub path: Cow<'a, str>,
}

impl Resolved<'_> {
    /// The view handed to a [`crate::UriSigner`].
    pub fn target(&self) -> SignTarget<'_> {
        SignTarget {
            scheme: &self.scheme,
            authority: &self.authority,
            path: &self.path,
        }
    }
}

fn authority_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => String::new(),
    }
}

/// Splits off the query and fragment of a reference.
fn path_part(reference: &str) -> &str {
    let end = reference.find(['?', '#']).unwrap_or(reference.len());
    &reference[..end]
}

/// The scheme of a reference, if it has one (`skd://…`, `data:…`, `https://…`).
fn scheme_of(reference: &str) -> Option<&str> {
    let colon = reference.find(':')?;
    let candidate = &reference[..colon];
    let mut bytes = candidate.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    .then_some(candidate)
}

/// Whether a reference path needs the full RFC 3986 treatment: dot segments, percent
/// escapes (`%2e%2e` is a dot segment to a player), backslashes, spaces and non-ASCII,
/// which `url` normalizes the way players do.
fn needs_full_resolution(path: &str) -> bool {
    !path.is_ascii()
        || path.contains(['%', '\\', ' '])
        || path.split('/').any(|seg| seg == "." || seg == "..")
}

/// How [`BaseRef::resolve_into`] treats each byte of a reference's path: kept as is by
/// RFC 3986 resolution and by `Url::join` alike (`.` and `%` too, except at the start of a
/// segment, where they could begin a dot segment: `..`, `%2e%2e`).
const PLAIN: u8 = 0;
/// A segment separator.
const SLASH: u8 = 1;
/// The end of the path (`?` or `#`).
const END: u8 = 2;
/// Anything else: `:` (a scheme), `\\` (a separator for `Url`), whitespace, controls,
/// non-ASCII and everything `Url` would percent-encode.
const REJECT: u8 = 4;

/// The class of every byte for [`BaseRef::resolve_into`]: unreserved characters,
/// sub-delimiters, `@` and `%` are plain.
const CLASS: [u8; 256] = {
    let mut class = [REJECT; 256];
    let mut b = 0;
    while b < 256 {
        if (b as u8).is_ascii_alphanumeric() {
            class[b] = PLAIN;
        }
        b += 1;
    }
    let plain = b"-._~!$&'()*+,;=@%";
    let mut i = 0;
    while i < plain.len() {
        class[plain[i] as usize] = PLAIN;
        i += 1;
    }
    class[b'/' as usize] = SLASH;
    class[b'?' as usize] = END;
    class[b'#' as usize] = END;
    class
};

/// Whether `b` may begin a dot segment (`.`, `..`, `%2e`, …).
fn may_begin_dot_segment(b: Option<&u8>) -> bool {
    matches!(b, Some(b'.' | b'%'))
}

/// The parts of an `http(s)` base URL that resolving a simple reference needs, borrowed:
/// preparing one allocates nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BaseRef<'u> {
    scheme: &'u str,
    authority: &'u str,
    path: &'u str,
    /// The base path up to and including its last `/`.
    dir_end: usize,
}

/// A reference resolved by [`BaseRef::resolve_into`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Simple<'s> {
    /// Where the reference points.
    pub(crate) target: SignTarget<'s>,
    /// Length of the reference's path: where its query or fragment begins, if it has one.
    pub(crate) path_len: usize,
}

impl<'u> BaseRef<'u> {
    /// Borrows the parts of `url`. Returns `None` unless it is an `http(s)` URL with a host
    /// (as [`Base::new`]).
    pub(crate) fn new(url: &'u Url) -> Option<Self> {
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return None;
        }
        let path = url.path();
        Some(Self {
            scheme: url.scheme(),
            // Serialized host (lower-cased) and port (omitted when it is the default one).
            authority: &url[Position::BeforeHost..Position::AfterPort],
            path,
            dir_end: path.bytes().rposition(|b| b == b'/').map_or(0, |i| i + 1),
        })
    }

    /// The base URL's scheme.
    pub(crate) fn scheme(&self) -> &'u str {
        self.scheme
    }

    /// The base URL's host and port.
    pub(crate) fn authority(&self) -> &'u str {
        self.authority
    }

    /// The base URL's path up to and including its last `/`.
    pub(crate) fn dir(&self) -> &'u str {
        &self.path[..self.dir_end]
    }

    /// Resolves `reference` (already trimmed) without `Url` when that is trivially right:
    /// a non-empty relative path (`seg-1.m4s`, `sub/seg.ts?x=1`) or absolute path
    /// (`/live/a.ts`) made of unreserved characters, sub-delimiters, `@` and `%`, with no
    /// segment beginning with `.` or `%` (so no dot segment, encoded or not), optionally
    /// followed by a query or fragment. The resolved path is written to `scratch` (its
    /// previous content is discarded). Returns `None` for any other reference: use
    /// [`Base::resolve`]. When it returns a target, [`Base::resolve`] and `Url::join` agree
    /// with it.
    pub(crate) fn resolve_into<'s>(
        &self,
        reference: &str,
        scratch: &'s mut String,
    ) -> Option<Simple<'s>>
    where
        'u: 's,
    {
        let bytes = reference.as_bytes();
        // `//` starts a network-path reference; elsewhere it is an empty segment.
        if may_begin_dot_segment(bytes.first()) || bytes.starts_with(b"//") {
            return None;
        }
        let mut path_len = bytes.len();
        let mut i = 0;
        // Eight plain bytes at a time (the common case), then byte by byte.
        while let Some(chunk) = bytes.get(i..i + 8) {
            if chunk
                .iter()
                .fold(PLAIN, |acc, &b| acc | CLASS[usize::from(b)])
                != PLAIN
            {
                break;
            }
            i += 8;
        }
        while let Some(&b) = bytes.get(i) {
            match CLASS[usize::from(b)] {
                PLAIN => {}
                SLASH if !may_begin_dot_segment(bytes.get(i + 1)) => {}
                END => {
                    path_len = i;
                    break;
                }
                _ => return None,
            }
            i += 1;
        }
        if path_len == 0 {
            return None;
        }
        let path = &reference[..path_len];
        scratch.clear();
        if !path.starts_with('/') {
            scratch.push_str(self.dir());
        }
        scratch.push_str(path);
        Some(Simple {
            target: SignTarget {
                scheme: self.scheme,
                authority: self.authority,
                path: scratch.as_str(),
            },
            path_len,
        })
    }
}

impl Base {
    /// Prepares `url` as a base. Returns `None` unless it is an `http(s)` URL with a host.
    pub fn new(url: &Url) -> Option<Self> {
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return None;
        }
        let path = url.path();
        let dir_end = path.rfind('/').map_or(0, |i| i + 1);
        Some(Self {
            authority: authority_of(url),
            url: url.clone(),
            dir_end,
        })
    }

    /// The base URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The base URL's host and port.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// A new base: `reference` resolved against this one (DASH `BaseURL` nesting).
    /// Returns `None` when the result is not an `http(s)` URL.
    pub fn join(&self, reference: &str) -> Option<Self> {
        let joined = self.url.join(reference).ok()?;
        Self::new(&joined)
    }

    /// Resolves `reference` (already trimmed of surrounding whitespace). Returns `None` for
    /// references that are not `http(s)` (`skd:`, `data:`, …) or cannot be resolved.
    pub fn resolve<'a>(&'a self, reference: &'a str) -> Option<Resolved<'a>> {
        if let Some(scheme) = scheme_of(reference) {
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return None;
            }
            return self.resolve_slow(reference);
        }
        if reference.starts_with("//") {
            return self.resolve_slow(reference);
        }
        let path = path_part(reference);
        if needs_full_resolution(path) {
            return self.resolve_slow(reference);
        }
        let resolved_path: Cow<'a, str> = if path.is_empty() {
            Cow::Borrowed(self.url.path())
        } else if path.starts_with('/') {
            Cow::Borrowed(path)
        } else {
            let dir = &self.url.path()[..self.dir_end];
            let mut joined = String::with_capacity(dir.len() + path.len());
            joined.push_str(dir);
            joined.push_str(path);
            Cow::Owned(joined)
        };
        Some(Resolved {
            scheme: Cow::Borrowed(self.url.scheme()),
            authority: Cow::Borrowed(&self.authority),
            path: resolved_path,
        })
    }

    fn resolve_slow<'a>(&'a self, reference: &str) -> Option<Resolved<'a>> {
        let joined = self.url.join(reference).ok()?;
        if !matches!(joined.scheme(), "http" | "https") || joined.host_str().is_none() {
            return None;
        }
        Some(Resolved {
            scheme: Cow::Owned(joined.scheme().to_owned()),
            authority: Cow::Owned(authority_of(&joined)),
            path: Cow::Owned(joined.path().to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Base {
        Base::new(&Url::parse(s).unwrap()).unwrap()
    }

    fn path_of(b: &Base, r: &str) -> Option<(String, String)> {
        b.resolve(r)
            .map(|r| (r.authority.into_owned(), r.path.into_owned()))
    }

    #[test]
    fn fast_path_agrees_with_url_join() {
        let b = base("https://Edge.Example:8443/live/ch1/index.m3u8?rt=abc");
        for r in [
            "seg-1.ts",
            "seg-1.ts?x=1",
            "sub/seg.m4s#frag",
            "/root/seg.ts",
            "",
            "?only=query",
            "../ch2/x.ts",
            "./x.ts",
            "//other.example/x.ts",
            "https://edge.example:8443/a/b.ts",
            "HTTP://other.example/a",
            "seg(1),v6.ts",
            "%2e%2e/x.ts",
            "a\\..\\..\\b.ts",
            "a b.ts",
            "\u{e9}.ts",
            "%41.ts",
        ] {
            let expected = b.url().join(r).unwrap();
            let expected = (authority_of(&expected), expected.path().to_owned());
            assert_eq!(path_of(&b, r), Some(expected), "reference {r:?}");
        }
    }

    #[test]
    fn non_http_schemes_are_not_resolved() {
        let b = base("https://edge.example/live/a.m3u8");
        for r in [
            "skd://key-id",
            "data:text/plain;base64,AAAA",
            "urn:uuid:1234",
            "ftp://x/y",
        ] {
            assert_eq!(b.resolve(r), None, "{r}");
        }
    }

    #[test]
    fn default_port_is_dropped_and_host_lower_cased() {
        let b = base("https://EDGE.example:443/x/a.m3u8");
        assert_eq!(b.authority(), "edge.example");
    }

    #[test]
    fn borrowed_base_has_the_same_parts() {
        for s in [
            "https://EDGE.example:443/x/a.m3u8",
            "http://edge.example:80/a.m3u8",
            "https://edge.example:8443/live/ch1/index.m3u8?rt=abc#f",
            "https://user:pw@Edge.Example:8080/a/b/",
            "http://[::1]:8080/a/b.m3u8",
            "http://[2001:DB8::1]/a",
            "https://127.0.0.1/",
            "https://xn--bcher-kva.example/x.m3u8",
            "https://Bücher.example/x.m3u8",
            "https://edge.example",
        ] {
            let url = Url::parse(s).unwrap();
            let b = Base::new(&url).unwrap();
            let r = BaseRef::new(&url).unwrap();
            assert_eq!(r.authority(), authority_of(&url), "{s}");
            assert_eq!(r.authority(), b.authority(), "{s}");
            assert_eq!(r.scheme(), url.scheme(), "{s}");
            assert_eq!(r.dir(), &url.path()[..b.dir_end], "{s}");
        }
        for s in ["ftp://edge.example/a", "data:text/plain,x", "file:///a/b"] {
            let url = Url::parse(s).unwrap();
            assert!(BaseRef::new(&url).is_none(), "{s}");
            assert!(Base::new(&url).is_none(), "{s}");
        }
    }

    /// What `Url::join` makes of `reference`: scheme, authority and path.
    fn joined(b: &Base, reference: &str) -> (String, String, String) {
        let u = b.url().join(reference).unwrap();
        (u.scheme().to_owned(), authority_of(&u), u.path().to_owned())
    }

    fn simple(b: &Base, reference: &str) -> Option<((String, String, String), usize)> {
        let mut scratch = String::from("left over");
        let r = BaseRef::new(b.url()).unwrap();
        r.resolve_into(reference, &mut scratch).map(|s| {
            let t = s.target;
            let parts = (
                t.scheme.to_owned(),
                t.authority.to_owned(),
                t.path.to_owned(),
            );
            (parts, s.path_len)
        })
    }

    /// Checks everything `resolve_into` promises for `reference`; returns whether it took
    /// the reference.
    fn check_simple(b: &Base, reference: &str) -> bool {
        let Some((parts, path_len)) = simple(b, reference) else {
            return false;
        };
        assert_eq!(parts, joined(b, reference), "Url::join, {reference:?}");
        let slow = b.resolve(reference).map(|r| {
            (
                r.scheme.into_owned(),
                r.authority.into_owned(),
                r.path.into_owned(),
            )
        });
        assert_eq!(Some(parts), slow, "Base::resolve, {reference:?}");
        let end = reference.find(['?', '#']).unwrap_or(reference.len());
        assert_eq!(path_len, end, "path length, {reference:?}");
        true
    }

    #[test]
    fn simple_references_are_resolved_without_url() {
        for s in [
            "https://Edge.Example:8443/live/ch1/index.m3u8?rt=abc",
            "https://edge.example",
            "http://edge.example/dir/",
        ] {
            let b = base(s);
            for r in [
                "seg-1.ts",
                "seg-v1080p-184230.m4s",
                "seg-1.ts?x=1",
                "seg-1.ts?x={$v}",
                "sub/seg.m4s#frag",
                "sub//seg.m4s",
                "/root/seg.ts",
                "/",
                "a/",
                "seg(1),v6.ts",
                "a.b..c",
                "x%20y.ts",
                "~user/@x;y=z!$&'*+",
                "a.ts?x=1:2",
                "a.ts#x:y",
                "a.ts??#?",
            ] {
                assert!(check_simple(&b, r), "{r:?} not taken in {s}");
            }
            for r in [
                "",
                "?only=query",
                "#frag",
                "./x.ts",
                "../ch2/x.ts",
                "a/../b",
                "a/./b",
                ".hidden",
                "%2e%2e/x",
                "a/%2E/b",
                "//other.example/x.ts",
                "https://edge.example/a.ts",
                "skd://key",
                "data:x",
                "a:b",
                "a\\b",
                "a b",
                "a\tb",
                "{$v}/x.ts",
                "a{$v}.ts",
                "é.ts",
                "a|b",
                "a^b",
                "a`b",
                "a\"b",
                "a<b>",
                "a[1]",
            ] {
                assert!(!check_simple(&b, r), "{r:?} taken in {s}");
            }
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const BASES: [&str; 5] = [
            "https://edge.example/live/ch1/index.m3u8",
            "https://Edge.Example:8443/a/b/c.m3u8?q=1#f",
            "http://edge.example/dir/",
            "https://edge.example",
            "https://edge.example/a%20b/x%2e/y.m3u8",
        ];

        /// Pieces that make references interesting for a resolver.
        const PIECES: [&str; 40] = [
            "a",
            "Z9",
            "seg-1.m4s",
            ".",
            "..",
            "/",
            "//",
            "?",
            "#",
            "%",
            "%2e",
            "%2E",
            "%20",
            ":",
            "@",
            "~",
            "_",
            "-",
            "!",
            "$",
            "&",
            "'",
            "(",
            ")",
            "*",
            "+",
            ",",
            ";",
            "=",
            "{$v}",
            "\\",
            " ",
            "\t",
            "é",
            "|",
            "^",
            "`",
            "[",
            "\"",
            "http:",
        ];

        fn reference() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::collection::vec(prop::sample::select(&PIECES[..]), 0..8)
                    .prop_map(|p| p.concat()),
                "[a-zA-Z0-9._~%!$&'()*+,;=@/?#:-]{0,16}",
                "[a-z0-9-]{1,12}(/[a-z0-9._%-]{0,8}){0,3}(\\?[a-z=&:/?.]{0,8})?",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]

            #[test]
            fn resolve_into_agrees_with_url_join_and_resolve(
                b in prop::sample::select(&BASES[..]),
                r in reference(),
            ) {
                check_simple(&base(b), &r);
            }
        }
    }
}
