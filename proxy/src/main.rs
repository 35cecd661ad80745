//! The `rilla` command: parses the command line and calls the tool it names.

use std::{
    io::{Read as _, Write as _},
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    process::ExitCode,
    time::Duration,
};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use rilla_proxy::tools::{self, Outcome};

/// mimalloc: the edge allocates many short-lived buffers per request on several threads,
/// where it measured faster than the system allocator (see `bench/serve.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rilla Edge: a peer-assisted video delivery edge.
#[derive(Parser)]
#[command(name = "rilla", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the edge proxy: every player URL through it, tokens on every URI.
    Proxy {
        /// The configuration file (see `rilla config example`).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run the demo: a built-in origin with a live HLS and DASH stream, and the edge in
    /// front of it. Prints the URLs to play and a status line every few seconds.
    Demo {
        /// Public listener of the edge.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Admin listener (metrics).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9090")]
        admin_listen: String,
        /// Peers (`rilla swarm`) to run on the demo stream, so that the status line and
        /// the metrics show peer delivery live; 0 runs none.
        #[arg(long, value_name = "N", default_value_t = 10)]
        viewers: usize,
    },
    /// Follow a stream like a player through the edge, fetching segments from the peers
    /// the edge hints (verified by SHA-256, the CDN as fallback) and serving what it
    /// holds. Prints a line per second and a summary at the end.
    Peer {
        #[command(flatten)]
        peer: PeerArgs,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run N peers in one process on one stream and measure the swarm: deflection,
    /// start-up time, stalls, CDN egress over time.
    Swarm {
        #[command(flatten)]
        peer: PeerArgs,
        /// Viewers.
        #[arg(long, value_name = "N", default_value_t = 10)]
        viewers: usize,
        /// Viewers joining per second (0: all at once).
        #[arg(long, value_name = "R", default_value_t = 5.0)]
        join_rate: f64,
        /// Percent of the viewers leaving and rejoining per minute.
        #[arg(long, value_name = "P", default_value_t = 0.0)]
        churn: f64,
        /// Viewers (the first to join) that serve corrupted bytes, to test liar handling.
        #[arg(long, value_name = "N", default_value_t = 0)]
        liars: usize,
        /// Viewers (the last to join) with P2P off.
        #[arg(long, value_name = "N", default_value_t = 0)]
        cdn_only_viewers: usize,
        /// Kill half the viewers (without a goodbye) after this long.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        kill_half_after: Option<Duration>,
        /// Print a line per second.
        #[arg(long)]
        progress: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the built-in origin alone: a live stream (/live/ch1/master.m3u8,
    /// /live/ch1/manifest.mpd) and fault endpoints under /faults/ for tests.
    Origin {
        /// Address to listen on (port 0 picks a free port; the bound address is printed).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
    },
    /// Viewer tokens: make keys, sign and verify tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Configuration: check a file, print the annotated example.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manifests: personalize an HLS playlist or DASH MPD as the edge does.
    #[command(subcommand)]
    Manifest(ManifestCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Write a new Ed25519 signing key (<kid>.pem) and the updated public key set
    /// (jwks.json) into DIR. The newest key signs; older ones keep verifying while they
    /// stay in jwks.json.
    Keygen {
        /// Key directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Print a token that lets viewer V fetch everything under a path scope.
    Sign {
        /// Key directory, as written by `rilla token keygen`.
        #[arg(long, value_name = "DIR")]
        keys: PathBuf,
        /// Viewer id (the `sub` claim): 1 to 64 characters of A-Z a-z 0-9 - _.
        #[arg(long, value_name = "V")]
        sub: String,
        /// Path scope: a prefix ending in `/` (e.g. /live/ch1/) or one exact path.
        #[arg(long, value_name = "PATH")]
        scope: String,
        /// Lifetime, with a unit (30s, 5m, 1h).
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        ttl: Duration,
        /// Audience (`aud` claim).
        #[arg(long, default_value = rilla_token::DEFAULT_AUDIENCE)]
        aud: String,
        /// Bind the token to a client IP prefix, e.g. 203.0.113.0/24 or 2001:db8::/64.
        #[arg(long, value_name = "CIDR")]
        ip_prefix: Option<String>,
        /// Key id to sign with (default: the newest key).
        #[arg(long)]
        kid: Option<String>,
    },
    /// Check the token carried by URL for URL's path. Exits 0 and prints the claims as
    /// JSON when valid; otherwise exits 1 and names the reason (missing, malformed,
    /// unknown_kid, bad_signature, expired, not_yet_valid, wrong_audience, wrong_scope,
    /// wrong_client, tampered_path).
    Verify {
        /// Key directory (its jwks.json holds the verification keys).
        #[arg(long, value_name = "DIR")]
        keys: PathBuf,
        /// The URL to check, with its token in the query.
        url: String,
        /// Query parameter carrying the token.
        #[arg(long, default_value = rilla_token::DEFAULT_QUERY_PARAM)]
        param: String,
        /// Audience required.
        #[arg(long, default_value = rilla_token::DEFAULT_AUDIENCE)]
        aud: String,
        /// Clock skew tolerated, with a unit.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        leeway: Duration,
        /// Client address, for tokens bound to an IP prefix.
        #[arg(long)]
        client_ip: Option<IpAddr>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check a configuration file; every error is reported at once with its key path
    /// and line. Exits 1 if there is any.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
    /// Print a complete annotated example configuration.
    Example,
}

#[derive(Subcommand)]
enum ManifestCommand {
    /// Personalize a manifest for one viewer: sign every URI that is ours, inject the
    /// session tag and hints. The format (HLS or DASH) is detected from the content.
    Rewrite {
        /// Key directory, as written by `rilla token keygen`.
        #[arg(long, value_name = "DIR")]
        keys: PathBuf,
        /// The URL the manifest was fetched from: the base for relative URIs; its host
        /// counts as ours.
        #[arg(long)]
        url: String,
        /// Viewer id to personalize for.
        #[arg(long, value_name = "V")]
        viewer: Option<String>,
        /// JSON file with a session and per-segment hints (see docs/manifest-tags.md).
        #[arg(long, value_name = "FILE")]
        hints: Option<PathBuf>,
        /// Configuration file: more hosts that count as ours, token settings, limits.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Token lifetime, overriding the configuration.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
        /// The manifest file, or - for standard input.
        #[arg(default_value = "-")]
        input: PathBuf,
    },
}

/// What a peer does: shared by `rilla peer` and `rilla swarm`.
#[derive(clap::Args, Debug, Clone)]
struct PeerArgs {
    /// The stream's playlist through the edge (multivariant or media).
    url: String,
    /// Keep this rendition (a part of its playlist's path, e.g. v360); by default
    /// throughput-based ABR chooses.
    #[arg(long, value_name = "NAME")]
    rendition: Option<String>,
    /// Play from the CDN only: no peers, no uploads.
    #[arg(long)]
    no_p2p: bool,
    /// Upload capacity declared to the edge, kbit/s.
    #[arg(long, value_name = "K", default_value_t = 20_000)]
    upload_kbps: u32,
    /// Most concurrent uploads to peers.
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_uploads: usize,
    /// Address to serve peers on (port 0: a free port each).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// How long to run, with a unit.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Serve corrupted bytes to peers, to test that victims detect and report it.
    #[arg(long, hide = true)]
    corrupt_uploads: bool,
}

impl PeerArgs {
    fn options(&self) -> tools::peer::PeerOptions {
        tools::peer::PeerOptions {
            url: self.url.clone(),
            rendition: self.rendition.clone(),
            no_p2p: self.no_p2p,
            upload_kbps: self.upload_kbps,
            max_uploads: self.max_uploads,
            listen: self.listen,
            duration: self.duration,
            corrupt_uploads: self.corrupt_uploads,
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    rilla_token::parse_duration(text).map_err(|e| format!("{e} (write e.g. 30s, 5m, 1h)"))
}

fn finish(outcome: Outcome) -> ExitCode {
    print!("{}", outcome.stdout);
    eprint!("{}", outcome.stderr);
    ExitCode::from(u8::try_from(outcome.code).unwrap_or(1))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    Ok(match cli.command {
        Command::Proxy { config } => {
            rilla_proxy::edge::run(&config)?;
            ExitCode::SUCCESS
        }
        Command::Demo {
            listen,
            admin_listen,
            viewers,
        } => {
            rilla_proxy::demo::run(&rilla_proxy::demo::DemoOptions {
                listen,
                admin_listen,
                viewers,
            })?;
            ExitCode::SUCCESS
        }
        Command::Peer { peer, json } => {
            if tools::peer::peer(&peer.options(), json)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::Swarm {
            peer,
            viewers,
            join_rate,
            churn,
            liars,
            cdn_only_viewers,
            kill_half_after,
            progress,
            json,
        } => {
            let opts = tools::peer::SwarmOptions {
                viewers,
                join_rate,
                churn,
                liars,
                cdn_only_viewers,
                kill_half_after,
                progress,
            };
            if tools::peer::swarm(&peer.options(), &opts, json)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::Origin { listen } => {
            rilla_origin::run_with(listen, rilla_proxy::demo::live_origin_options())?;
            ExitCode::SUCCESS
        }
        Command::Token(TokenCommand::Keygen { out }) => finish(tools::token::keygen(&out)?),
        Command::Token(TokenCommand::Sign {
            keys,
            sub,
            scope,
            ttl,
            aud,
            ip_prefix,
            kid,
        }) => finish(tools::token::sign(&tools::token::SignRequest {
            keys: &keys,
            sub: &sub,
            scope: &scope,
            ttl,
            audience: &aud,
            ip_prefix: ip_prefix.as_deref(),
            kid: kid.as_deref(),
        })?),
        Command::Token(TokenCommand::Verify {
            keys,
            url,
            param,
            aud,
            leeway,
            client_ip,
        }) => finish(tools::token::verify(&tools::token::VerifyRequest {
            keys: &keys,
            url: &url,
            param: &param,
            audience: &aud,
            leeway,
            client_ip,
        })?),
        Command::Config(ConfigCommand::Check { file }) => finish(tools::config::check(&file)),
        Command::Config(ConfigCommand::Example) => finish(tools::config::example()),
        Command::Manifest(ManifestCommand::Rewrite {
            keys,
            url,
            viewer,
            hints,
            config,
            ttl,
            input,
        }) => {
            let config = match config {
                Some(path) => match rilla_config::load(&path) {
                    Ok(c) => c,
                    Err(errors) => return Ok(finish(Outcome::refused(errors.to_string()))),
                },
                None => rilla_config::Config::default(),
            };
            let bytes = if input.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .context("cannot read standard input")?;
                buf
            } else {
                std::fs::read(&input).with_context(|| format!("cannot read {}", input.display()))?
            };
            let out = tools::manifest::rewrite(
                &tools::manifest::RewriteRequest {
                    keys: &keys,
                    url: &url,
                    viewer: viewer.as_deref(),
                    hints: hints.as_deref(),
                    config: &config,
                    ttl,
                },
                &bytes,
            )?;
            std::io::stdout()
                .write_all(&out)
                .context("cannot write the manifest")?;
            ExitCode::SUCCESS
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
