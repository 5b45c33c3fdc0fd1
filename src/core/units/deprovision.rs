//! `deprovision_user`: remove a business unit's user in the order IAM requires (everything attached to
//! the user first, the user last). Only users this tool manages; a dry run shows the plan.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::{
    Provisioner,
    aws::iam::attached_policies,
    aws::sdk_error,
    domain::error::{Result, found},
    domain::names::BusinessUnit,
    domain::plan::Plan,
};

/// Input of `deprovision_user`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeprovisionUserInput {
    /// The business unit whose user `<business_unit>-bedrock-user` is removed.
    pub business_unit: String,
    /// Only report the plan; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Must be true to delete (the deletion cannot be undone): confirms the plan a dry run showed.
    #[serde(default)]
    pub confirm: bool,
    /// The digest of the plan the user agreed to (a confirmation request gives it): a plan that no longer
    /// matches is refused with the new one instead of applied. Not in the tool's schema: the request names it.
    #[serde(default)]
    #[schemars(skip)]
    pub plan_digest: Option<String>,
}

/// One step of the removal, in execution order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr,
)]
#[cfg_attr(test, derive(strum::VariantArray))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum StepKind {
    /// Delete a service-specific credential (Bedrock API keys and others).
    DeleteServiceSpecificCredential,
    /// Delete an access key.
    DeleteAccessKey,
    /// Delete a signing certificate.
    DeleteSigningCertificate,
    /// Delete an SSH public key.
    DeleteSshPublicKey,
    /// Deactivate an MFA device.
    DeactivateMfaDevice,
    /// Delete the console password.
    DeleteLoginProfile,
    /// Remove the user from a group.
    RemoveFromGroup,
    /// Delete an inline policy.
    DeleteInlinePolicy,
    /// Detach a managed policy (the policy itself stays).
    DetachManagedPolicy,
    /// Delete the user.
    DeleteUser,
}

impl StepKind {
    /// Whether the step deletes the resource it names (a detach, deactivation or group removal leaves it).
    pub fn deletes(self) -> bool {
        matches!(
            self,
            Self::DeleteServiceSpecificCredential
                | Self::DeleteAccessKey
                | Self::DeleteSigningCertificate
                | Self::DeleteSshPublicKey
                | Self::DeleteLoginProfile
                | Self::DeleteInlinePolicy
                | Self::DeleteUser
        )
    }
}

/// One step and whether it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    /// What the step does.
    pub action: StepKind,
    /// The id, name or ARN it acts on.
    pub resource: String,
    /// `planned` (dry run) or `done`.
    pub status: StepStatus,
}

/// Whether a step ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// A dry run: it would run.
    Planned,
    /// It ran.
    Done,
}

/// Result of `deprovision_user`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeprovisionReport {
    /// The business unit.
    pub business_unit: String,
    /// The IAM user.
    pub user_name: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Whether the user no longer exists.
    pub user_deleted: bool,
}

/// A `deprovision_user` plan: every step, in IAM's order, the user last. It holds the unit's key lock
/// until applied or dropped.
#[derive(Debug)]
pub struct DeprovisionPlan {
    unit: BusinessUnit,
    user_name: String,
    steps: Vec<(StepKind, String)>,
    _lock: tokio::sync::OwnedMutexGuard<()>,
}

impl DeprovisionPlan {
    fn report(self, status: StepStatus) -> DeprovisionReport {
        let done = status == StepStatus::Done;
        DeprovisionReport {
            business_unit: self.unit.to_string(),
            user_name: self.user_name,
            dry_run: !done,
            steps: self
                .steps
                .into_iter()
                .map(|(action, resource)| Step {
                    action,
                    resource,
                    status,
                })
                .collect(),
            user_deleted: done,
        }
    }
}

impl Plan for DeprovisionPlan {
    type Report = DeprovisionReport;

    fn confirmation(&self) -> Option<String> {
        Some(format!(
            "deprovision_user would delete IAM user `{}` and {} attached item(s): {}",
            self.user_name,
            self.steps.len().saturating_sub(1),
            self.steps
                .iter()
                .map(|(kind, id)| format!("{} {id}", <&str>::from(*kind).replace('_', " ")))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    }

    fn render(self) -> DeprovisionReport {
        self.report(StepStatus::Planned)
    }
}

impl Provisioner {
    /// The plan of removing a business unit's user and everything attached to it.
    pub async fn plan_deprovision_user(
        &self,
        input: &DeprovisionUserInput,
    ) -> Result<DeprovisionPlan> {
        let unit = BusinessUnit::parse("business_unit", &input.business_unit)?;
        let user_name = self.managed_user(&unit).await?.name;
        let lock = self.lock_user(&user_name).await;
        let steps = self.removal_plan(&user_name).await?;
        Ok(DeprovisionPlan {
            unit,
            user_name,
            steps,
            _lock: lock,
        })
    }

    /// Apply a removal plan, step by step: a step that fails stops it, and a re-run resumes.
    pub async fn apply_deprovision_user(&self, plan: DeprovisionPlan) -> Result<DeprovisionReport> {
        for (action, resource) in &plan.steps {
            self.run_step(&plan.user_name, *action, resource).await?;
        }
        tracing::info!(user = %plan.user_name, steps = plan.steps.len(), "deprovision_user");
        Ok(plan.report(StepStatus::Done))
    }

    /// Everything attached to the user, in the order it must go, then the user.
    async fn removal_plan(&self, user_name: &str) -> Result<Vec<(StepKind, String)>> {
        let mut plan = self.credentials_plan(user_name).await?;
        plan.extend(self.attachments_plan(user_name).await?);
        plan.push((StepKind::DeleteUser, user_name.to_owned()));
        Ok(plan)
    }

    /// The user's credentials: service-specific ones, access keys, certificates, SSH keys.
    async fn credentials_plan(&self, user_name: &str) -> Result<Vec<(StepKind, String)>> {
        let iam = &self.clients().await.iam;
        let mut plan = Vec::new();
        let credentials = iam
            .list_service_specific_credentials()
            .user_name(user_name)
            .send()
            .await
            .map_err(|e| sdk_error("iam:ListServiceSpecificCredentials", e))?;
        for c in credentials.service_specific_credentials() {
            plan.push((
                StepKind::DeleteServiceSpecificCredential,
                c.service_specific_credential_id().to_owned(),
            ));
        }
        let keys = iam
            .list_access_keys()
            .user_name(user_name)
            .send()
            .await
            .map_err(|e| sdk_error("iam:ListAccessKeys", e))?;
        for k in keys.access_key_metadata() {
            if let Some(id) = k.access_key_id() {
                plan.push((StepKind::DeleteAccessKey, id.to_owned()));
            }
        }
        let certificates = iam
            .list_signing_certificates()
            .user_name(user_name)
            .send()
            .await
            .map_err(|e| sdk_error("iam:ListSigningCertificates", e))?;
        for c in certificates.certificates() {
            plan.push((
                StepKind::DeleteSigningCertificate,
                c.certificate_id().to_owned(),
            ));
        }
        let ssh_keys = iam
            .list_ssh_public_keys()
            .user_name(user_name)
            .send()
            .await
            .map_err(|e| sdk_error("iam:ListSSHPublicKeys", e))?;
        for k in ssh_keys.ssh_public_keys() {
            plan.push((
                StepKind::DeleteSshPublicKey,
                k.ssh_public_key_id().to_owned(),
            ));
        }
        Ok(plan)
    }

    /// The user's MFA devices, console password, group memberships, inline and managed policies.
    async fn attachments_plan(&self, user_name: &str) -> Result<Vec<(StepKind, String)>> {
        let iam = &self.clients().await.iam;
        let mut plan = Vec::new();
        let mfa = iam
            .list_mfa_devices()
            .user_name(user_name)
            .send()
            .await
            .map_err(|e| sdk_error("iam:ListMFADevices", e))?;
        for d in mfa.mfa_devices() {
            plan.push((StepKind::DeactivateMfaDevice, d.serial_number().to_owned()));
        }
        let login = found(
            iam.get_login_profile()
                .user_name(user_name)
                .send()
                .await
                .map_err(|e| sdk_error("iam:GetLoginProfile", e)),
        )?;
        if login.is_some() {
            plan.push((StepKind::DeleteLoginProfile, user_name.to_owned()));
        }
        let groups = iam
            .list_groups_for_user()
            .user_name(user_name)
            .send()
            .await
            .map_err(|e| sdk_error("iam:ListGroupsForUser", e))?;
        for g in groups.groups() {
            plan.push((StepKind::RemoveFromGroup, g.group_name().to_owned()));
        }
        let inline = iam
            .list_user_policies()
            .user_name(user_name)
            .send()
            .await
            .map_err(|e| sdk_error("iam:ListUserPolicies", e))?;
        for name in inline.policy_names() {
            plan.push((StepKind::DeleteInlinePolicy, name.clone()));
        }
        for arn in attached_policies(iam, user_name).await? {
            plan.push((StepKind::DetachManagedPolicy, arn));
        }
        Ok(plan)
    }

    /// Remove one item of the plan.
    async fn run_step(&self, user_name: &str, kind: StepKind, resource: &str) -> Result<()> {
        let iam = &self.clients().await.iam;
        match kind {
            StepKind::DeleteServiceSpecificCredential => iam
                .delete_service_specific_credential()
                .user_name(user_name)
                .service_specific_credential_id(resource)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error("iam:DeleteServiceSpecificCredential", e)),
            StepKind::DeleteAccessKey => iam
                .delete_access_key()
                .user_name(user_name)
                .access_key_id(resource)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error("iam:DeleteAccessKey", e)),
            StepKind::DeleteSigningCertificate => iam
                .delete_signing_certificate()
                .user_name(user_name)
                .certificate_id(resource)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error("iam:DeleteSigningCertificate", e)),
            StepKind::DeleteSshPublicKey => iam
                .delete_ssh_public_key()
                .user_name(user_name)
                .ssh_public_key_id(resource)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error("iam:DeleteSSHPublicKey", e)),
            StepKind::DeactivateMfaDevice => iam
                .deactivate_mfa_device()
                .user_name(user_name)
                .serial_number(resource)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error("iam:DeactivateMFADevice", e)),
            StepKind::DeleteLoginProfile => iam
                .delete_login_profile()
                .user_name(user_name)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error("iam:DeleteLoginProfile", e)),
            StepKind::RemoveFromGroup => iam
                .remove_user_from_group()
                .user_name(user_name)
                .group_name(resource)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error("iam:RemoveUserFromGroup", e)),
            StepKind::DeleteInlinePolicy => iam
                .delete_user_policy()
                .user_name(user_name)
                .policy_name(resource)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error("iam:DeleteUserPolicy", e)),
            StepKind::DetachManagedPolicy => iam
                .detach_user_policy()
                .user_name(user_name)
                .policy_arn(resource)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error("iam:DetachUserPolicy", e)),
            StepKind::DeleteUser => iam
                .delete_user()
                .user_name(user_name)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error("iam:DeleteUser", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn plan(steps: Vec<(StepKind, String)>) -> DeprovisionPlan {
        DeprovisionPlan {
            unit: BusinessUnit::parse("business_unit", "web").unwrap(),
            user_name: "web-bedrock-user".to_owned(),
            steps,
            _lock: Arc::new(tokio::sync::Mutex::new(()))
                .try_lock_owned()
                .unwrap(),
        }
    }

    #[test]
    fn the_plan_confirmed_names_every_item_and_the_dry_run_renders_it_unapplied() {
        let plan = plan(vec![
            (
                StepKind::DeleteServiceSpecificCredential,
                "ACCA1".to_owned(),
            ),
            (StepKind::DeleteUser, "web-bedrock-user".to_owned()),
        ]);
        let words = plan.confirmation().unwrap();
        assert!(
            words.contains("delete IAM user `web-bedrock-user` and 1 attached item(s)")
                && words.contains("delete service specific credential ACCA1"),
            "{words}"
        );
        let report = plan.render();
        assert!(report.dry_run && !report.user_deleted);
        assert!(report.steps.iter().all(|s| s.status == StepStatus::Planned));
        assert_eq!(report.steps.len(), 2);
    }
}
