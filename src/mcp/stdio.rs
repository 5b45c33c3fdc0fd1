//! MCP over stdin/stdout, one JSON-RPC message per line. rmcp 3.11's stdio transport (`AsyncRwTransport`,
//! re-checked for this) answers well-formed JSON that is no message with `-32600`, but drops a line that is
//! not JSON without a word (deliberately: rust-sdk#938), and drops a line over its limit (16 MiB by
//! default) with only a log line. This one answers every such line as JSON-RPC says (`-32700 Parse error`,
//! for a line that is not JSON or not UTF-8, or `-32600 Invalid Request` for JSON that is no message,
//! `id: null`), so a client sees why it got no answer, then reads on. A line is at most [`MAX_LINE_BYTES`], as an HTTP body: a longer one is answered `-32600` as soon as
//! it passes the limit, and the rest of it is read and dropped, never held. The server itself runs on
//! rmcp's (sink, stream) transport; one writer task owns stdout, so answers and errors never interleave.

use futures::{SinkExt, StreamExt, channel::mpsc};
use rmcp::{
    ServiceExt,
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
};
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{ProvisionerServer, jsonrpc_error};

/// Messages queued per direction before a side waits.
const QUEUE: usize = 32;
/// Longest line (one JSON-RPC message) read from stdin, line break excluded: the HTTP body limit.
pub const MAX_LINE_BYTES: usize = super::http::MAX_BODY_BYTES;

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

/// Each line of stdin to the server, or its JSON-RPC error to the client, until stdin ends.
async fn read_lines(
    mut to_server: mpsc::Sender<ClientJsonRpcMessage>,
    mut lines: mpsc::Sender<String>,
) {
    let mut input = Lines::new(BufReader::new(tokio::io::stdin()), MAX_LINE_BYTES);
    loop {
        let sent = match input.next().await {
            Ok(Some(Line::Message(line))) => match parse(&line) {
                None => continue,
                Some(Ok(message)) => to_server.send(message).await.is_ok(),
                Some(Err(error)) => lines.send(error.to_string()).await.is_ok(),
            },
            Ok(Some(Line::TooLong)) => {
                tracing::warn!(
                    max = MAX_LINE_BYTES,
                    "discarding an over-long line from stdin"
                );
                let error = jsonrpc_error(
                    -32600,
                    format!(
                        "Invalid Request: a message is at most {MAX_LINE_BYTES} bytes; this line \
                         was discarded"
                    ),
                    Value::Null,
                );
                lines.send(error.to_string()).await.is_ok()
            }
            Ok(None) => break,
            Err(error) => {
                tracing::error!(%error, "could not read stdin");
                break;
            }
        };
        if !sent {
            break;
        }
    }
}

/// A line of input, or one that passed the limit.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A whole line, without its line break.
    Message(Vec<u8>),
    /// A line longer than the limit; what was read of it is dropped, and the rest will be.
    TooLong,
}

/// Lines of at most `max` bytes: a longer line is reported once, when it passes the limit, and then read
/// and dropped up to its line break, so no more than `max` bytes of input are ever held.
struct Lines<R> {
    input: R,
    line: Vec<u8>,
    max: usize,
    discarding: bool,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    fn new(input: R, max: usize) -> Self {
        Self {
            input,
            line: Vec::new(),
            max,
            discarding: false,
        }
    }

    /// The next line; `None` at the end of input (a last line without a line break is a line).
    async fn next(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            let chunk = self.input.fill_buf().await?;
            if chunk.is_empty() {
                let last = std::mem::take(&mut self.line);
                return Ok((!self.discarding && !last.is_empty()).then_some(Line::Message(last)));
            }
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            let used = newline.map_or(chunk.len(), |at| at + 1);
            if !self.discarding && self.line.len() + part.len() > self.max {
                self.line = Vec::new();
                self.discarding = newline.is_none();
                self.input.consume(used);
                return Ok(Some(Line::TooLong));
            }
            if !self.discarding {
                self.line.extend_from_slice(part);
            }
            self.input.consume(used);
            if newline.is_some() {
                if std::mem::take(&mut self.discarding) {
                    continue;
                }
                return Ok(Some(Line::Message(std::mem::take(&mut self.line))));
            }
        }
    }
}

/// A line as a client message, or the JSON-RPC error that answers it; `None` for a blank line.
fn parse(line: &[u8]) -> Option<Result<ClientJsonRpcMessage, Value>> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return None;
    }
    let parse_error =
        |why: String| jsonrpc_error(-32700, format!("Parse error: {why}"), Value::Null);
    let parsed = std::str::from_utf8(line)
        .map_err(|e| parse_error(format!("the line is not UTF-8 ({e})")))
        .and_then(|line| {
            serde_json::from_str::<Value>(line).map_err(|e| parse_error(e.to_string()))
        })
        .and_then(|value| {
            let id = value.get("id").cloned().unwrap_or(Value::Null);
            serde_json::from_value(value)
                .map_err(|e| jsonrpc_error(-32600, format!("Invalid Request: {e}"), id))
        });
    Some(parsed)
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
        let error = |line: &[u8]| parse(line).unwrap().unwrap_err();
        let broken = error(b"{not json");
        assert_eq!(broken["error"]["code"], -32700);
        assert_eq!(broken["id"], Value::Null);
        let not_utf8 = error(b"{\"id\": \"\xff\xfe\"}");
        assert_eq!(not_utf8["error"]["code"], -32700, "{not_utf8}");
        assert!(not_utf8.to_string().contains("not UTF-8"), "{not_utf8}");
        let not_a_message = error(br#"{"id": 7, "hello": 1}"#);
        assert_eq!(not_a_message["error"]["code"], -32600);
        assert_eq!(not_a_message["id"], 7);
        assert!(
            parse(br#" {"jsonrpc":"2.0","method":"notifications/initialized"}"#)
                .unwrap()
                .is_ok()
        );
        assert!(parse(b" \r").is_none(), "a blank line is no message");
    }

    /// Lines of at most 8 bytes, read in chunks of 3: an over-long line is reported once and skipped
    /// to its line break; the lines around it come through whole, the last one without a line break too.
    #[tokio::test]
    async fn an_over_long_line_is_reported_and_skipped_without_holding_it() {
        let input: &[u8] = b"one\n0123456789abcdef\ntwo\n012345678\n12345678\nlast";
        let mut lines = Lines::new(BufReader::with_capacity(3, input), 8);
        let mut seen = Vec::new();
        while let Some(line) = lines.next().await.unwrap() {
            assert!(lines.line.capacity() <= 8 + 3, "{}", lines.line.capacity());
            seen.push(line);
        }
        let message = |s: &str| Line::Message(s.as_bytes().to_vec());
        assert_eq!(
            seen,
            [
                message("one"),
                Line::TooLong,
                message("two"),
                Line::TooLong,
                message("12345678"),
                message("last"),
            ]
        );
    }
}
