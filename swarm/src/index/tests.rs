use std::collections::{BTreeSet, HashMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::policy::{Adaptive, CdnOnly, Locality, PeerView, RandomPeers};

const SWARM: &str = "s1";

fn index() -> SwarmIndex {
    SwarmIndex::with_seed(IndexLimits::default(), 42)
}

fn info(id: &str) -> ViewerInfo<'_> {
    ViewerInfo {
        id,
        net: 0,
        region: 0,
        buffer_ms: None,
    }
}

fn addr(i: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 10_000 + i))
}

/// Registers `n` uploading viewers `v0..vn` (20 Mbit/s each) in a swarm whose newest
/// segment is `newest`.
fn swarm_with(idx: &SwarmIndex, n: u16, newest: u64, t: Instant) -> Vec<String> {
    idx.observe_playlist(SWARM, "/live/a/v1.m3u8", newest, 2.0, t)
        .unwrap();
    (0..n)
        .map(|i| {
            let id = format!("v{i}");
            join(idx, &id, i, 20_000, t);
            id
        })
        .collect()
}

fn join(idx: &SwarmIndex, id: &str, port: u16, kbps: u32, t: Instant) {
    idx.announce(
        SWARM,
        &info(id),
        &Announce {
            addr: Some(addr(port)),
            upload_kbps: Some(kbps),
            want: Some(&[]),
            ..Announce::default()
        },
        &CdnOnly,
        &PlanRules::default(),
        t,
    )
    .unwrap();
}

fn plan(
    idx: &SwarmIndex,
    id: &str,
    seg: u64,
    policy: &dyn Policy,
    rules: &PlanRules,
    t: Instant,
) -> Hint {
    idx.hints(SWARM, &info(id), &[seg], policy, rules, t)
        .unwrap()
        .pop()
        .expect("a hint")
}

fn serve(idx: &SwarmIndex, id: &str, seg: u64, t: Instant) {
    idx.record_served(SWARM, &info(id), seg, 125_000, [seg as u8; 32], t)
        .unwrap();
}

fn peers(h: &Hint) -> Vec<String> {
    match &h.action {
        Action::Peers(p) => p.iter().map(|p| p.id.to_string()).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_first_viewers_seed_and_the_rest_are_sent_to_them() {
    let idx = index();
    let t = Instant::now();
    let ids = swarm_with(&idx, 6, 100, t);
    let rules = PlanRules::default();
    let first = plan(&idx, &ids[0], 100, &RandomPeers, &rules, t);
    assert_eq!(first.action, Action::Seed);
    let mut seeders = 0;
    let mut named = HashSet::new();
    for id in &ids[1..] {
        let h = plan(&idx, id, 100, &RandomPeers, &rules, t);
        match &h.action {
            Action::Seed => seeders += 1,
            Action::Peers(p) => named.extend(p.iter().map(|p| p.id.to_string())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seeders + 1,
        rules.seeders_per_segment,
        "exactly the configured seeders"
    );
    assert!(named.contains(&ids[0]), "peers are pointed at the seeders");
    assert!(named.len() <= rules.seeders_per_segment);

    // Once a seeder holds it, it is a holder and hints carry the hash.
    serve(&idx, &ids[0], 100, t);
    let h = plan(&idx, &ids[5], 100, &RandomPeers, &rules, t);
    assert_eq!(h.sha256, Some([100; 32]));
    assert!(peers(&h).contains(&ids[0]));
    assert_eq!(idx.holders(SWARM, 100), vec![ids[0].clone()]);
}

#[test]
fn no_viewer_is_asked_to_upload_beyond_its_capacity() {
    let idx = index();
    let t = Instant::now();
    idx.observe_playlist(SWARM, "/p.m3u8", 10, 2.0, t).unwrap();
    // 1000 kbit/s = 125 kB/s; segments of 125 kB; the window is 4 s: 4 uploads.
    join(&idx, "holder", 1, 1000, t);
    serve(&idx, "holder", 10, t);
    let rules = PlanRules {
        seeders_per_segment: 1,
        ..PlanRules::default()
    };
    let mut named = 0;
    for i in 0..40 {
        let id = format!("leech{i}");
        let h = plan(&idx, &id, 10, &RandomPeers, &rules, t);
        named += peers(&h).iter().filter(|p| *p == "holder").count();
    }
    assert_eq!(named, 4, "named exactly up to its capacity in one window");
    // A new window frees capacity again.
    let later = t + Duration::from_secs(5);
    let h = plan(&idx, "late", 10, &RandomPeers, &rules, later);
    assert_eq!(peers(&h), ["holder"]);
}

#[test]
fn at_most_k_peers_and_only_members_of_the_swarm() {
    let idx = index();
    let t = Instant::now();
    let ids = swarm_with(&idx, 20, 50, t);
    for id in &ids {
        serve(&idx, id, 50, t);
    }
    // Another swarm's holders are never named.
    idx.observe_playlist("s2", "/live/b/v1.m3u8", 50, 2.0, t)
        .unwrap();
    idx.announce(
        "s2",
        &info("stranger"),
        &Announce {
            addr: Some(addr(999)),
            upload_kbps: Some(50_000),
            ..Announce::default()
        },
        &CdnOnly,
        &PlanRules::default(),
        t,
    )
    .unwrap();
    idx.record_served("s2", &info("stranger"), 51, 1000, [0; 32], t)
        .unwrap();
    for k in 1..=5 {
        let rules = PlanRules {
            peers_per_hint: k,
            ..PlanRules::default()
        };
        let h = plan(&idx, &format!("new{k}"), 50, &RandomPeers, &rules, t);
        let p = peers(&h);
        assert_eq!(p.len(), k);
        assert!(p.iter().all(|id| ids.contains(id)));
        let unique: HashSet<_> = p.iter().collect();
        assert_eq!(unique.len(), k, "no peer named twice");
    }
    assert!(idx.holders(SWARM, 51).is_empty());
}

#[test]
fn a_viewer_with_a_low_buffer_goes_to_the_cdn() {
    let idx = index();
    let t = Instant::now();
    let ids = swarm_with(&idx, 3, 7, t);
    serve(&idx, &ids[0], 7, t);
    let rules = PlanRules::default();
    let low = ViewerInfo {
        buffer_ms: Some(1_500),
        ..info("hurried")
    };
    let h = idx
        .hints(SWARM, &low, &[7], &RandomPeers, &rules, t)
        .unwrap();
    assert_eq!(h[0].action, Action::Cdn(CdnReason::LowBuffer));
    let ok = ViewerInfo {
        buffer_ms: Some(12_000),
        ..info("hurried")
    };
    let h = idx
        .hints(SWARM, &ok, &[7], &RandomPeers, &rules, t)
        .unwrap();
    assert!(matches!(h[0].action, Action::Peers(_)));
    let h = plan(&idx, "someone", 7, &CdnOnly, &rules, t);
    assert_eq!(h.action, Action::Cdn(CdnReason::PolicyOff));
}

fn report_mismatch(idx: &SwarmIndex, reporter: &str, liar: &str, seg: u64, t: Instant) {
    idx.announce(
        SWARM,
        &info(reporter),
        &Announce {
            failures: &[Failure {
                segment: seg,
                peer: liar.into(),
                kind: FailureKind::HashMismatch,
            }],
            want: Some(&[]),
            ..Announce::default()
        },
        &Adaptive::default(),
        &PlanRules::default(),
        t,
    )
    .unwrap();
}

#[test]
fn a_liar_is_demoted_then_excluded_by_distinct_reporters() {
    let idx = index();
    let t = Instant::now();
    let ids = swarm_with(&idx, 2, 30, t);
    let (liar, honest) = (&ids[0], &ids[1]);
    serve(&idx, liar, 30, t);
    serve(&idx, honest, 30, t);
    let rules = PlanRules {
        peers_per_hint: 2,
        ..PlanRules::default()
    };
    let first = |who: &str| peers(&plan(&idx, who, 30, &Locality, &rules, t));
    assert!(first("a").contains(liar));

    // A viewer never hinted that segment cannot report on it.
    report_mismatch(&idx, "stranger", liar, 30, t);
    assert!(first("b0").contains(liar));
    // Reporters that were hinted it count, the same one twice once.
    for r in ["r1", "r2", "r3"] {
        assert!(!first(r).is_empty());
    }
    report_mismatch(&idx, "r1", liar, 30, t);
    report_mismatch(&idx, "r1", liar, 30, t);
    report_mismatch(&idx, "r2", liar, 30, t);
    // Demoted: still named, but after every honest holder.
    let p = first("b");
    assert_eq!(p, [honest.clone(), liar.clone()]);
    // A demoted viewer never seeds.
    let rules_seed = PlanRules {
        seeders_per_segment: 16,
        ..PlanRules::default()
    };
    for _ in 0..5 {
        let h = idx
            .hints(SWARM, &info(liar), &[31], &Locality, &rules_seed, t)
            .unwrap();
        assert_ne!(h[0].action, Action::Seed);
    }
    report_mismatch(&idx, "r3", liar, 30, t);
    for who in ["c", "d", "e", "f"] {
        assert!(!first(who).contains(liar), "excluded from every hint");
    }
}

#[test]
fn fake_holdings_are_refused() {
    let idx = index();
    let t = Instant::now();
    let ids = swarm_with(&idx, 3, 20, t);
    serve(&idx, &ids[0], 20, t);
    // v1 is hinted 20 (peers: v0), so it may claim it; 19 was never served nor hinted.
    let h = plan(&idx, &ids[1], 20, &RandomPeers, &PlanRules::default(), t);
    assert!(matches!(h.action, Action::Peers(_) | Action::Seed));
    let gained = [
        Gain {
            segment: 20,
            from: Some(ids[0].clone()),
            bytes: 125_000,
            millis: 50,
        },
        Gain {
            segment: 19,
            from: Some(ids[0].clone()),
            bytes: 125_000,
            millis: 50,
        },
    ];
    let reply = idx
        .announce(
            SWARM,
            &info(&ids[1]),
            &Announce {
                gained: &gained,
                ..Announce::default()
            },
            &RandomPeers,
            &PlanRules::default(),
            t,
        )
        .unwrap();
    assert_eq!(reply.refused, [19]);
    assert_eq!(reply.used, 1);
    assert_eq!(idx.holders(SWARM, 20), vec![ids[0].clone(), ids[1].clone()]);
    assert!(idx.holders(SWARM, 19).is_empty());
    // An unknown swarm is refused outright.
    let err = idx
        .announce(
            "nope",
            &info("x"),
            &Announce::default(),
            &RandomPeers,
            &PlanRules::default(),
            t,
        )
        .unwrap_err();
    assert_eq!(err, Refusal::UnknownSwarm);
}

#[test]
fn locality_names_same_network_peers_first() {
    let idx = index();
    let t = Instant::now();
    idx.observe_playlist(SWARM, "/p.m3u8", 5, 2.0, t).unwrap();
    let nets = [(1, 1), (2, 1), (3, 2), (1, 1), (4, 3)];
    for (i, (net, region)) in nets.iter().enumerate() {
        let id = format!("p{i}");
        let who = ViewerInfo {
            net: *net,
            region: *region,
            ..info(&id)
        };
        idx.announce(
            SWARM,
            &who,
            &Announce {
                addr: Some(addr(i as u16)),
                upload_kbps: Some(100_000),
                want: Some(&[]),
                ..Announce::default()
            },
            &CdnOnly,
            &PlanRules::default(),
            t,
        )
        .unwrap();
        idx.record_served(SWARM, &who, 5, 1000, [5; 32], t).unwrap();
    }
    let me = ViewerInfo {
        net: 1,
        region: 1,
        ..info("me")
    };
    let rules = PlanRules {
        peers_per_hint: 3,
        ..PlanRules::default()
    };
    for _ in 0..20 {
        let h = idx.hints(SWARM, &me, &[5], &Locality, &rules, t).unwrap();
        let p = peers(&h[0]);
        let first_two: BTreeSet<_> = p[..2].iter().cloned().collect();
        assert_eq!(first_two, BTreeSet::from(["p0".into(), "p3".into()]));
        assert_eq!(p[2], "p1", "same region after same network");
    }
}

#[test]
fn a_late_seeder_is_replaced() {
    let idx = index();
    let t = Instant::now();
    let ids = swarm_with(&idx, 4, 60, t);
    let rules = PlanRules {
        seeders_per_segment: 1,
        ..PlanRules::default()
    };
    assert_eq!(
        plan(&idx, &ids[0], 60, &RandomPeers, &rules, t).action,
        Action::Seed
    );
    assert_eq!(
        peers(&plan(&idx, &ids[1], 60, &RandomPeers, &rules, t)),
        [ids[0].clone()]
    );
    // ids[0] never fetches it: after the timeout someone else seeds.
    let later = t + rules.peer_timeout + Duration::from_millis(500);
    let h = plan(&idx, &ids[2], 60, &RandomPeers, &rules, later);
    assert!(matches!(h.action, Action::Seed | Action::Peers(_)));
    assert!(!peers(&h).contains(&ids[0]));
}

#[test]
fn sweep_expires_and_caps_bound_the_index() {
    let limits = IndexLimits {
        holding_ttl: Duration::from_secs(10),
        viewer_ttl: Duration::from_secs(30),
        max_holdings: 5,
        max_viewers: 4,
        max_viewers_per_swarm: 3,
        max_swarms: 2,
    };
    let idx = SwarmIndex::with_seed(limits, 1);
    let t = Instant::now();
    idx.observe_playlist(SWARM, "/p.m3u8", 3, 2.0, t).unwrap();
    idx.observe_playlist("s2", "/q.m3u8", 3, 2.0, t).unwrap();
    assert_eq!(
        idx.observe_playlist("s3", "/r.m3u8", 3, 2.0, t),
        Err(Refusal::IndexFull)
    );
    for v in ["a", "b", "c"] {
        idx.record_served(SWARM, &info(v), 1, 10, [0; 32], t)
            .unwrap();
    }
    assert_eq!(
        idx.record_served(SWARM, &info("d"), 1, 10, [0; 32], t),
        Err(Refusal::SwarmFull)
    );
    idx.record_served("s2", &info("e"), 1, 10, [0; 32], t)
        .unwrap();
    assert_eq!(
        idx.record_served("s2", &info("f"), 1, 10, [0; 32], t),
        Err(Refusal::IndexFull)
    );
    // Four holdings so far; one more fits, then none.
    assert_eq!(
        idx.record_served(SWARM, &info("a"), 2, 10, [0; 32], t),
        Ok(true)
    );
    assert_eq!(
        idx.record_served(SWARM, &info("a"), 3, 10, [0; 32], t),
        Ok(false)
    );
    let s = idx.sweep(t);
    assert_eq!((s.swarms, s.viewers, s.holdings), (2, 4, 5));
    // Holdings expire first, viewers later, then the swarms themselves.
    let s = idx.sweep(t + Duration::from_secs(11));
    assert_eq!((s.viewers, s.holdings), (4, 0));
    assert_eq!(
        idx.record_served(
            SWARM,
            &info("a"),
            3,
            10,
            [0; 32],
            t + Duration::from_secs(11)
        ),
        Ok(true)
    );
    let s = idx.sweep(t + Duration::from_secs(45));
    assert_eq!((s.swarms, s.viewers, s.holdings), (0, 0, 0));
    assert!(!s.retired.is_empty());
}

// The index against a model: a map of (viewer, segment) to when it was last recorded.
#[derive(Debug, Clone)]
enum Op {
    Serve(u8, u8),
    Drop(u8, u8),
    Advance(u8),
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, 0u8..8).prop_map(|(v, s)| Op::Serve(v, s)),
        1 => (0u8..6, 0u8..8).prop_map(|(v, s)| Op::Drop(v, s)),
        1 => (0u8..40).prop_map(Op::Advance),
        1 => Just(Op::Sweep),
    ]
}

proptest! {
    #[test]
    fn the_index_agrees_with_a_simple_model(ops in proptest::collection::vec(op(), 1..80)) {
        let limits = IndexLimits {
            holding_ttl: Duration::from_secs(10),
            viewer_ttl: Duration::from_secs(1000),
            ..IndexLimits::default()
        };
        let idx = SwarmIndex::with_seed(limits, 3);
        let t0 = Instant::now();
        let mut now = t0;
        idx.observe_playlist(SWARM, "/p.m3u8", 107, 2.0, now).unwrap();
        let mut model: HashMap<(u8, u8), Instant> = HashMap::new();
        for op in ops {
            match op {
                Op::Serve(v, s) => {
                    let id = format!("v{v}");
                    idx.record_served(SWARM, &info(&id), 100 + u64::from(s), 1, [0; 32], now).unwrap();
                    model.insert((v, s), now);
                }
                Op::Drop(v, s) => {
                    let id = format!("v{v}");
                    idx.announce(SWARM, &info(&id), &Announce {
                        dropped: &[100 + u64::from(s)],
                        want: Some(&[]),
                        ..Announce::default()
                    }, &CdnOnly, &PlanRules::default(), now).unwrap();
                    model.remove(&(v, s));
                }
                Op::Advance(ds) => now += Duration::from_millis(u64::from(ds) * 500),
                Op::Sweep => {
                    let stats = idx.sweep(now);
                    model.retain(|_, at| now.duration_since(*at) <= Duration::from_secs(10));
                    prop_assert_eq!(stats.holdings, model.len());
                }
            }
            // Between sweeps the index may still list expired holdings; compare after one.
            let stats = idx.sweep(now);
            model.retain(|_, at| {
                // The index counts in tenths of a second.
                now.duration_since(*at) <= Duration::from_secs(10)
            });
            prop_assert_eq!(stats.holdings, model.len());
            for s in 0..8u8 {
                let expect: Vec<String> = {
                    let mut v: Vec<String> = model.keys().filter(|k| k.1 == s).map(|k| format!("v{}", k.0)).collect();
                    v.sort();
                    v
                };
                prop_assert_eq!(idx.holders(SWARM, 100 + u64::from(s)), expect);
            }
        }
    }
}

#[test]
fn an_old_segment_nobody_holds_gets_no_seeders() {
    let idx = index();
    let t = Instant::now();
    idx.observe_playlist(SWARM, "/p.m3u8", 29, 2.0, t).unwrap();
    let all: Vec<u64> = (24..=29).collect();
    let rules = PlanRules::default();
    idx.manifest_hints(SWARM, &info("honest"), &all, &Locality, &rules, t)
        .unwrap();
    idx.manifest_hints(SWARM, &info("faker"), &all, &Locality, &rules, t)
        .unwrap();
    let reply = idx
        .announce(
            SWARM,
            &info("faker"),
            &Announce {
                addr: Some(addr(1)),
                upload_kbps: Some(90_000),
                gained: &[Gain {
                    segment: 26,
                    from: None,
                    bytes: 0,
                    millis: 0,
                }],
                want: Some(&[]),
                ..Announce::default()
            },
            &Locality,
            &rules,
            t,
        )
        .unwrap();
    assert_eq!(reply.refused, [26]);
    let h = plan(&idx, "honest", 26, &Locality, &rules, t);
    assert_eq!(h.action, Action::Cdn(CdnReason::NoPeers));
}

// Every policy keeps the planner's rules, whatever happens in the swarm.
#[derive(Debug, Clone)]
enum Step {
    /// Viewer joins or refreshes with an upload capacity (kbit/s; 0: leech only).
    Join(u8, u16, u8),
    /// The edge serves viewer a segment.
    Serve(u8, u8),
    /// Viewer asks for hints for a segment.
    Ask(u8, u8),
    /// Viewer reports a hash mismatch from another.
    Report(u8, u8),
    /// Time passes (tenths of a second).
    Wait(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0u8..12, 0u16..3000, 0u8..4).prop_map(|(v, k, n)| Step::Join(v, k, n)),
        3 => (0u8..12, 0u8..6).prop_map(|(v, s)| Step::Serve(v, s)),
        6 => (0u8..12, 0u8..6).prop_map(|(v, s)| Step::Ask(v, s)),
        1 => (0u8..12, 0u8..12).prop_map(|(a, b)| Step::Report(a, b)),
        1 => (0u8..30).prop_map(Step::Wait),
    ]
}

proptest! {
    #[test]
    fn every_policy_keeps_the_rules(steps in proptest::collection::vec(step(), 1..150), which in 0usize..4) {
        let policies: [&dyn Policy; 4] = [&CdnOnly, &RandomPeers, &Locality, &Adaptive::default()];
        let policy = policies[which];
        let rules = PlanRules { peers_per_hint: 2, seeders_per_segment: 2, ..PlanRules::default() };
        let idx = SwarmIndex::with_seed(IndexLimits::default(), 9);
        let t0 = Instant::now();
        let mut now = t0;
        idx.observe_playlist(SWARM, "/p.m3u8", 105, 2.0, now).unwrap();
        idx.observe_playlist("other", "/q.m3u8", 105, 2.0, now).unwrap();
        idx.announce("other", &info("outsider"), &Announce {
            addr: Some(addr(999)), upload_kbps: Some(100_000), want: Some(&[]), ..Announce::default()
        }, policy, &rules, now).unwrap();
        idx.record_served("other", &info("outsider"), 103, 125_000, [0; 32], now).unwrap();
        let mut kbps: HashMap<String, u16> = HashMap::new();
        let mut reporters: HashMap<String, HashSet<String>> = HashMap::new();
        // Times each viewer was named in the current load window (4 s for 2 s segments).
        let mut named: HashMap<String, u32> = HashMap::new();
        let mut window_start = now;
        // The largest capacity each viewer declared during the model's window.
        let mut caps: HashMap<String, u32> = HashMap::new();
        let cap_of = |k: u16| (u32::from(k) * 125 * 4 / 125_000).max(1);
        // Viewers the index knows: reports about anyone else are dropped.
        let mut known: HashSet<String> = HashSet::new();
        // Segments each viewer was last hinted peers for (the index remembers four):
        // only those may it report failures for, and re-hints of them charge no load.
        let mut rings: HashMap<String, std::collections::VecDeque<u8>> = HashMap::new();
        for st in steps {
            match st {
                Step::Join(v, k, net) => {
                    let id = format!("v{v}");
                    let who = ViewerInfo { net: u16::from(net), ..info(&id) };
                    idx.announce(SWARM, &who, &Announce {
                        addr: Some(addr(u16::from(v))), upload_kbps: Some(u32::from(k)), want: Some(&[]),
                        ..Announce::default()
                    }, policy, &rules, now).unwrap();
                    known.insert(id.clone());
                    let c = caps.entry(id.clone()).or_default();
                    *c = (*c).max(cap_of(k));
                    kbps.insert(id, k);
                }
                Step::Serve(v, s) => {
                    idx.record_served(SWARM, &info(&format!("v{v}")), 100 + u64::from(s), 125_000, [s; 32], now).unwrap();
                    known.insert(format!("v{v}"));
                }
                Step::Report(a, b) => {
                    if a != b {
                        report_mismatch(&idx, &format!("v{a}"), &format!("v{b}"), 100, now);
                        let hinted = rings.get(&format!("v{a}")).is_some_and(|r| r.contains(&0));
                        if hinted && known.contains(&format!("v{b}")) {
                            reporters.entry(format!("v{b}")).or_default().insert(format!("v{a}"));
                        }
                        known.insert(format!("v{a}"));
                    }
                }
                Step::Wait(d) => now += Duration::from_millis(u64::from(d) * 100),
                Step::Ask(v, s) => {
                    if now.duration_since(window_start) >= Duration::from_secs(4) {
                        // Load windows are per viewer; a fresh model window only after
                        // every viewer's window has certainly rolled over.
                        named.clear();
                        window_start = now;
                        caps = kbps.iter().map(|(id, k)| (id.clone(), cap_of(*k))).collect();
                    }
                    let me = format!("v{v}");
                    known.insert(me.clone());
                    let hints = idx.hints(SWARM, &info(&me), &[100 + u64::from(s)], policy, &rules, now).unwrap();
                    for h in hints {
                        let p = peers(&h);
                        let ring = rings.entry(me.clone()).or_default();
                        let charged = !p.is_empty() && !ring.contains(&s);
                        if charged {
                            ring.push_back(s);
                            if ring.len() > crate::viewer::HINTED {
                                ring.pop_front();
                            }
                        }
                        if !policy.uses_peers() {
                            prop_assert!(matches!(h.action, Action::Cdn(CdnReason::PolicyOff)));
                        }
                        prop_assert!(p.len() <= rules.peers_per_hint);
                        prop_assert!(!p.contains(&me), "never oneself");
                        prop_assert!(!p.iter().any(|x| x == "outsider"), "same swarm only");
                        for x in &p {
                            let k = kbps.get(x).copied().unwrap_or(0);
                            prop_assert!(k > 0, "{x} declared no upload");
                            let reported = reporters.get(x).map_or(0, HashSet::len);
                            prop_assert!(reported < usize::from(rules.exclude_after), "{x} is excluded");
                            let c = named.entry(x.clone()).or_default();
                            if charged {
                                *c += 1;
                            }
                            // Capacity per 4 s window: kbit/s x 125 x 4 / 125000 bytes, at
                            // least 1. The index's windows are per viewer and fixed, so a
                            // window of the model's may span two of them.
                            let cap = caps.get(x).copied().unwrap_or(1);
                            prop_assert!(*c <= 2 * cap, "{x} named {c} times, capacity {cap} per window");
                        }
                        if h.action == Action::Seed {
                            let reported = reporters.get(&me).map_or(0, HashSet::len);
                            prop_assert!(reported < usize::from(rules.demote_after), "a demoted viewer seeds");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn leaving_and_silent_viewers_are_not_named() {
    let idx = index();
    let t = Instant::now();
    let ids = swarm_with(&idx, 3, 40, t);
    serve(&idx, &ids[0], 40, t);
    serve(&idx, &ids[1], 40, t);
    let rules = PlanRules::default();
    let named = |who: &str, at: Instant| peers(&plan(&idx, who, 40, &RandomPeers, &rules, at));
    assert_eq!(named("x", t).len(), 2);
    // ids[0] leaves: never named again, its holdings gone.
    idx.announce(
        SWARM,
        &info(&ids[0]),
        &Announce {
            leaving: true,
            ..Announce::default()
        },
        &RandomPeers,
        &rules,
        t,
    )
    .unwrap();
    assert_eq!(named("y", t), [ids[1].clone()]);
    assert_eq!(idx.holders(SWARM, 40), [ids[1].clone()]);
    // ids[1] goes silent (killed): after 10 s it is not named, although its holding
    // has not expired yet.
    let later = t + Duration::from_secs(11);
    assert!(named("z", later).is_empty());
    assert_eq!(idx.holders(SWARM, 40), [ids[1].clone()]);
}

#[test]
fn sanctions_are_reported_once_when_thresholds_are_crossed() {
    let idx = index();
    let t = Instant::now();
    let ids = swarm_with(&idx, 1, 30, t);
    serve(&idx, &ids[0], 30, t);
    let rules = PlanRules {
        demote_after: 2,
        exclude_after: 2,
        ..PlanRules::default()
    };
    let mut sanctions = Vec::new();
    for r in ["r1", "r1", "r2", "r3"] {
        assert!(!peers(&plan(&idx, r, 30, &RandomPeers, &rules, t)).is_empty() || r == "r3");
        let reply = idx
            .announce(
                SWARM,
                &info(r),
                &Announce {
                    failures: &[Failure {
                        segment: 30,
                        peer: ids[0].clone(),
                        kind: FailureKind::HashMismatch,
                    }],
                    want: Some(&[]),
                    ..Announce::default()
                },
                &RandomPeers,
                &rules,
                t,
            )
            .unwrap();
        sanctions.push((reply.demoted, reply.excluded));
    }
    assert_eq!(sanctions, [(0, 0), (0, 0), (1, 1), (0, 0)]);
}

/// Ranks every candidate alike: only the planner's own rules decide.
struct Indifferent;

impl Policy for Indifferent {
    fn name(&self) -> &'static str {
        "indifferent"
    }
    fn score(&self, _: &PeerView, _: &PeerView, _: &mut fastrand::Rng) -> f64 {
        0.5
    }
}

#[test]
fn uploads_are_spread_over_equal_peers() {
    let idx = index();
    let t = Instant::now();
    let ids = swarm_with(&idx, 2, 9, t);
    serve(&idx, &ids[0], 9, t);
    serve(&idx, &ids[1], 9, t);
    let rules = PlanRules {
        peers_per_hint: 1,
        ..PlanRules::default()
    };
    let mut named = HashMap::new();
    for i in 0..40 {
        let h = plan(&idx, &format!("n{i}"), 9, &Indifferent, &rules, t);
        *named.entry(peers(&h)[0].clone()).or_insert(0) += 1;
    }
    // Capacity is ample (20 Mbit/s each): equal peers share the work evenly.
    assert_eq!(named.get(&ids[0]), Some(&20), "{named:?}");
    assert_eq!(named.get(&ids[1]), Some(&20), "{named:?}");
}
