//! Orchestration policies: how candidate peers are ranked for a viewer. The planner keeps
//! the rules every policy obeys (seeders, capacity, K peers, low buffer, exclusion); a
//! policy only orders the candidates that pass them, and may learn from outcomes.

use std::{collections::HashMap, sync::RwLock};

/// What a policy sees of a viewer: no id, only what ranking needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerView {
    /// Network index from the configured CIDR table (0: none matched).
    pub net: u16,
    /// Region index from the trusted region header (0: unknown).
    pub region: u16,
    /// Successful deliveries reported by receivers (decayed).
    pub ok: f32,
    /// Failed deliveries reported by receivers (decayed).
    pub fail: f32,
    /// Delivery throughput reported by receivers, kbit/s (0: unknown).
    pub kbps: f32,
    /// Peers named in hints during the current window.
    pub load: u16,
    /// How many it may be named in per window.
    pub capacity: u16,
}

impl PeerView {
    /// Mean delivery success with a uniform prior.
    pub fn reliability(&self) -> f64 {
        (f64::from(self.ok) + 1.0) / (f64::from(self.ok) + f64::from(self.fail) + 2.0)
    }

    /// Evidence behind [`PeerView::reliability`].
    pub fn observations(&self) -> f64 {
        f64::from(self.ok) + f64::from(self.fail)
    }
}

/// A delivery outcome reported by a receiver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Network of the peer that sent.
    pub from_net: u16,
    /// Network of the viewer that received.
    pub to_net: u16,
    /// Whether the segment arrived, whole and with the right hash.
    pub delivered: bool,
    /// Throughput, kbit/s, when it arrived.
    pub kbps: Option<f32>,
}

/// Ranks candidate peers. Implementations must be cheap: [`Policy::score`] runs for every
/// candidate of every hint.
pub trait Policy: Send + Sync {
    /// The name used in the configuration and in metrics.
    fn name(&self) -> &'static str;

    /// Whether peers are used at all; `false` makes every hint say CDN.
    fn uses_peers(&self) -> bool {
        true
    }

    /// The candidate's score for this requester; higher is better.
    fn score(&self, requester: &PeerView, candidate: &PeerView, rng: &mut fastrand::Rng) -> f64;

    /// Whether choosing this candidate is exploration; a hint names at most one such.
    fn exploratory(&self, _candidate: &PeerView) -> bool {
        false
    }

    /// Learns from a reported outcome.
    fn learn(&self, _outcome: &Outcome) {}
}

/// P2P off: every hint says CDN.
#[derive(Debug, Default)]
pub struct CdnOnly;

impl Policy for CdnOnly {
    fn name(&self) -> &'static str {
        "cdn-only"
    }
    fn uses_peers(&self) -> bool {
        false
    }
    fn score(&self, _: &PeerView, _: &PeerView, _: &mut fastrand::Rng) -> f64 {
        0.0
    }
}

/// Peers in random order.
#[derive(Debug, Default)]
pub struct RandomPeers;

impl Policy for RandomPeers {
    fn name(&self) -> &'static str {
        "random"
    }
    fn score(&self, _: &PeerView, _: &PeerView, rng: &mut fastrand::Rng) -> f64 {
        rng.f64()
    }
}

/// Same network first, then same region, then anyone; random within each group.
#[derive(Debug, Default)]
pub struct Locality;

fn locality_rank(requester: &PeerView, candidate: &PeerView) -> f64 {
    if requester.net != 0 && requester.net == candidate.net {
        2.0
    } else if requester.region != 0 && requester.region == candidate.region {
        1.0
    } else {
        0.0
    }
}

impl Policy for Locality {
    fn name(&self) -> &'static str {
        "locality"
    }
    fn score(&self, requester: &PeerView, candidate: &PeerView, rng: &mut fastrand::Rng) -> f64 {
        locality_rank(requester, candidate) + rng.f64() * 0.5
    }
}

/// Delivery statistics of one arm of the bandit.
#[derive(Debug, Clone, Copy, Default)]
struct Arm {
    pulls: f64,
    reward: f64,
}

/// Learns online, per peer and per network pair, which deliveries succeed and how fast:
/// a UCB1 bandit whose exploration bonus is capped, with at most one unproven peer per
/// hint. Rewards are 0 for a failure and between 0.5 and 1 for a success, higher for
/// faster deliveries.
#[derive(Debug)]
pub struct Adaptive {
    pairs: RwLock<HashMap<(u16, u16), Arm>>,
    /// Largest exploration bonus added to a mean reward.
    max_bonus: f64,
    /// Observations below which a peer counts as unproven.
    proven_after: f64,
}

impl Default for Adaptive {
    fn default() -> Self {
        Self {
            pairs: RwLock::new(HashMap::new()),
            max_bonus: 0.3,
            proven_after: 3.0,
        }
    }
}

/// Throughput (kbit/s) at which a delivery earns three quarters of the reward.
const GOOD_KBPS: f64 = 8_000.0;

fn reward(delivered: bool, kbps: Option<f32>) -> f64 {
    if !delivered {
        return 0.0;
    }
    let k = kbps.map_or(GOOD_KBPS, f64::from).max(0.0);
    0.5 + 0.5 * k / (k + GOOD_KBPS)
}

impl Adaptive {
    fn pair(&self, from: u16, to: u16) -> Arm {
        self.pairs
            .read()
            .ok()
            .and_then(|p| p.get(&(from, to)).copied())
            .unwrap_or_default()
    }

    /// The mean reward learnt for deliveries from network `from` to network `to`.
    pub fn pair_mean(&self, from: u16, to: u16) -> Option<f64> {
        let arm = self.pair(from, to);
        (arm.pulls > 0.0).then(|| arm.reward / arm.pulls)
    }
}

impl Policy for Adaptive {
    fn name(&self) -> &'static str {
        "adaptive"
    }

    fn score(&self, requester: &PeerView, candidate: &PeerView, rng: &mut fastrand::Rng) -> f64 {
        // The peer's own record: its reliability, weighted by its speed once known.
        let speed = if candidate.kbps > 0.0 {
            reward(true, Some(candidate.kbps))
        } else {
            0.75
        };
        let peer_mean = candidate.reliability() * speed;
        let n = candidate.observations();
        let pair = self.pair(candidate.net, requester.net);
        let pair_mean = if pair.pulls > 0.0 {
            (pair.reward + 0.75) / (pair.pulls + 1.0)
        } else {
            0.75
        };
        // Trust the peer's own record as it grows; lean on the network pair before.
        let w = n / (n + 3.0);
        let mean = w * peer_mean + (1.0 - w) * pair_mean;
        let total = pair.pulls.max(1.0) + n;
        let bonus = ((2.0 * (total + 1.0).ln()) / (n + 1.0)).sqrt() * 0.1;
        mean + bonus.min(self.max_bonus) + rng.f64() * 1e-3
    }

    fn exploratory(&self, candidate: &PeerView) -> bool {
        candidate.observations() < self.proven_after
    }

    fn learn(&self, outcome: &Outcome) {
        let Ok(mut pairs) = self.pairs.write() else {
            return;
        };
        // Bounded: networks come from the configured table, so pairs are few; still,
        // never let hostile input grow it without limit.
        if pairs.len() >= 65_536 && !pairs.contains_key(&(outcome.from_net, outcome.to_net)) {
            return;
        }
        let arm = pairs.entry((outcome.from_net, outcome.to_net)).or_default();
        // Decay so that the pair's standing follows the network's current state.
        arm.pulls = arm.pulls * 0.99 + 1.0;
        arm.reward = arm.reward * 0.99 + reward(outcome.delivered, outcome.kbps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(net: u16, region: u16) -> PeerView {
        PeerView {
            net,
            region,
            ok: 0.0,
            fail: 0.0,
            kbps: 0.0,
            load: 0,
            capacity: 4,
        }
    }

    #[test]
    fn locality_orders_network_then_region_then_anyone() {
        let mut rng = fastrand::Rng::with_seed(7);
        let me = view(1, 5);
        for _ in 0..100 {
            let same_net = Locality.score(&me, &view(1, 9), &mut rng);
            let same_region = Locality.score(&me, &view(2, 5), &mut rng);
            let other = Locality.score(&me, &view(3, 6), &mut rng);
            assert!(same_net > same_region && same_region > other);
        }
        // Unknown network or region never counts as a match.
        let unknown = view(0, 0);
        let s = Locality.score(&unknown, &view(0, 0), &mut rng);
        assert!(s < 1.0);
    }

    #[test]
    fn adaptive_learns_which_network_pair_delivers() {
        let policy = Adaptive::default();
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..50 {
            policy.learn(&Outcome {
                from_net: 1,
                to_net: 3,
                delivered: true,
                kbps: Some(20_000.0),
            });
            policy.learn(&Outcome {
                from_net: 2,
                to_net: 3,
                delivered: false,
                kbps: None,
            });
        }
        let me = view(3, 0);
        let good = policy.score(&me, &view(1, 0), &mut rng);
        let bad = policy.score(&me, &view(2, 0), &mut rng);
        assert!(good > bad + 0.3, "good {good} bad {bad}");
        assert!(policy.pair_mean(1, 3).unwrap() > 0.8);
        assert!(policy.pair_mean(2, 3).unwrap() < 0.1);
    }

    #[test]
    fn adaptive_prefers_a_proven_peer_but_keeps_exploring_boundedly() {
        let policy = Adaptive::default();
        let mut rng = fastrand::Rng::with_seed(1);
        let me = view(0, 0);
        let proven = PeerView {
            ok: 30.0,
            kbps: 20_000.0,
            ..view(0, 0)
        };
        let failing = PeerView {
            fail: 30.0,
            ..view(0, 0)
        };
        let fresh = view(0, 0);
        let p = policy.score(&me, &proven, &mut rng);
        let f = policy.score(&me, &failing, &mut rng);
        let n = policy.score(&me, &fresh, &mut rng);
        assert!(p > f && n > f, "proven {p} fresh {n} failing {f}");
        assert!(policy.exploratory(&fresh) && !policy.exploratory(&proven));
        // The bonus is capped: an unproven peer never scores above 1 + max_bonus.
        assert!(n <= 1.0 + policy.max_bonus + 1e-3);
    }

    #[test]
    fn cdn_only_uses_no_peers() {
        assert!(!CdnOnly.uses_peers());
        assert!(RandomPeers.uses_peers() && Locality.uses_peers());
    }
}
