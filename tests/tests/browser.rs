//! A real player through the edge: hls.js plays the live stream in headless Chromium for
//! 20 seconds from a page on another origin, and the playhead must keep moving.
//!
//! Needs Node.js, `tests/browser/node_modules` (`npm ci --prefix tests/browser`) and
//! Debian's `chromium`; `./scripts/test.sh` installs them. Without them this test fails (it
//! never passes silently). The driver is `tests/browser/play.mjs`.

use std::{
    io::Read as _,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use rilla_tests::{
    http::{HttpResponse, request},
    stack::{Origin, Proxy, ProxyConfig},
};
use serde_json::Value;

/// How long the browser plays.
const SECONDS: u64 = 20;
/// The driver is killed (with its browser) after this long.
const HARD_LIMIT: Duration = Duration::from_secs(90);
/// A playhead still for longer than this after playback started is a stall.
const MAX_STILL_MS: f64 = 3000.0;
/// Playback must start within this long after the page asks for the stream.
const MAX_STARTUP_MS: f64 = 10_000.0;
/// An origin, as a browser sends it, that is not the edge's.
const PAGE_ORIGIN: &str = "http://player.example";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Fails, naming what is missing, unless node, the npm packages and Chromium are there.
fn require_browser_tools() {
    let dir = browser_dir();
    let mut missing = Vec::new();
    if !Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        missing.push("`node` (Node.js 20) on PATH".to_owned());
    }
    for file in [
        "node_modules/playwright-core/package.json",
        "node_modules/hls.js/dist/hls.min.js",
    ] {
        if !dir.join(file).exists() {
            missing.push(format!("{}", dir.join(file).display()));
        }
    }
    if !chromium_path().exists() {
        missing.push(format!(
            "{} (Debian package chromium)",
            chromium_path().display()
        ));
    }
    assert!(
        missing.is_empty(),
        "the browser test cannot run: missing {}.\nRun ./scripts/test.sh (it installs chromium and \
         runs `npm ci --prefix tests/browser`), then run this test again.",
        missing.join(", ")
    );
}

fn start_stack() -> (Origin, Proxy) {
    let origin = Origin::start();
    let body = format!(
        r#"
[[origins]]
name = "main"
url = "http://{origin}"
connect_timeout = "1s"
read_timeout = "2s"

[[routes]]
prefix = "/live/"
origin = "main"
"#,
        origin = origin.addr
    );
    let proxy = Proxy::start(&ProxyConfig {
        body,
        tokens: String::new(),
        tls: false,
    });
    (origin, proxy)
}

fn get_from_page(proxy: &Proxy, target: &str) -> HttpResponse {
    request(proxy.addr, "GET", target, &[("Origin", PAGE_ORIGIN)], b"")
        .unwrap_or_else(|e| panic!("GET {target}: {e}"))
}

/// The first line of `text` starting with `prefix`.
fn line_starting(text: &str, prefix: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{text}"))
        .to_owned()
}

/// What a page on another origin needs from the edge, checked over plain HTTP so that a
/// missing header is named exactly rather than seen as a failed load in the browser.
fn check_cors(proxy: &Proxy) {
    let mut problems = Vec::new();
    let mut check = |what: &str, resp: &HttpResponse| {
        let allowed = resp.header("access-control-allow-origin");
        if !matches!(allowed, Some("*" | PAGE_ORIGIN)) {
            problems.push(format!(
                "{what}: status {}, Access-Control-Allow-Origin {allowed:?}",
                resp.status
            ));
        }
    };
    let master = get_from_page(proxy, "/live/ch1/master.m3u8");
    assert_eq!(master.status, 200, "master playlist: {}", master.text());
    check("master playlist", &master);
    let variant = line_starting(&master.text(), "v180/");
    let media = get_from_page(proxy, &format!("/live/ch1/{variant}"));
    assert_eq!(media.status, 200, "media playlist: {}", media.text());
    check("media playlist", &media);
    let segment = format!("/live/ch1/v180/{}", line_starting(&media.text(), "seg-"));
    let seg = get_from_page(proxy, &segment);
    assert_eq!(seg.status, 200, "segment: {}", seg.text());
    check("segment", &seg);
    // hls.js sends plain GETs, which need no preflight; players that send Range or CMCD
    // headers do, so the preflight must be answered too.
    let preflight = request(
        proxy.addr,
        "OPTIONS",
        &segment,
        &[
            ("Origin", PAGE_ORIGIN),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "range"),
        ],
        b"",
    )
    .expect("OPTIONS answered");
    check("OPTIONS preflight", &preflight);
    let methods = preflight
        .header("access-control-allow-methods")
        .unwrap_or("");
    let headers = preflight
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    if !(200..300).contains(&preflight.status)
        || !methods.contains("GET")
        || !headers.contains("range")
    {
        problems.push(format!(
            "OPTIONS preflight: status {}, Access-Control-Allow-Methods {methods:?}, \
             Access-Control-Allow-Headers {headers:?}",
            preflight.status
        ));
    }
    assert!(
        problems.is_empty(),
        "CORS: a player page on another origin cannot load the stream through the edge.\n{}\n\
         Needed: `Access-Control-Allow-Origin: *` (or the page's origin) on every manifest and \
         segment response (200, 206, 304 and errors alike), and an answer to OPTIONS (204 with \
         Access-Control-Allow-Origin, Access-Control-Allow-Methods: GET, HEAD, OPTIONS and \
         Access-Control-Allow-Headers including Range).",
        problems.join("\n")
    );
}

/// Runs `play.mjs URL SECONDS` in its own process group, killing the group after
/// [`HARD_LIMIT`]; returns the JSON line it printed.
fn play(url: &str) -> Value {
    let script = browser_dir().join("play.mjs");
    let mut child = Command::new("node")
        .arg(&script)
        .arg(url)
        .arg(SECONDS.to_string())
        .current_dir(browser_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .expect("node starts");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for node") {
            break status;
        }
        if started.elapsed() > HARD_LIMIT {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "play.mjs did not finish within {} s; killed it and its browser",
                HARD_LIMIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = reader.join().expect("stdout reader");
    let line = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("play.mjs ({status}) printed no JSON line; stdout:\n{out}"));
    let result: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("play.mjs printed bad JSON ({e}):\n{line}"));
    if let Some(err) = result.get("setupError") {
        panic!("play.mjs could not run the browser ({status}): {err}");
    }
    assert!(status.success(), "play.mjs exited with {status}: {line}");
    result
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// `(time in ms since the page loaded, playhead in seconds)` for each sample.
fn samples(result: &Value) -> Vec<(f64, f64)> {
    result["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| (num(s, "t").expect("t"), num(s, "ct").expect("ct")))
        .collect()
}

/// The longest time the playhead stood still from `from_ms` on, with where it stood.
fn longest_still(samples: &[(f64, f64)], from_ms: f64) -> (f64, f64) {
    let after: Vec<_> = samples.iter().filter(|(t, _)| *t >= from_ms).collect();
    let mut longest = (0.0, 0.0);
    let mut i = 0;
    while i < after.len() {
        let mut j = i;
        while j + 1 < after.len() && after[j + 1].1 == after[i].1 {
            j += 1;
        }
        let still = after[j].0 - after[i].0;
        if still > longest.0 {
            longest = (still, after[i].1);
        }
        i = j + 1;
    }
    longest
}

#[test]
fn hls_js_plays_the_live_stream_through_the_edge_without_stalling() {
    require_browser_tools();
    let (_origin, proxy) = start_stack();
    check_cors(&proxy);

    let url = format!("http://{}/live/ch1/master.m3u8", proxy.addr);
    let result = play(&url);

    let samples = samples(&result);
    let startup = num(&result, "startupMs");
    let errors = &result["errors"];
    let network = &result["network"];
    eprintln!(
        "browser: Chromium {}, hls.js {}, page {} -> edge {}",
        result["browserVersion"], result["hlsVersion"], result["pageOrigin"], proxy.addr
    );
    eprintln!(
        "startup: {startup:?} ms to playing (manifest parsed {:?} ms, first fragment {:?} ms)",
        num(&result, "manifestParsedMs"),
        num(&result, "firstFragLoadedMs")
    );
    eprintln!(
        "samples (ms, currentTime): {}",
        samples
            .iter()
            .map(|(t, ct)| format!("{t:.0}:{ct:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!(
        "loaded: {} bytes in {} fragments (by level {}), levels {}, switches {}",
        result["bytes"],
        result["fragments"],
        result["fragmentsByLevel"],
        result["levels"],
        result["levelSwitches"]
    );
    eprintln!(
        "responses from the edge by status {}, Access-Control-Allow-Origin {}, waiting events {}",
        network["byStatus"], network["allowOrigin"], result["waitingEvents"]
    );
    eprintln!("hls.js errors: {errors}");

    // CORS as the browser saw it.
    let console = result["consoleErrors"].to_string();
    assert!(
        network["missingAllowOrigin"]
            .as_array()
            .is_some_and(Vec::is_empty)
            && !console.contains("CORS"),
        "CORS: responses without Access-Control-Allow-Origin {}; console {console}",
        network["missingAllowOrigin"]
    );
    assert_eq!(
        result["hlsSupported"],
        Value::Bool(true),
        "hls.js reports no Media Source Extensions in this Chromium"
    );
    let fatal: Vec<_> = errors
        .as_array()
        .expect("errors")
        .iter()
        .filter(|e| e["fatal"] == Value::Bool(true))
        .collect();
    assert!(fatal.is_empty(), "hls.js fatal errors: {fatal:?}");
    assert_eq!(
        result["videoErrors"].as_array().map(Vec::len),
        Some(0),
        "the video element reported errors: {}",
        result["videoErrors"]
    );
    assert_eq!(
        result["pageErrors"].as_array().map(Vec::len),
        Some(0),
        "the page threw: {}",
        result["pageErrors"]
    );

    // The playhead.
    let startup = startup
        .unwrap_or_else(|| panic!("playback never started in {SECONDS} s; samples {samples:?}"));
    assert!(
        startup <= MAX_STARTUP_MS,
        "playback took {startup} ms to start"
    );
    // Sample times count from the page's start, as `playingAtMs` does.
    let started_at = num(&result, "playingAtMs").expect("playingAtMs");
    let playing: Vec<_> = samples.iter().filter(|(t, _)| *t >= started_at).collect();
    assert!(
        playing.len() >= 5,
        "too few samples after playback started at {started_at} ms: {samples:?}"
    );
    let (first, last) = (playing[0], playing[playing.len() - 1]);
    let advanced = last.1 - first.1;
    let wall = (last.0 - first.0) / 1000.0;
    eprintln!(
        "playhead advanced {advanced:.2} s in {wall:.2} s of wall time after start ({:.2}x)",
        advanced / wall
    );
    assert!(
        advanced >= wall * 0.7,
        "the playhead advanced only {advanced:.2} s in {wall:.2} s: {samples:?}"
    );
    let (still, at) = longest_still(&samples, started_at);
    assert!(
        still <= MAX_STILL_MS,
        "the playhead stood still at {at} s for {still} ms after playback started: {samples:?}; \
         stalls reported {}",
        result["stalls"]
    );

    // The edge's view.
    let segments_ok = proxy.metric(
        "rilla_requests_total",
        &[("kind", "segment"), ("status", "200")],
    );
    let manifests_ok = proxy.metric(
        "rilla_requests_total",
        &[("kind", "manifest"), ("status", "200")],
    );
    // (+ 0.0: a sum over no samples is -0.0.)
    let rejections = proxy.metric("rilla_token_rejections_total", &[]) + 0.0;
    let served = proxy.metric("rilla_bytes_served_total", &[]);
    eprintln!(
        "edge: {segments_ok} segment and {manifests_ok} manifest requests served with 200, \
         {served} bytes served, {rejections} token rejections"
    );
    let fragments = result["fragments"].as_f64().unwrap_or(0.0);
    assert!(
        segments_ok >= fragments.max(5.0),
        "the edge served {segments_ok} segments with 200; hls.js loaded {fragments}"
    );
    assert!(manifests_ok >= 2.0, "manifests served: {manifests_ok}");
    assert_eq!(rejections, 0.0, "token rejections:\n{}", proxy.metrics());
}
