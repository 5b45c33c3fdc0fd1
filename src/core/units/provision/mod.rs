//! `provision_user`: create or reconcile a business unit's IAM user, its tags, the Bedrock policy and
//! the attachment, idempotently: read what exists, plan the changes (a pure function), apply them in order.

mod apply;
mod input;
pub mod plan;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use input::{PolicyInput, ProvisionRequest, ProvisionUserInput, RESERVED_KEYS, reserved_key};

use crate::core::{
    Provisioner,
    domain::error::Result,
    domain::plan::{Effect, Plan},
    domain::policy::PolicyChoice,
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

/// A `provision_user` plan: the user, its tags, the policy and the attachment as wanted, and what to do
/// to each, from what IAM holds.
#[derive(Debug)]
pub struct ProvisionPlan {
    request: ProvisionRequest,
    wanted: plan::Wanted,
    changes: Vec<plan::Change>,
    /// The user's ARN when it exists.
    existing_arn: Option<String>,
    /// The ARN the user gets when created.
    new_arn: String,
}

impl Plan for ProvisionPlan {
    type Report = ProvisionReport;

    /// None: provisioning creates or repairs only what this tool keeps, and never deletes.
    fn confirmation(&self) -> Option<String> {
        None
    }

    fn render(self) -> ProvisionReport {
        let resources = self.changes.iter().map(planned).collect();
        let arn = self.existing_arn.unwrap_or(self.new_arn);
        report(&self.request, self.wanted, resources, arn, true)
    }
}

impl Provisioner {
    /// The plan of creating or repairing the unit's user, tags, policy and attachment.
    pub async fn plan_provision_user(&self, input: &ProvisionUserInput) -> Result<ProvisionPlan> {
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
        let changes = plan::plan(&current, &wanted)?;
        let new_arn = format!(
            "arn:{}:iam::{}:user{}{}",
            caller.partition,
            caller.account,
            self.settings().iam_path,
            wanted.user_name
        );
        Ok(ProvisionPlan {
            request,
            wanted,
            changes,
            existing_arn,
            new_arn,
        })
    }

    /// Apply a provisioning plan, in order.
    pub async fn apply_provision_user(&self, plan: ProvisionPlan) -> Result<ProvisionReport> {
        self.apply_provision_noting(plan, &mut Vec::new()).await
    }

    /// [`Provisioner::apply_provision_user`], telling `made` what it created or changed when it fails
    /// part-way (a fleet reports it).
    pub(crate) async fn apply_provision_noting(
        &self,
        plan: ProvisionPlan,
        made: &mut Vec<ResourceChange>,
    ) -> Result<ProvisionReport> {
        let mut applied = apply::Applied::default();
        if let Err(error) = self
            .apply_provision(&plan.wanted, plan.changes, &mut applied)
            .await
        {
            made.append(&mut applied.resources);
            return Err(error);
        }
        let arn = applied
            .created_user_arn
            .or(plan.existing_arn)
            .unwrap_or_default();
        Ok(report(
            &plan.request,
            plan.wanted,
            applied.resources,
            arn,
            false,
        ))
    }
}

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
    dry_run: bool,
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
    let next_steps = if dry_run {
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
        dry_run,
        changed,
        resources,
        warnings,
        next_steps,
    }
}
