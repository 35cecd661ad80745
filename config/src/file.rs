//! The configuration file as written by operators: one struct per TOML table.
//!
//! Every field is documented with its unit and default; `rilla config example` turns these
//! doc comments into the annotated example, so they are written for operators.

use std::path::PathBuf;

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
    /// Most holdings kept in total; new ones are refused (and counted) beyond it.
    /// Default: 1000000.
    #[serde(default = "defaults::holdings_max")]
    pub max_entries: u64,
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
        }
    }
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
            routes: vec![RouteConfig {
                prefix: "/live/".to_owned(),
                origin: "main".to_owned(),
                access: defaults::access(),
                origin_prefix: None,
            }],
        }
    }
}
