//! Tests of parsing, error reporting and the generated example.

use std::path::Path;

use super::*;

fn errors_of(text: &str) -> Vec<ConfigError> {
    parse(text, "test.toml", Path::new("."))
        .expect_err("expected errors")
        .errors
}

#[test]
fn empty_file_is_the_default_config() {
    let config = parse("", "empty", Path::new("/etc/rilla")).unwrap();
    assert_eq!(config.file.tokens, TokensConfig::default());
    assert_eq!(config.keys_dir(), Path::new("/etc/rilla/keys"));
}

#[test]
fn the_generated_example_passes_the_check_and_equals_the_example_struct() {
    let text = example_toml();
    let config = parse(&text, "example", Path::new(".")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(config.file, ConfigFile::example());
    // Every documented field appears, with its documentation.
    for needle in [
        "ttl = \"5m\"",
        "# Lifetime of a viewer token",
        "[[origins]]",
        "max_xml_depth = 32",
        "[p2p]",
        "announce_interval = \"5s\"",
        "# region_header = \"...\"",
        "[[p2p.networks]]",
        "cidrs = [\"192.0.2.0/24\", \"2001:db8::/32\"]",
        "policy = \"adaptive\"",
        "viewer_ttl = \"30s\"",
    ] {
        assert!(text.contains(needle), "example lacks {needle:?}:\n{text}");
    }
}

#[test]
fn every_error_is_reported_at_once_with_path_and_line() {
    let text = r#"
[tokens]
ttl = 5
leeway = "2h"
query_param = "bad param"
colour = "blue"

[limits]
max_xml_depth = 0

[[origins]]
name = "a"
url = "ftp://x"

[[origins]]
name = "a"
url = "http://ok.example"
connect_timeout = "0s"
"#;
    let errors = errors_of(text);
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    // Type errors and unknown keys are found in the same pass.
    let find = |path: &str| {
        errors
            .iter()
            .find(|e| e.path == path || e.message.contains(path))
            .unwrap_or_else(|| panic!("no error for {path}: {rendered:#?}"))
    };
    assert_eq!(find("tokens.ttl").line, Some(3));
    assert_eq!(find("colour").line, Some(6));
    assert!(errors.len() >= 2, "{rendered:#?}");
}

#[test]
fn semantic_errors_are_all_reported_with_lines() {
    let text = r#"
[tokens]
ttl = "48h"
leeway = "2m"
query_param = "bad param"

[limits]
max_xml_depth = 0

[[origins]]
name = "a"
url = "ftp://x"

[[origins]]
name = "a"
url = "http://ok.example"
connect_timeout = "0s"
"#;
    let errors = errors_of(text);
    let lines: Vec<(String, Option<usize>)> =
        errors.iter().map(|e| (e.path.clone(), e.line)).collect();
    let expected = [
        ("tokens.ttl", 3),
        ("tokens.leeway", 4),
        ("tokens.query_param", 5),
        ("limits.max_xml_depth", 8),
        ("origins[0].url", 12),
        ("origins[1].name", 15),
        ("origins[1].connect_timeout", 17),
    ];
    for (path, line) in expected {
        assert!(
            lines.contains(&(path.to_owned(), Some(line))),
            "missing {path} at line {line}: {lines:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{lines:#?}");
}

#[test]
fn syntax_error_names_its_line() {
    let errors = errors_of("[tokens]\nttl = \"5m\"\nbroken = = 1\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, Some(3), "{errors:?}");
}

#[test]
fn signing_hosts_include_public_hosts_and_origins() {
    let text = r#"
[edge]
public_hosts = ["edge.example"]
[[origins]]
name = "o"
url = "http://origin.example:8081/base"
hosts = ["*.cdn.example"]
"#;
    let config = parse(text, "t", Path::new(".")).unwrap();
    let hosts = &config.signing_hosts;
    assert!(hosts.contains("edge.example"));
    assert!(hosts.contains("origin.example:8081"));
    assert!(!hosts.contains("origin.example:9999"));
    assert!(hosts.contains("x.cdn.example"));
    assert!(!hosts.contains("evil.example"));
}

#[test]
fn reference_lists_every_field() {
    let md = reference_markdown();
    for key in [
        "keys_dir",
        "query_param",
        "max_manifest_bytes",
        "read_timeout",
        "public_hosts",
        "max_per_swarm",
        "viewer_ttl",
        "announce_interval",
        "exclude_after_reports",
        "cidrs",
        "policy",
    ] {
        assert!(md.contains(&format!("| `{key}` |")), "{key} missing:\n{md}");
    }
    assert!(md.contains("### `[p2p]`"), "{md}");
    assert!(md.contains("### `[[p2p.networks]]`"), "{md}");
    // A table of tables is a section of its own, not a row of its parent.
    assert!(!md.contains("| `networks` |"), "{md}");
}

#[test]
fn defaults_of_p2p_holdings_and_route_policy() {
    let text = "[[origins]]\nname = \"o\"\nurl = \"http://o.example\"\n\
                [[routes]]\nprefix = \"/\"\norigin = \"o\"\n";
    let config = parse(text, "t", Path::new(".")).unwrap();
    let p = &config.file.p2p;
    assert_eq!(*p, P2pConfig::default());
    assert_eq!(p.announce_interval, HumanDuration::from_secs(5));
    assert_eq!(p.max_body_bytes, 65536);
    assert_eq!((p.viewer_rate, p.viewer_burst), (2, 10));
    assert_eq!((p.prefix_rate, p.prefix_burst), (500, 1000));
    assert_eq!(
        (p.peers_per_hint, p.seeders_per_segment, p.hinted_segments),
        (3, 2, 3)
    );
    assert_eq!(p.min_buffer, HumanDuration::from_secs(2));
    assert_eq!(p.region_header, None);
    assert_eq!((p.demote_after_reports, p.exclude_after_reports), (2, 3));
    assert_eq!(p.peer_timeout, HumanDuration::from_secs(3));
    assert!(p.networks.is_empty());
    let h = &config.file.holdings;
    assert_eq!((h.max_per_swarm, h.max_viewers), (200_000, 1_000_000));
    assert_eq!(h.viewer_ttl, HumanDuration::from_secs(30));
    assert_eq!(config.file.routes[0].policy, "adaptive");
}

#[test]
fn a_full_p2p_section_with_networks_parses() {
    let text = r#"
[holdings]
ttl = "2m"
max_entries = 5000
max_per_swarm = 5000
max_viewers = 100
viewer_ttl = "1h"

[p2p]
announce_interval = "1m"
max_body_bytes = 1024
viewer_rate = 1000
viewer_burst = 1000
prefix_rate = 1
prefix_burst = 10000000
peers_per_hint = 16
seeders_per_segment = 1
hinted_segments = 0
min_buffer = "0s"
region_header = "X-Viewer-Region"
demote_after_reports = 5
exclude_after_reports = 5
peer_timeout = "100ms"

[[p2p.networks]]
name = "isp-a"
cidrs = ["10.0.0.0/8", "2001:db8::/32"]

[[p2p.networks]]
name = "isp_b-office"
cidrs = ["10.1.0.0/16"]

[[origins]]
name = "o"
url = "http://o.example"

[[routes]]
prefix = "/a/"
origin = "o"
policy = "cdn-only"

[[routes]]
prefix = "/b/"
origin = "o"
policy = "random"

[[routes]]
prefix = "/c/"
origin = "o"
policy = "locality"

[[routes]]
prefix = "/d/"
origin = "o"
policy = "adaptive"
"#;
    let config = parse(text, "t", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let f = &config.file;
    assert_eq!(f.holdings.max_per_swarm, 5000);
    assert_eq!(f.holdings.max_viewers, 100);
    assert_eq!(f.holdings.viewer_ttl, HumanDuration::from_secs(3600));
    let p = &f.p2p;
    assert_eq!(p.announce_interval, HumanDuration::from_secs(60));
    assert_eq!(p.max_body_bytes, 1024);
    assert_eq!((p.viewer_rate, p.viewer_burst), (1000, 1000));
    assert_eq!((p.prefix_rate, p.prefix_burst), (1, 10_000_000));
    assert_eq!(
        (p.peers_per_hint, p.seeders_per_segment, p.hinted_segments),
        (16, 1, 0)
    );
    assert_eq!(p.min_buffer, HumanDuration::from_secs(0));
    assert_eq!(p.region_header.as_deref(), Some("X-Viewer-Region"));
    assert_eq!((p.demote_after_reports, p.exclude_after_reports), (5, 5));
    assert_eq!(p.peer_timeout, HumanDuration::from_millis(100));
    assert_eq!(
        p.networks,
        vec![
            NetworkConfig {
                name: "isp-a".into(),
                cidrs: vec!["10.0.0.0/8".into(), "2001:db8::/32".into()],
            },
            NetworkConfig {
                name: "isp_b-office".into(),
                cidrs: vec!["10.1.0.0/16".into()],
            },
        ]
    );
    let policies: Vec<&str> = f.routes.iter().map(|r| r.policy.as_str()).collect();
    assert_eq!(policies, ["cdn-only", "random", "locality", "adaptive"]);

    let table = p.network_table();
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert_eq!(network_of(&table, ip("10.1.2.3")), 2);
    assert_eq!(network_of(&table, ip("10.2.0.1")), 1);
    assert_eq!(network_of(&table, ip("2001:db8::1")), 1);
    assert_eq!(network_of(&table, ip("192.0.2.1")), 0);
}

#[test]
fn network_table_puts_the_most_specific_prefix_first() {
    let net = |name: &str, cidrs: &[&str]| NetworkConfig {
        name: name.into(),
        cidrs: cidrs.iter().map(|&c| c.to_owned()).collect(),
    };
    let p = P2pConfig {
        networks: vec![
            net("wide", &["10.0.0.0/8", "2001:db8::/32", "0.0.0.0/0"]),
            net("narrow", &["10.1.0.0/16", "2001:db8:1::/48"]),
            // Same prefix length as "wide": the first listed wins. Host bits are dropped.
            net("late", &["10.9.9.9/8", "192.0.2.7/32"]),
        ],
        ..P2pConfig::default()
    };
    let table = p.network_table();
    let rows: Vec<(String, u16)> = table.iter().map(|(n, i)| (n.to_string(), *i)).collect();
    assert_eq!(
        rows,
        [
            ("2001:db8:1::/48".to_owned(), 2),
            ("2001:db8::/32".to_owned(), 1),
            ("192.0.2.7/32".to_owned(), 3),
            ("10.1.0.0/16".to_owned(), 2),
            ("10.0.0.0/8".to_owned(), 1),
            ("10.0.0.0/8".to_owned(), 3),
            ("0.0.0.0/0".to_owned(), 1),
        ]
    );
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert_eq!(network_of(&table, ip("10.1.255.255")), 2);
    assert_eq!(network_of(&table, ip("10.2.0.0")), 1);
    assert_eq!(network_of(&table, ip("192.0.2.7")), 3);
    assert_eq!(network_of(&table, ip("192.0.2.8")), 1);
    assert_eq!(network_of(&table, ip("2001:db8:1::5")), 2);
    assert_eq!(network_of(&table, ip("2001:db8:2::5")), 1);
    assert_eq!(network_of(&table, ip("2001:db9::1")), 0);
    // An IPv4-mapped IPv6 address (from a dual-stack socket) is its IPv4 address.
    assert_eq!(network_of(&table, ip("::ffff:10.1.0.1")), 2);
    // No networks: every viewer is in network 0.
    let empty = P2pConfig::default().network_table();
    assert!(empty.is_empty());
    assert_eq!(network_of(&empty, ip("10.1.0.1")), 0);
}

#[test]
fn p2p_holdings_and_policy_errors_are_reported_with_paths_and_lines() {
    let text = r#"
[holdings]
max_entries = 100
max_per_swarm = 101
max_viewers = 0
viewer_ttl = "2h"

[p2p]
announce_interval = "500ms"
max_body_bytes = 1023
viewer_rate = 0
viewer_burst = 10001
prefix_rate = 1000001
prefix_burst = 1000
peers_per_hint = 17
seeders_per_segment = 0
hinted_segments = 17
min_buffer = "61s"
region_header = "X Region"
demote_after_reports = 101
exclude_after_reports = 4
peer_timeout = "99ms"

[[p2p.networks]]
name = "a"
cidrs = ["10.0.0.0/8", "10.0.0.0/33", "example.com"]

[[p2p.networks]]
name = "a"
cidrs = []

[[p2p.networks]]
name = "bad name"
cidrs = ["192.0.2.1"]

[[origins]]
name = "o"
url = "http://o.example"

[[routes]]
prefix = "/"
origin = "o"
policy = "fastest"
"#;
    let errors = errors_of(text);
    let lines: Vec<(String, Option<usize>)> =
        errors.iter().map(|e| (e.path.clone(), e.line)).collect();
    let expected = [
        ("holdings.max_per_swarm", 4),
        ("holdings.max_viewers", 5),
        ("holdings.viewer_ttl", 6),
        ("p2p.announce_interval", 9),
        ("p2p.max_body_bytes", 10),
        ("p2p.viewer_rate", 11),
        ("p2p.viewer_burst", 12),
        ("p2p.prefix_rate", 13),
        ("p2p.prefix_burst", 14),
        ("p2p.peers_per_hint", 15),
        ("p2p.seeders_per_segment", 16),
        ("p2p.hinted_segments", 17),
        ("p2p.min_buffer", 18),
        ("p2p.region_header", 19),
        ("p2p.demote_after_reports", 20),
        ("p2p.exclude_after_reports", 21),
        ("p2p.peer_timeout", 22),
        ("p2p.networks[0].cidrs[1]", 26),
        ("p2p.networks[0].cidrs[2]", 26),
        ("p2p.networks[1].name", 29),
        ("p2p.networks[1].cidrs", 30),
        ("p2p.networks[2].name", 33),
        ("p2p.networks[2].cidrs[0]", 34),
        ("routes[0].policy", 43),
    ];
    for (path, line) in expected {
        assert!(
            lines.contains(&(path.to_owned(), Some(line))),
            "missing {path} at line {line}: {lines:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{lines:#?}");
    let message = |path: &str| {
        errors
            .iter()
            .find(|e| e.path == path)
            .map(|e| e.message.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        message("routes[0].policy"),
        r#""fastest" must be "cdn-only", "random", "locality" or "adaptive""#
    );
    assert!(
        message("p2p.exclude_after_reports").contains("p2p.demote_after_reports"),
        "{errors:#?}"
    );
    assert!(
        message("p2p.prefix_burst").contains("p2p.prefix_rate"),
        "{errors:#?}"
    );
    assert!(
        message("p2p.networks[1].name").contains("used by another network"),
        "{errors:#?}"
    );
}

#[test]
fn unknown_keys_and_wrong_types_in_p2p_are_reported_with_paths() {
    let text = r#"
[p2p]
viewer_rate = "fast"

[[p2p.networks]]
name = "a"
cidr = "10.0.0.0/8"
"#;
    let errors = errors_of(text);
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.path == "p2p.viewer_rate" && e.line == Some(3)),
        "{rendered:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.path == "p2p.networks[0].cidr" && e.line == Some(7)),
        "{rendered:#?}"
    );
}

#[test]
fn docs_configuration_md_carries_the_current_reference() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let doc = std::fs::read_to_string(&path).expect("docs/configuration.md exists");
    assert!(
        doc.contains(reference_markdown().trim_end()),
        "docs/configuration.md is out of date: run scripts/gen-config-reference.sh"
    );
}

#[test]
#[ignore = "prints the reference for docs/configuration.md"]
fn print_reference() {
    print!("{}", reference_markdown());
}

#[test]
fn trusted_proxies_must_be_networks() {
    let errors =
        errors_of("[edge]\ntrusted_proxies = [\"10.0.0.0/8\", \"lb.example\", \"fd00::/8\"]\n");
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["edge.trusted_proxies[1]"]);
    assert_eq!(errors[0].line, Some(2));
    let ok = parse(
        "[edge]\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
        "t",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(ok.file.edge.trusted_proxies, ["10.0.0.0/8"]);
}
