//! Manifests: fetched from the origin, cached briefly, personalized for every request.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use base64::Engine as _;
use rilla_config::RouteConfig;
use rilla_manifest_rewriter::{
    Base, ManifestFormat, RewritePlan, SafeUri, SessionTag, ViewerId, hls,
};
use rilla_plugins::{HintTable, ViewerSigner};
use rilla_token::{TokenError, ViewerClaims, find_token, unix_now};

use super::{
    origin::{FetchError, OriginResponse},
    reply::{Reply, Source},
    runtime::Runtime,
    segments::{cache_key, origin_path_and_query, query_without_token},
    state::{Edge, OriginManifest, RequestInfo},
    swarms::{PlaylistInfo, SegmentRef, hint_table, viewer_info},
};

/// How long after its expiry a viewer token still renews a session on a manifest request.
/// Players keep reloading a media playlist URL taken from the multivariant playlist, so its
/// token ages; the personalized playlist then carries fresh tokens for the segments.
const RENEWAL_WINDOW: u64 = 3600;

/// Why a manifest could not be fetched.
#[derive(Debug, thiserror::Error)]
enum ManifestFetchError {
    #[error(transparent)]
    Origin(#[from] FetchError),
    #[error("the origin answered {0}")]
    Status(u16),
}

/// The viewer a manifest is personalized for.
struct Viewer {
    id: String,
    /// The token the viewer presented, reusable for URIs within its scope.
    presented: Option<(String, String)>,
}

fn new_viewer_id() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness from the OS, fall back to the clock: ids need only be unique.
    if getrandom::getrandom(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = nanos.to_le_bytes();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The scope of the tokens in a manifest: the manifest's own directory, so that one token
/// covers everything below it (for a multivariant playlist: its renditions and their
/// segments).
fn stream_scope(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    }
}

/// A stable swarm id for a manifest path: 16 hex digits of FNV-1a.
fn swarm_id(path: &str) -> String {
    crate::tools::manifest::swarm_id(path)
}

/// Checks the viewer's token (renewing an expired one within the window) or starts a
/// session where the route is open.
fn establish_viewer(
    edge: &Edge,
    rt: &Runtime,
    route: &RouteConfig,
    req: &RequestInfo,
) -> Result<Viewer, Reply> {
    let param = rt.config.file.tokens.query_param.as_str();
    let Some(token) = req.query.as_deref().and_then(|q| find_token(q, param)) else {
        if route.access == "open" {
            edge.metrics.sessions_started.inc();
            return Ok(Viewer {
                id: new_viewer_id(),
                presented: None,
            });
        }
        return Err(edge.reject_token(&TokenError::Missing));
    };
    let now = unix_now();
    let verified = match rt.verifier.verify(token, &req.path, req.client_ip, now) {
        Err(TokenError::Expired { exp }) if now.saturating_sub(exp) <= RENEWAL_WINDOW => {
            // Everything but the expiry must still hold: check as of its last valid second.
            rt.verifier
                .verify(token, &req.path, req.client_ip, exp.saturating_sub(1))
        }
        other => other,
    };
    match verified {
        Ok(v) => {
            let claims = v.claims();
            // Reuse the token for its scope only while it has more than half its life left.
            let half_life = claims.exp.saturating_sub(claims.iat) / 2;
            let presented =
                (claims.exp > now + half_life).then(|| (claims.scope.clone(), token.to_owned()));
            Ok(Viewer {
                id: claims.sub.clone(),
                presented,
            })
        }
        Err(e) => Err(edge.reject_token(&e)),
    }
}

fn manifest_ttl(rt: &Runtime, body: &[u8]) -> Duration {
    let configured = rt.config.file.cache.manifest_ttl.get();
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    match target_duration(body) {
        Some(t) if t > 0.0 && !text.contains("#EXT-X-ENDLIST") => configured
            .min(Duration::from_secs_f64(t / 2.0))
            .max(Duration::from_millis(100)),
        _ => configured,
    }
}

async fn fetch(
    edge: &Edge,
    rt: &Runtime,
    route: &RouteConfig,
    origin_pq: &str,
) -> Result<Arc<OriginManifest>, ManifestFetchError> {
    let max = rt.limits.max_manifest_bytes;
    let resp = edge
        .fetch_from_origin(rt, &route.origin, "manifest", origin_pq, max)
        .await?;
    if resp.status != 200 {
        return Err(ManifestFetchError::Status(resp.status));
    }
    Ok(Arc::new(OriginManifest {
        ttl: manifest_ttl(rt, &resp.body),
        body: resp.body,
        content_type: resp.content_type,
        fetched_at: Instant::now(),
        playlist: std::sync::OnceLock::new(),
    }))
}

/// Serves a manifest request.
pub async fn serve(edge: &Edge, rt: &Runtime, route: &RouteConfig, req: &RequestInfo) -> Reply {
    let viewer = match establish_viewer(edge, rt, route, req) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    let param = rt.config.file.tokens.query_param.as_str();
    let query = query_without_token(req.query.as_deref(), param);
    let origin_pq = origin_path_and_query(route, &req.path, query.as_deref());
    let key = cache_key(&req.host, &route.origin, &origin_pq);
    let fetched = edge
        .manifests
        .try_get_with(key.clone(), fetch(edge, rt, route, &origin_pq))
        .await;
    let (manifest, stale) = match fetched {
        Ok(m) => {
            edge.stale_manifests.insert(key, m.clone());
            (m, false)
        }
        Err(e) => {
            let max_stale = rt.config.file.cache.manifest_max_stale.get();
            let usable = edge
                .stale_manifests
                .get(&key)
                .filter(|m| m.fetched_at.elapsed() <= m.ttl + max_stale);
            let err: &ManifestFetchError = &e;
            let status = match err {
                ManifestFetchError::Status(s) => Some(*s),
                ManifestFetchError::Origin(_) => None,
            };
            if status == Some(404) {
                return Reply::error(404, "not_found", "the origin has no such manifest");
            }
            if let Some(s) = status.filter(|s| *s < 500) {
                return Reply::error(s, "origin_status", &format!("the origin answered {s}"));
            }
            match (err, usable) {
                (_, Some(m)) => {
                    edge.metrics.stale_manifests.inc();
                    (m, true)
                }
                (ManifestFetchError::Origin(fe), None) => {
                    return Reply::error(fe.status(), fe.outcome(), &fe.to_string());
                }
                (ManifestFetchError::Status(s), None) => {
                    return Reply::error(502, "origin_status", &format!("the origin answered {s}"));
                }
            }
        }
    };
    let reply = personalize(edge, rt, route, req, &viewer, &manifest);
    if stale {
        reply.header("X-Rilla-Stale", "1")
    } else {
        reply
    }
}

/// Personalizes a manifest that arrived on a segment path (recognized by its content
/// type) for an already verified viewer.
pub async fn personalize_fetched(
    edge: &Edge,
    rt: &Runtime,
    route: &RouteConfig,
    req: &RequestInfo,
    claims: &ViewerClaims,
    resp: &OriginResponse,
) -> Reply {
    let viewer = Viewer {
        id: claims.sub.clone(),
        presented: None,
    };
    // Not cached: its playlist facts are worked out for this request only.
    let manifest = OriginManifest {
        body: resp.body.clone(),
        content_type: resp.content_type.clone(),
        ttl: Duration::ZERO,
        fetched_at: Instant::now(),
        playlist: std::sync::OnceLock::new(),
    };
    personalize(edge, rt, route, req, &viewer, &manifest)
}

/// `EXT-X-TARGETDURATION` of an HLS playlist, seconds.
fn target_duration(body: &[u8]) -> Option<f64> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("#EXT-X-TARGETDURATION:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
}

/// The segment numbers and target duration of an HLS media playlist. Maps the cache key
/// of each of its segments to the swarm and number, so that serving a segment records
/// a holding.
fn playlist_info(
    edge: &Edge,
    rt: &Runtime,
    route: &RouteConfig,
    req: &RequestInfo,
    url: &url::Url,
    body: &[u8],
    swarm: &Arc<str>,
) -> Option<PlaylistInfo> {
    let segments = hls::segments(body).ok()?;
    let base = Base::new(url)?;
    let param = rt.config.file.tokens.query_param.as_str();
    let mut numbers = Vec::new();
    for seg in segments.iter().filter(|s| s.part.is_none()) {
        numbers.push(seg.msn);
        let Some(resolved) = base.resolve(seg.uri.trim()) else {
            continue;
        };
        if resolved.authority != base.authority() {
            continue;
        }
        let query = seg
            .uri
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or(q));
        let query = query_without_token(query, param);
        let pq = origin_path_and_query(route, &resolved.path, query.as_deref());
        edge.segment_ids.insert(
            cache_key(&req.host, &route.origin, &pq),
            SegmentRef {
                swarm: swarm.clone(),
                number: seg.msn,
            },
        );
    }
    numbers.sort_unstable();
    numbers.dedup();
    if numbers.is_empty() {
        return None;
    }
    Some(PlaylistInfo {
        segments: numbers,
        target_secs: target_duration(body).unwrap_or(2.0) as f32,
    })
}

/// The hints for one viewer of a media playlist: the swarm planner's, counted.
fn swarm_hints(
    edge: &Edge,
    rt: &Runtime,
    route: &RouteConfig,
    req: &RequestInfo,
    viewer: &Viewer,
    swarm: &str,
    info: &PlaylistInfo,
) -> HintTable {
    let now = Instant::now();
    let Some(newest) = info.segments.last() else {
        return HintTable::default();
    };
    let refused = |r: rilla_swarm::Refusal| {
        edge.metrics
            .p2p_refusals
            .with_label_values(&[r.label()])
            .inc();
        HintTable::default()
    };
    if let Err(r) = edge
        .swarms
        .observe_playlist(swarm, &req.path, *newest, info.target_secs, now)
    {
        return refused(r);
    }
    let who = viewer_info(edge, rt, req, &viewer.id);
    let policy = edge.policies.get(&route.policy);
    match edge
        .swarms
        .manifest_hints(swarm, &who, &info.segments, policy, &rt.rules, now)
    {
        Ok(hints) => {
            edge.metrics.count_decisions(policy.name(), &hints);
            hint_table(&hints)
        }
        Err(r) => refused(r),
    }
}

fn personalize(
    edge: &Edge,
    rt: &Runtime,
    route: &RouteConfig,
    req: &RequestInfo,
    viewer: &Viewer,
    manifest: &OriginManifest,
) -> Reply {
    let body: &[u8] = &manifest.body;
    let started = Instant::now();
    let tokens = &rt.config.file.tokens;
    let scheme = if req.tls { "https" } else { "http" };
    let query = query_without_token(req.query.as_deref(), &tokens.query_param);
    let url_text = match &query {
        Some(q) => format!("{scheme}://{}{}?{q}", req.host, req.path),
        None => format!("{scheme}://{}{}", req.host, req.path),
    };
    let Ok(url) = url::Url::parse(&url_text) else {
        return Reply::error(
            400,
            "bad_request",
            "the request's host or path is not a valid URL",
        );
    };
    let mut claims =
        ViewerSigner::claims_for(&viewer.id, &tokens.audience, tokens.ttl.get(), unix_now());
    if tokens.bind_ip_prefix
        && let Some(ip) = req.client_ip
    {
        claims = claims.with_client_ip(ip);
    }
    let mut signer = ViewerSigner::new(
        &rt.signer,
        &tokens.query_param,
        &rt.config.signing_hosts,
        &req.host,
        claims,
    );
    if let Some((scope, token)) = &viewer.presented {
        signer.reuse(scope, token);
    }
    signer.prefer_scope(stream_scope(&req.path));
    let swarm: Arc<str> = swarm_id(&req.path).into();
    let (Ok(viewer_id), Ok(swarm_tag), Ok(announce)) = (
        ViewerId::new(&viewer.id),
        ViewerId::new(&swarm),
        SafeUri::new("/p2p/v1/announce"),
    ) else {
        return Reply::error(400, "bad_request", "the viewer id cannot be used");
    };
    let session = SessionTag {
        viewer: viewer_id,
        swarm: swarm_tag,
        announce,
        announce_interval_secs: u32::try_from(rt.config.file.p2p.announce_interval.get().as_secs())
            .unwrap_or(u32::MAX),
    };
    let format = rilla_manifest_rewriter::detect_format(body);
    let info: Option<&PlaylistInfo> = match &format {
        Ok(ManifestFormat::Hls) => manifest
            .playlist
            .get_or_init(|| playlist_info(edge, rt, route, req, &url, body, &swarm))
            .as_ref(),
        _ => None,
    };
    let hints = match info {
        Some(info) => swarm_hints(edge, rt, route, req, viewer, &swarm, info),
        None => HintTable::default(),
    };
    let mut plan = RewritePlan {
        signer: &mut signer,
        session: Some(&session),
        hints: &hints,
        limits: rt.limits,
    };
    let rewritten = rilla_manifest_rewriter::rewrite(body, &url, &mut plan);
    if let Some(e) = signer.take_error() {
        return Reply::error(
            500,
            "signing_failed",
            &format!("cannot sign the manifest: {e}"),
        );
    }
    let out = match rewritten {
        Ok(out) => out,
        Err(e) => {
            return Reply::error(
                502,
                "bad_manifest",
                &format!("the origin sent an unusable manifest: {e}"),
            );
        }
    };
    edge.metrics
        .rewrite_latency
        .observe(started.elapsed().as_secs_f64());
    let content_type = manifest.content_type.clone().unwrap_or_else(|| {
        match format {
            Ok(ManifestFormat::Dash) => "application/dash+xml",
            _ => "application/vnd.apple.mpegurl",
        }
        .to_owned()
    });
    let reply = Reply::new(200, &content_type, out, Source::Edge)
        .header("Cache-Control", "private, no-store");
    if req.head {
        reply.without_body()
    } else {
        reply
    }
}
