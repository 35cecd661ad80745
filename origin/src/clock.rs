//! Wall-clock arithmetic: the live timeline and the date formats of HLS, DASH and HTTP.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The live timeline: segment `n` covers `[start + n × segment, start + (n + 1) × segment)`
/// and becomes available when that interval has fully elapsed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeline {
    /// Wall-clock time of the start of segment 0.
    pub(crate) start: SystemTime,
    /// Duration of every segment.
    pub(crate) segment: Duration,
}

impl Timeline {
    /// How many segments have fully elapsed at `now` (segments `0..completed` are available).
    pub(crate) fn completed(&self, now: SystemTime) -> u64 {
        let Ok(elapsed) = now.duration_since(self.start) else {
            return 0;
        };
        let per = self.segment.as_nanos().max(1);
        u64::try_from(elapsed.as_nanos() / per).unwrap_or(u64::MAX)
    }

    /// Wall-clock start of segment `n`, if representable.
    pub(crate) fn segment_start(&self, n: u64) -> Option<SystemTime> {
        let offset = u64::try_from(self.segment.as_nanos().checked_mul(u128::from(n))?).ok()?;
        self.start.checked_add(Duration::from_nanos(offset))
    }
}

/// `t` truncated to whole milliseconds, as written in manifests.
pub(crate) fn truncate_to_millis(t: SystemTime) -> SystemTime {
    let millis = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    weekday: u32,
    hour: u64,
    minute: u64,
    second: u64,
    millis: u32,
}

fn civil(t: SystemTime) -> Civil {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to civil date (Howard Hinnant's algorithm), for days since 1970-01-01 >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        // 1970-01-01 was a Thursday (4 with Sunday = 0).
        weekday: ((days + 4) % 7) as u32,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
        millis: since.subsec_millis(),
    }
}

/// ISO 8601 / xs:dateTime in UTC with milliseconds, e.g. `2026-11-27T20:09:36.250Z`.
pub(crate) fn iso8601(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// HTTP IMF-fixdate, e.g. `Fri, 27 Nov 2026 20:09:36 GMT`.
pub(crate) fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(t);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[c.weekday as usize % 7],
        c.day,
        MONTHS[(c.month as usize + 11) % 12],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// xs:duration with seconds only, e.g. `PT2S` or `PT2.5S`.
pub(crate) fn xs_duration(d: Duration) -> String {
    let millis = d.subsec_millis();
    if millis == 0 {
        format!("PT{}S", d.as_secs())
    } else {
        let frac = format!("{millis:03}");
        format!("PT{}.{}S", d.as_secs(), frac.trim_end_matches('0'))
    }
}

/// Seconds with three decimals, as in `#EXTINF:2.000,`.
pub(crate) fn seconds_3(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_in_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(784_111_777_250);
        assert_eq!(iso8601(t), "1994-11-06T08:49:37.250Z");
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_208_000);
        assert_eq!(iso8601(leap), "2024-02-29T12:00:00.000Z");
        assert_eq!(http_date(leap), "Thu, 29 Feb 2024 12:00:00 GMT");
    }

    #[test]
    fn durations_format_for_manifests() {
        assert_eq!(xs_duration(Duration::from_secs(12)), "PT12S");
        assert_eq!(xs_duration(Duration::from_millis(2500)), "PT2.5S");
        assert_eq!(seconds_3(Duration::from_secs(2)), "2.000");
    }

    #[test]
    fn timeline_counts_only_fully_elapsed_segments() {
        let start = UNIX_EPOCH + Duration::from_secs(1000);
        let tl = Timeline {
            start,
            segment: Duration::from_secs(2),
        };
        assert_eq!(tl.completed(start - Duration::from_secs(5)), 0);
        assert_eq!(tl.completed(start), 0);
        assert_eq!(tl.completed(start + Duration::from_millis(1999)), 0);
        assert_eq!(tl.completed(start + Duration::from_secs(2)), 1);
        assert_eq!(tl.completed(start + Duration::from_secs(101)), 50);
        assert_eq!(tl.segment_start(3), Some(start + Duration::from_secs(6)));
    }
}
