//! What a checked configuration becomes at run time: loaded keys, resolved origins.
//! A reload builds a new `Runtime` and swaps it in whole.

use std::{collections::HashMap, net::ToSocketAddrs as _};

use anyhow::Context as _;
use rilla_config::Config;
use rilla_manifest_rewriter::Limits;
use rilla_token::{KeySet, Signer, Verifier, VerifierOptions};

use super::{origin::OriginTarget, swarms::Limiters};

/// Everything a request needs from the configuration.
pub struct Runtime {
    /// The checked configuration.
    pub config: Config,
    /// The public key set, as served at `/.well-known/jwks.json`.
    pub jwks: String,
    /// Signs viewer tokens.
    pub signer: Signer,
    /// Checks viewer tokens.
    pub verifier: Verifier,
    /// Origins by name.
    pub origins: HashMap<String, OriginTarget>,
    /// Rewriter limits.
    pub limits: Limits,
    /// The rules every orchestration policy keeps.
    pub rules: rilla_swarm::PlanRules,
    /// The locality table: CIDR to network number, most specific first.
    pub networks: Vec<(ipnet::IpNet, u16)>,
    /// P2P API rate limits (their state starts afresh on reload).
    pub limiters: Limiters,
    /// Networks of the load balancers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

fn origin_target(origin: &rilla_config::OriginConfig) -> anyhow::Result<OriginTarget> {
    let url = url::Url::parse(&origin.url)
        .with_context(|| format!("origin {}: bad url {:?}", origin.name, origin.url))?;
    let host = url
        .host_str()
        .with_context(|| format!("origin {}: url has no host", origin.name))?
        .trim_matches(['[', ']'])
        .to_owned();
    let tls = url.scheme() == "https";
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("origin {}: cannot resolve {host}", origin.name))?
        .next()
        .with_context(|| format!("origin {}: {host} has no address", origin.name))?;
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    };
    Ok(OriginTarget {
        name: origin.name.clone(),
        addr,
        tls,
        host: host_header,
        base_path: url.path().trim_end_matches('/').to_owned(),
        connect_timeout: origin.connect_timeout.get(),
        read_timeout: origin.read_timeout.get(),
    })
}

impl Runtime {
    /// Loads the keys and resolves the origins of a checked configuration.
    pub fn load(config: Config) -> anyhow::Result<Self> {
        let keys_dir = config.keys_dir();
        let keys = KeySet::load_dir(&keys_dir)
            .with_context(|| format!("cannot load the keys in {}", keys_dir.display()))?;
        let tokens = &config.file.tokens;
        let signer = Signer::new(&keys, tokens.signing_kid.as_deref())
            .context("no key to sign viewer tokens with")?;
        let verifier = Verifier::new(
            &keys,
            VerifierOptions {
                audience: tokens.audience.clone(),
                leeway: tokens.leeway.get(),
                cache_capacity: usize::try_from(tokens.verified_cache_entries)
                    .unwrap_or(usize::MAX),
            },
        );
        let mut origins = HashMap::new();
        for origin in &config.file.origins {
            origins.insert(origin.name.clone(), origin_target(origin)?);
        }
        let p2p = &config.file.p2p;
        let (rules, networks, limiters) = (
            super::swarms::plan_rules(p2p),
            p2p.network_table(),
            Limiters::new(p2p),
        );
        let trusted_proxies = config
            .file
            .edge
            .trusted_proxies
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect();
        Ok(Self {
            trusted_proxies,
            rules,
            networks,
            limiters,
            jwks: keys.jwks_json(),
            limits: rilla_plugins::rewrite_limits(&config.file.limits),
            config,
            signer,
            verifier,
            origins,
        })
    }
}
