//! The embedded fixtures and what the origin derives from them at start-up.

use bytes::Bytes;
use thiserror::Error;

use crate::mp4::{self, Mp4Error};

/// Number of media segments in each fixture rendition (the length of the loop).
const LOOP_LEN: usize = 5;

type Fixture = (&'static str, &'static [u8], [&'static [u8]; LOOP_LEN]);

const FIXTURES: [Fixture; 2] = [
    (
        "v180",
        include_bytes!("../fixtures/v180/init.mp4"),
        [
            include_bytes!("../fixtures/v180/seg-0.m4s"),
            include_bytes!("../fixtures/v180/seg-1.m4s"),
            include_bytes!("../fixtures/v180/seg-2.m4s"),
            include_bytes!("../fixtures/v180/seg-3.m4s"),
            include_bytes!("../fixtures/v180/seg-4.m4s"),
        ],
    ),
    (
        "v360",
        include_bytes!("../fixtures/v360/init.mp4"),
        [
            include_bytes!("../fixtures/v360/seg-0.m4s"),
            include_bytes!("../fixtures/v360/seg-1.m4s"),
            include_bytes!("../fixtures/v360/seg-2.m4s"),
            include_bytes!("../fixtures/v360/seg-3.m4s"),
            include_bytes!("../fixtures/v360/seg-4.m4s"),
        ],
    ),
];

/// Why the fixtures cannot be served, or a segment cannot be made.
#[derive(Debug, Error)]
pub(crate) enum MediaError {
    /// A fixture file does not parse.
    #[error("fixture {rendition}/{file}: {source}")]
    Fixture {
        rendition: &'static str,
        file: String,
        source: Mp4Error,
    },
    /// The fixtures parse but cannot be looped as one live stream.
    #[error("fixtures cannot be looped: {0}")]
    Inconsistent(String),
    /// Retiming a segment failed.
    #[error("segment {number} of {rendition}: {source}")]
    Retime {
        rendition: &'static str,
        number: u64,
        source: Mp4Error,
    },
}

/// One rendition: its bytes and what the playlists advertise about it.
#[derive(Debug)]
pub(crate) struct Rendition {
    /// Path component and DASH Representation id, e.g. `v180`.
    pub(crate) id: &'static str,
    /// The initialization segment, served unchanged.
    pub(crate) init: Bytes,
    segments: Vec<Bytes>,
    /// RFC 6381 codec string.
    pub(crate) codec: String,
    /// Picture width in pixels.
    pub(crate) width: u16,
    /// Picture height in pixels.
    pub(crate) height: u16,
    /// Frames per segment.
    pub(crate) frames_per_segment: u64,
    /// Bits per second of the largest segment.
    pub(crate) peak_bandwidth: u64,
    /// Bits per second over the whole loop.
    pub(crate) average_bandwidth: u64,
}

/// All renditions, sharing one timescale and segment duration.
#[derive(Debug)]
pub(crate) struct Media {
    /// Track timescale in ticks per second, from `mdhd`.
    pub(crate) timescale: u32,
    /// Duration of every segment in `timescale` ticks.
    pub(crate) segment_ticks: u64,
    /// The renditions, lowest first.
    pub(crate) renditions: Vec<Rendition>,
}

impl Media {
    /// Parses and checks the embedded fixtures.
    pub(crate) fn load() -> Result<Media, MediaError> {
        let mut renditions = Vec::new();
        let mut shared: Option<(u32, u64)> = None;
        for (id, init, segments) in FIXTURES {
            let fixture_err = |file: String| {
                move |source| MediaError::Fixture {
                    rendition: id,
                    file,
                    source,
                }
            };
            let info = mp4::read_init(init).map_err(fixture_err("init.mp4".into()))?;
            let mut first_time = None;
            let mut segment_ticks = None;
            let mut frames = 0;
            for (i, seg) in segments.iter().enumerate() {
                let name = format!("seg-{i}.m4s");
                let fragment = mp4::read_fragment(seg).map_err(fixture_err(name.clone()))?;
                let track = fragment
                    .tracks
                    .first()
                    .ok_or_else(|| MediaError::Inconsistent(format!("{id}/{name} has no traf")))?;
                let duration = track
                    .duration
                    .unwrap_or(track.sample_count * u64::from(info.default_sample_duration));
                let time = track
                    .base_media_decode_time
                    .ok_or_else(|| MediaError::Inconsistent(format!("{id}/{name} has no tfdt")))?;
                let first = *first_time.get_or_insert(time);
                let ticks = *segment_ticks.get_or_insert(duration);
                frames = track.sample_count;
                if duration != ticks || duration == 0 || time != first + i as u64 * ticks {
                    return Err(MediaError::Inconsistent(format!(
                        "{id}/{name}: decode time {time} and duration {duration} break the \
                         timeline starting at {first} with segments of {ticks}"
                    )));
                }
                let mut copy = seg.to_vec();
                mp4::retime_fragment(&mut copy, 1, ticks, info.timescale)
                    .map_err(fixture_err(name))?;
            }
            let segment_ticks = segment_ticks.unwrap_or(0);
            match shared {
                None => shared = Some((info.timescale, segment_ticks)),
                Some(s) if s == (info.timescale, segment_ticks) => {}
                Some((ts, ticks)) => {
                    return Err(MediaError::Inconsistent(format!(
                        "{id} has timescale {} and segments of {segment_ticks} ticks, \
                         others {ts} and {ticks}",
                        info.timescale
                    )));
                }
            }
            let bits_per_second = |bytes: u64, segs: u64| {
                bytes * 8 * u64::from(info.timescale) / (segs * segment_ticks).max(1)
            };
            let largest = segments.iter().map(|s| s.len()).max().unwrap_or(0) as u64;
            let total = segments.iter().map(|s| s.len() as u64).sum();
            renditions.push(Rendition {
                id,
                init: Bytes::from_static(init),
                segments: segments.iter().map(|s| Bytes::from_static(s)).collect(),
                codec: info.codec,
                width: info.width,
                height: info.height,
                frames_per_segment: frames,
                peak_bandwidth: bits_per_second(largest, 1),
                average_bandwidth: bits_per_second(total, LOOP_LEN as u64),
            });
        }
        let (timescale, segment_ticks) =
            shared.ok_or_else(|| MediaError::Inconsistent("no renditions".into()))?;
        Ok(Media {
            timescale,
            segment_ticks,
            renditions,
        })
    }

    /// The rendition with this id.
    pub(crate) fn rendition(&self, id: &str) -> Option<&Rendition> {
        self.renditions.iter().find(|r| r.id == id)
    }

    /// Live segment `number` of `rendition`: fixture `number mod 5`, moved on the timeline
    /// to `number × segment duration` with `mfhd` sequence number `number + 1` (modulo 2³²).
    pub(crate) fn segment(&self, rendition: &Rendition, number: u64) -> Result<Bytes, MediaError> {
        let index = (number % LOOP_LEN as u64) as usize;
        let retime_err = |source| MediaError::Retime {
            rendition: rendition.id,
            number,
            source,
        };
        let shift = (number - index as u64)
            .checked_mul(self.segment_ticks)
            .ok_or(retime_err(Mp4Error::Overflow {
                kind: "tfdt",
                value: u64::MAX,
            }))?;
        let mut bytes = rendition.segments[index].to_vec();
        let sequence = number.wrapping_add(1) as u32;
        mp4::retime_fragment(&mut bytes, sequence, shift, self.timescale).map_err(retime_err)?;
        Ok(Bytes::from(bytes))
    }

    /// Frame rate as frames per segment over segment duration, e.g. `(50, 2.0)` → 25.
    pub(crate) fn frame_rate(&self, rendition: &Rendition) -> f64 {
        let seconds = self.segment_ticks as f64 / f64::from(self.timescale.max(1));
        rendition.frames_per_segment as f64 / seconds.max(f64::MIN_POSITIVE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_load_with_values_read_from_the_files() {
        let media = Media::load().unwrap();
        assert_eq!(media.timescale, 12800);
        assert_eq!(media.segment_ticks, 25600);
        let ids: Vec<_> = media.renditions.iter().map(|r| r.id).collect();
        assert_eq!(ids, ["v180", "v360"]);
        let low = media.rendition("v180").unwrap();
        assert_eq!(low.codec, "avc1.64000c");
        assert_eq!(media.frame_rate(low), 25.0);
        assert!(low.peak_bandwidth >= low.average_bandwidth);
        assert!((100_000..250_000).contains(&low.average_bandwidth));
    }

    #[test]
    fn live_segments_continue_the_timeline_across_loops() {
        let media = Media::load().unwrap();
        let high = media.rendition("v360").unwrap();
        for n in [0, 4, 5, 9, 10, 1234] {
            let seg = media.segment(high, n).unwrap();
            let f = mp4::read_fragment(&seg).unwrap();
            assert_eq!(f.sequence_number, n as u32 + 1);
            assert_eq!(f.tracks[0].base_media_decode_time, Some(n * 25600));
            assert_eq!(seg.len(), high.segments[(n % 5) as usize].len());
        }
    }

    #[test]
    fn absurd_segment_numbers_are_errors() {
        let media = Media::load().unwrap();
        let low = media.rendition("v180").unwrap();
        assert!(media.segment(low, u64::MAX).is_err());
    }
}
