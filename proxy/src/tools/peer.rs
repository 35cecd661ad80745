//! `rilla peer` and `rilla swarm`: the reference peer client, alone or many at once.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use anyhow::Context as _;
use rilla_peer::{Counters, HttpTransport, PeerConfig, SwarmConfig};
use url::Url;

/// Options shared by `rilla peer` and `rilla swarm`.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// The stream's playlist through the edge.
    pub url: String,
    /// A rendition to keep (part of its path); none lets ABR choose.
    pub rendition: Option<String>,
    /// Plays from the CDN only: no peers, no uploads.
    pub no_p2p: bool,
    /// Declared upload capacity, kbit/s.
    pub upload_kbps: u32,
    /// Most concurrent uploads.
    pub max_uploads: usize,
    /// Where to serve peers.
    pub listen: SocketAddr,
    /// How long to run.
    pub duration: Duration,
    /// Serves corrupted bytes to peers (to test liar handling).
    pub corrupt_uploads: bool,
}

impl PeerOptions {
    fn config(&self) -> anyhow::Result<PeerConfig> {
        let url = Url::parse(&self.url).with_context(|| format!("bad URL {:?}", self.url))?;
        let mut cfg = PeerConfig::new(url);
        cfg.rendition = self.rendition.clone();
        cfg.p2p = !self.no_p2p;
        cfg.upload_kbps = self.upload_kbps;
        cfg.max_uploads = self.max_uploads;
        cfg.listen = self.listen;
        cfg.corrupt_uploads = self.corrupt_uploads;
        Ok(cfg)
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs one peer; prints a line per second, and the summary at the end (JSON with
/// `json`). Returns whether it played.
pub fn peer(opts: &PeerOptions, json: bool) -> anyhow::Result<bool> {
    let cfg = opts.config()?;
    let rt = runtime()?;
    let summary = rt.block_on(async {
        let counters = Arc::new(Counters::default());
        let (stop, rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(rilla_peer::run(
            cfg,
            rilla_peer::api::EdgeClient::new(),
            Arc::new(HttpTransport::new()),
            counters.clone(),
            rx,
        ));
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        while started.elapsed() < opts.duration && !task.is_finished() {
            tokio::select! {
                _ = tick.tick() => {
                    eprintln!(
                        "buffer {:.1}s | cdn {:.2} MB | peers {:.2} MB | uploaded {:.2} MB | peers used {} | hash failures {}",
                        counters.buffer_ms.load(Ordering::Relaxed) as f64 / 1000.0,
                        counters.bytes_cdn.load(Ordering::Relaxed) as f64 / 1e6,
                        counters.bytes_peer.load(Ordering::Relaxed) as f64 / 1e6,
                        counters.bytes_uploaded.load(Ordering::Relaxed) as f64 / 1e6,
                        counters.peers.load(Ordering::Relaxed),
                        counters.hash_failures.load(Ordering::Relaxed),
                    );
                }
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        let _ = stop.send(true);
        task.await.context("the peer task failed")
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "viewer {} in swarm {}: ttff {} ms, {} stalls ({} ms), {} segments ({} from peers), deflection {:.1}%, hash failures {}{}",
            summary.viewer,
            summary.swarm,
            summary.ttff_ms.map_or("-".into(), |t| t.to_string()),
            summary.stalls,
            summary.stall_ms,
            summary.segments,
            summary.segments_from_peers,
            summary.deflection * 100.0,
            summary.hash_failures,
            summary
                .error
                .as_deref()
                .map_or(String::new(), |e| format!(", stopped: {e}")),
        );
    }
    Ok(summary.error.is_none() && summary.ttff_ms.is_some())
}

/// What `rilla swarm` adds to the peer options.
#[derive(Debug, Clone)]
pub struct SwarmOptions {
    /// Viewers.
    pub viewers: usize,
    /// Viewers joining per second (0: all at once).
    pub join_rate: f64,
    /// Percent leaving and rejoining per minute.
    pub churn: f64,
    /// Viewers serving corrupted bytes (tests).
    pub liars: usize,
    /// Viewers with P2P off.
    pub cdn_only_viewers: usize,
    /// Kill half the viewers after this long.
    pub kill_half_after: Option<Duration>,
    /// Print a line per second.
    pub progress: bool,
}

/// The swarm configuration for options.
pub fn swarm_config(peer: &PeerOptions, swarm: &SwarmOptions) -> anyhow::Result<SwarmConfig> {
    Ok(SwarmConfig {
        peer: peer.config()?,
        viewers: swarm.viewers,
        join_rate: swarm.join_rate,
        churn_percent: swarm.churn,
        duration: peer.duration,
        liars: swarm.liars,
        cdn_only_viewers: swarm.cdn_only_viewers,
        kill_half_after: swarm.kill_half_after,
        progress: swarm.progress,
    })
}

/// Runs a swarm and prints its summary (JSON with `json`).
pub fn swarm(peer: &PeerOptions, opts: &SwarmOptions, json: bool) -> anyhow::Result<bool> {
    let cfg = swarm_config(peer, opts)?;
    let rt = runtime()?;
    let summary = rt.block_on(rilla_peer::run_swarm(cfg));
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{} viewers: deflection {:.1}%, TTFF p50 {} ms p95 {} ms, stalls {} (stall ratio {:.4}), CDN {:.1} MB, peers {:.1} MB, hash failures {}, churn recoveries {}",
            summary.viewers,
            summary.deflection * 100.0,
            summary.ttff_ms_p50,
            summary.ttff_ms_p95,
            summary.stalls,
            summary.stall_ratio,
            summary.bytes_cdn as f64 / 1e6,
            summary.bytes_peer as f64 / 1e6,
            summary.hash_failures,
            summary.churn_recoveries,
        );
        let egress: Vec<String> = summary
            .cdn_egress_per_s
            .iter()
            .map(|b| format!("{:.0}", *b as f64 / 1e3))
            .collect();
        println!("CDN egress per second (kB): {}", egress.join(" "));
    }
    // Success: every viewer that ran to the end played, and nothing unverified was.
    let played = summary
        .peers
        .iter()
        .all(|p| p.error.is_none() && p.ttff_ms.is_some());
    Ok(played && !summary.peers.is_empty() && summary.unverified_played == 0)
}
