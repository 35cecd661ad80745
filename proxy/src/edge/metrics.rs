//! The edge's Prometheus metrics. No label ever carries a viewer id, a path or a token:
//! every label takes its values from a small fixed set.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// All metrics of one edge process.
pub struct Metrics {
    registry: Registry,
    /// Requests answered, by kind (`manifest`, `segment`, `api`, `other`) and status.
    pub requests: IntCounterVec,
    /// Bytes of response bodies sent to viewers, by source (`cache`, `origin`).
    pub bytes_served: IntCounterVec,
    /// Segment cache lookups, by result (`hit`, `miss`).
    pub cache_lookups: IntCounterVec,
    /// Origin fetches, by kind and outcome (`ok`, `status`, `timeout`, `error`).
    pub origin_fetches: IntCounterVec,
    /// Time to fetch a whole object from an origin, by kind.
    pub origin_latency: HistogramVec,
    /// Time to personalize one manifest.
    pub rewrite_latency: Histogram,
    /// Token rejections, by reason (`missing`, `expired`, …).
    pub token_rejections: IntCounterVec,
    /// Manifests served stale because their origin failed.
    pub stale_manifests: IntCounter,
    /// Viewer sessions started on a manifest request.
    pub sessions_started: IntCounter,
    /// Viewers present in the holdings index.
    pub viewers: IntGauge,
    /// Swarms present in the holdings index.
    pub swarms: IntGauge,
    /// Holdings (viewer × segment) in the index.
    pub holdings: IntGauge,
    /// Holdings refused because the index was full.
    pub holdings_refused: IntCounter,
    /// Configuration reloads, by result (`ok`, `refused`).
    pub reloads: IntCounterVec,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    registry
        .register(Box::new(c.clone()))
        .expect("metric names are unique");
    c
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric definition");
    registry
        .register(Box::new(c.clone()))
        .expect("metric names are unique");
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric definition");
    registry
        .register(Box::new(g.clone()))
        .expect("metric names are unique");
    g
}

const LATENCY_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let origin_latency = HistogramVec::new(
            HistogramOpts::new(
                "rilla_origin_fetch_duration_seconds",
                "Time to fetch a whole object from an origin, by kind.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["kind"],
        )
        .expect("valid metric definition");
        registry
            .register(Box::new(origin_latency.clone()))
            .expect("metric names are unique");
        let rewrite_latency = Histogram::with_opts(
            HistogramOpts::new(
                "rilla_manifest_rewrite_duration_seconds",
                "Time to personalize one manifest for one viewer.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric definition");
        registry
            .register(Box::new(rewrite_latency.clone()))
            .expect("metric names are unique");
        Self {
            requests: counter_vec(
                &registry,
                "rilla_requests_total",
                "Requests answered, by kind and status.",
                &["kind", "status"],
            ),
            bytes_served: counter_vec(
                &registry,
                "rilla_bytes_served_total",
                "Response body bytes sent to viewers, by source.",
                &["source"],
            ),
            cache_lookups: counter_vec(
                &registry,
                "rilla_cache_lookups_total",
                "Segment cache lookups, by result.",
                &["result"],
            ),
            origin_fetches: counter_vec(
                &registry,
                "rilla_origin_fetches_total",
                "Origin fetches, by kind and outcome.",
                &["kind", "outcome"],
            ),
            origin_latency,
            rewrite_latency,
            token_rejections: counter_vec(
                &registry,
                "rilla_token_rejections_total",
                "Requests refused for their token, by reason.",
                &["reason"],
            ),
            stale_manifests: counter(
                &registry,
                "rilla_stale_manifests_total",
                "Manifests served stale because their origin failed.",
            ),
            sessions_started: counter(
                &registry,
                "rilla_sessions_started_total",
                "Viewer sessions started on a manifest request.",
            ),
            viewers: gauge(
                &registry,
                "rilla_viewers",
                "Viewers present in the holdings index.",
            ),
            swarms: gauge(
                &registry,
                "rilla_swarms",
                "Swarms present in the holdings index.",
            ),
            holdings: gauge(
                &registry,
                "rilla_holdings",
                "Holdings (viewer and segment pairs) in the index.",
            ),
            holdings_refused: counter(
                &registry,
                "rilla_holdings_refused_total",
                "Holdings refused because the index was full.",
            ),
            reloads: counter_vec(
                &registry,
                "rilla_config_reloads_total",
                "Configuration reloads, by result.",
                &["result"],
            ),
            registry,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
