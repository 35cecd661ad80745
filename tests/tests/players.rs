//! Real players through the edge: ffmpeg's HLS and DASH demuxers follow the live stream
//! of the built-in origin for 20 seconds.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use rilla_tests::stack::{Origin, Proxy, ProxyConfig};

/// What an ffmpeg run produced.
#[derive(Debug)]
struct Capture {
    success: bool,
    stderr: String,
    seconds_of_media: f64,
}

/// Runs `ffmpeg -i url -t seconds -c copy out.mp4`, killing it after `limit`.
fn ffmpeg_copy(url: &str, seconds: u32, out: &Path, limit: Duration) -> Capture {
    let mut child = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            url,
            "-t",
        ])
        .arg(seconds.to_string())
        .args(["-c", "copy", "-f", "mp4", "-y"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg is installed (./scripts/test.sh installs it)");
    let started = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read as _;
        let _ = e.read_to_string(&mut stderr);
    }
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(out)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .unwrap_or(0.0)
        })
        .unwrap_or(0.0);
    Capture {
        success: status.is_some_and(|s| s.success()),
        stderr,
        seconds_of_media: probe,
    }
}

#[test]
fn ffmpeg_reads_live_hls_and_dash_through_the_edge_with_valid_tokens() {
    let origin = Origin::start();
    let proxy = Proxy::start(&ProxyConfig {
        body: format!(
            "[[origins]]\nname = \"main\"\nurl = \"http://{}\"\n\n[[routes]]\nprefix = \"/live/\"\norigin = \"main\"\n",
            origin.addr
        ),
        tokens: String::new(),
        tls: false,
    });
    let dir = tempfile::tempdir().unwrap();
    let hls_out = dir.path().join("hls.mp4");
    let dash_out = dir.path().join("dash.mp4");
    let hls_url = format!("http://{}/live/ch1/master.m3u8", proxy.addr);
    let dash_url = format!("http://{}/live/ch2/manifest.mpd", proxy.addr);
    let limit = Duration::from_secs(90);
    let (hls, dash) = std::thread::scope(|s| {
        let hls = s.spawn(|| ffmpeg_copy(&hls_url, 20, &hls_out, limit));
        let dash = s.spawn(|| ffmpeg_copy(&dash_url, 20, &dash_out, limit));
        (hls.join().unwrap(), dash.join().unwrap())
    });
    println!("HLS: {hls:?}\nDASH: {dash:?}");
    assert!(hls.success, "ffmpeg failed on HLS: {}", hls.stderr);
    assert!(dash.success, "ffmpeg failed on DASH: {}", dash.stderr);
    for (name, capture) in [("HLS", &hls), ("DASH", &dash)] {
        assert!(
            capture.seconds_of_media >= 18.0,
            "{name}: only {} s of media",
            capture.seconds_of_media
        );
    }
    let metrics = proxy.metrics();
    let served = rilla_tests::stack::metric_sum(
        &metrics,
        "rilla_requests_total",
        &[("kind", "segment"), ("status", "200")],
    ) + rilla_tests::stack::metric_sum(
        &metrics,
        "rilla_requests_total",
        &[("kind", "segment"), ("status", "206")],
    );
    let rejected = rilla_tests::stack::metric_sum(&metrics, "rilla_token_rejections_total", &[]);
    let other =
        rilla_tests::stack::metric_sum(&metrics, "rilla_requests_total", &[("kind", "segment")])
            - served;
    println!(
        "segment requests served: {served}, token rejections: {rejected}, other segment answers: {other}"
    );
    assert!(served >= 20.0, "only {served} segment requests");
    assert_eq!(rejected, 0.0, "a player request carried no valid token");
    assert_eq!(other, 0.0, "some segment requests failed");
    // The origin never saw a token.
    let stats = origin.stats();
    let last = stats["last_target"].as_object().expect("last_target map");
    assert!(
        last.values()
            .all(|t| !t.as_str().unwrap_or("").contains("rt="))
    );
}
