//! `set_spend_cap`: a unit's monthly cap in USD, kept as a tag on its IAM user (so any machine running the
//! tool agrees), applied by `enforce_spend_caps`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::caps::{CAP_TAG, parse_cap};
use crate::core::{
    Provisioner,
    aws::iam::tag,
    aws::sdk_error,
    domain::error::Result,
    domain::names::BusinessUnit,
    domain::plan::{ChangeStatus, Plan},
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

/// A `set_spend_cap` plan: the unit's user, and its cap before and after.
#[derive(Debug)]
pub struct SpendCapPlan {
    unit: BusinessUnit,
    user_name: String,
    owner: Option<String>,
    /// `unchanged`, or `planned` until applied.
    report: SpendCapReport,
}

impl Plan for SpendCapPlan {
    type Report = SpendCapReport;

    fn confirmation(&self) -> Option<String> {
        let report = &self.report;
        (report.status != ChangeStatus::Unchanged).then(|| {
            let what = report.cap_usd.map_or_else(
                || "remove the cap".to_owned(),
                |c| format!("cap at {c:.2} USD a month"),
            );
            let now = report
                .previous_cap_usd
                .map_or_else(|| "none".to_owned(), |p| format!("{p:.2} USD"));
            format!(
                "set_spend_cap would {what} for business unit `{}` (now {now})",
                self.unit
            )
        })
    }

    fn render(self) -> SpendCapReport {
        self.report
    }
}

impl Provisioner {
    /// The plan of setting, changing or removing a unit's monthly cap.
    pub async fn plan_spend_cap(&self, input: &SetSpendCapInput) -> Result<SpendCapPlan> {
        let (unit, cap) = input.validate()?;
        self.settings()
            .governance
            .check_unit("business_unit", &unit)?;
        let user = self.managed_user(&unit).await?;
        let tag_value = |key: &str| {
            user.tags
                .iter()
                .find(|(k, _)| crate::core::domain::names::same_tag_key(k, key))
                .map(|(_, v)| v.clone())
        };
        let previous = tag_value(CAP_TAG).and_then(|v| v.parse::<f64>().ok());
        let status = if previous == cap {
            ChangeStatus::Unchanged
        } else {
            ChangeStatus::Planned
        };
        let report = SpendCapReport {
            notes: Vec::new(),
            business_unit: unit.to_string(),
            previous_cap_usd: previous,
            cap_usd: cap,
            status,
            next_steps: vec![format!(
                "The cap takes effect when enforce_spend_caps next runs (CLI: `enforce`, or `enforce --every 5m` / `serve --enforce-every 5m` to keep it applied): once the unit's estimated spend this month reaches it, every key of `{unit}` is denied until the month turns or the cap is raised."
            )],
        };
        Ok(SpendCapPlan {
            owner: tag_value("owner"),
            user_name: user.name,
            unit,
            report,
        })
    }

    /// Apply a cap plan: tag the user, then set the Budgets backstop (a backstop that fails is a note).
    pub async fn apply_spend_cap(&self, plan: SpendCapPlan) -> Result<SpendCapReport> {
        let SpendCapPlan {
            unit,
            user_name,
            owner,
            mut report,
        } = plan;
        if report.status == ChangeStatus::Unchanged {
            return Ok(report);
        }
        let cap = report.cap_usd;
        self.write_cap(&user_name, cap).await?;
        report.status = match report.previous_cap_usd {
            None => ChangeStatus::Created,
            Some(_) => ChangeStatus::Updated,
        };
        report.notes = match self.sync_backstop(&unit, owner.as_deref(), cap).await {
            Ok(notes) => notes,
            Err(error) => vec![format!(
                "The cap is set, but its Budgets backstop is not: {error}. enforce_spend_caps applies the cap without it."
            )],
        };
        tracing::info!(unit = %unit, ?cap, "spend cap set");
        Ok(report)
    }
}

impl Provisioner {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(previous: Option<f64>, cap: Option<f64>) -> SpendCapPlan {
        SpendCapPlan {
            unit: BusinessUnit::parse("business_unit", "web").unwrap(),
            user_name: "web-bedrock-user".to_owned(),
            owner: None,
            report: SpendCapReport {
                business_unit: "web".to_owned(),
                previous_cap_usd: previous,
                cap_usd: cap,
                status: if previous == cap {
                    ChangeStatus::Unchanged
                } else {
                    ChangeStatus::Planned
                },
                next_steps: Vec::new(),
                notes: Vec::new(),
            },
        }
    }

    #[test]
    fn a_cap_plan_asks_only_for_a_change_and_says_what_it_is() {
        assert_eq!(plan(Some(50.0), Some(50.0)).confirmation(), None);
        let set = plan(None, Some(120.0)).confirmation().unwrap();
        assert!(
            set.contains("cap at 120.00 USD a month") && set.contains("(now none)"),
            "{set}"
        );
        let removed = plan(Some(50.0), None).confirmation().unwrap();
        assert!(
            removed.contains("remove the cap") && removed.contains("(now 50.00 USD)"),
            "{removed}"
        );
        assert_eq!(plan(None, Some(1.0)).render().status, ChangeStatus::Planned);
    }
}
