//! The live HLS playlists and DASH MPD, rendered from the media and the clock.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::clock::{self, Timeline};
use crate::media::Media;

/// What the manifests need besides the media: the clock and the window sizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Live {
    /// Segment timeline.
    pub(crate) timeline: Timeline,
    /// Segments listed in a media playlist (and the DASH time-shift buffer).
    pub(crate) window: u64,
}

impl Live {
    fn segment(&self) -> Duration {
        self.timeline.segment
    }

    fn target_duration(&self) -> u64 {
        let d = self.segment();
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

/// The multivariant playlist: one `EXT-X-STREAM-INF` per rendition.
pub(crate) fn master_playlist(media: &Media) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for r in &media.renditions {
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},\
             CODECS=\"{}\",FRAME-RATE={:.3}\n{}/index.m3u8\n",
            r.peak_bandwidth,
            r.average_bandwidth,
            r.width,
            r.height,
            r.codec,
            media.frame_rate(r),
            r.id
        );
    }
    out
}

/// The live media playlist of one rendition at `now`: the last `window` available segments.
pub(crate) fn media_playlist(live: &Live, now: SystemTime) -> String {
    let completed = live.timeline.completed(now);
    let first = completed.saturating_sub(live.window);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{first}\n\
         #EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n",
        live.target_duration()
    );
    let extinf = clock::seconds_3(live.segment());
    for n in first..completed {
        if n == first
            && let Some(t) = live.timeline.segment_start(n)
        {
            let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{}", clock::iso8601(t));
        }
        let _ = write!(out, "#EXTINF:{extinf},\nseg-{n}.m4s\n");
    }
    out
}

/// The dynamic MPD at `now`.
pub(crate) fn mpd(media: &Media, live: &Live, now: SystemTime) -> String {
    let seg = live.segment();
    let window = seg.saturating_mul(u32::try_from(live.window).unwrap_or(u32::MAX));
    let max_width = media.renditions.iter().map(|r| r.width).max().unwrap_or(0);
    let max_height = media.renditions.iter().map(|r| r.height).max().unwrap_or(0);
    let frame_rate = media
        .renditions
        .first()
        .map(|r| frame_rate_attr(r.frames_per_segment, media))
        .unwrap_or_default();
    let mut out = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic" availabilityStartTime="{ast}" publishTime="{publish}" minimumUpdatePeriod="{seg}" timeShiftBufferDepth="{window}" suggestedPresentationDelay="{delay}" maxSegmentDuration="{seg}" minBufferTime="{seg}">
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1" maxWidth="{max_width}" maxHeight="{max_height}" frameRate="{frame_rate}">
      <SegmentTemplate timescale="{timescale}" duration="{ticks}" startNumber="0" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg-$Number$.m4s"/>
"#,
        ast = clock::iso8601(live.timeline.start),
        publish = clock::iso8601(now),
        seg = clock::xs_duration(seg),
        window = clock::xs_duration(window),
        delay = clock::xs_duration(seg.saturating_mul(3)),
        timescale = media.timescale,
        ticks = media.segment_ticks,
    );
    for r in &media.renditions {
        let _ = writeln!(
            out,
            r#"      <Representation id="{}" bandwidth="{}" width="{}" height="{}" codecs="{}" sar="1:1"/>"#,
            r.id, r.peak_bandwidth, r.width, r.height, r.codec
        );
    }
    out.push_str(
        "    </AdaptationSet>\n  </Period>\n  \
         <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"/time\"/>\n</MPD>\n",
    );
    out
}

/// `frames / segment duration` as a DASH FrameRateType: `25` or `30000/1001`.
fn frame_rate_attr(frames: u64, media: &Media) -> String {
    let num = frames * u64::from(media.timescale);
    let den = media.segment_ticks.max(1);
    // den > 0, so the divisor is at least 1.
    let g = gcd(num, den).max(1);
    let (num, den) = (num / g, den / g);
    if den == 1 {
        num.to_string()
    } else {
        format!("{num}/{den}")
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn live() -> Live {
        Live {
            timeline: Timeline {
                start: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                segment: Duration::from_secs(2),
            },
            window: 6,
        }
    }

    #[test]
    fn media_playlist_lists_the_last_six_complete_segments() {
        let live = live();
        let now = live.timeline.start + Duration::from_millis(101_500);
        let text = media_playlist(&live, now);
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:44\n"), "{text}");
        assert!(text.contains("#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:14:48.000Z\n"));
        assert!(text.contains("seg-44.m4s\n") && text.contains("seg-49.m4s\n"));
        assert!(!text.contains("seg-50.m4s") && !text.contains("seg-43.m4s"));
        assert_eq!(text.matches("#EXTINF:2.000,\n").count(), 6);
        assert!(!text.contains("ENDLIST"));
    }

    #[test]
    fn media_playlist_before_the_first_segment_is_empty() {
        let live = live();
        let text = media_playlist(&live, live.timeline.start + Duration::from_secs(1));
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
        assert!(!text.contains("#EXTINF"));
    }

    #[test]
    fn mpd_describes_the_template_from_the_media() {
        let media = Media::load().unwrap();
        let live = live();
        let text = mpd(&media, &live, live.timeline.start + Duration::from_secs(30));
        for needle in [
            r#"availabilityStartTime="2023-11-14T22:13:20.000Z""#,
            r#"publishTime="2023-11-14T22:13:50.000Z""#,
            r#"timeShiftBufferDepth="PT12S""#,
            r#"suggestedPresentationDelay="PT6S""#,
            r#"timescale="12800" duration="25600" startNumber="0""#,
            r#"<Representation id="v180""#,
            r#"codecs="avc1.64001e""#,
            r#"frameRate="25""#,
            r#"value="/time""#,
        ] {
            assert!(text.contains(needle), "{needle} missing in {text}");
        }
    }

    #[test]
    fn master_playlist_names_both_renditions() {
        let media = Media::load().unwrap();
        let text = master_playlist(&media);
        assert!(text.contains(
            "RESOLUTION=320x180,CODECS=\"avc1.64000c\",FRAME-RATE=25.000\nv180/index.m3u8\n"
        ));
        assert!(text.contains("v360/index.m3u8\n"));
    }
}
