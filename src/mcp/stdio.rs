//! MCP over stdin/stdout, one JSON-RPC message per line. rmcp's stdio transport drops a line it cannot
//! parse without a word; this one answers it as JSON-RPC says (`-32700 Parse error`, or `-32600 Invalid
//! Request` for JSON that is no message, `id: null`), then reads on. The server itself runs on rmcp's
//! (sink, stream) transport; one writer task owns stdout, so answers and errors never interleave.

use futures::{SinkExt, StreamExt, channel::mpsc};
use rmcp::{
    ServiceExt,
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{ProvisionerServer, jsonrpc_error};

/// Messages queued per direction before a side waits.
const QUEUE: usize = 32;

/// Serve MCP over stdin/stdout until the client disconnects.
pub async fn serve_stdio(server: ProvisionerServer) -> std::io::Result<()> {
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(QUEUE);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(QUEUE);
    let (lines, outgoing) = mpsc::channel::<String>(QUEUE);
    let writer = tokio::spawn(write_lines(outgoing));
    let forward = tokio::spawn(forward(from_server, lines.clone()));
    let reader = tokio::spawn(read_lines(to_server, lines));
    let service = server
        .serve((to_client, from_client))
        .await
        .map_err(std::io::Error::other)?;
    service.waiting().await.map_err(std::io::Error::other)?;
    reader.abort();
    let _ = forward.await;
    writer.await.map_err(std::io::Error::other)?
}

/// Each line of stdin to the server, or its JSON-RPC error to the client.
async fn read_lines(
    mut to_server: mpsc::Sender<ClientJsonRpcMessage>,
    mut lines: mpsc::Sender<String>,
) {
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = input.next_line().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let sent = match parse(line) {
            Ok(message) => to_server.send(message).await.is_ok(),
            Err(error) => lines.send(error.to_string()).await.is_ok(),
        };
        if !sent {
            break;
        }
    }
}

/// A line as a client message, or the JSON-RPC error that answers it.
fn parse(line: &str) -> Result<ClientJsonRpcMessage, Value> {
    let value: Value = serde_json::from_str(line)
        .map_err(|e| jsonrpc_error(-32700, format!("Parse error: {e}"), Value::Null))?;
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    serde_json::from_value(value)
        .map_err(|e| jsonrpc_error(-32600, format!("Invalid Request: {e}"), id))
}

/// The server's messages as lines.
async fn forward(
    mut from_server: mpsc::Receiver<ServerJsonRpcMessage>,
    mut lines: mpsc::Sender<String>,
) {
    while let Some(message) = from_server.next().await {
        let line = match serde_json::to_string(&message) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "could not encode an MCP message");
                continue;
            }
        };
        if lines.send(line).await.is_err() {
            break;
        }
    }
}

/// Write each line to stdout, flushed, until every sender is gone.
async fn write_lines(mut outgoing: mpsc::Receiver<String>) -> std::io::Result<()> {
    let mut stdout = tokio::io::stdout();
    while let Some(line) = outgoing.next().await {
        stdout.write_all(line.as_bytes()).await?;
        stdout.write_all(b"\n").await?;
        stdout.flush().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_get_json_rpc_errors() {
        let broken = parse("{not json").unwrap_err();
        assert_eq!(broken["error"]["code"], -32700);
        assert_eq!(broken["id"], Value::Null);
        let not_a_message = parse(r#"{"id": 7, "hello": 1}"#).unwrap_err();
        assert_eq!(not_a_message["error"]["code"], -32600);
        assert_eq!(not_a_message["id"], 7);
        assert!(parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).is_ok());
    }
}
