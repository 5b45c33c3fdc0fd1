//! `create_budget_alert`: a monthly AWS Budgets cost budget per business unit, filtered to its tag and to
//! Bedrock's billing services, with e-mail alerts at thresholds. Idempotent: an existing budget of the
//! same name is updated to match, and a second identical call changes nothing.

use std::sync::LazyLock;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod apply;
pub mod plan;

use crate::core::{
    Provisioner,
    domain::cost_tags::{BUSINESS_UNIT_TAG, is_principal_tag},
    domain::error::{Error, Result},
    domain::names::BusinessUnit,
    domain::plan::{ChangeStatus, Plan, changes_anything, changes_to_confirm},
};

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[^@\s]+@[^@\s]+\.[^@\s]+$").unwrap_or_else(|_| unreachable!("static regex"))
});

/// Whether a threshold looks at actual or forecasted spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpendKind {
    /// Spend so far this month.
    Actual,
    /// Spend forecast for the month.
    Forecasted,
}

/// One alert threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Percent of the limit, 1-1000.
    pub percent: f64,
    /// `actual` or `forecasted`.
    pub kind: SpendKind,
}

/// Input of `create_budget_alert`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetAlertInput {
    /// The business unit.
    pub business_unit: String,
    /// Monthly limit in USD.
    pub monthly_limit_usd: f64,
    /// E-mail addresses alerted (1-10).
    pub emails: Vec<String>,
    /// Default: 80 % and 100 % actual, 100 % forecasted.
    #[serde(default)]
    pub thresholds: Option<Vec<Threshold>>,
    /// The units' cost allocation tag key (default: discovered).
    #[serde(default)]
    pub tag_key: Option<String>,
    /// Only report what would change.
    #[serde(default)]
    pub dry_run: bool,
    /// Must be true to create or overwrite the budget.
    #[serde(default)]
    pub confirm: bool,
    /// The digest of the plan the user agreed to (a confirmation request gives it): a plan that no longer
    /// matches is refused with the new one instead of applied. Not in the tool's schema: the request names it.
    #[serde(default)]
    #[schemars(skip)]
    pub plan_digest: Option<String>,
}

/// Result of `create_budget_alert`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct BudgetReport {
    /// The budget's name.
    pub budget_name: String,
    /// `created`, `updated`, `unchanged` or `planned`.
    pub status: ChangeStatus,
    /// What changed (or would).
    pub changes: Vec<String>,
    /// The billing services the budget is restricted to; empty when it filters on an IAM-principal tag
    /// alone (every model counts).
    pub services: Vec<String>,
    /// The tag filter (`<tag key>=<business unit>`).
    pub tag_filter: String,
    /// What may keep the budget from counting the unit's spend (inactive tag, IAM-principal tag key).
    pub notes: Vec<String>,
}

/// A validated request.
pub struct BudgetRequest {
    unit: BusinessUnit,
    limit: String,
    emails: Vec<String>,
    thresholds: Vec<Threshold>,
}

/// 80 % and 100 % of actual spend, 100 % of forecasted spend.
fn default_thresholds() -> Vec<Threshold> {
    let at = |percent, kind| Threshold { percent, kind };
    vec![
        at(80.0, SpendKind::Actual),
        at(100.0, SpendKind::Actual),
        at(100.0, SpendKind::Forecasted),
    ]
}

impl BudgetAlertInput {
    /// Check every field without calling AWS; the first broken rule is returned, naming the field.
    pub fn check(&self) -> Result<()> {
        self.validate().map(drop)
    }

    fn validate(&self) -> Result<BudgetRequest> {
        let unit = BusinessUnit::parse("business_unit", &self.business_unit)?;
        if !(self.monthly_limit_usd > 0.0 && self.monthly_limit_usd <= 1e9) {
            return Err(Error::invalid(
                "monthly_limit_usd",
                "must be more than 0 and at most 1000000000",
            ));
        }
        if self.emails.is_empty() || self.emails.len() > 10 {
            return Err(Error::invalid(
                "emails",
                "needs 1-10 addresses (AWS Budgets' limit per notification)",
            ));
        }
        if let Some(bad) = self.emails.iter().find(|e| !EMAIL.is_match(e)) {
            return Err(Error::invalid(
                "emails",
                format!("`{bad}` is not an e-mail address"),
            ));
        }
        let thresholds = self.thresholds.clone().unwrap_or_else(default_thresholds);
        if thresholds.is_empty() || thresholds.len() > 5 {
            return Err(Error::invalid(
                "thresholds",
                "needs 1-5 thresholds (AWS Budgets allows 5 notifications per budget)",
            ));
        }
        if let Some(bad) = thresholds
            .iter()
            .find(|t| !(t.percent > 0.0 && t.percent <= 1000.0))
        {
            return Err(Error::invalid(
                "thresholds",
                format!("percent must be in (0, 1000]; got {}", bad.percent),
            ));
        }
        let mut emails = self.emails.clone();
        emails.sort();
        emails.dedup();
        Ok(BudgetRequest {
            unit,
            limit: format!("{:.2}", self.monthly_limit_usd),
            emails,
            thresholds,
        })
    }
}

/// A `create_budget_alert` plan: the budget as wanted, the steps from the budget AWS holds, and its report.
#[derive(Debug)]
pub struct BudgetPlan {
    account: String,
    wanted: plan::Wanted,
    steps: Vec<plan::Change>,
    exists: bool,
    /// `unchanged`, or `planned` until applied.
    report: BudgetReport,
}

impl Plan for BudgetPlan {
    type Report = BudgetReport;

    fn confirmation(&self) -> Option<String> {
        let report = &self.report;
        changes_to_confirm("create_budget_alert", report.status, &report.changes)
    }

    fn render(self) -> BudgetReport {
        self.report
    }
}

impl Provisioner {
    /// The plan of creating or updating the business unit's monthly Bedrock budget and its alerts.
    pub async fn plan_budget_alert(&self, input: &BudgetAlertInput) -> Result<BudgetPlan> {
        let request = input.validate()?;
        self.settings()
            .governance
            .check_unit("business_unit", &request.unit)?;
        let account = self.caller().await?.account.clone();
        let (tag_key, notes) = self.budget_tag_key(input.tag_key.as_deref()).await?;
        let current = self
            .current_budget(&account, &plan::budget_name(&request.unit))
            .await?;
        let services = if is_principal_tag(&tag_key) {
            Vec::new()
        } else {
            plan::services_to_count(current.as_ref(), &self.recent_bedrock_services().await?)
        };
        let wanted = plan::wanted(&request, &services, &tag_key)?;
        let steps = plan::plan(current.as_ref(), &wanted);
        let status = if changes_anything(&steps) {
            ChangeStatus::Planned
        } else {
            ChangeStatus::Unchanged
        };
        let report = BudgetReport {
            budget_name: wanted.name.clone(),
            status,
            changes: steps.iter().map(|change| change.why.clone()).collect(),
            services,
            tag_filter: format!("{tag_key}={}", request.unit),
            notes,
        };
        Ok(BudgetPlan {
            account,
            wanted,
            steps,
            exists: current.is_some(),
            report,
        })
    }

    /// Apply a budget plan.
    pub async fn apply_budget_alert(&self, plan: BudgetPlan) -> Result<BudgetReport> {
        let mut report = plan.report;
        if report.status == ChangeStatus::Unchanged {
            return Ok(report);
        }
        self.apply_budget(&plan.account, &plan.wanted, &plan.steps)
            .await?;
        report.status = if plan.exists {
            ChangeStatus::Updated
        } else {
            ChangeStatus::Created
        };
        tracing::info!(budget = %plan.wanted.name, status = ?report.status, "budget alert");
        Ok(report)
    }

    /// The tag key the budget filters on, and notes on it.
    async fn budget_tag_key(&self, given: Option<&str>) -> Result<(String, Vec<String>)> {
        let (tag_key, tag_note) = match given {
            Some(key) => (key.to_owned(), None),
            None => self.business_unit_tag_key().await?,
        };
        let mut notes: Vec<String> = tag_note.into_iter().collect();
        if is_principal_tag(&tag_key) {
            notes.push(format!(
                "The budget filters on the IAM-principal tag `{tag_key}` alone: the unit's user can only call Bedrock, so every model counts, a newly released one included. Budgets sees the tag once it is active in the management account (AWS, IAM principal cost allocation)."
            ));
        } else {
            notes.push(format!(
                "`{tag_key}` is a resource tag: the budget also filters on the Bedrock billing services seen so far, and a newly released model counts only after the next create_budget_alert run adds it. Activate `iamPrincipal/{BUSINESS_UNIT_TAG}` (enable_cost_tags) to count every model without a service list."
            ));
        }
        Ok((tag_key, notes))
    }
}

impl Provisioner {
    /// Bedrock billing services seen in the last three months (read once per fleet run).
    async fn recent_bedrock_services(&self) -> Result<Vec<String>> {
        self.once(
            |memo| &memo.services,
            || self.read_recent_bedrock_services(),
        )
        .await
    }

    async fn read_recent_bedrock_services(&self) -> Result<Vec<String>> {
        let today = self.today();
        let end = today.succ_opt().unwrap_or(today);
        let start = end - chrono::Months::new(3);
        let period = aws_sdk_costexplorer::types::DateInterval::builder()
            .start(start.to_string())
            .end(end.to_string())
            .build()
            .map_err(|e| Error::refused("business_unit", e.to_string()))?;
        self.bedrock_services(&period).await
    }
}
