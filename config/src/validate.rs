//! Semantic checks of a parsed file: every problem is collected, none stops the others.

use std::{collections::HashSet, time::Duration};

use crate::{
    file::{ConfigFile, P2pConfig},
    hosts::check_host_pattern,
};

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

    let srv = &file.server;
    for (field, addr) in [
        ("listen", Some(&srv.listen)),
        ("admin_listen", Some(&srv.admin_listen)),
        ("tls_listen", srv.tls_listen.as_ref()),
    ] {
        if let Some(addr) = addr
            && addr.parse::<std::net::SocketAddr>().is_err()
        {
            err(
                format!("server.{field}"),
                format!(
                    "{addr:?} is not an address with a port, e.g. \"0.0.0.0:8080\" or \"[::]:8443\""
                ),
            );
        }
    }
    match (&srv.tls_listen, &srv.tls_cert, &srv.tls_key) {
        (Some(_), Some(_), Some(_)) | (None, None, None) => {}
        (Some(_), _, _) => err(
            "server.tls_listen".into(),
            "needs both tls_cert and tls_key".into(),
        ),
        (None, _, _) => err(
            "server.tls_cert".into(),
            "tls_cert and tls_key are used only with tls_listen, which is not set".into(),
        ),
    }
    if !matches!(srv.log_format.as_str(), "text" | "json") {
        err(
            "server.log_format".into(),
            format!("{:?} must be \"text\" or \"json\"", srv.log_format),
        );
    }
    if srv.threads > 1024 {
        err("server.threads".into(), "must be at most 1024".into());
    }
    if srv.shutdown_grace.get() > Duration::from_secs(300) {
        err(
            "server.shutdown_grace".into(),
            format!("{} is over the maximum of 5m", srv.shutdown_grace),
        );
    }

    let c = &file.cache;
    if c.segment_bytes < 1024 * 1024 {
        err(
            "cache.segment_bytes".into(),
            "must be at least 1048576 (1 MiB)".into(),
        );
    }
    if c.max_object_bytes == 0 || c.max_object_bytes > c.segment_bytes.max(1024 * 1024) {
        err(
            "cache.max_object_bytes".into(),
            "must be above 0 and at most cache.segment_bytes".into(),
        );
    }
    if c.segment_ttl.get() < Duration::from_secs(1)
        || c.segment_ttl.get() > Duration::from_secs(86400)
    {
        err(
            "cache.segment_ttl".into(),
            format!("{} is out of range: must be from 1s to 24h", c.segment_ttl),
        );
    }
    if c.manifest_ttl.get().is_zero() || c.manifest_ttl.get() > Duration::from_secs(60) {
        err(
            "cache.manifest_ttl".into(),
            format!(
                "{} is out of range: must be above 0 and at most 1m",
                c.manifest_ttl
            ),
        );
    }
    if c.manifest_max_stale.get() > Duration::from_secs(3600) {
        err(
            "cache.manifest_max_stale".into(),
            format!("{} is over the maximum of 1h", c.manifest_max_stale),
        );
    }

    let h = &file.holdings;
    if h.ttl.get() < Duration::from_secs(1) || h.ttl.get() > Duration::from_secs(3600) {
        err(
            "holdings.ttl".into(),
            format!("{} is out of range: must be from 1s to 1h", h.ttl),
        );
    }
    if h.max_entries == 0 || h.max_entries > 100_000_000 {
        err(
            "holdings.max_entries".into(),
            "must be from 1 to 100000000".into(),
        );
    }
    if h.max_per_swarm == 0 || h.max_per_swarm > h.max_entries.max(1) {
        err(
            "holdings.max_per_swarm".into(),
            format!("must be from 1 to holdings.max_entries ({})", h.max_entries),
        );
    }
    if h.max_viewers == 0 {
        err("holdings.max_viewers".into(), "must be at least 1".into());
    }
    if h.viewer_ttl.get() < Duration::from_secs(1) || h.viewer_ttl.get() > Duration::from_secs(3600)
    {
        err(
            "holdings.viewer_ttl".into(),
            format!("{} is out of range: must be from 1s to 1h", h.viewer_ttl),
        );
    }

    validate_p2p(&file.p2p, &mut err);

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

    let cors = &file.edge.cors_allow_origin;
    if cors.len() > 256 || cors.bytes().any(|b| !b.is_ascii_graphic()) {
        err(
            "edge.cors_allow_origin".into(),
            "must be \"*\", an origin such as \"https://player.example\", or \"\"".into(),
        );
    }

    for (i, cidr) in file.edge.trusted_proxies.iter().enumerate() {
        if let Err(e) = cidr.parse::<ipnet::IpNet>() {
            err(
                format!("edge.trusted_proxies[{i}]"),
                format!("{cidr:?} is not a network such as \"10.0.0.0/8\" or \"fd00::/8\": {e}"),
            );
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
    let mut prefixes = std::collections::HashSet::new();
    for (i, route) in file.routes.iter().enumerate() {
        if !route.prefix.starts_with('/') || !route.prefix.ends_with('/') {
            err(
                format!("routes[{i}].prefix"),
                format!("{:?} must begin and end with '/'", route.prefix),
            );
        } else if !prefixes.insert(route.prefix.as_str()) {
            err(
                format!("routes[{i}].prefix"),
                format!("{:?} is used by another route", route.prefix),
            );
        }
        if !file.origins.iter().any(|o| o.name == route.origin) {
            err(
                format!("routes[{i}].origin"),
                format!("no origin is named {:?}", route.origin),
            );
        }
        if !matches!(route.access.as_str(), "open" | "entry-token") {
            err(
                format!("routes[{i}].access"),
                format!("{:?} must be \"open\" or \"entry-token\"", route.access),
            );
        }
        if let Some(p) = &route.origin_prefix
            && (!p.starts_with('/') || !p.ends_with('/'))
        {
            err(
                format!("routes[{i}].origin_prefix"),
                format!("{p:?} must begin and end with '/'"),
            );
        }
        if !POLICIES.contains(&route.policy.as_str()) {
            err(
                format!("routes[{i}].policy"),
                format!(
                    "{:?} must be \"cdn-only\", \"random\", \"locality\" or \"adaptive\"",
                    route.policy
                ),
            );
        }
    }
    errors
}

/// The values of `routes[].policy`.
const POLICIES: [&str; 4] = ["cdn-only", "random", "locality", "adaptive"];

/// Checks `[p2p]` and its `[[p2p.networks]]`.
fn validate_p2p(p: &P2pConfig, err: &mut impl FnMut(String, String)) {
    for (field, d, min, max, range) in [
        (
            "announce_interval",
            p.announce_interval,
            Duration::from_secs(1),
            Duration::from_secs(60),
            "from 1s to 1m",
        ),
        (
            "min_buffer",
            p.min_buffer,
            Duration::ZERO,
            Duration::from_secs(60),
            "from 0s to 1m",
        ),
        (
            "peer_timeout",
            p.peer_timeout,
            Duration::from_millis(100),
            Duration::from_secs(60),
            "from 100ms to 1m",
        ),
    ] {
        if d.get() < min || d.get() > max {
            err(
                format!("p2p.{field}"),
                format!("{d} is out of range: must be {range}"),
            );
        }
    }
    if !(1024..=1024 * 1024).contains(&p.max_body_bytes) {
        err(
            "p2p.max_body_bytes".into(),
            "must be from 1024 to 1048576 (1 MiB)".into(),
        );
    }
    for (field, value, min, max) in [
        ("viewer_rate", p.viewer_rate, 1, 1000),
        ("prefix_rate", p.prefix_rate, 1, 1_000_000),
        ("peers_per_hint", p.peers_per_hint, 1, 16),
        ("seeders_per_segment", p.seeders_per_segment, 1, 16),
        ("hinted_segments", p.hinted_segments, 0, 16),
        ("demote_after_reports", p.demote_after_reports, 1, 100),
    ] {
        if value < min || value > max {
            err(
                format!("p2p.{field}"),
                format!("must be from {min} to {max}"),
            );
        }
    }
    for (field, value, floor_field, floor, max) in [
        (
            "viewer_burst",
            p.viewer_burst,
            "viewer_rate",
            p.viewer_rate,
            10_000,
        ),
        (
            "prefix_burst",
            p.prefix_burst,
            "prefix_rate",
            p.prefix_rate,
            10_000_000,
        ),
        (
            "exclude_after_reports",
            p.exclude_after_reports,
            "demote_after_reports",
            p.demote_after_reports,
            100,
        ),
    ] {
        if value < floor.max(1) || value > max {
            err(
                format!("p2p.{field}"),
                format!("must be from p2p.{floor_field} ({floor}) to {max}"),
            );
        }
    }
    if let Some(header) = &p.region_header
        && (header.is_empty()
            || header.len() > 64
            || !header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        err(
            "p2p.region_header".into(),
            format!("{header:?} must be a header name: 1 to 64 characters of A-Z a-z 0-9 -"),
        );
    }
    if p.networks.len() > usize::from(u16::MAX) {
        err(
            "p2p.networks".into(),
            format!(
                "{} networks are over the maximum of 65535",
                p.networks.len()
            ),
        );
    }
    let mut names = HashSet::new();
    for (i, network) in p.networks.iter().enumerate() {
        if !is_name(&network.name, 64) {
            err(
                format!("p2p.networks[{i}].name"),
                format!(
                    "{:?} must be 1 to 64 characters of A-Z a-z 0-9 - _",
                    network.name
                ),
            );
        } else if !names.insert(network.name.as_str()) {
            err(
                format!("p2p.networks[{i}].name"),
                format!("{:?} is used by another network", network.name),
            );
        }
        if network.cidrs.is_empty() {
            err(
                format!("p2p.networks[{i}].cidrs"),
                "must list at least one CIDR, e.g. \"192.0.2.0/24\"".into(),
            );
        }
        for (j, cidr) in network.cidrs.iter().enumerate() {
            if let Err(e) = cidr.parse::<ipnet::IpNet>() {
                err(
                    format!("p2p.networks[{i}].cidrs[{j}]"),
                    format!(
                        "{cidr:?} is not a CIDR ({e}); write an address and a prefix length, e.g. \"192.0.2.0/24\" or \"2001:db8::/32\""
                    ),
                );
            }
        }
    }
}
