//! A running origin per test and a raw HTTP/1.1 client.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use rilla_origin::{Origin, OriginOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// An origin serving in the background of the test's runtime.
pub struct Running {
    pub addr: SocketAddr,
    pub start: SystemTime,
    stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Asks the origin to stop and waits for `serve` to return.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("serve task")
    }
}

/// Starts an origin whose segment 0 began `ago` before now.
pub async fn start(ago: Duration) -> Running {
    start_with(OriginOptions {
        start: SystemTime::now() - ago,
        ..OriginOptions::default()
    })
    .await
}

/// Starts an origin with `options`.
pub async fn start_with(options: OriginOptions) -> Running {
    let origin = Origin::bind("127.0.0.1:0".parse().unwrap(), options)
        .await
        .expect("bind");
    let addr = origin.local_addr();
    let start = origin.start_time();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(origin.serve(async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        start,
        stop: Some(stop),
        task,
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length").map(|v| v.parse().unwrap())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// Splits raw bytes into a response head and everything after it.
pub fn parse_head(raw: &[u8]) -> Option<(Reply, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(raw).ok()? {
        httparse::Status::Complete(n) => Some((
            Reply {
                status: resp.code?,
                headers: resp
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect(),
                body: Vec::new(),
            },
            n,
        )),
        httparse::Status::Partial => None,
    }
}

/// Sends `raw` and reads until the server closes (or 30 s pass).
pub async fn exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    read_to_close(&mut stream).await
}

/// Reads until EOF or a reset, for at most 30 s.
pub async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let read = async {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("server closed the connection in time");
    out
}

/// `method target` with `Connection: close`; the whole response.
pub async fn request(addr: SocketAddr, method: &str, target: &str) -> Reply {
    let raw = format!("{method} {target} HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n");
    let bytes = exchange(addr, raw.as_bytes()).await;
    let (mut reply, n) = parse_head(&bytes).expect("a complete response head");
    reply.body = bytes[n..].to_vec();
    reply
}

pub async fn get(addr: SocketAddr, target: &str) -> Reply {
    request(addr, "GET", target).await
}

/// The stats object.
pub async fn stats(addr: SocketAddr) -> serde_json::Value {
    let reply = get(addr, "/_origin/stats").await;
    assert_eq!(reply.status, 200);
    serde_json::from_slice(&reply.body).unwrap()
}

pub async fn reset_stats(addr: SocketAddr) {
    let reply = request(addr, "POST", "/_origin/stats/reset").await;
    assert_eq!(reply.status, 200);
}
