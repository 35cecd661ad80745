//! One viewer's entry in a swarm, kept small: the index holds one per viewer per swarm.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::policy::PeerView;

/// How many segments hinted to a viewer for peer delivery are remembered, so that it may
/// announce them as gained.
pub(crate) const HINTED: usize = 4;

/// A held segment: its offset from the swarm's base number, and when it was last seen
/// (in ticks), or [`DROPPED`] once the viewer said it dropped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) offset: u32,
    pub(crate) at: u32,
}

/// `Held::at` of a dropped segment, still listed among the segment's holders until the
/// next sweep.
pub(crate) const DROPPED: u32 = 0;

/// A peer's address in 20 bytes instead of `SocketAddr`'s 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerAddr {
    ip: [u8; 16],
    port: u16,
    v4: bool,
}

impl From<SocketAddr> for PeerAddr {
    fn from(a: SocketAddr) -> Self {
        let (ip, v4) = match a.ip() {
            IpAddr::V4(ip) => (ip.to_ipv6_mapped().octets(), true),
            IpAddr::V6(ip) => (ip.octets(), false),
        };
        Self {
            ip,
            port: a.port(),
            v4,
        }
    }
}

impl From<PeerAddr> for SocketAddr {
    fn from(a: PeerAddr) -> Self {
        let v6 = Ipv6Addr::from(a.ip);
        let ip = match (a.v4, v6.to_ipv4_mapped()) {
            (true, Some(v4)) => IpAddr::V4(v4),
            (true, None) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (false, _) => IpAddr::V6(v6),
        };
        SocketAddr::new(ip, a.port)
    }
}

/// Unknown buffer length.
pub(crate) const NO_BUFFER: u16 = u16::MAX;

/// A reported buffer length counts for this many ticks (10 s).
pub(crate) const BUFFER_FRESH_TICKS: u16 = 100;

#[derive(Debug)]
pub(crate) struct Viewer {
    pub(crate) id: Box<str>,
    pub(crate) addr: Option<PeerAddr>,
    pub(crate) held: Vec<Held>,
    /// Offsets hinted with peers (ring), `u32::MAX` when empty.
    hinted: [u32; HINTED],
    hinted_next: u8,
    /// Distinct viewers that reported a hash mismatch from this one.
    pub(crate) mismatch_reports: u8,
    pub(crate) net: u16,
    pub(crate) region: u16,
    /// Peers named in hints during the current load window.
    pub(crate) load: u16,
    pub(crate) load_window: u32,
    pub(crate) upload_kbps: u32,
    pub(crate) last_seen: u32,
    /// Buffer length in tenths of a second, and the low 16 bits of the tick it was
    /// reported at.
    buffer_ds: u16,
    buffer_at: u16,
    /// Deliveries reported by receivers (decayed counts).
    pub(crate) ok: f32,
    pub(crate) fail: f32,
    /// Delivery throughput reported by receivers, kbit/s (moving average).
    pub(crate) kbps: f32,
}

impl Viewer {
    pub(crate) fn new(id: &str, now: u32) -> Self {
        Self {
            id: id.into(),
            addr: None,
            held: Vec::new(),
            hinted: [u32::MAX; HINTED],
            hinted_next: 0,
            mismatch_reports: 0,
            net: 0,
            region: 0,
            load: 0,
            load_window: now,
            upload_kbps: 0,
            last_seen: now,
            buffer_ds: NO_BUFFER,
            buffer_at: 0,
            ok: 0.0,
            fail: 0.0,
            kbps: 0.0,
        }
    }

    /// Whether it holds the segment at `offset` (and has not dropped it).
    pub(crate) fn holds(&self, offset: u32) -> bool {
        self.held
            .iter()
            .any(|h| h.offset == offset && h.at != DROPPED)
    }

    /// Records a holding. Returns `true` when the viewer must be added to the segment's
    /// holders (it was not listed there yet).
    pub(crate) fn hold(&mut self, offset: u32, now: u32) -> bool {
        match self.held.iter_mut().find(|h| h.offset == offset) {
            Some(h) => {
                h.at = now.max(1);
                false
            }
            None => {
                self.held.push(Held {
                    offset,
                    at: now.max(1),
                });
                true
            }
        }
    }

    pub(crate) fn drop_segment(&mut self, offset: u32) {
        if let Some(h) = self.held.iter_mut().find(|h| h.offset == offset) {
            h.at = DROPPED;
        }
    }

    /// Records the buffer length a request reported.
    pub(crate) fn set_buffer(&mut self, ms: u32, now: u32) {
        self.buffer_ds = u16::try_from(ms / 100).unwrap_or(NO_BUFFER - 1);
        self.buffer_at = now as u16;
    }

    /// The buffer length reported within the last 10 seconds, milliseconds.
    pub(crate) fn buffer_ms(&self, now: u32) -> Option<u32> {
        let fresh = (now as u16).wrapping_sub(self.buffer_at) <= BUFFER_FRESH_TICKS;
        (self.buffer_ds != NO_BUFFER && fresh).then(|| u32::from(self.buffer_ds) * 100)
    }

    pub(crate) fn was_hinted(&self, offset: u32) -> bool {
        self.hinted.contains(&offset)
    }

    pub(crate) fn remember_hint(&mut self, offset: u32) {
        if self.was_hinted(offset) {
            return;
        }
        self.hinted[usize::from(self.hinted_next) % HINTED] = offset;
        self.hinted_next = self.hinted_next.wrapping_add(1);
    }

    /// The newest offset it holds.
    pub(crate) fn newest(&self) -> Option<u32> {
        self.held
            .iter()
            .filter(|h| h.at != DROPPED)
            .map(|h| h.offset)
            .max()
    }

    /// Segments it may be asked to upload per load window, given its declared capacity,
    /// the swarm's typical segment size and the window's length.
    pub(crate) fn capacity(&self, segment_bytes: u32, window_secs: f32) -> u16 {
        if self.addr.is_none() || self.upload_kbps == 0 {
            return 0;
        }
        let bytes = f64::from(self.upload_kbps) * 125.0 * f64::from(window_secs);
        let segments = bytes / f64::from(segment_bytes.max(1));
        // Float to int casts saturate.
        (segments as u16).max(1)
    }

    pub(crate) fn load_at(&mut self, now: u32, window_ticks: u32) -> u16 {
        if now.saturating_sub(self.load_window) >= window_ticks {
            self.load_window = now;
            self.load = 0;
        }
        self.load
    }

    pub(crate) fn view(&self, capacity: u16) -> PeerView {
        PeerView {
            net: self.net,
            region: self.region,
            ok: self.ok,
            fail: self.fail,
            kbps: self.kbps,
            load: self.load,
            capacity,
        }
    }

    /// Records what a receiver reported about a delivery from this viewer.
    pub(crate) fn delivered(&mut self, success: bool, kbps: Option<f32>) {
        // Decay older evidence so that a viewer's standing follows its recent behaviour.
        const DECAY: f32 = 0.97;
        self.ok *= DECAY;
        self.fail *= DECAY;
        if success {
            self.ok += 1.0;
        } else {
            self.fail += 1.0;
        }
        if let Some(k) = kbps.filter(|k| k.is_finite() && *k > 0.0) {
            self.kbps = if self.kbps == 0.0 {
                k
            } else {
                self.kbps * 0.8 + k * 0.2
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_drops_and_rejoins_without_duplicates() {
        let mut v = Viewer::new("a", 10);
        assert!(v.hold(3, 10));
        assert!(!v.hold(3, 11), "a second gain is a refresh");
        v.drop_segment(3);
        assert!(!v.holds(3));
        assert!(!v.hold(3, 12), "still listed among the holders");
        assert!(v.holds(3));
        assert_eq!(v.newest(), Some(3));
    }

    #[test]
    fn capacity_follows_declared_upload() {
        let mut v = Viewer::new("a", 0);
        assert_eq!(v.capacity(125_000, 4.0), 0, "no address, no uploads");
        v.addr = Some(SocketAddr::from(([127, 0, 0, 1], 9000)).into());
        v.upload_kbps = 1000; // 125 kB/s: four 125 kB segments in 4 s
        assert_eq!(v.capacity(125_000, 4.0), 4);
        v.upload_kbps = 1;
        assert_eq!(v.capacity(125_000, 4.0), 1, "a declared uploader gets one");
    }

    #[test]
    fn a_reported_buffer_goes_stale() {
        let mut v = Viewer::new("a", 0);
        assert_eq!(v.buffer_ms(5), None);
        v.set_buffer(1_530, 1000);
        assert_eq!(v.buffer_ms(1000), Some(1_500));
        assert_eq!(
            v.buffer_ms(1000 + u32::from(BUFFER_FRESH_TICKS)),
            Some(1_500)
        );
        assert_eq!(v.buffer_ms(1001 + u32::from(BUFFER_FRESH_TICKS)), None);
    }

    #[test]
    fn compact_addresses_round_trip() {
        for a in [
            "127.0.0.1:4000",
            "[::1]:5000",
            "[2001:db8::7]:1",
            "10.1.2.3:65535",
        ] {
            let addr: SocketAddr = a.parse().unwrap();
            assert_eq!(SocketAddr::from(PeerAddr::from(addr)), addr);
        }
        assert_eq!(std::mem::size_of::<Option<PeerAddr>>(), 20);
    }

    #[test]
    fn hinted_ring_forgets_the_oldest() {
        let mut v = Viewer::new("a", 0);
        for off in 0..(HINTED as u32 + 2) {
            v.remember_hint(off);
        }
        assert!(!v.was_hinted(0) && !v.was_hinted(1));
        assert!(v.was_hinted(HINTED as u32 + 1));
    }
}
