//! The MCP adapter: one rmcp tool per core operation, typed inputs and structured outputs, explicit
//! annotations, and an access mode that decides which tools exist.

pub mod access;
pub mod app;
mod calls;
mod declared;
mod guard;
pub mod http;
pub mod listen;
mod prompts;
pub mod resources;
mod routes;
pub mod sse;
mod stdio;
mod tool_error;

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::router::{prompt::PromptRouter, tool::ToolRouter},
    model::{
        CallToolRequestParams, CallToolResponse, Implementation, ProgressNotificationParam,
        ServerCapabilities, ServerConfig,
    },
    prompt_handler,
    service::RequestContext,
    tool_handler,
};

use crate::{
    audit::{self, AuditLog, Outcome},
    mode::AccessMode,
    operations::{Operation, Toolset},
};
pub use prompts::PROMPT_TOOLS;
pub use tool_error::ToolError;

use crate::core::Provisioner;

/// What the server tells the agent about how to use it.
const INSTRUCTIONS: &str = "bedrock-provisioner gives each business unit of a company its own, \
accounted access to Claude on Amazon Bedrock. Workflow: provision_user creates (or repairs) the \
business unit's IAM user `<business_unit>-bedrock-user` with the tags business-unit, purpose and \
owner and a least-privilege Bedrock policy; list_business_units shows the units provisioned so far; create_api_key issues a Bedrock API key (long-term, or short-term \
for up to 12 hours), delivered inline (shown once), into AWS Secrets Manager or into a 0600 file so the \
key stays out of the transcript; list_api_keys shows keys that are expired, expiring or due for \
rotation; rotate_key replaces a key without downtime; revoke_key deactivates or deletes one; \
deprovision_user removes a business unit; diagnose finds \
what is broken (credentials, permissions, model access, region, keys, cost tags, .mcp.json) and says how to \
fix it; verify_access proves a unit can call Claude (policy simulation, and a free call with its key); query_costs reports Bedrock spend per business unit (the bill, 24-48 h late); enable_cost_tags and create_budget_alert set up \
accounting. For spend within minutes and hard caps: enable_usage_logging (once per account and region), \
query_usage (calls, tokens, estimated cost per unit), set_spend_cap, and enforce_spend_caps (denies every key of a \
unit whose monthly cap is spent, lifts it next month). For many units at once, plan_fleet and apply_fleet take a manifest (TOML) of every unit, and \
sweep_keys rotates the keys that are due across the account. Destructive tools need `confirm: true`: run them with \
dry_run first, show the user the plan, and confirm only with their agreement. Errors say \
which input or IAM permission is at fault and what to do.";

/// The MCP server.
#[derive(Clone)]
pub struct ProvisionerServer {
    core: Arc<Provisioner>,
    mode: AccessMode,
    toolsets: Vec<Toolset>,
    audit: Arc<AuditLog>,
    tool_router: ToolRouter<Self>,
    prompt_router: PromptRouter<Self>,
}

impl ProvisionerServer {
    /// A server over `core` exposing the tools of `mode`, of every toolset.
    pub fn new(core: Arc<Provisioner>, mode: AccessMode) -> Self {
        Self::with_toolsets(core, mode, &Toolset::ALL)
    }

    /// A server over `core` exposing the tools of `mode` in `toolsets`.
    pub fn with_toolsets(core: Arc<Provisioner>, mode: AccessMode, toolsets: &[Toolset]) -> Self {
        let tool_router = routes::offered(mode, toolsets);
        Self {
            core,
            mode,
            toolsets: toolsets.to_vec(),
            audit: Arc::default(),
            prompt_router: prompts::prompts_for(&tool_router),
            tool_router,
        }
    }

    /// Record mutating calls in `audit` (besides stderr).
    #[must_use]
    pub fn with_audit_log(self, audit: AuditLog) -> Self {
        self.with_shared_audit_log(Arc::new(audit))
    }

    /// Record mutating calls in an audit log shared with other server instances (HTTP sessions).
    #[must_use]
    pub fn with_shared_audit_log(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = audit;
        self
    }

    /// Every tool this server can offer, whatever the mode and toolsets, as agents see them.
    pub fn all_tools() -> &'static [rmcp::model::Tool] {
        declared::all()
    }

    /// The error for a call of a tool this server does not offer: names the mode or toolset that would.
    fn unavailable(&self, name: &str) -> ErrorData {
        let message = match Operation::find(name) {
            Some(operation) if !operation.offered(self.mode, &Toolset::ALL) => {
                let mode = operation.access.least_mode().as_str();
                format!(
                    "tool `{name}` is not available: this server runs in `{}` mode. Restart it with \
                     `--mode {mode}` (or BEDROCK_PROVISIONER_MODE={mode}) to allow it.",
                    self.mode.as_str(),
                )
            }
            Some(operation) => {
                let toolset = operation.toolset.as_str();
                format!(
                    "tool `{name}` is not available: this server offers only the toolsets {}. \
                     Restart it with `--toolsets` (or BEDROCK_PROVISIONER_TOOLSETS) including \
                     `{toolset}` to allow it.",
                    toolset_names(&self.toolsets)
                )
            }
            None => format!("unknown tool `{name}`; call tools/list for the available tools"),
        };
        ErrorData::invalid_params(message, None)
    }

    /// The access mode of this server.
    pub fn mode(&self) -> AccessMode {
        self.mode
    }
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for ProvisionerServer {
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.tool_router.has_route(&request.name) {
            // A call of a tool this mode does not offer is a refusal worth a record: an agent tried to
            // change something it may not.
            if Self::all_tools()
                .iter()
                .any(|tool| tool.name == request.name)
            {
                let call = audit::Call {
                    client: client_of(&context),
                    tool: &request.name,
                    arguments: audit::sanitize(request.arguments.as_ref()),
                    outcome: Outcome::RefusedMode(self.mode),
                    result: None,
                    effects: audit::Effects::default(),
                    elicited: false,
                    peer: peer_of(&context),
                    stream_peer: sse::stream_peer_of(&context),
                };
                self.audit.record_call(&self.core, call).await;
            }
            return Err(self.unavailable(&request.name));
        }
        self.audited_call(request, context).await
    }

    /// The tools of this mode; for clients with the MCP Apps extension, `query_costs` links its chart.
    async fn list_tools(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, ErrorData> {
        let with_app = app::supported(context.client_capabilities().as_ref());
        let tools = self.tool_router.list_all().into_iter();
        let tools = tools.map(|t| if with_app { app::link(t) } else { t });
        let mut result = rmcp::model::ListToolsResult::with_all_items(tools.collect());
        // As rmcp's generated listing: cache hints for clients that understand them (a listing that
        // depends on the client's capabilities is private to it).
        if context
            .protocol_version()
            .is_some_and(|v| v >= rmcp::model::ProtocolVersion::V_2026_07_28)
        {
            result.ttl_ms = Some(0);
            result.cache_scope = Some(if with_app {
                rmcp::model::CacheScope::Private
            } else {
                rmcp::model::CacheScope::Public
            });
        }
        Ok(result)
    }

    async fn list_resources(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, ErrorData> {
        let mut list = resources::list();
        if app::supported(context.client_capabilities().as_ref()) {
            list.resources.push(app::resource());
        }
        Ok(list)
    }

    async fn read_resource(
        &self,
        request: rmcp::model::ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, ErrorData> {
        if request.uri == app::SPEND_URI {
            return Ok(rmcp::model::ReadResourceResult::new(vec![app::contents()]).into());
        }
        resources::read(&self.core, self.mode, &request.uri)
            .await
            .map(Into::into)
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
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

pub use stdio::serve_stdio;

/// A JSON-RPC error response, for input that never became a message (`id` null when it has none).
fn jsonrpc_error(code: i32, message: String, id: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A progress notifier for a request: `(done, total, message)` becomes a `notifications/progress` when the
/// request carries a progress token, and nothing otherwise.
fn progress_notifier(
    context: &RequestContext<RoleServer>,
) -> impl Fn(usize, usize, String) + Sync + use<> {
    let token = context.meta.get_progress_token();
    let peer = context.peer.clone();
    move |done, total, message| {
        let Some(token) = &token else { return };
        let note = ProgressNotificationParam::new(token.clone(), done as f64)
            .with_total(total as f64)
            .with_message(message);
        let peer = peer.clone();
        tokio::spawn(async move {
            if let Err(error) = peer.notify_progress(note).await {
                tracing::debug!(%error, "progress notification not delivered");
            }
        });
    }
}

/// `units, keys` for the README's and errors' wording.
fn toolset_names(toolsets: &[Toolset]) -> String {
    let names: Vec<&str> = toolsets.iter().map(|t| t.as_str()).collect();
    names.join(", ")
}

/// The client's address, when the request came over HTTP.
fn peer_of(context: &RequestContext<RoleServer>) -> Option<String> {
    let parts = context.extensions.get::<axum::http::request::Parts>()?;
    let peer = parts.extensions.get::<listen::Peer>()?;
    Some(peer.0.to_string())
}

/// The MCP client's name and version, as it announced them.
fn client_of(context: &RequestContext<RoleServer>) -> String {
    context.client_info().map_or_else(
        || "unknown".to_owned(),
        |info| format!("{} {}", info.name, info.version),
    )
}
