//! The admin listener: `/metrics`, `/admin/config`, `POST /admin/reload`.

use std::sync::Arc;

use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::{apps::http_app::ServeHttp, protocols::http::ServerSession};

use super::{reload, state::Edge};

/// The admin application.
pub struct AdminApp {
    edge: Arc<Edge>,
}

impl AdminApp {
    /// An admin app over shared state.
    pub fn new(edge: Arc<Edge>) -> Self {
        Self { edge }
    }
}

fn response(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CONTENT_LENGTH, body.len())
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(body)
        .unwrap_or_default()
}

/// The active configuration as TOML, with the TLS key path redacted.
pub fn redacted_config(edge: &Edge) -> String {
    let rt = edge.runtime.load();
    let mut file = rt.config.file.clone();
    if file.server.tls_key.is_some() {
        file.server.tls_key = Some("<redacted>".into());
    }
    toml::to_string_pretty(&file).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        let path = req.uri.path().to_owned();
        let method = req.method.clone();
        match (method.as_str(), path.as_str()) {
            ("GET", "/metrics") => {
                // Deflection from the latest counters; the gauges of the swarm index come
                // from the housekeeping sweep every 2 s.
                self.edge.metrics.update_deflection();
                response(
                    StatusCode::OK,
                    "text/plain; version=0.0.4",
                    self.edge.metrics.render(),
                )
            }
            ("GET", "/admin/config") => response(
                StatusCode::OK,
                "application/toml",
                redacted_config(&self.edge).into_bytes(),
            ),
            ("POST", "/admin/reload") => {
                let (status, body) = match reload::reload(&self.edge) {
                    Ok(outcome) => (StatusCode::OK, outcome.to_json()),
                    Err(e) => (StatusCode::BAD_REQUEST, e.to_json()),
                };
                response(status, "application/json", body.into_bytes())
            }
            ("GET", "/healthz") => response(StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            _ => response(
                StatusCode::NOT_FOUND,
                "text/plain",
                b"admin endpoints: GET /metrics, GET /admin/config, POST /admin/reload\n".to_vec(),
            ),
        }
    }
}
