//! Memory of the holdings index: 100 000 viewers holding 10 segments each in one swarm,
//! measured with dhat's heap statistics (targets: 200 bytes per viewer entry, 16 bytes
//! per holding). Run with `cargo bench -p rilla-swarm --bench memory`.

use std::time::Instant;

use rilla_swarm::{IndexLimits, SwarmIndex, ViewerInfo};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn live_bytes() -> i64 {
    i64::try_from(dhat::HeapStats::get().curr_bytes).unwrap_or(i64::MAX)
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let (viewers, segments) = (100_000usize, 10u64);
    // Viewer ids as long as the edge's own (16 random bytes in base64url: 22 characters).
    let ids: Vec<String> = (0..viewers).map(|i| format!("viewer-{i:015}")).collect();
    let before = live_bytes();
    let idx = SwarmIndex::with_seed(
        IndexLimits {
            max_holdings: 10_000_000,
            max_viewers_per_swarm: 1_000_000,
            ..IndexLimits::default()
        },
        1,
    );
    let t = Instant::now();
    idx.observe_playlist(
        "0123456789abcdef",
        "/live/a/v1.m3u8",
        1000 + segments,
        2.0,
        t,
    )
    .expect("swarm");
    let info = |id| ViewerInfo {
        id,
        net: 0,
        region: 0,
        buffer_ms: None,
    };
    for id in &ids {
        idx.record_served("0123456789abcdef", &info(id), 1000, 1, [0; 32], t)
            .expect("viewer");
    }
    let one = live_bytes() - before;
    for id in &ids {
        for s in 1..segments {
            idx.record_served("0123456789abcdef", &info(id), 1000 + s, 1, [0; 32], t)
                .expect("holding");
        }
    }
    let all = live_bytes() - before;
    let extra = (viewers as f64) * (segments as f64 - 1.0);
    let per_holding = (all - one) as f64 / extra;
    let per_viewer = one as f64 / viewers as f64 - per_holding;
    println!(
        "memory: {viewers} viewers x {segments} segments in one swarm: {:.1} MiB; \
         {per_viewer:.0} bytes per viewer entry (target 200), \
         {per_holding:.1} bytes per holding (target 16)",
        all as f64 / (1024.0 * 1024.0)
    );
    drop(idx);
}
