//! Resolves URI references in a manifest against its base URL (RFC 3986), cheaply.
//!
//! Most references in a live manifest are plain relative paths (`seg-123.m4s`); those are
//! resolved by string concatenation. Anything with dot segments, a network-path reference
//! or a scheme goes through [`url::Url`].

use std::borrow::Cow;

use url::Url;

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

fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|seg| seg == "." || seg == "..")
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
        if has_dot_segment(path) {
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
        ] {
            let expected = b.url().join(r).unwrap();
            let expected = (authority_of(&expected), expected.path().to_owned());
            assert_eq!(path_of(&b, r), Some(expected), "reference {r:?}");
        }
    }

    #[test]
    fn non_http_schemes_are_not_resolved() {
        let b = base("https://edge.example/live/a.m3u8");
        for r in ["skd://key-id", "data:text/plain;base64,AAAA", "urn:uuid:1234", "ftp://x/y"] {
            assert_eq!(b.resolve(r), None, "{r}");
        }
    }

    #[test]
    fn default_port_is_dropped_and_host_lower_cased() {
        let b = base("https://EDGE.example:443/x/a.m3u8");
        assert_eq!(b.authority(), "edge.example");
    }
}
