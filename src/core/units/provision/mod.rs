//! `provision_user`: create or reconcile a business unit's IAM user, its tags, the Bedrock policy and
//! the attachment, idempotently: read what exists, plan the changes (a pure function), apply them in order.

mod apply;
mod input;
pub mod plan;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use input::{PolicyInput, ProvisionRequest, ProvisionUserInput, RESERVED_KEYS, reserved_key};

use crate::core::{
    Provisioner, domain::error::Result, domain::plan::Effect, domain::policy::PolicyChoice,
};

pub use crate::core::domain::plan::ChangeStatus;

/// Which kind of resource.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr,
)]
#[cfg_attr(test, derive(strum::VariantArray))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ResourceKind {
    /// The IAM user.
    IamUser,
    /// The tags on the IAM user.
    UserTags,
    /// The managed policy (only this project's own policy is created or versioned).
    ManagedPolicy,
    /// The attachment of the policy to the user.
    PolicyAttachment,
}

/// One resource of the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceChange {
    /// The kind of resource.
    pub resource: ResourceKind,
    /// Its name or ARN.
    pub id: String,
    /// What happened to it.
    pub status: ChangeStatus,
    /// What was (or would be) done, in words.
    pub detail: String,
}

/// Result of `provision_user`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ProvisionReport {
    /// The business unit.
    pub business_unit: String,
    /// The IAM user name.
    pub user_name: String,
    /// The IAM user's ARN (as it will be, on a dry run that would create it).
    pub user_arn: String,
    /// The ARN of the attached policy.
    pub policy_arn: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether anything was changed (or, on a dry run, would be).
    pub changed: bool,
    /// Each resource with its status.
    pub resources: Vec<ResourceChange>,
    /// Things the caller should know (broad policy chosen, extra policies found, ...).
    pub warnings: Vec<String>,
    /// What to do next.
    pub next_steps: Vec<String>,
}

impl Provisioner {
    /// Create or reconcile the business unit's user, tags, policy and attachment.
    pub async fn provision_user(&self, input: &ProvisionUserInput) -> Result<ProvisionReport> {
        self.provision_user_noting(input, &mut Vec::new()).await
    }

    /// [`Self::provision_user`], leaving in `made` what it changed before it failed (the user it created,
    /// the policy): a caller that reports a failure part way (a fleet unit) still names what exists.
    pub(crate) async fn provision_user_noting(
        &self,
        input: &ProvisionUserInput,
        made: &mut Vec<ResourceChange>,
    ) -> Result<ProvisionReport> {
        let request = input.validate(&self.settings().default_policy)?;
        let governance = &self.settings().governance;
        governance.check_unit("business_unit", &request.business_unit)?;
        governance.check_tags(&input.tags)?;
        if let PolicyChoice::Arn(arn) = &request.policy {
            governance.check_policy(arn)?;
        }
        let caller = self.caller().await?;
        let wanted = self.provision_wanted(&request, caller)?;
        let (current, existing_arn) = self.provision_current(&request.policy, &wanted).await?;
        let plan = plan::plan(&current, &wanted)?;
        let (resources, user_arn) = if request.dry_run {
            let arn = existing_arn.unwrap_or_else(|| {
                format!(
                    "arn:{}:iam::{}:user{}{}",
                    caller.partition,
                    caller.account,
                    self.settings().iam_path,
                    wanted.user_name
                )
            });
            (plan.iter().map(planned).collect(), arn)
        } else {
            let mut applied = apply::Applied::default();
            if let Err(error) = self.apply_provision(&wanted, plan, &mut applied).await {
                made.append(&mut applied.resources);
                return Err(error);
            }
            let arn = applied
                .created_user_arn
                .or(existing_arn)
                .unwrap_or_default();
            (applied.resources, arn)
        };
        Ok(report(&request, wanted, resources, user_arn))
    }
}

/// A dry run's entry for one change.
fn planned(change: &plan::Change) -> ResourceChange {
    match &change.effect {
        Effect::Keep => apply::report(change, ChangeStatus::Unchanged, &change.why),
        Effect::Drift => apply::report(change, ChangeStatus::Drift, &change.why),
        Effect::Apply(step) => apply::report(change, ChangeStatus::Planned, &step.would()),
    }
}

fn report(
    request: &ProvisionRequest,
    wanted: plan::Wanted,
    resources: Vec<ResourceChange>,
    user_arn: String,
) -> ProvisionReport {
    let mut warnings: Vec<String> = request.policy.warning().into_iter().collect();
    let drift = resources
        .iter()
        .filter(|r| r.status == ChangeStatus::Drift)
        .count();
    if drift > 0 {
        warnings.push(format!(
            "{drift} other managed polic{} attached to {}: the unit may do more than call Claude; \
             see the `drift` entries for the fix",
            if drift == 1 { "y is" } else { "ies are" },
            wanted.user_name
        ));
    }
    let changed = resources.iter().any(|r| {
        matches!(
            r.status,
            ChangeStatus::Created | ChangeStatus::Updated | ChangeStatus::Planned
        )
    });
    let next_steps = if request.dry_run {
        vec!["Call provision_user again without dry_run to apply the planned changes.".to_owned()]
    } else {
        vec![format!(
            "Create a Bedrock API key for `{}` (create_api_key) and hand it to the business unit's owner.",
            request.business_unit
        )]
    };
    ProvisionReport {
        business_unit: request.business_unit.to_string(),
        user_name: wanted.user_name,
        user_arn,
        policy_arn: wanted.policy_arn.as_str().to_owned(),
        dry_run: request.dry_run,
        changed,
        resources,
        warnings,
        next_steps,
    }
}
