//! The HTTP+SSE transport of MCP protocol 2024-11-05, served beside streamable HTTP for clients configured
//! for it (`claude mcp add --transport sse`, older clients), as the specification's backwards-compatibility
//! section describes: `GET /sse` opens an event stream whose first event, `endpoint`, names
//! `/messages?sessionId=…`; the client POSTs each JSON-RPC message there (`202 Accepted`) and reads every
//! answer from the stream as a `message` event. rmcp 3.11 has no SSE server, so each stream is bridged to
//! one server through rmcp's (sink, stream) transport. The bearer token, body limit and Host/Origin checks
//! of the streamable endpoint apply here too; live sessions are capped.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::{SinkExt, StreamExt, channel::mpsc};
use rmcp::{
    ServiceExt,
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
};
use tokio_util::sync::CancellationToken;

use super::{ProvisionerServer, http::Guard};

/// Where a client opens the event stream.
pub const SSE_PATH: &str = "/sse";
/// Where a client posts its messages.
pub const MESSAGES_PATH: &str = "/messages";
/// Live SSE sessions at most; more get `503` until one closes.
pub const MAX_SESSIONS: usize = 64;
/// Messages queued per direction and session before the sender waits.
const QUEUE: usize = 32;

type Factory = Arc<dyn Fn() -> ProvisionerServer + Send + Sync>;

/// What the SSE routes share.
#[derive(Clone)]
struct SseState {
    sessions: Arc<Mutex<HashMap<String, mpsc::Sender<ClientJsonRpcMessage>>>>,
    factory: Factory,
    guard: Arc<Guard>,
    shutdown: CancellationToken,
}

/// The SSE routes, to be merged into the HTTP router (which adds the token check and the body limit).
pub fn routes(factory: Factory, guard: Arc<Guard>, shutdown: CancellationToken) -> Router {
    let state = SseState {
        sessions: Arc::default(),
        factory,
        guard,
        shutdown,
    };
    Router::new()
        .route(SSE_PATH, get(open))
        .route(MESSAGES_PATH, post(receive))
        .with_state(state)
}

/// Removes the session when its event stream ends (client gone, server done or shutdown).
struct SessionGuard {
    id: String,
    sessions: Arc<Mutex<HashMap<String, mpsc::Sender<ClientJsonRpcMessage>>>>,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(&self.id);
        }
        tracing::debug!(session = %self.id, "SSE session closed");
    }
}

/// `GET /sse`: start a server for this connection and stream its messages.
async fn open(State(state): State<SseState>, headers: HeaderMap) -> Response {
    if !state.guard.allows(&headers) {
        return Guard::refusal();
    }
    let id = rmcp::transport::common::server_side_http::session_id().to_string();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(QUEUE);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(QUEUE);
    {
        let Ok(mut sessions) = state.sessions.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        if sessions.len() >= MAX_SESSIONS {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("at most {MAX_SESSIONS} SSE sessions; close one and retry\n"),
            )
                .into_response();
        }
        sessions.insert(id.clone(), to_server);
    }
    let server = (state.factory)();
    let cancel = state.shutdown.child_token();
    let serving = cancel.clone();
    tokio::spawn(async move {
        match server
            .serve_with_ct((to_client, from_client), serving)
            .await
        {
            Ok(running) => {
                if let Err(error) = running.waiting().await {
                    tracing::debug!(%error, "SSE session ended");
                }
            }
            Err(error) => tracing::info!(%error, "SSE session did not initialize"),
        }
    });
    tracing::info!(session = %id, "SSE session opened");
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("{MESSAGES_PATH}?sessionId={id}"));
    let guard = SessionGuard {
        id,
        sessions: state.sessions.clone(),
    };
    let messages = from_server.map(move |message| {
        let _alive = &guard;
        let data = serde_json::to_string(&message).unwrap_or_default();
        Ok::<_, Infallible>(Event::default().event("message").data(data))
    });
    let stream = futures::stream::once(async move { Ok(endpoint) })
        .chain(messages)
        .take_until(async move { cancel.cancelled_owned().await });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The query of `POST /messages`.
#[derive(serde::Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// `POST /messages?sessionId=…`: hand one JSON-RPC message to the session's server.
async fn receive(
    State(state): State<SseState>,
    headers: HeaderMap,
    Query(query): Query<SessionQuery>,
    body: Bytes,
) -> Response {
    if !state.guard.allows(&headers) {
        return Guard::refusal();
    }
    let sender = state
        .sessions
        .lock()
        .ok()
        .and_then(|sessions| sessions.get(&query.session_id).cloned());
    let Some(mut sender) = sender else {
        return (
            StatusCode::NOT_FOUND,
            "no such SSE session; open a new one at /sse\n",
        )
            .into_response();
    };
    let message: ClientJsonRpcMessage = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(error) => return super::http::parse_error_response(&error),
    };
    if sender.send(message).await.is_err() {
        return (
            StatusCode::GONE,
            "the SSE session has ended; open a new one at /sse\n",
        )
            .into_response();
    }
    StatusCode::ACCEPTED.into_response()
}
