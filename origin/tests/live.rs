//! The live stream over HTTP: playlists, MPD, segments on a continuous timeline, HTTP
//! behaviour and request counters.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant, SystemTime};

use rilla_origin::{OriginOptions, mp4};
use support::{exchange, get, parse_head, request, reset_stats, start, start_with, stats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Track timescale and segment duration of the fixtures, as the origin reads them.
const TIMESCALE: u64 = 12800;
const SEGMENT_TICKS: u64 = 25600;

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// 101 s after the start, 50 segments (0..=49) are complete, with a second of margin
/// before the next one.
const AGO: Duration = Duration::from_secs(101);

#[tokio::test]
async fn master_playlist_lists_both_renditions() {
    let origin = start(AGO).await;
    let reply = get(origin.addr, "/live/ch1/master.m3u8").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(reply.header("cache-control"), Some("max-age=1"));
    assert_eq!(reply.content_length(), Some(reply.body.len()));
    let text = reply.text();
    assert!(text.starts_with("#EXTM3U\n"));
    let l = lines(&text);
    let v180 = l.iter().position(|x| *x == "v180/index.m3u8").unwrap();
    let v360 = l.iter().position(|x| *x == "v360/index.m3u8").unwrap();
    assert!(l[v180 - 1].starts_with("#EXT-X-STREAM-INF:BANDWIDTH="));
    assert!(l[v180 - 1].contains("RESOLUTION=320x180,CODECS=\"avc1.64000c\""));
    assert!(l[v360 - 1].contains("RESOLUTION=640x360,CODECS=\"avc1.64001e\""));
}

#[tokio::test]
async fn media_playlist_is_a_sliding_window_of_complete_segments() {
    let origin = start(AGO).await;
    for rendition in ["v180", "v360"] {
        let reply = get(origin.addr, &format!("/live/ch1/{rendition}/index.m3u8")).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("cache-control"), Some("max-age=1"));
        let text = reply.text();
        let l = lines(&text);
        assert_eq!(l[0], "#EXTM3U");
        assert!(l.contains(&"#EXT-X-VERSION:7"));
        assert!(l.contains(&"#EXT-X-TARGETDURATION:2"));
        assert!(l.contains(&"#EXT-X-MEDIA-SEQUENCE:44"), "{text}");
        assert!(l.contains(&"#EXT-X-MAP:URI=\"init.mp4\""));
        assert!(!text.contains("#EXT-X-ENDLIST"));
        let segments: Vec<_> = l.iter().filter(|x| x.ends_with(".m4s")).collect();
        let expected: Vec<_> = (44..50).map(|n| format!("seg-{n}.m4s")).collect();
        assert_eq!(segments, expected.iter().collect::<Vec<_>>());
        assert_eq!(l.iter().filter(|x| **x == "#EXTINF:2.000,").count(), 6);
        let pdt = l
            .iter()
            .position(|x| x.starts_with("#EXT-X-PROGRAM-DATE-TIME:"))
            .unwrap();
        assert_eq!(l[pdt + 1], "#EXTINF:2.000,");
        assert_eq!(l[pdt + 2], "seg-44.m4s");
    }
}

#[tokio::test]
async fn media_sequence_advances_with_the_start_time() {
    for (ago, first) in [
        (1, None),
        (3, Some(0)),
        (13, Some(0)),
        (15, Some(1)),
        (1001, Some(494)),
    ] {
        let origin = start(Duration::from_millis(ago * 1000 + 500)).await;
        let text = get(origin.addr, "/live/ch1/v180/index.m3u8").await.text();
        let sequence = format!("#EXT-X-MEDIA-SEQUENCE:{}", first.unwrap_or(0));
        assert!(text.contains(&sequence), "{ago}: {text}");
        assert_eq!(text.contains("#EXTINF"), first.is_some(), "{ago}: {text}");
    }
}

#[tokio::test]
async fn segments_continue_the_timeline_across_the_loop() {
    let origin = start(AGO).await;
    for rendition in ["v180", "v360"] {
        let mut previous_end = None;
        for n in 44..50u64 {
            let reply = get(origin.addr, &format!("/live/ch1/{rendition}/seg-{n}.m4s")).await;
            assert_eq!(reply.status, 200, "seg-{n}");
            assert_eq!(reply.header("content-type"), Some("video/mp4"));
            assert_eq!(reply.header("cache-control"), Some("max-age=60"));
            assert_eq!(reply.content_length(), Some(reply.body.len()));
            let fragment = mp4::read_fragment(&reply.body).unwrap();
            assert_eq!(fragment.sequence_number, n as u32 + 1);
            let track = &fragment.tracks[0];
            let time = track.base_media_decode_time.unwrap();
            assert_eq!(time, n * SEGMENT_TICKS, "tfdt of seg-{n}");
            assert_eq!(
                fragment.earliest_presentation_time,
                Some((n * SEGMENT_TICKS, TIMESCALE as u32))
            );
            if let Some(end) = previous_end {
                assert_eq!(time, end, "gap before seg-{n}");
            }
            previous_end = Some(time + track.duration.unwrap());
        }
    }
}

#[tokio::test]
async fn init_segment_matches_the_timescale() {
    let origin = start(AGO).await;
    let reply = get(origin.addr, "/live/ch1/v360/init.mp4").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("video/mp4"));
    let init = mp4::read_init(&reply.body).unwrap();
    assert_eq!(u64::from(init.timescale), TIMESCALE);
    assert_eq!((init.width, init.height), (640, 360));
}

#[tokio::test]
async fn segments_outside_the_available_range_are_404() {
    let origin = start(Duration::from_millis(200_500)).await;
    // 100 segments complete: 0..=99; the last 60 of them (40..=99) are served.
    for (n, status) in [
        (101, 404),
        (102, 404),
        (99_999, 404),
        (99, 200),
        (40, 200),
        (39, 404),
        (0, 404),
    ] {
        let reply = get(origin.addr, &format!("/live/ch1/v180/seg-{n}.m4s")).await;
        assert_eq!(reply.status, status, "seg-{n}");
    }
    for path in [
        "/live/ch1/v180/seg-01.m4s",
        "/live/ch1/v180/seg-x.m4s",
        "/live/ch1/v999/index.m3u8",
        "/live/ch1/v180/other.mp4",
        "/live/CH1/master.m3u8",
        "/live/abcdefghijklmnopq/master.m3u8",
        "/live/ch1",
        "/nothing",
        "/",
    ] {
        assert_eq!(get(origin.addr, path).await.status, 404, "{path}");
    }
}

#[tokio::test]
async fn the_segment_in_production_is_held_until_complete() {
    // 50.75 segments elapsed: seg-50 completes in 0.5 s.
    let origin = start(Duration::from_millis(101_500)).await;
    let began = Instant::now();
    let reply = get(origin.addr, "/live/ch1/v180/seg-50.m4s").await;
    assert_eq!(reply.status, 200);
    assert!(began.elapsed() >= Duration::from_millis(400));
    let fragment = mp4::read_fragment(&reply.body).unwrap();
    assert_eq!(
        fragment.tracks[0].base_media_decode_time,
        Some(50 * SEGMENT_TICKS)
    );
    assert!(
        get(origin.addr, "/live/ch1/v180/index.m3u8")
            .await
            .text()
            .contains("seg-50.m4s")
    );
}

#[tokio::test]
async fn without_holding_the_segment_in_production_is_404() {
    let origin = start_with(OriginOptions {
        start: SystemTime::now() - AGO,
        hold_next_segment: false,
        ..OriginOptions::default()
    })
    .await;
    assert_eq!(
        get(origin.addr, "/live/ch1/v180/seg-50.m4s").await.status,
        404
    );
    assert_eq!(
        get(origin.addr, "/live/ch1/v180/seg-49.m4s").await.status,
        200
    );
}

#[tokio::test]
async fn other_stream_names_serve_the_same_stream() {
    let origin = start(AGO).await;
    for stream in ["ch2", "news24"] {
        let text = get(origin.addr, &format!("/live/{stream}/v180/index.m3u8"))
            .await
            .text();
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:44"));
        let seg = get(origin.addr, &format!("/live/{stream}/v360/seg-49.m4s")).await;
        assert_eq!(seg.status, 200);
        let fragment = mp4::read_fragment(&seg.body).unwrap();
        assert_eq!(
            fragment.tracks[0].base_media_decode_time,
            Some(49 * SEGMENT_TICKS)
        );
    }
}

#[tokio::test]
async fn mpd_is_dynamic_and_matches_the_hls_urls() {
    let origin = start(AGO).await;
    let reply = get(origin.addr, "/live/ch1/manifest.mpd").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/dash+xml"));
    assert_eq!(reply.header("cache-control"), Some("max-age=1"));
    let text = reply.text();
    for needle in [
        r#"type="dynamic""#,
        r#"profiles="urn:mpeg:dash:profile:isoff-live:2011""#,
        r#"minimumUpdatePeriod="PT2S""#,
        r#"timeShiftBufferDepth="PT12S""#,
        r#"suggestedPresentationDelay="PT6S""#,
        r#"minBufferTime="PT2S""#,
        r#"<Period id="0" start="PT0S">"#,
        r#"mimeType="video/mp4""#,
        r#"timescale="12800" duration="25600" startNumber="0""#,
        r#"initialization="$RepresentationID$/init.mp4""#,
        r#"media="$RepresentationID$/seg-$Number$.m4s""#,
        r#"<Representation id="v180""#,
        r#"<Representation id="v360""#,
        r#"<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="/time"/>"#,
    ] {
        assert!(text.contains(needle), "{needle} missing in {text}");
    }
    let ast = attribute(&text, "availabilityStartTime");
    let time = get(origin.addr, "/time").await;
    assert_eq!(time.status, 200);
    let now = time.text();
    assert_eq!(now.len(), "2026-01-01T00:00:00.000Z".len(), "{now}");
    assert!(now.ends_with('Z') && ast.ends_with('Z'));
    // The start is 101 s before now: same format, earlier instant.
    assert!(ast.as_str() < now.as_str(), "{ast} !< {now}");
    let publish = attribute(&text, "publishTime");
    assert!(ast.as_str() < publish.as_str());
}

fn attribute(xml: &str, name: &str) -> String {
    let start = xml.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let len = xml[start..].find('"').unwrap();
    xml[start..start + len].to_owned()
}

#[tokio::test]
async fn head_and_get_share_one_keep_alive_connection() {
    let origin = start(AGO).await;
    let mut stream = TcpStream::connect(origin.addr).await.unwrap();
    let path = "/live/ch1/v180/seg-47.m4s";
    let raw =
        format!("HEAD {path} HTTP/1.1\r\nHost: o\r\n\r\nGET {path} HTTP/1.1\r\nHost: o\r\n\r\n");
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let (head, n) = loop {
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "connection closed early");
        buf.extend_from_slice(&chunk[..read]);
        if let Some(parsed) = parse_head(&buf) {
            break parsed;
        }
    };
    assert_eq!(head.status, 200);
    let len = head.content_length().unwrap();
    assert!(len > 10_000);
    // The HEAD response carries no body: the next bytes are the GET response.
    buf.drain(..n);
    let (get_head, body_at) = loop {
        if let Some(parsed) = parse_head(&buf) {
            break parsed;
        }
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "connection closed early");
        buf.extend_from_slice(&chunk[..read]);
    };
    assert_eq!(get_head.status, 200);
    assert_eq!(get_head.content_length(), Some(len));
    while buf.len() < body_at + len {
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "connection closed early");
        buf.extend_from_slice(&chunk[..read]);
    }
    assert_eq!(buf.len(), body_at + len);
    let fragment = mp4::read_fragment(&buf[body_at..]).unwrap();
    assert_eq!(fragment.sequence_number, 48);
}

#[tokio::test]
async fn bad_requests_get_errors_and_the_server_keeps_serving() {
    let origin = start(AGO).await;
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: o\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (huge.into_bytes(), "HTTP/1.1 431 "),
        (b"NOT HTTP AT ALL\r\n\r\n".to_vec(), "HTTP/1.1 400 "),
        (b"\x00\x01\x02\r\n\r\n".to_vec(), "HTTP/1.1 400 "),
        (
            b"POST /live/ch1/master.m3u8 HTTP/1.1\r\nHost: o\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
                .to_vec(),
            "HTTP/1.1 405 ",
        ),
        (
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            "HTTP/1.1 501 ",
        ),
        (
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_vec(),
            "HTTP/1.1 400 ",
        ),
    ];
    for (raw, expected) in cases {
        let reply = exchange(origin.addr, &raw).await;
        let text = String::from_utf8_lossy(&reply);
        assert!(text.starts_with(expected), "{expected}: {text}");
    }
    // A client that connects and leaves, or sends half a request and leaves.
    drop(TcpStream::connect(origin.addr).await.unwrap());
    let mut half = TcpStream::connect(origin.addr).await.unwrap();
    half.write_all(b"GET /live/ch1/mas").await.unwrap();
    drop(half);
    assert_eq!(get(origin.addr, "/live/ch1/master.m3u8").await.status, 200);
}

#[tokio::test]
async fn stats_count_paths_and_remember_full_targets() {
    let origin = start(AGO).await;
    reset_stats(origin.addr).await;
    get(origin.addr, "/live/ch1/master.m3u8?rt=abc").await;
    get(origin.addr, "/live/ch1/master.m3u8?rt=def").await;
    get(origin.addr, "/live/ch1/v180/seg-45.m4s").await;
    get(origin.addr, "/live/ch1/v180/seg-4500.m4s").await;
    request(origin.addr, "HEAD", "/faults/status/503/x").await;
    let s = stats(origin.addr).await;
    assert_eq!(s["/live/ch1/master.m3u8"], 2);
    assert_eq!(s["/live/ch1/v180/seg-45.m4s"], 1);
    assert_eq!(s["/live/ch1/v180/seg-4500.m4s"], 1);
    assert_eq!(s["/faults/status/503/x"], 1);
    assert_eq!(s["total"], 5);
    assert_eq!(
        s["last_target"]["/live/ch1/master.m3u8"],
        "/live/ch1/master.m3u8?rt=def"
    );
    // Asking for the stats is not counted.
    assert_eq!(stats(origin.addr).await["total"], 5);
    reset_stats(origin.addr).await;
    let s = stats(origin.addr).await;
    assert_eq!(s["total"], 0);
    assert_eq!(s.as_object().unwrap().len(), 2, "{s}");
    assert_eq!(get(origin.addr, "/_origin/stats/reset").await.status, 405);
}

#[tokio::test]
async fn concurrent_requests_are_each_counted() {
    let origin = start(AGO).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let addr = origin.addr;
        tasks.push(tokio::spawn(async move {
            get(addr, "/live/ch2/v360/seg-48.m4s?rt=x").await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(stats(origin.addr).await["/live/ch2/v360/seg-48.m4s"], 50);
}

#[tokio::test]
async fn serve_returns_when_shutdown_resolves() {
    let origin = start(AGO).await;
    let addr = origin.addr;
    assert_eq!(get(addr, "/time").await.status, 200);
    // An idle keep-alive connection must not keep the server alive.
    let _idle = TcpStream::connect(addr).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), origin.stop())
        .await
        .expect("serve returned")
        .expect("serve succeeded");
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn default_options_start_now() {
    let before = SystemTime::now() - Duration::from_millis(1);
    let options = rilla_origin::OriginOptions::default();
    let origin = rilla_origin::Origin::bind("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap();
    assert!(origin.start_time() >= before);
    assert_eq!(origin.segment_duration(), Duration::from_secs(2));
    assert_ne!(origin.local_addr().port(), 0);
}
