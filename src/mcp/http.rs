//! HTTP transports: `serve --http ADDR` serves streamable HTTP at `/mcp` and the legacy HTTP+SSE transport
//! at `/sse` + `/messages`. Loopback by default; any other address needs a bearer token (compared in
//! constant time) or the server refuses to start. `Host` and `Origin` are checked (DNS-rebinding
//! protection), bodies are size-limited, and SIGTERM/SIGINT shut it down gracefully.

use std::{net::SocketAddr, sync::Arc};

pub use super::listen::Limits;
use super::{
    guard::Guard,
    listen::{Drain, InFlight},
};
use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::ProvisionerServer;
use crate::core::domain::secret::Secret;

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";
/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Shortest accepted bearer token.
pub const MIN_TOKEN_CHARS: usize = 32;

/// How the HTTP endpoint is protected.
#[derive(Clone, Debug, Default)]
pub struct HttpOptions {
    /// The bearer token clients must send; required off loopback.
    pub token: Option<Secret>,
    /// Extra `Host` values to accept (hostnames or `host:port`), besides loopback names.
    pub allowed_hosts: Vec<String>,
    /// Browser origins to accept (`scheme://host:port`; `:*` for any port), besides loopback origins.
    pub allowed_origins: Vec<String>,
    /// The server exposes destructive (admin-mode) tools.
    pub admin: bool,
    /// Serve admin tools without a token anyway (loopback only; any local process could call them).
    pub allow_unauthenticated_admin: bool,
    /// Connection, session and time limits.
    pub limits: Limits,
}

/// Why the HTTP server would not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A non-loopback address without a token.
    #[error(
        "refusing to serve MCP on non-loopback address {0} without a bearer token: set \
         BEDROCK_PROVISIONER_HTTP_TOKEN or --http-token-file (at least {MIN_TOKEN_CHARS} characters), or \
         bind to 127.0.0.1"
    )]
    TokenRequired(SocketAddr),
    /// Admin tools over HTTP without a token, not explicitly allowed.
    #[error(
        "refusing to serve admin-mode tools (deleting users and keys) over HTTP without a bearer token: any \
         local process or browser page that reaches {0} could call them. Set BEDROCK_PROVISIONER_HTTP_TOKEN or \
         --http-token-file, or pass --allow-unauthenticated-admin to accept the risk"
    )]
    AdminWithoutToken(SocketAddr),
    /// The token is too short to resist guessing.
    #[error(
        "the bearer token must have at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 32`)"
    )]
    WeakToken,
    /// The socket failed.
    #[error("HTTP server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Check the options against the address before binding.
pub fn check_options(addr: SocketAddr, options: &HttpOptions) -> Result<(), HttpError> {
    match &options.token {
        None if !addr.ip().is_loopback() => Err(HttpError::TokenRequired(addr)),
        None if options.admin && !options.allow_unauthenticated_admin => {
            Err(HttpError::AdminWithoutToken(addr))
        }
        Some(token) if token.expose().chars().count() < MIN_TOKEN_CHARS => {
            Err(HttpError::WeakToken)
        }
        _ => Ok(()),
    }
}

/// Serve MCP on `listener` until `shutdown` is cancelled. Each MCP session gets a server from `factory`.
pub async fn serve_http(
    listener: TcpListener,
    factory: impl Fn() -> ProvisionerServer + Send + Sync + 'static,
    options: HttpOptions,
    shutdown: CancellationToken,
) -> Result<(), HttpError> {
    let addr = listener.local_addr()?;
    check_options(addr, &options)?;
    let guard = guard_for(addr, &options);
    let factory: Arc<dyn Fn() -> ProvisionerServer + Send + Sync> = Arc::new(factory);
    // Sessions outlive the shutdown signal until the requests in flight are answered (see `listen`).
    let drain = Drain::default();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(guard.hosts().to_vec())
        .with_allowed_origins(guard.origins().to_vec())
        .with_cancellation_token(drain.sessions.child_token());
    let streamable_factory = factory.clone();
    let sessions = Arc::new(LocalSessionManager::default());
    let service =
        StreamableHttpService::new(move || Ok(streamable_factory()), sessions.clone(), config);
    let token = Arc::new(options.token);
    let router = Router::new()
        .nest_service(MCP_PATH, service)
        .layer(middleware::from_fn_with_state(
            (sessions, options.limits.max_sessions),
            limit_sessions,
        ))
        .layer(middleware::from_fn_with_state(
            drain.in_flight.clone(),
            track_in_flight,
        ))
        .merge(super::sse::routes(
            factory,
            Arc::new(guard),
            drain.clone(),
            options.limits,
        ))
        // Outermost last: the token is checked first, then the size, then the body is read.
        .layer(middleware::from_fn_with_state(
            options.limits.body_timeout,
            read_json_body,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(middleware::from_fn_with_state(token, require_token));
    tracing::info!(%addr, path = MCP_PATH, sse = super::sse::SSE_PATH, "serving MCP over streamable HTTP and HTTP+SSE");
    super::listen::serve(listener, router, shutdown, options.limits, drain).await?;
    tracing::info!("HTTP server stopped");
    Ok(())
}

/// The allowed hosts and origins: loopback names, the bound address, and the configured extras.
fn guard_for(addr: SocketAddr, options: &HttpOptions) -> Guard {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !addr.ip().is_unspecified() {
        hosts.push(addr.ip().to_string());
    }
    hosts.extend(options.allowed_hosts.iter().cloned());
    let mut origins = vec![
        "http://localhost:*".to_owned(),
        "http://127.0.0.1:*".to_owned(),
        "http://[::1]:*".to_owned(),
    ];
    origins.extend(options.allowed_origins.iter().cloned());
    Guard::new(hosts, origins)
}

/// Refuse a new session (a POST without `Mcp-Session-Id`) while `max` are live: `503`.
async fn limit_sessions(
    State((sessions, max)): State<(Arc<LocalSessionManager>, usize)>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let opens = request.method() == axum::http::Method::POST
        && !request.headers().contains_key("mcp-session-id");
    if opens && sessions.sessions.read().await.len() >= max {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "60")],
            format!("{max} MCP sessions are open; close one or retry later\n"),
        )
            .into_response();
    }
    next.run(request).await
}

/// Count a POST to the streamable endpoint as in flight until its response body is done (for a request,
/// once its answer is written), so that a shutdown answers it before ending the sessions.
async fn track_in_flight(
    State(in_flight): State<InFlight>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let guard = in_flight.enter();
    let (parts, body) = next.run(request).await.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _in_flight = &guard;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

/// Read a POST body (after the token check, so an unauthenticated client cannot make the server read
/// anything) under the size limit, and answer what the transports would get wrong: a body over the limit,
/// chunked or not, is `413` (rmcp answered `500`), and malformed JSON is a JSON-RPC parse error with `400`
/// (rmcp answered `415`).
async fn read_json_body(
    State(timeout): State<std::time::Duration>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY_BYTES));
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {MAX_BODY_BYTES} bytes\n"),
            )
                .into_response();
        }
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                format!("request body not complete within {timeout:?}\n"),
            )
                .into_response();
        }
    };
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json && let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return super::guard::parse_error_response(&error);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Reject requests without the bearer token (when one is configured), in constant time.
async fn require_token(
    State(token): State<Arc<Option<Secret>>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if let Some(expected) = token.as_ref() {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let matches: bool = given.as_bytes().ct_eq(expected.expose().as_bytes()).into();
        if !matches {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "missing or wrong bearer token\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// A token that is cancelled on SIGTERM or SIGINT. The handlers are installed before this returns,
/// so a signal that arrives as soon as the server says it listens is already a graceful shutdown.
pub fn shutdown_on_signal() -> std::io::Result<CancellationToken> {
    let token = CancellationToken::new();
    let trigger = token.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutting down");
            trigger.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_a_strong_token() {
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(matches!(
            check_options(public, &HttpOptions::default()),
            Err(HttpError::TokenRequired(_))
        ));
        assert!(check_options(local, &HttpOptions::default()).is_ok());
        let admin = HttpOptions {
            admin: true,
            ..HttpOptions::default()
        };
        assert!(matches!(
            check_options(local, &admin),
            Err(HttpError::AdminWithoutToken(_))
        ));
        let accepted = HttpOptions {
            allow_unauthenticated_admin: true,
            ..admin
        };
        assert!(check_options(local, &accepted).is_ok());
        let weak = HttpOptions {
            token: Some(Secret::new("short")),
            ..HttpOptions::default()
        };
        assert!(matches!(
            check_options(public, &weak),
            Err(HttpError::WeakToken)
        ));
        let strong = HttpOptions {
            token: Some(Secret::new("x".repeat(32))),
            ..HttpOptions::default()
        };
        assert!(check_options(public, &strong).is_ok());
        assert!(!format!("{strong:?}").contains("xxxx"));
    }
}
