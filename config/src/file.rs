//! The configuration file as written by operators: one struct per TOML table.
//!
//! Every field is documented with its unit and default; `rilla config example` turns these
//! doc comments into the annotated example, so they are written for operators.

use std::{net::IpAddr, path::PathBuf};

use ipnet::IpNet;
use serde::Serialize;

use crate::duration::HumanDuration;

/// The configuration of a Rilla Edge proxy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Listeners, TLS, threads, shutdown and logs. Changing this section needs a restart.
    #[serde(default)]
    pub server: ServerConfig,
    /// Viewer tokens: keys, lifetime, where tokens travel in URIs.
    #[serde(default)]
    pub tokens: TokensConfig,
    /// The hosts under which viewers reach this edge.
    #[serde(default)]
    pub edge: EdgeConfig,
    /// Bounds on what origins may send.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The in-memory caches for segments and manifests.
    #[serde(default)]
    pub cache: CacheConfig,
    /// The index of which viewers hold which segments.
    #[serde(default)]
    pub holdings: HoldingsConfig,
    /// Peer-to-peer orchestration: how viewers are told which peers to fetch segments
    /// from, how fast they may call the P2P API, and which networks count as local.
    #[serde(default)]
    pub p2p: P2pConfig,
    /// The origins (or CDNs) this edge sits in front of. Default: none.
    #[serde(default)]
    pub origins: Vec<OriginConfig>,
    /// Routing rules: which paths go to which origin, and how. The longest matching
    /// `prefix` wins; a request matching no rule gets 404. Default: none.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// Listeners, TLS and process settings. These cannot change on reload: a reload that
/// changes them is applied for everything else, and the answer names them.
#[derive(Debug, Clone, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the public plain-HTTP listener (players, the P2P API, health, JWKS).
    /// Default: "0.0.0.0:8080".
    #[serde(default = "defaults::listen")]
    pub listen: String,
    /// Address of the public HTTPS listener (HTTP/2 by ALPN beside HTTP/1.1); needs
    /// `tls_cert` and `tls_key`. Default: unset (no TLS listener).
    #[serde(default)]
    pub tls_listen: Option<String>,
    /// PEM certificate chain for `tls_listen`, relative to the config file's directory.
    /// Default: unset.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_listen`, relative to the config file's directory.
    /// Default: unset.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Address of the admin listener (`/metrics`, `/admin/config`, `/admin/reload`).
    /// Keep it on loopback or a private network. Default: "127.0.0.1:9090".
    #[serde(default = "defaults::admin_listen")]
    pub admin_listen: String,
    /// Worker threads of the public listeners (0 means one per CPU core). Default: 0.
    #[serde(default)]
    pub threads: u64,
    /// How long in-flight requests may finish after SIGTERM before the process exits.
    /// Default: "5s".
    #[serde(default = "defaults::shutdown_grace")]
    pub shutdown_grace: HumanDuration,
    /// Log format on standard error: "text" or "json". Default: "text".
    #[serde(default = "defaults::log_format")]
    pub log_format: String,
}

/// The in-memory caches. Segments are evicted by W-TinyLFU within `segment_bytes`.
#[derive(Debug, Clone, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Memory for cached segments, in bytes. Default: 268435456 (256 MiB).
    #[serde(default = "defaults::segment_bytes")]
    pub segment_bytes: u64,
    /// Largest segment kept in the cache, in bytes; larger responses are refused with
    /// 502. Default: 33554432 (32 MiB).
    #[serde(default = "defaults::max_object_bytes")]
    pub max_object_bytes: u64,
    /// How long a segment stays cached. Default: "60s".
    #[serde(default = "defaults::segment_ttl")]
    pub segment_ttl: HumanDuration,
    /// Longest time an origin manifest is cached; the actual time is also bounded by
    /// half the playlist's target duration (HLS) or the MPD's minimumUpdatePeriod
    /// (DASH). Default: "1s".
    #[serde(default = "defaults::manifest_ttl")]
    pub manifest_ttl: HumanDuration,
    /// How long a manifest may be served stale while its origin fails; 0s disables.
    /// Default: "10s".
    #[serde(default = "defaults::manifest_max_stale")]
    pub manifest_max_stale: HumanDuration,
}

/// The holdings index: which viewer holds which segment of which swarm.
#[derive(Debug, Clone, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldingsConfig {
    /// How long a holding is remembered after the viewer fetched or announced it.
    /// Default: "60s".
    #[serde(default = "defaults::holdings_ttl")]
    pub ttl: HumanDuration,
    /// Most holdings kept in total (1 to 100000000), over all viewers and swarms: one
    /// holding is one viewer holding one segment. New ones are refused (and counted)
    /// beyond it. Default: 1000000.
    #[serde(default = "defaults::holdings_max")]
    pub max_entries: u64,
    /// Most viewers tracked in one swarm (1 to `max_entries`); more are refused (and
    /// counted). Default: 200000.
    #[serde(default = "defaults::max_per_swarm")]
    pub max_per_swarm: u64,
    /// Most viewers tracked in all swarms together (at least 1). Default: 1000000.
    #[serde(default = "defaults::max_viewers")]
    pub max_viewers: u64,
    /// A viewer not heard from (no request, no announce) for this long is forgotten with
    /// its holdings (from 1s to 1h). Default: "30s".
    #[serde(default = "defaults::viewer_ttl")]
    pub viewer_ttl: HumanDuration,
}

/// Peer-to-peer orchestration. The edge tells each viewer, in hints, which peers hold the
/// segments it is about to need, or to fetch them from the CDN.
#[derive(Debug, Clone, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    /// How often viewers announce what they hold; sent to them in the session tag and in
    /// announce responses (from 1s to 1m). Default: "5s".
    #[serde(default = "defaults::announce_interval")]
    pub announce_interval: HumanDuration,
    /// Largest P2P API request body, in bytes; larger requests get 413
    /// (1024 to 1048576). Default: 65536 (64 KiB).
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: u64,
    /// P2P API requests per second allowed per viewer; more get 429 (1 to 1000).
    /// Default: 2.
    #[serde(default = "defaults::viewer_rate")]
    pub viewer_rate: u32,
    /// Most P2P API requests a viewer may send at once: the size of its token bucket,
    /// refilled at `viewer_rate` per second (from `viewer_rate` to 10000). Default: 10.
    #[serde(default = "defaults::viewer_burst")]
    pub viewer_burst: u32,
    /// P2P API requests per second allowed per client IP prefix (/24 for IPv4, /64 for
    /// IPv6), over all viewers behind it; more get 429 (1 to 1000000). Default: 500.
    #[serde(default = "defaults::prefix_rate")]
    pub prefix_rate: u32,
    /// Most P2P API requests a client IP prefix may send at once: the size of its token
    /// bucket, refilled at `prefix_rate` per second (from `prefix_rate` to 10000000).
    /// Default: 1000.
    #[serde(default = "defaults::prefix_burst")]
    pub prefix_burst: u32,
    /// Most peers named in one hint (1 to 16). Default: 3.
    #[serde(default = "defaults::peers_per_hint")]
    pub peers_per_hint: u32,
    /// Viewers asked to fetch each new segment from the CDN and seed it to the others
    /// (1 to 16). Default: 2.
    #[serde(default = "defaults::seeders_per_segment")]
    pub seeders_per_segment: u32,
    /// Upcoming segments (the newest ones) hinted in each personalized media playlist;
    /// 0 sends no hints in playlists (0 to 16). Default: 3.
    #[serde(default = "defaults::hinted_segments")]
    pub hinted_segments: u32,
    /// A viewer whose buffer length (CMCD `bl`, reported within the last 10 seconds) is
    /// below this is sent to the CDN instead of to peers (from 0s to 1m). A player at the
    /// live edge holds about three segments, so keep this below two segment durations.
    /// Default: "2s".
    #[serde(default = "defaults::min_buffer")]
    pub min_buffer: HumanDuration,
    /// Name of a request header that carries the viewer's region, set by the trusted load
    /// balancer in front of the edge (which must overwrite any value the viewer sent);
    /// 1 to 64 characters of A-Z a-z 0-9 -. Default: unset (regions are not used).
    #[serde(default)]
    pub region_header: Option<String>,
    /// Distinct viewers that must report hash mismatches for segments from one peer
    /// before that peer is demoted: it never seeds and is ranked last (1 to 100).
    /// Default: 2.
    #[serde(default = "defaults::demote_after_reports")]
    pub demote_after_reports: u32,
    /// Distinct viewers that must report hash mismatches for segments from one peer
    /// before that peer is left out of hints altogether (from `demote_after_reports` to
    /// 100). Default: 3.
    #[serde(default = "defaults::exclude_after_reports")]
    pub exclude_after_reports: u32,
    /// How long a seeder may take to report that it holds a segment before another
    /// viewer is chosen to seed it (from 100ms to 1m). Default: "3s".
    #[serde(default = "defaults::peer_timeout")]
    pub peer_timeout: HumanDuration,
    /// The locality table, used by the "locality" and "adaptive" policies: named networks
    /// of IP ranges. A viewer whose address falls in one of a network's CIDRs belongs to
    /// it; when several networks match, the one with the most specific (longest) matching
    /// prefix is used, and among equally specific ones the first listed.
    /// Default: none (no viewer is in a network).
    #[serde(default)]
    pub networks: Vec<NetworkConfig>,
}

/// One network of the locality table (`[[p2p.networks]]`).
#[derive(Debug, Clone, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Name of the network, unique among networks (1 to 64 characters of
    /// A-Z a-z 0-9 - _). Required.
    pub name: String,
    /// IP ranges of the network in CIDR notation, IPv4 or IPv6, e.g. "192.0.2.0/24" or
    /// "2001:db8::/32"; at least one. Required.
    pub cidrs: Vec<String>,
}

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Path prefix this rule applies to, beginning and ending with `/`. Required.
    pub prefix: String,
    /// Name of the origin (from `[[origins]]`) that serves these paths. Required.
    pub origin: String,
    /// Who may start a viewer session on a manifest without a viewer token: "open"
    /// (anyone gets a new session) or "entry-token" (a token issued by the platform, with
    /// `rilla token sign`, must be presented). Segments always need a token.
    /// Default: "open".
    #[serde(default = "defaults::access")]
    pub access: String,
    /// Path prefix sent to the origin instead of `prefix` (e.g. "/" to strip it).
    /// Default: unset (the path is sent as it is).
    #[serde(default)]
    pub origin_prefix: Option<String>,
    /// The orchestration policy for the swarms of this route: "cdn-only" turns P2P off
    /// (every hint says CDN), "random" picks peers at random, "locality" prefers peers on
    /// the same network (see `[[p2p.networks]]`), then in the same region, "adaptive"
    /// learns online which peers and pairs of networks deliver. Default: "adaptive".
    #[serde(default = "defaults::policy")]
    pub policy: String,
}

/// Viewer tokens: Ed25519 JWTs scoped to a path prefix, carried as a query parameter.
#[derive(Debug, Clone, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensConfig {
    /// Directory holding the signing keys (`<kid>.pem`) and the public key set
    /// (`jwks.json`), as written by `rilla token keygen`. A relative path is relative to
    /// the directory of the config file. Default: "keys".
    #[serde(default = "defaults::keys_dir")]
    pub keys_dir: PathBuf,
    /// The `kid` of the key that signs new tokens. Default: unset, meaning the newest
    /// private key in `keys_dir`. Older keys still verify while they are in `jwks.json`.
    #[serde(default)]
    pub signing_kid: Option<String>,
    /// Audience (`aud` claim) written into and required of every token.
    /// Default: "rilla-edge".
    #[serde(default = "defaults::audience")]
    pub audience: String,
    /// Lifetime of a viewer token (from 1s to 24h). Players refresh live manifests every
    /// few seconds and get fresh tokens with them. Default: "5m".
    #[serde(default = "defaults::ttl")]
    pub ttl: HumanDuration,
    /// Clock skew tolerated when checking `exp` and `nbf` (at most 60s). Default: "5s".
    #[serde(default = "defaults::leeway")]
    pub leeway: HumanDuration,
    /// Name of the query parameter that carries the token in every signed URI
    /// (1 to 32 characters of A-Z a-z 0-9 - _). The edge strips it before the origin and
    /// keeps it out of cache keys. Default: "rt".
    #[serde(default = "defaults::query_param")]
    pub query_param: String,
    /// Bind each token to the client's IP prefix (/24 for IPv4, /64 for IPv6). Viewers
    /// behind changing NATs or roaming between networks then need a new token.
    /// Default: false.
    #[serde(default)]
    pub bind_ip_prefix: bool,
    /// How many verified tokens to remember, so that repeat requests skip the signature
    /// check (expiry, scope and IP are still checked on every request). Default: 100000.
    #[serde(default = "defaults::verified_cache_entries")]
    pub verified_cache_entries: u64,
}

/// Which hosts count as this edge, and how browsers may reach it.
#[derive(Debug, Clone, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Hosts (with an optional `:port`, and an optional leading `*.` wildcard) under which
    /// viewers reach this edge. Manifest URIs pointing at these hosts, at an origin's
    /// `hosts`, or relative URIs are signed; URIs pointing anywhere else are left as they
    /// are, so the edge never signs a foreign URL. Default: none (relative URIs and the
    /// host the viewer used are still ours).
    #[serde(default)]
    pub public_hosts: Vec<String>,
    /// Value of `Access-Control-Allow-Origin` on media and API responses, so that browser
    /// players on other sites can fetch through the edge; "" sends no CORS headers.
    /// Default: "*".
    #[serde(default = "defaults::cors_allow_origin")]
    pub cors_allow_origin: String,
    /// Networks (CIDRs) of the load balancers in front of the edge. A request whose TCP
    /// peer is in one of them is taken to come from the address its `X-Forwarded-For`
    /// header names: the rightmost address that is not itself a trusted proxy. That
    /// address is what token IP binding, peer addresses, `p2p.networks` and the per-prefix
    /// rate limit see. Never list networks that viewers connect from directly.
    /// Default: none (the TCP peer is the client).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// Bounds on manifests from origins; anything larger or deeper is refused with an error.
#[derive(Debug, Clone, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest manifest accepted from an origin, in bytes (after decompression).
    /// Default: 4194304 (4 MiB).
    #[serde(default = "defaults::max_manifest_bytes")]
    pub max_manifest_bytes: u64,
    /// Longest HLS line or XML tag accepted, in bytes. Default: 65536 (64 KiB).
    #[serde(default = "defaults::max_line_bytes")]
    pub max_line_bytes: u64,
    /// Deepest XML element nesting accepted in an MPD (1 to 256). Default: 32.
    #[serde(default = "defaults::max_xml_depth")]
    pub max_xml_depth: u64,
}

/// One origin (or upstream CDN).
#[derive(Debug, Clone, PartialEq, Serialize, eserde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginConfig {
    /// Name by which routing rules refer to this origin (1 to 64 characters of
    /// A-Z a-z 0-9 - _). Required.
    pub name: String,
    /// Base URL of the origin, `http://` or `https://` with a host and optional port.
    /// Required.
    pub url: String,
    /// Other host names under which manifests refer to this origin, with optional
    /// `:port`; absolute URIs to these hosts are signed. The host of `url` always counts.
    /// Default: none.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Time allowed to connect to the origin. Default: "2s".
    #[serde(default = "defaults::connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// Time allowed between reads from the origin. Default: "10s".
    #[serde(default = "defaults::read_timeout")]
    pub read_timeout: HumanDuration,
}

mod defaults {
    use std::path::PathBuf;

    use crate::duration::HumanDuration;

    pub(super) fn listen() -> String {
        "0.0.0.0:8080".to_owned()
    }
    pub(super) fn admin_listen() -> String {
        "127.0.0.1:9090".to_owned()
    }
    pub(super) fn shutdown_grace() -> HumanDuration {
        HumanDuration::from_secs(5)
    }
    pub(super) fn log_format() -> String {
        "text".to_owned()
    }
    pub(super) fn segment_bytes() -> u64 {
        256 * 1024 * 1024
    }
    pub(super) fn max_object_bytes() -> u64 {
        32 * 1024 * 1024
    }
    pub(super) fn segment_ttl() -> HumanDuration {
        HumanDuration::from_secs(60)
    }
    pub(super) fn manifest_ttl() -> HumanDuration {
        HumanDuration::from_secs(1)
    }
    pub(super) fn manifest_max_stale() -> HumanDuration {
        HumanDuration::from_secs(10)
    }
    pub(super) fn holdings_ttl() -> HumanDuration {
        HumanDuration::from_secs(60)
    }
    pub(super) fn holdings_max() -> u64 {
        1_000_000
    }
    pub(super) fn max_per_swarm() -> u64 {
        200_000
    }
    pub(super) fn max_viewers() -> u64 {
        1_000_000
    }
    pub(super) fn viewer_ttl() -> HumanDuration {
        HumanDuration::from_secs(30)
    }
    pub(super) fn announce_interval() -> HumanDuration {
        HumanDuration::from_secs(5)
    }
    pub(super) fn max_body_bytes() -> u64 {
        64 * 1024
    }
    pub(super) fn viewer_rate() -> u32 {
        2
    }
    pub(super) fn viewer_burst() -> u32 {
        10
    }
    pub(super) fn prefix_rate() -> u32 {
        500
    }
    pub(super) fn prefix_burst() -> u32 {
        1000
    }
    pub(super) fn peers_per_hint() -> u32 {
        3
    }
    pub(super) fn seeders_per_segment() -> u32 {
        2
    }
    pub(super) fn hinted_segments() -> u32 {
        3
    }
    pub(super) fn min_buffer() -> HumanDuration {
        HumanDuration::from_secs(2)
    }
    pub(super) fn demote_after_reports() -> u32 {
        2
    }
    pub(super) fn exclude_after_reports() -> u32 {
        3
    }
    pub(super) fn peer_timeout() -> HumanDuration {
        HumanDuration::from_secs(3)
    }
    pub(super) fn policy() -> String {
        "adaptive".to_owned()
    }
    pub(super) fn cors_allow_origin() -> String {
        "*".to_owned()
    }
    pub(super) fn access() -> String {
        "open".to_owned()
    }

    pub(super) fn keys_dir() -> PathBuf {
        PathBuf::from("keys")
    }
    pub(super) fn audience() -> String {
        "rilla-edge".to_owned()
    }
    pub(super) fn ttl() -> HumanDuration {
        HumanDuration::from_secs(300)
    }
    pub(super) fn leeway() -> HumanDuration {
        HumanDuration::from_secs(5)
    }
    pub(super) fn query_param() -> String {
        "rt".to_owned()
    }
    pub(super) fn verified_cache_entries() -> u64 {
        100_000
    }
    pub(super) fn max_manifest_bytes() -> u64 {
        4 * 1024 * 1024
    }
    pub(super) fn max_line_bytes() -> u64 {
        64 * 1024
    }
    pub(super) fn max_xml_depth() -> u64 {
        32
    }
    pub(super) fn connect_timeout() -> HumanDuration {
        HumanDuration::from_secs(2)
    }
    pub(super) fn read_timeout() -> HumanDuration {
        HumanDuration::from_secs(10)
    }
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            keys_dir: defaults::keys_dir(),
            signing_kid: None,
            audience: defaults::audience(),
            ttl: defaults::ttl(),
            leeway: defaults::leeway(),
            query_param: defaults::query_param(),
            bind_ip_prefix: false,
            verified_cache_entries: defaults::verified_cache_entries(),
        }
    }
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            public_hosts: Vec::new(),
            cors_allow_origin: defaults::cors_allow_origin(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            tls_listen: None,
            tls_cert: None,
            tls_key: None,
            admin_listen: defaults::admin_listen(),
            threads: 0,
            shutdown_grace: defaults::shutdown_grace(),
            log_format: defaults::log_format(),
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            segment_bytes: defaults::segment_bytes(),
            max_object_bytes: defaults::max_object_bytes(),
            segment_ttl: defaults::segment_ttl(),
            manifest_ttl: defaults::manifest_ttl(),
            manifest_max_stale: defaults::manifest_max_stale(),
        }
    }
}

impl Default for HoldingsConfig {
    fn default() -> Self {
        Self {
            ttl: defaults::holdings_ttl(),
            max_entries: defaults::holdings_max(),
            max_per_swarm: defaults::max_per_swarm(),
            max_viewers: defaults::max_viewers(),
            viewer_ttl: defaults::viewer_ttl(),
        }
    }
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            announce_interval: defaults::announce_interval(),
            max_body_bytes: defaults::max_body_bytes(),
            viewer_rate: defaults::viewer_rate(),
            viewer_burst: defaults::viewer_burst(),
            prefix_rate: defaults::prefix_rate(),
            prefix_burst: defaults::prefix_burst(),
            peers_per_hint: defaults::peers_per_hint(),
            seeders_per_segment: defaults::seeders_per_segment(),
            hinted_segments: defaults::hinted_segments(),
            min_buffer: defaults::min_buffer(),
            region_header: None,
            demote_after_reports: defaults::demote_after_reports(),
            exclude_after_reports: defaults::exclude_after_reports(),
            peer_timeout: defaults::peer_timeout(),
            networks: Vec::new(),
        }
    }
}

impl P2pConfig {
    /// The locality table for [`network_of`]: every CIDR of `networks` with the number of
    /// its network (1 for the first in `networks`, 2 for the next, ...), most specific
    /// (longest) prefix first, and in the order of `networks` among equal prefixes.
    /// CIDRs that do not parse are left out (a checked configuration has none); host
    /// bits written in a CIDR are ignored.
    pub fn network_table(&self) -> Vec<(IpNet, u16)> {
        let mut table: Vec<(IpNet, u16)> = self
            .networks
            .iter()
            .zip(1..=u16::MAX)
            .flat_map(|(network, number)| {
                network
                    .cidrs
                    .iter()
                    .filter_map(|cidr| cidr.parse::<IpNet>().ok())
                    .map(move |net| (net.trunc(), number))
            })
            .collect();
        // A stable sort keeps the order of `networks` among equally specific prefixes.
        table.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        table
    }
}

/// The network `ip` belongs to, by a table from [`P2pConfig::network_table`]: the number
/// of the network with the most specific CIDR containing it, or 0 when none does. An
/// IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) counts as its IPv4 address.
pub fn network_of(table: &[(IpNet, u16)], ip: IpAddr) -> u16 {
    let ip = ip.to_canonical();
    table
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map_or(0, |&(_, number)| number)
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_manifest_bytes: defaults::max_manifest_bytes(),
            max_line_bytes: defaults::max_line_bytes(),
            max_xml_depth: defaults::max_xml_depth(),
        }
    }
}

impl ConfigFile {
    /// A complete configuration for the annotated example: every section, one origin.
    pub fn example() -> Self {
        Self {
            server: ServerConfig::default(),
            tokens: TokensConfig {
                signing_kid: None,
                ..TokensConfig::default()
            },
            edge: EdgeConfig {
                public_hosts: vec![
                    "edge.example.com".to_owned(),
                    "*.edge.example.com".to_owned(),
                ],
                trusted_proxies: vec!["10.0.0.0/8".to_owned()],
                ..EdgeConfig::default()
            },
            limits: LimitsConfig::default(),
            origins: vec![OriginConfig {
                name: "main".to_owned(),
                url: "http://127.0.0.1:8081".to_owned(),
                hosts: vec!["origin.example.com".to_owned()],
                connect_timeout: defaults::connect_timeout(),
                read_timeout: defaults::read_timeout(),
            }],
            cache: CacheConfig::default(),
            holdings: HoldingsConfig::default(),
            p2p: P2pConfig {
                networks: vec![NetworkConfig {
                    name: "example-isp".to_owned(),
                    cidrs: vec!["192.0.2.0/24".to_owned(), "2001:db8::/32".to_owned()],
                }],
                ..P2pConfig::default()
            },
            routes: vec![RouteConfig {
                prefix: "/live/".to_owned(),
                origin: "main".to_owned(),
                access: defaults::access(),
                origin_prefix: None,
                policy: defaults::policy(),
            }],
        }
    }
}
