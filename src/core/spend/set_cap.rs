//! `set_spend_cap`: a unit's monthly cap in USD, kept as a tag on its IAM user (so any machine running the
//! tool agrees), applied by `enforce_spend_caps`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::caps::{CAP_TAG, parse_cap};
use crate::core::{
    Provisioner,
    aws::sdk_error,
    error::Result,
    iam::tag,
    names::BusinessUnit,
    plan::{ChangeStatus, Confirmation},
};

/// Input of `set_spend_cap`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSpendCapInput {
    /// The business unit.
    pub business_unit: String,
    /// The monthly cap in USD (more than 0, at most 1000000); null removes the cap.
    pub monthly_cap_usd: Option<f64>,
    /// Only report what would change.
    #[serde(default)]
    pub dry_run: bool,
    /// Must be true to change the cap.
    #[serde(default)]
    pub confirm: bool,
    /// The digest of the plan the user agreed to (a confirmation request gives it): a plan that no longer
    /// matches is refused with the new one instead of applied. Not in the tool's schema: the request names it.
    #[serde(default)]
    #[schemars(skip)]
    pub plan_digest: Option<String>,
}

/// Result of `set_spend_cap`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SpendCapReport {
    /// The business unit.
    pub business_unit: String,
    /// The cap before, in USD.
    pub previous_cap_usd: Option<f64>,
    /// The cap now (or planned), in USD.
    pub cap_usd: Option<f64>,
    /// `created`, `updated` (a changed or removed cap), `unchanged` or `planned`.
    pub status: ChangeStatus,
    /// What happens next.
    pub next_steps: Vec<String>,
    /// The Budgets backstop: set, or why not.
    pub notes: Vec<String>,
}

impl SetSpendCapInput {
    /// The unit and the cap, checked before any AWS call.
    pub fn validate(&self) -> Result<(BusinessUnit, Option<f64>)> {
        let unit = BusinessUnit::parse("business_unit", &self.business_unit)?;
        let cap = self
            .monthly_cap_usd
            .map(|c| parse_cap("monthly_cap_usd", c))
            .transpose()?;
        Ok((unit, cap))
    }
}

impl Provisioner {
    /// Set, change or remove a unit's monthly cap.
    pub async fn set_spend_cap(&self, input: &SetSpendCapInput) -> Result<SpendCapReport> {
        let (unit, cap) = input.validate()?;
        let confirmation = Confirmation::of(input.confirm, input.plan_digest.as_deref())?;
        self.settings()
            .governance
            .check_unit("business_unit", &unit)?;
        let user = self.managed_user(&unit).await?;
        let previous = user
            .tags
            .iter()
            .find(|(k, _)| crate::core::names::same_tag_key(k, CAP_TAG))
            .and_then(|(_, v)| v.parse::<f64>().ok());
        let status = match (previous, cap, input.dry_run) {
            (p, c, _) if p == c => ChangeStatus::Unchanged,
            (_, _, true) => ChangeStatus::Planned,
            (None, Some(_), false) => ChangeStatus::Created,
            _ => ChangeStatus::Updated,
        };
        let mut report = SpendCapReport {
            notes: Vec::new(),
            business_unit: unit.to_string(),
            previous_cap_usd: previous,
            cap_usd: cap,
            status,
            next_steps: vec![format!(
                "The cap takes effect when enforce_spend_caps next runs (CLI: `enforce`, or `enforce --every 5m` / `serve --enforce-every 5m` to keep it applied): once the unit's estimated spend this month reaches it, every key of `{unit}` is denied until the month turns or the cap is raised."
            )],
        };
        if matches!(status, ChangeStatus::Unchanged | ChangeStatus::Planned) {
            return Ok(report);
        }
        let what = cap.map_or_else(
            || "remove the cap".to_owned(),
            |c| format!("cap at {c:.2} USD a month"),
        );
        confirmation.gate(format!(
            "set_spend_cap would {what} for business unit `{unit}` (now {})",
            previous.map_or_else(|| "none".to_owned(), |p| format!("{p:.2} USD"))
        ))?;
        self.write_cap(&user.name, cap).await?;
        let owner = user
            .tags
            .iter()
            .find(|(k, _)| crate::core::names::same_tag_key(k, "owner"))
            .map(|(_, v)| v.clone());
        report.notes = match self.sync_backstop(&unit, owner.as_deref(), cap).await {
            Ok(notes) => notes,
            Err(error) => vec![format!(
                "The cap is set, but its Budgets backstop is not: {error}. enforce_spend_caps applies the cap without it."
            )],
        };
        tracing::info!(unit = %unit, ?cap, "spend cap set");
        Ok(report)
    }

    /// Tag the user with `cap`, or remove its cap tag.
    async fn write_cap(&self, user_name: &str, cap: Option<f64>) -> Result<()> {
        let iam = &self.clients().await.iam;
        match cap {
            Some(cap) => {
                iam.tag_user()
                    .user_name(user_name)
                    .tags(tag(CAP_TAG, &format!("{cap:.2}"))?)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:TagUser", e))?;
            }
            None => {
                iam.untag_user()
                    .user_name(user_name)
                    .tag_keys(CAP_TAG)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:UntagUser", e))?;
            }
        }
        Ok(())
    }
}
