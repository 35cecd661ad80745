//! The edge's side of a peer's conversation: media through the proxy (with CMCD) and the
//! P2P API (`announce`, `hints`).

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use url::Url;

/// What went wrong talking to the edge.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// No answer, or a broken one.
    #[error("request to the edge failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// An answer other than 200.
    #[error("the edge answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// JSON that does not parse.
    #[error("the edge sent unexpected JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A gained segment, as announced.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GainOut {
    /// Segment number.
    pub seg: u64,
    /// The peer it came from; absent for the CDN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Bytes.
    pub bytes: u64,
    /// Transfer time, milliseconds.
    pub ms: u32,
}

/// A failed delivery, as announced.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FailureOut {
    /// Segment number.
    pub seg: u64,
    /// The peer that failed.
    pub peer: String,
    /// `timeout`, `refused` or `hash_mismatch`.
    pub kind: &'static str,
}

/// Byte counters since the previous announce.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct BytesOut {
    /// From the CDN (through the edge).
    pub cdn: u64,
    /// From peers.
    pub peer: u64,
    /// Uploaded to peers.
    pub uploaded: u64,
}

/// The body of `POST /p2p/v1/announce`.
#[derive(Debug, Clone, Serialize)]
pub struct AnnounceOut {
    /// Swarm id from the session tag.
    pub swarm: String,
    /// Port where this peer serves segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Declared upload capacity, kbit/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_kbps: Option<u32>,
    /// Buffer length, milliseconds.
    pub buffer_ms: u32,
    /// Segments gained since the last announce.
    pub gained: Vec<GainOut>,
    /// Segments dropped since the last announce.
    pub dropped: Vec<u64>,
    /// Failed deliveries.
    pub failures: Vec<FailureOut>,
    /// Byte counters since the last announce.
    pub bytes: BytesOut,
    /// Segments to plan hints for (empty: none).
    pub want: Vec<u64>,
    /// This is the last announce: the peer is leaving.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub leaving: bool,
}

/// A peer named in a hint.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PeerIn {
    /// Viewer id.
    pub id: String,
    /// Where it serves.
    pub addr: SocketAddr,
}

/// A hint from the API.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct HintIn {
    /// Segment number.
    pub seg: u64,
    /// `seed`, `peers` or `cdn`.
    pub action: String,
    /// Peers, best first.
    #[serde(default)]
    pub peers: Vec<PeerIn>,
    /// Why the CDN.
    #[serde(default)]
    pub reason: Option<String>,
    /// SHA-256, hex.
    #[serde(default)]
    pub sha256: Option<String>,
}

impl HintIn {
    /// The SHA-256 as bytes.
    pub fn digest(&self) -> Option<[u8; 32]> {
        let mut d = [0u8; 32];
        hex::decode_to_slice(self.sha256.as_deref()?, &mut d).ok()?;
        Some(d)
    }
}

/// The answer to an announce.
#[derive(Debug, Clone, Deserialize)]
pub struct AnnounceIn {
    /// Seconds until the next announce.
    pub interval_s: u64,
    /// Hints for the next segments.
    #[serde(default)]
    pub hints: Vec<HintIn>,
    /// Gains the edge refused.
    #[serde(default)]
    pub refused: Vec<u64>,
}

#[derive(Debug, Deserialize)]
struct HintsIn {
    hints: Vec<HintIn>,
}

/// Talks to one edge.
#[derive(Debug, Clone)]
pub struct EdgeClient {
    http: reqwest::Client,
}

async fn ok_bytes(resp: reqwest::Response) -> Result<Bytes, EdgeError> {
    let status = resp.status().as_u16();
    let body = resp.bytes().await?;
    if status != 200 {
        return Err(EdgeError::Status {
            status,
            body: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        });
    }
    Ok(body)
}

impl EdgeClient {
    /// A client with its own connection pool.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Self { http }
    }

    /// `GET url`, with CMCD when given, within `timeout`.
    pub async fn get(
        &self,
        url: &Url,
        cmcd: Option<&str>,
        timeout: Duration,
    ) -> Result<Bytes, EdgeError> {
        let mut url = url.clone();
        if let Some(c) = cmcd {
            url.query_pairs_mut().append_pair("CMCD", c);
        }
        ok_bytes(self.http.get(url).timeout(timeout).send().await?).await
    }

    /// `POST` an announce to `endpoint` with the viewer's token.
    pub async fn announce(
        &self,
        endpoint: &Url,
        token: &str,
        body: &AnnounceOut,
    ) -> Result<AnnounceIn, EdgeError> {
        let resp = self
            .http
            .post(endpoint.clone())
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(body)?)
            .timeout(Duration::from_secs(5))
            .send()
            .await?;
        Ok(serde_json::from_slice(&ok_bytes(resp).await?)?)
    }

    /// `GET /p2p/v1/hints` for some segments, with CMCD in a `CMCD-Request` header so
    /// that the edge knows the buffer it plans for.
    pub async fn hints(
        &self,
        edge: &Url,
        token: &str,
        swarm: &str,
        segments: &[u64],
        cmcd: &str,
    ) -> Result<Vec<HintIn>, EdgeError> {
        let mut url = edge.join("/p2p/v1/hints").map_err(|e| EdgeError::Status {
            status: 0,
            body: e.to_string(),
        })?;
        let list: Vec<String> = segments.iter().map(u64::to_string).collect();
        url.query_pairs_mut()
            .append_pair("swarm", swarm)
            .append_pair("seg", &list.join(","));
        let resp = self
            .http
            .get(url)
            .bearer_auth(token)
            .header("CMCD-Request", cmcd)
            .timeout(Duration::from_secs(3))
            .send()
            .await?;
        let parsed: HintsIn = serde_json::from_slice(&ok_bytes(resp).await?)?;
        Ok(parsed.hints)
    }
}

impl Default for EdgeClient {
    fn default() -> Self {
        Self::new()
    }
}

/// The CMCD payload a peer sends with each request to the edge (CTA-5004 keys `bl`,
/// `br`, `cid`, `mtp`, `sid`).
pub fn cmcd(
    buffer_s: f64,
    bitrate_kbps: u64,
    content: &str,
    throughput_kbps: u64,
    session: &str,
) -> String {
    // bl and mtp are rounded to the nearest 100, as CTA-5004 asks.
    let round = |v: u64| (v + 50) / 100 * 100;
    let bl = round((buffer_s.max(0.0) * 1000.0) as u64);
    format!(
        "bl={bl},br={bitrate_kbps},cid=\"{content}\",mtp={},sid=\"{session}\"",
        round(throughput_kbps)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmcd_has_the_keys_the_edge_reads() {
        let c = cmcd(8.46, 800, "abc", 25_432, "s1");
        assert_eq!(c, "bl=8500,br=800,cid=\"abc\",mtp=25400,sid=\"s1\"");
    }

    #[test]
    fn announce_bodies_match_the_api() {
        let body = AnnounceOut {
            swarm: "s".into(),
            port: Some(4000),
            upload_kbps: None,
            buffer_ms: 5000,
            gained: vec![GainOut {
                seg: 3,
                from: None,
                bytes: 10,
                ms: 2,
            }],
            dropped: vec![1],
            failures: vec![FailureOut {
                seg: 3,
                peer: "p".into(),
                kind: "hash_mismatch",
            }],
            bytes: BytesOut::default(),
            want: Vec::new(),
            leaving: false,
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(
            v["gained"][0],
            serde_json::json!({"seg": 3, "bytes": 10, "ms": 2})
        );
        assert!(v.get("upload_kbps").is_none());
        let hint: HintIn = serde_json::from_str(
            r#"{"seg":5,"action":"peers","peers":[{"id":"a","addr":"127.0.0.1:9"}],"sha256":"00ff10a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c"}"#,
        )
        .unwrap();
        assert_eq!(hint.digest().unwrap()[1], 0xff);
    }
}
