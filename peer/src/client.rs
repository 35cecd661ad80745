//! One peer: follows a stream like a player, fetches each segment from the peers its
//! hints name when its buffer allows, verifies them, falls back to the CDN, announces
//! what happened, and serves what it holds.

use std::{
    collections::HashSet,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine as _;
use bytes::Bytes;
use rilla_token::{KeySet, Verifier, VerifierOptions};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::{net::TcpListener, sync::watch};
use url::Url;

use crate::{
    api::{AnnounceOut, BytesOut, EdgeClient, FailureOut, GainOut, HintIn, cmcd},
    player::Player,
    playlist::{self, MediaPlaylist, Segment},
    transport::{PeerFetchError, PeerServer, PeerTransport, ServeState, Store},
};

/// How a peer behaves.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The stream's playlist (multivariant or media) through the edge.
    pub url: Url,
    /// A rendition to keep (a part of its playlist's path, e.g. `v360`); `None` lets
    /// throughput-based ABR choose.
    pub rendition: Option<String>,
    /// Whether to use peers and serve them; `false` plays from the CDN only.
    pub p2p: bool,
    /// Upload capacity declared to the edge, kbit/s.
    pub upload_kbps: u32,
    /// Most concurrent uploads.
    pub max_uploads: usize,
    /// Address to serve peers on (port 0: any free port).
    pub listen: SocketAddr,
    /// Seconds buffered before playback starts.
    pub startup_secs: f64,
    /// Segments behind the live edge to start at.
    pub live_delay_segments: u64,
    /// Longest wait for peers for one segment.
    pub peer_timeout: Duration,
    /// Least buffer (seconds) with which a peer is tried; below it, the CDN.
    pub min_peer_buffer: f64,
    /// Segments kept for peers: the newest downloaded one and this many before it.
    pub keep_segments: u64,
    /// Name of the token query parameter.
    pub token_param: String,
    /// For tests of liar handling: serve corrupted bytes to peers.
    pub corrupt_uploads: bool,
}

impl PeerConfig {
    /// The defaults for a stream.
    pub fn new(url: Url) -> Self {
        Self {
            url,
            rendition: None,
            p2p: true,
            upload_kbps: 20_000,
            max_uploads: 8,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            startup_secs: 4.0,
            live_delay_segments: 3,
            peer_timeout: Duration::from_millis(1500),
            min_peer_buffer: 2.5,
            keep_segments: 10,
            token_param: "rt".into(),
            corrupt_uploads: false,
        }
    }
}

/// Why a peer stopped before its time.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The edge failed or refused.
    #[error(transparent)]
    Edge(#[from] crate::api::EdgeError),
    /// The playlist could not be used.
    #[error(transparent)]
    Playlist(#[from] crate::playlist::PlaylistError),
    /// A local socket failed.
    #[error("cannot listen for peers: {0}")]
    Listen(#[from] std::io::Error),
    /// A URL did not resolve.
    #[error("bad URL: {0}")]
    Url(#[from] url::ParseError),
    /// `rendition` matches none of the stream's renditions.
    #[error("no rendition matches {0:?}; the stream has {1}")]
    NoRendition(String, String),
}

/// Live counters of one peer, readable while it runs.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes received from the CDN.
    pub bytes_cdn: AtomicU64,
    /// Bytes received from peers (verified).
    pub bytes_peer: AtomicU64,
    /// Bytes uploaded to peers.
    pub bytes_uploaded: AtomicU64,
    /// Buffer, milliseconds.
    pub buffer_ms: AtomicU64,
    /// Segments whose peer bytes failed their hash.
    pub hash_failures: AtomicU64,
    /// Distinct peers received from.
    pub peers: AtomicU64,
}

/// What one peer did, at the end of its run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// This viewer's id.
    pub viewer: String,
    /// Its swarm.
    pub swarm: String,
    /// Time to first frame, milliseconds (`None` if playback never started).
    pub ttff_ms: Option<u64>,
    /// Stalls after startup.
    pub stalls: u32,
    /// Time stalled, milliseconds.
    pub stall_ms: u64,
    /// Seconds watched after startup.
    pub watched_s: f64,
    /// Bytes from peers (verified).
    pub bytes_peer: u64,
    /// Bytes from the CDN.
    pub bytes_cdn: u64,
    /// Bytes uploaded to peers.
    pub bytes_uploaded: u64,
    /// `bytes_peer` over all bytes received.
    pub deflection: f64,
    /// Peer deliveries dropped for a wrong SHA-256.
    pub hash_failures: u64,
    /// Segments played.
    pub segments: u64,
    /// Segments from peers, every one verified by its SHA-256.
    pub segments_from_peers: u64,
    /// Segments from peers played without verification (always 0).
    pub unverified_played: u64,
    /// Distinct peers received from.
    pub peers_used: usize,
    /// The reason it stopped early, if it did.
    pub error: Option<String>,
}

/// The viewer token's audience, read (not verified) from its payload: peers verify each
/// other's tokens against the same audience.
fn audience_of(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
    v.get("aud")?.as_str().map(str::to_owned)
}

/// Where a segment came from.
enum Source {
    Cdn,
    Peer(String),
}

/// The running state of one peer.
struct Peer<T> {
    cfg: PeerConfig,
    edge: EdgeClient,
    transport: Arc<T>,
    counters: Arc<Counters>,
    player: Player,
    store: Arc<Store>,
    server: Option<(PeerServer, Arc<ServeState>)>,
    media_url: Url,
    bandwidth: u64,
    /// Renditions to choose from when ABR is on (empty: fixed).
    variants: Vec<playlist::Variant>,
    playlist: MediaPlaylist,
    cmcd_session: String,
    throughput_kbps: f64,
    // Reported at the next announce.
    gained: Vec<GainOut>,
    dropped: Vec<u64>,
    failures: Vec<FailureOut>,
    reported: BytesOut,
    peers_used: HashSet<String>,
    segments: u64,
    from_peers: u64,
}

impl<T: PeerTransport + 'static> Peer<T> {
    fn token(&self) -> &str {
        self.playlist.token.as_deref().unwrap_or_default()
    }

    fn session_swarm(&self) -> Option<&str> {
        self.playlist.session.as_ref().map(|s| s.swarm.as_str())
    }

    fn cmcd(&self) -> String {
        let content = self.session_swarm().unwrap_or("unknown").to_owned();
        cmcd(
            self.player.buffer(),
            self.bandwidth / 1000,
            &content,
            self.throughput_kbps as u64,
            &self.cmcd_session,
        )
    }

    async fn reload(&mut self) -> Result<(), PeerError> {
        let c = self.cmcd();
        let text = self
            .edge
            .get(&self.media_url, Some(&c), Duration::from_secs(10))
            .await?;
        let text = String::from_utf8_lossy(&text);
        let fresh = playlist::media(&text, &self.media_url, &self.cfg.token_param)?;
        // Reload with the freshest token so the session lives on.
        if let Some(t) = &fresh.token {
            let param = self.cfg.token_param.clone();
            let pairs: Vec<(String, String)> = self
                .media_url
                .query_pairs()
                .filter(|(k, _)| *k != param)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let mut q = self.media_url.query_pairs_mut();
            q.clear();
            for (k, v) in pairs {
                q.append_pair(&k, &v);
            }
            q.append_pair(&param, t);
        }
        self.playlist = fresh;
        Ok(())
    }

    /// Starts serving peers for the current swarm.
    async fn serve(&mut self) -> Result<(), PeerError> {
        if !self.cfg.p2p || self.server.is_some() {
            return Ok(());
        }
        let Some(swarm) = self.session_swarm().map(str::to_owned) else {
            return Ok(());
        };
        let jwks_url = self.media_url.join("/.well-known/jwks.json")?;
        let jwks = self
            .edge
            .get(&jwks_url, None, Duration::from_secs(5))
            .await?;
        let keys = KeySet::from_jwks(&String::from_utf8_lossy(&jwks)).map_err(|e| {
            crate::api::EdgeError::Status {
                status: 200,
                body: format!("unusable JWKS: {e}"),
            }
        })?;
        let verifier = Verifier::new(
            &keys,
            VerifierOptions {
                audience: audience_of(self.token()).unwrap_or_else(|| "rilla-edge".into()),
                leeway: Duration::from_secs(5),
                cache_capacity: 1024,
            },
        );
        let state = Arc::new(ServeState {
            store: self.store.clone(),
            swarm: Mutex::new((swarm, self.media_url.path().to_owned())),
            verifier,
            uploads: tokio::sync::Semaphore::new(self.cfg.max_uploads.max(1)),
            uploaded: AtomicU64::new(0),
            served: AtomicU64::new(0),
            corrupt: self.cfg.corrupt_uploads,
        });
        let listener = TcpListener::bind(self.cfg.listen).await?;
        let server = PeerServer::start(listener, state.clone())?;
        self.server = Some((server, state));
        Ok(())
    }

    fn uploaded(&self) -> u64 {
        self.server
            .as_ref()
            .map_or(0, |(_, s)| s.uploaded.load(Ordering::Relaxed))
    }

    async fn announce(&mut self) -> Option<u64> {
        self.announce_with(false).await
    }

    async fn announce_with(&mut self, leaving: bool) -> Option<u64> {
        let session = self.playlist.session.clone()?;
        if !self.cfg.p2p {
            return None;
        }
        let endpoint = self.media_url.join(&session.announce).ok()?;
        let cdn = self.counters.bytes_cdn.load(Ordering::Relaxed);
        let peer = self.counters.bytes_peer.load(Ordering::Relaxed);
        let uploaded = self.uploaded();
        self.counters
            .bytes_uploaded
            .store(uploaded, Ordering::Relaxed);
        let body = AnnounceOut {
            swarm: session.swarm.clone(),
            port: self.server.as_ref().map(|(s, _)| s.addr.port()),
            upload_kbps: Some(self.cfg.upload_kbps),
            buffer_ms: (self.player.buffer() * 1000.0) as u32,
            gained: std::mem::take(&mut self.gained),
            dropped: std::mem::take(&mut self.dropped),
            failures: std::mem::take(&mut self.failures),
            bytes: BytesOut {
                cdn: cdn - self.reported.cdn,
                peer: peer - self.reported.peer,
                uploaded: uploaded.saturating_sub(self.reported.uploaded),
            },
            // Hints come fresh before each segment: the announce asks for none.
            want: Vec::new(),
            leaving,
        };
        match self.edge.announce(&endpoint, self.token(), &body).await {
            Ok(reply) => {
                self.reported = BytesOut {
                    cdn,
                    peer,
                    uploaded,
                };
                Some(reply.interval_s.max(1))
            }
            Err(e) => {
                tracing::debug!(error = %e, "announce failed; keeping its content for the next");
                self.gained.extend(body.gained);
                self.dropped.extend(body.dropped);
                self.failures.extend(body.failures);
                None
            }
        }
    }

    async fn fresh_hint(&self, n: u64) -> Option<HintIn> {
        let swarm = self.session_swarm()?;
        let edge = self.media_url.join("/").ok()?;
        let cmcd = self.cmcd();
        match self
            .edge
            .hints(&edge, self.token(), swarm, &[n], &cmcd)
            .await
        {
            Ok(mut h) => h.pop(),
            Err(e) => {
                tracing::debug!(error = %e, "hints failed");
                None
            }
        }
    }

    /// Tries the peers its hint names, within the time the buffer allows. Returns the
    /// verified bytes and the peer, or `None` to go to the CDN.
    async fn try_peers(&mut self, seg: &Segment) -> Option<(Bytes, String)> {
        let swarm = self.session_swarm()?.to_owned();
        let mut hint = self.fresh_hint(seg.number).await?;
        if hint.action != "peers" || hint.peers.is_empty() {
            return None;
        }
        let budget = self.cfg.peer_timeout.min(Duration::from_secs_f64(
            (self.player.buffer() - 1.5).max(0.2),
        ));
        let deadline = Instant::now() + budget;
        let token = self.token().to_owned();
        // Peers that refused, timed out or could not be reached are not asked again for
        // this segment (nor reported twice).
        let mut given_up: HashSet<String> = HashSet::new();
        loop {
            let mut not_yet = 0;
            for p in hint.peers.clone() {
                if given_up.contains(&p.id) {
                    continue;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                let started = Instant::now();
                match self
                    .transport
                    .fetch(p.addr, &swarm, seg.number, &token, left)
                    .await
                {
                    Ok(bytes) => {
                        // A hint made before the segment reached the edge has no hash yet;
                        // ask again now that a peer holds it.
                        if hint.digest().is_none()
                            && let Some(h) = self.fresh_hint(seg.number).await
                        {
                            hint.sha256 = h.sha256;
                        }
                        let Some(expected) = hint.digest() else {
                            // Bytes that cannot be verified are never played.
                            return None;
                        };
                        let actual: [u8; 32] = Sha256::digest(&bytes).into();
                        if actual != expected {
                            self.counters.hash_failures.fetch_add(1, Ordering::Relaxed);
                            self.failures.push(FailureOut {
                                seg: seg.number,
                                peer: p.id.clone(),
                                kind: "hash_mismatch",
                            });
                            return None;
                        }
                        let ms = started.elapsed().as_millis() as u32;
                        self.gained.push(GainOut {
                            seg: seg.number,
                            from: Some(p.id.clone()),
                            bytes: bytes.len() as u64,
                            ms,
                        });
                        return Some((bytes, p.id));
                    }
                    Err(PeerFetchError::NotHeld | PeerFetchError::Busy) => not_yet += 1,
                    Err(PeerFetchError::Timeout) => {
                        self.failures.push(FailureOut {
                            seg: seg.number,
                            peer: p.id.clone(),
                            kind: "timeout",
                        });
                        given_up.insert(p.id);
                    }
                    Err(PeerFetchError::Refused(_) | PeerFetchError::Unreachable(_)) => {
                        self.failures.push(FailureOut {
                            seg: seg.number,
                            peer: p.id.clone(),
                            kind: "refused",
                        });
                        given_up.insert(p.id);
                    }
                }
            }
            // Seeders may still be fetching it: wait a little while the buffer allows.
            if not_yet == 0 || Instant::now() + Duration::from_millis(150) >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn fetch_cdn(&mut self, seg: &Segment) -> Result<Bytes, PeerError> {
        let c = self.cmcd();
        let started = Instant::now();
        let mut last = None;
        for _ in 0..3 {
            match self
                .edge
                .get(&seg.url, Some(&c), Duration::from_secs(10))
                .await
            {
                Ok(bytes) => {
                    let secs = started.elapsed().as_secs_f64().max(1e-3);
                    let kbps = bytes.len() as f64 * 8.0 / 1000.0 / secs;
                    self.throughput_kbps = if self.throughput_kbps == 0.0 {
                        kbps
                    } else {
                        self.throughput_kbps * 0.7 + kbps * 0.3
                    };
                    return Ok(bytes);
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(last.map_or_else(
            || PeerError::Url(url::ParseError::EmptyHost),
            PeerError::Edge,
        ))
    }

    async fn fetch(&mut self, seg: &Segment) -> Result<(Bytes, Source), PeerError> {
        let try_peers = self.cfg.p2p
            && self.playlist.session.is_some()
            && self.player.buffer() >= self.cfg.min_peer_buffer;
        if try_peers && let Some((bytes, id)) = self.try_peers(seg).await {
            return Ok((bytes, Source::Peer(id)));
        }
        let bytes = self.fetch_cdn(seg).await?;
        Ok((bytes, Source::Cdn))
    }

    /// Throughput-based ABR: the best rendition that fits in 70 % of the measured
    /// throughput; up only with a comfortable buffer, down at once.
    async fn adapt(&mut self) -> Result<(), PeerError> {
        if self.variants.len() < 2 || self.throughput_kbps <= 0.0 {
            return Ok(());
        }
        let budget = self.throughput_kbps * 1000.0 * 0.7;
        let best = self
            .variants
            .iter()
            .rev()
            .find(|v| (v.bandwidth as f64) < budget)
            .or(self.variants.first())
            .cloned();
        let Some(best) = best else {
            return Ok(());
        };
        let up = best.bandwidth > self.bandwidth;
        if best.url.path() == self.media_url.path()
            || (up && self.player.buffer() < self.cfg.startup_secs)
        {
            return Ok(());
        }
        // Leave the old swarm cleanly: what this peer holds belongs to it.
        self.dropped.extend(self.store.clear());
        self.announce().await;
        self.media_url = best.url;
        self.bandwidth = best.bandwidth;
        self.reload().await?;
        if let (Some((_, state)), Some(swarm)) = (&self.server, self.session_swarm())
            && let Ok(mut s) = state.swarm.lock()
        {
            *s = (swarm.to_owned(), self.media_url.path().to_owned());
        }
        Ok(())
    }

    fn keep(&mut self, seg: &Segment, bytes: Bytes, source: Source, now: Instant) {
        match source {
            Source::Cdn => {
                self.counters
                    .bytes_cdn
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            Source::Peer(id) => {
                self.counters
                    .bytes_peer
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                self.peers_used.insert(id);
                self.counters
                    .peers
                    .store(self.peers_used.len() as u64, Ordering::Relaxed);
                self.from_peers += 1;
            }
        }
        self.segments += 1;
        self.player.append(now, seg.duration);
        if self.cfg.p2p {
            self.store.insert(seg.number, bytes);
            let oldest = seg.number.saturating_sub(self.cfg.keep_segments);
            self.dropped.extend(self.store.evict_below(oldest));
        }
    }
}

/// Picks a rendition: the one whose path contains `wanted`, or by throughput.
fn pick(variants: &[playlist::Variant], wanted: Option<&str>) -> Option<playlist::Variant> {
    match wanted {
        Some(w) => variants.iter().find(|v| v.url.path().contains(w)).cloned(),
        // Start at the lowest; ABR moves up as throughput allows.
        None => variants.first().cloned(),
    }
}

/// Runs one peer until `stop` turns true or the stream ends, then returns its summary.
pub async fn run<T: PeerTransport + 'static>(
    cfg: PeerConfig,
    edge: EdgeClient,
    transport: Arc<T>,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Summary {
    let joined = Instant::now();
    let mut summary = Summary::default();
    let result = run_inner(
        &cfg,
        edge,
        transport,
        counters.clone(),
        &mut stop,
        joined,
        &mut summary,
    )
    .await;
    if let Err(e) = result {
        summary.error = Some(e.to_string());
    }
    summary.bytes_cdn = counters.bytes_cdn.load(Ordering::Relaxed);
    summary.bytes_peer = counters.bytes_peer.load(Ordering::Relaxed);
    summary.bytes_uploaded = counters.bytes_uploaded.load(Ordering::Relaxed);
    summary.hash_failures = counters.hash_failures.load(Ordering::Relaxed);
    let total = summary.bytes_cdn + summary.bytes_peer;
    summary.deflection = if total == 0 {
        0.0
    } else {
        summary.bytes_peer as f64 / total as f64
    };
    summary
}

async fn run_inner<T: PeerTransport + 'static>(
    cfg: &PeerConfig,
    edge: EdgeClient,
    transport: Arc<T>,
    counters: Arc<Counters>,
    stop: &mut watch::Receiver<bool>,
    joined: Instant,
    summary: &mut Summary,
) -> Result<(), PeerError> {
    let first = edge.get(&cfg.url, None, Duration::from_secs(10)).await?;
    let text = String::from_utf8_lossy(&first).into_owned();
    let variants = playlist::variants(&text, &cfg.url);
    if let (Some(wanted), false) = (&cfg.rendition, variants.is_empty())
        && pick(&variants, Some(wanted)).is_none()
    {
        let paths: Vec<&str> = variants.iter().map(|v| v.url.path()).collect();
        return Err(PeerError::NoRendition(wanted.clone(), paths.join(", ")));
    }
    let (media_url, bandwidth, text) = match pick(&variants, cfg.rendition.as_deref()) {
        Some(v) => {
            let body = edge.get(&v.url, None, Duration::from_secs(10)).await?;
            (
                v.url,
                v.bandwidth,
                String::from_utf8_lossy(&body).into_owned(),
            )
        }
        None => (cfg.url.clone(), 0, text),
    };
    let playlist = playlist::media(&text, &media_url, &cfg.token_param)?;
    let mut sid = [0u8; 8];
    fastrand::fill(&mut sid);
    let mut peer = Peer {
        cfg: cfg.clone(),
        edge,
        transport,
        counters: counters.clone(),
        player: Player::new(joined, cfg.startup_secs, cfg.startup_secs.min(2.0)),
        store: Arc::new(Store::default()),
        server: None,
        media_url,
        bandwidth,
        variants: if cfg.rendition.is_none() {
            variants
        } else {
            Vec::new()
        },
        playlist,
        cmcd_session: hex::encode(sid),
        throughput_kbps: 0.0,
        gained: Vec::new(),
        dropped: Vec::new(),
        failures: Vec::new(),
        reported: BytesOut::default(),
        peers_used: HashSet::new(),
        segments: 0,
        from_peers: 0,
    };
    if let Some(s) = &peer.playlist.session {
        summary.viewer = s.viewer.clone();
        summary.swarm = s.swarm.clone();
    }
    if let Err(e) = peer.serve().await {
        // Without the edge's keys it cannot check who asks: it plays and takes from
        // peers, but serves no one.
        tracing::warn!(error = %e, "not serving peers");
    }
    let mut interval = peer
        .playlist
        .session
        .as_ref()
        .map_or(5, |s| s.interval.max(1));
    let mut next_announce = Instant::now();
    let mut next_reload =
        Instant::now() + Duration::from_secs_f64(peer.playlist.target_duration / 2.0);
    let mut next = {
        let segs = &peer.playlist.segments;
        let newest = segs.last().map_or(0, |s| s.number);
        let oldest = segs.first().map_or(0, |s| s.number);
        if peer.playlist.ended {
            oldest
        } else {
            newest
                .saturating_sub(cfg.live_delay_segments.saturating_sub(1))
                .max(oldest)
        }
    };
    // The init segment is part of startup: fetched from the CDN like any player.
    if let Some(init) = peer.playlist.init.clone() {
        let bytes = peer.edge.get(&init, None, Duration::from_secs(10)).await?;
        counters
            .bytes_cdn
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }
    let max_buffer = (peer.playlist.target_duration * 4.0).max(8.0);
    loop {
        if *stop.borrow() {
            break;
        }
        let now = Instant::now();
        peer.player.tick(now);
        counters
            .buffer_ms
            .store((peer.player.buffer() * 1000.0) as u64, Ordering::Relaxed);
        if now >= next_announce {
            if let Some(i) = peer.announce().await {
                interval = i;
            }
            next_announce = Instant::now() + Duration::from_secs(interval);
        }
        if !peer.playlist.ended && now >= next_reload {
            if let Err(e) = peer.reload().await {
                tracing::debug!(error = %e, "playlist reload failed; trying again soon");
            }
            // A peer that lies wants to be asked: it watches for new segments eagerly so
            // that it is among the first to hold them.
            let every = if cfg.corrupt_uploads {
                0.25
            } else {
                peer.playlist.target_duration / 2.0
            };
            next_reload = Instant::now() + Duration::from_secs_f64(every);
        }
        let oldest = peer.playlist.segments.first().map_or(0, |s| s.number);
        if next < oldest {
            // Fell out of the live window: rejoin at its start.
            next = oldest;
        }
        let wanted = peer
            .playlist
            .segments
            .iter()
            .find(|s| s.number == next)
            .cloned();
        match wanted {
            Some(seg) if peer.player.buffer() < max_buffer => {
                let (bytes, source) = peer.fetch(&seg).await?;
                if matches!(source, Source::Peer(_)) {
                    // Announce a segment gained from a peer at once: the edge learns of
                    // a new holder while the swarm still wants the segment. (What the
                    // CDN served, the edge saw for itself.)
                    next_announce = Instant::now();
                }
                peer.keep(&seg, bytes, source, Instant::now());
                next += 1;
                peer.adapt().await?;
                if let Some(s) = &peer.playlist.session {
                    summary.swarm = s.swarm.clone();
                }
                continue;
            }
            None if peer.playlist.ended
                && peer
                    .playlist
                    .segments
                    .last()
                    .is_some_and(|s| s.number < next) =>
            {
                peer.player.end_of_stream(now);
                if peer.player.buffer() <= 0.0 {
                    break;
                }
            }
            _ => {}
        }
        let wait = next_reload
            .min(next_announce)
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
    let end = Instant::now();
    peer.player.tick(end);
    // Say goodbye: the edge stops naming this peer.
    peer.dropped.extend(peer.store.clear());
    peer.announce_with(true).await;
    let (stalls, stall_time) = peer.player.stalls(end);
    summary.ttff_ms = peer.player.ttff().map(|d| d.as_millis() as u64);
    summary.stalls = stalls;
    summary.stall_ms = stall_time.as_millis() as u64;
    summary.watched_s = peer.player.played();
    summary.segments = peer.segments;
    summary.segments_from_peers = peer.from_peers;
    summary.peers_used = peer.peers_used.len();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_audience_of_a_token() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"v","aud":"rilla-edge"}"#);
        assert_eq!(
            audience_of(&format!("h.{payload}.s")).as_deref(),
            Some("rilla-edge")
        );
        assert_eq!(audience_of("garbage"), None);
    }
}
