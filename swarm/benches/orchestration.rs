//! Orchestration speed and memory.
//!
//! - `announce/10_segment_delta`: one announce of 10 gained and 10 dropped segments,
//!   without hints, in a swarm of 1000 viewers (target: 1 µs, a million per second).
//! - `announce/with_hints`: the same announce, answered with hints for 3 segments.
//! - `manifest_hints/3_planned`: hints for a 10-segment playlist, 3 of them planned,
//!   in a swarm of 1000 holders (target: 2 µs).
//! - baseline `hashmap/10_inserts`: 10 inserts into a std HashMap, the floor any index pays.
//!
//! Memory is measured by the `memory` bench target.

use std::{
    collections::HashMap,
    hint::black_box,
    net::SocketAddr,
    time::{Duration, Instant},
};

use criterion::Criterion;
use rilla_swarm::{
    Announce, Gain, IndexLimits, Locality, PlanRules, RandomPeers, SwarmIndex, ViewerInfo,
};

const SWARM: &str = "0123456789abcdef";

fn viewer_id(i: usize) -> String {
    // The length of the edge's own viewer ids (16 random bytes, base64url).
    format!("viewer-{i:015}")
}

fn info(id: &str) -> ViewerInfo<'_> {
    ViewerInfo {
        id,
        net: 0,
        region: 0,
        buffer_ms: None,
    }
}

fn big_limits() -> IndexLimits {
    IndexLimits {
        max_holdings: 10_000_000,
        max_viewers: 1_000_000,
        max_viewers_per_swarm: 1_000_000,
        ..IndexLimits::default()
    }
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 10_000 + (i % 50_000) as u16))
}

/// A swarm of `n` uploading viewers, each holding segments 1000..1010.
fn populated(n: usize) -> (SwarmIndex, Vec<String>) {
    let idx = SwarmIndex::with_seed(big_limits(), 2);
    let t = Instant::now();
    idx.observe_playlist(SWARM, "/live/a/v1.m3u8", 1009, 2.0, t)
        .expect("swarm");
    let ids: Vec<String> = (0..n).map(viewer_id).collect();
    for (i, id) in ids.iter().enumerate() {
        idx.announce(
            SWARM,
            &info(id),
            &Announce {
                addr: Some(addr(i)),
                upload_kbps: Some(1_000_000),
                want: Some(&[]),
                ..Announce::default()
            },
            &RandomPeers,
            &PlanRules::default(),
            t,
        )
        .expect("join");
        for s in 1000..1010 {
            idx.record_served(SWARM, &info(id), s, 125_000, [1; 32], t)
                .expect("holding");
        }
    }
    (idx, ids)
}

fn benches(c: &mut Criterion) {
    let (idx, ids) = populated(1000);
    let rules = PlanRules::default();
    let segments: Vec<u64> = (1000..1010).collect();
    let gained: Vec<Gain> = segments
        .iter()
        .map(|&s| Gain {
            segment: s,
            from: None,
            bytes: 125_000,
            millis: 100,
        })
        .collect();
    let mut g = c.benchmark_group("announce");
    let mut i = 0usize;
    g.bench_function("10_segment_delta", |b| {
        b.iter(|| {
            i = (i + 1) % ids.len();
            let reply = idx.announce(
                SWARM,
                &info(&ids[i]),
                &Announce {
                    gained: &gained,
                    dropped: &segments,
                    want: Some(&[]),
                    ..Announce::default()
                },
                &RandomPeers,
                &rules,
                Instant::now(),
            );
            black_box(reply)
        })
    });
    g.bench_function("with_hints", |b| {
        b.iter(|| {
            i = (i + 1) % ids.len();
            let reply = idx.announce(
                SWARM,
                &info(&ids[i]),
                &Announce {
                    gained: &gained,
                    dropped: &segments,
                    want: Some(&segments[7..]),
                    ..Announce::default()
                },
                &RandomPeers,
                &rules,
                Instant::now(),
            );
            black_box(reply)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("manifest_hints");
    let newcomers: Vec<String> = (0..1000).map(|i| format!("newcomer-{i:09}")).collect();
    g.bench_function("3_planned", |b| {
        b.iter(|| {
            i = (i + 1) % newcomers.len();
            black_box(idx.manifest_hints(
                SWARM,
                &info(&newcomers[i]),
                &segments,
                &Locality,
                &rules,
                Instant::now(),
            ))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("hashmap");
    g.bench_function("10_inserts", |b| {
        let mut map: HashMap<(u64, u64), u32> = HashMap::new();
        b.iter(|| {
            i = (i + 1) % 1000;
            for &s in &segments {
                map.insert((i as u64, s), 1);
            }
            black_box(map.len())
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
}
