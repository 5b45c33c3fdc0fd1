//! Accepting HTTP connections with the limits `axum::serve` does not offer: a bounded number at once
//! (more wait in the kernel's backlog), request headers complete within a timeout (a client that trickles
//! headers cannot hold a connection), and a graceful shutdown: the listener closes at once, requests in
//! flight get a bounded time to finish and be answered, and only then are sessions (and their event
//! streams, which never end by themselves) closed. Each request carries the client's address
//! (`ConnectInfo`), for the audit log.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Extension, Router, extract::ConnectInfo};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
};
use tokio_util::sync::CancellationToken;

/// The resource limits of the HTTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Live streamable-HTTP sessions; rmcp closes a session idle for 5 minutes.
    pub max_sessions: usize,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body, once its headers are in.
    pub body_timeout: Duration,
    /// Time requests in flight get to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Time an HTTP+SSE session has to initialize before it is closed.
    pub sse_init_timeout: Duration,
    /// An HTTP+SSE session is closed once its client has sent nothing for this long while none of its
    /// requests is pending (as rmcp closes an idle streamable-HTTP session).
    pub sse_idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            max_sessions: 128,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            sse_init_timeout: Duration::from_secs(30),
            sse_idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Time the event streams get to close once sessions end at shutdown (after the grace).
const CLOSE_STREAMS: Duration = Duration::from_secs(1);

/// Requests in flight: a count that a shutdown waits to see at zero.
#[derive(Clone, Debug)]
pub struct InFlight(Arc<watch::Sender<usize>>);

/// One request in flight, until dropped.
#[derive(Debug)]
pub struct InFlightGuard(Arc<watch::Sender<usize>>);

impl Default for InFlight {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }
}

impl InFlight {
    /// Count a request as in flight until the guard is dropped.
    pub fn enter(&self) -> InFlightGuard {
        self.0.send_modify(|count| *count += 1);
        InFlightGuard(self.0.clone())
    }

    /// How many requests are in flight.
    pub fn count(&self) -> usize {
        *self.0.borrow()
    }

    /// Wait until no request is in flight.
    pub async fn settled(&self) {
        let mut count = self.0.subscribe();
        let _ = count.wait_for(|count| *count == 0).await;
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count = count.saturating_sub(1));
    }
}

/// What a shutdown waits for, and what it ends once the wait is over.
#[derive(Clone, Debug, Default)]
pub struct Drain {
    /// Requests in flight: a tool call until its answer is handed to the connection.
    pub in_flight: InFlight,
    /// Cancelled once no request is in flight (or the grace is over): ends the MCP sessions and their event
    /// streams.
    pub sessions: CancellationToken,
}

/// Serve `router` on `listener` until `shutdown` is cancelled; then stop accepting, let requests in
/// flight finish and be answered for at most the limits' shutdown grace, end the sessions (`drain`) and
/// give their connections a moment to close.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    limits: Limits,
    drain: Drain,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "could not accept a connection");
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone().layer(Extension(ConnectInfo(peer))));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    drain_connections(graceful, limits.shutdown_grace, drain).await;
    Ok(())
}

/// Connections without a request close now; requests in flight get `grace` to finish and be answered;
/// then the sessions end, and their connections get [`CLOSE_STREAMS`] to close.
async fn drain_connections(graceful: GracefulShutdown, grace: Duration, drain: Drain) {
    let in_flight = drain.in_flight.count();
    tracing::info!(
        in_flight,
        ?grace,
        "stopped accepting connections; finishing requests in flight"
    );
    // Idle connections close now, the others once their response is written (event streams: never).
    let connections = tokio::spawn(graceful.shutdown());
    tokio::select! {
        () = drain.in_flight.settled() => {}
        () = tokio::time::sleep(grace) => {
            let in_flight = drain.in_flight.count();
            tracing::warn!(in_flight, ?grace, "requests still in flight after the grace; stopping anyway");
        }
    }
    drain.sessions.cancel();
    if tokio::time::timeout(CLOSE_STREAMS, connections)
        .await
        .is_err()
    {
        tracing::warn!("connections still open after their sessions ended; stopping anyway");
    }
}

/// The client address of a request.
pub type Peer = ConnectInfo<SocketAddr>;
