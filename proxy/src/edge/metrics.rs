//! The edge's Prometheus metrics. No label ever carries a viewer id, a path or a token:
//! every label takes its values from a small fixed set.

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
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
    /// Segment body bytes the edge sent to viewers (the CDN's share of delivery).
    pub segment_bytes: IntCounter,
    /// Bytes viewers reported receiving, by source (`peer`, `cdn`), and uploading
    /// (`uploaded`).
    pub reported_bytes: IntCounterVec,
    /// Peer bytes over peer bytes plus segment bytes the edge served.
    pub deflection: Gauge,
    /// Hint decisions, by policy and decision.
    pub decisions: IntCounterVec,
    /// Outcomes of peer hints as viewers reported them (`used`, `failed`, `fell_back`).
    pub hint_outcomes: IntCounterVec,
    /// P2P API requests and holdings refused, by reason.
    pub p2p_refusals: IntCounterVec,
    /// Viewers demoted or excluded after hash-mismatch reports, by action.
    pub sanctions: IntCounterVec,
    /// Viewers per swarm, observed at every sweep.
    pub swarm_size: Histogram,
    /// Seeders asked to fetch each segment, observed when the segment is forgotten.
    pub seeders_per_segment: Histogram,
    /// Times the edge served each segment, observed when the segment is forgotten.
    pub cdn_fetches_per_segment: Histogram,
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

fn histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .expect("valid metric definition");
    registry
        .register(Box::new(h.clone()))
        .expect("metric names are unique");
    h
}

const COUNT_BUCKETS: &[f64] = &[
    0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 10_000.0, 100_000.0,
];

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
            segment_bytes: counter(
                &registry,
                "rilla_segment_bytes_served_total",
                "Segment body bytes the edge sent to viewers.",
            ),
            reported_bytes: counter_vec(
                &registry,
                "rilla_p2p_reported_bytes_total",
                "Bytes viewers reported receiving, by source, or uploading.",
                &["source"],
            ),
            deflection: {
                let g = Gauge::new(
                    "rilla_p2p_deflection_ratio",
                    "Peer bytes over peer bytes plus segment bytes the edge served.",
                )
                .expect("valid metric definition");
                registry
                    .register(Box::new(g.clone()))
                    .expect("metric names are unique");
                g
            },
            decisions: counter_vec(
                &registry,
                "rilla_p2p_decisions_total",
                "Hint decisions, by policy and decision.",
                &["policy", "decision"],
            ),
            hint_outcomes: counter_vec(
                &registry,
                "rilla_p2p_hint_outcomes_total",
                "Outcomes of peer hints as viewers reported them.",
                &["outcome"],
            ),
            p2p_refusals: counter_vec(
                &registry,
                "rilla_p2p_refusals_total",
                "P2P API requests and holdings refused, by reason.",
                &["reason"],
            ),
            sanctions: counter_vec(
                &registry,
                "rilla_p2p_sanctions_total",
                "Viewers demoted or excluded after hash-mismatch reports by distinct viewers.",
                &["action"],
            ),
            swarm_size: histogram(
                &registry,
                "rilla_p2p_swarm_size",
                "Viewers per swarm, observed at every sweep.",
                COUNT_BUCKETS,
            ),
            seeders_per_segment: histogram(
                &registry,
                "rilla_p2p_seeders_per_segment",
                "Seeders asked to fetch each segment from the CDN.",
                COUNT_BUCKETS,
            ),
            cdn_fetches_per_segment: histogram(
                &registry,
                "rilla_p2p_cdn_fetches_per_segment",
                "Times the edge served each segment to a viewer.",
                COUNT_BUCKETS,
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

    /// Records what a sweep of the swarm index found.
    pub fn observe_sweep(&self, stats: &rilla_swarm::SweepStats) {
        let clamp = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        self.viewers.set(clamp(stats.viewers));
        self.swarms.set(clamp(stats.swarms));
        self.holdings.set(clamp(stats.holdings));
        for size in &stats.swarm_sizes {
            self.swarm_size.observe(*size as f64);
        }
        for (seeded, served) in &stats.retired {
            self.seeders_per_segment.observe(f64::from(*seeded));
            self.cdn_fetches_per_segment.observe(f64::from(*served));
        }
        self.update_deflection();
    }

    /// Recomputes the deflection ratio from the byte counters.
    pub fn update_deflection(&self) {
        let peer = self.reported_bytes.with_label_values(&["peer"]).get() as f64;
        let edge = self.segment_bytes.get() as f64;
        if peer + edge > 0.0 {
            self.deflection.set(peer / (peer + edge));
        }
    }

    /// Counts the decisions in a list of hints.
    pub fn count_decisions(&self, policy: &str, hints: &[rilla_swarm::Hint]) {
        for h in hints {
            let decision = match &h.action {
                // A hash for an older segment is not a decision.
                rilla_swarm::Action::Cdn(rilla_swarm::CdnReason::Past) => continue,
                rilla_swarm::Action::Cdn(reason) => reason.label(),
                other => other.label(),
            };
            self.decisions.with_label_values(&[policy, decision]).inc();
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
