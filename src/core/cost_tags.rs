//! `enable_cost_tags`: activate `business-unit`, `purpose` and `owner` (and their IAM-principal forms) as
//! cost allocation tags, so Cost Explorer can split Bedrock spend by them. Idempotent.

use aws_sdk_costexplorer::types::{CostAllocationTagStatus, CostAllocationTagStatusEntry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Provisioner,
    aws::sdk_error,
    error::{Error, Result},
};

/// The tag keys this project's users carry for accounting.
pub const ACCOUNTING_TAGS: [&str; 3] = ["business-unit", "purpose", "owner"];
/// Whether a cost allocation tag key carries the tag `tag`: the plain key, or an IAM-principal form
/// such as `iamPrincipal/<tag>`.
pub fn carries_tag(key: &str, tag: &str) -> bool {
    key == tag
        || key
            .strip_suffix(tag)
            .is_some_and(|prefix| prefix.ends_with('/'))
}

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

impl Provisioner {
    /// Activate the accounting tags as cost allocation tags.
    pub async fn enable_cost_tags(&self, input: &EnableCostTagsInput) -> Result<CostTagsReport> {
        let tags = self.cost_allocation_tags().await?;
        let accounting = |key: &str| ACCOUNTING_TAGS.iter().any(|t| carries_tag(key, t));
        let mut report = CostTagsReport {
            activated: Vec::new(),
            already_active: Vec::new(),
            not_yet_known: Vec::new(),
            dry_run: input.dry_run,
            notes: Vec::new(),
        };
        for (key, status) in tags.iter().filter(|(key, _)| accounting(key)) {
            if status == &CostAllocationTagStatus::Active {
                report.already_active.push(key.clone());
            } else {
                report.activated.push(key.clone());
            }
        }
        for tag in ACCOUNTING_TAGS {
            if !tags.iter().any(|(key, _)| carries_tag(key, tag)) {
                report.not_yet_known.push(tag.to_owned());
            }
        }
        if !report.activated.is_empty() && !input.dry_run {
            if !input.confirm {
                return Err(Error::ConfirmationRequired {
                    summary: format!(
                        "enable_cost_tags would activate the cost allocation tags {} for the whole account",
                        report.activated.join(", ")
                    ),
                });
            }
            for chunk in report.activated.chunks(MAX_PER_UPDATE) {
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
            tracing::info!(keys = ?report.activated, "activated cost allocation tags");
        }
        if !report.activated.is_empty() {
            report.notes.push("Cost Explorer groups spend by newly activated tags after up to 24-48 hours, and only from activation on: earlier spend stays untagged.".to_owned());
        }
        if !report.not_yet_known.is_empty() {
            report.notes.push(format!(
                "Billing has not seen {} yet: tag keys appear only after tagged usage (a business unit's user invoking Claude). Run this again a day after first use.",
                report.not_yet_known.join(", ")
            ));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_principal_forms_carry_a_tag() {
        assert!(carries_tag("owner", "owner"));
        assert!(carries_tag("iamPrincipal/owner", "owner"));
        assert!(!carries_tag("co-owner", "owner"));
        assert!(!carries_tag("owner/x", "owner"));
    }
}
