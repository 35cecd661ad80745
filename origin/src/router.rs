//! Which response each request gets.

use std::time::{Duration, SystemTime};

use crate::clock;
use crate::faults::{self, Raw};
use crate::http::{Method, Request, Response};
use crate::manifests::{self, Live};
use crate::media::Media;
use crate::stats::Stats;

const SEGMENT_CACHE: &str = "max-age=60";
const PLAYLIST_CACHE: &str = "max-age=1";
const NO_STORE: &str = "no-store";

/// Shared state of a running origin.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) media: Media,
    pub(crate) live: Live,
    /// How many segments behind the live edge remain available.
    pub(crate) history: u64,
    /// Whether a request for the segment in production waits for it instead of a 404.
    pub(crate) hold_next_segment: bool,
    pub(crate) stats: Stats,
}

/// What the connection does for a request.
pub(crate) enum Action {
    /// Write this response.
    Respond(Response),
    /// Wait, then write this response.
    Delay(Duration, Response),
    /// Misbehave on the raw socket, then end the connection.
    Raw(Raw),
}

/// Routes `req` at wall-clock time `now`. Requests under `/_origin/` are not counted.
pub(crate) fn route(state: &State, req: &Request, now: SystemTime) -> Action {
    let path = req.path.as_str();
    if !path.starts_with("/_origin/") {
        state.stats.record(path, &req.target);
    }
    if path == "/_origin/stats/reset" {
        if req.method != Method::Post {
            return method_not_allowed("POST");
        }
        state.stats.reset();
        return Action::Respond(stats(state));
    }
    if !matches!(req.method, Method::Get | Method::Head) {
        return method_not_allowed("GET, HEAD");
    }
    if path == "/_origin/stats" {
        return Action::Respond(stats(state));
    }
    if path == "/time" {
        let body = clock::iso8601(now);
        return Action::Respond(Response::text(200, body).cache(NO_STORE));
    }
    if let Some(rest) = path.strip_prefix("/faults/") {
        return faults::route(rest, path);
    }
    if let Some(rest) = path.strip_prefix("/live/") {
        return live(state, rest, now);
    }
    Action::Respond(not_found())
}

fn stats(state: &State) -> Response {
    Response::new(200, "application/json", state.stats.to_json()).cache(NO_STORE)
}

fn method_not_allowed(allow: &'static str) -> Action {
    Action::Respond(Response::text(405, "method not allowed\n").header("Allow", allow))
}

fn not_found() -> Response {
    Response::text(404, "not found\n")
}

/// `/live/<stream>/...`: every stream name serves the same looping content.
fn live(state: &State, rest: &str, now: SystemTime) -> Action {
    let Some((stream, file)) = rest.split_once('/') else {
        return Action::Respond(not_found());
    };
    if !valid_stream_name(stream) {
        return Action::Respond(not_found());
    }
    let response = match file {
        "master.m3u8" => Response::new(
            200,
            "application/vnd.apple.mpegurl",
            manifests::master_playlist(&state.media),
        )
        .cache(PLAYLIST_CACHE),
        "manifest.mpd" => Response::new(
            200,
            "application/dash+xml",
            manifests::mpd(&state.media, &state.live, now),
        )
        .cache(PLAYLIST_CACHE),
        _ => return rendition_file(state, file, now),
    };
    Action::Respond(response)
}

fn rendition_file(state: &State, file: &str, now: SystemTime) -> Action {
    let Some((id, name)) = file.split_once('/') else {
        return Action::Respond(not_found());
    };
    let Some(rendition) = state.media.rendition(id) else {
        return Action::Respond(not_found());
    };
    if name == "index.m3u8" {
        return Action::Respond(
            Response::new(
                200,
                "application/vnd.apple.mpegurl",
                manifests::media_playlist(&state.live, now),
            )
            .cache(PLAYLIST_CACHE),
        );
    }
    if name == "init.mp4" {
        let init = rendition.init.clone();
        return Action::Respond(Response::new(200, "video/mp4", init).cache(SEGMENT_CACHE));
    }
    let Some(number) = segment_number(name) else {
        return Action::Respond(not_found());
    };
    let timeline = &state.live.timeline;
    let completed = timeline.completed(now);
    let in_production = number == completed && state.hold_next_segment;
    if (number >= completed && !in_production) || number < completed.saturating_sub(state.history) {
        return Action::Respond(not_found());
    }
    let response = match state.media.segment(rendition, number) {
        Ok(bytes) => Response::new(200, "video/mp4", bytes).cache(SEGMENT_CACHE),
        Err(err) => {
            tracing::error!(%err, "cannot make segment");
            return Action::Respond(Response::text(500, "cannot make segment\n"));
        }
    };
    if in_production {
        let ready = number
            .checked_add(1)
            .and_then(|next| timeline.segment_start(next));
        let wait = ready
            .and_then(|t| t.duration_since(now).ok())
            .unwrap_or_default();
        return Action::Delay(wait.min(timeline.segment), response);
    }
    Action::Respond(response)
}

/// `[a-z0-9]{1,16}`.
fn valid_stream_name(name: &str) -> bool {
    (1..=16).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `seg-<N>.m4s` with N in canonical decimal form.
fn segment_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".m4s")?;
    let canonical = !digits.is_empty()
        && digits.len() <= 19
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if canonical { digits.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_are_canonical_numbers() {
        assert_eq!(segment_number("seg-0.m4s"), Some(0));
        assert_eq!(segment_number("seg-1234.m4s"), Some(1234));
        for bad in [
            "seg-.m4s",
            "seg-01.m4s",
            "seg--1.m4s",
            "seg-+1.m4s",
            "seg-1.mp4",
            "seg-99999999999999999999.m4s",
        ] {
            assert_eq!(segment_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn stream_names_are_short_lowercase_alphanumerics() {
        assert!(valid_stream_name("ch1"));
        assert!(valid_stream_name("abcdefghij012345"));
        for bad in ["", "Ch1", "ch-1", "abcdefghij0123456", ".."] {
            assert!(!valid_stream_name(bad), "{bad}");
        }
    }
}
