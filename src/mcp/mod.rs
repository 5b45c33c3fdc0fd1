//! The MCP adapter: one rmcp tool per core operation, typed inputs and structured outputs, explicit
//! annotations, and an access mode that decides which tools exist.

pub mod access;
pub mod app;
mod arguments;
mod calls;
mod fleet;
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
    audit: Arc<AuditLog>,
    tool_router: ToolRouter<Self>,
    prompt_router: PromptRouter<Self>,
}

#[tool_router]
impl ProvisionerServer {
    /// A server over `core` exposing the tools of `mode`.
    pub fn new(core: Arc<Provisioner>, mode: AccessMode) -> Self {
        let mut tool_router = Self::tool_router() + Self::spend_router();
        let hidden: Vec<String> = tool_router
            .list_all()
            .into_iter()
            .filter(|tool| !access::allows(mode, tool.annotations.as_ref()))
            .map(|tool| tool.name.to_string())
            .collect();
        for name in hidden {
            tool_router.remove_route(&name);
        }
        Self {
            core,
            mode,
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

    /// Every tool this server can offer, whatever the mode (for schema snapshots and audits).
    pub fn all_tools() -> Vec<rmcp::model::Tool> {
        (Self::tool_router() + Self::spend_router()).list_all()
    }

    /// The error for a call of a tool this server does not offer: names the mode that would.
    fn unavailable(&self, name: &str) -> ErrorData {
        let needed = Self::all_tools()
            .into_iter()
            .find(|tool| tool.name == name)
            .and_then(|tool| {
                [AccessMode::Provision, AccessMode::Admin]
                    .into_iter()
                    .find(|mode| access::allows(*mode, tool.annotations.as_ref()))
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

    /// Diagnose Claude-on-Bedrock setup problems in one call: credentials, the caller's IAM
    /// permissions, Anthropic model access (agreement, authorization, use-case form), a business unit's
    /// user and keys, the region (probing several concurrently), a model id or the inference profile to
    /// use, throttling, cost allocation tags, a project's .mcp.json, and the environment (stray Bedrock
    /// key variables, clock skew). Each check says pass/warn/fail/skipped with evidence and the fix;
    /// relay `summary` to the user. A given api_key is inspected, never echoed.
    #[tool(annotations(
        title = "Diagnose Bedrock setup",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
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

    /// Prove a business unit can call Claude, at no cost: simulates the unit's IAM policies on the exact
    /// resources a call touches (the inference profile, the foundation model in every destination region,
    /// the default project) and, given the unit's api_key (never echoed), makes one free CountTokens call
    /// with it. `invoke: true` makes one 1-token Converse call instead (a fraction of a cent). Names each
    /// denied action and resource, and the fix; relay `summary`.
    #[tool(annotations(
        title = "Verify a business unit can call Claude",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn verify_access(
        &self,
        Parameters(input): Parameters<VerifyAccessInput>,
    ) -> Result<Json<AccessReport>, ToolError> {
        Ok(Json(self.core.verify_access(&input).await?))
    }

    /// Bedrock spend per business unit from Cost Explorer: counts every billing service that carries
    /// Bedrock spend (including Claude billed through AWS Marketplace as "... (Amazon Bedrock
    /// Edition)"), groups by the business-unit cost allocation tag (discovered, or `tag_key`), follows
    /// every page, and lists spend without the tag as `(untagged)`. Dates are YYYY-MM-DD, `end`
    /// exclusive; default this month to date. `notes` explain empty or low figures.
    #[tool(annotations(
        title = "Query Bedrock spend per business unit",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn query_costs(
        &self,
        Parameters(input): Parameters<QueryCostsInput>,
    ) -> Result<Json<CostReport>, ToolError> {
        Ok(Json(self.core.query_costs(&input).await?))
    }

    /// Activate business-unit, purpose and owner (and their IAM-principal forms) as cost allocation
    /// tags for the whole account, so Cost Explorer can split spend by them. Idempotent; reports keys
    /// already active and keys billing has not seen yet. Changes account-wide billing settings: needs
    /// `confirm: true` (run with dry_run first).
    #[tool(annotations(
        title = "Activate cost allocation tags",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn enable_cost_tags(
        &self,
        Parameters(input): Parameters<EnableCostTagsInput>,
    ) -> Result<Json<CostTagsReport>, ToolError> {
        Ok(Json(self.core.enable_cost_tags(&input).await?))
    }

    /// Create or update a business unit's monthly AWS Budgets cost budget `bedrock-<unit>-monthly`,
    /// filtered to Bedrock's billing services and the unit's tag, with e-mail alerts (default 80 % and
    /// 100 % actual, 100 % forecasted). Idempotent: a second identical call reports `unchanged`.
    /// Overwrites the existing budget's settings: needs `confirm: true` (run with dry_run first).
    #[tool(annotations(
        title = "Create a budget alert for a business unit",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn create_budget_alert(
        &self,
        Parameters(input): Parameters<BudgetAlertInput>,
    ) -> Result<Json<BudgetReport>, ToolError> {
        Ok(Json(self.core.create_budget_alert(&input).await?))
    }

    /// Create a Bedrock API key for a provisioned business unit: long-term (default; an IAM credential
    /// of the unit's user, 30 days unless credential_age_days says otherwise; IAM allows two per user,
    /// with two present use rotate_key) or short-term (`kind: short_term`, at most 12 hours, one region,
    /// signed with the server's own credentials). `deliver: inline` returns the key once with
    /// ready-to-paste client settings (AWS_BEARER_TOKEN_BEDROCK, AWS_REGION, CLAUDE_CODE_USE_BEDROCK=1);
    /// `secrets_manager` stores them in AWS Secrets Manager and returns only the ARN; `file` writes a
    /// 0600 dotenv file in the server's key directory and returns only the path. Prefer those two: the
    /// key then never enters this conversation.
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

    /// Plan a fleet: for every business unit of a manifest (TOML text: `[defaults]` and `[[unit]]` entries
    /// with name, purpose, owner, account, role, tags, budget), what `apply_fleet` would change (user, tags,
    /// policy version, attachment, budget), drift, and managed units the manifest does not name. The
    /// manifest is validated first; errors name the line and the rule. Changes nothing.
    #[tool(annotations(
        title = "Plan a fleet of business units",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn plan_fleet(
        &self,
        Parameters(input): Parameters<FleetInput>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<FleetReport>, ToolError> {
        self.fleet(&input, false, &context).await
    }

    /// Apply a fleet manifest (the input of plan_fleet): create or repair every unit's user, tags, policy,
    /// attachment, budget and key (to Secrets Manager or a file), a few units at a time; units in other
    /// accounts through their role (AssumeRole). Idempotent: applying twice changes nothing; a cancelled
    /// call finishes the units in flight and starts no more. Removes nothing unless `prune` (admin mode,
    /// `confirm: true`) removes the managed units the manifest does not name. Run plan_fleet first and
    /// show the user the plan.
    #[tool(annotations(
        title = "Apply a fleet of business units",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn apply_fleet(
        &self,
        Parameters(input): Parameters<FleetInput>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<FleetReport>, ToolError> {
        self.fleet(&input, true, &context).await
    }

    /// Keep keys fresh: every managed unit without a fresh working key (expired, expiring, or older than
    /// the rotation period, or the manifest's `key.max_age_days`) gets a new key delivered to Secrets
    /// Manager or a file, and the due key is deleted once the new one is there. Units with a fresh key, or
    /// none, are left, with the reason. `dry_run` lists what it would rotate; with a `manifest`, its
    /// accounts are swept too.
    #[tool(annotations(
        title = "Rotate due keys of every unit",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn sweep_keys(
        &self,
        Parameters(input): Parameters<SweepInput>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<SweepReport>, ToolError> {
        self.sweep(&input, &context).await
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
    /// (`action: delete`, irreversible). Requires `confirm: true` (ask the user first); `dry_run`
    /// reports without changing anything.
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

    /// Remove a business unit's IAM user: deletes its Bedrock API keys and other service-specific
    /// credentials, access keys, signing certificates, SSH keys, MFA devices, console password, group
    /// memberships and inline policies, detaches managed policies, then deletes the user. Only users
    /// bedrock-provisioner manages. Call with `dry_run: true` first and show the plan; the deletion
    /// needs `confirm: true` and cannot be undone. Re-running after a failure resumes.
    #[tool(annotations(
        title = "Deprovision a business unit's Bedrock user",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn deprovision_user(
        &self,
        Parameters(input): Parameters<DeprovisionUserInput>,
    ) -> Result<Json<DeprovisionReport>, ToolError> {
        Ok(Json(self.core.deprovision_user(&input).await?))
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
