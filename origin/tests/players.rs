//! ffmpeg follows the live stream in HLS and DASH across a loop of the fixtures. Ignored by
//! default (each takes about 15 s and needs `ffmpeg` and `ffprobe` on the PATH):
//! `cargo test -p rilla-origin --test players -- --ignored`.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::Duration;

fn ffmpeg_follows(manifest: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let origin = runtime.block_on(support::start(Duration::from_secs(21)));
    let url = format!("http://{}/live/ch1/{manifest}", origin.addr);
    let dir = std::env::temp_dir().join(format!("rilla-origin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("{manifest}.mp4"));
    let ffmpeg = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(["-rw_timeout", "20000000", "-i", &url])
        .args(["-t", "12", "-c", "copy", "-f", "mp4"])
        .arg(&out)
        .output()
        .expect("ffmpeg runs");
    let stderr = String::from_utf8_lossy(&ffmpeg.stderr);
    assert!(ffmpeg.status.success(), "ffmpeg failed: {stderr}");
    assert!(stderr.trim().is_empty(), "ffmpeg reported: {stderr}");
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["packet=pts_time,dts_time", "-of", "csv=p=0"])
        .arg(&out)
        .output()
        .expect("ffprobe runs");
    assert!(probe.status.success());
    let times: Vec<f64> = String::from_utf8_lossy(&probe.stdout)
        .lines()
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect();
    // 25 fps for 12 s, strictly increasing, spanning more than one 10 s loop.
    assert!(times.len() >= 290, "{} packets", times.len());
    assert!(times.windows(2).all(|w| w[1] > w[0]), "timestamps go back");
    let span = times[times.len() - 1] - times[0];
    assert!(span > 11.5, "span {span}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "runs ffmpeg for about 15 s"]
fn ffmpeg_follows_hls_across_a_loop() {
    ffmpeg_follows("master.m3u8");
}

#[test]
#[ignore = "runs ffmpeg for about 15 s"]
fn ffmpeg_follows_dash_across_a_loop() {
    ffmpeg_follows("manifest.mpd");
}
