//! The HTTP+SSE transport of MCP protocol 2024-11-05, served beside streamable HTTP for clients configured
//! for it (`claude mcp add --transport sse`, older clients), as the specification's backwards-compatibility
//! section describes: `GET /sse` opens an event stream whose first event, `endpoint`, names
//! `/messages?sessionId=…`; the client POSTs each JSON-RPC message there (`202 Accepted`) and reads every
//! answer from the stream as a `message` event. rmcp 3.11 has no SSE server, so each stream is bridged to
//! one server through rmcp's (sink, stream) transport. The bearer token, body limit and Host/Origin checks
//! of the streamable endpoint apply here too. Live sessions are capped; a session closes when it does not
//! initialize in time or falls idle; and a client that does not read its stream cannot make the server
//! queue for it without bound: at most [`MAX_PENDING`] of its requests wait for the stream, more get `429`.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::{ConnectInfo, Query, State},
    http::{StatusCode, header, request::Parts},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::{SinkExt, StreamExt, channel::mpsc};
use rmcp::{
    ServiceExt,
    model::{
        ClientJsonRpcMessage, ClientNotification, GetExtensions, JsonRpcMessage, RequestId,
        ServerJsonRpcMessage,
    },
};
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use super::{
    ProvisionerServer,
    guard::Guard,
    listen::{Drain, InFlightGuard, Limits, Peer},
};

/// Where a client opens the event stream.
pub const SSE_PATH: &str = "/sse";
/// Where a client posts its messages.
pub const MESSAGES_PATH: &str = "/messages";
/// Live SSE sessions at most; more get `503` until one closes.
pub const MAX_SESSIONS: usize = 64;
/// Requests of one session waiting for their answer to go out on its stream, at most; more get `429`
/// until the client reads (answers it never reads would otherwise pile up in the server).
pub const MAX_PENDING: usize = 32;
/// Messages queued per direction and session before the sender waits.
const QUEUE: usize = 32;

type Factory = Arc<dyn Fn() -> ProvisionerServer + Send + Sync>;

/// The live sessions by id.
type Sessions = Arc<Mutex<HashMap<String, Session>>>;

/// One SSE session: where its client's messages go, its requests not yet answered on the stream, and
/// the signal of each message its client sends (which keeps it from expiring).
#[derive(Clone)]
struct Session {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    pending: Pending,
    activity: Arc<Notify>,
    /// The address of the connection that opened the event stream.
    opened_by: Option<Peer>,
}

/// The address that opened an SSE session's event stream, beside the POSTing connection's own [`Peer`]
/// in a message's request parts: the audit names both.
#[derive(Clone, Copy, Debug)]
pub struct StreamPeer(pub std::net::SocketAddr);

/// A request refused because [`MAX_PENDING`] of the session's requests wait for its stream.
struct TooManyPending;

/// A session's requests whose answer has not been sent on its event stream yet; each counts as in flight
/// (a shutdown waits for it) until then, or until the client cancels it or the session ends.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<HashMap<RequestId, InFlightGuard>>>);

impl Pending {
    fn is_empty(&self) -> bool {
        self.0.lock().map_or(true, |pending| pending.is_empty())
    }

    fn remove(&self, id: &RequestId) {
        if let Ok(mut pending) = self.0.lock() {
            pending.remove(id);
        }
    }

    /// Track what a client message starts (a request, unless [`MAX_PENDING`] are pending) or stops (a
    /// cancellation).
    fn admit(&self, message: &ClientJsonRpcMessage, drain: &Drain) -> Result<(), TooManyPending> {
        match message {
            JsonRpcMessage::Request(request) => {
                let Ok(mut pending) = self.0.lock() else {
                    return Ok(());
                };
                if pending.len() >= MAX_PENDING {
                    return Err(TooManyPending);
                }
                pending.insert(request.id.clone(), drain.in_flight.enter());
            }
            JsonRpcMessage::Notification(notification) => {
                if let ClientNotification::CancelledNotification(cancelled) =
                    &notification.notification
                    && let Some(id) = &cancelled.params.request_id
                {
                    self.remove(id);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A server message is on its way to the client: the request it answers is no longer pending.
    fn server_sent(&self, message: &ServerJsonRpcMessage) {
        match message {
            JsonRpcMessage::Response(response) => self.remove(&response.id),
            JsonRpcMessage::Error(error) => {
                if let Some(id) = &error.id {
                    self.remove(id);
                }
            }
            _ => {}
        }
    }
}

/// What the SSE routes share.
#[derive(Clone)]
struct SseState {
    sessions: Sessions,
    factory: Factory,
    guard: Arc<Guard>,
    drain: Drain,
    limits: Limits,
}

/// The SSE routes, to be merged into the HTTP router (which adds the token check and the body limit).
/// Requests count in `drain`'s in-flight count until their answer is sent on the stream; sessions end
/// when `drain.sessions` is cancelled, and expire as `limits` say.
pub fn routes(factory: Factory, guard: Arc<Guard>, drain: Drain, limits: Limits) -> Router {
    let state = SseState {
        sessions: Arc::default(),
        factory,
        guard,
        drain,
        limits,
    };
    Router::new()
        .route(SSE_PATH, get(open))
        .route(MESSAGES_PATH, post(receive))
        .with_state(state)
}

/// Removes the session and stops its server when its event stream ends (client gone, server done,
/// expiry or shutdown).
struct SessionGuard {
    id: String,
    sessions: Sessions,
    cancel: CancellationToken,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(&self.id);
        }
        self.cancel.cancel();
        tracing::debug!(session = %self.id, "SSE session closed");
    }
}

/// `GET /sse`: start a server for this connection and stream its messages.
async fn open(State(state): State<SseState>, parts: Parts) -> Response {
    if !state.guard.allows(&parts.headers) {
        return Guard::refusal();
    }
    let id = rmcp::transport::common::server_side_http::session_id().to_string();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(QUEUE);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(QUEUE);
    let session = Session {
        to_server,
        pending: Pending::default(),
        activity: Arc::default(),
        opened_by: parts.extensions.get::<Peer>().copied(),
    };
    if let Some(refusal) = register(&state.sessions, &id, session.clone()) {
        return refusal;
    }
    let cancel = state.drain.sessions.child_token();
    let (ready, initialized) = oneshot::channel();
    tokio::spawn(run_server(
        (state.factory)(),
        (to_client, from_client),
        cancel.clone(),
        ready,
    ));
    let pending = session.pending.clone();
    tokio::spawn(expire(initialized, session, cancel.clone(), state.limits));
    tracing::info!(session = %id, "SSE session opened");
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("{MESSAGES_PATH}?sessionId={id}"));
    let guard = SessionGuard {
        id,
        sessions: state.sessions.clone(),
        cancel: cancel.clone(),
    };
    let messages = from_server.map(move |message| {
        let _alive = &guard;
        pending.server_sent(&message);
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

/// Add the session; its refusal (`503`) instead when [`MAX_SESSIONS`] are live.
fn register(sessions: &Sessions, id: &str, session: Session) -> Option<Response> {
    let Ok(mut sessions) = sessions.lock() else {
        return Some(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    };
    if sessions.len() >= MAX_SESSIONS {
        return Some(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "30")],
                format!("at most {MAX_SESSIONS} SSE sessions; close one and retry\n"),
            )
                .into_response(),
        );
    }
    sessions.insert(id.to_owned(), session);
    None
}

/// Close the session (`cancel`) when it has not initialized within the limits' `sse_init_timeout`, or
/// once its client has sent nothing for `sse_idle_timeout` while none of its requests is pending.
async fn expire(
    initialized: oneshot::Receiver<()>,
    session: Session,
    cancel: CancellationToken,
    limits: Limits,
) {
    tokio::select! {
        () = cancel.cancelled() => return,
        ready = initialized => if ready.is_err() { return },
        () = tokio::time::sleep(limits.sse_init_timeout) => {
            tracing::info!(timeout = ?limits.sse_init_timeout, "closing an SSE session that did not initialize");
            cancel.cancel();
            return;
        }
    }
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = session.activity.notified() => {}
            () = tokio::time::sleep(limits.sse_idle_timeout) => if session.pending.is_empty() {
                tracing::info!(timeout = ?limits.sse_idle_timeout, "closing an idle SSE session");
                cancel.cancel();
                return;
            },
        }
    }
}

/// Serve one session's server over its channels until the client goes or `cancel` ends it; `ready` hears
/// when it has initialized.
async fn run_server(
    server: ProvisionerServer,
    channels: (
        mpsc::Sender<ServerJsonRpcMessage>,
        mpsc::Receiver<ClientJsonRpcMessage>,
    ),
    cancel: CancellationToken,
    ready: oneshot::Sender<()>,
) {
    match server.serve_with_ct(channels, cancel).await {
        Ok(running) => {
            let _ = ready.send(());
            if let Err(error) = running.waiting().await {
                tracing::debug!(%error, "SSE session ended");
            }
        }
        Err(error) => tracing::info!(%error, "SSE session did not initialize"),
    }
}

/// The address that opened the SSE session's event stream, when the request came over HTTP+SSE.
pub(super) fn stream_peer_of(
    context: &rmcp::service::RequestContext<rmcp::RoleServer>,
) -> Option<String> {
    let parts = context.extensions.get::<Parts>()?;
    let peer = parts.extensions.get::<StreamPeer>()?;
    Some(peer.0.to_string())
}

/// The query of `POST /messages`.
#[derive(serde::Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// `POST /messages?sessionId=…`: hand one JSON-RPC message to the session's server, with this request's
/// parts (its connection's [`Peer`], and the session's [`StreamPeer`]) as streamable HTTP hands them, so
/// the audit record names the connection that sent the call.
async fn receive(
    State(state): State<SseState>,
    Query(query): Query<SessionQuery>,
    mut parts: Parts,
    body: Bytes,
) -> Response {
    if !state.guard.allows(&parts.headers) {
        return Guard::refusal();
    }
    let session = state
        .sessions
        .lock()
        .ok()
        .and_then(|sessions| sessions.get(&query.session_id).cloned());
    let Some(Session {
        to_server: mut sender,
        pending,
        activity,
        opened_by,
    }) = session
    else {
        return (
            StatusCode::NOT_FOUND,
            "no such SSE session; open a new one at /sse\n",
        )
            .into_response();
    };
    let mut message: ClientJsonRpcMessage = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(error) => return super::guard::parse_error_response(&error),
    };
    if let Some(ConnectInfo(addr)) = opened_by {
        parts.extensions.insert(StreamPeer(addr));
    }
    match &mut message {
        JsonRpcMessage::Request(request) => {
            request.request.extensions_mut().insert(parts);
        }
        JsonRpcMessage::Notification(notification) => {
            notification.notification.extensions_mut().insert(parts);
        }
        _ => {}
    }
    activity.notify_one();
    if pending.admit(&message, &state.drain).is_err() {
        return too_many_pending(&message);
    }
    if sender.send(message).await.is_err() {
        return (
            StatusCode::GONE,
            "the SSE session has ended; open a new one at /sse\n",
        )
            .into_response();
    }
    StatusCode::ACCEPTED.into_response()
}

/// `429` with a JSON-RPC error for a request refused because [`MAX_PENDING`] wait for the stream.
fn too_many_pending(message: &ClientJsonRpcMessage) -> Response {
    let id = match message {
        JsonRpcMessage::Request(request) => serde_json::to_value(&request.id).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    let answer = super::jsonrpc_error(
        -32000,
        format!(
            "{MAX_PENDING} requests of this SSE session are waiting for their answers to be read from \
             its event stream; read the stream, then retry"
        ),
        id,
    );
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::RETRY_AFTER, "1"),
            (header::CONTENT_TYPE, "application/json"),
        ],
        answer.to_string(),
    )
        .into_response()
}
