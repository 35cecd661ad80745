//! `EXT-X-DEFINE` variables and `{$name}` substitution.
//!
//! Players substitute variable references after the edge has signed the playlist, so a
//! URI signed as written is not the URI that gets fetched. The rewriter therefore
//! substitutes the values it knows (`NAME`/`VALUE` defined earlier in the playlist, and
//! `QUERYPARAM` values from the playlist URL's query) before signing. Values a player could
//! not place in a URI unchanged, or that could break a line or an attribute (controls,
//! whitespace, `"`), are refused: their references stay as written.

use std::borrow::Cow;

use url::Url;

use super::attrs;

/// The variables defined so far in one playlist.
#[derive(Debug, Default)]
pub(crate) struct Variables<'a> {
    /// Name and value; `None` when the value is unknown here (`IMPORT`, a missing query
    /// parameter) or refused.
    defs: Vec<(&'a str, Option<Cow<'a, str>>)>,
}

/// Whether `name` is a valid variable name (`[a-zA-Z0-9_-]+`).
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `value` may be substituted into a URI.
pub(crate) fn is_acceptable(value: &str) -> bool {
    !value
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '"')
}

impl<'a> Variables<'a> {
    /// Records the `EXT-X-DEFINE` whose attribute list is `list`. The first definition of
    /// a name wins (redefinition is an error for players anyway).
    pub(crate) fn define(&mut self, list: &'a str, manifest_url: Option<&Url>) {
        let (name, value) = if let Some(name) = attrs::find(list, "NAME") {
            let value = attrs::find(list, "VALUE").map(Cow::Borrowed);
            (name, value)
        } else if let Some(name) = attrs::find(list, "QUERYPARAM") {
            let value = manifest_url.and_then(|url| {
                url.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| Cow::Owned(v.into_owned()))
            });
            (name, value)
        } else if let Some(name) = attrs::find(list, "IMPORT") {
            (name, None)
        } else {
            return;
        };
        if !is_name(name) || self.defs.iter().any(|(n, _)| *n == name) {
            return;
        }
        let value = value.filter(|v| is_acceptable(v));
        self.defs.push((name, value));
    }

    fn value_of(&self, name: &str) -> Option<&str> {
        self.defs
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Writes `raw` to `out` with every reference to a known, acceptable variable
    /// substituted. Returns the offset in `out` (relative to where writing started) of the
    /// first reference left as written, if any.
    pub(crate) fn substitute(&self, raw: &str, out: &mut String) -> Option<usize> {
        let start = out.len();
        let mut unresolved = None;
        let mut rest = raw;
        while let Some(i) = rest.find("{$") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            match after.find('}') {
                Some(j) if is_name(&after[..j]) => {
                    match self.value_of(&after[..j]) {
                        Some(value) => out.push_str(value),
                        None => {
                            unresolved.get_or_insert(out.len() - start);
                            out.push_str(&rest[i..i + 2 + j + 1]);
                        }
                    }
                    rest = &after[j + 1..];
                }
                // Not a reference: players keep the text as it is.
                _ => {
                    out.push_str("{$");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        unresolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subst(vars: &Variables<'_>, raw: &str) -> (String, Option<usize>) {
        let mut s = String::new();
        let u = vars.substitute(raw, &mut s);
        (s, u)
    }

    #[test]
    fn name_value_and_queryparam_are_substituted() {
        let url = Url::parse("https://e.example/a/b.m3u8?tok=ab%2Fc&bad=x%0Ay").unwrap();
        let mut vars = Variables::default();
        vars.define(r#"NAME="v",VALUE="1080p""#, Some(&url));
        vars.define(r#"QUERYPARAM="tok""#, Some(&url));
        vars.define(r#"QUERYPARAM="bad""#, Some(&url));
        vars.define(r#"IMPORT="imp""#, Some(&url));
        vars.define(r#"NAME="v",VALUE="other""#, Some(&url));
        assert_eq!(
            subst(&vars, "{$v}/s.ts?t={$tok}"),
            ("1080p/s.ts?t=ab/c".into(), None)
        );
        assert_eq!(subst(&vars, "s{$bad}.ts"), ("s{$bad}.ts".into(), Some(1)));
        assert_eq!(subst(&vars, "{$v}{$imp}"), ("1080p{$imp}".into(), Some(5)));
        assert_eq!(subst(&vars, "{$nope}"), ("{$nope}".into(), Some(0)));
        assert_eq!(
            subst(&vars, "a{$}b{$x y}{$"),
            ("a{$}b{$x y}{$".into(), None)
        );
    }

    #[test]
    fn hostile_values_are_refused() {
        for bad in ["a b", "a\"b", "a\r\nb", "a\tb", "a\u{85}b", "a\u{2028}b"] {
            assert!(!is_acceptable(bad), "{bad:?}");
        }
        assert!(is_acceptable("?auth_token=/aazv/54334:pp2"));
    }
}
