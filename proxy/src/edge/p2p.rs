//! The P2P API under `/p2p/v1/`: `announce` (POST) and `hints` (GET). JSON in and out;
//! documented with examples in `docs/p2p-api.md`.
//!
//! Every request passes, in order: the client prefix's rate limit, the body size bound,
//! a JSON shape check, the viewer's token (which must cover the swarm's playlist), and
//! the viewer's rate limit. Only then does it reach the swarm index.

use std::{net::SocketAddr, time::Instant};

use pingora::proxy::Session;
use rilla_swarm::{Action, Announce, Failure, FailureKind, Gain, Hint, Policy};
use rilla_token::{TokenError, ViewerClaims, find_token, unix_now};
use serde::{Deserialize, Serialize};

use super::{
    reply::{Reply, Source},
    runtime::Runtime,
    state::{Edge, RequestInfo},
    swarms::viewer_info,
};

/// Most entries in any list of a request.
const MAX_LIST: usize = 512;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnounceBody {
    swarm: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    upload_kbps: Option<u32>,
    #[serde(default)]
    buffer_ms: Option<u32>,
    #[serde(default)]
    gained: Vec<GainBody>,
    #[serde(default)]
    dropped: Vec<u64>,
    #[serde(default)]
    failures: Vec<FailureBody>,
    #[serde(default)]
    bytes: BytesBody,
    #[serde(default)]
    want: Option<Vec<u64>>,
    #[serde(default)]
    leaving: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GainBody {
    seg: u64,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    ms: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum FailureKindBody {
    Timeout,
    Refused,
    HashMismatch,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailureBody {
    seg: u64,
    peer: String,
    kind: FailureKindBody,
}

/// Byte counters since the previous announce.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BytesBody {
    #[serde(default)]
    cdn: u64,
    #[serde(default)]
    peer: u64,
    #[serde(default)]
    uploaded: u64,
}

#[derive(Debug, Serialize)]
struct PeerOut {
    id: String,
    addr: String,
}

#[derive(Debug, Serialize)]
struct HintOut {
    seg: u64,
    action: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    peers: Vec<PeerOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

#[derive(Debug, Serialize)]
struct AnnounceOut {
    interval_s: u64,
    hints: Vec<HintOut>,
    refused: Vec<u64>,
}

#[derive(Debug, Serialize)]
struct HintsOut {
    hints: Vec<HintOut>,
}

/// Most bytes one announce may report per counter (1 GiB): a lying viewer can skew the
/// deflection figure only so far.
const MAX_REPORTED: u64 = 1 << 30;

fn hint_out(h: &Hint) -> HintOut {
    let (peers, reason) = match &h.action {
        Action::Peers(p) => (
            p.iter()
                .map(|p| PeerOut {
                    id: p.id.to_string(),
                    addr: p.addr.to_string(),
                })
                .collect(),
            None,
        ),
        Action::Cdn(r) => (Vec::new(), Some(r.label())),
        Action::Seed => (Vec::new(), None),
    };
    HintOut {
        seg: h.segment,
        action: h.action.label(),
        peers,
        reason,
        sha256: h.sha256.map(hex::encode),
    }
}

fn json(status: u16, value: &impl Serialize) -> Reply {
    let body = serde_json::to_vec(value).unwrap_or_default();
    Reply::new(status, "application/json", body, Source::Edge).header("Cache-Control", "no-store")
}

impl Edge {
    fn refuse(&self, status: u16, reason: &'static str, message: &str) -> Reply {
        self.metrics.p2p_refusals.with_label_values(&[reason]).inc();
        let reply = Reply::error(status, reason, message);
        if status == 429 {
            reply.header("Retry-After", "1")
        } else {
            reply
        }
    }
}

/// Reads the request body, refusing it beyond `max` bytes.
async fn read_body(session: &mut Session, max: usize) -> Result<Vec<u8>, ()> {
    let declared = session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(());
    }
    let mut body = Vec::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return Err(());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(_) => return Err(()),
        }
    }
}

/// The viewer's token: `Authorization: Bearer …`, else the token query parameter.
fn presented_token<'a>(req: &'a RequestInfo, param: &str) -> Option<&'a str> {
    req.authorization
        .as_deref()
        .and_then(|h| h.trim().strip_prefix("Bearer "))
        .map(str::trim)
        .or_else(|| req.query.as_deref().and_then(|q| find_token(q, param)))
}

/// Checks the token against the swarm's playlist path and the viewer's rate limit.
/// Returns the viewer's claims and the policy of the route that serves the swarm.
fn authorize<'e>(
    edge: &'e Edge,
    rt: &Runtime,
    req: &RequestInfo,
    swarm: &str,
) -> Result<(ViewerClaims, &'e dyn Policy), Reply> {
    let Some(path) = edge.swarms.swarm_path(swarm) else {
        return Err(edge.refuse(
            404,
            "unknown_swarm",
            "no such swarm: fetch its playlist through this edge first",
        ));
    };
    let param = rt.config.file.tokens.query_param.as_str();
    let verified = match presented_token(req, param) {
        None => Err(TokenError::Missing),
        Some(t) => rt.verifier.verify(t, &path, req.client_ip, unix_now()),
    };
    let claims = match verified {
        Ok(v) => v.claims().clone(),
        Err(e) => {
            edge.metrics
                .p2p_refusals
                .with_label_values(&["token"])
                .inc();
            return Err(edge.reject_token(&e));
        }
    };
    if !rt.limiters.allow_viewer(&claims.sub) {
        return Err(edge.refuse(
            429,
            "rate_limited",
            "too many P2P requests from this viewer",
        ));
    }
    let policy = rt
        .config
        .route_for(&path)
        .map_or("cdn-only", |r| r.policy.as_str());
    Ok((claims, edge.policies.get(policy)))
}

/// Serves a request under `/p2p/v1/`.
pub async fn serve(edge: &Edge, rt: &Runtime, session: &mut Session, req: &RequestInfo) -> Reply {
    let endpoint = req.path.strip_prefix("/p2p/v1/").unwrap_or_default();
    let method = session.req_header().method.clone();
    match (endpoint, method.as_str()) {
        ("announce", "POST") | ("hints", "GET") => {}
        ("announce", _) => {
            return Reply::error(405, "method_not_allowed", "announce takes POST")
                .header("Allow", "POST");
        }
        ("hints", _) => {
            return Reply::error(405, "method_not_allowed", "hints takes GET")
                .header("Allow", "GET");
        }
        _ => return Reply::error(404, "not_found", "no such P2P API endpoint"),
    }
    if !rt.limiters.allow_prefix(req.client_ip) {
        return edge.refuse(
            429,
            "rate_limited",
            "too many P2P requests from this network",
        );
    }
    if endpoint == "hints" {
        return hints(edge, rt, req);
    }
    let max = usize::try_from(rt.config.file.p2p.max_body_bytes).unwrap_or(usize::MAX);
    let Ok(body) = read_body(session, max).await else {
        return edge.refuse(
            413,
            "body_too_large",
            &format!("the body is over {max} bytes"),
        );
    };
    let parsed: AnnounceBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return edge.refuse(400, "malformed", &format!("not a valid announce: {e}")),
    };
    if parsed.gained.len() > MAX_LIST
        || parsed.dropped.len() > MAX_LIST
        || parsed.failures.len() > MAX_LIST
        || parsed.want.as_ref().is_some_and(|w| w.len() > MAX_LIST)
    {
        return edge.refuse(
            400,
            "malformed",
            &format!("at most {MAX_LIST} entries per list"),
        );
    }
    let (claims, policy) = match authorize(edge, rt, req, &parsed.swarm) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    announce(edge, rt, req, &claims, policy, parsed)
}

fn announce(
    edge: &Edge,
    rt: &Runtime,
    req: &RequestInfo,
    claims: &ViewerClaims,
    policy: &dyn Policy,
    body: AnnounceBody,
) -> Reply {
    let mut who = viewer_info(edge, rt, req, &claims.sub);
    if body.buffer_ms.is_some() {
        who.buffer_ms = body.buffer_ms;
    }
    let gained: Vec<Gain> = body
        .gained
        .into_iter()
        .map(|g| Gain {
            segment: g.seg,
            from: g.from,
            bytes: g.bytes,
            millis: g.ms,
        })
        .collect();
    let failures: Vec<Failure> = body
        .failures
        .into_iter()
        .map(|f| Failure {
            segment: f.seg,
            peer: f.peer,
            kind: match f.kind {
                FailureKindBody::Timeout => FailureKind::Timeout,
                FailureKindBody::Refused => FailureKind::Refused,
                FailureKindBody::HashMismatch => FailureKind::HashMismatch,
            },
        })
        .collect();
    // Peers are reached at the address the edge sees, never one a viewer names: an
    // announce cannot point other viewers at a third party.
    let addr = match (body.port, req.client_ip) {
        (Some(port), Some(ip)) if port != 0 => Some(SocketAddr::new(ip, port)),
        _ => None,
    };
    let result = edge.swarms.announce(
        &body.swarm,
        &who,
        &Announce {
            addr,
            upload_kbps: body.upload_kbps,
            gained: &gained,
            dropped: &body.dropped,
            failures: &failures,
            want: body.want.as_deref(),
            leaving: body.leaving,
        },
        policy,
        &rt.rules,
        Instant::now(),
    );
    let reply = match result {
        Ok(r) => r,
        Err(r) => return refusal(edge, r),
    };
    let m = &edge.metrics;
    for (source, n) in [
        ("cdn", body.bytes.cdn),
        ("peer", body.bytes.peer),
        ("uploaded", body.bytes.uploaded),
    ] {
        m.reported_bytes
            .with_label_values(&[source])
            .inc_by(n.min(MAX_REPORTED));
    }
    for (outcome, n) in [
        ("used", reply.used),
        ("failed", reply.failed),
        ("fell_back", reply.fell_back),
    ] {
        m.hint_outcomes
            .with_label_values(&[outcome])
            .inc_by(u64::from(n));
    }
    if !reply.refused.is_empty() {
        m.p2p_refusals
            .with_label_values(&["fake_holding"])
            .inc_by(reply.refused.len() as u64);
    }
    m.holdings_refused.inc_by(u64::from(reply.holdings_refused));
    for (action, n) in [("demoted", reply.demoted), ("excluded", reply.excluded)] {
        if n > 0 {
            m.sanctions
                .with_label_values(&[action])
                .inc_by(u64::from(n));
        }
    }
    m.count_decisions(policy.name(), &reply.hints);
    json(
        200,
        &AnnounceOut {
            interval_s: rt.config.file.p2p.announce_interval.get().as_secs(),
            hints: reply.hints.iter().map(hint_out).collect(),
            refused: reply.refused,
        },
    )
}

/// `GET /p2p/v1/hints?swarm=…&seg=12,13`.
fn hints(edge: &Edge, rt: &Runtime, req: &RequestInfo) -> Reply {
    let query = req.query.as_deref().unwrap_or_default();
    let mut swarm = None;
    let mut segments = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("swarm", v)) => swarm = Some(v),
            Some(("seg", v)) => {
                let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                for s in v.split([',', '+']).filter(|s| !s.is_empty()) {
                    let Ok(n) = s.parse::<u64>() else {
                        return edge.refuse(
                            400,
                            "malformed",
                            &format!("seg: {s:?} is not a segment number"),
                        );
                    };
                    segments.push(n);
                }
            }
            _ => {}
        }
    }
    let Some(swarm) = swarm else {
        return edge.refuse(400, "malformed", "give swarm=<id> and seg=<n>[,<n>…]");
    };
    if segments.is_empty() || segments.len() > 16 {
        return edge.refuse(400, "malformed", "give 1 to 16 segment numbers in seg");
    }
    let (claims, policy) = match authorize(edge, rt, req, swarm) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let who = viewer_info(edge, rt, req, &claims.sub);
    match edge
        .swarms
        .hints(swarm, &who, &segments, policy, &rt.rules, Instant::now())
    {
        Ok(h) => {
            edge.metrics.count_decisions(policy.name(), &h);
            json(
                200,
                &HintsOut {
                    hints: h.iter().map(hint_out).collect(),
                },
            )
        }
        Err(r) => refusal(edge, r),
    }
}

fn refusal(edge: &Edge, r: rilla_swarm::Refusal) -> Reply {
    let status = if r == rilla_swarm::Refusal::UnknownSwarm {
        404
    } else {
        503
    };
    edge.refuse(status, r.label(), &r.to_string())
}
