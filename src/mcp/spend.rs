//! The spend-control tools: usage within minutes and monthly caps.

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};

use super::{ProvisionerServer, ToolError};
use crate::core::spend::{
    caps::{EnforceInput, EnforceReport},
    logging::{EnableUsageLoggingInput, UsageLoggingReport},
    set_cap::{SetSpendCapInput, SpendCapReport},
    usage::{QueryUsageInput, UsageReport},
};

#[tool_router(router = spend_router, vis = "pub(super)")]
impl ProvisionerServer {
    /// Turn on Bedrock's model invocation logging in the server's region for usage within minutes: a
    /// CloudWatch Logs group of this project (retention_days, default 400), a role only Bedrock (for this
    /// account) can assume, and every data-delivery flag off: records hold caller, model and token counts,
    /// never a prompt or an answer. Logging that already goes elsewhere is not overwritten (query_usage reads
    /// an existing CloudWatch group as it is). Needs `confirm: true` (run with dry_run first).
    #[tool(annotations(
        title = "Enable usage logging",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn enable_usage_logging(
        &self,
        Parameters(input): Parameters<EnableUsageLoggingInput>,
    ) -> Result<Json<UsageLoggingReport>, ToolError> {
        Ok(Json(self.core.enable_usage_logging(&input).await?))
    }

    /// Each business unit's Bedrock calls and tokens (input, output, cache read, cache write) per model
    /// within minutes of the calls, from the invocation logs, with an estimated cost from the Price List
    /// (labelled an estimate: the bill, query_costs, comes 24-48 h later). `since`: `15m`, `6h`, `7d` or
    /// `month` (default). Callers that are not a managed unit are listed as such.
    #[tool(annotations(
        title = "Query usage per business unit",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn query_usage(
        &self,
        Parameters(input): Parameters<QueryUsageInput>,
    ) -> Result<Json<UsageReport>, ToolError> {
        Ok(Json(self.core.query_usage(&input).await?))
    }

    /// Set, change or remove (monthly_cap_usd null) a business unit's monthly spend cap in USD, kept as a
    /// tag on its IAM user. enforce_spend_caps applies it: once the unit's estimated spend this month
    /// reaches the cap, every key of the unit is denied until the month turns or the cap is raised. Needs
    /// `confirm: true`.
    #[tool(annotations(
        title = "Set a business unit's spend cap",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn set_spend_cap(
        &self,
        Parameters(input): Parameters<SetSpendCapInput>,
    ) -> Result<Json<SpendCapReport>, ToolError> {
        Ok(Json(self.core.set_spend_cap(&input).await?))
    }

    /// Carry out the spend caps an admin set: compare each unit's month-to-date estimate with its cap
    /// (one usage query for every unit), attach this project's deny policy to the user of each unit whose
    /// cap is spent (recorded on the user with the reason and the month), and lift it when the month turns
    /// or the cap is raised. Idempotent; no confirmation (the caps were confirmed when set); dry_run
    /// reports what would change.
    #[tool(annotations(
        title = "Enforce spend caps",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn enforce_spend_caps(
        &self,
        Parameters(input): Parameters<EnforceInput>,
    ) -> Result<Json<EnforceReport>, ToolError> {
        Ok(Json(self.core.enforce_spend_caps(&input).await?))
    }
}
