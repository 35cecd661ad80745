//! The built-in origin server of Rilla Edge, for the demo and the end-to-end tests.
//!
//! It serves a true live stream, in HLS (fMP4) and DASH (`isoff-live`, `SegmentTemplate`
//! with `$Number$`), made by looping ten seconds of real H.264 segments embedded in the
//! crate: segment numbers and media timestamps keep advancing with the wall clock, so a
//! player sees one continuous timeline. Next to the stream it offers endpoints that behave
//! like a broken or hostile origin (`/faults/...`: error statuses, stalls, truncated or
//! lying bodies, garbage, XML bombs, huge playlists) and request counters
//! (`/_origin/stats`) with which tests prove what reached the origin. It is a plain
//! HTTP/1.1 server on Tokio with `httparse`, so that faults have byte-level control of
//! the socket.
//!
//! It is not a packager or a production origin: it has no TLS, no range requests, no
//! on-demand content, no DRM, and it serves the same looping content under every
//! `/live/<stream>/` name.

mod clock;
mod faults;
mod http;
mod manifests;
mod media;
pub mod mp4;
mod router;
mod server;
mod stats;

pub use server::{Origin, OriginOptions};

use std::io::Write as _;
use std::net::SocketAddr;

use anyhow::Context as _;

/// Blocking entry point for `rilla origin --listen ADDR`, with default options.
///
/// See [`run_with`].
pub fn run(listen: SocketAddr) -> anyhow::Result<()> {
    run_with(listen, OriginOptions::default())
}

/// Blocking entry point with explicit options: binds `listen` (port 0 picks a free port),
/// prints one line `origin listening on http://ADDR` to stdout and flushes it, then serves
/// until SIGTERM or SIGINT and returns `Ok(())`.
pub fn run_with(listen: SocketAddr, options: OriginOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the Tokio runtime")?;
    runtime.block_on(async {
        let origin = Origin::bind(listen, options)
            .await
            .with_context(|| format!("binding the origin to {listen}"))?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "origin listening on http://{}", origin.local_addr())?;
            out.flush()?;
        }
        origin.serve(shutdown_signal()).await?;
        tracing::info!("origin stopped");
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM; never, if no signal handler can be installed.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = async {
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    term.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}
