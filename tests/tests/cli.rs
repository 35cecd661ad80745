//! The `rilla` command as operators use it: keys, tokens, config files, manifests.

use rilla_tests::{KeyDir, path_str, rilla};

fn sign(keys: &KeyDir, extra: &[&str]) -> String {
    let keys_path = keys.keys();
    let mut args = vec!["token", "sign", "--keys", path_str(&keys_path)];
    args.extend_from_slice(extra);
    let run = rilla(&args, None);
    assert_eq!(run.code, 0, "sign failed: {run:?}");
    run.stdout.trim().to_owned()
}

fn verify(keys: &KeyDir, url: &str, extra: &[&str]) -> rilla_tests::Run {
    let keys_path = keys.keys();
    let mut args = vec!["token", "verify", "--keys", path_str(&keys_path), url];
    args.extend_from_slice(extra);
    rilla(&args, None)
}

fn assert_rejected(run: &rilla_tests::Run, reason: &str) {
    assert_eq!(run.code, 1, "expected a rejection ({reason}): {run:?}");
    assert!(
        run.stderr.contains(&format!("rejected: {reason}:")),
        "expected reason {reason}: {run:?}"
    );
}

#[test]
fn token_sign_then_verify_prints_the_claims() {
    let keys = KeyDir::new();
    let token = sign(
        &keys,
        &["--sub", "viewer-1", "--scope", "/live/ch1/", "--ttl", "60s"],
    );
    let run = verify(
        &keys,
        &format!("https://edge.example/live/ch1/seg-1.ts?a=1&rt={token}"),
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let claims: serde_json::Value = serde_json::from_str(&run.stdout).expect("claims are JSON");
    assert_eq!(claims["sub"], "viewer-1");
    assert_eq!(claims["scope"], "/live/ch1/");
    let ttl = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(ttl, 60);
}

#[test]
fn token_verify_names_every_reason() {
    let keys = KeyDir::new();
    let other_keys = KeyDir::new();
    let token = sign(&keys, &["--sub", "v", "--scope", "/live/ch1/"]);
    let url = |path: &str, t: &str| format!("https://edge.example{path}?rt={t}");

    assert_rejected(
        &verify(&keys, "https://edge.example/live/ch1/a.ts", &[]),
        "missing",
    );
    assert_rejected(
        &verify(&keys, &url("/live/ch1/a.ts", "not-a-token"), &[]),
        "malformed",
    );
    assert_rejected(
        &verify(&keys, &url("/live/ch2/a.ts", &token), &[]),
        "wrong_scope",
    );
    assert_rejected(
        &verify(&keys, &url("/live/ch10/a.ts", &token), &[]),
        "wrong_scope",
    );
    assert_rejected(
        &verify(&keys, &url("/live/ch1/%2e%2e/ch2/a.ts", &token), &[]),
        "tampered_path",
    );
    assert_rejected(
        &verify(&other_keys, &url("/live/ch1/a.ts", &token), &[]),
        "unknown_kid",
    );
    assert_rejected(
        &verify(
            &keys,
            &url("/live/ch1/a.ts", &token),
            &["--aud", "someone-else"],
        ),
        "wrong_audience",
    );
    // Another key published under the same kid: the signature no longer verifies.
    let forged = {
        let (head_payload, sig) = token.rsplit_once('.').unwrap();
        let mut sig: Vec<char> = sig.chars().collect();
        sig[3] = if sig[3] == 'A' { 'B' } else { 'A' };
        format!("{head_payload}.{}", sig.into_iter().collect::<String>())
    };
    assert_rejected(
        &verify(&keys, &url("/live/ch1/a.ts", &forged), &[]),
        "bad_signature",
    );
}

#[test]
fn token_verify_rejects_expired_and_ip_bound_tokens() {
    let keys = KeyDir::new();
    let bound = sign(
        &keys,
        &[
            "--sub",
            "v",
            "--scope",
            "/a/",
            "--ip-prefix",
            "203.0.113.7/24",
        ],
    );
    let url = format!("https://edge.example/a/x.ts?rt={bound}");
    assert_eq!(
        verify(&keys, &url, &["--client-ip", "203.0.113.99"]).code,
        0
    );
    assert_rejected(
        &verify(&keys, &url, &["--client-ip", "198.51.100.1"]),
        "wrong_client",
    );

    let short = sign(&keys, &["--sub", "v", "--scope", "/a/", "--ttl", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let url = format!("https://edge.example/a/x.ts?rt={short}");
    assert_rejected(&verify(&keys, &url, &["--leeway", "0s"]), "expired");
}

#[test]
fn config_example_passes_config_check() {
    let example = rilla(&["config", "example"], None);
    assert_eq!(example.code, 0, "{example:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rilla.toml");
    std::fs::write(&file, &example.stdout).unwrap();
    let check = rilla(&["config", "check", path_str(&file)], None);
    assert_eq!(check.code, 0, "{check:?}\n{}", example.stdout);
    assert!(check.stdout.contains("OK"));
}

#[test]
fn config_check_reports_every_error_with_key_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[tokens]\nttl = \"48h\"\nquery_param = \"a b\"\n\n[[origins]]\nname = \"o\"\nurl = \"ftp://x\"\n",
    )
    .unwrap();
    let check = rilla(&["config", "check", path_str(&file)], None);
    assert_eq!(check.code, 1, "{check:?}");
    for expected in [
        "line 2: tokens.ttl:",
        "line 3: tokens.query_param:",
        "line 7: origins[0].url:",
    ] {
        assert!(
            check.stderr.contains(expected),
            "{expected:?} missing from {}",
            check.stderr
        );
    }
}

/// Every URI of the personalized playlist that points at the edge carries a token that
/// `rilla token verify` accepts for exactly that URI's path.
#[test]
fn manifest_rewrite_signs_uris_that_verify() {
    let keys = KeyDir::new();
    let playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.0,\nseg-7.m4s\n#EXTINF:2.0,\nhttps://foreign.example/seg-8.m4s\n";
    let keys_path = keys.keys();
    let run = rilla(
        &[
            "manifest",
            "rewrite",
            "--keys",
            path_str(&keys_path),
            "--url",
            "https://edge.example/live/ch1/index.m3u8",
            "--viewer",
            "viewer-3",
        ],
        Some(playlist),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let out = run.stdout;
    assert!(
        out.contains("https://foreign.example/seg-8.m4s\n"),
        "foreign URI untouched:\n{out}"
    );
    assert!(
        out.contains("#EXT-X-RILLA-SESSION:VIEWER=\"viewer-3\""),
        "{out}"
    );
    let segment = out
        .lines()
        .find(|l| l.starts_with("seg-7.m4s?rt="))
        .expect("signed segment");
    let good = verify(
        &keys,
        &format!("https://edge.example/live/ch1/{segment}"),
        &[],
    );
    assert_eq!(good.code, 0, "{good:?}");
    let elsewhere = verify(
        &keys,
        &format!("https://edge.example/live/ch2/{segment}"),
        &[],
    );
    assert_rejected(&elsewhere, "wrong_scope");
}

#[test]
fn manifest_rewrite_refuses_hostile_input_with_a_clear_error() {
    let keys = KeyDir::new();
    let keys_path = keys.keys();
    let args = [
        "manifest",
        "rewrite",
        "--keys",
        path_str(&keys_path),
        "--url",
        "https://edge.example/a/manifest.mpd",
    ];
    let bomb = b"<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>\n<MPD>&lol2;</MPD>\n";
    let run = rilla(&args, Some(bomb));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.to_lowercase().contains("doctype"), "{run:?}");

    let run = rilla(&args, Some(b"hello, I am not a manifest"));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("not a manifest"), "{run:?}");
}
