//! The edge proxy as players and operators meet it: real `rilla proxy` and `rilla origin`
//! processes on loopback, requests over HTTP.

// Helpers here panic on failure: that is how a test reports it.
#![allow(clippy::unwrap_used)]

use std::{
    sync::{Arc, Barrier},
    time::Duration,
};

use rilla_tests::{
    http::{self, request},
    stack::{Origin, Proxy, ProxyConfig, free_port},
};

fn config_body(origin: &Origin) -> String {
    let down = free_port();
    format!(
        r#"
[cache]
manifest_ttl = "1s"
manifest_max_stale = "30s"

[[origins]]
name = "main"
url = "http://{origin}"
connect_timeout = "1s"
read_timeout = "2s"

[[origins]]
name = "down"
url = "http://127.0.0.1:{down}"
connect_timeout = "1s"
read_timeout = "1s"

[[routes]]
prefix = "/live/"
origin = "main"

[[routes]]
prefix = "/faults/"
origin = "main"

[[routes]]
prefix = "/down/"
origin = "down"

[[routes]]
prefix = "/private/"
origin = "main"
origin_prefix = "/live/"
access = "entry-token"
"#,
        origin = origin.addr
    )
}

fn start() -> (Origin, Proxy) {
    let origin = Origin::start();
    let proxy = Proxy::start(&ProxyConfig {
        body: config_body(&origin),
        tokens: "leeway = \"0s\"".into(),
        tls: false,
    });
    (origin, proxy)
}

/// The first URI line of a playlist that starts with `prefix`.
fn uri_line(playlist: &str, prefix: &str) -> String {
    playlist
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{playlist}"))
        .to_owned()
}

/// The last URI line of a playlist that starts with `prefix`.
fn last_uri_line(playlist: &str, prefix: &str) -> String {
    playlist
        .lines()
        .rfind(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{playlist}"))
        .to_owned()
}

/// A signed URL of the newest segment of the live stream, as a player gets it.
fn live_segment(proxy: &Proxy, channel: &str) -> String {
    let master = proxy.get(&format!("/live/{channel}/master.m3u8"));
    assert_eq!(master.status, 200, "{}", master.text());
    let variant = uri_line(&master.text(), "v180/");
    let media = proxy.get(&format!("/live/{channel}/{variant}"));
    assert_eq!(media.status, 200, "{}", media.text());
    let segment = last_uri_line(&media.text(), "seg-");
    format!("/live/{channel}/v180/{segment}")
}

#[test]
fn manifests_are_personalized_with_tokens_and_a_session() {
    let (origin, proxy) = start();
    let master = proxy.get("/live/ch1/master.m3u8");
    assert_eq!(master.status, 200);
    assert_eq!(master.header("cache-control"), Some("private, no-store"));
    let text = master.text();
    assert!(uri_line(&text, "v180/index.m3u8?rt=").len() > 100, "{text}");
    let variant = uri_line(&text, "v180/");
    let media = proxy.get(&format!("/live/ch1/{variant}")).text();
    assert!(media.contains("#EXT-X-RILLA-SESSION:VIEWER=\""), "{media}");
    assert!(uri_line(&media, "#EXT-X-MAP:URI=\"init.mp4?rt=").contains("rt="));
    // Each viewer gets a session of its own.
    let other = proxy.get("/live/ch1/master.m3u8").text();
    assert_ne!(uri_line(&other, "v180/"), variant);
    // The origin never saw a token.
    let last = origin
        .last_target("/live/ch1/v180/index.m3u8")
        .expect("fetched");
    assert!(!last.contains("rt="), "{last}");
    // LL-HLS blocking-reload parameters reach the origin and key the cache.
    let token = proxy.sign("v-ll", "/live/ch1/", "60s");
    let before = origin.count("/live/ch1/v180/index.m3u8");
    for msn in [5, 5, 6] {
        let target = format!("/live/ch1/v180/index.m3u8?_HLS_msn={msn}&_HLS_part=0&rt={token}");
        assert_eq!(proxy.get(&target).status, 200);
    }
    let last = origin
        .last_target("/live/ch1/v180/index.m3u8")
        .expect("fetched");
    assert_eq!(last, "/live/ch1/v180/index.m3u8?_HLS_msn=6&_HLS_part=0");
    assert_eq!(
        origin.count("/live/ch1/v180/index.m3u8"),
        before + 2,
        "msn=5 twice is one cache entry, msn=6 another"
    );
    // Browser players on other sites may fetch through the edge.
    assert_eq!(master.header("access-control-allow-origin"), Some("*"));
    let preflight = request(
        proxy.addr,
        "OPTIONS",
        "/live/ch1/v180/seg-1.m4s",
        &[
            ("Origin", "https://player.example"),
            ("Access-Control-Request-Headers", "range"),
        ],
        b"",
    )
    .unwrap();
    assert_eq!(preflight.status, 204);
    assert!(
        preflight
            .header("access-control-allow-headers")
            .unwrap()
            .contains("Range")
    );
    let mpd = proxy.get("/live/ch1/manifest.mpd");
    assert_eq!(mpd.status, 200);
    assert!(
        mpd.text().contains("seg-$Number$.m4s?rt="),
        "{}",
        mpd.text()
    );
}

#[test]
fn segments_are_served_with_range_head_and_cache_hits_and_recorded_as_holdings() {
    let (origin, proxy) = start();
    let segment = live_segment(&proxy, "ch1");
    let path = segment.split('?').next().unwrap().to_owned();
    let full = proxy.get(&segment);
    assert_eq!(full.status, 200, "{}", full.text());
    assert_eq!(full.header("x-rilla-cache"), Some("MISS"));
    let len = full.body.len();
    assert!(len > 1000);
    let again = proxy.get(&segment);
    assert_eq!(again.header("x-rilla-cache"), Some("HIT"));
    assert_eq!(again.body, full.body);
    assert_eq!(origin.count(&path), 1, "the second request was a cache hit");

    let part = request(
        proxy.addr,
        "GET",
        &segment,
        &[("Range", "bytes=10-19")],
        b"",
    )
    .unwrap();
    assert_eq!(part.status, 206);
    assert_eq!(part.body, full.body[10..20]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 10-19/{len}").as_str())
    );
    let head = request(proxy.addr, "HEAD", &segment, &[], b"").unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(len.to_string().as_str())
    );
    assert!(head.body.is_empty());
    let beyond = request(
        proxy.addr,
        "GET",
        &segment,
        &[("Range", &format!("bytes={len}-"))],
        b"",
    )
    .unwrap();
    assert_eq!(beyond.status, 416);

    // The edge hashed the segment as it passed and now tells every viewer its SHA-256.
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(&full.body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // Hints are worked out once per origin copy of the playlist, so the hash appears with
    // the next copy (the test config caches playlists for 1 s).
    let file = path.rsplit('/').next().unwrap();
    let hinted = |media: &str| {
        let lines: Vec<&str> = media.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with(file))
            .expect("segment still listed");
        lines[at - 1].starts_with("#EXT-X-RILLA-HINT:")
            && lines[at - 1].contains(&format!("SHA256={digest}"))
    };
    let mut media = String::new();
    for _ in 0..20 {
        media = proxy.get("/live/ch1/v180/index.m3u8").text();
        if hinted(&media) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(hinted(&media), "no hash hint before {file}:\n{media}");

    // The token is kept out of the origin request.
    let last = origin.last_target(&path).expect("fetched once");
    assert!(!last.contains("rt="), "{last}");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(proxy.metric("rilla_holdings", &[]) >= 1.0);
    assert!(proxy.metric("rilla_viewers", &[]) >= 1.0);
    assert!(proxy.metric("rilla_cache_lookups_total", &[("result", "hit")]) >= 1.0);
}

/// Builds a token that claims `alg: none`.
fn alg_none_token(real: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = real.split('.').nth(1).unwrap();
    format!(
        "{}.{payload}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#)
    )
}

#[test]
fn bad_tokens_are_rejected_counted_and_never_reach_the_origin() {
    let (origin, proxy) = start();
    let other_keys = tempfile::tempdir().unwrap();
    let other = other_keys.path().join("keys");
    let run = rilla_tests::rilla(
        &["token", "keygen", "--out", rilla_tests::path_str(&other)],
        None,
    );
    assert_eq!(run.code, 0);
    let foreign = rilla_tests::rilla(
        &[
            "token",
            "sign",
            "--keys",
            rilla_tests::path_str(&other),
            "--sub",
            "v",
            "--scope",
            "/live/ch1/",
        ],
        None,
    )
    .stdout
    .trim()
    .to_owned();
    let good = proxy.sign("v", "/live/ch1/", "60s");
    let expired = proxy.sign("v", "/live/ch1/", "1s");
    let ch2 = proxy.sign("someone-else", "/live/ch2/", "60s");
    let forged = {
        let (head_payload, sig) = good.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        format!("{head_payload}.{flipped}{}", &sig[1..])
    };
    std::thread::sleep(Duration::from_millis(1100));
    let seg = "/live/ch1/v180/seg-3.m4s";
    let cases = [
        ("missing", seg.to_owned()),
        ("expired", format!("{seg}?rt={expired}")),
        ("bad_signature", format!("{seg}?rt={forged}")),
        ("wrong_scope", format!("{seg}?rt={ch2}")),
        ("malformed", format!("{seg}?rt={}", alg_none_token(&good))),
        ("unknown_kid", format!("{seg}?rt={foreign}")),
        (
            "tampered_path",
            format!("/live/ch1/%2e%2e/ch2/v180/seg-3.m4s?rt={good}"),
        ),
        (
            "tampered_path",
            format!("/live/ch1/v180/..%2Fseg-3.m4s?rt={good}"),
        ),
    ];
    let before = origin.total();
    for (reason, target) in &cases {
        let resp = proxy.get(target);
        assert_eq!(resp.status, 403, "{reason}: {}", resp.text());
        let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(body["reason"], *reason, "{target}");
    }
    assert_eq!(
        origin.total(),
        before,
        "a rejected request reached the origin"
    );
    for reason in [
        "missing",
        "expired",
        "bad_signature",
        "wrong_scope",
        "malformed",
        "unknown_kid",
    ] {
        assert_eq!(
            proxy.metric("rilla_token_rejections_total", &[("reason", reason)]),
            1.0,
            "{reason}"
        );
    }
    assert_eq!(
        proxy.metric(
            "rilla_token_rejections_total",
            &[("reason", "tampered_path")]
        ),
        2.0
    );
    // The genuine token still works.
    assert_eq!(proxy.get(&format!("{seg}?rt={good}")).status, 200);
}

/// Players reload a media playlist with the token from the multivariant playlist for as
/// long as they play: an expired but genuine token renews the session on manifests only.
#[test]
fn an_expired_token_renews_the_session_on_manifest_reloads_but_not_on_segments() {
    let (_origin, proxy) = start();
    let short = proxy.sign("viewer-long", "/live/ch1/", "1s");
    std::thread::sleep(Duration::from_millis(2100));
    let media = proxy.get(&format!("/live/ch1/v180/index.m3u8?rt={short}"));
    assert_eq!(media.status, 200, "{}", media.text());
    let text = media.text();
    assert!(text.contains("VIEWER=\"viewer-long\""), "{text}");
    let fresh = uri_line(&text, "seg-");
    assert!(
        !fresh.contains(&short),
        "the playlist must carry a fresh token"
    );
    assert_eq!(proxy.get(&format!("/live/ch1/v180/{fresh}")).status, 200);
    let stale_segment = proxy.get(&format!("/live/ch1/v180/init.mp4?rt={short}"));
    assert_eq!(stale_segment.status, 403);
    // Renewal keeps the scope: the expired token cannot open another stream.
    assert_eq!(
        proxy
            .get(&format!("/live/ch2/v180/index.m3u8?rt={short}"))
            .status,
        403
    );
}

#[test]
fn entry_token_routes_need_a_platform_token_for_the_first_manifest() {
    let (_origin, proxy) = start();
    let refused = proxy.get("/private/ch1/master.m3u8");
    assert_eq!(refused.status, 403);
    let entry = proxy.sign("platform-viewer-9", "/private/ch1/", "60s");
    let ok = proxy.get(&format!("/private/ch1/master.m3u8?rt={entry}"));
    assert_eq!(ok.status, 200, "{}", ok.text());
    let variant = uri_line(&ok.text(), "v180/");
    let media = proxy.get(&format!("/private/ch1/{variant}"));
    assert!(
        media.text().contains("VIEWER=\"platform-viewer-9\""),
        "{}",
        media.text()
    );
}

#[test]
fn fifty_concurrent_misses_make_one_origin_fetch() {
    let (origin, proxy) = start();
    let token = proxy.sign("v", "/live/ch1/", "60s");
    let path = "/live/ch1/v360/seg-2.m4s";
    let target = format!("{path}?rt={token}");
    let barrier = Arc::new(Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let barrier = barrier.clone();
            let target = target.clone();
            let addr = proxy.addr;
            std::thread::spawn(move || {
                barrier.wait();
                http::get(addr, &target)
            })
        })
        .collect();
    let responses: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(responses.iter().all(|r| r.status == 200));
    assert!(responses.windows(2).all(|w| w[0].body == w[1].body));
    assert_eq!(origin.count(path), 1, "coalescing failed");
}

#[test]
fn origin_faults_get_clear_errors_nothing_bad_is_cached_and_other_streams_play() {
    let (origin, mut proxy) = start();
    let token = proxy.sign("v", "/faults/", "60s");
    let down = proxy.sign("v", "/down/", "60s");
    let cases: Vec<(String, u16, &str)> = vec![
        (format!("/down/a/seg-1.m4s?rt={down}"), 502, "origin down"),
        (
            format!("/faults/slow/4000/seg.m4s?rt={token}"),
            504,
            "slower than the timeout",
        ),
        (format!("/faults/status/500/seg.m4s?rt={token}"), 502, "500"),
        (
            format!("/faults/truncated/seg.m4s?rt={token}"),
            502,
            "truncated body",
        ),
        (
            format!("/faults/long-length/seg.m4s?rt={token}"),
            504,
            "wrong Content-Length",
        ),
        (
            format!("/faults/garbage/seg.m4s?rt={token}"),
            502,
            "garbage",
        ),
        (
            format!("/faults/close/seg.m4s?rt={token}"),
            502,
            "closed connection",
        ),
        ("/faults/huge.m3u8".to_owned(), 502, "50 MB manifest"),
        ("/faults/bomb.mpd".to_owned(), 502, "XML bomb"),
        ("/faults/deep.mpd".to_owned(), 502, "deep XML"),
        (
            "/faults/notamanifest.m3u8".to_owned(),
            502,
            "not a manifest",
        ),
    ];
    for (target, status, what) in &cases {
        let resp = proxy.get(target);
        assert_eq!(resp.status, *status, "{what}: {}", resp.text());
        let body: serde_json::Value = serde_json::from_slice(&resp.body)
            .unwrap_or_else(|_| panic!("{what}: error body is not JSON: {}", resp.text()));
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
        // Nothing was cached: asking again reaches the origin again.
        if target.starts_with("/faults/") && !target.contains(".m3u8") && !target.contains(".mpd") {
            let path = target.split('?').next().unwrap();
            let before = origin.count(path);
            let _ = proxy.get(target);
            assert_eq!(
                origin.count(path),
                before + 1,
                "{what}: an error was cached"
            );
        }
        // Another stream on the same proxy is unaffected.
        let seg = live_segment(&proxy, "ch2");
        assert_eq!(proxy.get(&seg).status, 200, "after {what}");
    }
    assert!(proxy.process.is_running());
}

#[test]
fn manifests_are_served_stale_while_the_origin_is_down() {
    let origin = Origin::start();
    let proxy = Proxy::start(&ProxyConfig {
        body: config_body(&origin),
        tokens: String::new(),
        tls: false,
    });
    assert_eq!(proxy.get("/live/ch1/master.m3u8").status, 200);
    drop(origin);
    std::thread::sleep(Duration::from_millis(1500));
    let stale = proxy.get("/live/ch1/master.m3u8");
    assert_eq!(stale.status, 200, "{}", stale.text());
    assert_eq!(stale.header("x-rilla-stale"), Some("1"));
    assert!(stale.text().contains("rt="));
    assert_eq!(proxy.metric("rilla_stale_manifests_total", &[]), 1.0);
    // A manifest never fetched before gets a clear error.
    let never = proxy.get("/live/ch9/master.m3u8");
    assert_eq!(never.status, 502, "{}", never.text());
}

fn write_config_with_extra_route(proxy: &Proxy, origin: &Origin, extra: &str) {
    let text = std::fs::read_to_string(proxy.config_path()).unwrap();
    let base = text.split("\n[cache]").next().unwrap();
    std::fs::write(
        proxy.config_path(),
        format!("{base}{}{extra}", config_body(origin)),
    )
    .unwrap();
}

#[test]
fn reload_changes_rules_without_failing_requests_and_refuses_invalid_configs() {
    let (origin, proxy) = start();
    let segment = live_segment(&proxy, "ch1");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let looper = {
        let (stop, failures, done) = (stop.clone(), failures.clone(), done.clone());
        let addr = proxy.addr;
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match request(addr, "GET", &segment, &[], b"") {
                    Ok(r) if r.status == 200 => {}
                    _ => {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    // Let the client get going before the first reload.
    while done.load(std::sync::atomic::Ordering::Relaxed) < 3 {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(proxy.get("/alias/ch1/master.m3u8").status, 404);
    write_config_with_extra_route(
        &proxy,
        &origin,
        "\n[[routes]]\nprefix = \"/alias/\"\norigin = \"main\"\norigin_prefix = \"/live/\"\n",
    );
    let reload = request(proxy.admin, "POST", "/admin/reload", &[], b"").unwrap();
    assert_eq!(reload.status, 200, "{}", reload.text());
    assert_eq!(proxy.get("/alias/ch1/master.m3u8").status, 200);

    // An invalid file is refused with the checker's errors; the old rules keep serving.
    let good = std::fs::read_to_string(proxy.config_path()).unwrap();
    std::fs::write(
        proxy.config_path(),
        format!("{good}\n[[routes]]\nprefix = \"nope\"\norigin = \"missing\"\n"),
    )
    .unwrap();
    let refused = request(proxy.admin, "POST", "/admin/reload", &[], b"").unwrap();
    assert_eq!(refused.status, 400);
    let body: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
    let errors = body["errors"].to_string();
    assert!(
        errors.contains("routes[") && errors.contains("line "),
        "{errors}"
    );
    assert_eq!(proxy.get("/alias/ch1/master.m3u8").status, 200);

    // SIGHUP reloads too: restore the good file without the alias.
    write_config_with_extra_route(&proxy, &origin, "");
    proxy.process.signal("HUP");
    let mut gone = false;
    for _ in 0..50 {
        if proxy.get("/alias/ch1/master.m3u8").status == 404 {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone, "SIGHUP did not reload");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    looper.join().unwrap();
    let done = done.load(std::sync::atomic::Ordering::Relaxed);
    println!("{done} segment requests while reloading");
    assert_eq!(
        failures.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "requests failed during reloads"
    );
    assert_eq!(
        proxy.metric("rilla_config_reloads_total", &[("result", "refused")]),
        1.0
    );
}

#[test]
fn health_jwks_admin_config_and_tls_with_http2() {
    let origin = Origin::start();
    let mut proxy = Proxy::start(&ProxyConfig {
        body: config_body(&origin),
        tokens: String::new(),
        tls: true,
    });
    assert_eq!(proxy.get("/readyz").status, 200);
    let jwks: serde_json::Value =
        serde_json::from_slice(&proxy.get("/.well-known/jwks.json").body).unwrap();
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    let config = http::get(proxy.admin, "/admin/config").text();
    assert!(
        config.contains("[[routes]]") && config.contains("<redacted>"),
        "{config}"
    );
    assert_eq!(
        proxy.get("/admin/config").status,
        404,
        "admin endpoints stay off the public listener"
    );

    let tls = proxy.tls_addr.unwrap();
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
        ])
        .arg(format!("https://{tls}/live/ch1/master.m3u8"))
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2 200");

    let took = proxy.process.terminate(Duration::from_secs(30));
    assert!(took.is_some(), "the proxy did not stop on SIGTERM");
}
