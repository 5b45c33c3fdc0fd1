//! Plan, confirm, apply: how every planned operation runs, for every adapter. The core plans from what
//! AWS holds; a dry run is that plan rendered; otherwise the plan is confirmed when it asks (the caller's
//! `confirm`, for this plan's digest when it names one) and that same plan is applied. A confirmation
//! for a plan that is no longer what AWS calls for (the account changed since) refuses with the new
//! plan, to be shown again. Only this module reads `confirm`, never the core.

use futures::future::BoxFuture;

use super::Call;
use crate::core::{
    Provisioner, Result,
    costs::budgets::{BudgetAlertInput, BudgetPlan},
    costs::tags::{CostTagsPlan, EnableCostTagsInput},
    domain::plan::{Confirmation, Plan},
    keys::{RevokeKeyInput, RevokePlan},
    spend::{
        caps::{EnforceInput, EnforcePlan},
        logging::{EnableUsageLoggingInput, LoggingPlan},
        set_cap::{SetSpendCapInput, SpendCapPlan},
    },
    units::deprovision::{DeprovisionPlan, DeprovisionUserInput},
    units::provision::{ProvisionPlan, ProvisionUserInput},
};

/// The report a mutation with input `M` writes.
pub type Report<M> = <<M as Mutation>::Plan as Plan>::Report;

/// A planned operation's input: what the caller asked besides the change itself, and the core's two
/// halves.
pub trait Mutation: Send + Sync {
    /// What the core plans from this input.
    type Plan: Plan;
    /// `dry_run`.
    fn dry_run(&self) -> bool;
    /// `confirm` and `plan_digest` (a malformed digest is refused before any AWS call).
    fn confirmation(&self) -> Result<Confirmation>;
    /// The core's plan.
    fn plan<'a>(&'a self, core: &'a Provisioner) -> BoxFuture<'a, Result<Self::Plan>>;
    /// The core's apply of a plan.
    fn apply(core: &Provisioner, plan: Self::Plan) -> BoxFuture<'_, Result<Report<Self>>>;
}

/// Plan the change `input` asks for; render it for a dry run, else apply it once confirmed.
pub async fn mutate<M: Mutation>(core: &Provisioner, input: &M) -> Result<Report<M>> {
    let confirmation = input.confirmation()?;
    let plan = input.plan(core).await?;
    if input.dry_run() {
        return Ok(plan.render());
    }
    if let Some(words) = plan.confirmation() {
        confirmation.gate(words)?;
    }
    M::apply(core, plan).await
}

/// [`mutate`] as an operation's run.
pub async fn run<M: Mutation>(call: Call<'_>, input: M) -> Result<Report<M>> {
    mutate(call.core, &input).await
}

/// Declares an input type's plan and apply (core methods), and reads its `dry_run`, `confirm` and
/// `plan_digest` (`unconfirmed`: an input without the last two, whose plans never ask).
macro_rules! mutation {
    ($input:ty => $plan:ty: $plan_method:ident, $apply_method:ident) => {
        mutation!(@impl $input => $plan: $plan_method, $apply_method, |input: &$input| {
            Confirmation::of(input.confirm, input.plan_digest.as_deref())
        });
    };
    ($input:ty => $plan:ty: $plan_method:ident, $apply_method:ident, unconfirmed) => {
        mutation!(@impl $input => $plan: $plan_method, $apply_method, |_: &$input| {
            Ok(Confirmation::No)
        });
    };
    (@impl $input:ty => $plan:ty: $plan_method:ident, $apply_method:ident, $confirmation:expr) => {
        impl Mutation for $input {
            type Plan = $plan;

            fn dry_run(&self) -> bool {
                self.dry_run
            }

            fn confirmation(&self) -> Result<Confirmation> {
                ($confirmation)(self)
            }

            fn plan<'a>(&'a self, core: &'a Provisioner) -> BoxFuture<'a, Result<$plan>> {
                Box::pin(core.$plan_method(self))
            }

            fn apply(core: &Provisioner, plan: $plan) -> BoxFuture<'_, Result<Report<Self>>> {
                Box::pin(core.$apply_method(plan))
            }
        }
    };
}

mutation!(EnforceInput => EnforcePlan: plan_enforce, apply_enforce, unconfirmed);
mutation!(ProvisionUserInput => ProvisionPlan: plan_provision_user, apply_provision_user, unconfirmed);
mutation!(DeprovisionUserInput => DeprovisionPlan: plan_deprovision_user, apply_deprovision_user);
mutation!(RevokeKeyInput => RevokePlan: plan_revoke_key, apply_revoke_key);
mutation!(EnableCostTagsInput => CostTagsPlan: plan_cost_tags, apply_cost_tags);
mutation!(BudgetAlertInput => BudgetPlan: plan_budget_alert, apply_budget_alert);
mutation!(EnableUsageLoggingInput => LoggingPlan: plan_usage_logging, apply_usage_logging);
mutation!(SetSpendCapInput => SpendCapPlan: plan_spend_cap, apply_spend_cap);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{
        Error,
        aws::fake_aws::FakeAws,
        domain::plan::PlanDigest,
        keys::{RevokeAction, RevokeOutcome},
    };

    const KEY: &str = "ACCAFAKEKEY000000001";

    /// A managed unit `web` whose one key has `status`.
    fn unit_with_key(status: &str) -> FakeAws {
        let fake = FakeAws::default();
        fake.iam_ok(
            "GetUser",
            "<User><Path>/</Path><UserName>web-bedrock-user</UserName><UserId>AIDAFAKE0000000001</UserId>\
             <Arn>arn:aws:iam::123456789012:user/web-bedrock-user</Arn><CreateDate>2026-11-01T00:00:00Z</CreateDate>\
             <Tags><member><Key>managed-by</Key><Value>bedrock-provisioner</Value></member></Tags></User>",
        );
        fake.iam_ok(
            "ListServiceSpecificCredentials",
            &format!(
                "<ServiceSpecificCredentials><member><UserName>web-bedrock-user</UserName>\
                 <Status>{status}</Status><ServiceUserName>web-bedrock-user-at-123456789012</ServiceUserName>\
                 <CreateDate>2026-11-01T00:00:00Z</CreateDate><ServiceSpecificCredentialId>{KEY}</ServiceSpecificCredentialId>\
                 <ServiceName>bedrock.amazonaws.com</ServiceName></member></ServiceSpecificCredentials><IsTruncated>false</IsTruncated>"
            ),
        );
        fake.iam_ok("UpdateServiceSpecificCredential", "");
        fake
    }

    fn revoke(dry_run: bool, confirm: bool, plan_digest: Option<String>) -> RevokeKeyInput {
        RevokeKeyInput {
            business_unit: "web".to_owned(),
            credential_id: KEY.to_owned(),
            action: RevokeAction::Deactivate,
            dry_run,
            confirm,
            plan_digest,
        }
    }

    fn updates(fake: &FakeAws) -> usize {
        let calls = fake.calls();
        calls
            .iter()
            .filter(|c| *c == "UpdateServiceSpecificCredential")
            .count()
    }

    #[tokio::test]
    async fn a_dry_run_is_the_plan_rendered_and_changes_nothing() {
        let fake = unit_with_key("Active");
        let core = fake.provisioner();
        let report = mutate(&core, &revoke(true, false, None)).await.unwrap();
        assert_eq!(
            (report.outcome, report.dry_run),
            (RevokeOutcome::Planned, true)
        );
        assert_eq!(updates(&fake), 0);
    }

    #[tokio::test]
    async fn the_plan_confirmed_by_its_digest_is_applied_once() {
        let fake = unit_with_key("Active");
        let core = fake.provisioner();
        let Err(Error::ConfirmationRequired { plan_digest, .. }) =
            mutate(&core, &revoke(false, false, None)).await
        else {
            panic!("an unconfirmed revoke is refused with its plan");
        };
        assert_eq!(updates(&fake), 0);
        let report = mutate(&core, &revoke(false, true, Some(plan_digest)))
            .await
            .unwrap();
        assert_eq!(report.outcome, RevokeOutcome::Deactivated);
        assert_eq!(updates(&fake), 1);
    }

    #[tokio::test]
    async fn a_plan_that_changed_since_it_was_confirmed_is_shown_again_not_applied() {
        let fake = unit_with_key("Inactive");
        let core = fake.provisioner();
        let seen = PlanDigest::of("the plan the user saw, when the key was still active");
        let error = mutate(&core, &revoke(false, true, Some(seen.to_string())))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::PlanChanged { summary, .. } if summary.contains("status Inactive")),
            "{error:?}"
        );
        assert_eq!(updates(&fake), 0);
    }

    #[tokio::test]
    async fn a_malformed_digest_is_refused_before_any_aws_call() {
        let fake = unit_with_key("Active");
        let core = fake.provisioner();
        let error = mutate(&core, &revoke(false, true, Some("nope".to_owned())))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("plan_digest"), "{error}");
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    }
}
