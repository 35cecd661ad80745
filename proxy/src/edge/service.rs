//! The Pingora `ProxyHttp` implementation: a thin dispatcher. Every request is answered in
//! `request_filter` by the handler its path selects; origin fetches go through
//! [`super::origin::OriginClient`] so that they can be coalesced and cached whole.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::{
    ErrorType,
    prelude::{HttpPeer, ProxyHttp, Result, Session},
};

use super::{
    manifests,
    reply::{Reply, Source},
    segments,
    state::{Edge, RequestInfo},
};

/// What the logging phase needs to count a request.
#[derive(Debug, Default)]
pub struct RequestCtx {
    kind: &'static str,
    status: u16,
    body_bytes: usize,
    source: Option<Source>,
}

/// The public-listener service.
pub struct EdgeProxy {
    edge: Arc<Edge>,
}

impl EdgeProxy {
    /// A proxy over shared state.
    pub fn new(edge: Arc<Edge>) -> Self {
        Self { edge }
    }
}

fn request_info(session: &Session, rt: &super::runtime::Runtime) -> RequestInfo {
    let req = session.req_header();
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let host = header("host")
        .or_else(|| req.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let digest = session.digest();
    let tls = digest.is_some_and(|d| d.ssl_digest.is_some());
    RequestInfo {
        head: req.method == http::Method::HEAD,
        path: req.uri.path().to_owned(),
        query: req.uri.query().map(str::to_owned),
        host,
        client_ip: rilla_plugins::forwarded::client_ip(
            session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip()),
            header("x-forwarded-for").as_deref(),
            &rt.trusted_proxies,
        ),
        range: header("range"),
        if_none_match: header("if-none-match"),
        tls,
        cmcd: rilla_plugins::Cmcd::from_request(req.uri.query(), header("cmcd-request").as_deref()),
        region: rt.config.file.p2p.region_header.as_deref().and_then(header),
        authorization: header("authorization"),
    }
}

fn is_manifest_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".m3u8") || lower.ends_with(".mpd")
}

impl EdgeProxy {
    async fn handle(&self, session: &mut Session, ctx: &mut RequestCtx) -> Reply {
        let rt = self.edge.runtime.load_full();
        let req = request_info(session, &rt);
        match req.path.as_str() {
            "/healthz" => {
                ctx.kind = "other";
                return Reply::text(200, "ok\n");
            }
            "/readyz" => {
                ctx.kind = "other";
                return Reply::text(200, "ready\n");
            }
            "/" | "/demo/" if self.edge.demo_page.get().is_some() => {
                ctx.kind = "other";
                let page = self.edge.demo_page.get().cloned().unwrap_or_default();
                return Reply::new(200, "text/html; charset=utf-8", page, Source::Edge)
                    .header("Cache-Control", "no-store");
            }
            "/.well-known/jwks.json" => {
                ctx.kind = "other";
                return Reply::new(
                    200,
                    "application/jwk-set+json",
                    rt.jwks.clone(),
                    Source::Edge,
                )
                .header("Cache-Control", "max-age=60");
            }
            _ => {}
        }
        let method = session.req_header().method.clone();
        if method == http::Method::OPTIONS {
            ctx.kind = "other";
            return Reply::new(204, "text/plain", bytes::Bytes::new(), Source::Edge)
                .header("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS")
                .header(
                    "Access-Control-Allow-Headers",
                    "Range, If-None-Match, Content-Type, Authorization, CMCD-Request, CMCD-Object, CMCD-Session, CMCD-Status",
                )
                .header("Access-Control-Max-Age", "600");
        }
        if req.path.starts_with("/p2p/v1/") {
            ctx.kind = "api";
            return super::p2p::serve(&self.edge, &rt, session, &req).await;
        }
        if method != http::Method::GET && method != http::Method::HEAD {
            ctx.kind = "other";
            return Reply::error(405, "method_not_allowed", "only GET and HEAD are served")
                .header("Allow", "GET, HEAD");
        }
        let Some(route) = rt.config.route_for(&req.path) else {
            ctx.kind = "other";
            return Reply::error(404, "no_route", "no routing rule covers this path");
        };
        if is_manifest_path(&req.path) {
            ctx.kind = "manifest";
            manifests::serve(&self.edge, &rt, route, &req).await
        } else {
            ctx.kind = "segment";
            segments::serve(&self.edge, &rt, route, &req).await
        }
    }
}

#[async_trait]
impl ProxyHttp for EdgeProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let mut reply = self.handle(session, ctx).await;
        let cors = self
            .edge
            .runtime
            .load()
            .config
            .file
            .edge
            .cors_allow_origin
            .clone();
        if !cors.is_empty() {
            reply = reply.header("Access-Control-Allow-Origin", cors).header(
                "Access-Control-Expose-Headers",
                "Content-Length, Content-Range, ETag, X-Rilla-Cache, X-Rilla-Stale",
            );
        }
        ctx.status = reply.status;
        ctx.body_bytes = if reply.send_body { reply.body.len() } else { 0 };
        ctx.source = Some(reply.source);
        if let Err(e) = reply.write(session).await {
            // The viewer went away mid-response: nothing to answer, nothing to log loudly.
            tracing::debug!(error = %e, "response not delivered");
            ctx.body_bytes = 0;
        }
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        // Every request is answered in `request_filter`.
        Err(pingora::Error::explain(
            ErrorType::InternalError,
            "the edge answers every request itself",
        ))
    }

    fn suppress_error_log(
        &self,
        _session: &Session,
        _ctx: &RequestCtx,
        error: &pingora::Error,
    ) -> bool {
        // A viewer that goes away mid-response is routine, not an edge error.
        error.esource() == &pingora::ErrorSource::Downstream
    }

    async fn logging(
        &self,
        session: &mut Session,
        error: Option<&pingora::Error>,
        ctx: &mut RequestCtx,
    ) {
        let status = if ctx.status == 0 {
            session.response_written().map_or(0, |r| r.status.as_u16())
        } else {
            ctx.status
        };
        let kind = if ctx.kind.is_empty() {
            "other"
        } else {
            ctx.kind
        };
        let metrics = &self.edge.metrics;
        metrics
            .requests
            .with_label_values(&[kind, &status.to_string()])
            .inc();
        // Segment bytes the edge delivered: cached or fetched media, not error bodies.
        if kind == "segment" && matches!(ctx.source, Some(Source::Cache | Source::Origin)) {
            metrics.segment_bytes.inc_by(ctx.body_bytes as u64);
        }
        if let Some(source) = ctx.source
            && ctx.body_bytes > 0
        {
            metrics
                .bytes_served
                .with_label_values(&[source.label()])
                .inc_by(ctx.body_bytes as u64);
        }
        if let Some(e) = error {
            tracing::warn!(kind, status, error = %e, "request failed");
        } else {
            tracing::debug!(kind, status, path = %session.req_header().uri.path(), "request");
        }
    }
}
