//! A table of per-segment hints, loadable from JSON (`rilla manifest rewrite --hints`).

use std::collections::HashMap;

use rilla_manifest_rewriter::{
    HintAction, HintSource, Rendition, SafeUri, SegmentHint, SegmentId, SessionTag, Sha256Digest,
    ViewerId,
};
use serde::Deserialize;

/// Hints per rendition: HLS media playlists use the `None` key, DASH representations their
/// `@id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HintTable {
    by_rendition: HashMap<Option<String>, Vec<SegmentHint>>,
    /// The session tag to inject, when the file names one.
    pub session: Option<SessionTag>,
}

/// Why a hints file was refused.
#[derive(Debug, thiserror::Error)]
pub enum HintsFileError {
    /// Not JSON of the expected shape.
    #[error("hints file is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A value that cannot be injected safely.
    #[error("hints file, entry {index}: {reason}")]
    Invalid {
        /// Index of the hint in `hints` (or 0 for the session).
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSession {
    viewer: String,
    swarm: String,
    announce: String,
    #[serde(default = "default_interval")]
    interval: u32,
}

fn default_interval() -> u32 {
    5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum FileAction {
    Seed,
    Peers,
    Cdn,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHint {
    /// DASH `Representation@id`; absent for HLS media playlists.
    #[serde(default)]
    representation: Option<String>,
    #[serde(default)]
    msn: Option<u64>,
    #[serde(default)]
    part: Option<u32>,
    #[serde(default)]
    number: Option<u64>,
    #[serde(default)]
    time: Option<u64>,
    action: FileAction,
    #[serde(default)]
    peers: Vec<String>,
    #[serde(default)]
    sha256: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HintsFile {
    #[serde(default)]
    session: Option<FileSession>,
    #[serde(default)]
    hints: Vec<FileHint>,
}

impl HintTable {
    /// Adds a hint for a rendition (`None` for an HLS media playlist).
    pub fn insert(&mut self, representation: Option<String>, hint: SegmentHint) {
        self.by_rendition
            .entry(representation)
            .or_default()
            .push(hint);
    }

    /// Parses the JSON hints format documented in `docs/manifest-tags.md`.
    pub fn from_json(text: &str) -> Result<Self, HintsFileError> {
        let file: HintsFile = serde_json::from_str(text)?;
        let mut table = Self::default();
        if let Some(s) = file.session {
            let invalid = |e: rilla_manifest_rewriter::InvalidValue| HintsFileError::Invalid {
                index: 0,
                reason: format!("session: {e}"),
            };
            table.session = Some(SessionTag {
                viewer: ViewerId::new(&s.viewer).map_err(invalid)?,
                swarm: ViewerId::new(&s.swarm).map_err(invalid)?,
                announce: SafeUri::new(&s.announce).map_err(invalid)?,
                announce_interval_secs: s.interval,
            });
        }
        for (index, h) in file.hints.into_iter().enumerate() {
            let invalid = |reason: String| HintsFileError::Invalid { index, reason };
            let segment = match (h.msn, h.number, h.time) {
                (Some(msn), None, None) => SegmentId::Sequence { msn, part: h.part },
                (None, Some(n), None) if h.part.is_none() => SegmentId::Number(n),
                (None, None, Some(t)) if h.part.is_none() => SegmentId::Time(t),
                _ => {
                    return Err(invalid(
                        "give exactly one of msn (with an optional part), number or time".into(),
                    ));
                }
            };
            let action = match h.action {
                FileAction::Seed => HintAction::Seed,
                FileAction::Cdn => HintAction::Cdn,
                FileAction::Peers => HintAction::Peers(
                    h.peers
                        .iter()
                        .map(|p| ViewerId::new(p).map_err(|e| invalid(e.to_string())))
                        .collect::<Result<_, _>>()?,
                ),
            };
            let sha256 = h
                .sha256
                .as_deref()
                .map(Sha256Digest::from_hex)
                .transpose()
                .map_err(|e| invalid(e.to_string()))?;
            table.insert(
                h.representation,
                SegmentHint {
                    segment,
                    action,
                    sha256,
                },
            );
        }
        Ok(table)
    }
}

impl HintSource for HintTable {
    fn hints(&self, rendition: &Rendition<'_>) -> &[SegmentHint] {
        let key = match rendition {
            Rendition::Playlist => None,
            Rendition::Representation { id, .. } => Some((*id).to_owned()),
        };
        self.by_rendition.get(&key).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hls_and_dash_hints() {
        let json = r#"{
          "session": {"viewer": "v1", "swarm": "s1", "announce": "/p2p/v1/announce"},
          "hints": [
            {"msn": 10, "action": "seed"},
            {"msn": 11, "part": 2, "action": "peers", "peers": ["a", "b"],
             "sha256": "00ff10a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c"},
            {"representation": "v720", "number": 7, "action": "cdn"}
          ]}"#;
        let table = HintTable::from_json(json).unwrap();
        assert_eq!(table.hints(&Rendition::Playlist).len(), 2);
        let dash = table.hints(&Rendition::Representation {
            period: None,
            id: "v720",
        });
        assert_eq!(dash[0].segment, SegmentId::Number(7));
        assert_eq!(table.session.as_ref().unwrap().announce_interval_secs, 5);
    }

    #[test]
    fn refuses_values_that_could_break_a_manifest() {
        for bad in [
            r#"{"hints":[{"msn":1,"action":"peers","peers":["a\"b"]}]}"#,
            r#"{"hints":[{"msn":1,"action":"seed","sha256":"xyz"}]}"#,
            r#"{"hints":[{"msn":1,"number":2,"action":"seed"}]}"#,
            r#"{"session":{"viewer":"v","swarm":"s","announce":"/a\n#EXT-X-KEY"}}"#,
            r#"{"hints":[{"msn":1,"action":"seed","extra":1}]}"#,
        ] {
            assert!(HintTable::from_json(bad).is_err(), "{bad}");
        }
    }
}
