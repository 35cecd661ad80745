//! Semantic checks of a parsed file: every problem is collected, none stops the others.

use std::time::Duration;

use crate::{file::ConfigFile, hosts::check_host_pattern};

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Returns `(key path, message)` for every problem found.
pub(crate) fn validate(file: &ConfigFile) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let mut err = |path: String, message: String| errors.push((path, message));

    let t = &file.tokens;
    if t.ttl.get() < Duration::from_secs(1) || t.ttl.get() > Duration::from_secs(24 * 3600) {
        err(
            "tokens.ttl".into(),
            format!("{} is out of range: must be from 1s to 24h", t.ttl),
        );
    }
    if t.leeway.get() > Duration::from_secs(60) {
        err(
            "tokens.leeway".into(),
            format!("{} is over the maximum of 60s", t.leeway),
        );
    }
    if !is_name(&t.query_param, 32) {
        err(
            "tokens.query_param".into(),
            format!(
                "{:?} must be 1 to 32 characters of A-Z a-z 0-9 - _",
                t.query_param
            ),
        );
    }
    if t.audience.is_empty() || t.audience.len() > 256 {
        err(
            "tokens.audience".into(),
            "must be 1 to 256 characters".into(),
        );
    }
    if let Some(kid) = &t.signing_kid
        && !is_name(kid, 64)
    {
        err(
            "tokens.signing_kid".into(),
            format!("{kid:?} must be 1 to 64 characters of A-Z a-z 0-9 - _"),
        );
    }
    if t.verified_cache_entries > 100_000_000 {
        err(
            "tokens.verified_cache_entries".into(),
            "is over the maximum of 100000000".into(),
        );
    }
    if t.keys_dir.as_os_str().is_empty() {
        err("tokens.keys_dir".into(), "must not be empty".into());
    }

    for (i, host) in file.edge.public_hosts.iter().enumerate() {
        if let Err(message) = check_host_pattern(host) {
            err(format!("edge.public_hosts[{i}]"), message);
        }
    }

    let l = &file.limits;
    if l.max_manifest_bytes == 0 || l.max_manifest_bytes > 256 * 1024 * 1024 {
        err(
            "limits.max_manifest_bytes".into(),
            "must be from 1 to 268435456 (256 MiB)".into(),
        );
    }
    if l.max_line_bytes < 256 || l.max_line_bytes > 16 * 1024 * 1024 {
        err(
            "limits.max_line_bytes".into(),
            "must be from 256 to 16777216 (16 MiB)".into(),
        );
    }
    if l.max_xml_depth == 0 || l.max_xml_depth > 256 {
        err(
            "limits.max_xml_depth".into(),
            "must be from 1 to 256".into(),
        );
    }

    let mut names = std::collections::HashSet::new();
    for (i, origin) in file.origins.iter().enumerate() {
        if !is_name(&origin.name, 64) {
            err(
                format!("origins[{i}].name"),
                format!(
                    "{:?} must be 1 to 64 characters of A-Z a-z 0-9 - _",
                    origin.name
                ),
            );
        } else if !names.insert(origin.name.as_str()) {
            err(
                format!("origins[{i}].name"),
                format!("{:?} is used by another origin", origin.name),
            );
        }
        match url::Url::parse(&origin.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                if u.query().is_some() || u.fragment().is_some() {
                    err(
                        format!("origins[{i}].url"),
                        "must not have a query or fragment".into(),
                    );
                }
            }
            Ok(_) => err(
                format!("origins[{i}].url"),
                format!(
                    "{:?} must be an http:// or https:// URL with a host",
                    origin.url
                ),
            ),
            Err(e) => err(
                format!("origins[{i}].url"),
                format!("{:?} is not a URL: {e}", origin.url),
            ),
        }
        for (j, host) in origin.hosts.iter().enumerate() {
            if let Err(message) = check_host_pattern(host) {
                err(format!("origins[{i}].hosts[{j}]"), message);
            }
        }
        for (field, d) in [
            ("connect_timeout", origin.connect_timeout),
            ("read_timeout", origin.read_timeout),
        ] {
            if d.get().is_zero() || d.get() > Duration::from_secs(600) {
                err(
                    format!("origins[{i}].{field}"),
                    format!("{d} is out of range: must be above 0 and at most 10m"),
                );
            }
        }
    }
    errors
}
