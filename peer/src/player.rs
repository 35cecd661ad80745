//! The playback model: a buffer filled by downloads, a playhead that starts once the
//! startup buffer is met and then advances in real time, and stalls when the buffer runs
//! dry.

use std::time::{Duration, Instant};

/// Playback state of one viewer.
#[derive(Debug, Clone)]
pub struct Player {
    joined: Instant,
    startup: f64,
    resume: f64,
    /// Media seconds loaded, contiguous from the start.
    loaded: f64,
    /// Media seconds played.
    position: f64,
    first_frame: Option<Instant>,
    stalled_since: Option<Instant>,
    last: Instant,
    ended: bool,
    stalls: u32,
    stall_time: Duration,
}

impl Player {
    /// A player that starts once `startup` seconds are buffered and resumes after a stall
    /// once `resume` seconds are.
    pub fn new(now: Instant, startup: f64, resume: f64) -> Self {
        Self {
            joined: now,
            startup,
            resume,
            loaded: 0.0,
            position: 0.0,
            first_frame: None,
            stalled_since: None,
            last: now,
            ended: false,
            stalls: 0,
            stall_time: Duration::ZERO,
        }
    }

    /// Advances the playhead to `now`.
    pub fn tick(&mut self, now: Instant) {
        let now = now.max(self.last);
        match (self.first_frame, self.stalled_since) {
            (None, _) => {
                if self.loaded >= self.startup || (self.ended && self.loaded > 0.0) {
                    self.first_frame = Some(now);
                }
            }
            (Some(_), Some(since)) => {
                if self.loaded - self.position >= self.resume || self.ended {
                    self.stall_time += now - since;
                    self.stalled_since = None;
                }
            }
            (Some(_), None) => {
                let elapsed = (now - self.last).as_secs_f64();
                let left = self.loaded - self.position;
                if elapsed < left {
                    self.position += elapsed;
                } else {
                    self.position = self.loaded;
                    if !self.ended {
                        // The buffer ran dry part-way through this interval.
                        let dry_at = self.last + Duration::from_secs_f64(left.max(0.0));
                        self.stalled_since = Some(dry_at);
                        self.stalls += 1;
                    }
                }
            }
        }
        self.last = now;
    }

    /// Adds a verified segment of `duration` seconds to the buffer.
    pub fn append(&mut self, now: Instant, duration: f64) {
        self.tick(now);
        self.loaded += duration.max(0.0);
        self.tick(now);
    }

    /// Marks the end of the stream: running dry after it is not a stall.
    pub fn end_of_stream(&mut self, now: Instant) {
        self.tick(now);
        self.ended = true;
        self.tick(now);
    }

    /// Seconds buffered ahead of the playhead.
    pub fn buffer(&self) -> f64 {
        (self.loaded - self.position).max(0.0)
    }

    /// Whether playback has started.
    pub fn playing(&self) -> bool {
        self.first_frame.is_some()
    }

    /// Whether it is stalled now.
    pub fn stalled(&self) -> bool {
        self.stalled_since.is_some()
    }

    /// Time to first frame.
    pub fn ttff(&self) -> Option<Duration> {
        self.first_frame.map(|f| f - self.joined)
    }

    /// Stalls after startup so far, and their total time (an ongoing stall counts up to
    /// `now`).
    pub fn stalls(&self, now: Instant) -> (u32, Duration) {
        let ongoing = self
            .stalled_since
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        (self.stalls, self.stall_time + ongoing)
    }

    /// Media seconds played.
    pub fn played(&self) -> f64 {
        self.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_once_the_startup_buffer_is_met() {
        let t0 = Instant::now();
        let mut p = Player::new(t0, 4.0, 2.0);
        p.append(t0 + Duration::from_millis(300), 2.0);
        assert!(!p.playing());
        p.append(t0 + Duration::from_millis(500), 2.0);
        assert_eq!(p.ttff(), Some(Duration::from_millis(500)));
        p.tick(t0 + Duration::from_millis(1500));
        assert!((p.buffer() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn stalls_when_dry_and_resumes_with_enough_buffer() {
        let t0 = Instant::now();
        let mut p = Player::new(t0, 2.0, 2.0);
        p.append(t0, 2.0);
        p.tick(t0 + Duration::from_secs(3));
        assert!(p.stalled());
        let (n, _) = p.stalls(t0 + Duration::from_secs(3));
        assert_eq!(n, 1);
        p.append(t0 + Duration::from_secs(4), 1.0);
        assert!(p.stalled(), "1 s is below the resume threshold");
        p.append(t0 + Duration::from_secs(5), 1.0);
        assert!(!p.stalled());
        let (n, time) = p.stalls(t0 + Duration::from_secs(6));
        assert_eq!(n, 1);
        assert_eq!(time, Duration::from_secs(3), "dry at 2 s, resumed at 5 s");
    }

    #[test]
    fn the_end_of_a_stream_is_not_a_stall() {
        let t0 = Instant::now();
        let mut p = Player::new(t0, 2.0, 2.0);
        p.append(t0, 2.0);
        p.end_of_stream(t0);
        p.tick(t0 + Duration::from_secs(10));
        assert_eq!(p.stalls(t0 + Duration::from_secs(10)).0, 0);
        assert!((p.played() - 2.0).abs() < 1e-9);
    }
}
