//! Puts the viewer's token into a URI's query, keeping every other byte as written.

/// Writes `uri` to `out` with `param=token` in its query.
///
/// The parameter goes after the existing query (`?` or `&` as needed) and before any
/// `#fragment`. When the query already has `param` as a key, the first occurrence gets the
/// new value and later ones are dropped, so a URI is never signed twice.
pub(crate) fn write_with_token(uri: &str, param: &str, token: &str, out: &mut Vec<u8>) {
    let (before_fragment, fragment) = match uri.bytes().position(|b| b == b'#') {
        Some(i) => uri.split_at(i),
        None => (uri, ""),
    };
    let query_start = before_fragment.bytes().position(|b| b == b'?');
    match query_start.map(|i| (&before_fragment[..i], &before_fragment[i + 1..])) {
        None => {
            out.extend_from_slice(before_fragment.as_bytes());
            push_param(out, b'?', param, token);
        }
        Some((path, query)) => {
            out.extend_from_slice(path.as_bytes());
            out.push(b'?');
            if has_key(query, param) {
                write_replacing(query, param, token, out);
            } else {
                out.extend_from_slice(query.as_bytes());
                let sep = if query.is_empty() || query.ends_with('&') {
                    None
                } else {
                    Some(b'&')
                };
                match sep {
                    Some(sep) => push_param(out, sep, param, token),
                    None => push_pair(out, param, token),
                }
            }
        }
    }
    out.extend_from_slice(fragment.as_bytes());
}

fn push_param(out: &mut Vec<u8>, sep: u8, param: &str, token: &str) {
    out.push(sep);
    push_pair(out, param, token);
}

fn push_pair(out: &mut Vec<u8>, param: &str, token: &str) {
    out.extend_from_slice(param.as_bytes());
    out.push(b'=');
    out.extend_from_slice(token.as_bytes());
}

/// The key of one `key=value` query component.
fn key_of(component: &str) -> &str {
    component.split_once('=').map_or(component, |(k, _)| k)
}

/// Whether `query` has a component whose key is exactly `param`.
pub(crate) fn has_key(query: &str, param: &str) -> bool {
    memchr::memmem::find(query.as_bytes(), param.as_bytes()).is_some()
        && query.split('&').any(|c| key_of(c) == param)
}

fn write_replacing(query: &str, param: &str, token: &str, out: &mut Vec<u8>) {
    let mut written_ours = false;
    let mut first = true;
    for component in query.split('&') {
        if key_of(component) == param {
            if written_ours {
                continue;
            }
            written_ours = true;
            if !first {
                out.push(b'&');
            }
            push_pair(out, param, token);
        } else {
            if !first {
                out.push(b'&');
            }
            out.extend_from_slice(component.as_bytes());
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(uri: &str) -> String {
        let mut out = Vec::new();
        write_with_token(uri, "rt", "TOK", &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn appends_with_question_mark_or_ampersand() {
        assert_eq!(signed("seg.ts"), "seg.ts?rt=TOK");
        assert_eq!(signed("seg.ts?a=1"), "seg.ts?a=1&rt=TOK");
        assert_eq!(signed("seg.ts?"), "seg.ts?rt=TOK");
        assert_eq!(signed("seg.ts?a=1&"), "seg.ts?a=1&rt=TOK");
    }

    #[test]
    fn fragment_stays_last() {
        assert_eq!(signed("seg.ts#t=10"), "seg.ts?rt=TOK#t=10");
        assert_eq!(signed("seg.ts?a=1#x?y"), "seg.ts?a=1&rt=TOK#x?y");
    }

    #[test]
    fn existing_param_is_replaced_not_repeated() {
        assert_eq!(signed("seg.ts?rt=old"), "seg.ts?rt=TOK");
        assert_eq!(signed("seg.ts?a=1&rt=old&b=2"), "seg.ts?a=1&rt=TOK&b=2");
        assert_eq!(signed("seg.ts?rt=a&x=1&rt=b"), "seg.ts?rt=TOK&x=1");
        assert_eq!(signed("seg.ts?rt"), "seg.ts?rt=TOK");
        assert_eq!(signed("seg.ts?art=1&rtx=2"), "seg.ts?art=1&rtx=2&rt=TOK");
        assert_eq!(signed("seg.ts?a=rt"), "seg.ts?a=rt&rt=TOK");
    }
}
