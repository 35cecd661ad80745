//! Many peers in one process: they join at a given rate, some leave and rejoin (churn),
//! and the summary measures what the swarm achieved.

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    api::EdgeClient,
    client::{Counters, PeerConfig, Summary, run},
    transport::HttpTransport,
};

/// How a swarm behaves.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    /// The template every peer follows.
    pub peer: PeerConfig,
    /// Viewers.
    pub viewers: usize,
    /// Viewers joining per second (0: all at once).
    pub join_rate: f64,
    /// Percent of the viewers leaving and rejoining per minute.
    pub churn_percent: f64,
    /// How long to run.
    pub duration: Duration,
    /// Viewers (the first ones to join) that serve corrupted bytes: for tests of liar
    /// handling.
    pub liars: usize,
    /// Viewers (the last ones to join) with P2P off: they play from the CDN only.
    pub cdn_only_viewers: usize,
    /// After this long, kill half the viewers without a goodbye.
    pub kill_half_after: Option<Duration>,
    /// Print a line per second on standard error.
    pub progress: bool,
}

/// What a swarm achieved.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SwarmSummary {
    /// Viewers asked for.
    pub viewers: usize,
    /// Peer bytes over all bytes received, all viewers together.
    pub deflection: f64,
    /// Stalls after startup, all viewers together.
    pub stalls: u32,
    /// Time stalled over time watched.
    pub stall_ratio: f64,
    /// Time to first frame, median, milliseconds.
    pub ttff_ms_p50: u64,
    /// Time to first frame, 95th percentile, milliseconds.
    pub ttff_ms_p95: u64,
    /// Bytes from peers.
    pub bytes_peer: u64,
    /// Bytes from the CDN (through the edge).
    pub bytes_cdn: u64,
    /// Peer deliveries dropped for a wrong SHA-256.
    pub hash_failures: u64,
    /// Segments played from peers without verification (always 0).
    pub unverified_played: u64,
    /// Viewers that left and came back and played again.
    pub churn_recoveries: usize,
    /// Viewers killed mid-run.
    pub killed: usize,
    /// Bytes from the CDN in each second of the run.
    pub cdn_egress_per_s: Vec<u64>,
    /// Every viewer that ran to the end, in join order, after those that left by churn
    /// (in the order they left). Killed viewers have no summary.
    pub peers: Vec<Summary>,
}

struct Slot {
    stop: watch::Sender<bool>,
    task: JoinHandle<Summary>,
    counters: Arc<Counters>,
    /// Join order of the viewer this slot plays (kept when it leaves and rejoins).
    index: usize,
    rejoined: bool,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn spawn(
    cfg: &PeerConfig,
    edge: &EdgeClient,
    transport: &Arc<HttpTransport>,
    index: usize,
    rejoined: bool,
) -> Slot {
    let (stop, rx) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let task = tokio::spawn(run(
        cfg.clone(),
        edge.clone(),
        transport.clone(),
        counters.clone(),
        rx,
    ));
    Slot {
        stop,
        task,
        counters,
        index,
        rejoined,
    }
}

/// Runs a swarm and returns its summary.
pub async fn run_swarm(cfg: SwarmConfig) -> SwarmSummary {
    let edge = EdgeClient::new();
    let transport = Arc::new(HttpTransport::new());
    let started = Instant::now();
    let mut live: Vec<Slot> = Vec::new();
    let mut finished: Vec<(Summary, bool)> = Vec::new();
    // Counters of every peer ever started: bytes count even for the killed.
    let mut all_counters: Vec<Arc<Counters>> = Vec::new();
    let mut summary = SwarmSummary {
        viewers: cfg.viewers,
        ..SwarmSummary::default()
    };
    let mut joined = 0usize;
    let mut churn_debt = 0.0;
    let mut killed = false;
    let mut last_cdn = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut next_second = started + Duration::from_secs(1);
    let peer_for = |i: usize| {
        let mut p = cfg.peer.clone();
        // Every peer listens on a port of its own.
        p.listen.set_port(0);
        p.corrupt_uploads = i < cfg.liars;
        if i >= cfg.viewers.saturating_sub(cfg.cdn_only_viewers) {
            p.p2p = false;
        }
        p
    };
    while started.elapsed() < cfg.duration {
        tick.tick().await;
        let elapsed = started.elapsed().as_secs_f64();
        let due = if cfg.join_rate > 0.0 {
            ((elapsed * cfg.join_rate).floor() as usize + 1).min(cfg.viewers)
        } else {
            cfg.viewers
        };
        while joined < due {
            let slot = spawn(&peer_for(joined), &edge, &transport, joined, false);
            all_counters.push(slot.counters.clone());
            live.push(slot);
            joined += 1;
        }
        if let Some(after) = cfg.kill_half_after
            && !killed
            && started.elapsed() >= after
        {
            killed = true;
            let n = live.len() / 2;
            // The second half of the join order dies: abrupt exits, no goodbye.
            for slot in live.drain(live.len() - n..) {
                slot.task.abort();
            }
            summary.killed = n;
        }
        if Instant::now() >= next_second {
            next_second += Duration::from_secs(1);
            churn_debt += live.len() as f64 * cfg.churn_percent / 100.0 / 60.0;
            while churn_debt >= 1.0 && !live.is_empty() {
                churn_debt -= 1.0;
                let i = fastrand::usize(..live.len());
                let old = live.swap_remove(i);
                let _ = old.stop.send(true);
                if let Ok(s) = old.task.await {
                    finished.push((s, old.rejoined));
                }
                // The same viewer comes back: a liar stays a liar.
                let slot = spawn(&peer_for(old.index), &edge, &transport, old.index, true);
                all_counters.push(slot.counters.clone());
                live.push(slot);
            }
            let cdn: u64 = all_counters
                .iter()
                .map(|c| c.bytes_cdn.load(Ordering::Relaxed))
                .sum();
            summary.cdn_egress_per_s.push(cdn - last_cdn);
            last_cdn = cdn;
            if cfg.progress {
                let peer: u64 = all_counters
                    .iter()
                    .map(|c| c.bytes_peer.load(Ordering::Relaxed))
                    .sum();
                let buffer: u64 = live
                    .iter()
                    .map(|s| s.counters.buffer_ms.load(Ordering::Relaxed))
                    .sum::<u64>()
                    / live.len().max(1) as u64;
                let share = peer as f64 / (peer + cdn).max(1) as f64;
                eprintln!(
                    "t={:>4.0}s viewers={} buffer(avg)={:.1}s cdn={:.1}MB peer={:.1}MB deflection={:.2}",
                    started.elapsed().as_secs_f64(),
                    live.len(),
                    buffer as f64 / 1000.0,
                    cdn as f64 / 1e6,
                    peer as f64 / 1e6,
                    share
                );
            }
        }
    }
    for slot in &live {
        let _ = slot.stop.send(true);
    }
    live.sort_by_key(|s| s.index);
    for slot in live {
        if let Ok(s) = slot.task.await {
            finished.push((s, slot.rejoined));
        }
    }
    let mut ttffs: Vec<u64> = finished.iter().filter_map(|(s, _)| s.ttff_ms).collect();
    ttffs.sort_unstable();
    summary.ttff_ms_p50 = percentile(&ttffs, 0.5);
    summary.ttff_ms_p95 = percentile(&ttffs, 0.95);
    let (mut stall_ms, mut watched_ms) = (0u64, 0u64);
    for (s, rejoined) in &finished {
        summary.stalls += s.stalls;
        stall_ms += s.stall_ms;
        watched_ms += (s.watched_s * 1000.0) as u64;
        summary.unverified_played += s.unverified_played;
        if *rejoined && s.ttff_ms.is_some() {
            summary.churn_recoveries += 1;
        }
    }
    summary.stall_ratio = stall_ms as f64 / (stall_ms + watched_ms).max(1) as f64;
    summary.bytes_cdn = all_counters
        .iter()
        .map(|c| c.bytes_cdn.load(Ordering::Relaxed))
        .sum();
    summary.bytes_peer = all_counters
        .iter()
        .map(|c| c.bytes_peer.load(Ordering::Relaxed))
        .sum();
    // Killed viewers left no summary, but their counters count.
    summary.hash_failures = all_counters
        .iter()
        .map(|c| c.hash_failures.load(Ordering::Relaxed))
        .sum();
    summary.deflection =
        summary.bytes_peer as f64 / (summary.bytes_peer + summary.bytes_cdn).max(1) as f64;
    summary.peers = finished.into_iter().map(|(s, _)| s).collect();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&v, 0.5), 60);
        assert_eq!(percentile(&v, 0.95), 100);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
