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
    provision::{ProvisionReport, ProvisionUserInput},
};

/// What the server tells the agent about how to use it.
const INSTRUCTIONS: &str = "bedrock-provisioner gives each business unit of a company its own, \
accounted access to Claude on Amazon Bedrock. Workflow: provision_user creates (or repairs) the \
business unit's IAM user `<business_unit>-bedrock-user` with the tags business-unit, purpose and \
owner and a least-privilege Bedrock policy. Use dry_run first when unsure; every tool is idempotent. \
Errors say which input or IAM permission is at fault and what to do.";

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
