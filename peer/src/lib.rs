//! The reference peer client: the SDK a streaming platform embeds in native apps, the
//! reference behaviour for browser SDKs, and the load generator for whole swarms.
//!
//! - [`client`]: one peer. It plays a stream like a player (buffer, playhead, live
//!   edge), fetches each segment from the peers its hints name while its buffer allows,
//!   verifies every peer-delivered segment by its SHA-256, falls back to the CDN, sends
//!   CMCD, announces what happened and serves what it holds.
//! - [`transport`]: how peers exchange segments, behind [`transport::PeerTransport`];
//!   HTTP/1.1 over TCP here.
//! - [`swarm`]: many peers in one process, with join rate and churn, and the summary
//!   that measures deflection, start-up time and stalls.

pub mod api;
pub mod client;
pub mod player;
pub mod playlist;
pub mod swarm;
pub mod transport;

pub use client::{Counters, PeerConfig, Summary, run};
pub use swarm::{SwarmConfig, SwarmSummary, run_swarm};
pub use transport::{HttpTransport, PeerTransport};
