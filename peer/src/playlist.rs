//! What a peer reads from the edge's playlists: renditions, segments, the session tag and
//! the hints.

use std::collections::HashMap;

use url::Url;

/// A rendition listed in a multivariant playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// `BANDWIDTH`, bit/s.
    pub bandwidth: u64,
    /// The media playlist, resolved (with its token).
    pub url: Url,
}

/// The `#EXT-X-RILLA-SESSION` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// This viewer's id.
    pub viewer: String,
    /// The swarm (rendition) id.
    pub swarm: String,
    /// Where to announce, relative to the playlist.
    pub announce: String,
    /// Seconds between announces.
    pub interval: u64,
}

/// An `#EXT-X-RILLA-HINT` for one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaylistHint {
    /// `SEED`, `PEERS` or `CDN`.
    pub action: String,
    /// Peer viewer ids.
    pub peers: Vec<String>,
    /// SHA-256 of the segment, when the edge knows it.
    pub sha256: Option<[u8; 32]>,
}

/// One segment of a media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Media sequence number.
    pub number: u64,
    /// Duration, seconds.
    pub duration: f64,
    /// Its URL, resolved, with its token.
    pub url: Url,
}

/// A media playlist as the peer uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylist {
    /// The session tag, when the edge added one.
    pub session: Option<Session>,
    /// Segments, oldest first.
    pub segments: Vec<Segment>,
    /// `EXT-X-TARGETDURATION`, seconds.
    pub target_duration: f64,
    /// Whether the playlist is complete (`EXT-X-ENDLIST`: on demand).
    pub ended: bool,
    /// Hints by segment number.
    pub hints: HashMap<u64, PlaylistHint>,
    /// The initialization segment (`EXT-X-MAP`), resolved.
    pub init: Option<Url>,
    /// The viewer token carried by the segment URIs.
    pub token: Option<String>,
}

/// Why a playlist could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PlaylistError {
    /// Not an HLS playlist.
    #[error("not an HLS playlist: {0}")]
    Invalid(String),
    /// No segment and no variant.
    #[error("the playlist lists no segments and no renditions")]
    Empty,
}

/// Splits an attribute list (`A=1,B="x,y"`) into pairs, quotes removed.
pub fn attributes(list: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else {
            break;
        };
        let name = rest[..eq].trim();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.push((name, value));
        rest = next.trim_start_matches(',');
    }
    out
}

fn get<'a>(attrs: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The renditions of a multivariant playlist, lowest bandwidth first; empty for a media
/// playlist.
pub fn variants(text: &str, base: &Url) -> Vec<Variant> {
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(list) = line.strip_prefix("#EXT-X-STREAM-INF:") else {
            continue;
        };
        let bandwidth = get(&attributes(list), "BANDWIDTH")
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        if let Some(uri) = lines.find(|l| !l.is_empty() && !l.starts_with('#'))
            && let Ok(url) = base.join(uri)
        {
            out.push(Variant { bandwidth, url });
        }
    }
    out.sort_by_key(|v| v.bandwidth);
    out
}

fn token_of(url: &Url, param: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == param)
        .map(|(_, v)| v.into_owned())
}

/// Parses a media playlist fetched from `base`; `param` names the token parameter.
pub fn media(text: &str, base: &Url, param: &str) -> Result<MediaPlaylist, PlaylistError> {
    if !text.trim_start().starts_with("#EXTM3U") {
        return Err(PlaylistError::Invalid("no #EXTM3U header".into()));
    }
    let infos = rilla_manifest_rewriter::hls::segments(text.as_bytes())
        .map_err(|e| PlaylistError::Invalid(e.to_string()))?;
    let mut playlist = MediaPlaylist {
        session: None,
        segments: Vec::new(),
        target_duration: 2.0,
        ended: false,
        hints: HashMap::new(),
        init: None,
        token: None,
    };
    for line in text.lines().map(str::trim) {
        if let Some(list) = line.strip_prefix("#EXT-X-RILLA-SESSION:") {
            let a = attributes(list);
            if let (Some(viewer), Some(swarm), Some(announce)) =
                (get(&a, "VIEWER"), get(&a, "SWARM"), get(&a, "ANNOUNCE"))
            {
                playlist.session = Some(Session {
                    viewer: viewer.to_owned(),
                    swarm: swarm.to_owned(),
                    announce: announce.to_owned(),
                    interval: get(&a, "INTERVAL")
                        .and_then(|i| i.parse().ok())
                        .unwrap_or(5),
                });
            }
        } else if let Some(list) = line.strip_prefix("#EXT-X-RILLA-HINT:") {
            let a = attributes(list);
            if get(&a, "PART").is_some() {
                continue;
            }
            if let Some(msn) = get(&a, "MSN").and_then(|m| m.parse().ok()) {
                playlist.hints.insert(
                    msn,
                    PlaylistHint {
                        action: get(&a, "ACTION").unwrap_or("CDN").to_owned(),
                        peers: get(&a, "PEERS")
                            .map(|p| p.split(',').map(str::to_owned).collect())
                            .unwrap_or_default(),
                        sha256: get(&a, "SHA256").and_then(|h| {
                            let mut d = [0u8; 32];
                            hex::decode_to_slice(h, &mut d).ok().map(|()| d)
                        }),
                    },
                );
            }
        } else if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            playlist.target_duration = v.trim().parse().unwrap_or(2.0);
        } else if line.starts_with("#EXT-X-ENDLIST") {
            playlist.ended = true;
        } else if let Some(list) = line.strip_prefix("#EXT-X-MAP:") {
            playlist.init = get(&attributes(list), "URI").and_then(|u| base.join(u).ok());
        }
    }
    for info in infos.iter().filter(|s| s.part.is_none()) {
        let Ok(url) = base.join(&info.uri) else {
            continue;
        };
        let duration = info
            .duration
            .as_deref()
            .and_then(|d| d.split(',').next()?.trim().parse().ok())
            .unwrap_or(playlist.target_duration);
        playlist.segments.push(Segment {
            number: info.msn,
            duration,
            url,
        });
    }
    if playlist.segments.is_empty() {
        return Err(PlaylistError::Empty);
    }
    playlist.token = playlist
        .segments
        .last()
        .and_then(|s| token_of(&s.url, param));
    Ok(playlist)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEDIA: &str = "#EXTM3U\n\
#EXT-X-RILLA-SESSION:VIEWER=\"v1\",SWARM=\"abc\",ANNOUNCE=\"/p2p/v1/announce\",INTERVAL=2\n\
#EXT-X-TARGETDURATION:2\n\
#EXT-X-MEDIA-SEQUENCE:40\n\
#EXT-X-MAP:URI=\"init.mp4?rt=T\"\n\
#EXTINF:2.000,\n\
seg-40.m4s?rt=T\n\
#EXT-X-RILLA-HINT:MSN=41,ACTION=PEERS,PEERS=\"a,b\",SHA256=00ff10a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c\n\
#EXTINF:1.5,\n\
seg-41.m4s?rt=T\n";

    #[test]
    fn reads_session_segments_and_hints() {
        let base = Url::parse("http://edge/live/ch1/v180/index.m3u8?rt=T").unwrap();
        let p = media(MEDIA, &base, "rt").unwrap();
        let s = p.session.as_ref().unwrap();
        assert_eq!(
            (s.viewer.as_str(), s.swarm.as_str(), s.interval),
            ("v1", "abc", 2)
        );
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[1].number, 41);
        assert_eq!(p.segments[1].duration, 1.5);
        assert_eq!(
            p.segments[0].url.as_str(),
            "http://edge/live/ch1/v180/seg-40.m4s?rt=T"
        );
        let h = &p.hints[&41];
        assert_eq!(h.action, "PEERS");
        assert_eq!(h.peers, ["a", "b"]);
        assert_eq!(h.sha256.unwrap()[1], 0xff);
        assert_eq!(p.token.as_deref(), Some("T"));
        assert!(p.init.is_some() && !p.ended);
    }

    #[test]
    fn lists_variants_lowest_first() {
        let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS=\"avc1.4d401f,mp4a.40.2\"\nv360/index.m3u8?rt=X\n#EXT-X-STREAM-INF:BANDWIDTH=300000\nv180/index.m3u8?rt=X\n";
        let base = Url::parse("http://edge/live/ch1/master.m3u8").unwrap();
        let v = variants(text, &base);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].bandwidth, 300_000);
        assert!(
            v[1].url
                .as_str()
                .ends_with("/live/ch1/v360/index.m3u8?rt=X")
        );
    }

    #[test]
    fn refuses_what_is_not_a_playlist() {
        let base = Url::parse("http://edge/x.m3u8").unwrap();
        assert!(media("<html>", &base, "rt").is_err());
        assert!(media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n", &base, "rt").is_err());
        assert_eq!(attributes(r#"A=1,B="x,y",C"#), [("A", "1"), ("B", "x,y")]);
    }
}
