//! Finding and removing the token query parameter.
//!
//! Parameter names are compared byte for byte, without percent-decoding;
//! pairs are separated by `&` only.

use std::borrow::Cow;

/// Query parameter that carries the token unless configured otherwise.
pub const DEFAULT_QUERY_PARAM: &str = "rt";

/// The value of the first `param` in `query` (the text after `?`; anything
/// from a `#` on is ignored). A bare `param` without `=` yields `""`.
/// Returns `None` when the parameter is absent.
#[must_use]
pub fn find_token<'a>(query: &'a str, param: &str) -> Option<&'a str> {
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some((name, value)) if name == param => Some(value),
            None if pair == param => Some(""),
            _ => None,
        })
}

/// `path_and_query` without any `param` query parameter: every occurrence
/// is removed, the other parameters keep their bytes and order, a `?` left
/// with nothing after it is dropped, and a `#fragment` is kept. Borrows the
/// input when there is nothing to remove.
#[must_use]
pub fn strip_token<'a>(path_and_query: &'a str, param: &str) -> Cow<'a, str> {
    let (before_fragment, fragment) = match path_and_query.find('#') {
        Some(i) => path_and_query.split_at(i),
        None => (path_and_query, ""),
    };
    let Some((path, query)) = before_fragment.split_once('?') else {
        return Cow::Borrowed(path_and_query);
    };
    let is_param = |pair: &str| pair.split('=').next() == Some(param);
    if !query.split('&').any(is_param) {
        return Cow::Borrowed(path_and_query);
    }
    let kept: Vec<&str> = query.split('&').filter(|pair| !is_param(pair)).collect();
    let kept = kept.join("&");
    let mut out = String::with_capacity(path_and_query.len());
    out.push_str(path);
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept);
    }
    out.push_str(fragment);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_first_value() {
        assert_eq!(find_token("a=1&rt=tok&b=2", "rt"), Some("tok"));
        assert_eq!(find_token("rt=one&rt=two", "rt"), Some("one"));
        assert_eq!(find_token("rtx=1&xrt=2", "rt"), None);
        assert_eq!(find_token("", "rt"), None);
        assert_eq!(find_token("rt", "rt"), Some(""));
        assert_eq!(find_token("rt=", "rt"), Some(""));
        assert_eq!(find_token("rt=a=b", "rt"), Some("a=b"));
        assert_eq!(find_token("a=1#rt=frag", "rt"), None);
        assert_eq!(find_token("rt=tok#frag", "rt"), Some("tok"));
    }

    #[test]
    fn strip_removes_every_occurrence() {
        assert_eq!(strip_token("/a.ts?rt=x", "rt"), "/a.ts");
        assert_eq!(strip_token("/a.ts?rt=x&rt=y", "rt"), "/a.ts");
        assert_eq!(
            strip_token("/a.ts?a=1&rt=x&b=2&rt=y", "rt"),
            "/a.ts?a=1&b=2"
        );
        assert_eq!(
            strip_token("/a.ts?rt=x&a=%2F1&B=2", "rt"),
            "/a.ts?a=%2F1&B=2"
        );
        assert_eq!(strip_token("/a.ts?rt", "rt"), "/a.ts");
    }

    #[test]
    fn strip_leaves_similar_names() {
        assert!(matches!(
            strip_token("/a.ts?rtx=1&xrt=2&r=3", "rt"),
            Cow::Borrowed(_)
        ));
        assert_eq!(strip_token("/a.ts?rtx=1&rt=2", "rt"), "/a.ts?rtx=1");
    }

    #[test]
    fn strip_without_query() {
        assert!(matches!(strip_token("/a.ts", "rt"), Cow::Borrowed("/a.ts")));
        assert!(matches!(
            strip_token("/a.ts?", "rt"),
            Cow::Borrowed("/a.ts?")
        ));
        assert!(matches!(strip_token("", "rt"), Cow::Borrowed("")));
    }

    #[test]
    fn strip_keeps_fragment() {
        assert_eq!(strip_token("/a.ts?rt=x#t=10", "rt"), "/a.ts#t=10");
        assert_eq!(strip_token("/a.ts?a=1&rt=x#f", "rt"), "/a.ts?a=1#f");
        assert!(matches!(strip_token("/a.ts#?rt=x", "rt"), Cow::Borrowed(_)));
    }

    #[test]
    fn strip_keeps_empty_pairs_of_others() {
        assert_eq!(strip_token("/a?a=1&&rt=x", "rt"), "/a?a=1&");
        assert_eq!(strip_token("/a?rt=x&", "rt"), "/a");
    }
}
