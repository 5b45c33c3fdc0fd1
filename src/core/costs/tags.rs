//! `enable_cost_tags`: activate `business-unit`, `purpose` and `owner` (and their IAM-principal forms) as
//! cost allocation tags, so Cost Explorer can split Bedrock spend by them. Idempotent: read the tags,
//! plan the activations (a pure function), apply them.

use aws_sdk_costexplorer::types::{CostAllocationTagStatus, CostAllocationTagStatusEntry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::cost_tags::carries_tag,
    domain::error::{Error, Result},
    domain::plan::{self, Plan},
};

/// The tag keys this project's users carry for accounting.
pub const ACCOUNTING_TAGS: [&str; 3] = ["business-unit", "purpose", "owner"];

/// Cost Explorer accepts at most this many keys per update.
const MAX_PER_UPDATE: usize = 20;

/// Input of `enable_cost_tags`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableCostTagsInput {
    /// Only report what would be activated.
    #[serde(default)]
    pub dry_run: bool,
    /// Must be true to change the account's billing settings.
    #[serde(default)]
    pub confirm: bool,
    /// The digest of the plan the user agreed to (a confirmation request gives it): a plan that no longer
    /// matches is refused with the new one instead of applied. Not in the tool's schema: the request names it.
    #[serde(default)]
    #[schemars(skip)]
    pub plan_digest: Option<String>,
}

/// Result of `enable_cost_tags`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CostTagsReport {
    /// Keys activated by this call (or, on a dry run, that would be).
    pub activated: Vec<String>,
    /// Keys that were already active.
    pub already_active: Vec<String>,
    /// Accounting keys billing has not seen yet, so they cannot be activated now.
    pub not_yet_known: Vec<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// What the outcome means.
    pub notes: Vec<String>,
}

/// The only resource `enable_cost_tags` changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CostAllocationTag;

/// The one step: activate the tag key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activate;

/// One change of an `enable_cost_tags` plan.
pub type Change = plan::Change<CostAllocationTag, Activate>;

/// For every accounting tag key billing knows: keep an active one, activate an inactive one.
pub fn plan(tags: &[(String, CostAllocationTagStatus)]) -> Vec<Change> {
    tags.iter()
        .filter(|(key, _)| ACCOUNTING_TAGS.iter().any(|t| carries_tag(key, t)))
        .map(|(key, status)| {
            if status == &CostAllocationTagStatus::Active {
                Change::keep(CostAllocationTag, key, "active")
            } else {
                Change::apply(CostAllocationTag, key, "inactive", Activate)
            }
        })
        .collect()
}

/// Accounting tags billing has not seen in any form.
fn not_yet_known(tags: &[(String, CostAllocationTagStatus)]) -> Vec<String> {
    ACCOUNTING_TAGS
        .iter()
        .filter(|tag| !tags.iter().any(|(key, _)| carries_tag(key, tag)))
        .map(|tag| (*tag).to_owned())
        .collect()
}

/// An `enable_cost_tags` plan: the keys to activate and those already active.
#[derive(Debug)]
pub struct CostTagsPlan {
    /// `dry_run` is true until applied.
    report: CostTagsReport,
}

impl Plan for CostTagsPlan {
    type Report = CostTagsReport;

    fn confirmation(&self) -> Option<String> {
        let activated = &self.report.activated;
        (!activated.is_empty()).then(|| {
            format!(
                "enable_cost_tags would activate the cost allocation tags {} for the whole account",
                activated.join(", ")
            )
        })
    }

    fn render(self) -> CostTagsReport {
        self.report
    }
}

impl Provisioner {
    /// The plan of activating the accounting tags as cost allocation tags.
    pub async fn plan_cost_tags(&self, _input: &EnableCostTagsInput) -> Result<CostTagsPlan> {
        let tags = self.cost_allocation_tags().await?;
        let plan = plan(&tags);
        let (activate, keep): (Vec<&Change>, Vec<&Change>) =
            plan.iter().partition(|c| c.step().is_some());
        let mut report = CostTagsReport {
            activated: activate.iter().map(|c| c.id.clone()).collect(),
            already_active: keep.iter().map(|c| c.id.clone()).collect(),
            not_yet_known: not_yet_known(&tags),
            dry_run: true,
            notes: Vec::new(),
        };
        if !report.activated.is_empty() {
            report.notes.push("Cost Explorer groups spend by newly activated tags after up to 24-48 hours, and only from activation on: earlier spend stays untagged.".to_owned());
        }
        if !report.not_yet_known.is_empty() {
            report.notes.push(format!(
                "Billing has not seen {} yet: tag keys appear only after tagged usage (a business unit's user invoking Claude). Run this again a day after first use.",
                report.not_yet_known.join(", ")
            ));
        }
        Ok(CostTagsPlan { report })
    }

    /// Apply a cost-tag plan.
    pub async fn apply_cost_tags(&self, plan: CostTagsPlan) -> Result<CostTagsReport> {
        let mut report = plan.report;
        if !report.activated.is_empty() {
            self.activate_cost_tags(&report.activated).await?;
        }
        report.dry_run = false;
        Ok(report)
    }

    /// Activate the keys, at most [`MAX_PER_UPDATE`] per call; a per-key error of AWS is an error.
    async fn activate_cost_tags(&self, keys: &[String]) -> Result<()> {
        for chunk in keys.chunks(MAX_PER_UPDATE) {
            let entries = chunk
                .iter()
                .map(|key| {
                    CostAllocationTagStatusEntry::builder()
                        .tag_key(key)
                        .status(CostAllocationTagStatus::Active)
                        .build()
                        .map_err(|e| Error::invalid("tag_key", e.to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            let out = self
                .clients()
                .await
                .cost_explorer
                .update_cost_allocation_tags_status()
                .set_cost_allocation_tags_status(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_error("ce:UpdateCostAllocationTagsStatus", e))?;
            if let Some(error) = out.errors().first() {
                return Err(Error::Aws {
                    action: "ce:UpdateCostAllocationTagsStatus",
                    code: error.code().unwrap_or("Unknown").to_owned(),
                    message: format!(
                        "{}: {}",
                        error.tag_key().unwrap_or_default(),
                        error.message().unwrap_or_default()
                    ),
                });
            }
        }
        tracing::info!(?keys, "activated cost allocation tags");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactive_accounting_tags_are_activated_and_others_ignored() {
        let tags = vec![
            (
                "business-unit".to_owned(),
                CostAllocationTagStatus::Inactive,
            ),
            (
                "iamPrincipal/owner".to_owned(),
                CostAllocationTagStatus::Active,
            ),
            ("cost-center".to_owned(), CostAllocationTagStatus::Inactive),
        ];
        let changes = plan(&tags);
        let activate: Vec<&str> = changes
            .iter()
            .filter(|c| c.step().is_some())
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(activate, ["business-unit"]);
        assert_eq!(changes.len(), 2, "cost-center is not an accounting tag");
        assert_eq!(not_yet_known(&tags), ["purpose"]);
    }
}
