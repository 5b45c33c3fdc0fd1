//! What both HTTP transports check of a request before MCP sees it: its `Host` and `Origin`
//! (DNS-rebinding protection), and the answer to a body that is no JSON-RPC message.

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

/// The `Host` and `Origin` values a request may carry (DNS-rebinding protection).
#[derive(Clone, Debug)]
pub struct Guard {
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl Guard {
    /// A guard allowing the `Host` values `hosts` and the `Origin` values `origins` (`scheme://host:*` for
    /// any port).
    pub fn new(hosts: Vec<String>, origins: Vec<String>) -> Self {
        Self { hosts, origins }
    }

    /// The allowed `Host` values.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The allowed `Origin` values.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// Whether the request's `Host` is allowed, and its `Origin` too when present.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let host = value(header::HOST).unwrap_or_default();
        let host_only = strip_port(host);
        let host_ok = self.hosts.iter().any(|h| h == host || h == host_only);
        let origin_ok = value(header::ORIGIN).is_none_or(|origin| {
            self.origins
                .iter()
                .any(|allowed| match allowed.strip_suffix(":*") {
                    Some(base) => origin == base || strip_port(origin) == base,
                    None => origin == allowed,
                })
        });
        host_ok && origin_ok
    }

    /// The answer to a request [`Guard::allows`] refuses.
    pub fn refusal() -> Response {
        (StatusCode::FORBIDDEN, "Host or Origin not allowed\n").into_response()
    }
}

/// `host:port` → `host` (`[::1]:8080` → `::1`, `http://a:1` → `http://a`).
fn strip_port(value: &str) -> &str {
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match value.rsplit_once(':') {
        Some((head, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => value,
    }
}

/// `400` with a JSON-RPC parse error (`-32700`, `id` null), for a body that is no JSON-RPC message.
pub fn parse_error_response(error: &dyn std::fmt::Display) -> Response {
    let answer = super::jsonrpc_error(
        -32700,
        format!("Parse error: {error}"),
        serde_json::Value::Null,
    );
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}
