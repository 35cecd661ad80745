//! How peers exchange segments. [`PeerTransport`] is the client side, one method: fetch a
//! segment from a peer. [`HttpTransport`] implements it over HTTP/1.1 on TCP; a WebRTC
//! data channel transport for browsers implements the same trait.
//!
//! [`PeerServer`] is the serving side over HTTP/1.1: `GET /rilla-peer/v1/{swarm}/{n}`
//! with `Authorization: Bearer <viewer token>`. The token must be valid under the edge's
//! public keys (its JWKS) and cover the swarm's playlist, so only viewers of the same
//! swarm are served.

use std::{
    collections::BTreeMap,
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{
    Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use rilla_token::{Verifier, unix_now};
use tokio::{net::TcpListener, sync::Semaphore, task::JoinHandle};

/// Why a peer did not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerFetchError {
    /// It does not hold the segment (yet).
    #[error("the peer does not hold the segment")]
    NotHeld,
    /// It is uploading as much as it allows.
    #[error("the peer is busy")]
    Busy,
    /// It refused the request.
    #[error("the peer answered {0}")]
    Refused(u16),
    /// No answer in time.
    #[error("the peer did not answer in time")]
    Timeout,
    /// The connection failed.
    #[error("cannot reach the peer: {0}")]
    Unreachable(String),
}

impl From<reqwest::Error> for PeerFetchError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else {
            Self::Unreachable(e.to_string())
        }
    }
}

/// Fetches segments from other peers.
pub trait PeerTransport: Send + Sync {
    /// Fetches segment `segment` of `swarm` from the peer at `peer`, presenting `token`,
    /// within `timeout`.
    fn fetch(
        &self,
        peer: SocketAddr,
        swarm: &str,
        segment: u64,
        token: &str,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<Bytes, PeerFetchError>> + Send;
}

/// [`PeerTransport`] over HTTP/1.1, with pooled connections.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A transport with its own connection pool.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Self { client }
    }
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl PeerTransport for HttpTransport {
    async fn fetch(
        &self,
        peer: SocketAddr,
        swarm: &str,
        segment: u64,
        token: &str,
        timeout: Duration,
    ) -> Result<Bytes, PeerFetchError> {
        let url = format!("http://{peer}/rilla-peer/v1/{swarm}/{segment}");
        let sent = self
            .client
            .get(url)
            .bearer_auth(token)
            .timeout(timeout)
            .send()
            .await;
        let resp = sent.map_err(PeerFetchError::from)?;
        match resp.status().as_u16() {
            200 => read_bounded(resp).await,
            404 => Err(PeerFetchError::NotHeld),
            503 => Err(PeerFetchError::Busy),
            s => Err(PeerFetchError::Refused(s)),
        }
    }
}

/// Largest segment accepted from a peer: a hostile peer cannot make another buffer
/// without end.
pub const MAX_SEGMENT_BYTES: usize = 64 * 1024 * 1024;

async fn read_bounded(mut resp: reqwest::Response) -> Result<Bytes, PeerFetchError> {
    let too_big = || PeerFetchError::Refused(413);
    let declared = resp.content_length().unwrap_or(0);
    if declared > MAX_SEGMENT_BYTES as u64 {
        return Err(too_big());
    }
    let mut body = Vec::with_capacity(declared as usize);
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > MAX_SEGMENT_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// The segments a peer holds, newest kept, oldest evicted.
#[derive(Debug, Default)]
pub struct Store {
    segments: Mutex<BTreeMap<u64, Bytes>>,
}

impl Store {
    /// Keeps a segment.
    pub fn insert(&self, n: u64, bytes: Bytes) {
        if let Ok(mut s) = self.segments.lock() {
            s.insert(n, bytes);
        }
    }

    /// A held segment.
    pub fn get(&self, n: u64) -> Option<Bytes> {
        self.segments.lock().ok()?.get(&n).cloned()
    }

    /// Evicts everything below `oldest`, returning what was evicted.
    pub fn evict_below(&self, oldest: u64) -> Vec<u64> {
        let Ok(mut s) = self.segments.lock() else {
            return Vec::new();
        };
        let keep = s.split_off(&oldest);
        let gone = std::mem::replace(&mut *s, keep);
        gone.into_keys().collect()
    }

    /// Evicts everything.
    pub fn clear(&self) -> Vec<u64> {
        self.evict_below(u64::MAX)
    }

    /// How many segments are held.
    pub fn len(&self) -> usize {
        self.segments.lock().map_or(0, |s| s.len())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the serving side needs.
pub struct ServeState {
    /// What this peer holds.
    pub store: Arc<Store>,
    /// The swarm it serves and the playlist path tokens must cover.
    pub swarm: Mutex<(String, String)>,
    /// Checks requesters' tokens against the edge's public keys.
    pub verifier: Verifier,
    /// Concurrent uploads allowed.
    pub uploads: Semaphore,
    /// Bytes uploaded.
    pub uploaded: AtomicU64,
    /// Requests served with a segment.
    pub served: AtomicU64,
    /// For tests of liar handling: serve corrupted bytes.
    pub corrupt: bool,
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp
}

impl ServeState {
    fn answer(&self, req: &Request<Incoming>, remote: IpAddr) -> Response<Full<Bytes>> {
        let path = req.uri().path();
        let Some((swarm, n)) = path
            .strip_prefix("/rilla-peer/v1/")
            .and_then(|rest| rest.split_once('/'))
        else {
            return reply(StatusCode::NOT_FOUND, Bytes::new());
        };
        let Ok(n) = n.parse::<u64>() else {
            return reply(StatusCode::BAD_REQUEST, Bytes::new());
        };
        let (mine, playlist) = self.swarm.lock().map(|s| s.clone()).unwrap_or_default();
        if swarm != mine {
            return reply(StatusCode::NOT_FOUND, Bytes::new());
        }
        let token = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let allowed = token.is_some_and(|t| {
            self.verifier
                .verify(t.trim(), &playlist, Some(remote), unix_now())
                .is_ok()
        });
        if !allowed {
            return reply(StatusCode::FORBIDDEN, Bytes::new());
        }
        let Ok(_permit) = self.uploads.try_acquire() else {
            return reply(StatusCode::SERVICE_UNAVAILABLE, Bytes::new());
        };
        let Some(mut bytes) = self.store.get(n) else {
            return reply(StatusCode::NOT_FOUND, Bytes::new());
        };
        if self.corrupt {
            let mut v = bytes.to_vec();
            for b in v.iter_mut().step_by(97) {
                *b ^= 0x5a;
            }
            bytes = Bytes::from(v);
        }
        self.uploaded
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.served.fetch_add(1, Ordering::Relaxed);
        reply(StatusCode::OK, bytes)
    }
}

/// A peer's listener, serving its segments until dropped.
pub struct PeerServer {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl PeerServer {
    /// Starts serving on `listener`.
    pub fn start(listener: TcpListener, state: Arc<ServeState>) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            // Connections live in this set: when the server is dropped, they end with it.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                while connections.try_join_next().is_some() {}
                let Ok((stream, remote)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                connections.spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(state.answer(&req, remote.ip())) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Self { addr, task })
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
