//! Clock and duration helpers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time in Unix seconds, as [`Verifier::verify`](crate::Verifier::verify)
/// and [`ViewerClaims::new`](crate::ViewerClaims::new) expect it. A clock set
/// before 1970 reads as 0.
#[must_use]
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Parses a human-friendly duration such as `60s`, `5m`, `1h30m` or
/// `1h 30m` (units from `ns` to `y`, via `humantime`), e.g. for a CLI
/// `--ttl` option.
///
/// # Errors
/// A `humantime` error describing what is wrong with `text`.
pub fn parse_duration(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration(" 1h 30m ").unwrap(),
            Duration::from_secs(5400)
        );
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn now_is_after_2024() {
        assert!(unix_now() > 1_700_000_000);
    }
}
