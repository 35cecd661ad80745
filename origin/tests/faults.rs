//! The fault endpoints misbehave exactly as documented, are counted, and never stop the
//! server.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::{exchange, get, parse_head, read_to_close, request, start, stats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NOW: Duration = Duration::from_secs(30);

async fn send(addr: std::net::SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let raw = format!("GET {path} HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n");
    stream.write_all(raw.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn status_fault_answers_with_the_code() {
    let origin = start(NOW).await;
    for code in [200u16, 403, 404, 500, 502, 503, 504] {
        let reply = get(
            origin.addr,
            &format!("/faults/status/{code}/live/seg-1.m4s"),
        )
        .await;
        assert_eq!(reply.status, code);
        assert_eq!(reply.text(), format!("fault: status {code}\n"));
    }
    let no_content = get(origin.addr, "/faults/status/204/x").await;
    assert_eq!(no_content.status, 204);
    assert!(no_content.body.is_empty());
    assert_eq!(get(origin.addr, "/faults/status/999/x").await.status, 404);
    assert_eq!(get(origin.addr, "/faults/nonsense/x").await.status, 404);
}

#[tokio::test]
async fn slow_fault_waits_before_the_head_then_serves_a_valid_body() {
    let origin = start(NOW).await;
    let began = Instant::now();
    let reply = get(origin.addr, "/faults/slow/300/live/ch1/v180/index.m3u8").await;
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    let text = reply.text();
    assert!(text.starts_with("#EXTM3U\n"));
    assert!(text.contains("#EXTINF:2.000,\nseg-0000000000.m4s\n"));
    let reply = get(origin.addr, "/faults/slow/10/seg-3.m4s").await;
    assert_eq!(reply.body.len(), 1000);
    assert_eq!(reply.content_length(), Some(1000));
}

#[tokio::test]
async fn slow_body_fault_sends_the_head_then_trickles() {
    let origin = start(NOW).await;
    let mut stream = send(origin.addr, "/faults/slow-body/50/seg-1.m4s").await;
    let began = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let (head, body_at) = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(parsed) = parse_head(&buf) {
            break parsed;
        }
    };
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(100_000));
    buf.extend(read_to_close(&mut stream).await);
    assert_eq!(buf.len() - body_at, 100_000);
    // Ten chunks, each after a 50 ms stall.
    assert!(began.elapsed() >= Duration::from_millis(450));
}

#[tokio::test]
async fn truncated_fault_closes_after_half_the_body() {
    let origin = start(NOW).await;
    let mut stream = send(origin.addr, "/faults/truncated/live/ch1/v180/seg-3.m4s").await;
    let raw = read_to_close(&mut stream).await;
    let (head, body_at) = parse_head(&raw).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(100_000));
    assert_eq!(raw.len() - body_at, 50_000);
}

#[tokio::test]
async fn long_length_fault_stays_open_and_silent() {
    let origin = start(NOW).await;
    let mut stream = send(origin.addr, "/faults/long-length/a.m3u8").await;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let (head, body_at) = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(parsed) = parse_head(&buf) {
            break parsed;
        }
    };
    assert_eq!(head.content_length(), Some(100_000));
    while buf.len() < body_at + 1000 {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed after {} body bytes", buf.len() - body_at);
        buf.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(buf.len() - body_at, 1000);
    let more = tokio::time::timeout(Duration::from_millis(700), stream.read(&mut chunk)).await;
    assert!(more.is_err(), "expected silence, got {more:?}");
}

#[tokio::test]
async fn garbage_fault_writes_non_http_and_closes() {
    let origin = start(NOW).await;
    let raw = exchange(
        origin.addr,
        b"GET /faults/garbage/seg-1.m4s HTTP/1.1\r\nHost: o\r\n\r\n",
    )
    .await;
    assert!(!raw.is_empty());
    assert!(!raw.starts_with(b"HTTP/"));
    assert!(parse_head(&raw).is_none());
}

#[tokio::test]
async fn close_fault_closes_without_a_byte() {
    let origin = start(NOW).await;
    let raw = exchange(
        origin.addr,
        b"GET /faults/close/seg-1.m4s HTTP/1.1\r\nHost: o\r\n\r\n",
    )
    .await;
    assert!(raw.is_empty());
}

#[tokio::test]
async fn huge_playlist_streams_fifty_megabytes_with_a_true_length() {
    let origin = start(NOW).await;
    let head = request(origin.addr, "HEAD", "/faults/huge.m3u8").await;
    let len = head.content_length().unwrap();
    assert!(head.body.is_empty());
    assert!(len >= 50 * 1024 * 1024);
    let reply = get(origin.addr, "/faults/huge.m3u8").await;
    assert_eq!(reply.body.len(), len);
    assert!(reply.body.starts_with(b"#EXTM3U\n"));
    assert!(reply.body.ends_with(b".m4s\n"));
}

#[tokio::test]
async fn xml_attacks_are_served_as_mpds() {
    let origin = start(NOW).await;
    let bomb = get(origin.addr, "/faults/bomb.mpd").await;
    assert_eq!(bomb.header("content-type"), Some("application/dash+xml"));
    let text = bomb.text();
    assert!(text.contains("<!DOCTYPE MPD ["));
    assert!(text.contains("<!ENTITY lol9 "));
    assert!(text.contains("&lol9;"));
    let deep = get(origin.addr, "/faults/deep.mpd").await;
    let text = deep.text();
    assert!(text.contains("<MPD "));
    assert_eq!(text.matches("<Period>").count(), 100_000);
    assert_eq!(text.matches("</Period>").count(), 100_000);
}

#[tokio::test]
async fn not_a_manifest_is_html_with_200() {
    let origin = start(NOW).await;
    let reply = get(origin.addr, "/faults/notamanifest.m3u8").await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().starts_with("<!DOCTYPE html>"));
}

#[tokio::test]
async fn faults_are_counted_and_the_server_survives_them() {
    let origin = start(NOW).await;
    let paths = [
        "/faults/garbage/a",
        "/faults/close/a",
        "/faults/truncated/a",
        "/faults/status/500/a",
        "/faults/bomb.mpd",
    ];
    for path in paths {
        let mut stream = send(origin.addr, path).await;
        read_to_close(&mut stream).await;
    }
    let mut lingering = send(origin.addr, "/faults/long-length/a").await;
    let mut first = [0u8; 1];
    lingering.read_exact(&mut first).await.unwrap();
    let s = stats(origin.addr).await;
    for path in paths {
        assert_eq!(s[path], 1, "{path}");
    }
    assert_eq!(s["/faults/long-length/a"], 1);
    assert_eq!(s["total"], 6);
    assert_eq!(get(origin.addr, "/live/ch1/master.m3u8").await.status, 200);
}
