//! Fetching whole objects from origins through Pingora's connection pool.
//!
//! A fetch either returns the complete body, checked against its `Content-Length`, or an
//! error that says what went wrong. Nothing partial ever leaves this module, so nothing
//! partial can be cached.

use std::{io::Read as _, net::SocketAddr, time::Duration};

use bytes::{Bytes, BytesMut};
use pingora::{
    ErrorType, connectors::http::Connector, http::RequestHeader, upstreams::peer::HttpPeer,
};

/// How to reach one origin.
#[derive(Debug, Clone)]
pub struct OriginTarget {
    /// Configured name.
    pub name: String,
    /// Resolved address.
    pub addr: SocketAddr,
    /// Whether to speak TLS.
    pub tls: bool,
    /// `Host` header (and TLS SNI) to send.
    pub host: String,
    /// Path prefix of the origin URL (without its trailing `/`).
    pub base_path: String,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed between reads.
    pub read_timeout: Duration,
}

/// A complete origin response.
#[derive(Debug, Clone)]
pub struct OriginResponse {
    /// Status code.
    pub status: u16,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
    /// `ETag`, if sent.
    pub etag: Option<String>,
    /// `Last-Modified`, if sent.
    pub last_modified: Option<String>,
    /// `Cache-Control`, if sent.
    pub cache_control: Option<String>,
    /// The whole body, decompressed.
    pub body: Bytes,
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No answer within the connect or read timeout.
    #[error("origin {origin} timed out: {detail}")]
    Timeout {
        /// Origin name.
        origin: String,
        /// What timed out.
        detail: String,
    },
    /// The origin could not be reached or broke the connection.
    #[error("origin {origin} failed: {detail}")]
    Failed {
        /// Origin name.
        origin: String,
        /// What went wrong.
        detail: String,
    },
    /// The response was larger than allowed.
    #[error("origin {origin} sent more than {limit} bytes")]
    TooLarge {
        /// Origin name.
        origin: String,
        /// The limit in force.
        limit: usize,
    },
    /// The body ended before its announced length, or ran past it.
    #[error("origin {origin} sent {received} bytes where Content-Length said {expected}")]
    LengthMismatch {
        /// Origin name.
        origin: String,
        /// Announced length.
        expected: usize,
        /// Bytes received.
        received: usize,
    },
}

impl FetchError {
    /// The status the viewer gets: 504 for timeouts, 502 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::Timeout { .. } => 504,
            _ => 502,
        }
    }

    /// Short machine-readable outcome for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "timeout",
            Self::TooLarge { .. } => "too_large",
            Self::LengthMismatch { .. } => "bad_length",
            Self::Failed { .. } => "error",
        }
    }
}

/// Fetches objects from origins, reusing connections.
pub struct OriginClient {
    connector: Connector,
}

impl Default for OriginClient {
    fn default() -> Self {
        Self::new()
    }
}

fn classify(origin: &str, e: &pingora::Error) -> FetchError {
    let detail = e.to_string();
    match e.etype() {
        ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
            FetchError::Timeout {
                origin: origin.to_owned(),
                detail,
            }
        }
        _ => FetchError::Failed {
            origin: origin.to_owned(),
            detail,
        },
    }
}

fn header(resp: &pingora::http::ResponseHeader, name: &str) -> Option<String> {
    resp.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn decompress(
    origin: &str,
    encoding: &str,
    body: &[u8],
    limit: usize,
) -> Result<Bytes, FetchError> {
    let failed = |detail: String| FetchError::Failed {
        origin: origin.to_owned(),
        detail,
    };
    let mut out = Vec::new();
    let read = match encoding {
        "gzip" | "x-gzip" => flate2::read::GzDecoder::new(body)
            .take(limit as u64 + 1)
            .read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(body)
            .take(limit as u64 + 1)
            .read_to_end(&mut out),
        other => return Err(failed(format!("unsupported Content-Encoding {other:?}"))),
    };
    read.map_err(|e| failed(format!("cannot decode {encoding} body: {e}")))?;
    if out.len() > limit {
        return Err(FetchError::TooLarge {
            origin: origin.to_owned(),
            limit,
        });
    }
    Ok(Bytes::from(out))
}

impl OriginClient {
    /// A client with its own connection pool.
    pub fn new() -> Self {
        Self {
            connector: Connector::new(None),
        }
    }

    /// GETs `path_and_query` (already rewritten for the origin) and returns the whole
    /// response, at most `max_bytes` of body after decompression.
    pub async fn get(
        &self,
        target: &OriginTarget,
        path_and_query: &str,
        max_bytes: usize,
    ) -> Result<OriginResponse, FetchError> {
        // A trickling origin must not hold a fetch forever: bound the whole exchange.
        let deadline = target.connect_timeout + target.read_timeout * 3;
        match tokio::time::timeout(deadline, self.get_inner(target, path_and_query, max_bytes))
            .await
        {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                origin: target.name.clone(),
                detail: format!("no complete response within {deadline:?}"),
            }),
        }
    }

    async fn get_inner(
        &self,
        target: &OriginTarget,
        path_and_query: &str,
        max_bytes: usize,
    ) -> Result<OriginResponse, FetchError> {
        let origin = target.name.as_str();
        let mut peer = HttpPeer::new(target.addr, target.tls, target.host.clone());
        peer.options.connection_timeout = Some(target.connect_timeout);
        peer.options.total_connection_timeout = Some(target.connect_timeout);
        peer.options.read_timeout = Some(target.read_timeout);
        peer.options.write_timeout = Some(target.read_timeout);
        peer.options.idle_timeout = Some(Duration::from_secs(60));

        let (mut session, _reused) = self
            .connector
            .get_http_session(&peer)
            .await
            .map_err(|e| classify(origin, &e))?;
        session.set_read_timeout(Some(target.read_timeout));
        session.set_write_timeout(Some(target.read_timeout));

        let path = format!("{}{}", target.base_path, path_and_query);
        let mut req =
            RequestHeader::build("GET", path.as_bytes(), None).map_err(|e| FetchError::Failed {
                origin: origin.to_owned(),
                detail: format!("cannot build the request: {e}"),
            })?;
        let insert = |req: &mut RequestHeader, name: &'static str, value: &str| {
            req.insert_header(name, value)
                .map_err(|e| FetchError::Failed {
                    origin: origin.to_owned(),
                    detail: format!("cannot set {name}: {e}"),
                })
        };
        insert(&mut req, "Host", &target.host)?;
        insert(&mut req, "Accept-Encoding", "gzip, deflate")?;
        insert(&mut req, "User-Agent", "rilla-edge")?;
        session
            .write_request_header(Box::new(req))
            .await
            .map_err(|e| classify(origin, &e))?;
        session
            .finish_request_body()
            .await
            .map_err(|e| classify(origin, &e))?;
        session
            .read_response_header()
            .await
            .map_err(|e| classify(origin, &e))?;
        let resp = session
            .response_header()
            .ok_or_else(|| FetchError::Failed {
                origin: origin.to_owned(),
                detail: "no response header".into(),
            })?
            .clone();

        let announced: Option<usize> =
            header(&resp, "content-length").and_then(|v| v.trim().parse().ok());
        if let Some(len) = announced
            && len > max_bytes
        {
            return Err(FetchError::TooLarge {
                origin: origin.to_owned(),
                limit: max_bytes,
            });
        }
        let mut body = BytesMut::with_capacity(announced.unwrap_or(16 * 1024).min(max_bytes));
        loop {
            match session.read_response_body().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max_bytes {
                        return Err(FetchError::TooLarge {
                            origin: origin.to_owned(),
                            limit: max_bytes,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(expected) = announced
                        && e.etype() != &ErrorType::ReadTimedout
                    {
                        return Err(FetchError::LengthMismatch {
                            origin: origin.to_owned(),
                            expected,
                            received: body.len(),
                        });
                    }
                    return Err(classify(origin, &e));
                }
            }
        }
        if let Some(expected) = announced
            && expected != body.len()
        {
            return Err(FetchError::LengthMismatch {
                origin: origin.to_owned(),
                expected,
                received: body.len(),
            });
        }
        let reusable = session.response_done();
        if reusable {
            self.connector
                .release_http_session(session, &peer, peer.options.idle_timeout)
                .await;
        }
        let body = match header(&resp, "content-encoding").map(|e| e.trim().to_ascii_lowercase()) {
            None => body.freeze(),
            Some(e) if e == "identity" => body.freeze(),
            Some(e) => decompress(origin, &e, &body, max_bytes)?,
        };
        Ok(OriginResponse {
            status: resp.status.as_u16(),
            content_type: header(&resp, "content-type"),
            etag: header(&resp, "etag"),
            last_modified: header(&resp, "last-modified"),
            cache_control: header(&resp, "cache-control"),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn compressed_bodies_are_decoded_within_the_limit() {
        let text = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n".repeat(100);
        assert_eq!(
            decompress("o", "gzip", &gzip(&text), 1 << 20).unwrap(),
            text.to_vec()
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        assert_eq!(
            decompress("o", "deflate", &z.finish().unwrap(), 1 << 20).unwrap(),
            text.to_vec()
        );
        // A small body that inflates past the limit (a gzip bomb) is refused.
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 64 * 1024);
        assert!(matches!(
            decompress("o", "gzip", &bomb, 1 << 20),
            Err(FetchError::TooLarge { .. })
        ));
        assert!(matches!(
            decompress("o", "br", b"x", 1 << 20),
            Err(FetchError::Failed { .. })
        ));
        assert!(matches!(
            decompress("o", "gzip", b"not gzip", 1 << 20),
            Err(FetchError::Failed { .. })
        ));
    }
}
