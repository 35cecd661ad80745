//! The edge proxy: a Pingora server with a public listener (plain HTTP, and HTTPS with
//! HTTP/2 when configured), an admin listener, and background tasks (holdings sweep,
//! reload on SIGHUP).
//!
//! The life of a request is in `docs/architecture.md`.

pub mod admin;
pub mod manifests;
pub mod metrics;
pub mod origin;
pub mod p2p;
pub mod reload;
pub mod reply;
pub mod runtime;
pub mod segments;
pub mod service;
pub mod state;
pub mod swarms;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context as _;
use async_trait::async_trait;
use pingora::{
    listeners::tls::TlsSettings,
    server::{RunArgs, Server, ShutdownWatch, configuration::ServerConf},
    services::{background::BackgroundService, listening::Service},
};
use rilla_config::Config;

pub use reload::{ReloadError, ReloadOutcome, restart_only_changes};
pub use runtime::Runtime;
pub use state::Edge;

/// Starts structured logging on standard error, once per process: `text` or `json`,
/// filtered by `RUST_LOG` (default `info`).
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests, the demo) keeps the first subscriber.
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Periodic housekeeping: expires holdings and refreshes gauges.
struct Housekeeping {
    edge: Arc<Edge>,
}

#[async_trait]
impl BackgroundService for Housekeeping {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tick.tick() => self.edge.refresh_gauges(),
            }
        }
    }
}

/// Reloads the configuration on SIGHUP.
struct ReloadOnHangup {
    edge: Arc<Edge>,
}

#[async_trait]
impl BackgroundService for ReloadOnHangup {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP; reload through POST /admin/reload");
            return;
        };
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = hangup.recv() => {
                    let _ = reload::reload(&self.edge);
                }
            }
        }
    }
}

/// Extra services to run beside the edge (the demo adds its origin and a status line).
pub type ExtraService = Box<dyn pingora::services::ServiceWithDependents>;

/// Builds the Pingora server for a checked configuration, with the shared state.
pub fn build_server(
    config: Config,
    config_path: Option<PathBuf>,
) -> anyhow::Result<(Server, Arc<Edge>)> {
    let runtime = Runtime::load(config)?;
    let server_conf = runtime.config.file.server.clone();
    let tls_paths = match (
        &server_conf.tls_listen,
        &server_conf.tls_cert,
        &server_conf.tls_key,
    ) {
        (Some(addr), Some(cert), Some(key)) => Some((
            addr.clone(),
            runtime.config.resolve_path(cert),
            runtime.config.resolve_path(key),
        )),
        _ => None,
    };
    let edge = Arc::new(Edge::new(runtime, config_path));

    let grace = server_conf.shutdown_grace.get().as_secs();
    let threads = match usize::try_from(server_conf.threads).unwrap_or(0) {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let pid = std::process::id();
    let conf = ServerConf {
        threads,
        grace_period_seconds: Some(grace),
        graceful_shutdown_timeout_seconds: Some(grace.max(1)),
        pid_file: std::env::temp_dir()
            .join(format!("rilla-{pid}.pid"))
            .display()
            .to_string(),
        upgrade_sock: std::env::temp_dir()
            .join(format!("rilla-{pid}-upgrade.sock"))
            .display()
            .to_string(),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let mut public = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        service::EdgeProxy::new(edge.clone()),
        "rilla edge",
    );
    public.add_tcp(&server_conf.listen);
    if let Some((addr, cert, key)) = tls_paths {
        let cert = path_text(&cert)?;
        let key = path_text(&key)?;
        let mut tls = TlsSettings::intermediate(cert, key).map_err(|e| {
            anyhow::anyhow!("cannot use the TLS certificate {cert} and key {key}: {e}")
        })?;
        tls.enable_h2();
        public.add_tls_with_settings(&addr, None, tls);
    }
    let mut admin = Service::new("rilla admin".to_owned(), admin::AdminApp::new(edge.clone()));
    admin.add_tcp(&server_conf.admin_listen);
    admin.threads = Some(1);

    server.add_service(public);
    server.add_service(admin);
    server.add_service(pingora::services::background::background_service(
        "housekeeping",
        Housekeeping { edge: edge.clone() },
    ));
    server.add_service(pingora::services::background::background_service(
        "reload on SIGHUP",
        ReloadOnHangup { edge: edge.clone() },
    ));
    Ok((server, edge))
}

fn path_text(p: &Path) -> anyhow::Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not a UTF-8 path", p.display()))
}

/// `rilla proxy --config FILE`: checks the file, then serves until SIGTERM (graceful, within
/// `server.shutdown_grace`) or SIGINT (immediate).
pub fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = rilla_config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    init_logging(&config.file.server.log_format);
    let listen = config.file.server.listen.clone();
    let admin = config.file.server.admin_listen.clone();
    let (server, _edge) = build_server(config, Some(config_path.to_path_buf()))?;
    tracing::info!(%listen, %admin, "rilla edge starting");
    server.run(RunArgs::default());
    Ok(())
}
