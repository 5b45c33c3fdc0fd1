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
    /// Turn on Bedrock invocation logging in the server's region (usage within minutes): a CloudWatch Logs
    /// group and a role only Bedrock can assume; no prompt or answer is stored. Leaves logging that goes
    /// elsewhere. Needs `confirm: true`; run dry_run first.
    #[tool]
    async fn enable_usage_logging(
        &self,
        Parameters(input): Parameters<EnableUsageLoggingInput>,
    ) -> Result<Json<UsageLoggingReport>, ToolError> {
        Ok(Json(self.core.enable_usage_logging(&input).await?))
    }

    /// Each unit's Bedrock calls and tokens per model within minutes, from the invocation logs, with a cost
    /// estimate (the bill, query_costs, comes 24-48 h later). Callers that are no managed unit are listed
    /// as such.
    #[tool]
    async fn query_usage(
        &self,
        Parameters(input): Parameters<QueryUsageInput>,
    ) -> Result<Json<UsageReport>, ToolError> {
        Ok(Json(self.core.query_usage(&input).await?))
    }

    /// Set, change or remove (null) a unit's monthly spend cap in USD, a tag on its user;
    /// enforce_spend_caps then denies every key of the unit once its estimate this month reaches it. Needs
    /// `confirm: true`.
    #[tool]
    async fn set_spend_cap(
        &self,
        Parameters(input): Parameters<SetSpendCapInput>,
    ) -> Result<Json<SpendCapReport>, ToolError> {
        Ok(Json(self.core.set_spend_cap(&input).await?))
    }

    /// Apply the spend caps: deny every key of each unit whose month-to-date estimate reached its cap (a
    /// deny policy on its user); lift it when the month turns or the cap is raised. No confirmation;
    /// `dry_run` reports.
    #[tool]
    async fn enforce_spend_caps(
        &self,
        Parameters(input): Parameters<EnforceInput>,
    ) -> Result<Json<EnforceReport>, ToolError> {
        Ok(Json(self.core.enforce_spend_caps(&input).await?))
    }
}
