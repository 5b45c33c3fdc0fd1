//! How a core error reaches an MCP client: a tool result with `isError: true` whose text names what went
//! wrong and what to do. JSON-RPC errors are kept for protocol faults.

use rmcp::{
    handler::server::tool::IntoCallToolResult,
    model::{CallToolResponse, CallToolResult, ContentBlock, MetaObject},
};
use serde_json::{Value, json};

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
            self.0.remediation(&crate::core::ToolDialect),
            self.0.kind()
        )
    }
}

/// The `_meta` key under which a failed tool result carries its error as data: `{"kind", "resource_ids",
/// "called_aws"}` (what the failure left in AWS, ids only; whether AWS was called), for clients and for the
/// audit record.
pub const ERROR_META: &str = "bedrock-provisioner/error";

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        tracing::warn!(kind = self.0.kind(), error = %self.0, "tool call failed");
        let mut result = CallToolResult::error(vec![ContentBlock::text(self.message())]);
        let mut meta = serde_json::Map::new();
        let mut data = json!({"kind": self.0.kind(), "resource_ids": self.0.resources(),
                              "called_aws": self.0.called_aws()});
        if let Some(digest) = self.0.plan_digest() {
            data["plan_digest"] = json!(digest);
        }
        meta.insert(ERROR_META.to_owned(), data);
        result.meta = Some(MetaObject(meta));
        Ok(result.into())
    }
}

/// The error data of a failed tool result made by [`ToolError`].
pub fn error_data(result: &CallToolResult) -> Option<&Value> {
    result.meta.as_ref().and_then(|meta| meta.0.get(ERROR_META))
}

/// The error kind of a failed tool result made by [`ToolError`] (`unknown` for other failures), read from
/// its `_meta`, not from its text.
pub fn kind_of(result: &CallToolResult) -> String {
    error_data(result)
        .and_then(|data| data["kind"].as_str())
        .unwrap_or("unknown")
        .to_owned()
}

/// The digest of the plan a `confirmation_required` or `plan_changed` result asks to confirm.
pub fn plan_digest(result: &CallToolResult) -> Option<String> {
    error_data(result)
        .and_then(|data| data["plan_digest"].as_str())
        .map(str::to_owned)
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
