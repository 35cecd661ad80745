//! Segments: token first, then the cache, then one coalesced origin fetch.

use std::{sync::Arc, time::Instant};

use rilla_config::RouteConfig;
use rilla_token::{TokenError, find_token, strip_token, unix_now};
use sha2::{Digest as _, Sha256};

use super::{
    manifests,
    origin::{FetchError, OriginResponse},
    reply::{Reply, Source},
    runtime::Runtime,
    state::{Edge, RequestInfo, Segment},
    swarms::viewer_info,
};

/// Why a segment could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum SegmentFetchError {
    /// The origin failed.
    #[error(transparent)]
    Origin(#[from] FetchError),
    /// The origin answered with a status other than 200.
    #[error("origin answered {0}")]
    Status(u16),
    /// The origin answered with a manifest; it is personalized, not cached as a segment.
    #[error("origin answered with a manifest")]
    Manifest(OriginResponse),
}

/// The path and query to request from the origin for a request path and its query
/// (token already removed): the route's prefix is swapped for `origin_prefix` if set.
pub fn origin_path_and_query(route: &RouteConfig, path: &str, query: Option<&str>) -> String {
    let path = match &route.origin_prefix {
        Some(replacement) => format!(
            "{replacement}{}",
            path.strip_prefix(route.prefix.as_str()).unwrap_or(path)
        ),
        None => path.to_owned(),
    };
    match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path,
    }
}

/// The query with the token parameter and the CMCD argument removed (`None` when nothing
/// else remains): neither reaches the origin or a cache key.
pub fn query_without_token(query: Option<&str>, param: &str) -> Option<String> {
    let q = query?;
    let uri = format!("/?{q}");
    let stripped =
        strip_token(&strip_token(&uri, param), rilla_plugins::cmcd::QUERY_PARAM).into_owned();
    stripped
        .strip_prefix("/?")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The cache key of an object: host and origin path and query. The token never enters it.
pub fn cache_key(host: &str, origin: &str, origin_path_and_query: &str) -> String {
    format!("{host}|{origin}|{origin_path_and_query}")
}

/// Whether a `Content-Type` is a manifest's.
pub fn is_manifest_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        let ct = ct.to_ascii_lowercase();
        ct.contains("mpegurl") || ct.contains("dash+xml")
    })
}

/// A single byte range, resolved against the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send everything.
    Full,
    /// Send bytes `start..=end`.
    Part {
        /// First byte.
        start: usize,
        /// Last byte.
        end: usize,
    },
    /// The range lies outside the object.
    Unsatisfiable,
}

/// Parses a `Range` header for an object of `len` bytes. Several ranges, other units and
/// malformed headers are answered with the whole object, as RFC 9110 allows.
pub fn parse_range(header: Option<&str>, len: usize) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<usize>().ok();
    let (start, end) = match (first.is_empty(), last.is_empty()) {
        (true, false) => {
            let Some(n) = parse(last) else {
                return RangeRequest::Full;
            };
            if n == 0 {
                return RangeRequest::Unsatisfiable;
            }
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (false, _) => {
            let Some(start) = parse(first) else {
                return RangeRequest::Full;
            };
            let end = if last.is_empty() {
                len.saturating_sub(1)
            } else {
                match parse(last) {
                    Some(e) if e >= start => e.min(len.saturating_sub(1)),
                    _ => return RangeRequest::Full,
                }
            };
            (start, end)
        }
        (true, true) => return RangeRequest::Full,
    };
    if len == 0 || start >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part { start, end }
}

async fn fetch(
    edge: &Edge,
    rt: &Runtime,
    route: &RouteConfig,
    origin_pq: &str,
) -> Result<Arc<Segment>, SegmentFetchError> {
    let max = usize::try_from(rt.config.file.cache.max_object_bytes).unwrap_or(usize::MAX);
    let resp = edge
        .fetch_from_origin(rt, &route.origin, "segment", origin_pq, max)
        .await?;
    if resp.status != 200 {
        return Err(SegmentFetchError::Status(resp.status));
    }
    if is_manifest_type(resp.content_type.as_deref()) {
        return Err(SegmentFetchError::Manifest(resp));
    }
    let sha256: [u8; 32] = Sha256::digest(&resp.body).into();
    let etag = resp
        .etag
        .clone()
        .unwrap_or_else(|| format!("\"{}\"", hex_prefix(&sha256)));
    Ok(Arc::new(Segment {
        content_type: resp
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into()),
        etag,
        last_modified: resp.last_modified.clone(),
        cache_control: resp.cache_control.clone(),
        sha256,
        body: resp.body,
    }))
}

fn hex_prefix(digest: &[u8; 32]) -> String {
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves a segment request.
pub async fn serve(edge: &Edge, rt: &Runtime, route: &RouteConfig, req: &RequestInfo) -> Reply {
    let param = rt.config.file.tokens.query_param.as_str();
    let token = req.query.as_deref().and_then(|q| find_token(q, param));
    let verified = match token {
        None => Err(TokenError::Missing),
        Some(t) => rt.verifier.verify(t, &req.path, req.client_ip, unix_now()),
    };
    let verified = match verified {
        Ok(v) => v,
        Err(e) => return edge.reject_token(&e),
    };
    let query = query_without_token(req.query.as_deref(), param);
    let origin_pq = origin_path_and_query(route, &req.path, query.as_deref());
    let key = cache_key(&req.host, &route.origin, &origin_pq);

    let (segment, source) = match edge.segments.get(&key).await {
        Some(seg) => {
            edge.metrics.cache_lookups.with_label_values(&["hit"]).inc();
            (seg, Source::Cache)
        }
        None => {
            edge.metrics
                .cache_lookups
                .with_label_values(&["miss"])
                .inc();
            let fetched = edge
                .segments
                .try_get_with(key.clone(), fetch(edge, rt, route, &origin_pq))
                .await;
            match fetched {
                Ok(seg) => (seg, Source::Origin),
                Err(e) => {
                    return match e.as_ref() {
                        SegmentFetchError::Origin(fe) => {
                            Reply::error(fe.status(), fe.outcome(), &fe.to_string())
                        }
                        SegmentFetchError::Status(404) => {
                            Reply::error(404, "not_found", "the origin has no such object")
                        }
                        SegmentFetchError::Status(s) if *s < 500 => {
                            Reply::error(*s, "origin_status", &format!("the origin answered {s}"))
                        }
                        SegmentFetchError::Status(s) => {
                            Reply::error(502, "origin_status", &format!("the origin answered {s}"))
                        }
                        SegmentFetchError::Manifest(resp) => {
                            manifests::personalize_fetched(
                                edge,
                                rt,
                                route,
                                req,
                                verified.claims(),
                                resp,
                            )
                            .await
                        }
                    };
                }
            }
        }
    };

    // A whole segment sent to the viewer is a holding in its swarm.
    if !req.head
        && req.range.is_none()
        && let Some(seg_ref) = edge.segment_ids.get(&key)
    {
        let who = viewer_info(edge, rt, req, &verified.claims().sub);
        let recorded = edge.swarms.record_served(
            &seg_ref.swarm,
            &who,
            seg_ref.number,
            segment.body.len() as u64,
            segment.sha256,
            Instant::now(),
        );
        match recorded {
            Ok(true) => {}
            Ok(false) => edge.metrics.holdings_refused.inc(),
            Err(r) => edge
                .metrics
                .p2p_refusals
                .with_label_values(&[r.label()])
                .inc(),
        }
    }
    respond(req, &segment, source)
}

fn respond(req: &RequestInfo, seg: &Segment, source: Source) -> Reply {
    let len = seg.body.len();
    let mut reply = Reply::new(200, &seg.content_type, seg.body.clone(), source)
        .header("ETag", seg.etag.clone())
        .header("Accept-Ranges", "bytes")
        .header(
            "Cache-Control",
            seg.cache_control
                .clone()
                .unwrap_or_else(|| "max-age=60".into()),
        )
        .header(
            "X-Rilla-Cache",
            if source == Source::Cache {
                "HIT"
            } else {
                "MISS"
            },
        );
    if let Some(lm) = &seg.last_modified {
        reply = reply.header("Last-Modified", lm.clone());
    }
    if req.if_none_match.as_deref().is_some_and(|inm| {
        inm.split(',')
            .any(|t| t.trim() == seg.etag || t.trim() == "*")
    }) {
        reply.status = 304;
        reply.content_length = 0;
        reply.body = bytes::Bytes::new();
        return reply.without_body();
    }
    match parse_range(req.range.as_deref(), len) {
        RangeRequest::Full => {}
        RangeRequest::Part { start, end } => {
            reply.status = 206;
            reply.body = seg.body.slice(start..=end);
            reply.content_length = reply.body.len();
            reply = reply.header("Content-Range", format!("bytes {start}-{end}/{len}"));
        }
        RangeRequest::Unsatisfiable => {
            return Reply::error(
                416,
                "range_not_satisfiable",
                "the range lies outside the object",
            )
            .header("Content-Range", format!("bytes */{len}"));
        }
    }
    if req.head {
        reply.without_body()
    } else {
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(parse_range(None, 10), Full);
        assert_eq!(
            parse_range(Some("bytes=0-3"), 10),
            Part { start: 0, end: 3 }
        );
        assert_eq!(parse_range(Some("bytes=5-"), 10), Part { start: 5, end: 9 });
        assert_eq!(parse_range(Some("bytes=-4"), 10), Part { start: 6, end: 9 });
        assert_eq!(
            parse_range(Some("bytes=8-100"), 10),
            Part { start: 8, end: 9 }
        );
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Full);
        assert_eq!(parse_range(Some("bytes=4-2"), 10), Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), Full);
    }

    #[test]
    fn token_never_enters_the_origin_request_or_the_key() {
        let route = RouteConfig {
            prefix: "/live/".into(),
            origin: "o".into(),
            access: "open".into(),
            origin_prefix: Some("/media/".into()),
            policy: "adaptive".into(),
        };
        let q = query_without_token(Some("a=1&rt=SECRET&CMCD=bl%3D300&b=2"), "rt");
        assert_eq!(q.as_deref(), Some("a=1&b=2"));
        assert_eq!(query_without_token(Some("rt=SECRET"), "rt"), None);
        let pq = origin_path_and_query(&route, "/live/ch1/seg.ts", q.as_deref());
        assert_eq!(pq, "/media/ch1/seg.ts?a=1&b=2");
        assert!(!cache_key("edge", "o", &pq).contains("SECRET"));
    }
}
