//! The listener, its accept loop and one task per connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::clock::{self, Timeline};
use crate::faults;
use crate::http::{Conn, Method};
use crate::manifests::Live;
use crate::media::Media;
use crate::router::{self, Action, State};
use crate::stats::Stats;

/// How the origin's live stream is laid out in time.
///
/// The segment duration is not an option: it comes from the embedded media (2 s).
#[derive(Debug, Clone)]
pub struct OriginOptions {
    /// Wall-clock start of segment 0 (and the MPD's `availabilityStartTime`), truncated to
    /// whole milliseconds. Default: the time `default()` is called. A time in the past makes
    /// segments available at once: 100 s ago puts the live edge at segment 49.
    pub start: SystemTime,
    /// Segments listed in each HLS media playlist, also the DASH `timeShiftBufferDepth`
    /// in segments. Default 6; at least 1.
    pub window: u64,
    /// How many segments behind the live edge can still be fetched; older ones are 404.
    /// Default 60; never less than `window`.
    pub history: u64,
    /// What a request for the segment in production (the one after the newest listed)
    /// gets: `true` (default) holds the request until that segment is complete, at most one
    /// segment duration, then serves it; `false` answers 404 at once. Segments further
    /// ahead are always 404. Holding lets players that request ahead of the live edge
    /// (ffmpeg's DASH demuxer does) follow the stream.
    pub hold_next_segment: bool,
}

impl Default for OriginOptions {
    fn default() -> Self {
        OriginOptions {
            start: SystemTime::now(),
            window: 6,
            history: 60,
            hold_next_segment: true,
        }
    }
}

/// A bound origin server, ready to [`serve`](Origin::serve).
#[derive(Debug)]
pub struct Origin {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: Arc<State>,
}

impl Origin {
    /// Loads the embedded media and binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, options: OriginOptions) -> io::Result<Origin> {
        let media = Media::load().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let segment_nanos =
            u128::from(media.segment_ticks) * 1_000_000_000 / u128::from(media.timescale.max(1));
        let segment = Duration::from_nanos(u64::try_from(segment_nanos).unwrap_or(u64::MAX));
        let window = options.window.max(1);
        let live = Live {
            timeline: Timeline {
                start: clock::truncate_to_millis(options.start),
                segment,
            },
            window,
        };
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Origin {
            listener,
            local_addr,
            state: Arc::new(State {
                media,
                live,
                history: options.history.max(window),
                hold_next_segment: options.hold_next_segment,
                stats: Stats::default(),
            }),
        })
    }

    /// The address the origin listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Wall-clock start of segment 0, as announced in the MPD.
    pub fn start_time(&self) -> SystemTime {
        self.state.live.timeline.start
    }

    /// Duration of every segment.
    pub fn segment_duration(&self) -> Duration {
        self.state.live.timeline.segment
    }

    /// Accepts connections until `shutdown` resolves, then closes every open connection
    /// and returns. A failing connection never stops the server.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> io::Result<()> {
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(connection(stream, Arc::clone(&self.state)));
                    }
                    Err(err) => {
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
                Some(joined) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(err) = joined {
                        tracing::error!(%err, "connection task failed");
                    }
                }
            }
        }
        connections.shutdown().await;
        Ok(())
    }
}

async fn connection(stream: TcpStream, state: Arc<State>) {
    let mut conn = Conn::new(stream);
    loop {
        let request = match conn.read_request().await {
            Ok(request) => request,
            Err(err) => {
                if let Some(response) = err.response() {
                    let _ = conn.write_response(response, false, false).await;
                    conn.close_after_error().await;
                    return;
                }
                break;
            }
        };
        let head_only = request.method == Method::Head;
        let keep_alive = request.keep_alive;
        let response = match router::route(&state, &request, SystemTime::now()) {
            Action::Respond(response) => response,
            Action::Delay(delay, response) => {
                tokio::time::sleep(delay).await;
                response
            }
            Action::Raw(raw) => {
                faults::run(raw, conn.stream(), head_only).await;
                return;
            }
        };
        if conn
            .write_response(response, head_only, keep_alive)
            .await
            .is_err()
            || !keep_alive
        {
            break;
        }
    }
    conn.close().await;
}
