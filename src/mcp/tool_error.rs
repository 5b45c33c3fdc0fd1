//! How a core error reaches an MCP client: a tool result with `isError: true` whose text names what went
//! wrong and what to do. JSON-RPC errors are kept for protocol faults.

use rmcp::{
    handler::server::tool::IntoCallToolResult,
    model::{CallToolResponse, CallToolResult, ContentBlock},
};

use crate::core::Error;

/// A core error on its way to the client.
#[derive(Debug)]
pub struct ToolError(pub Error);

impl From<Error> for ToolError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl ToolError {
    /// The message the client sees.
    pub fn message(&self) -> String {
        format!(
            "{}\n\nWhat to do: {}\n(error kind: {})",
            self.0,
            self.0.remediation(),
            self.0.kind()
        )
    }
}

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        tracing::warn!(kind = self.0.kind(), error = %self.0, "tool call failed");
        Ok(CallToolResult::error(vec![ContentBlock::text(self.message())]).into())
    }
}

/// The error kind of a failed tool result made by [`ToolError`] (`unknown` for other failures).
pub fn kind_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .find_map(|t| {
            t.text
                .rsplit_once("(error kind: ")
                .and_then(|(_, rest)| rest.strip_suffix(')'))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The first line of a failed tool result (the error without its remediation).
pub fn first_line(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| c.as_text())
        .and_then(|t| t.text.lines().next().map(str::to_owned))
        .unwrap_or_default()
}
