//! Which viewers hold which segments of which swarm: fed by every segment the edge
//! serves, expired by TTL, bounded in size.

use std::{
    collections::{HashMap, HashSet},
    hash::{BuildHasher, RandomState},
    sync::Mutex,
    time::{Duration, Instant},
};

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    /// swarm -> viewer -> segment -> last seen
    swarms: HashMap<String, HashMap<String, HashMap<String, Instant>>>,
    entries: usize,
}

/// Counts for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HoldingsStats {
    /// Distinct viewers holding anything.
    pub viewers: usize,
    /// Swarms with at least one holding.
    pub swarms: usize,
    /// Viewer × segment pairs.
    pub holdings: usize,
}

/// The holdings index, sharded by swarm.
pub struct Holdings {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    ttl: Duration,
    max_per_shard: usize,
}

impl Holdings {
    /// An index that forgets holdings after `ttl` and keeps at most `max_entries`.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            ttl,
            max_per_shard: max_entries.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, swarm: &str) -> &Mutex<Shard> {
        let i = (self.hasher.hash_one(swarm) as usize) % SHARDS;
        &self.shards[i]
    }

    /// Records that `viewer` holds `segment` of `swarm` as of `now`. Returns `false` when
    /// the index is full and the holding was refused.
    pub fn record(&self, swarm: &str, viewer: &str, segment: &str, now: Instant) -> bool {
        let Ok(mut shard) = self.shard(swarm).lock() else {
            return false;
        };
        let exists = shard
            .swarms
            .get(swarm)
            .and_then(|v| v.get(viewer))
            .is_some_and(|s| s.contains_key(segment));
        if !exists && shard.entries >= self.max_per_shard {
            return false;
        }
        let segments = shard
            .swarms
            .entry(swarm.to_owned())
            .or_default()
            .entry(viewer.to_owned())
            .or_default();
        if segments.insert(segment.to_owned(), now).is_none() {
            shard.entries += 1;
        }
        true
    }

    /// The viewers holding `segment` of `swarm`, most recent first.
    pub fn holders(&self, swarm: &str, segment: &str, now: Instant) -> Vec<String> {
        let Ok(shard) = self.shard(swarm).lock() else {
            return Vec::new();
        };
        let mut found: Vec<(Instant, String)> = shard
            .swarms
            .get(swarm)
            .map(|viewers| {
                viewers
                    .iter()
                    .filter_map(|(v, segs)| {
                        segs.get(segment)
                            .filter(|t| now.duration_since(**t) < self.ttl)
                            .map(|t| (*t, v.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort_by_key(|(seen, _)| std::cmp::Reverse(*seen));
        found.into_iter().map(|(_, v)| v).collect()
    }

    /// Drops every holding older than the TTL and returns the counts.
    pub fn sweep(&self, now: Instant) -> HoldingsStats {
        let mut viewers = HashSet::new();
        let mut stats = HoldingsStats::default();
        for shard in &self.shards {
            let Ok(mut shard) = shard.lock() else {
                continue;
            };
            let ttl = self.ttl;
            let mut removed = 0;
            shard.swarms.retain(|_, by_viewer| {
                by_viewer.retain(|_, segs| {
                    let before = segs.len();
                    segs.retain(|_, t| now.duration_since(*t) < ttl);
                    removed += before - segs.len();
                    !segs.is_empty()
                });
                !by_viewer.is_empty()
            });
            shard.entries -= removed;
            stats.swarms += shard.swarms.len();
            stats.holdings += shard.entries;
            for by_viewer in shard.swarms.values() {
                viewers.extend(by_viewer.keys().cloned());
            }
        }
        stats.viewers = viewers.len();
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_expires_and_bounds() {
        let t0 = Instant::now();
        let h = Holdings::new(Duration::from_secs(10), SHARDS * 2);
        assert!(h.record("s1", "a", "seg-1", t0));
        assert!(h.record("s1", "b", "seg-1", t0 + Duration::from_secs(1)));
        assert!(
            h.record("s1", "a", "seg-1", t0),
            "re-recording is not a new entry"
        );
        assert_eq!(
            h.holders("s1", "seg-1", t0 + Duration::from_secs(2)),
            ["b", "a"]
        );
        let stats = h.sweep(t0 + Duration::from_secs(2));
        assert_eq!(
            stats,
            HoldingsStats {
                viewers: 2,
                swarms: 1,
                holdings: 2
            }
        );
        let stats = h.sweep(t0 + Duration::from_secs(10) + Duration::from_millis(500));
        assert_eq!(
            stats,
            HoldingsStats {
                viewers: 1,
                swarms: 1,
                holdings: 1
            }
        );
        assert!(h.sweep(t0 + Duration::from_secs(60)).holdings == 0);

        // A full shard refuses new holdings.
        let small = Holdings::new(Duration::from_secs(10), 1);
        assert!(small.record("s", "a", "1", t0));
        assert!(!small.record("s", "a", "2", t0));
    }
}
