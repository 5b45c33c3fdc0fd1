//! The MCP adapter: one rmcp tool per core operation, typed inputs and structured outputs, explicit
//! annotations, and an access mode that decides which tools exist.

pub mod access;
pub mod app;
mod arguments;
mod calls;
mod declared;
mod fleet;
mod guard;
pub mod http;
pub mod listen;
mod prompts;
pub mod resources;
mod spend;
pub mod sse;
mod stdio;
mod tool_error;

use std::sync::Arc;

use rmcp::{
    ErrorData, Json, RoleServer, ServerHandler,
    handler::server::{
        router::{prompt::PromptRouter, tool::ToolRouter},
        wrapper::Parameters,
    },
    model::{
        CallToolRequestParams, CallToolResponse, Implementation, ProgressNotificationParam,
        ServerCapabilities, ServerConfig,
    },
    prompt_handler,
    service::RequestContext,
    tool, tool_handler, tool_router,
};

use crate::{
    audit::{self, AuditLog, Outcome},
    mode::AccessMode,
    operations::{Operation, Toolset},
};
pub use prompts::PROMPT_TOOLS;
pub use tool_error::ToolError;

use crate::core::{
    Provisioner,
    budgets::{BudgetAlertInput, BudgetReport},
    cost_tags::{CostTagsReport, EnableCostTagsInput},
    costs::{CostReport, QueryCostsInput},
    deprovision::{DeprovisionReport, DeprovisionUserInput},
    diagnose::{DiagnoseInput, DiagnoseReport},
    fleet::{FleetInput, FleetReport, SweepInput, sweep::SweepReport},
    inventory::{BusinessUnitList, ListBusinessUnitsInput},
    keys::{
        ApiKeyList, CreateApiKeyInput, CreatedApiKey, ListApiKeysInput, RevokeKeyInput,
        RevokeReport, RotateKeyInput, RotateReport,
    },
    provision::{ProvisionReport, ProvisionUserInput},
    verify::{AccessReport, VerifyAccessInput},
};

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

#[tool_router]
impl ProvisionerServer {
    /// A server over `core` exposing the tools of `mode`, of every toolset.
    pub fn new(core: Arc<Provisioner>, mode: AccessMode) -> Self {
        Self::with_toolsets(core, mode, &Toolset::ALL)
    }

    /// A server over `core` exposing the tools of `mode` in `toolsets`.
    pub fn with_toolsets(core: Arc<Provisioner>, mode: AccessMode, toolsets: &[Toolset]) -> Self {
        let mut tool_router = Self::routes();
        tool_router.map.retain(|name, route| {
            let offered = Operation::find(name).is_some_and(|o| o.offered(mode, toolsets));
            match Self::all_tools().iter().find(|tool| tool.name == *name) {
                Some(declared) if offered => {
                    route.attr = declared.clone();
                    true
                }
                _ => false,
            }
        });
        Self {
            core,
            mode,
            toolsets: toolsets.to_vec(),
            audit: Arc::default(),
            prompt_router: prompts::prompts_for(&tool_router),
            tool_router,
        }
    }

    /// Every route, before the mode and toolsets choose.
    fn routes() -> ToolRouter<Self> {
        Self::tool_router() + Self::spend_router()
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
        declared::all(|| Self::routes().list_all())
    }

    /// The tools an operation declaration is missing for (none, or a test fails).
    pub fn undeclared_tools() -> Vec<String> {
        let routes = Self::routes().list_all().into_iter();
        routes
            .filter(|tool| Operation::find(&tool.name).is_none())
            .map(|tool| tool.name.to_string())
            .collect()
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

    /// List business units: each IAM user `<unit>-bedrock-user` with ARN, tags, managed or not, missing
    /// required tags.
    #[tool]
    async fn list_business_units(
        &self,
        Parameters(input): Parameters<ListBusinessUnitsInput>,
    ) -> Result<Json<BusinessUnitList>, ToolError> {
        Ok(Json(self.core.list_business_units(&input).await?))
    }

    /// Find what stops Claude on Bedrock: credentials, IAM permissions, model access, a unit's user and
    /// keys, region, model id, throttling, cost tags, usage logging, .mcp.json, environment. Each check:
    /// pass/warn/fail/skipped, evidence, fix; relay `summary`.
    #[tool]
    async fn diagnose(
        &self,
        Parameters(input): Parameters<DiagnoseInput>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<DiagnoseReport>, ToolError> {
        let progress = progress_notifier(&context);
        let notify = |step: crate::core::diagnose::Progress| {
            let message = format!("{}: {:?}", step.check.as_str(), step.status).to_lowercase();
            progress(step.completed, step.total, message);
        };
        tokio::select! {
            report = self.core.diagnose_with_progress(&input, &notify) => Ok(Json(report?)),
            () = context.ct.cancelled() => {
                tracing::info!("diagnose cancelled by the client; in-flight checks were dropped");
                Err(ToolError(crate::core::Error::Cancelled))
            }
        }
    }

    /// Prove a unit can call Claude at no cost: simulates its IAM policies on what a call touches and,
    /// given its api_key, makes one free CountTokens call (`invoke`: one 1-token Converse). Names each
    /// denied action and the fix; relay `summary`.
    #[tool]
    async fn verify_access(
        &self,
        Parameters(input): Parameters<VerifyAccessInput>,
    ) -> Result<Json<AccessReport>, ToolError> {
        Ok(Json(self.core.verify_access(&input).await?))
    }

    /// Bedrock spend per business unit from Cost Explorer (the bill, 24-48 h late; Claude billed via
    /// Marketplace too), by the business-unit cost allocation tag; untagged spend is `(untagged)`. Default:
    /// this month. `notes` explain empty or low figures.
    #[tool]
    async fn query_costs(
        &self,
        Parameters(input): Parameters<QueryCostsInput>,
    ) -> Result<Json<CostReport>, ToolError> {
        Ok(Json(self.core.query_costs(&input).await?))
    }

    /// Activate business-unit, purpose and owner (and IAM-principal forms) as account-wide cost allocation
    /// tags, so Cost Explorer splits spend by them. Needs `confirm: true`; run dry_run first.
    #[tool]
    async fn enable_cost_tags(
        &self,
        Parameters(input): Parameters<EnableCostTagsInput>,
    ) -> Result<Json<CostTagsReport>, ToolError> {
        Ok(Json(self.core.enable_cost_tags(&input).await?))
    }

    /// Create or update a unit's monthly AWS Budgets budget `bedrock-<unit>-monthly` (its tagged Bedrock
    /// spend) with e-mail alerts. Overwrites the budget's settings: needs `confirm: true`; run dry_run
    /// first.
    #[tool]
    async fn create_budget_alert(
        &self,
        Parameters(input): Parameters<BudgetAlertInput>,
    ) -> Result<Json<BudgetReport>, ToolError> {
        Ok(Json(self.core.create_budget_alert(&input).await?))
    }

    /// Create a Bedrock API key for a provisioned unit: long-term (default; two per user at most, then
    /// rotate_key) or short-term (at most 12 h, one region). `inline` returns the key once; prefer
    /// `deliver: secrets_manager` (returns the ARN) or `file` (a 0600 file; returns the path).
    #[tool]
    async fn create_api_key(
        &self,
        Parameters(input): Parameters<CreateApiKeyInput>,
    ) -> Result<Json<CreatedApiKey>, ToolError> {
        Ok(Json(self.core.create_api_key(&input).await?))
    }

    /// Plan a fleet manifest: per unit, what apply_fleet would change (user, tags, policy, budget), drift,
    /// and managed units it does not name. Validates the manifest first (errors name the line and rule).
    /// Changes nothing.
    #[tool]
    async fn plan_fleet(
        &self,
        Parameters(input): Parameters<FleetInput>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<FleetReport>, ToolError> {
        self.fleet(&input, false, &context).await
    }

    /// Apply a fleet manifest: create or repair every unit's user, tags, policy, budget and key (Secrets
    /// Manager or file); other accounts through their role. Idempotent. Removes nothing without `prune`.
    /// Run plan_fleet first and show the user the plan.
    #[tool]
    async fn apply_fleet(
        &self,
        Parameters(input): Parameters<FleetInput>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<FleetReport>, ToolError> {
        self.fleet(&input, true, &context).await
    }

    /// Rotate every managed unit's due key (expired, expiring, or older than the rotation period or the
    /// manifest's `key.max_age_days`): a new key to Secrets Manager or a file, then the due one is deleted.
    #[tool]
    async fn sweep_keys(
        &self,
        Parameters(input): Parameters<SweepInput>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<SweepReport>, ToolError> {
        self.sweep(&input, &context).await
    }

    /// List Bedrock API keys of one unit or every managed one: id, status, created, expires, days left,
    /// flags expired, expiring_soon, rotation_due, inactive. Never key values.
    #[tool]
    async fn list_api_keys(
        &self,
        Parameters(input): Parameters<ListApiKeysInput>,
    ) -> Result<Json<ApiKeyList>, ToolError> {
        Ok(Json(self.core.list_api_keys(&input).await?))
    }

    /// Rotate a unit's key without downtime: the new key first; the old stays active until revoked (`mode:
    /// replace` deletes it once the new one is delivered). Full slots: an expired or inactive key goes
    /// first; with two active, name one in `credential_id`.
    #[tool]
    async fn rotate_key(
        &self,
        Parameters(input): Parameters<RotateKeyInput>,
    ) -> Result<Json<RotateReport>, ToolError> {
        Ok(Json(self.core.rotate_key(&input).await?))
    }

    /// Deactivate (reversible) or delete (`action: delete`) one Bedrock API key of a unit. Needs `confirm:
    /// true` (ask the user first); `dry_run` changes nothing.
    #[tool]
    async fn revoke_key(
        &self,
        Parameters(input): Parameters<RevokeKeyInput>,
    ) -> Result<Json<RevokeReport>, ToolError> {
        Ok(Json(self.core.revoke_key(&input).await?))
    }

    /// Delete a managed unit's IAM user and all IAM needs removed first (keys, credentials, MFA, password,
    /// groups, policies). Run `dry_run: true` first and show the plan; needs `confirm: true`; irreversible;
    /// a re-run resumes.
    #[tool]
    async fn deprovision_user(
        &self,
        Parameters(input): Parameters<DeprovisionUserInput>,
    ) -> Result<Json<DeprovisionReport>, ToolError> {
        Ok(Json(self.core.deprovision_user(&input).await?))
    }

    /// Create or repair a unit's IAM user `<unit>-bedrock-user`: tags business-unit, purpose, owner,
    /// managed-by, and a least-privilege Bedrock policy. Idempotent. A same-named user this tool did not
    /// create needs `adopt`. `dry_run` changes nothing.
    #[tool]
    async fn provision_user(
        &self,
        Parameters(input): Parameters<ProvisionUserInput>,
    ) -> Result<Json<ProvisionReport>, ToolError> {
        Ok(Json(self.core.provision_user(&input).await?))
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
