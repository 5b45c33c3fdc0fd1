//! The MCP adapter: one rmcp tool per core operation, typed inputs and structured outputs, explicit
//! annotations, and an access mode that decides which tools exist.

pub mod access;
mod tool_error;

use std::sync::Arc;

use rmcp::{
    ErrorData, Json, RoleServer, ServerHandler, ServiceExt,
    handler::server::{router::tool::ToolRouter, tool::ToolCallContext, wrapper::Parameters},
    model::{
        CallToolRequestParams, CallToolResponse, Implementation, ServerCapabilities, ServerConfig,
    },
    service::RequestContext,
    tool, tool_handler, tool_router,
};

pub use access::AccessMode;
pub use tool_error::ToolError;

use crate::core::{
    Provisioner,
    inventory::{BusinessUnitList, ListBusinessUnitsInput},
    keys::{
        ApiKeyList, CreateApiKeyInput, CreatedApiKey, ListApiKeysInput, RevokeKeyInput,
        RevokeReport, RotateKeyInput, RotateReport,
    },
    provision::{ProvisionReport, ProvisionUserInput},
};

/// What the server tells the agent about how to use it.
const INSTRUCTIONS: &str = "bedrock-provisioner gives each business unit of a company its own, \
accounted access to Claude on Amazon Bedrock. Workflow: provision_user creates (or repairs) the \
business unit's IAM user `<business_unit>-bedrock-user` with the tags business-unit, purpose and \
owner and a least-privilege Bedrock policy; create_api_key issues a Bedrock API key (shown once); \
list_api_keys shows keys that are expired, expiring or due for rotation; rotate_key replaces a key \
without downtime; revoke_key deactivates or deletes one. Use dry_run first when unsure. Errors say \
which input or IAM permission is at fault and what to do.";

/// The MCP server.
#[derive(Clone)]
pub struct ProvisionerServer {
    core: Arc<Provisioner>,
    mode: AccessMode,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl ProvisionerServer {
    /// A server over `core` exposing the tools of `mode`.
    pub fn new(core: Arc<Provisioner>, mode: AccessMode) -> Self {
        let mut tool_router = Self::tool_router();
        let hidden: Vec<String> = tool_router
            .list_all()
            .into_iter()
            .filter(|tool| !mode.allows(tool.annotations.as_ref()))
            .map(|tool| tool.name.to_string())
            .collect();
        for name in hidden {
            tool_router.remove_route(&name);
        }
        Self {
            core,
            mode,
            tool_router,
        }
    }

    /// Every tool this server can offer, whatever the mode (for schema snapshots and audits).
    pub fn all_tools() -> Vec<rmcp::model::Tool> {
        Self::tool_router().list_all()
    }

    /// The error for a call of a tool this server does not offer: names the mode that would.
    fn unavailable(&self, name: &str) -> ErrorData {
        let needed = Self::all_tools()
            .into_iter()
            .find(|tool| tool.name == name)
            .and_then(|tool| {
                [AccessMode::Provision, AccessMode::Admin]
                    .into_iter()
                    .find(|mode| mode.allows(tool.annotations.as_ref()))
            });
        let message = match needed {
            Some(mode) => format!(
                "tool `{name}` is not available: this server runs in `{}` mode. Restart it with \
                 `--mode {}` (or BEDROCK_PROVISIONER_MODE={}) to allow it.",
                self.mode.as_str(),
                mode.as_str(),
                mode.as_str()
            ),
            None => format!("unknown tool `{name}`; call tools/list for the available tools"),
        };
        ErrorData::invalid_params(message, None)
    }

    /// The access mode of this server.
    pub fn mode(&self) -> AccessMode {
        self.mode
    }

    /// List the business units provisioned for Bedrock: each IAM user `<business_unit>-bedrock-user` with
    /// its ARN, tags, whether bedrock-provisioner manages it, and which required tags are missing.
    #[tool(annotations(
        title = "List business units with Bedrock access",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn list_business_units(
        &self,
        Parameters(input): Parameters<ListBusinessUnitsInput>,
    ) -> Result<Json<BusinessUnitList>, ToolError> {
        Ok(Json(self.core.list_business_units(&input).await?))
    }

    /// Create a long-term Bedrock API key for a provisioned business unit. Returns the key exactly once,
    /// with ready-to-paste client settings (AWS_BEARER_TOKEN_BEDROCK, AWS_REGION,
    /// CLAUDE_CODE_USE_BEDROCK=1); it cannot be retrieved again. IAM allows two keys per user: with two
    /// present, use rotate_key.
    #[tool(annotations(
        title = "Create a Bedrock API key",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn create_api_key(
        &self,
        Parameters(input): Parameters<CreateApiKeyInput>,
    ) -> Result<Json<CreatedApiKey>, ToolError> {
        Ok(Json(self.core.create_api_key(&input).await?))
    }

    /// List Bedrock API keys of one business unit, or of every user this tool manages: id, alias,
    /// status, created, expires, days left, and the flags expired, expiring_soon, rotation_due, inactive.
    /// Never returns key values.
    #[tool(annotations(
        title = "List Bedrock API keys",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn list_api_keys(
        &self,
        Parameters(input): Parameters<ListApiKeysInput>,
    ) -> Result<Json<ApiKeyList>, ToolError> {
        Ok(Json(self.core.list_api_keys(&input).await?))
    }

    /// Rotate a business unit's Bedrock API key without downtime: the new key is created first and the
    /// old one stays active until you revoke it (`mode: replace` deletes it once the new key exists).
    /// When both slots are taken, an expired or inactive key is deleted first; with two active keys,
    /// name the one to replace in `credential_id`. Returns the new key once.
    #[tool(annotations(
        title = "Rotate a Bedrock API key",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn rotate_key(
        &self,
        Parameters(input): Parameters<RotateKeyInput>,
    ) -> Result<Json<RotateReport>, ToolError> {
        Ok(Json(self.core.rotate_key(&input).await?))
    }

    /// Revoke one Bedrock API key of a business unit: deactivate it (default, reversible) or delete it
    /// (`action: delete`, irreversible). `dry_run` reports without changing anything.
    #[tool(annotations(
        title = "Revoke a Bedrock API key",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn revoke_key(
        &self,
        Parameters(input): Parameters<RevokeKeyInput>,
    ) -> Result<Json<RevokeReport>, ToolError> {
        Ok(Json(self.core.revoke_key(&input).await?))
    }

    /// Create or repair a business unit's IAM user for Bedrock: the user `<business_unit>-bedrock-user`
    /// tagged business-unit, purpose, owner and managed-by=bedrock-provisioner, a least-privilege policy
    /// (invoke Anthropic models, read model metadata, use Bedrock API keys) and its attachment.
    /// Idempotent: a second call reports every resource `unchanged`. Refuses a same-named user this tool
    /// did not create unless `adopt` is true. `dry_run` reports the plan and changes nothing.
    #[tool(annotations(
        title = "Provision a business unit's Bedrock user",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn provision_user(
        &self,
        Parameters(input): Parameters<ProvisionUserInput>,
    ) -> Result<Json<ProvisionReport>, ToolError> {
        Ok(Json(self.core.provision_user(&input).await?))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ProvisionerServer {
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.tool_router.has_route(&request.name) {
            return Err(self.unavailable(&request.name));
        }
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "{INSTRUCTIONS} This server runs in `{}` mode.",
                self.mode.as_str()
            ))
    }
}

/// Serve MCP over stdin/stdout until the client disconnects.
pub async fn serve_stdio(core: Arc<Provisioner>, mode: AccessMode) -> std::io::Result<()> {
    let service = ProvisionerServer::new(core, mode)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    service.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
