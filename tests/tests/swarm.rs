//! Real swarms through the real proxy and the built-in origin: `rilla swarm` runs the
//! peers, each following the live stream (2-second segments) like a player.

// Helpers here panic on failure: that is how a test reports it.
#![allow(clippy::unwrap_used)]

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use rilla_tests::{
    players::ffmpeg_copy,
    rilla_bin,
    stack::{Origin, Proxy, ProxyConfig},
};
use serde_json::Value;

fn start(policy: &str, p2p: &str) -> (Origin, Proxy) {
    let origin = Origin::start();
    let body = format!(
        r#"
[p2p]
announce_interval = "2s"
{p2p}

[[origins]]
name = "main"
url = "http://{origin}"

[[routes]]
prefix = "/live/"
origin = "main"
policy = "{policy}"
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

/// Runs `rilla swarm URL --json ARGS`, killing it if it overruns, and returns its
/// summary.
fn swarm(proxy: &Proxy, seconds: u64, args: &[&str]) -> Value {
    let url = format!("http://{}/live/ch1/master.m3u8", proxy.addr);
    let duration = format!("{seconds}s");
    let mut child = Command::new(rilla_bin())
        .args(["swarm", &url, "--json", "--duration", &duration])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let limit = Duration::from_secs(seconds + 60);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("rilla swarm overran {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rilla swarm failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

fn peers(v: &Value) -> &Vec<Value> {
    v["peers"].as_array().unwrap()
}

fn report(name: &str, s: &Value) {
    println!(
        "{name}: {} viewers, deflection {:.1}%, stalls {}, stall ratio {:.4}, TTFF p50 {} ms p95 {} ms, CDN {:.1} MB, peers {:.1} MB, hash failures {}",
        s["viewers"],
        f(s, "deflection") * 100.0,
        s["stalls"],
        f(s, "stall_ratio"),
        s["ttff_ms_p50"],
        s["ttff_ms_p95"],
        f(s, "bytes_cdn") / 1e6,
        f(s, "bytes_peer") / 1e6,
        s["hash_failures"],
    );
}

#[test]
fn twenty_viewers_deflect_most_bytes_without_stalls() {
    let (_origin, proxy) = start("adaptive", "");
    // 10 % of the viewers leave and come back each minute.
    let s = swarm(
        &proxy,
        60,
        &["--viewers", "20", "--join-rate", "4", "--churn", "10"],
    );
    report("20 viewers, 10 % churn per minute, 60 s", &s);
    assert!(f(&s, "deflection") >= 0.70, "deflection too low: {s}");
    assert_eq!(s["stalls"], 0, "{s}");
    assert_eq!(s["hash_failures"], 0, "{s}");
    assert_eq!(s["unverified_played"], 0, "{s}");
    // Every viewer that left came back and played again; leavers' summaries are kept.
    let all = peers(&s);
    let recoveries = s["churn_recoveries"].as_u64().unwrap() as usize;
    assert!(recoveries >= 1, "{s}");
    assert_eq!(all.len(), 20 + recoveries);
    for p in all {
        assert!(p["error"].is_null(), "{p}");
        assert!(p["ttff_ms"].is_u64(), "{p}");
    }
    let full = all.iter().filter(|p| f(p, "watched_s") >= 40.0).count();
    assert!(full >= 20 - recoveries, "{full} watched 40 s or more");
    // The edge saw the same thing: peer bytes reported, and a deflection gauge above 0.
    let peer_bytes = proxy.metric("rilla_p2p_reported_bytes_total", &[("source", "peer")]);
    assert!(peer_bytes > 0.0);
    assert!(proxy.metric("rilla_p2p_deflection_ratio", &[]) > 0.5);
    println!(
        "edge: peer bytes reported {:.1} MB, deflection gauge {:.2}",
        peer_bytes / 1e6,
        proxy.metric("rilla_p2p_deflection_ratio", &[])
    );
}

#[test]
fn a_lying_peer_is_detected_by_its_victims_and_excluded() {
    // Random peer choice names the liar as often as anyone: its victims must catch it.
    // Two distinct victims' reports exclude it (demotion and exclusion coincide here;
    // the unit tests of the index cover them apart).
    let (_origin, proxy) = start(
        "random",
        "peers_per_hint = 2\ndemote_after_reports = 2\nexclude_after_reports = 2",
    );
    // The first viewer to join serves corrupted bytes.
    let s = swarm(
        &proxy,
        40,
        &["--viewers", "8", "--join-rate", "4", "--liars", "1"],
    );
    report("8 viewers with one liar, 40 s", &s);
    for p in peers(&s) {
        println!(
            "  viewer {}: uploaded {:.1} MB, {} segments from peers, {} hash failures",
            p["viewer"],
            f(p, "bytes_uploaded") / 1e6,
            p["segments_from_peers"],
            p["hash_failures"]
        );
    }
    let failures = s["hash_failures"].as_u64().unwrap();
    assert!(failures >= 2, "victims noticed the liar: {s}");
    assert_eq!(
        s["unverified_played"], 0,
        "nothing corrupted was played: {s}"
    );
    assert_eq!(s["stalls"], 0, "victims fell back in time: {s}");
    let victims = peers(&s)[1..]
        .iter()
        .filter(|p| p["hash_failures"].as_u64().unwrap() > 0)
        .count();
    assert!(victims >= 2, "{victims} victims");
    // Distinct victims' reports excluded the liar, and it stopped being named: the
    // failures stop well short of one per victim and segment.
    println!(
        "edge: hint outcomes failed {}, used {}; sanctions demoted {}, excluded {}",
        proxy.metric("rilla_p2p_hint_outcomes_total", &[("outcome", "failed")]),
        proxy.metric("rilla_p2p_hint_outcomes_total", &[("outcome", "used")]),
        proxy.metric("rilla_p2p_sanctions_total", &[("action", "demoted")]),
        proxy.metric("rilla_p2p_sanctions_total", &[("action", "excluded")]),
    );
    assert!(proxy.metric("rilla_p2p_sanctions_total", &[("action", "excluded")]) >= 1.0);
    let segments_from_peers: u64 = peers(&s)
        .iter()
        .map(|p| p["segments_from_peers"].as_u64().unwrap())
        .sum();
    assert!(
        failures * 4 < segments_from_peers,
        "{failures} failures vs {segments_from_peers} good peer segments"
    );
    println!("liar: {failures} hash failures across {victims} victims, then excluded");
}

#[test]
fn half_the_viewers_killed_mid_run_the_rest_play_on() {
    let (_origin, proxy) = start("adaptive", "");
    let s = swarm(
        &proxy,
        50,
        &[
            "--viewers",
            "16",
            "--join-rate",
            "4",
            "--kill-half-after",
            "20s",
        ],
    );
    report("16 viewers, half killed at 20 s, 50 s", &s);
    assert_eq!(s["killed"], 8);
    let survivors = peers(&s);
    assert_eq!(survivors.len(), 8);
    for p in survivors {
        assert_eq!(p["stalls"], 0, "a survivor stalled: {p}");
        assert!(f(p, "watched_s") >= 35.0, "{p}");
    }
    assert!(f(&s, "deflection") > 0.3, "{s}");
}

#[test]
fn a_viewer_without_p2p_and_a_plain_player_share_the_swarm() {
    let (_origin, proxy) = start("adaptive", "");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ffmpeg.mp4");
    let url = format!("http://{}/live/ch1/master.m3u8", proxy.addr);
    let (s, ffmpeg) = std::thread::scope(|scope| {
        let ff = scope.spawn(|| ffmpeg_copy(&url, 20, &out, Duration::from_secs(90)));
        let s = swarm(
            &proxy,
            30,
            &[
                "--viewers",
                "6",
                "--join-rate",
                "3",
                "--cdn-only-viewers",
                "1",
            ],
        );
        (s, ff.join().unwrap())
    });
    report("6 viewers (one without P2P) beside ffmpeg, 30 s", &s);
    assert!(ffmpeg.success, "ffmpeg failed: {}", ffmpeg.stderr);
    assert!(
        ffmpeg.seconds_of_media >= 15.0,
        "ffmpeg got {} s",
        ffmpeg.seconds_of_media
    );
    let all = peers(&s);
    let plain = all.last().unwrap();
    assert_eq!(plain["bytes_peer"], 0, "{plain}");
    assert_eq!(plain["stalls"], 0, "{plain}");
    assert!(plain["ttff_ms"].is_u64(), "{plain}");
    assert!(f(&s, "bytes_peer") > 0.0, "the others still share: {s}");
    assert_eq!(s["stalls"], 0, "{s}");
    println!(
        "ffmpeg wrote {:.1} s of media; the viewer without P2P played {:.1} s from the CDN",
        ffmpeg.seconds_of_media,
        f(plain, "watched_s")
    );
}
