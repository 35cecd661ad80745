//! Just enough ISO BMFF (MP4) to loop fragmented segments as a live stream.
//!
//! [`read_init`] takes what the origin advertises (timescale, codec string, picture size)
//! from an initialization segment; [`read_fragment`] reads the timing of a media segment;
//! [`retime_fragment`] rewrites a media segment in place (`mfhd` sequence numbers, `tfdt`
//! base media decode times, `sidx` earliest presentation times) without changing the size
//! of any box, so `trun` data offsets stay valid. Every read is bounds-checked: malformed
//! input yields an [`Mp4Error`], never a panic.

use thiserror::Error;

/// What is wrong with an MP4 buffer, or why a rewrite is impossible.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Mp4Error {
    /// A box or field runs past the end of its buffer or parent box.
    #[error(
        "box or field at offset {offset} is truncated: needs {needed} bytes, {available} available"
    )]
    Truncated {
        /// Byte offset of the box or field.
        offset: usize,
        /// Bytes it needs.
        needed: u64,
        /// Bytes that remain.
        available: usize,
    },
    /// A box declares a size smaller than its own header.
    #[error("box at offset {offset} declares size {size}, smaller than its header")]
    BadSize {
        /// Byte offset of the box.
        offset: usize,
        /// The declared size.
        size: u64,
    },
    /// A box the operation needs is absent.
    #[error("missing `{0}` box")]
    Missing(&'static str),
    /// A full box has a version this module does not know.
    #[error("`{kind}` box has unsupported version {version}")]
    UnsupportedVersion {
        /// The box type.
        kind: &'static str,
        /// The version found.
        version: u8,
    },
    /// A new time does not fit the field (a version 0 box holds 32 bits).
    #[error("`{kind}` time {value} does not fit its field")]
    Overflow {
        /// The box type.
        kind: &'static str,
        /// The value that did not fit (saturated at `u64::MAX` when even 64 bits overflow).
        value: u64,
    },
}

/// Timing and identity of one track of a media segment (one `traf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFragment {
    /// `tfhd` track_ID.
    pub track_id: u32,
    /// `tfdt` baseMediaDecodeTime, when the `traf` has a `tfdt`.
    pub base_media_decode_time: Option<u64>,
    /// Number of samples over all `trun` boxes.
    pub sample_count: u64,
    /// Sum of sample durations in the track timescale, or `None` when some samples take
    /// their duration from the `trex` defaults of the initialization segment.
    pub duration: Option<u64>,
}

/// Timing and identity of a media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// `mfhd` sequence_number of the first `moof`.
    pub sequence_number: u32,
    /// `sidx` earliest_presentation_time and timescale of the first `sidx`, if any.
    pub earliest_presentation_time: Option<(u64, u32)>,
    /// One entry per `traf` of the first `moof`.
    pub tracks: Vec<TrackFragment>,
}

/// What an initialization segment says about its first track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitInfo {
    /// `tkhd` track_ID.
    pub track_id: u32,
    /// `mdhd` timescale (ticks per second).
    pub timescale: u32,
    /// RFC 6381 codec string, e.g. `avc1.64000c` (the bare sample entry type for codecs
    /// other than AVC).
    pub codec: String,
    /// Picture width in pixels from the visual sample entry.
    pub width: u16,
    /// Picture height in pixels from the visual sample entry.
    pub height: u16,
    /// `trex` default_sample_duration for the track (0 when there is no `trex`).
    pub default_sample_duration: u32,
}

#[derive(Debug, Clone, Copy)]
struct BoxRef {
    kind: [u8; 4],
    body: usize,
    end: usize,
}

/// Iterates over the boxes laid end to end in `data[from..to]`.
struct Boxes<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
    failed: bool,
}

fn boxes(data: &[u8], from: usize, to: usize) -> Boxes<'_> {
    Boxes {
        data,
        pos: from,
        end: to.min(data.len()),
        failed: false,
    }
}

impl Iterator for Boxes<'_> {
    type Item = Result<BoxRef, Mp4Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.end {
            return None;
        }
        let item = parse_box(self.data, self.pos, self.end);
        match &item {
            Ok(b) => self.pos = b.end,
            Err(_) => self.failed = true,
        }
        Some(item)
    }
}

fn parse_box(data: &[u8], start: usize, end: usize) -> Result<BoxRef, Mp4Error> {
    let size32 = u64::from(be_u32(data, start, end)?);
    let kind = fourcc(data, start + 4, end)?;
    let (size, mut header) = match size32 {
        1 => (be_u64(data, start + 8, end)?, 16u64),
        0 => ((end - start) as u64, 8u64),
        n => (n, 8u64),
    };
    if &kind == b"uuid" {
        header += 16;
    }
    if size < header {
        return Err(Mp4Error::BadSize {
            offset: start,
            size,
        });
    }
    let available = end - start;
    if size > available as u64 {
        return Err(Mp4Error::Truncated {
            offset: start,
            needed: size,
            available,
        });
    }
    // Both fit in `available`, a usize.
    Ok(BoxRef {
        kind,
        body: start + header as usize,
        end: start + size as usize,
    })
}

fn child(data: &[u8], parent: &BoxRef, kind: &[u8; 4]) -> Result<Option<BoxRef>, Mp4Error> {
    children_from(data, parent.body, parent.end, kind)
}

fn children_from(
    data: &[u8],
    from: usize,
    to: usize,
    kind: &[u8; 4],
) -> Result<Option<BoxRef>, Mp4Error> {
    for b in boxes(data, from, to) {
        let b = b?;
        if &b.kind == kind {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

fn require(found: Option<BoxRef>, kind: &'static str) -> Result<BoxRef, Mp4Error> {
    found.ok_or(Mp4Error::Missing(kind))
}

fn field(data: &[u8], offset: usize, len: usize, end: usize) -> Result<&[u8], Mp4Error> {
    let end = end.min(data.len());
    match offset.checked_add(len) {
        Some(stop) if stop <= end => Ok(&data[offset..stop]),
        _ => Err(Mp4Error::Truncated {
            offset,
            needed: len as u64,
            available: end.saturating_sub(offset),
        }),
    }
}

fn be_u16(data: &[u8], offset: usize, end: usize) -> Result<u16, Mp4Error> {
    let b = field(data, offset, 2, end)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

fn be_u32(data: &[u8], offset: usize, end: usize) -> Result<u32, Mp4Error> {
    let b = field(data, offset, 4, end)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be_u64(data: &[u8], offset: usize, end: usize) -> Result<u64, Mp4Error> {
    let b = field(data, offset, 8, end)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_be_bytes(a))
}

fn fourcc(data: &[u8], offset: usize, end: usize) -> Result<[u8; 4], Mp4Error> {
    let b = field(data, offset, 4, end)?;
    Ok([b[0], b[1], b[2], b[3]])
}

/// Version and flags of a full box.
fn full_box(data: &[u8], b: &BoxRef) -> Result<(u8, u32), Mp4Error> {
    let vf = be_u32(data, b.body, b.end)?;
    Ok(((vf >> 24) as u8, vf & 0x00ff_ffff))
}

/// Reads the first track of an initialization segment.
pub fn read_init(data: &[u8]) -> Result<InitInfo, Mp4Error> {
    let moov = require(children_from(data, 0, data.len(), b"moov")?, "moov")?;
    let trak = require(child(data, &moov, b"trak")?, "trak")?;
    let tkhd = require(child(data, &trak, b"tkhd")?, "tkhd")?;
    let track_id = match full_box(data, &tkhd)?.0 {
        0 => be_u32(data, tkhd.body + 12, tkhd.end)?,
        1 => be_u32(data, tkhd.body + 20, tkhd.end)?,
        version => {
            return Err(Mp4Error::UnsupportedVersion {
                kind: "tkhd",
                version,
            });
        }
    };
    let mdia = require(child(data, &trak, b"mdia")?, "mdia")?;
    let mdhd = require(child(data, &mdia, b"mdhd")?, "mdhd")?;
    let timescale = match full_box(data, &mdhd)?.0 {
        0 => be_u32(data, mdhd.body + 12, mdhd.end)?,
        1 => be_u32(data, mdhd.body + 20, mdhd.end)?,
        version => {
            return Err(Mp4Error::UnsupportedVersion {
                kind: "mdhd",
                version,
            });
        }
    };
    let minf = require(child(data, &mdia, b"minf")?, "minf")?;
    let stbl = require(child(data, &minf, b"stbl")?, "stbl")?;
    let stsd = require(child(data, &stbl, b"stsd")?, "stsd")?;
    // Full box header (4) and entry_count (4), then the sample entries.
    let entry = require(
        boxes(data, stsd.body + 8, stsd.end).next().transpose()?,
        "sample entry",
    )?;
    // Visual sample entry: width at 24, height at 26, child boxes after 78 bytes.
    let width = be_u16(data, entry.body + 24, entry.end)?;
    let height = be_u16(data, entry.body + 26, entry.end)?;
    let kind = String::from_utf8_lossy(&entry.kind).into_owned();
    let codec = match &entry.kind {
        b"avc1" | b"avc3" => {
            let avcc = require(
                children_from(data, entry.body + 78, entry.end, b"avcC")?,
                "avcC",
            )?;
            let p = field(data, avcc.body + 1, 3, avcc.end)?;
            format!("{kind}.{:02x}{:02x}{:02x}", p[0], p[1], p[2])
        }
        _ => kind,
    };
    let mut default_sample_duration = 0;
    if let Some(mvex) = child(data, &moov, b"mvex")? {
        for b in boxes(data, mvex.body, mvex.end) {
            let b = b?;
            if &b.kind == b"trex" && be_u32(data, b.body + 4, b.end)? == track_id {
                default_sample_duration = be_u32(data, b.body + 12, b.end)?;
            }
        }
    }
    Ok(InitInfo {
        track_id,
        timescale,
        codec,
        width,
        height,
        default_sample_duration,
    })
}

/// Reads the sequence number, decode times and durations of a media segment.
pub fn read_fragment(data: &[u8]) -> Result<Fragment, Mp4Error> {
    let mut sidx = None;
    let mut moof = None;
    for b in boxes(data, 0, data.len()) {
        let b = b?;
        match &b.kind {
            b"sidx" if sidx.is_none() => sidx = Some(read_sidx(data, &b)?),
            b"moof" => {
                moof = Some(b);
                break;
            }
            _ => {}
        }
    }
    let moof = require(moof, "moof")?;
    let mfhd = require(child(data, &moof, b"mfhd")?, "mfhd")?;
    let sequence_number = be_u32(data, mfhd.body + 4, mfhd.end)?;
    let mut tracks = Vec::new();
    for traf in boxes(data, moof.body, moof.end) {
        let traf = traf?;
        if &traf.kind == b"traf" {
            tracks.push(read_traf(data, &traf)?);
        }
    }
    Ok(Fragment {
        sequence_number,
        earliest_presentation_time: sidx.map(|s| (s.ept, s.timescale)),
        tracks,
    })
}

struct Sidx {
    timescale: u32,
    ept: u64,
    ept_offset: usize,
    version: u8,
}

fn read_sidx(data: &[u8], b: &BoxRef) -> Result<Sidx, Mp4Error> {
    let version = full_box(data, b)?.0;
    // version/flags (4), reference_ID (4), timescale (4), earliest_presentation_time.
    let timescale = be_u32(data, b.body + 8, b.end)?;
    let ept_offset = b.body + 12;
    let ept = match version {
        0 => u64::from(be_u32(data, ept_offset, b.end)?),
        1 => be_u64(data, ept_offset, b.end)?,
        version => {
            return Err(Mp4Error::UnsupportedVersion {
                kind: "sidx",
                version,
            });
        }
    };
    Ok(Sidx {
        timescale,
        ept,
        ept_offset,
        version,
    })
}

fn read_tfdt(data: &[u8], b: &BoxRef) -> Result<(u8, u64), Mp4Error> {
    let version = full_box(data, b)?.0;
    let time = match version {
        0 => u64::from(be_u32(data, b.body + 4, b.end)?),
        1 => be_u64(data, b.body + 4, b.end)?,
        version => {
            return Err(Mp4Error::UnsupportedVersion {
                kind: "tfdt",
                version,
            });
        }
    };
    Ok((version, time))
}

fn read_traf(data: &[u8], traf: &BoxRef) -> Result<TrackFragment, Mp4Error> {
    let tfhd = require(child(data, traf, b"tfhd")?, "tfhd")?;
    let (_, tfhd_flags) = full_box(data, &tfhd)?;
    let track_id = be_u32(data, tfhd.body + 4, tfhd.end)?;
    let mut pos = tfhd.body + 8;
    if tfhd_flags & 0x01 != 0 {
        pos += 8;
    }
    if tfhd_flags & 0x02 != 0 {
        pos += 4;
    }
    let default_duration = if tfhd_flags & 0x08 != 0 {
        Some(be_u32(data, pos, tfhd.end)?)
    } else {
        None
    };
    let base_media_decode_time = match child(data, traf, b"tfdt")? {
        Some(tfdt) => Some(read_tfdt(data, &tfdt)?.1),
        None => None,
    };
    let mut sample_count = 0u64;
    let mut duration = Some(0u64);
    for trun in boxes(data, traf.body, traf.end) {
        let trun = trun?;
        if &trun.kind != b"trun" {
            continue;
        }
        let (_, flags) = full_box(data, &trun)?;
        let count = be_u32(data, trun.body + 4, trun.end)?;
        let mut pos = trun.body + 8;
        if flags & 0x001 != 0 {
            pos += 4;
        }
        if flags & 0x004 != 0 {
            pos += 4;
        }
        let record = [0x100, 0x200, 0x400, 0x800]
            .iter()
            .filter(|bit| flags & **bit != 0)
            .count()
            * 4;
        let needed = u64::from(count) * record as u64;
        let records = usize::try_from(needed).map_err(|_| Mp4Error::Truncated {
            offset: pos,
            needed,
            available: trun.end.saturating_sub(pos),
        })?;
        field(data, pos, records, trun.end)?;
        sample_count += u64::from(count);
        duration = match (duration, flags & 0x100 != 0, default_duration) {
            (Some(total), true, _) => {
                let mut sum = total;
                for i in 0..count as usize {
                    sum += u64::from(be_u32(data, pos + i * record, trun.end)?);
                }
                Some(sum)
            }
            (Some(total), false, Some(d)) => Some(total + u64::from(count) * u64::from(d)),
            _ => None,
        };
    }
    Ok(TrackFragment {
        track_id,
        base_media_decode_time,
        sample_count,
        duration,
    })
}

enum Write {
    U32(usize, u32),
    U64(usize, u64),
}

/// Rewrites a media segment in place for a new position on the timeline: the `mfhd`
/// sequence_number of the k-th `moof` becomes `sequence_number + k`, and `shift` (in the
/// track timescale `timescale`) is added to every `tfdt` baseMediaDecodeTime and, scaled to
/// its own timescale, to every `sidx` earliest_presentation_time.
///
/// Box sizes never change. On error the buffer is left untouched: every new value is
/// computed and checked before the first byte is written.
pub fn retime_fragment(
    data: &mut [u8],
    sequence_number: u32,
    shift: u64,
    timescale: u32,
) -> Result<(), Mp4Error> {
    let mut writes = Vec::new();
    let mut moofs = 0u32;
    for b in boxes(data, 0, data.len()) {
        let b = b?;
        match &b.kind {
            b"sidx" => {
                let sidx = read_sidx(data, &b)?;
                let scaled = scale(shift, sidx.timescale, timescale);
                let value =
                    scaled
                        .and_then(|s| sidx.ept.checked_add(s))
                        .ok_or(Mp4Error::Overflow {
                            kind: "sidx",
                            value: u64::MAX,
                        })?;
                writes.push(narrow(sidx.version, sidx.ept_offset, value, "sidx")?);
            }
            b"moof" => {
                let mfhd = require(child(data, &b, b"mfhd")?, "mfhd")?;
                field(data, mfhd.body + 4, 4, mfhd.end)?;
                writes.push(Write::U32(
                    mfhd.body + 4,
                    sequence_number.wrapping_add(moofs),
                ));
                moofs += 1;
                for traf in boxes(data, b.body, b.end) {
                    let traf = traf?;
                    if &traf.kind != b"traf" {
                        continue;
                    }
                    if let Some(tfdt) = child(data, &traf, b"tfdt")? {
                        let (version, time) = read_tfdt(data, &tfdt)?;
                        let value = time.checked_add(shift).ok_or(Mp4Error::Overflow {
                            kind: "tfdt",
                            value: u64::MAX,
                        })?;
                        writes.push(narrow(version, tfdt.body + 4, value, "tfdt")?);
                    }
                }
            }
            _ => {}
        }
    }
    if moofs == 0 {
        return Err(Mp4Error::Missing("moof"));
    }
    for w in writes {
        match w {
            Write::U32(at, v) => data[at..at + 4].copy_from_slice(&v.to_be_bytes()),
            Write::U64(at, v) => data[at..at + 8].copy_from_slice(&v.to_be_bytes()),
        }
    }
    Ok(())
}

/// `value` ticks of timescale `from` expressed in timescale `to`, rounded down.
fn scale(value: u64, to: u32, from: u32) -> Option<u64> {
    if to == from || from == 0 {
        return Some(value);
    }
    u64::try_from(u128::from(value) * u128::from(to) / u128::from(from)).ok()
}

fn narrow(version: u8, at: usize, value: u64, kind: &'static str) -> Result<Write, Mp4Error> {
    if version == 0 {
        u32::try_from(value)
            .map(|v| Write::U32(at, v))
            .map_err(|_| Mp4Error::Overflow { kind, value })
    } else {
        Ok(Write::U64(at, value))
    }
}

#[cfg(test)]
#[path = "mp4_tests.rs"]
mod tests;
