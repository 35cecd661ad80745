//! Glue between requests and the swarm index: policies by name, who a viewer is (network,
//! region, buffer), rate limits, and hints in the rewriter's terms.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex},
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rilla_config::{P2pConfig, network_of};
use rilla_manifest_rewriter::{HintAction, SegmentHint, SegmentId, Sha256Digest, ViewerId};
use rilla_plugins::HintTable;
use rilla_swarm::{
    Action, Adaptive, CdnOnly, Hint, Locality, PlanRules, Policy, RandomPeers, ViewerInfo,
};

use super::{runtime::Runtime, state::RequestInfo};

/// Every policy, each one instance for the life of the process.
#[derive(Default)]
pub struct Policies {
    cdn_only: CdnOnly,
    random: RandomPeers,
    locality: Locality,
    adaptive: Adaptive,
}

impl Policies {
    /// The policy a route names (checked by the configuration; anything else is
    /// `cdn-only`, the safe choice).
    pub fn get(&self, name: &str) -> &dyn Policy {
        match name {
            "random" => &self.random,
            "locality" => &self.locality,
            "adaptive" => &self.adaptive,
            _ => &self.cdn_only,
        }
    }
}

/// Region names from the trusted header, as small numbers (at most 4096 distinct; the
/// rest count as unknown).
#[derive(Default)]
pub struct Regions {
    names: Mutex<HashMap<String, u16>>,
}

impl Regions {
    /// The number of a region name (0 for none).
    pub fn of(&self, name: Option<&str>) -> u16 {
        let Some(name) = name
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= 64)
        else {
            return 0;
        };
        let Ok(mut names) = self.names.lock() else {
            return 0;
        };
        if let Some(n) = names.get(name) {
            return *n;
        }
        if names.len() >= 4096 {
            return 0;
        }
        let n = u16::try_from(names.len() + 1).unwrap_or(0);
        names.insert(name.to_owned(), n);
        n
    }
}

/// What the planner needs from one copy of a media playlist.
#[derive(Debug, Clone)]
pub struct PlaylistInfo {
    /// Media sequence numbers of its whole segments, ascending.
    pub segments: Vec<u64>,
    /// `EXT-X-TARGETDURATION`, seconds.
    pub target_secs: f32,
}

/// The swarm and number a segment's cache key stands for.
#[derive(Debug, Clone)]
pub struct SegmentRef {
    /// Swarm id.
    pub swarm: Arc<str>,
    /// Media sequence number.
    pub number: u64,
}

/// The planner's rules from the configuration.
pub fn plan_rules(p2p: &P2pConfig) -> PlanRules {
    let small = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
    PlanRules {
        peers_per_hint: small(p2p.peers_per_hint),
        seeders_per_segment: small(p2p.seeders_per_segment),
        min_buffer_ms: u32::try_from(p2p.min_buffer.get().as_millis()).unwrap_or(u32::MAX),
        hinted_segments: small(p2p.hinted_segments),
        demote_after: u8::try_from(p2p.demote_after_reports).unwrap_or(u8::MAX),
        exclude_after: u8::try_from(p2p.exclude_after_reports).unwrap_or(u8::MAX),
        peer_timeout: p2p.peer_timeout.get(),
    }
}

/// The viewer as the index sees it on this request.
pub fn viewer_info<'a>(
    edge: &super::state::Edge,
    rt: &Runtime,
    req: &RequestInfo,
    id: &'a str,
) -> ViewerInfo<'a> {
    ViewerInfo {
        id,
        net: req.client_ip.map_or(0, |ip| network_of(&rt.networks, ip)),
        region: edge.regions.of(req.region.as_deref()),
        buffer_ms: req.cmcd.buffer_ms,
    }
}

/// The rewriter's hints for the planner's.
pub fn hint_table(hints: &[Hint]) -> HintTable {
    let mut table = HintTable::default();
    for h in hints {
        let action = match &h.action {
            Action::Seed => HintAction::Seed,
            Action::Cdn(_) => HintAction::Cdn,
            Action::Peers(peers) => HintAction::Peers(
                peers
                    .iter()
                    .filter_map(|p| ViewerId::new(&p.id).ok())
                    .collect(),
            ),
        };
        table.insert(
            None,
            SegmentHint {
                segment: SegmentId::Sequence {
                    msn: h.segment,
                    part: None,
                },
                action,
                sha256: h.sha256.map(Sha256Digest),
            },
        );
    }
    table
}

/// The key of a client's IP prefix: /24 for IPv4, /64 for IPv6.
fn prefix_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4) & 0xffff_ff00),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4) & 0xffff_ff00),
            None => (u128::from(v6) >> 64) << 64 | 1,
        },
    }
}

/// Rate limits of the P2P API, per viewer and per client IP prefix.
pub struct Limiters {
    viewer: DefaultKeyedRateLimiter<String>,
    prefix: DefaultKeyedRateLimiter<u128>,
}

fn quota(rate: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(rate.get())).unwrap_or(rate);
    Quota::per_second(rate).allow_burst(burst)
}

impl Limiters {
    /// Limiters for the configured rates.
    pub fn new(p2p: &P2pConfig) -> Self {
        Self {
            viewer: RateLimiter::keyed(quota(p2p.viewer_rate, p2p.viewer_burst)),
            prefix: RateLimiter::keyed(quota(p2p.prefix_rate, p2p.prefix_burst)),
        }
    }

    /// Whether the client's prefix may make another request now.
    pub fn allow_prefix(&self, ip: Option<IpAddr>) -> bool {
        ip.is_none_or(|ip| self.prefix.check_key(&prefix_key(ip)).is_ok())
    }

    /// Whether the viewer may make another request now.
    pub fn allow_viewer(&self, viewer: &str) -> bool {
        self.viewer.check_key(&viewer.to_owned()).is_ok()
    }

    /// Forgets the state of keys that are back to a full burst.
    pub fn forget_idle(&self) {
        self.viewer.retain_recent();
        self.prefix.retain_recent();
        self.viewer.shrink_to_fit();
        self.prefix.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_group_neighbours() {
        let a = prefix_key("10.1.2.3".parse().unwrap());
        let b = prefix_key("10.1.2.250".parse().unwrap());
        let c = prefix_key("10.1.3.1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = prefix_key("::ffff:10.1.2.9".parse().unwrap());
        assert_eq!(a, mapped);
        let v6a = prefix_key("2001:db8:1:2::1".parse().unwrap());
        let v6b = prefix_key("2001:db8:1:2:ffff::9".parse().unwrap());
        assert_eq!(v6a, v6b);
    }

    #[test]
    fn regions_are_numbered_once() {
        let r = Regions::default();
        assert_eq!(r.of(None), 0);
        assert_eq!(r.of(Some("  ")), 0);
        let eu = r.of(Some("eu-west"));
        assert_eq!(r.of(Some("eu-west")), eu);
        assert_ne!(r.of(Some("us-east")), eu);
    }

    #[test]
    fn unknown_policy_names_fall_back_to_cdn_only() {
        let p = Policies::default();
        assert_eq!(p.get("locality").name(), "locality");
        assert_eq!(p.get("nonsense").name(), "cdn-only");
    }
}
