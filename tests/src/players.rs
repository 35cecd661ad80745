//! Real players as clients: ffmpeg following a stream through the edge.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// What an ffmpeg run produced.
#[derive(Debug)]
pub struct Capture {
    /// Whether ffmpeg exited with success.
    pub success: bool,
    /// What it printed on standard error.
    pub stderr: String,
    /// Seconds of media in the output file, by ffprobe.
    pub seconds_of_media: f64,
}

/// Runs `ffmpeg -i url -t seconds -c copy out.mp4`, killing it after `limit`.
///
/// # Panics
/// When ffmpeg is not installed.
pub fn ffmpeg_copy(url: &str, seconds: u32, out: &Path, limit: Duration) -> Capture {
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
