//! State shared by every request: the current runtime, caches, metrics, holdings.

use std::{
    net::IpAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use rilla_plugins::Holdings;

use super::{
    metrics::Metrics,
    origin::{FetchError, OriginClient, OriginResponse},
    runtime::Runtime,
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
    /// The hash hints for this copy, worked out by the first request that personalizes it
    /// (segments hashed later appear with the next copy).
    pub hints: std::sync::OnceLock<rilla_plugins::HintTable>,
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
    /// SHA-256 of segments by cache key, kept as long as segments are.
    pub hashes: moka::sync::Cache<String, [u8; 32]>,
    /// Origin manifests by cache key, for their short TTL.
    pub manifests: moka::future::Cache<String, Arc<OriginManifest>>,
    /// The last good copy of each manifest, for serving stale while an origin fails.
    pub stale_manifests: moka::sync::Cache<String, Arc<OriginManifest>>,
    /// Which viewers hold which segments.
    pub holdings: Holdings,
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
        let hashes = moka::sync::Cache::builder()
            .max_capacity(1_000_000)
            .time_to_live(cache.segment_ttl.get())
            .build();
        let manifests = moka::future::Cache::builder()
            .max_capacity(100_000)
            .expire_after(ManifestExpiry)
            .build();
        let stale_manifests = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(cache.manifest_max_stale.get() + Duration::from_secs(60))
            .build();
        let holdings = Holdings::new(
            file.holdings.ttl.get(),
            usize::try_from(file.holdings.max_entries).unwrap_or(usize::MAX),
        );
        Self {
            runtime: ArcSwap::from_pointee(runtime),
            config_path,
            metrics: Metrics::new(),
            origin: OriginClient::new(),
            segments,
            hashes,
            manifests,
            stale_manifests,
            holdings,
            demo_page: std::sync::OnceLock::new(),
        }
    }
}

impl Edge {
    /// Expires old holdings and updates the gauges that describe the index.
    pub fn refresh_gauges(&self) {
        let stats = self.holdings.sweep(Instant::now());
        let clamp = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        self.metrics.viewers.set(clamp(stats.viewers));
        self.metrics.swarms.set(clamp(stats.swarms));
        self.metrics.holdings.set(clamp(stats.holdings));
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
