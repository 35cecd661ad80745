//! `rilla demo`, the first thing a newcomer runs: it prints what to play, and the stream
//! and the player page work through the edge.

use std::{
    io::{BufRead as _, BufReader},
    net::SocketAddr,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use rilla_tests::{
    http, rilla_bin,
    stack::{Process, free_port},
};

#[test]
fn the_demo_prints_its_urls_and_serves_the_stream_and_the_player_page() {
    let public: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let admin: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut child = Command::new(rilla_bin())
        .args([
            "demo",
            "--listen",
            &public.to_string(),
            "--admin-listen",
            &admin.to_string(),
            "--viewers",
            "6",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the demo starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut process = Process::new(child, "demo");

    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let done = line.starts_with("metrics:");
        printed.push(line);
        if done {
            break;
        }
    }
    let url_of = |label: &str| {
        printed
            .iter()
            .find_map(|l| l.strip_prefix(label))
            .map(|rest| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .unwrap_or_else(|| panic!("no {label:?} line in {printed:#?}"))
    };
    assert_eq!(
        url_of("HLS:"),
        format!("http://{public}/live/ch1/master.m3u8")
    );
    assert_eq!(
        url_of("DASH:"),
        format!("http://{public}/live/ch1/manifest.mpd")
    );
    assert_eq!(url_of("metrics:"), format!("http://{admin}/metrics"));

    let started = Instant::now();
    while !http::request(public, "GET", "/healthz", &[], b"").is_ok_and(|r| r.status == 200) {
        assert!(process.is_running(), "the demo exited");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the demo did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let page = http::get(public, "/");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    assert!(page.text().contains("/live/ch1/master.m3u8"));
    let master = http::get(public, "/live/ch1/master.m3u8");
    assert_eq!(master.status, 200, "{}", master.text());
    assert!(master.text().contains("index.m3u8?rt="));
    let mpd = http::get(public, "/live/ch1/manifest.mpd");
    assert_eq!(mpd.status, 200, "{}", mpd.text());
    let metrics = http::get(admin, "/metrics").text();
    assert!(
        rilla_tests::stack::metric_sum(&metrics, "rilla_requests_total", &[("kind", "manifest")])
            >= 2.0,
        "{metrics}"
    );
    // The demo's own swarm shows peer delivery within a few segments.
    let started = Instant::now();
    let peer_bytes = loop {
        let metrics = http::get(admin, "/metrics").text();
        let peer = rilla_tests::stack::metric_sum(
            &metrics,
            "rilla_p2p_reported_bytes_total",
            &[("source", "peer")],
        );
        if peer > 0.0 || started.elapsed() > Duration::from_secs(60) {
            break peer;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(peer_bytes > 0.0, "no peer delivery in the demo");
    println!(
        "demo: peers delivered {peer_bytes} bytes within {:?}",
        started.elapsed()
    );
    assert!(
        process.terminate(Duration::from_secs(30)).is_some(),
        "the demo did not stop on SIGTERM"
    );
}
