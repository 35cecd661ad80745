use super::*;

const INIT_180: &[u8] = include_bytes!("../fixtures/v180/init.mp4");
const INIT_360: &[u8] = include_bytes!("../fixtures/v360/init.mp4");
const SEGS_180: [&[u8]; 5] = [
    include_bytes!("../fixtures/v180/seg-0.m4s"),
    include_bytes!("../fixtures/v180/seg-1.m4s"),
    include_bytes!("../fixtures/v180/seg-2.m4s"),
    include_bytes!("../fixtures/v180/seg-3.m4s"),
    include_bytes!("../fixtures/v180/seg-4.m4s"),
];
const SEG_360_4: &[u8] = include_bytes!("../fixtures/v360/seg-4.m4s");

fn mk_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A minimal segment: moof(mfhd, traf(tfhd, tfdt version 0 holding `time`)).
fn v0_segment(time: u32) -> Vec<u8> {
    let mfhd = mk_box(b"mfhd", &[0, 0, 0, 0, 0, 0, 0, 7]);
    let mut tfhd_body = vec![0, 0, 0, 0];
    tfhd_body.extend_from_slice(&1u32.to_be_bytes());
    let tfhd = mk_box(b"tfhd", &tfhd_body);
    let mut tfdt_body = vec![0, 0, 0, 0];
    tfdt_body.extend_from_slice(&time.to_be_bytes());
    let tfdt = mk_box(b"tfdt", &tfdt_body);
    let traf = mk_box(b"traf", &[tfhd, tfdt].concat());
    let mut seg = mk_box(b"moof", &[mfhd, traf].concat());
    seg.extend(mk_box(b"mdat", b"payload"));
    seg
}

#[test]
fn init_segments_describe_the_renditions() {
    let low = read_init(INIT_180).unwrap();
    assert_eq!(low.timescale, 12800);
    assert_eq!(low.codec, "avc1.64000c");
    assert_eq!((low.width, low.height), (320, 180));
    assert_eq!(low.track_id, 1);
    let high = read_init(INIT_360).unwrap();
    assert_eq!(high.timescale, 12800);
    assert_eq!(high.codec, "avc1.64001e");
    assert_eq!((high.width, high.height), (640, 360));
}

#[test]
fn fixture_segments_are_contiguous_two_second_fragments() {
    for (i, seg) in SEGS_180.iter().enumerate() {
        let f = read_fragment(seg).unwrap();
        assert_eq!(f.sequence_number, i as u32 + 1);
        assert_eq!(f.tracks.len(), 1);
        let t = &f.tracks[0];
        assert_eq!(t.base_media_decode_time, Some(i as u64 * 25600));
        assert_eq!(t.sample_count, 50);
        assert_eq!(t.duration, Some(25600));
        assert_eq!(
            f.earliest_presentation_time,
            Some((i as u64 * 25600, 12800))
        );
    }
}

#[test]
fn retime_writes_values_that_read_back() {
    let mut seg = SEGS_180[2].to_vec();
    let n = 52u64;
    retime_fragment(&mut seg, n as u32 + 1, (n - 2) * 25600, 12800).unwrap();
    let f = read_fragment(&seg).unwrap();
    assert_eq!(f.sequence_number, 53);
    assert_eq!(f.tracks[0].base_media_decode_time, Some(n * 25600));
    assert_eq!(f.earliest_presentation_time, Some((n * 25600, 12800)));
    assert_eq!(seg.len(), SEGS_180[2].len());
    let changed = seg.iter().zip(SEGS_180[2]).filter(|(a, b)| a != b).count();
    assert!(changed <= 4 + 8 + 8, "{changed} bytes changed");
}

#[test]
fn retime_handles_times_beyond_32_bits_in_version_1_boxes() {
    let mut seg = SEG_360_4.to_vec();
    let shift = 1u64 << 40;
    retime_fragment(&mut seg, u32::MAX, shift, 12800).unwrap();
    let f = read_fragment(&seg).unwrap();
    assert_eq!(f.sequence_number, u32::MAX);
    assert_eq!(f.tracks[0].base_media_decode_time, Some(4 * 25600 + shift));
}

#[test]
fn retime_rejects_a_64_bit_overflow_and_leaves_the_buffer_alone() {
    let mut seg = SEGS_180[1].to_vec();
    let err = retime_fragment(&mut seg, 9, u64::MAX - 10, 12800).unwrap_err();
    assert!(matches!(err, Mp4Error::Overflow { .. }), "{err}");
    assert_eq!(seg, SEGS_180[1]);
}

#[test]
fn version_0_tfdt_is_patched_while_it_fits() {
    let mut seg = v0_segment(1000);
    retime_fragment(&mut seg, 3, 5000, 12800).unwrap();
    let f = read_fragment(&seg).unwrap();
    assert_eq!(f.sequence_number, 3);
    assert_eq!(f.tracks[0].base_media_decode_time, Some(6000));
}

#[test]
fn version_0_tfdt_overflow_is_an_error_not_a_wrap() {
    let mut seg = v0_segment(1000);
    let before = seg.clone();
    let err = retime_fragment(&mut seg, 3, u64::from(u32::MAX), 12800).unwrap_err();
    assert_eq!(
        err,
        Mp4Error::Overflow {
            kind: "tfdt",
            value: u64::from(u32::MAX) + 1000
        }
    );
    assert_eq!(seg, before);
}

#[test]
fn sidx_in_another_timescale_is_scaled() {
    assert_eq!(scale(25600, 1000, 12800), Some(2000));
    assert_eq!(scale(25600, 12800, 12800), Some(25600));
}

#[test]
fn large_size_and_size_zero_boxes_are_walked() {
    let mut seg = Vec::new();
    // A "free" box with a 64-bit size, then the rest of the segment, ending in an mdat of
    // size 0 ("to the end of the file").
    seg.extend_from_slice(&1u32.to_be_bytes());
    seg.extend_from_slice(b"free");
    seg.extend_from_slice(&20u64.to_be_bytes());
    seg.extend_from_slice(&[0; 4]);
    let v0 = v0_segment(10);
    let mdat_at = v0.len() - 15;
    seg.extend_from_slice(&v0[..mdat_at]);
    seg.extend_from_slice(&0u32.to_be_bytes());
    seg.extend_from_slice(b"mdat");
    seg.extend_from_slice(b"payload");
    retime_fragment(&mut seg, 1, 5, 12800).unwrap();
    assert_eq!(
        read_fragment(&seg).unwrap().tracks[0].base_media_decode_time,
        Some(15)
    );
}

#[test]
fn truncated_segments_are_errors_not_panics() {
    let seg = SEGS_180[0];
    // styp (24) + sidx (52) + moof (304): a segment cut right after its moof is still
    // retimable; every other cut is an error.
    let moof_end = 24 + 52 + 304;
    for len in (0..400).chain((400..seg.len()).step_by(97)) {
        let mut cut = seg[..len].to_vec();
        let _ = read_fragment(&cut);
        let result = retime_fragment(&mut cut, 1, 25600, 12800);
        assert_eq!(result.is_err(), len != moof_end, "len {len}");
    }
    for len in 0..INIT_180.len() {
        assert!(read_init(&INIT_180[..len]).is_err(), "len {len}");
    }
}

#[test]
fn corrupted_segments_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut seg = SEGS_180[3][..420].to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() % 400) as usize;
            seg[at] = next() as u8;
        }
        let _ = read_fragment(&seg);
        let _ = retime_fragment(&mut seg, 1, next() % (1 << 40), 12800);
        let mut init = INIT_180.to_vec();
        let at = (next() % init.len() as u64) as usize;
        init[at] = next() as u8;
        let _ = read_init(&init);
    }
}
