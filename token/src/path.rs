//! Request path hygiene and scope matching.

/// Longest scope accepted in a token, in bytes.
pub(crate) const MAX_SCOPE_LEN: usize = 1024;

/// Percent-encoded sequences refused anywhere in a path: `.`, `/`, `\`,
/// `%` (double encoding) and NUL. Compared case-insensitively.
const FORBIDDEN_ESCAPES: [&[u8; 2]; 5] = [b"2e", b"2f", b"5c", b"25", b"00"];

/// Checks that `path` is absolute and cannot be reinterpreted downstream as
/// a different path: no `.`/`..` segments (also with `;params`), no
/// percent-encoded dot, slash, backslash, percent or NUL, no backslash and
/// no control characters.
pub(crate) fn check_clean(path: &str) -> Result<(), &'static str> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err("must start with '/'");
    }
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\\' => return Err("contains a backslash"),
            0..=0x1f | 0x7f => return Err("contains a control character"),
            b'%' => {
                let escape = bytes.get(i + 1..i + 3).map(|e| e.to_ascii_lowercase());
                if let Some(escape) = escape
                    && FORBIDDEN_ESCAPES.iter().any(|f| f[..] == escape[..])
                {
                    return Err("contains a percent-encoded dot, slash, backslash, '%' or NUL");
                }
            }
            _ => {}
        }
    }
    for segment in path.split('/') {
        let name = segment.split(';').next().unwrap_or(segment);
        if name == "." || name == ".." {
            return Err("contains a '.' or '..' segment");
        }
    }
    Ok(())
}

/// Checks that `scope` is usable in a token: a clean absolute path of at
/// most [`MAX_SCOPE_LEN`] bytes without query, fragment or wildcard.
pub(crate) fn check_scope(scope: &str) -> Result<(), &'static str> {
    if scope.len() > MAX_SCOPE_LEN {
        return Err("longer than 1024 bytes");
    }
    if scope.contains(['?', '#']) {
        return Err("must be a path without query or fragment");
    }
    if scope.contains('*') {
        return Err("wildcards are not supported; use a prefix ending in '/'");
    }
    check_clean(scope)
}

/// Whether `path` is covered by `scope`: a scope ending in `/` covers every
/// path starting with it; any other scope covers only itself.
pub(crate) fn scope_covers(scope: &str, path: &str) -> bool {
    if scope.ends_with('/') {
        path.starts_with(scope)
    } else {
        path == scope
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths_pass() {
        for p in [
            "/",
            "/live/ch1/a.ts",
            "/a/b.c/d..e/...",
            "/x%20y.ts",
            "/v/.hidden",
        ] {
            assert_eq!(check_clean(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn tampered_paths_fail() {
        for p in [
            "live/ch1/a.ts",
            "",
            "/live/ch1/../ch2/a.ts",
            "/live/ch1/./a.ts",
            "/live/ch1/..",
            "/live/ch1/.",
            "/live/ch1/..;x/ch2/a.ts",
            "/live/ch1/%2e%2e/ch2/a.ts",
            "/live/ch1/%2E./ch2/a.ts",
            "/live/ch1%2Fch2/a.ts",
            "/live/ch1%2fch2/a.ts",
            "/live/ch1/%5c..%5cch2",
            "/live/ch1/%252e%252e/ch2",
            "/live/ch1/a%00.ts",
            "/live/ch1\\..\\ch2",
            "/live/ch1/a\n.ts",
        ] {
            assert!(check_clean(p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn scope_boundaries() {
        assert!(scope_covers("/live/ch1/", "/live/ch1/a.ts"));
        assert!(scope_covers("/live/ch1/", "/live/ch1/sub/a.ts"));
        assert!(!scope_covers("/live/ch1/", "/live/ch10/a.ts"));
        assert!(!scope_covers("/live/ch1/", "/live/ch1"));
        assert!(scope_covers("/vod/a.m3u8", "/vod/a.m3u8"));
        assert!(!scope_covers("/vod/a.m3u8", "/vod/a.m3u8x"));
        assert!(!scope_covers("/vod/a", "/vod/a/b"));
    }

    #[test]
    fn scope_format() {
        assert_eq!(check_scope("/live/ch1/"), Ok(()));
        assert!(check_scope("/live/*").is_err());
        assert!(check_scope("/live/ch1/?x").is_err());
        assert!(check_scope("live/").is_err());
        assert!(check_scope(&format!("/{}", "a".repeat(MAX_SCOPE_LEN))).is_err());
    }
}
