//! The P2P API through the real proxy and the built-in origin: announces, hints on
//! demand, hints in the personalized playlist, and the abuse the API must shrug off.

// Helpers here panic on failure: that is how a test reports it.
#![allow(clippy::unwrap_used)]

use rilla_tests::{
    http::{HttpResponse, request},
    stack::{Origin, Proxy, ProxyConfig},
};
use serde_json::{Value, json};

fn start(p2p: &str) -> (Origin, Proxy) {
    let origin = Origin::start();
    let body = format!(
        r#"
[p2p]
{p2p}

[[origins]]
name = "main"
url = "http://{origin}"

[[routes]]
prefix = "/live/"
origin = "main"
policy = "locality"

[[routes]]
prefix = "/nop2p/"
origin = "main"
origin_prefix = "/live/"
policy = "cdn-only"
"#,
        origin = origin.addr
    );
    let proxy = Proxy::start(&ProxyConfig {
        body,
        tokens: String::new(),
        tls: false,
    });
    (origin, proxy)
}

/// A viewer as the playlist made it: its session and token.
#[derive(Debug)]
struct Viewer {
    id: String,
    swarm: String,
    token: String,
    playlist: String,
}

fn attr<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = line[start..].find('"').unwrap();
    &line[start..start + end]
}

/// Fetches a media playlist as a new viewer (or as `token`'s viewer).
fn join(proxy: &Proxy, path: &str, token: Option<&str>, extra: &str) -> Viewer {
    let target = match token {
        Some(t) => format!("{path}?rt={t}{extra}"),
        None if extra.is_empty() => path.to_owned(),
        None => format!("{path}?{}", &extra[1..]),
    };
    let resp = proxy.get(&target);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let playlist = resp.text();
    let session = playlist
        .lines()
        .find(|l| l.starts_with("#EXT-X-RILLA-SESSION:"))
        .unwrap_or_else(|| panic!("no session in {playlist}"));
    let segment = playlist
        .lines()
        .find(|l| l.starts_with("seg-"))
        .expect("a segment");
    let token = segment.split("rt=").nth(1).unwrap().to_owned();
    Viewer {
        id: attr(session, "VIEWER").to_owned(),
        swarm: attr(session, "SWARM").to_owned(),
        token,
        playlist,
    }
}

/// The numbers of the playlist's segments, oldest first.
fn numbers(playlist: &str) -> Vec<u64> {
    playlist
        .lines()
        .filter_map(|l| l.strip_prefix("seg-"))
        .filter_map(|l| l.split('.').next()?.parse().ok())
        .collect()
}

/// The hint line just before segment `n`.
fn hint_for(playlist: &str, n: u64) -> Option<String> {
    let lines: Vec<&str> = playlist.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("seg-{n}.")))?;
    lines[..at]
        .iter()
        .rev()
        .take_while(|l| !l.starts_with("seg-"))
        .find(|l| l.starts_with("#EXT-X-RILLA-HINT:"))
        .map(|l| (*l).to_owned())
}

fn post(proxy: &Proxy, token: Option<&str>, body: &[u8]) -> HttpResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    request(proxy.addr, "POST", "/p2p/v1/announce", &headers, body).unwrap()
}

fn announce(proxy: &Proxy, v: &Viewer, body: Value) -> HttpResponse {
    let mut body = body;
    body["swarm"] = json!(v.swarm);
    post(proxy, Some(&v.token), body.to_string().as_bytes())
}

fn json_of(resp: &HttpResponse) -> Value {
    serde_json::from_slice(&resp.body).unwrap_or_else(|e| panic!("{e}: {}", resp.text()))
}

fn fetch_segment(proxy: &Proxy, v: &Viewer, n: u64) -> Vec<u8> {
    let resp = proxy.get(&format!("/live/ch1/v180/seg-{n}.m4s?rt={}", v.token));
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.body
}

const MEDIA: &str = "/live/ch1/v180/index.m3u8";

#[test]
fn announce_then_hints_then_the_hints_appear_in_the_playlist() {
    let (_origin, proxy) = start("");
    let a = join(&proxy, MEDIA, None, "");
    let r = announce(
        &proxy,
        &a,
        json!({"port": 41001, "upload_kbps": 50000, "want": []}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_of(&r)["interval_s"], 5);

    // A fetches the newest segment through the edge: it holds it now.
    let newest = *numbers(&a.playlist).last().unwrap();
    let bytes = fetch_segment(&proxy, &a, newest);
    use sha2::Digest as _;
    let digest = hex::encode(sha2::Sha256::digest(&bytes));

    // B asks for hints on demand: A, at the address the edge saw, with the hash.
    let b = join(&proxy, MEDIA, None, "");
    assert_eq!(a.swarm, b.swarm, "one rendition, one swarm");
    assert_ne!(a.id, b.id);
    let target = format!(
        "/p2p/v1/hints?swarm={}&seg={newest}&rt={}",
        b.swarm, b.token
    );
    let r = proxy.get(&target);
    assert_eq!(r.status, 200, "{}", r.text());
    let hints = json_of(&r);
    let hint = &hints["hints"][0];
    assert_eq!(hint["seg"], newest);
    assert_eq!(hint["action"], "peers", "{hints}");
    assert_eq!(hint["peers"][0]["id"], json!(a.id));
    assert_eq!(hint["peers"][0]["addr"], "127.0.0.1:41001");
    assert_eq!(hint["sha256"], json!(digest));

    // B's next playlist carries the same advice.
    let again = join(&proxy, MEDIA, Some(&b.token), "");
    assert_eq!(again.id, b.id, "the token keeps the session");
    let line = hint_for(&again.playlist, newest)
        .unwrap_or_else(|| panic!("no hint for {newest} in\n{}", again.playlist));
    assert!(line.contains("ACTION=PEERS"), "{line}");
    assert!(line.contains(&format!("PEERS=\"{}", a.id)), "{line}");
    assert!(line.contains(&format!("SHA256={digest}")), "{line}");

    // B reports the segment it got from A: a hint used, and B holds it now.
    let r = announce(
        &proxy,
        &b,
        json!({
            "port": 41002,
            "upload_kbps": 50000,
            "gained": [{"seg": newest, "from": a.id, "bytes": bytes.len(), "ms": 40}],
            "bytes": {"peer": bytes.len(), "cdn": 0, "uploaded": 0},
            "want": []
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_of(&r)["refused"], json!([]));
    assert_eq!(
        proxy.metric("rilla_p2p_hint_outcomes_total", &[("outcome", "used")]),
        1.0
    );
    // A third viewer is now pointed at both holders.
    let c = join(&proxy, MEDIA, None, "");
    let r = proxy.get(&format!(
        "/p2p/v1/hints?swarm={}&seg={newest}&rt={}",
        c.swarm, c.token
    ));
    let peers: Vec<String> = json_of(&r)["hints"][0]["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(peers.contains(&a.id) && peers.contains(&b.id), "{peers:?}");

    let metrics = proxy.metrics();
    let deflection = rilla_tests::stack::metric_sum(&metrics, "rilla_p2p_deflection_ratio", &[]);
    let peer = rilla_tests::stack::metric_sum(
        &metrics,
        "rilla_p2p_reported_bytes_total",
        &[("source", "peer")],
    );
    assert_eq!(peer, bytes.len() as f64);
    println!(
        "announce, hints, playlist: peers {peers:?}, reported peer bytes {peer}, deflection gauge {deflection}"
    );
    assert!(
        rilla_tests::stack::metric_sum(
            &metrics,
            "rilla_p2p_decisions_total",
            &[("policy", "locality"), ("decision", "peers")]
        ) >= 2.0
    );
}

#[test]
fn abuse_is_refused_and_everyone_else_is_served() {
    let (origin, proxy) = start("viewer_rate = 1\nviewer_burst = 3\nmax_body_bytes = 2048");
    let honest = join(&proxy, MEDIA, None, "");
    let newest = *numbers(&honest.playlist).last().unwrap();

    // Flooding: the fourth announce within a second gets 429.
    let flooder = join(&proxy, MEDIA, None, "");
    let statuses: Vec<u16> = (0..8)
        .map(|_| announce(&proxy, &flooder, json!({"want": []})).status)
        .collect();
    assert!(statuses[..3].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let limited = announce(&proxy, &flooder, json!({"want": []}));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(json_of(&limited)["reason"], "rate_limited");

    // Fake holdings: a segment the edge neither served nor hinted to this viewer.
    let faker = join(&proxy, MEDIA, None, "");
    let old = newest - 3;
    let r = announce(
        &proxy,
        &faker,
        json!({"port": 42000, "upload_kbps": 90000, "gained": [{"seg": old}], "want": []}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_of(&r)["refused"], json!([old]));
    let r = proxy.get(&format!(
        "/p2p/v1/hints?swarm={}&seg={old}&rt={}",
        honest.swarm, honest.token
    ));
    assert!(
        !r.text().contains(&faker.id),
        "{}\n{}",
        r.text(),
        honest.playlist
    );

    // Oversized bodies.
    let big = format!(
        r#"{{"swarm":"{}","dropped":[{}]}}"#,
        faker.swarm,
        vec!["1"; 2000].join(",")
    );
    let r = post(&proxy, Some(&faker.token), big.as_bytes());
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(json_of(&r)["reason"], "body_too_large");

    // A token of another stream, a forged token, none at all.
    let other = proxy.sign("intruder", "/live/ch2/", "60s");
    let body = json!({"swarm": honest.swarm}).to_string();
    let r = post(&proxy, Some(&other), body.as_bytes());
    assert_eq!(r.status, 403, "{}", r.text());
    let mut forged = honest.token.clone();
    forged.pop();
    forged.push(if honest.token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    assert_eq!(post(&proxy, Some(&forged), body.as_bytes()).status, 403);
    let r = post(&proxy, None, body.as_bytes());
    assert_eq!(r.status, 403);
    assert_eq!(json_of(&r)["reason"], "missing");

    // Malformed JSON, unknown fields, unknown swarms, wrong methods.
    let r = post(&proxy, Some(&honest.token), b"{not json");
    assert_eq!(r.status, 400);
    assert_eq!(json_of(&r)["reason"], "malformed");
    let r = announce(&proxy, &honest, json!({"gained": [], "root": true}));
    assert_eq!(r.status, 400, "{}", r.text());
    let r = post(
        &proxy,
        Some(&honest.token),
        br#"{"swarm":"0000000000000000"}"#,
    );
    assert_eq!(r.status, 404);
    assert_eq!(json_of(&r)["reason"], "unknown_swarm");
    assert_eq!(proxy.get("/p2p/v1/announce").status, 405);
    assert_eq!(proxy.get("/p2p/v1/elsewhere").status, 404);

    let metrics = proxy.metrics();
    for reason in [
        "rate_limited",
        "fake_holding",
        "body_too_large",
        "token",
        "malformed",
        "unknown_swarm",
    ] {
        let n = rilla_tests::stack::metric_sum(
            &metrics,
            "rilla_p2p_refusals_total",
            &[("reason", reason)],
        );
        assert!(n >= 1.0, "refusals for {reason}: {n}");
    }
    // Everyone else is still served: the honest viewer announces, plays and reloads.
    let r = announce(&proxy, &honest, json!({"want": []}));
    assert_eq!(r.status, 200, "{}", r.text());
    fetch_segment(&proxy, &honest, newest);
    assert_eq!(join(&proxy, MEDIA, Some(&honest.token), "").id, honest.id);
    assert!(origin.total() > 0);
    println!("abuse: flood statuses {statuses:?}; every refusal counted by reason");
}

#[test]
fn a_network_prefix_is_rate_limited_as_a_whole() {
    let (_origin, proxy) = start("prefix_rate = 1\nprefix_burst = 5");
    let viewers: Vec<Viewer> = (0..4).map(|_| join(&proxy, MEDIA, None, "")).collect();
    let statuses: Vec<u16> = viewers
        .iter()
        .cycle()
        .take(12)
        .map(|v| announce(&proxy, v, json!({"want": []})).status)
        .collect();
    assert!(statuses[..5].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses[5..].contains(&429), "{statuses:?}");
    // Media keeps flowing: the limit is the API's only.
    assert_eq!(proxy.get(MEDIA).status, 200);
}

#[test]
fn low_buffers_and_cdn_only_routes_get_the_cdn() {
    let (origin, proxy) = start("");
    let seeder = join(&proxy, MEDIA, None, "");
    announce(
        &proxy,
        &seeder,
        json!({"port": 43000, "upload_kbps": 90000, "want": []}),
    );
    let newest = *numbers(&seeder.playlist).last().unwrap();
    fetch_segment(&proxy, &seeder, newest);

    // A viewer with a comfortable buffer is sent to the seeder ...
    let relaxed = join(&proxy, MEDIA, None, "");
    let relaxed = join(
        &proxy,
        MEDIA,
        Some(&relaxed.token),
        "&CMCD=bl%3D12000%2Csid%3D%22x%22",
    );
    let line = hint_for(&relaxed.playlist, newest).expect("a hint");
    assert!(line.contains("ACTION=PEERS"), "{line}");
    // ... one with 0.5 s of buffer is sent to the CDN (CMCD as query argument or header).
    let hurried = join(&proxy, MEDIA, None, "");
    let hurried = join(&proxy, MEDIA, Some(&hurried.token), "&CMCD=bl%3D500");
    let line = hint_for(&hurried.playlist, newest).expect("a hint");
    assert!(line.contains("ACTION=CDN"), "{line}");
    let by_header = join(&proxy, MEDIA, None, "");
    let resp = request(
        proxy.addr,
        "GET",
        &format!("{MEDIA}?rt={}", by_header.token),
        &[("CMCD-Request", "bl=300")],
        b"",
    )
    .unwrap();
    let line = hint_for(&resp.text(), newest).expect("a hint");
    assert!(line.contains("ACTION=CDN"), "{line}");
    // CMCD never reaches the origin.
    let last = origin.last_target(MEDIA).unwrap();
    assert!(!last.contains("CMCD"), "{last}");
    assert!(
        proxy.metric(
            "rilla_p2p_decisions_total",
            &[("policy", "locality"), ("decision", "low_buffer")]
        ) >= 2.0
    );

    // A cdn-only route: every hint says CDN, whoever holds what.
    let path = "/nop2p/ch1/v180/index.m3u8";
    let a = join(&proxy, path, None, "");
    announce(
        &proxy,
        &a,
        json!({"port": 43001, "upload_kbps": 90000, "want": []}),
    );
    let n = *numbers(&a.playlist).last().unwrap();
    let got = proxy.get(&format!("/nop2p/ch1/v180/seg-{n}.m4s?rt={}", a.token));
    assert_eq!(got.status, 200);
    let b = join(&proxy, path, None, "");
    let line = hint_for(&b.playlist, n).expect("a hint");
    assert!(line.contains("ACTION=CDN"), "{line}");
    assert!(
        proxy.metric(
            "rilla_p2p_decisions_total",
            &[("policy", "cdn-only"), ("decision", "policy_off")]
        ) >= 1.0
    );
}

#[test]
fn behind_a_trusted_load_balancer_peers_are_reached_at_the_forwarded_address() {
    for (trusted, expected) in [(true, "203.0.113.7:41001"), (false, "127.0.0.1:41001")] {
        let edge = if trusted {
            "\n[edge]\ntrusted_proxies = [\"127.0.0.0/8\"]"
        } else {
            ""
        };
        let (_origin, proxy) = start(edge);
        let a = join(&proxy, MEDIA, None, "");
        let body = json!({"swarm": a.swarm, "port": 41001, "upload_kbps": 50000, "want": []});
        let auth = format!("Bearer {}", a.token);
        let r = request(
            proxy.addr,
            "POST",
            "/p2p/v1/announce",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
                ("X-Forwarded-For", "198.51.100.1, 203.0.113.7"),
            ],
            body.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let newest = *numbers(&a.playlist).last().unwrap();
        fetch_segment(&proxy, &a, newest);
        let b = join(&proxy, MEDIA, None, "");
        let r = proxy.get(&format!(
            "/p2p/v1/hints?swarm={}&seg={newest}&rt={}",
            b.swarm, b.token
        ));
        let hints = json_of(&r);
        assert_eq!(hints["hints"][0]["peers"][0]["addr"], expected, "{hints}");
    }
}
