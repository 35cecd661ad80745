//! `rilla demo`: the built-in origin with a live stream, the edge in front of it, and a
//! status line every few seconds.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use async_trait::async_trait;
use pingora::server::{RunArgs, ShutdownWatch};
use pingora::services::background::BackgroundService;
use rilla_config::{ConfigFile, OriginConfig, RouteConfig};

use crate::edge::{self, Edge};

/// The demo's player page: hls.js (from jsDelivr, fetched by the viewer's browser) plays
/// the HLS stream through the edge; Safari plays it natively.
const PLAYER_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Rilla Edge demo</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}video{width:100%;background:#000}</style>
</head>
<body>
<h1>Rilla Edge demo</h1>
<p>A live stream from the built-in origin, through the edge: every URI below carries this
viewer's token. <a href="/live/ch1/master.m3u8">HLS</a> · <a href="/live/ch1/manifest.mpd">DASH</a></p>
<video id="video" controls muted autoplay playsinline></video>
<p id="status">loading…</p>
<script src="https://cdn.jsdelivr.net/npm/hls.js@1.7.4/dist/hls.min.js"></script>
<script>
const video = document.getElementById('video');
const status = document.getElementById('status');
const src = '/live/ch1/master.m3u8';
if (window.Hls && Hls.isSupported()) {
  const hls = new Hls();
  hls.loadSource(src);
  hls.attachMedia(video);
  hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) status.textContent = 'error: ' + d.details; });
} else if (video.canPlayType('application/vnd.apple.mpegurl')) {
  video.src = src;
} else {
  status.textContent = 'this browser cannot load hls.js';
}
setInterval(() => { status.textContent = 'playing at ' + video.currentTime.toFixed(1) + ' s'; }, 1000);
</script>
</body>
</html>
"#;

/// Where the demo listens.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Public listener of the edge.
    pub listen: String,
    /// Admin listener of the edge.
    pub admin_listen: String,
    /// Peers to run beside the demo (0: none).
    pub viewers: usize,
}

/// Options for the built-in origin: a stream that started a minute ago (on a whole second),
/// so that players find a full window of segments at once.
pub fn live_origin_options() -> rilla_origin::OriginOptions {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rilla_origin::OriginOptions {
        start: std::time::UNIX_EPOCH + Duration::from_secs(now.saturating_sub(60)),
        ..rilla_origin::OriginOptions::default()
    }
}

/// Starts the built-in origin on a loopback port, in its own thread and runtime.
pub fn start_origin() -> anyhow::Result<SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("rilla-demo-origin".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(anyhow::anyhow!("cannot start the origin runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
                match rilla_origin::Origin::bind(addr, live_origin_options()).await {
                    Ok(origin) => {
                        let _ = tx.send(Ok(origin.local_addr()));
                        if let Err(e) = origin.serve(std::future::pending::<()>()).await {
                            tracing::error!(error = %e, "the demo origin stopped");
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(anyhow::anyhow!("cannot bind the demo origin: {e}")));
                    }
                }
            });
        })
        .context("cannot start the origin thread")?;
    rx.recv().context("the origin thread ended early")?
}

/// Prints viewers, requests and bytes by source every few seconds.
struct StatusLine {
    edge: Arc<Edge>,
}

/// Sums the samples of a metric in Prometheus text, optionally those with one label value.
fn sum_metric(text: &str, name: &str, label: Option<(&str, &str)>) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| label.is_none_or(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .filter(|l| l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>() as u64
}

#[async_trait]
impl BackgroundService for StatusLine {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tick.tick() => {
                    let text = String::from_utf8_lossy(&self.edge.metrics_text()).into_owned();
                    let e = text.as_str();
                    let peer = sum_metric(e, "rilla_p2p_reported_bytes_total", Some(("source", "peer")));
                    let edge_bytes = sum_metric(e, "rilla_segment_bytes_served_total", None);
                    println!(
                        "viewers {} | requests {} (manifests {}, segments {}, p2p api {}) | segment bytes from the edge {}, from peers {} (deflection {:.0}%) | token rejections {}",
                        sum_metric(e, "rilla_viewers", None),
                        sum_metric(e, "rilla_requests_total", None),
                        sum_metric(e, "rilla_requests_total", Some(("kind", "manifest"))),
                        sum_metric(e, "rilla_requests_total", Some(("kind", "segment"))),
                        sum_metric(e, "rilla_requests_total", Some(("kind", "api"))),
                        edge_bytes,
                        peer,
                        peer as f64 * 100.0 / (peer + edge_bytes).max(1) as f64,
                        sum_metric(e, "rilla_token_rejections_total", None),
                    );
                }
            }
        }
    }
}

/// Runs `viewers` peers on the demo stream in a thread of their own, until the process
/// ends.
fn start_swarm(public: &str, viewers: usize) -> anyhow::Result<()> {
    let peer = crate::tools::peer::PeerOptions {
        url: format!("http://{public}/live/ch1/master.m3u8"),
        rendition: None,
        no_p2p: false,
        upload_kbps: 20_000,
        max_uploads: 8,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        duration: Duration::from_secs(365 * 24 * 3600),
        corrupt_uploads: false,
    };
    let swarm = crate::tools::peer::SwarmOptions {
        viewers,
        join_rate: 2.0,
        churn: 0.0,
        liars: 0,
        cdn_only_viewers: 0,
        kill_half_after: None,
        progress: false,
    };
    let cfg = crate::tools::peer::swarm_config(&peer, &swarm)?;
    println!("swarm:   {viewers} peers joining at 2 per second; their bytes show as 'from peers'");
    std::thread::Builder::new()
        .name("demo-swarm".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            else {
                return;
            };
            // Give the edge a moment to start listening.
            std::thread::sleep(Duration::from_secs(1));
            rt.block_on(rilla_peer::run_swarm(cfg));
        })
        .context("cannot start the swarm thread")?;
    Ok(())
}

fn display_addr(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        _ => listen.to_owned(),
    }
}

/// Runs the demo until SIGINT or SIGTERM.
pub fn run(opts: &DemoOptions) -> anyhow::Result<()> {
    edge::init_logging("text");
    let state_dir = std::env::temp_dir().join(format!("rilla-demo-{}", std::process::id()));
    let keys_dir = state_dir.join("keys");
    rilla_token::KeySet::generate_into_dir(&keys_dir)
        .with_context(|| format!("cannot create keys in {}", keys_dir.display()))?;
    let origin = start_origin()?;

    let mut file = ConfigFile::default();
    file.server.listen = opts.listen.clone();
    file.server.admin_listen = opts.admin_listen.clone();
    file.tokens.keys_dir = keys_dir;
    file.origins = vec![OriginConfig {
        name: "demo".into(),
        url: format!("http://{origin}"),
        hosts: Vec::new(),
        connect_timeout: rilla_config::HumanDuration::from_secs(2),
        read_timeout: rilla_config::HumanDuration::from_secs(10),
    }];
    file.routes = vec![RouteConfig {
        prefix: "/live/".into(),
        origin: "demo".into(),
        access: "open".into(),
        origin_prefix: None,
        policy: "adaptive".into(),
    }];
    let text = toml::to_string(&file).context("cannot render the demo configuration")?;
    let config = rilla_config::parse(&text, "demo configuration", &state_dir)
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let (mut server, edge) = edge::build_server(config, None)?;
    let _ = edge.demo_page.set(PLAYER_PAGE.to_owned());
    server.add_service(pingora::services::background::background_service(
        "demo status line",
        StatusLine { edge },
    ));
    let public = display_addr(&opts.listen);
    let admin = display_addr(&opts.admin_listen);
    println!(
        "Rilla Edge demo: a live stream from the built-in origin ({origin}), through the edge."
    );
    println!("HLS:     http://{public}/live/ch1/master.m3u8");
    println!("DASH:    http://{public}/live/ch1/manifest.mpd");
    println!("player:  http://{public}/ (hls.js, loaded by your browser from jsDelivr)");
    println!("metrics: http://{admin}/metrics");
    println!("Play with e.g. `ffplay http://{public}/live/ch1/master.m3u8`; Ctrl-C stops.");
    if opts.viewers > 0 {
        start_swarm(&public, opts.viewers)?;
    }
    server.run(RunArgs::default());
    Ok(())
}
