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
    ] {
        assert!(md.contains(&format!("| `{key}` |")), "{key} missing:\n{md}");
    }
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
