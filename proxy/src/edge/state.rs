//! State shared by every request: the current runtime, caches, metrics, holdings.

use std::{
    net::IpAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use rilla_plugins::Cmcd;
use rilla_swarm::{IndexLimits, SwarmIndex};

use super::{
    metrics::Metrics,
    origin::{FetchError, OriginClient, OriginResponse},
    runtime::Runtime,
    swarms::{PlaylistInfo, Policies, Regions, SegmentRef},
};

/// A segment as cached: the complete origin body and what the edge learned about it.
#[derive(Debug)]
pub struct Segment {
    /// The bytes.
    pub body: Bytes,
    /// `Content-Type` from the origin.
    pub content_type: String,
    /// Entity tag sent to viewers: the origin's, or one derived from the SHA-256.
    pub etag: String,
    /// `Last-Modified` from the origin.
    pub last_modified: Option<String>,
    /// `Cache-Control` from the origin.
    pub cache_control: Option<String>,
    /// SHA-256 of the body, computed once as it arrived.
    pub sha256: [u8; 32],
}

/// A manifest as fetched from the origin, before personalization.
#[derive(Debug)]
pub struct OriginManifest {
    /// The bytes.
    pub body: Bytes,
    /// `Content-Type` from the origin.
    pub content_type: Option<String>,
    /// How long it may be cached.
    pub ttl: Duration,
    /// When it was fetched.
    pub fetched_at: Instant,
    /// What the swarm planner needs from this copy (segment numbers, target duration),
    /// worked out by the first request that personalizes it; `None` for anything but an
    /// HLS media playlist.
    pub playlist: std::sync::OnceLock<Option<PlaylistInfo>>,
}

/// What a request looks like to the handlers.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// `true` for HEAD.
    pub head: bool,
    /// The path as the client sent it.
    pub path: String,
    /// The query, if any.
    pub query: Option<String>,
    /// `Host` (or `:authority`), lower-cased.
    pub host: String,
    /// The client's address.
    pub client_ip: Option<IpAddr>,
    /// `Range` header.
    pub range: Option<String>,
    /// `If-None-Match` header.
    pub if_none_match: Option<String>,
    /// Whether the request arrived over TLS.
    pub tls: bool,
    /// CMCD the request carried (query argument or `CMCD-Request` header).
    pub cmcd: Cmcd,
    /// The viewer's region, from the configured trusted header.
    pub region: Option<String>,
    /// `Authorization` header.
    pub authorization: Option<String>,
}

/// State shared by every request.
pub struct Edge {
    /// The current configuration and what was built from it; swapped whole on reload.
    pub runtime: ArcSwap<Runtime>,
    /// The file the configuration came from, for reloads.
    pub config_path: Option<PathBuf>,
    /// Metrics.
    pub metrics: Metrics,
    /// Origin connections.
    pub origin: OriginClient,
    /// Segments by cache key (host and origin path, never the token).
    pub segments: moka::future::Cache<String, Arc<Segment>>,
    /// Which swarm and segment number a segment's cache key stands for, learnt from the
    /// media playlists the edge personalized.
    pub segment_ids: moka::sync::Cache<String, SegmentRef>,
    /// Origin manifests by cache key, for their short TTL.
    pub manifests: moka::future::Cache<String, Arc<OriginManifest>>,
    /// The last good copy of each manifest, for serving stale while an origin fails.
    pub stale_manifests: moka::sync::Cache<String, Arc<OriginManifest>>,
    /// Which viewers hold which segments of which swarm.
    pub swarms: SwarmIndex,
    /// The orchestration policies, by name; their learnt state outlives reloads.
    pub policies: Policies,
    /// Region names from the trusted header, as small numbers.
    pub regions: Regions,
    /// The player page served at `/` by `rilla demo`; unset for `rilla proxy`.
    pub demo_page: std::sync::OnceLock<String>,
}

struct ManifestExpiry;

impl moka::Expiry<String, Arc<OriginManifest>> for ManifestExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<OriginManifest>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

impl Edge {
    /// Shared state for a runtime. Cache sizes come from the configuration at start.
    pub fn new(runtime: Runtime, config_path: Option<PathBuf>) -> Self {
        let file = &runtime.config.file;
        let cache = &file.cache;
        let segments = moka::future::Cache::builder()
            .weigher(|_key: &String, seg: &Arc<Segment>| {
                u32::try_from(seg.body.len() + 256).unwrap_or(u32::MAX)
            })
            .max_capacity(cache.segment_bytes)
            .time_to_live(cache.segment_ttl.get())
            .build();
        let segment_ids = moka::sync::Cache::builder()
            .max_capacity(1_000_000)
            .time_to_live(file.holdings.ttl.get() + cache.segment_ttl.get())
            .build();
        let manifests = moka::future::Cache::builder()
            .max_capacity(100_000)
            .expire_after(ManifestExpiry)
            .build();
        let stale_manifests = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(cache.manifest_max_stale.get() + Duration::from_secs(60))
            .build();
        let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        let h = &file.holdings;
        let swarms = SwarmIndex::new(IndexLimits {
            holding_ttl: h.ttl.get(),
            viewer_ttl: h.viewer_ttl.get(),
            max_holdings: clamp(h.max_entries),
            max_viewers: clamp(h.max_viewers),
            max_viewers_per_swarm: clamp(h.max_per_swarm),
            max_swarms: IndexLimits::default().max_swarms,
        });
        Self {
            runtime: ArcSwap::from_pointee(runtime),
            config_path,
            metrics: Metrics::new(),
            origin: OriginClient::new(),
            segments,
            segment_ids,
            manifests,
            stale_manifests,
            swarms,
            policies: Policies::default(),
            regions: Regions::default(),
            demo_page: std::sync::OnceLock::new(),
        }
    }
}

impl Edge {
    /// Expires old holdings and silent viewers, forgets idle rate-limit state, and
    /// updates the metrics that describe the swarms.
    pub fn refresh_gauges(&self) {
        let stats = self.swarms.sweep(Instant::now());
        self.runtime.load().limiters.forget_idle();
        self.metrics.observe_sweep(&stats);
    }
}

impl Edge {
    /// The Prometheus text of every metric.
    pub fn metrics_text(&self) -> Vec<u8> {
        self.metrics.render()
    }
}

impl Edge {
    /// Fetches a whole object from the origin named `origin`, counting the fetch and its
    /// latency under `kind` (`manifest` or `segment`).
    pub async fn fetch_from_origin(
        &self,
        rt: &Runtime,
        origin: &str,
        kind: &'static str,
        path_and_query: &str,
        max_bytes: usize,
    ) -> Result<OriginResponse, FetchError> {
        let target = rt.origins.get(origin).ok_or_else(|| FetchError::Failed {
            origin: origin.to_owned(),
            detail: "origin not configured".into(),
        })?;
        let started = Instant::now();
        let result = self.origin.get(target, path_and_query, max_bytes).await;
        self.metrics
            .origin_latency
            .with_label_values(&[kind])
            .observe(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(r) if r.status == 200 => "ok",
            Ok(_) => "status",
            Err(e) => e.outcome(),
        };
        self.metrics
            .origin_fetches
            .with_label_values(&[kind, outcome])
            .inc();
        result
    }
}

impl Edge {
    /// The 403 for a refused token, counted by reason.
    pub fn reject_token(&self, e: &rilla_token::TokenError) -> super::reply::Reply {
        self.metrics
            .token_rejections
            .with_label_values(&[e.reason()])
            .inc();
        super::reply::Reply::error(403, e.reason(), &e.to_string())
    }
}
