//! Endpoints under `/faults/` that behave like a broken or hostile origin.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{Body, Response, response_head};
use crate::router::Action;

/// Longest delay a fault endpoint accepts.
const MAX_DELAY: Duration = Duration::from_secs(600);
/// Announced length of the slow, truncated and long-length bodies.
const ANNOUNCED_LEN: usize = 100_000;
/// Bytes the truncated fault sends before closing.
const TRUNCATED_AT: usize = 50_000;
/// Bytes the long-length fault sends before going idle.
const LONG_LENGTH_SENT: usize = 1_000;
/// Chunks of the slow-body fault.
const SLOW_CHUNKS: usize = 10;
/// Size of the slow fault's small body.
const SMALL_LEN: usize = 1_000;
/// Size of `/faults/huge.m3u8`.
const HUGE_LEN: u64 = 50 * 1024 * 1024;
/// Nesting depth of `/faults/deep.mpd`.
const DEEP: usize = 100_000;

const FILLER: &[u8] = b"rilla-origin filler\n";
const M3U8: &str = "application/vnd.apple.mpegurl";
const MPD: &str = "application/dash+xml";

/// Faults that need the raw socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Raw {
    /// Head with `Content-Length: 100000`, then ten chunks, each after the delay.
    SlowBody { delay: Duration, path: String },
    /// Head with `Content-Length: 100000`, 50000 bytes, then close.
    Truncated { path: String },
    /// Head with `Content-Length: 100000`, 1000 bytes, then silence until the peer leaves.
    LongLength { path: String },
    /// Bytes that are not HTTP, then close.
    Garbage,
    /// Close without a byte.
    Close,
}

/// Routes `rest`, the path after `/faults/`.
pub(crate) fn route(rest: &str, path: &str) -> Action {
    let (kind, tail) = rest.split_once('/').unwrap_or((rest, ""));
    match kind {
        "status" => status(tail),
        "slow" => match delay_and_rest(tail) {
            Some(delay) => Action::Delay(delay, small_body(path)),
            None => not_found(),
        },
        "slow-body" => match delay_and_rest(tail) {
            Some(delay) => Action::Raw(Raw::SlowBody {
                delay,
                path: path.to_owned(),
            }),
            None => not_found(),
        },
        "truncated" => Action::Raw(Raw::Truncated {
            path: path.to_owned(),
        }),
        "long-length" => Action::Raw(Raw::LongLength {
            path: path.to_owned(),
        }),
        "garbage" => Action::Raw(Raw::Garbage),
        "close" => Action::Raw(Raw::Close),
        "huge.m3u8" if tail.is_empty() => Action::Respond(huge_playlist()),
        "bomb.mpd" if tail.is_empty() => Action::Respond(Response::new(200, MPD, bomb())),
        "deep.mpd" if tail.is_empty() => Action::Respond(Response::new(200, MPD, deep())),
        "notamanifest.m3u8" if tail.is_empty() => Action::Respond(Response::new(
            200,
            M3U8,
            "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n\
             <body><h1>Please sign in</h1><p>This is not a playlist.</p></body></html>\n",
        )),
        _ => not_found(),
    }
}

fn not_found() -> Action {
    Action::Respond(Response::text(404, "no such fault\n"))
}

fn status(tail: &str) -> Action {
    let code = tail.split('/').next().unwrap_or("");
    let digits = code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit());
    match code.parse::<u16>() {
        Ok(code) if digits && (200..=599).contains(&code) => {
            Action::Respond(Response::text(code, format!("fault: status {code}\n")))
        }
        _ => not_found(),
    }
}

/// `<ms>/<anything>` → the delay, capped at [`MAX_DELAY`].
fn delay_and_rest(tail: &str) -> Option<Duration> {
    let ms = tail.split('/').next()?;
    if ms.is_empty() || ms.len() > 9 || !ms.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Duration::from_millis(ms.parse().ok()?).min(MAX_DELAY))
}

/// Content type and a body of exactly `len` bytes that fits the path's extension: a valid
/// playlist for `.m3u8`, a small MPD for `.mpd` (when `len` allows), filler otherwise.
fn body_for(path: &str, len: usize) -> (&'static str, Vec<u8>) {
    if path.ends_with(".m3u8") {
        (M3U8, playlist_of_len(len))
    } else if path.ends_with(".mpd") && len >= SMALL_MPD.len() {
        let mut body = SMALL_MPD.as_bytes().to_vec();
        body.resize(len, b'\n');
        (MPD, body)
    } else {
        let ct = if path.ends_with(".m4s") || path.ends_with(".mp4") {
            "video/mp4"
        } else {
            "application/octet-stream"
        };
        (ct, FILLER.iter().copied().cycle().take(len).collect())
    }
}

fn small_body(path: &str) -> Response {
    let (ct, body) = body_for(path, SMALL_LEN);
    Response::new(200, ct, body)
}

const SMALL_MPD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT4S" minBufferTime="PT2S">
  <Period id="0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
      <SegmentTemplate timescale="12800" duration="25600" startNumber="0" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg-$Number$.m4s"/>
      <Representation id="v180" bandwidth="150000" width="320" height="180" codecs="avc1.64000c"/>
    </AdaptationSet>
  </Period>
</MPD>
"#;

const PLAYLIST_HEAD: &str =
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n";

/// One fixed-width playlist entry.
fn entry(i: u64) -> String {
    format!("#EXTINF:2.000,\nseg-{:010}.m4s\n", i % 10_000_000_000)
}

const ENTRY_LEN: usize = 34;

/// A valid media playlist of exactly `len` bytes (padded with a comment line).
fn playlist_of_len(len: usize) -> Vec<u8> {
    let mut out = PLAYLIST_HEAD.as_bytes().to_vec();
    let mut i = 0;
    while out.len() + ENTRY_LEN <= len {
        out.extend_from_slice(entry(i).as_bytes());
        i += 1;
    }
    let pad = len.saturating_sub(out.len());
    if pad >= 2 {
        out.push(b'#');
        out.extend(std::iter::repeat_n(b' ', pad - 2));
        out.push(b'\n');
    } else if pad == 1 {
        out.push(b'\n');
    }
    out.truncate(len);
    out
}

/// `/faults/huge.m3u8`: the playlist head and fixed-width entries, streamed.
fn huge_playlist() -> Response {
    let head = PLAYLIST_HEAD.len() as u64;
    let entries = (HUGE_LEN - head).div_ceil(ENTRY_LEN as u64);
    let len = head + entries * ENTRY_LEN as u64;
    let mut next = 0u64;
    let mut sent_head = false;
    let chunks = std::iter::from_fn(move || {
        if !sent_head {
            sent_head = true;
            return Some(Bytes::from_static(PLAYLIST_HEAD.as_bytes()));
        }
        if next >= entries {
            return None;
        }
        let stop = (next + 2048).min(entries);
        let mut chunk = String::with_capacity((stop - next) as usize * ENTRY_LEN);
        for i in next..stop {
            chunk.push_str(&entry(i));
        }
        next = stop;
        Some(Bytes::from(chunk))
    });
    Response {
        status: 200,
        content_type: M3U8,
        cache_control: None,
        headers: Vec::new(),
        body: Body::Stream {
            len,
            chunks: Box::new(chunks),
        },
    }
}

/// `/faults/bomb.mpd`: an MPD whose DOCTYPE nests entities to 10⁹ expansions.
fn bomb() -> String {
    let mut doc = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE MPD [\n");
    doc.push_str("  <!ENTITY lol \"lol\">\n");
    for level in 1..=9 {
        let prev = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        let refs = format!("&{prev};").repeat(10);
        doc.push_str(&format!("  <!ENTITY lol{level} \"{refs}\">\n"));
    }
    doc.push_str(
        "]>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" \
         profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\" \
         mediaPresentationDuration=\"PT4S\" minBufferTime=\"PT2S\">\n  \
         <ProgramInformation><Title>&lol9;</Title></ProgramInformation>\n  \
         <Period id=\"&lol9;\" start=\"PT0S\">\n",
    );
    let rest = SMALL_MPD.split_once("<Period id=\"0\" start=\"PT0S\">\n");
    doc.push_str(rest.map_or("</Period>\n</MPD>\n", |(_, tail)| tail));
    doc
}

/// `/faults/deep.mpd`: an MPD with 100000 nested elements.
fn deep() -> Bytes {
    static DOC: OnceLock<Bytes> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" \
             type=\"static\" mediaPresentationDuration=\"PT4S\" minBufferTime=\"PT2S\">",
        );
        doc.push_str(&"<Period>".repeat(DEEP));
        doc.push_str(&"</Period>".repeat(DEEP));
        doc.push_str("</MPD>\n");
        Bytes::from(doc)
    })
    .clone()
}

/// Runs a raw fault on the connection's socket; the connection ends afterwards.
pub(crate) async fn run(raw: Raw, stream: &mut TcpStream, head_only: bool) {
    let result = match raw {
        Raw::SlowBody { delay, path } => {
            let (ct, body) = body_for(&path, ANNOUNCED_LEN);
            let head = response_head(200, ct, Some(ANNOUNCED_LEN as u64), &[]);
            async {
                stream.write_all(head.as_bytes()).await?;
                stream.flush().await?;
                if !head_only {
                    for chunk in body.chunks(ANNOUNCED_LEN / SLOW_CHUNKS) {
                        tokio::time::sleep(delay).await;
                        stream.write_all(chunk).await?;
                        stream.flush().await?;
                    }
                }
                stream.shutdown().await
            }
            .await
        }
        Raw::Truncated { path } => partial(stream, &path, TRUNCATED_AT, head_only, false).await,
        Raw::LongLength { path } => partial(stream, &path, LONG_LENGTH_SENT, head_only, true).await,
        Raw::Garbage => {
            let mut junk = b"\x00\x01\x02\xffRILLA\x7fNOT-HTTP\r\n\r\n".to_vec();
            junk.extend((0..240u32).map(|i| (i.wrapping_mul(151) % 251) as u8));
            async {
                stream.write_all(&junk).await?;
                stream.shutdown().await
            }
            .await
        }
        Raw::Close => Ok(()),
    };
    if let Err(err) = result {
        tracing::debug!(%err, "fault connection ended early");
    }
}

/// Announces [`ANNOUNCED_LEN`] bytes, sends `sent` of them, then either closes or waits
/// (up to [`MAX_DELAY`]) for the peer to give up.
async fn partial(
    stream: &mut TcpStream,
    path: &str,
    sent: usize,
    head_only: bool,
    linger: bool,
) -> std::io::Result<()> {
    let (ct, body) = body_for(path, ANNOUNCED_LEN);
    let head = response_head(200, ct, Some(ANNOUNCED_LEN as u64), &[]);
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(&body[..sent]).await?;
    }
    stream.flush().await?;
    if linger {
        let mut sink = [0u8; 4096];
        let wait = async {
            while let Ok(n) = stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(MAX_DELAY, wait).await;
        return Ok(());
    }
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_playlists_have_the_exact_length_and_parse_as_playlists() {
        for len in [100, 1000, 1001, 1002, 100_000] {
            let p = playlist_of_len(len);
            assert_eq!(p.len(), len);
            assert!(p.starts_with(b"#EXTM3U\n"));
            assert!(p.ends_with(b"\n"));
        }
        assert_eq!(entry(7).len(), ENTRY_LEN);
    }

    #[test]
    fn the_huge_playlist_streams_its_announced_length() {
        let Body::Stream { len, chunks } = huge_playlist().body else {
            panic!("huge playlist is streamed");
        };
        assert!(len >= HUGE_LEN);
        assert_eq!(chunks.map(|c| c.len() as u64).sum::<u64>(), len);
    }

    #[test]
    fn the_bomb_nests_nine_levels_of_ten() {
        let doc = bomb();
        assert!(doc.contains("<!ENTITY lol9 \"&lol8;&lol8;"));
        assert!(doc.contains("<Title>&lol9;</Title>"));
        assert!(doc.trim_end().ends_with("</MPD>"));
    }

    #[test]
    fn the_deep_mpd_nests_100000_elements() {
        let doc = deep();
        let text = std::str::from_utf8(&doc).unwrap();
        assert_eq!(text.matches("<Period>").count(), DEEP);
    }

    #[test]
    fn status_codes_are_checked() {
        assert!(matches!(status("503/x"), Action::Respond(r) if r.status == 503));
        assert!(matches!(status("200"), Action::Respond(r) if r.status == 200));
        for bad in ["99/x", "600/x", "0503/x", "+503/x", "abc", ""] {
            assert!(
                matches!(status(bad), Action::Respond(r) if r.status == 404),
                "{bad}"
            );
        }
    }
}
