//! Real players through the edge: ffmpeg's HLS and DASH demuxers follow the live stream
//! of the built-in origin for 20 seconds.

use std::time::Duration;

use rilla_tests::{
    players::ffmpeg_copy,
    stack::{Origin, Proxy, ProxyConfig},
};

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
