//! A small HTTP/1.1 server connection: request heads parsed with `httparse`, responses with a
//! known length, keep-alive, and byte-level access to the socket for the fault endpoints.

use std::io;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::clock;

/// Largest accepted request head (request line and headers).
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 64;
/// Largest request body the server reads (and discards).
const MAX_BODY: u64 = 1 << 20;
/// How long a connection may stay silent while a request is expected or being read.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Request methods the origin distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Post,
    Other,
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// The request target as sent, e.g. `/live/ch1/seg-3.m4s?rt=abc`.
    pub(crate) target: String,
    /// The path of the target, without query.
    pub(crate) path: String,
    /// Whether the connection may serve another request after this one.
    pub(crate) keep_alive: bool,
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed the connection between requests.
    Closed,
    /// The socket failed or stayed silent too long.
    Io,
    /// The request head exceeds [`MAX_HEAD`] or has too many headers.
    HeadTooLarge,
    /// The request does not parse.
    Malformed,
    /// The request body is longer than the server reads.
    BodyTooLarge,
    /// The request body is chunked, which the server does not read.
    Chunked,
}

impl ReadError {
    /// The response for a client error, if one should be sent.
    pub(crate) fn response(&self) -> Option<Response> {
        let status = match self {
            ReadError::Closed | ReadError::Io => return None,
            ReadError::HeadTooLarge => 431,
            ReadError::Malformed => 400,
            ReadError::BodyTooLarge => 413,
            ReadError::Chunked => 501,
        };
        Some(Response::text(status, format!("{}\n", reason(status))))
    }
}

/// A response body of known length.
pub(crate) enum Body {
    /// All bytes at hand.
    Full(Bytes),
    /// `len` bytes produced chunk by chunk while writing.
    Stream {
        len: u64,
        chunks: Box<dyn Iterator<Item = Bytes> + Send>,
    },
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Full(b) => b.len() as u64,
            Body::Stream { len, .. } => *len,
        }
    }
}

/// A response the connection writes with `Content-Length`.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) cache_control: Option<&'static str>,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Body,
}

impl Response {
    /// A response with a body of `content_type`.
    pub(crate) fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Response {
            status,
            content_type,
            cache_control: None,
            headers: Vec::new(),
            body: Body::Full(body.into()),
        }
    }

    /// A `text/plain` response.
    pub(crate) fn text(status: u16, body: impl Into<Bytes>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body)
    }

    /// Sets `Cache-Control`.
    pub(crate) fn cache(mut self, value: &'static str) -> Self {
        self.cache_control = Some(value);
        self
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Standard reason phrase for `status` (or a generic one).
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Whether a response with `status` carries neither body nor `Content-Length`.
fn bodiless(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

/// A status line and headers, ending with the blank line.
pub(crate) fn response_head(
    status: u16,
    content_type: &str,
    content_length: Option<u64>,
    extra: &[(&str, &str)],
) -> String {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nDate: {}\r\nServer: rilla-origin\r\n\
         Access-Control-Allow-Origin: *\r\nContent-Type: {content_type}\r\n",
        reason(status),
        clock::http_date(SystemTime::now()),
    );
    if let Some(len) = content_length {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// One client connection.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Wraps an accepted socket.
    pub(crate) fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// The socket, for endpoints that write raw bytes.
    pub(crate) fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Reads the next request head and discards its body.
    pub(crate) async fn read_request(&mut self) -> Result<Request, ReadError> {
        loop {
            if !self.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut parsed = httparse::Request::new(&mut headers);
                match parsed.parse(&self.buf) {
                    Ok(httparse::Status::Complete(head_len)) => {
                        let (request, body_len) = interpret(&parsed)?;
                        self.buf.drain(..head_len);
                        self.discard_body(body_len).await?;
                        return Ok(request);
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(httparse::Error::TooManyHeaders) => return Err(ReadError::HeadTooLarge),
                    Err(_) => return Err(ReadError::Malformed),
                }
                if self.buf.len() >= MAX_HEAD {
                    return Err(ReadError::HeadTooLarge);
                }
            }
            let mut chunk = [0u8; 4096];
            let Ok(Ok(n)) = timeout(READ_TIMEOUT, self.stream.read(&mut chunk)).await else {
                return Err(ReadError::Io);
            };
            if n == 0 {
                return Err(if self.buf.is_empty() {
                    ReadError::Closed
                } else {
                    ReadError::Malformed
                });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn discard_body(&mut self, mut remaining: u64) -> Result<(), ReadError> {
        let buffered = self
            .buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        self.buf.drain(..buffered);
        remaining -= buffered as u64;
        let mut chunk = [0u8; 8192];
        while remaining > 0 {
            let want = chunk
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX));
            match timeout(READ_TIMEOUT, self.stream.read(&mut chunk[..want])).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Err(ReadError::Io),
                Ok(Ok(n)) => remaining -= n as u64,
            }
        }
        Ok(())
    }

    /// Writes `response`; only its head when `head_only`.
    pub(crate) async fn write_response(
        &mut self,
        response: Response,
        head_only: bool,
        keep_alive: bool,
    ) -> io::Result<()> {
        let status = response.status;
        let len = response.body.len();
        let mut extra: Vec<(&str, &str)> = Vec::new();
        if let Some(cc) = response.cache_control {
            extra.push(("Cache-Control", cc));
        }
        for (name, value) in &response.headers {
            extra.push((name, value));
        }
        extra.push((
            "Connection",
            if keep_alive { "keep-alive" } else { "close" },
        ));
        let content_length = (!bodiless(status)).then_some(len);
        let head = response_head(status, response.content_type, content_length, &extra);
        self.stream.write_all(head.as_bytes()).await?;
        if !head_only && !bodiless(status) {
            match response.body {
                Body::Full(bytes) => self.stream.write_all(&bytes).await?,
                Body::Stream { len, chunks } => {
                    let mut written = 0u64;
                    for chunk in chunks {
                        self.stream.write_all(&chunk).await?;
                        written += chunk.len() as u64;
                    }
                    if written != len {
                        return Err(io::Error::other(format!(
                            "streamed body of {written} bytes, announced {len}"
                        )));
                    }
                }
            }
        }
        self.stream.flush().await
    }

    /// Closes the sending side and lets the socket drop.
    pub(crate) async fn close(mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Closes the sending side, then reads and drops what the peer still sends for a
    /// moment, so that unread request bytes do not turn the close into a reset that could
    /// destroy the error response in flight.
    pub(crate) async fn close_after_error(mut self) {
        let _ = self.stream.shutdown().await;
        let mut sink = [0u8; 4096];
        let drain = async {
            let mut total = 0usize;
            while let Ok(n) = self.stream.read(&mut sink).await {
                total += n;
                if n == 0 || total > 256 * 1024 {
                    break;
                }
            }
        };
        let _ = timeout(Duration::from_millis(500), drain).await;
    }
}

fn interpret(parsed: &httparse::Request<'_, '_>) -> Result<(Request, u64), ReadError> {
    let method = match parsed.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        Some("POST") => Method::Post,
        Some(_) => Method::Other,
        None => return Err(ReadError::Malformed),
    };
    let target = parsed.path.ok_or(ReadError::Malformed)?.to_owned();
    let version = parsed.version.ok_or(ReadError::Malformed)?;
    let mut close = version == 0;
    let mut body_len: Option<u64> = None;
    for h in parsed.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            let value = String::from_utf8_lossy(h.value);
            if value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"))
            {
                close = true;
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ReadError::Chunked);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let len = std::str::from_utf8(h.value)
                .ok()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(ReadError::Malformed)?;
            if body_len.is_some_and(|prev| prev != len) {
                return Err(ReadError::Malformed);
            }
            body_len = Some(len);
        }
    }
    let body_len = body_len.unwrap_or(0);
    if body_len > MAX_BODY {
        return Err(ReadError::BodyTooLarge);
    }
    let path = path_of(&target).to_owned();
    Ok((
        Request {
            method,
            target,
            path,
            keep_alive: !close,
        },
        body_len,
    ))
}

/// The path of a request target: origin-form without its query, or the path of an
/// absolute-form URI.
pub(crate) fn path_of(target: &str) -> &str {
    let without_query = target.split(['?', '#']).next().unwrap_or("");
    if without_query.starts_with('/') || without_query == "*" {
        return without_query;
    }
    match without_query.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => without_query,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_drop_the_query_and_the_authority() {
        assert_eq!(path_of("/live/ch1/seg-1.m4s?rt=x"), "/live/ch1/seg-1.m4s");
        assert_eq!(path_of("http://h:80/a/b?c"), "/a/b");
        assert_eq!(path_of("http://h"), "/");
        assert_eq!(path_of("*"), "*");
    }

    #[test]
    fn bodiless_statuses_have_no_length() {
        let head = response_head(204, "text/plain", None, &[]);
        assert!(head.starts_with("HTTP/1.1 204 No Content\r\n"));
        assert!(!head.contains("Content-Length"));
        assert!(head.ends_with("\r\n\r\n"));
    }
}
