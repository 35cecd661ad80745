//! Swarm orchestration for the edge, free of any I/O.
//!
//! A swarm is one rendition of one stream; a segment is known by its number within the
//! swarm (HLS media sequence number, DASH template number or time), never by its URL.
//!
//! - [`SwarmIndex`]: per swarm, which viewers hold which segments, who is fetching a new
//!   segment from the CDN right now, each viewer's upload capacity and load, locality and
//!   reliability. Sharded, expired by [`SwarmIndex::sweep`], bounded in memory.
//! - [`Policy`]: how candidate peers are ranked, chosen per routing rule: [`CdnOnly`],
//!   [`RandomPeers`], [`Locality`] and [`Adaptive`] (a bounded-exploration UCB bandit).
//! - The planner inside the index turns both into a [`Hint`] per segment, keeping the
//!   rules every policy obeys: seeders per segment, upload capacity, same swarm only, at
//!   most K peers, low-buffer viewers to the CDN, and no hints naming excluded viewers.

mod index;
mod policy;
mod viewer;

pub use index::{
    Announce, AnnounceReply, Failure, FailureKind, Gain, IndexLimits, PlanRules, Refusal,
    SwarmIndex, SweepStats, ViewerInfo,
};
pub use policy::{Adaptive, CdnOnly, Locality, Outcome, PeerView, Policy, RandomPeers};

use std::net::SocketAddr;

/// What a viewer should do for one segment.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Fetch it from the CDN (through the edge) and share it: this viewer seeds it.
    Seed,
    /// Fetch it from one of these peers, best first; the CDN remains the fallback.
    Peers(Vec<PeerRef>),
    /// Fetch it from the CDN.
    Cdn(CdnReason),
}

impl Action {
    /// A short label for metrics: `seed`, `peers` or `cdn`.
    pub fn label(&self) -> &'static str {
        match self {
            Action::Seed => "seed",
            Action::Peers(_) => "peers",
            Action::Cdn(_) => "cdn",
        }
    }
}

/// Why a hint says CDN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CdnReason {
    /// The route's policy turns P2P off.
    PolicyOff,
    /// The viewer's buffer is below the threshold: no time to try a peer.
    LowBuffer,
    /// No peer holds the segment with upload to spare, and enough others seed it.
    NoPeers,
    /// An older segment, given only for its hash.
    Past,
}

impl CdnReason {
    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            CdnReason::PolicyOff => "policy_off",
            CdnReason::LowBuffer => "low_buffer",
            CdnReason::NoPeers => "no_peers",
            CdnReason::Past => "past",
        }
    }
}

/// A peer named in a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRef {
    /// The peer's viewer id.
    pub id: Box<str>,
    /// Where it serves segments.
    pub addr: SocketAddr,
}

/// The advice for one segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    /// The segment's number in its swarm.
    pub segment: u64,
    /// What to do.
    pub action: Action,
    /// Its SHA-256, when the edge has served it.
    pub sha256: Option<[u8; 32]>,
}
