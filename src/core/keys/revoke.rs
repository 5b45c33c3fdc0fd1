//! `revoke_key`: deactivate (reversible) or delete one Bedrock API key of a unit. The plan names the key
//! and holds the unit's key lock until it is applied or dropped, so no rotation of the unit runs between
//! what the user confirmed and what is done.

use aws_sdk_iam::types::StatusType;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::OwnedMutexGuard;

use super::parse_credential_id;
use crate::core::{
    Provisioner, aws::sdk_error, domain::error::Result, domain::names::BusinessUnit,
    domain::plan::Plan,
};

/// What `revoke_key` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevokeAction {
    /// Set the key `Inactive` (reversible).
    #[default]
    Deactivate,
    /// Delete the key (irreversible).
    Delete,
}

/// Input of `revoke_key`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeKeyInput {
    /// The business unit that owns the key.
    pub business_unit: String,
    /// The key's id (`ACCA...`), from list_api_keys.
    pub credential_id: String,
    /// What to do.
    #[serde(default)]
    pub action: RevokeAction,
    /// Only report what would happen.
    #[serde(default)]
    pub dry_run: bool,
    /// Must be true to change the key: confirms that clients using it will stop working.
    #[serde(default)]
    pub confirm: bool,
    /// The digest of the plan the user agreed to (a confirmation request gives it): a plan that no longer
    /// matches is refused with the new one instead of applied. Not in the tool's schema: the request names it.
    #[serde(default)]
    #[schemars(skip)]
    pub plan_digest: Option<String>,
}

/// What `revoke_key` did to the key.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr,
)]
#[cfg_attr(test, derive(strum::VariantArray))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RevokeOutcome {
    /// A dry run: it would be deactivated or deleted.
    Planned,
    /// It was already inactive.
    Unchanged,
    /// It was deactivated (reversible).
    Deactivated,
    /// It was deleted.
    Deleted,
}

/// Result of `revoke_key`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RevokeReport {
    /// The business unit.
    pub business_unit: String,
    /// The key's id.
    pub credential_id: String,
    /// What was done.
    pub outcome: RevokeOutcome,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// A `revoke_key` plan: the key as IAM holds it and what to do to it.
#[derive(Debug)]
pub struct RevokePlan {
    unit: BusinessUnit,
    user_name: String,
    credential_id: String,
    action: RevokeAction,
    status: StatusType,
    _lock: OwnedMutexGuard<()>,
}

impl RevokePlan {
    fn report(&self, outcome: RevokeOutcome, dry_run: bool) -> RevokeReport {
        RevokeReport {
            business_unit: self.unit.to_string(),
            credential_id: self.credential_id.clone(),
            outcome,
            dry_run,
        }
    }
}

impl Plan for RevokePlan {
    type Report = RevokeReport;

    fn confirmation(&self) -> Option<String> {
        let verb = match self.action {
            RevokeAction::Deactivate => {
                "deactivate (reversible with `aws iam update-service-specific-credential --status Active`)"
            }
            RevokeAction::Delete => "permanently delete",
        };
        Some(format!(
            "revoke_key would {verb} Bedrock API key `{}` of `{}` (status {}); every client using it \
             stops working",
            self.credential_id,
            self.user_name,
            self.status.as_str()
        ))
    }

    fn render(self) -> RevokeReport {
        self.report(RevokeOutcome::Planned, true)
    }
}

impl Provisioner {
    /// The plan of deactivating or deleting one key of the business unit's user (a key of another unit
    /// is refused).
    pub async fn plan_revoke_key(&self, input: &RevokeKeyInput) -> Result<RevokePlan> {
        let unit = BusinessUnit::parse("business_unit", &input.business_unit)?;
        let credential_id = parse_credential_id("credential_id", &input.credential_id)?;
        let user_name = self.managed_user(&unit).await?.name;
        let lock = self.lock_user(&user_name).await;
        let key = self.owned_key(&unit, &user_name, &credential_id).await?;
        Ok(RevokePlan {
            unit,
            status: key.status().clone(),
            user_name,
            credential_id,
            action: input.action,
            _lock: lock,
        })
    }

    /// Apply a revoke plan.
    pub async fn apply_revoke_key(&self, plan: RevokePlan) -> Result<RevokeReport> {
        let (user_name, credential_id) = (&plan.user_name, &plan.credential_id);
        let outcome = match plan.action {
            RevokeAction::Deactivate if plan.status == StatusType::Inactive => {
                RevokeOutcome::Unchanged
            }
            RevokeAction::Deactivate => {
                self.clients()
                    .await
                    .iam
                    .update_service_specific_credential()
                    .user_name(user_name)
                    .service_specific_credential_id(credential_id)
                    .status(StatusType::Inactive)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:UpdateServiceSpecificCredential", e))?;
                RevokeOutcome::Deactivated
            }
            RevokeAction::Delete => {
                self.delete_key(user_name, credential_id).await?;
                RevokeOutcome::Deleted
            }
        };
        tracing::info!(user = %user_name, credential_id = %credential_id, ?outcome, "revoke_key");
        Ok(plan.report(outcome, false))
    }
}
