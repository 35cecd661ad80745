//! The holdings index and the planner that turns it into hints.

use std::{
    fmt,
    hash::{BuildHasher, RandomState},
    net::SocketAddr,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hashbrown::{HashMap, HashTable};

use crate::{
    Action, CdnReason, Hint, PeerRef,
    policy::{Outcome, Policy},
    viewer::{DROPPED, Viewer},
};

const SHARDS: usize = 32;
/// The index keeps time in tenths of a second.
const TICKS_PER_SEC: f64 = 10.0;
/// Holders looked at per hint: bounds the work on very large swarms.
const CANDIDATE_SCAN: usize = 8;
/// Most candidates ranked for one hint (holders scanned plus seeders).
const MAX_RANKED: usize = 48;
/// Most peers named in one hint.
const MAX_PICKS: usize = 16;
/// Viewers looked at when seeders for a new segment are chosen.
const SEEDER_SAMPLE: usize = 16;
/// Segments this far below the first number a swarm saw are still accepted.
const BASE_MARGIN: u64 = 1 << 20;
/// A viewer heard from within this many ticks (10 s) is active: only active viewers seed
/// or are named as peers.
const ACTIVE_TICKS: u32 = 100;
/// Segments this far past the newest in the playlist can be planned (the next ones, for
/// viewers that prefetch).
const AHEAD: u64 = 4;
/// Most segments planned in one call.
const MAX_PLANNED: usize = 16;

/// Bounds of the index.
#[derive(Debug, Clone)]
pub struct IndexLimits {
    /// A holding is forgotten this long after it was last recorded.
    pub holding_ttl: Duration,
    /// A viewer is forgotten this long after it was last heard from.
    pub viewer_ttl: Duration,
    /// Most holdings in total.
    pub max_holdings: usize,
    /// Most viewers in total (a viewer in two swarms counts twice).
    pub max_viewers: usize,
    /// Most viewers in one swarm.
    pub max_viewers_per_swarm: usize,
    /// Most swarms.
    pub max_swarms: usize,
}

impl Default for IndexLimits {
    fn default() -> Self {
        Self {
            holding_ttl: Duration::from_secs(60),
            viewer_ttl: Duration::from_secs(30),
            max_holdings: 1_000_000,
            max_viewers: 1_000_000,
            max_viewers_per_swarm: 200_000,
            max_swarms: 100_000,
        }
    }
}

/// The rules every policy keeps.
#[derive(Debug, Clone)]
pub struct PlanRules {
    /// Most peers named in one hint (K).
    pub peers_per_hint: usize,
    /// Viewers asked to fetch each new segment from the CDN and seed it.
    pub seeders_per_segment: usize,
    /// A viewer with less buffer than this (milliseconds, CMCD `bl`) goes to the CDN.
    pub min_buffer_ms: u32,
    /// Upcoming segments hinted when the viewer names none.
    pub hinted_segments: usize,
    /// Distinct reporters of hash mismatches after which a viewer is demoted.
    pub demote_after: u8,
    /// Distinct reporters of hash mismatches after which a viewer is excluded.
    pub exclude_after: u8,
    /// How long a seeder may take before another viewer is chosen.
    pub peer_timeout: Duration,
}

impl Default for PlanRules {
    fn default() -> Self {
        Self {
            peers_per_hint: 3,
            seeders_per_segment: 2,
            min_buffer_ms: 2_000,
            hinted_segments: 3,
            demote_after: 2,
            exclude_after: 3,
            peer_timeout: Duration::from_secs(3),
        }
    }
}

/// Who is asking, as the edge sees it on this request.
#[derive(Debug, Clone, Copy)]
pub struct ViewerInfo<'a> {
    /// The viewer id (the token's subject).
    pub id: &'a str,
    /// Network index from the CIDR table (0: none).
    pub net: u16,
    /// Region index (0: unknown).
    pub region: u16,
    /// CMCD buffer length in milliseconds, when the request carried it.
    pub buffer_ms: Option<u32>,
}

/// A segment a viewer reports it has gained.
#[derive(Debug, Clone, PartialEq)]
pub struct Gain {
    /// The segment's number.
    pub segment: u64,
    /// The peer it came from; `None` for the CDN.
    pub from: Option<String>,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long the transfer took, in milliseconds.
    pub millis: u32,
}

/// What went wrong with a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The peer did not deliver in time.
    Timeout,
    /// The peer refused or did not have the segment.
    Refused,
    /// The bytes did not match the segment's SHA-256.
    HashMismatch,
}

/// A failed delivery from a peer.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The segment asked for.
    pub segment: u64,
    /// The peer that failed.
    pub peer: String,
    /// How.
    pub kind: FailureKind,
}

/// One announce from a viewer.
#[derive(Debug, Clone, Default)]
pub struct Announce<'a> {
    /// Where it serves segments to peers; `None` keeps the last one (or none: leech only).
    pub addr: Option<SocketAddr>,
    /// Declared upload capacity, kbit/s.
    pub upload_kbps: Option<u32>,
    /// Segments gained since the last announce.
    pub gained: &'a [Gain],
    /// Segments dropped since the last announce.
    pub dropped: &'a [u64],
    /// Failed deliveries from peers.
    pub failures: &'a [Failure],
    /// Segments it wants hints for; `None`: the ones after its newest, up to the live
    /// edge.
    pub want: Option<&'a [u64]>,
    /// The viewer is leaving: it is no longer named or asked to seed.
    pub leaving: bool,
}

/// The index's answer to an announce.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnounceReply {
    /// Hints for the segments it will need next.
    pub hints: Vec<Hint>,
    /// Gains refused: segments the edge neither served nor hinted to this viewer.
    pub refused: Vec<u64>,
    /// Gains from a peer (a hint used).
    pub used: u32,
    /// Gains from the CDN of segments hinted with peers (the viewer fell back).
    pub fell_back: u32,
    /// Failed deliveries reported.
    pub failed: u32,
    /// Holdings not recorded because the index is full.
    pub holdings_refused: u32,
    /// Viewers demoted by this announce's reports.
    pub demoted: u32,
    /// Viewers excluded by this announce's reports.
    pub excluded: u32,
}

/// Why the index refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such swarm (no manifest of it was served recently).
    UnknownSwarm,
    /// The swarm has as many viewers as allowed.
    SwarmFull,
    /// A segment number too far from the ones the swarm's playlist lists.
    OutOfRange,
    /// The index has as many viewers or swarms as allowed.
    IndexFull,
}

impl Refusal {
    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::UnknownSwarm => "unknown_swarm",
            Refusal::SwarmFull => "swarm_full",
            Refusal::OutOfRange => "out_of_range",
            Refusal::IndexFull => "index_full",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::UnknownSwarm => "no such swarm: fetch its manifest first",
            Refusal::SwarmFull => "the swarm has as many viewers as allowed",
            Refusal::OutOfRange => "no such segment in the swarm's playlist",
            Refusal::IndexFull => "the edge tracks as many viewers as allowed",
        })
    }
}

impl std::error::Error for Refusal {}

/// Counts taken by a sweep, for metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepStats {
    /// Swarms in the index.
    pub swarms: usize,
    /// Viewers in the index (a viewer in two swarms counts twice).
    pub viewers: usize,
    /// Viewer and segment pairs.
    pub holdings: usize,
    /// Viewers of each swarm.
    pub swarm_sizes: Vec<usize>,
    /// For each segment forgotten in this sweep: how many seeders were asked to fetch it
    /// from the CDN, and how many times the edge served it.
    pub retired: Vec<(u32, u32)>,
}

#[derive(Debug)]
struct Seg {
    holders: Vec<u32>,
    /// Seeders fetching it from the CDN now: slot and when chosen.
    seeders: Vec<(u32, u32)>,
    seeded: u32,
    edge_served: u32,
    sha256: Option<[u8; 32]>,
    created: u32,
}

impl Seg {
    fn new(now: u32) -> Self {
        Self {
            holders: Vec::new(),
            seeders: Vec::new(),
            seeded: 0,
            edge_served: 0,
            sha256: None,
            created: now,
        }
    }
}

struct Swarm {
    path: Box<str>,
    base: Option<u64>,
    newest: Option<u64>,
    segment_secs: f32,
    segment_bytes: u32,
    /// Slots by the hash of their viewer's id (the id itself lives in the slot).
    ids: HashTable<u32>,
    slots: Vec<Option<Viewer>>,
    free: Vec<u32>,
    /// Slots freed by this sweep, reusable once holder lists no longer name them.
    pending_free: Vec<u32>,
    viewers: usize,
    segs: HashMap<u32, Seg>,
    /// Hashes of the viewers that reported hash mismatches, by reported slot.
    mismatch: HashMap<u32, Vec<u64>>,
    rng: fastrand::Rng,
    last_seen: u32,
}

struct Shard {
    swarms: HashMap<Box<str>, Swarm>,
}

/// The holdings index of every swarm, sharded by swarm id.
pub struct SwarmIndex {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    epoch: Instant,
    limits: IndexLimits,
    viewers: AtomicUsize,
    holdings: AtomicUsize,
    swarms: AtomicUsize,
    seed: u64,
}

fn ticks(d: Duration) -> u32 {
    let t = d.as_secs_f64() * TICKS_PER_SEC;
    // Float to int casts saturate.
    t as u32
}

impl SwarmIndex {
    /// An empty index.
    pub fn new(limits: IndexLimits) -> Self {
        Self::with_seed(limits, fastrand::u64(..))
    }

    /// An empty index whose random choices follow `seed` (for tests).
    pub fn with_seed(limits: IndexLimits, seed: u64) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        swarms: HashMap::new(),
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            epoch: Instant::now(),
            limits,
            viewers: AtomicUsize::new(0),
            holdings: AtomicUsize::new(0),
            swarms: AtomicUsize::new(0),
            seed,
        }
    }

    /// The limits the index was built with.
    pub fn limits(&self) -> &IndexLimits {
        &self.limits
    }

    /// Time in ticks since the index was made; never [`DROPPED`].
    fn tick(&self, now: Instant) -> u32 {
        ticks(now.saturating_duration_since(self.epoch)).saturating_add(1)
    }

    fn shard(&self, swarm: &str) -> MutexGuard<'_, Shard> {
        let i = (self.hasher.hash_one(swarm) as usize) % SHARDS;
        // A panic while holding a shard leaves consistent data (every update is
        // completed before anything can panic), so a poisoned lock is still usable.
        self.shards[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a swarm, or refreshes it, from a media playlist the edge served: its
    /// path (for token checks), its newest segment and its segment duration.
    pub fn observe_playlist(
        &self,
        swarm: &str,
        path: &str,
        newest: u64,
        segment_secs: f32,
        now: Instant,
    ) -> Result<(), Refusal> {
        let now = self.tick(now);
        let mut shard = self.shard(swarm);
        if !shard.swarms.contains_key(swarm) {
            if self.swarms.fetch_add(1, Ordering::Relaxed) >= self.limits.max_swarms {
                self.swarms.fetch_sub(1, Ordering::Relaxed);
                return Err(Refusal::IndexFull);
            }
            let seed = self.seed ^ self.hasher.hash_one(swarm);
            shard.swarms.insert(
                swarm.into(),
                Swarm {
                    path: path.into(),
                    base: None,
                    newest: None,
                    segment_secs: 2.0,
                    segment_bytes: 0,
                    ids: HashTable::new(),
                    slots: Vec::new(),
                    free: Vec::new(),
                    pending_free: Vec::new(),
                    viewers: 0,
                    segs: HashMap::new(),
                    mismatch: HashMap::new(),
                    rng: fastrand::Rng::with_seed(seed),
                    last_seen: now,
                },
            );
        }
        if let Some(s) = shard.swarms.get_mut(swarm) {
            s.base.get_or_insert(newest.saturating_sub(BASE_MARGIN));
            s.newest = Some(s.newest.map_or(newest, |n| n.max(newest)));
            if segment_secs.is_finite() && segment_secs > 0.0 {
                s.segment_secs = segment_secs.min(60.0);
            }
            s.last_seen = now;
        }
        Ok(())
    }

    /// The path of the playlist a swarm was registered with.
    pub fn swarm_path(&self, swarm: &str) -> Option<Box<str>> {
        self.shard(swarm).swarms.get(swarm).map(|s| s.path.clone())
    }

    /// Runs `f` on a swarm with the viewer found or added (its slot) and the time in
    /// ticks, under the swarm's shard lock.
    fn with_viewer<R>(
        &self,
        swarm: &str,
        viewer: &ViewerInfo<'_>,
        now: Instant,
        f: impl FnOnce(&mut Swarm, u32, u32) -> Result<R, Refusal>,
    ) -> Result<R, Refusal> {
        let now = self.tick(now);
        let mut shard = self.shard(swarm);
        let s = shard.swarms.get_mut(swarm).ok_or(Refusal::UnknownSwarm)?;
        let slot = self.upsert(s, viewer, now)?;
        f(s, slot, now)
    }

    /// Records that the edge served `segment` to a viewer: it holds it now, and the
    /// segment's hash and size are known.
    pub fn record_served(
        &self,
        swarm: &str,
        viewer: &ViewerInfo<'_>,
        segment: u64,
        bytes: u64,
        sha256: [u8; 32],
        now: Instant,
    ) -> Result<bool, Refusal> {
        self.with_viewer(swarm, viewer, now, |s, slot, now| {
            let off = s.offset(segment).ok_or(Refusal::OutOfRange)?;
            let size = u32::try_from(bytes).unwrap_or(u32::MAX).max(1);
            s.segment_bytes = if s.segment_bytes == 0 {
                size
            } else {
                ((u64::from(s.segment_bytes) * 7 + u64::from(size)) / 8) as u32
            };
            let seg = s.segs.entry(off).or_insert_with(|| Seg::new(now));
            seg.edge_served = seg.edge_served.saturating_add(1);
            seg.sha256 = Some(sha256);
            Ok(self.hold(s, slot, off, now))
        })
    }

    /// Adds a holding, within the total bound. Returns `false` when refused.
    fn hold(&self, s: &mut Swarm, slot: u32, off: u32, now: u32) -> bool {
        let Some(v) = s.slots[slot as usize].as_mut() else {
            return false;
        };
        if !v.held.iter().any(|h| h.offset == off)
            && self.holdings.fetch_add(1, Ordering::Relaxed) >= self.limits.max_holdings
        {
            self.holdings.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        if v.hold(off, now) {
            s.segs
                .entry(off)
                .or_insert_with(|| Seg::new(now))
                .holders
                .push(slot);
        }
        if let Some(seg) = s.segs.get_mut(&off) {
            seg.seeders.retain(|(x, _)| *x != slot);
        }
        true
    }

    /// Finds or adds the viewer, refreshing what the request tells about it.
    fn upsert(&self, s: &mut Swarm, info: &ViewerInfo<'_>, now: u32) -> Result<u32, Refusal> {
        let key = self.hasher.hash_one(info.id);
        let slot = match s.slot_of(&self.hasher, info.id) {
            Some(slot) => slot,
            None => {
                if s.viewers >= self.limits.max_viewers_per_swarm {
                    return Err(Refusal::SwarmFull);
                }
                if self.viewers.fetch_add(1, Ordering::Relaxed) >= self.limits.max_viewers {
                    self.viewers.fetch_sub(1, Ordering::Relaxed);
                    return Err(Refusal::IndexFull);
                }
                let v = Viewer::new(info.id, now);
                let slot = match s.free.pop() {
                    Some(slot) => {
                        s.slots[slot as usize] = Some(v);
                        slot
                    }
                    None => {
                        s.slots.push(Some(v));
                        (s.slots.len() - 1) as u32
                    }
                };
                let slots = &s.slots;
                s.ids.insert_unique(key, slot, |x| {
                    slots[*x as usize]
                        .as_ref()
                        .map_or(0, |v| self.hasher.hash_one(&*v.id))
                });
                s.viewers += 1;
                slot
            }
        };
        if let Some(v) = s.slots[slot as usize].as_mut() {
            v.last_seen = now;
            v.net = info.net;
            v.region = info.region;
            if let Some(bl) = info.buffer_ms {
                v.set_buffer(bl, now);
            }
        }
        Ok(slot)
    }

    /// Processes an announce: gains (only of segments the edge served or hinted to this
    /// viewer), drops, failures; then plans the segments it will need next.
    pub fn announce(
        &self,
        swarm: &str,
        viewer: &ViewerInfo<'_>,
        announce: &Announce<'_>,
        policy: &dyn Policy,
        rules: &PlanRules,
        now: Instant,
    ) -> Result<AnnounceReply, Refusal> {
        self.with_viewer(swarm, viewer, now, |s, slot, now| {
            let mut reply = AnnounceReply::default();
            let me_net;
            {
                let Some(v) = s.slots[slot as usize].as_mut() else {
                    return Err(Refusal::UnknownSwarm);
                };
                if let Some(addr) = announce.addr {
                    v.addr = Some(addr.into());
                }
                if let Some(k) = announce.upload_kbps {
                    v.upload_kbps = k;
                }
                me_net = v.net;
            }
            for &segment in announce.dropped {
                let off = s.offset(segment);
                if let (Some(off), Some(v)) = (off, s.slots[slot as usize].as_mut()) {
                    v.drop_segment(off);
                }
            }
            for gain in announce.gained {
                let Some(off) = s.offset(gain.segment) else {
                    reply.refused.push(gain.segment);
                    continue;
                };
                let seeding = s
                    .segs
                    .get(&off)
                    .is_some_and(|seg| seg.seeders.iter().any(|(x, _)| *x == slot));
                let (held, hinted) = s.slots[slot as usize]
                    .as_ref()
                    .map_or((false, false), |v| (v.holds(off), v.was_hinted(off)));
                if !(held || hinted || seeding) {
                    reply.refused.push(gain.segment);
                    continue;
                }
                match gain.from.as_deref() {
                    Some(peer) => {
                        // Credit only a peer that could have sent it: one that holds or
                        // seeds the segment. Anything else teaches the policy nothing.
                        let sender = s.slot_of(&self.hasher, peer).filter(|p| {
                            *p != slot
                                && (s.slots[*p as usize].as_ref().is_some_and(|v| v.holds(off))
                                    || s.segs
                                        .get(&off)
                                        .is_some_and(|seg| seg.seeders.iter().any(|(x, _)| x == p)))
                        });
                        if let Some(p) = sender {
                            let kbps = (gain.millis > 0)
                                .then(|| gain.bytes as f32 * 8.0 / gain.millis as f32);
                            if let Some(pv) = s.slots[p as usize].as_mut() {
                                pv.delivered(true, kbps);
                                policy.learn(&Outcome {
                                    from_net: pv.net,
                                    to_net: me_net,
                                    delivered: true,
                                    kbps,
                                });
                            }
                            reply.used += 1;
                        }
                    }
                    None if hinted => reply.fell_back += 1,
                    None => {}
                }
                if !self.hold(s, slot, off, now) {
                    reply.holdings_refused += 1;
                }
            }
            let reporter = self.hasher.hash_one(viewer.id);
            for failure in announce.failures {
                // A report counts only from a viewer that was hinted peers for that segment,
                // about a peer of the swarm: inventing reporters costs a hint each.
                let hinted = s.offset(failure.segment).is_some_and(|off| {
                    s.slots[slot as usize]
                        .as_ref()
                        .is_some_and(|v| v.was_hinted(off))
                });
                let Some(p) = s
                    .slot_of(&self.hasher, &failure.peer)
                    .filter(|p| *p != slot && hinted)
                else {
                    continue;
                };
                reply.failed += 1;
                if let Some(pv) = s.slots[p as usize].as_mut() {
                    pv.delivered(false, None);
                    policy.learn(&Outcome {
                        from_net: pv.net,
                        to_net: me_net,
                        delivered: false,
                        kbps: None,
                    });
                }
                if failure.kind == FailureKind::HashMismatch {
                    let reporters = s.mismatch.entry(p).or_default();
                    if !reporters.contains(&reporter) && reporters.len() < usize::from(u8::MAX) {
                        reporters.push(reporter);
                    }
                    let n = reporters.len() as u8;
                    if let Some(pv) = s.slots[p as usize].as_mut() {
                        if pv.mismatch_reports < rules.demote_after && n >= rules.demote_after {
                            reply.demoted += 1;
                        }
                        if pv.mismatch_reports < rules.exclude_after && n >= rules.exclude_after {
                            reply.excluded += 1;
                        }
                        pv.mismatch_reports = n;
                    }
                }
            }
            if announce.leaving {
                if let Some(v) = s.slots[slot as usize].as_mut() {
                    for h in &mut v.held {
                        h.at = DROPPED;
                    }
                    v.last_seen = 0;
                }
                return Ok(reply);
            }
            let wanted: Vec<u64> = match announce.want {
                None => s.upcoming(slot, rules.hinted_segments),
                Some(want) => want.iter().take(MAX_PLANNED).copied().collect(),
            };
            for segment in wanted {
                if let Some(h) = s.plan(slot, segment, policy, rules, now) {
                    reply.hints.push(h);
                }
            }
            Ok(reply)
        })
    }

    /// Hints for the given segments, for one viewer.
    pub fn hints(
        &self,
        swarm: &str,
        viewer: &ViewerInfo<'_>,
        segments: &[u64],
        policy: &dyn Policy,
        rules: &PlanRules,
        now: Instant,
    ) -> Result<Vec<Hint>, Refusal> {
        self.with_viewer(swarm, viewer, now, |s, slot, now| {
            Ok(segments
                .iter()
                .take(MAX_PLANNED)
                .filter_map(|&seg| s.plan(slot, seg, policy, rules, now))
                .collect())
        })
    }

    /// Hints for a media playlist listing `segments` (ascending): the newest
    /// `rules.hinted_segments` are planned, the older ones carry their hash when known.
    pub fn manifest_hints(
        &self,
        swarm: &str,
        viewer: &ViewerInfo<'_>,
        segments: &[u64],
        policy: &dyn Policy,
        rules: &PlanRules,
        now: Instant,
    ) -> Result<Vec<Hint>, Refusal> {
        self.with_viewer(swarm, viewer, now, |s, slot, now| {
            let upcoming = segments.len().saturating_sub(rules.hinted_segments);
            let mut hints = Vec::with_capacity(segments.len().min(64));
            for (i, &segment) in segments.iter().enumerate() {
                if i >= upcoming {
                    if let Some(h) = s.plan(slot, segment, policy, rules, now) {
                        hints.push(h);
                    }
                } else if let Some(sha256) = s
                    .offset(segment)
                    .and_then(|off| s.segs.get(&off))
                    .and_then(|seg| seg.sha256)
                {
                    hints.push(Hint {
                        segment,
                        action: Action::Cdn(CdnReason::Past),
                        sha256: Some(sha256),
                    });
                }
            }
            Ok(hints)
        })
    }

    /// The viewers holding `segment` of `swarm` now, sorted.
    pub fn holders(&self, swarm: &str, segment: u64) -> Vec<String> {
        let shard = self.shard(swarm);
        let Some(s) = shard.swarms.get(swarm) else {
            return Vec::new();
        };
        let Some(seg) = s
            .offset(segment)
            .and_then(|off| s.segs.get(&off).map(|g| (off, g)))
        else {
            return Vec::new();
        };
        let (off, seg) = seg;
        let mut ids: Vec<String> = seg
            .holders
            .iter()
            .filter_map(|x| s.slots[*x as usize].as_ref())
            .filter(|v| v.holds(off))
            .map(|v| v.id.to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Forgets expired holdings, silent viewers and empty swarms, and returns counts.
    pub fn sweep(&self, now: Instant) -> SweepStats {
        let now = self.tick(now);
        let holding_ttl = ticks(self.limits.holding_ttl);
        let viewer_ttl = ticks(self.limits.viewer_ttl);
        let mut stats = SweepStats::default();
        for shard in &self.shards {
            let mut shard = shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut gone_swarms = 0;
            shard.swarms.retain(|_, s| {
                let (viewers, holdings) = s.sweep(&self.hasher, now, holding_ttl, viewer_ttl);
                self.viewers.fetch_sub(viewers, Ordering::Relaxed);
                self.holdings.fetch_sub(holdings, Ordering::Relaxed);
                for seg in s.segs.values() {
                    stats.holdings += seg.holders.len();
                }
                s.segs.retain(|_, seg| {
                    let keep = !seg.holders.is_empty()
                        || !seg.seeders.is_empty()
                        || now.saturating_sub(seg.created) <= holding_ttl;
                    if !keep {
                        stats.retired.push((seg.seeded, seg.edge_served));
                    }
                    keep
                });
                let keep = s.viewers > 0
                    || !s.segs.is_empty()
                    || now.saturating_sub(s.last_seen) <= viewer_ttl;
                if keep {
                    stats.swarms += 1;
                    stats.viewers += s.viewers;
                    stats.swarm_sizes.push(s.viewers);
                } else {
                    gone_swarms += 1;
                }
                keep
            });
            self.swarms.fetch_sub(gone_swarms, Ordering::Relaxed);
        }
        stats
    }
}

impl Swarm {
    /// The offset of a segment number, for numbers the swarm can know: from
    /// [`BASE_MARGIN`] below the first playlist seen to a little past the newest.
    fn offset(&self, segment: u64) -> Option<u32> {
        let newest = self.newest?;
        if segment > newest.saturating_add(AHEAD) {
            return None;
        }
        segment
            .checked_sub(self.base?)
            .and_then(|o| u32::try_from(o).ok())
            .filter(|o| *o != u32::MAX)
    }

    fn slot_of(&self, hasher: &RandomState, id: &str) -> Option<u32> {
        self.ids
            .find(hasher.hash_one(id), |x| {
                self.slots[*x as usize]
                    .as_ref()
                    .is_some_and(|v| &*v.id == id)
            })
            .copied()
    }

    /// The segments after the viewer's newest, up to the live edge; for a viewer that
    /// holds nothing, the newest ones.
    fn upcoming(&self, slot: u32, n: usize) -> Vec<u64> {
        let (Some(newest), Some(base)) = (self.newest, self.base) else {
            return Vec::new();
        };
        let n = n.min(MAX_PLANNED) as u64;
        let held = self.slots[slot as usize]
            .as_ref()
            .and_then(Viewer::newest)
            .map(|off| base + u64::from(off));
        let first = match held {
            Some(h) => h + 1,
            None => (newest + 1).saturating_sub(n),
        };
        (first..=newest).take(n as usize).collect()
    }

    /// The typical segment size, 1 MB until a segment was served.
    fn typical_bytes(&self) -> u32 {
        if self.segment_bytes == 0 {
            1_000_000
        } else {
            self.segment_bytes
        }
    }

    fn window_ticks(&self) -> u32 {
        ((f64::from(self.segment_secs) * 2.0 * TICKS_PER_SEC) as u32).max(10)
    }

    fn eligible_seeder(&mut self, slot: u32, off: u32, rules: &PlanRules, now: u32) -> bool {
        let window = self.window_ticks();
        let (bytes, secs) = (self.typical_bytes(), window as f32 / TICKS_PER_SEC as f32);
        self.slots[slot as usize].as_mut().is_some_and(|v| {
            let cap = v.capacity(bytes, secs);
            cap > 0
                && now.saturating_sub(v.last_seen) <= ACTIVE_TICKS
                && v.load_at(now, window) < cap
                && v.mismatch_reports < rules.demote_after
                && !v.holds(off)
        })
    }

    /// Plans one segment for the viewer in `slot`; `None` when it already holds it.
    fn plan(
        &mut self,
        slot: u32,
        segment: u64,
        policy: &dyn Policy,
        rules: &PlanRules,
        now: u32,
    ) -> Option<Hint> {
        let Some(off) = self.offset(segment) else {
            return Some(Hint {
                segment,
                action: Action::Cdn(CdnReason::NoPeers),
                sha256: None,
            });
        };
        let sha256 = self.segs.get(&off).and_then(|seg| seg.sha256);
        let requester = self.slots[slot as usize].as_ref()?;
        if requester.holds(off) {
            return None;
        }
        let cdn = |reason| {
            Some(Hint {
                segment,
                action: Action::Cdn(reason),
                sha256,
            })
        };
        if !policy.uses_peers() {
            return cdn(CdnReason::PolicyOff);
        }
        if requester
            .buffer_ms(now)
            .is_some_and(|bl| bl < rules.min_buffer_ms)
        {
            return cdn(CdnReason::LowBuffer);
        }
        let seed = Some(Hint {
            segment,
            action: Action::Seed,
            sha256,
        });

        // Seeders that took too long are replaced.
        let timeout = ticks(rules.peer_timeout);
        let mut seg = self.segs.remove(&off).unwrap_or_else(|| Seg::new(now));
        let mut late = Vec::new();
        seg.seeders.retain(|&(x, since)| {
            let Some(v) = self.slots[x as usize].as_ref() else {
                return false;
            };
            // Holders are no longer seeders, and a viewer demoted or gone since never
            // seeds.
            if v.holds(off)
                || v.mismatch_reports >= rules.demote_after
                || now.saturating_sub(v.last_seen) > ACTIVE_TICKS
            {
                return false;
            }
            if now.saturating_sub(since) > timeout {
                late.push(x);
                return false;
            }
            true
        });
        for x in late {
            if let Some(v) = self.slots[x as usize].as_mut() {
                v.delivered(false, None);
            }
        }
        if seg.seeders.iter().any(|(x, _)| *x == slot) {
            self.segs.insert(off, seg);
            return seed;
        }
        // Seeders are appointed for new segments only, the ones the swarm is about to
        // need; an older segment nobody holds is fetched from the CDN.
        let is_new = self
            .newest
            .is_some_and(|n| segment + (rules.hinted_segments.max(1) as u64) > n);
        let present = seg.seeders.len() + seg.holders.len();
        if is_new && present < rules.seeders_per_segment {
            let chosen = self.choose_seeders(&seg, slot, off, rules, now);
            let me = chosen.contains(&slot);
            seg.seeded += chosen.len() as u32;
            seg.seeders.extend(chosen.into_iter().map(|x| (x, now)));
            if me {
                self.segs.insert(off, seg);
                return seed;
            }
        }
        let peers = self.choose_peers(&seg, slot, off, policy, rules, now);
        self.segs.insert(off, seg);
        if peers.is_empty() {
            return cdn(CdnReason::NoPeers);
        }
        if let Some(v) = self.slots[slot as usize].as_mut() {
            v.remember_hint(off);
        }
        Some(Hint {
            segment,
            action: Action::Peers(peers),
            sha256,
        })
    }

    /// New seeders for a segment: the requester and a sample of the swarm, eligible ones
    /// only (upload to spare, not demoted), most reliable first.
    fn choose_seeders(
        &mut self,
        seg: &Seg,
        me: u32,
        off: u32,
        rules: &PlanRules,
        now: u32,
    ) -> Vec<u32> {
        let need = rules
            .seeders_per_segment
            .saturating_sub(seg.seeders.len() + seg.holders.len());
        let n = self.slots.len();
        if need == 0 || n == 0 {
            return Vec::new();
        }
        let start = self.rng.usize(..n);
        let mut sample: Vec<u32> = std::iter::once(me)
            .chain((0..n.min(SEEDER_SAMPLE)).map(|i| ((start + i) % n) as u32))
            .collect();
        sample.sort_unstable();
        sample.dedup();
        let mut eligible: Vec<(f64, u32)> = Vec::with_capacity(sample.len());
        for x in sample {
            if seg.seeders.iter().any(|(s, _)| *s == x) || !self.eligible_seeder(x, off, rules, now)
            {
                continue;
            }
            let Some(v) = self.slots[x as usize].as_ref() else {
                continue;
            };
            let cap = v.capacity(self.typical_bytes(), 1.0);
            // The requester is asking now, so it fetches soonest: it wins ties.
            let bonus = if x == me { 0.05 } else { 0.0 };
            eligible.push((v.view(cap).reliability() + bonus, x));
        }
        eligible.sort_by(|a, b| b.0.total_cmp(&a.0));
        eligible.into_iter().take(need).map(|(_, x)| x).collect()
    }

    /// Up to K peers for the requester: holders of the segment first, then its seeders,
    /// each with upload to spare and not excluded, ranked by the policy; demoted viewers
    /// last; at most one exploratory choice. Each chosen peer's load is charged.
    fn choose_peers(
        &mut self,
        seg: &Seg,
        me: u32,
        off: u32,
        policy: &dyn Policy,
        rules: &PlanRules,
        now: u32,
    ) -> Vec<PeerRef> {
        let window = self.window_ticks();
        let secs = window as f32 / TICKS_PER_SEC as f32;
        let bytes = self.typical_bytes();
        let Some(requester) = self.slots[me as usize].as_ref() else {
            return Vec::new();
        };
        let me_view = requester.view(0);
        let requester_hinted = requester.was_hinted(off);
        let h = seg.holders.len();
        let start = if h == 0 { 0 } else { self.rng.usize(..h) };
        let holders = (0..h.min(CANDIDATE_SCAN)).map(|i| (seg.holders[(start + i) % h], true));
        let seeders = seg.seeders.iter().map(|(x, _)| (*x, false));
        // (holder, not demoted, score, exploratory, slot)
        // (key, exploratory, slot), on the stack. The key orders demoted viewers last,
        // whatever they hold; then holders before seeders (they have it now); then the
        // policy's score, clamped so that it never crosses those classes.
        let mut ranked = [(0.0f64, false, 0u32, false); MAX_RANKED];
        let mut n = 0;
        for (x, holder) in holders.chain(seeders) {
            if n == MAX_RANKED {
                break;
            }
            if x == me || (!holder && ranked[..n].iter().any(|r| r.2 == x)) {
                continue;
            }
            let Some(v) = self.slots[x as usize].as_mut() else {
                continue;
            };
            // Whether a holder still holds the segment (it may have dropped it since) is
            // checked for the chosen few only: it reads another cache line.
            if v.addr.is_none()
                || now.saturating_sub(v.last_seen) > ACTIVE_TICKS
                || v.mismatch_reports >= rules.exclude_after
            {
                continue;
            }
            let cap = v.capacity(bytes, secs);
            if v.load_at(now, window) >= cap {
                continue;
            }
            let view = v.view(cap);
            // Spread uploads: a peer already named for much of its capacity in this
            // window loses up to a quarter point, less than the locality groups differ.
            let busy = f64::from(v.load) / f64::from(cap.max(1));
            let score = policy.score(&me_view, &view, &mut self.rng) - 0.25 * busy;
            let class = if v.mismatch_reports < rules.demote_after {
                2.0
            } else {
                0.0
            } + if holder { 1.0 } else { 0.0 };
            let score = if score.is_finite() {
                score.clamp(-7.0, 7.0)
            } else {
                -7.0
            };
            ranked[n] = (class * 16.0 + score, policy.exploratory(&view), x, holder);
            n += 1;
        }
        let ranked = &ranked[..n];
        // The best K by key, with at most one unproven peer while proven ones fill the
        // hint; unproven ones fill whatever is left. K is small: selection, no sort.
        let k = rules.peers_per_hint.min(MAX_PICKS);
        let mut taken = 0u64;
        let mut picks = [0u32; MAX_PICKS];
        let mut picked = 0;
        let mut explored = false;
        for allow_more_unproven in [false, true] {
            while picked < k {
                let best = (0..ranked.len())
                    .filter(|i| taken & (1 << i) == 0)
                    .filter(|i| allow_more_unproven || !(ranked[*i].1 && explored))
                    .max_by(|a, b| ranked[*a].0.total_cmp(&ranked[*b].0));
                let Some(i) = best else {
                    break;
                };
                taken |= 1 << i;
                let (_, _, x, holder) = ranked[i];
                if holder
                    && !self.slots[x as usize]
                        .as_ref()
                        .is_some_and(|v| v.holds(off))
                {
                    continue;
                }
                explored |= ranked[i].1;
                picks[picked] = ranked[i].2;
                picked += 1;
            }
        }
        let picks = &picks[..picked];
        // A viewer re-planning a segment it was already hinted (a playlist reload) does
        // not charge the peers again.
        let charge = !requester_hinted;
        let mut chosen = Vec::with_capacity(picks.len());
        for &x in picks {
            let Some(v) = self.slots[x as usize].as_mut() else {
                continue;
            };
            let Some(addr) = v.addr else {
                continue;
            };
            if charge {
                v.load = v.load.saturating_add(1);
            }
            chosen.push(PeerRef {
                id: v.id.clone(),
                addr: addr.into(),
            });
        }
        chosen
    }

    /// Expires holdings and viewers. Returns (viewers removed, holdings removed).
    fn sweep(
        &mut self,
        hasher: &RandomState,
        now: u32,
        holding_ttl: u32,
        viewer_ttl: u32,
    ) -> (usize, usize) {
        let (mut viewers, mut holdings) = (0, 0);
        for (i, entry) in self.slots.iter_mut().enumerate() {
            let Some(v) = entry else {
                continue;
            };
            if now.saturating_sub(v.last_seen) > viewer_ttl {
                holdings += v.held.len();
                viewers += 1;
                if let Ok(found) = self
                    .ids
                    .find_entry(hasher.hash_one(&*v.id), |x| *x as usize == i)
                {
                    found.remove();
                }
                self.mismatch.remove(&(i as u32));
                *entry = None;
                self.pending_free.push(i as u32);
                continue;
            }
            let before = v.held.len();
            v.held
                .retain(|h| h.at != DROPPED && now.saturating_sub(h.at) <= holding_ttl);
            holdings += before - v.held.len();
        }
        self.viewers -= viewers;
        let slots = &self.slots;
        for (off, seg) in &mut self.segs {
            seg.holders.retain(|x| {
                slots[*x as usize]
                    .as_ref()
                    .is_some_and(|v| v.held.iter().any(|h| h.offset == *off))
            });
            seg.seeders.retain(|(x, _)| slots[*x as usize].is_some());
        }
        self.free.append(&mut self.pending_free);
        (viewers, holdings)
    }
}

#[cfg(test)]
mod tests;
