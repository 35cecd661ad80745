//! Host patterns: which URL authorities count as this edge.

/// A set of host patterns: `host`, `host:port`, or `*.domain` (any subdomain, any depth).
/// A pattern without a port matches the host on any port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSet {
    exact: Vec<String>,
    suffixes: Vec<String>,
}

/// Checks one host pattern, returning why it is invalid.
pub fn check_host_pattern(pattern: &str) -> Result<(), String> {
    let rest = pattern.strip_prefix("*.").unwrap_or(pattern);
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (rest, None),
    };
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(format!("invalid port {port:?} in host {pattern:?}"));
    }
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(valid_label) {
        return Err(format!(
            "invalid host {pattern:?}: expected a DNS name or IPv4 address, with an optional :port and an optional leading *."
        ));
    }
    Ok(())
}

fn split_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find("]:") {
            Some(i) => (&authority[..=i], Some(&authority[i + 2..])),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (authority, None),
    }
}

impl HostSet {
    /// Builds a set from patterns (lower-cased). Invalid patterns are skipped: validate
    /// them first with [`check_host_pattern`].
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = Self::default();
        for p in patterns {
            set.insert(p);
        }
        set
    }

    /// Adds one pattern.
    pub fn insert(&mut self, pattern: &str) {
        if check_host_pattern(pattern).is_err() && !pattern.starts_with('[') {
            return;
        }
        let pattern = pattern.to_ascii_lowercase();
        match pattern.strip_prefix('*') {
            Some(suffix) => self.suffixes.push(suffix.to_owned()),
            None => self.exact.push(pattern),
        }
    }

    /// Whether `authority` (`host` or `host:port`, as in a URL) is in the set.
    pub fn contains(&self, authority: &str) -> bool {
        let authority = authority.to_ascii_lowercase();
        let (host, port) = split_port(&authority);
        let matches = |pattern: &str| {
            let (p_host, p_port) = split_port(pattern);
            (p_port.is_none() || p_port == port) && p_host == host
        };
        if self.exact.iter().any(|p| matches(p)) {
            return true;
        }
        self.suffixes.iter().any(|suffix| {
            let (s_host, s_port) = split_port(suffix);
            (s_port.is_none() || s_port == port)
                && host.len() > s_host.len()
                && host.ends_with(s_host)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_wildcard_and_port_rules() {
        let set = HostSet::new(["edge.example.com", "*.cdn.example", "origin.example:8443"]);
        assert!(set.contains("edge.example.com"));
        assert!(set.contains("EDGE.example.com:8080"));
        assert!(set.contains("a.cdn.example"));
        assert!(set.contains("a.b.cdn.example:443"));
        assert!(!set.contains("cdn.example"));
        assert!(!set.contains("evilcdn.example"));
        assert!(set.contains("origin.example:8443"));
        assert!(!set.contains("origin.example:8080"));
        assert!(!set.contains("edge.example.com.evil"));
    }

    #[test]
    fn invalid_patterns_are_explained() {
        for bad in ["", "a b", "http://x", "x:99999", "*.", "-a.com"] {
            assert!(check_host_pattern(bad).is_err(), "{bad:?}");
        }
        assert!(check_host_pattern("127.0.0.1:8080").is_ok());
    }
}
