//! A backstop that needs no process of ours: with a cap, the unit gets an AWS Budgets budget
//! `bedrock-<unit>-spend-cap` (its cap, filtered on the IAM-principal tag `iamPrincipal/business-unit`, so every
//! model counts) with an `APPLY_IAM_POLICY` action that attaches the same deny at 100 % of actual spend. Budgets
//! evaluates "several times a day" (3-16 h late) and never lifts the deny by itself: `enforce_spend_caps`
//! reverses and resets the action when the month turns.

use aws_sdk_budgets::types::{
    ActionStatus, ActionThreshold, ActionType, ApprovalModel, Budget, BudgetType, Definition,
    ExecutionType, Expression, IamActionDefinition, NotificationType, Spend, Subscriber,
    SubscriptionType, TagValues, ThresholdType, TimeUnit,
};
use serde_json::json;

use super::{caps::Backstop, logging::ignore_exists};
use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::cost_tags::{BUSINESS_UNIT_TAG, is_principal_tag},
    domain::error::{Error, Result, found},
    domain::names::BusinessUnit,
};

/// The role AWS Budgets assumes to attach and detach the deny.
pub const EXECUTION_ROLE: &str = "BedrockProvisionerBudgetsAction";

/// The name of a unit's cap budget.
pub fn budget_name(unit: &str) -> String {
    format!("bedrock-{unit}-spend-cap")
}

fn invalid(e: aws_sdk_budgets::error::BuildError) -> Error {
    Error::refused("monthly_cap_usd", e.to_string())
}

/// The unit's cap budget: its cap, monthly, on the IAM-principal tag alone, with `Metrics`.
fn cap_budget(name: &str, cap: f64, tag_key: &str, unit: &BusinessUnit) -> Result<Budget> {
    Budget::builder()
        .budget_name(name)
        .budget_limit(
            Spend::builder()
                .amount(format!("{cap:.2}"))
                .unit("USD")
                .build()
                .map_err(invalid)?,
        )
        .time_unit(TimeUnit::Monthly)
        .budget_type(BudgetType::Cost)
        .filter_expression(
            Expression::builder()
                .tags(
                    TagValues::builder()
                        .key(tag_key)
                        .values(unit.as_str())
                        .build(),
                )
                .build(),
        )
        .metrics(crate::core::costs::budgets::plan::METRIC)
        .build()
        .map_err(invalid)
}

impl Provisioner {
    /// Make the unit's cap budget and action match `cap` (`None` removes them); notes on what could not be.
    pub(crate) async fn sync_backstop(
        &self,
        unit: &BusinessUnit,
        owner: Option<&str>,
        cap: Option<f64>,
    ) -> Result<Vec<String>> {
        let account = self.caller().await?.account.clone();
        let name = budget_name(unit.as_str());
        let budgets = &self.clients().await.budgets;
        let existing = found(
            budgets
                .describe_budget()
                .account_id(&account)
                .budget_name(&name)
                .send()
                .await
                .map_err(|e| sdk_error("budgets:DescribeBudget", e)),
        )?
        .and_then(|o| o.budget);
        let Some(cap) = cap else {
            if existing.is_some() {
                budgets
                    .delete_budget()
                    .account_id(&account)
                    .budget_name(&name)
                    .send()
                    .await
                    .map_err(|e| sdk_error("budgets:DeleteBudget", e))?;
            }
            return Ok(Vec::new());
        };
        let (tag_key, _) = self.business_unit_tag_key().await?;
        if !is_principal_tag(&tag_key) {
            return Ok(vec![format!(
                "No Budgets backstop: it needs the IAM-principal cost allocation tag `iamPrincipal/{BUSINESS_UNIT_TAG}` active (enable_cost_tags); until then only enforce_spend_caps applies the cap."
            )]);
        }
        let Some(email) = owner.filter(|o| o.contains('@')) else {
            return Ok(vec!["No Budgets backstop: a Budgets action needs an e-mail subscriber, and the unit's `owner` tag is not an e-mail address.".to_owned()]);
        };
        let budget = cap_budget(&name, cap, &tag_key, unit)?;
        self.ensure_cap_budget(&account, budget, existing.as_ref(), cap)
            .await?;
        self.ensure_action(&account, &name, unit, email).await?;
        Ok(vec![format!(
            "Budgets backstop: the budget {name} attaches the same deny at 100 % of billed spend (Budgets evaluates several times a day); enforce_spend_caps lifts it when the month turns."
        )])
    }

    /// Create the budget, or set its limit when it differs (`UpdateBudget` resets its calculated spend:
    /// only when the cap changed).
    async fn ensure_cap_budget(
        &self,
        account: &str,
        budget: Budget,
        existing: Option<&Budget>,
        cap: f64,
    ) -> Result<()> {
        let budgets = &self.clients().await.budgets;
        let limit = format!("{cap:.2}");
        match existing {
            None => {
                budgets
                    .create_budget()
                    .account_id(account)
                    .budget(budget)
                    .send()
                    .await
                    .map_err(|e| sdk_error("budgets:CreateBudget", e))?;
            }
            Some(current) if current.budget_limit().map(|l| l.amount()) != Some(limit.as_str()) => {
                budgets
                    .update_budget()
                    .account_id(account)
                    .new_budget(budget)
                    .send()
                    .await
                    .map_err(|e| sdk_error("budgets:UpdateBudget", e))?;
            }
            Some(_) => {}
        }
        Ok(())
    }

    async fn ensure_action(
        &self,
        account: &str,
        name: &str,
        unit: &BusinessUnit,
        email: &str,
    ) -> Result<()> {
        let budgets = &self.clients().await.budgets;
        let actions = budgets
            .describe_budget_actions_for_budget()
            .account_id(account)
            .budget_name(name)
            .send()
            .await
            .map_err(|e| sdk_error("budgets:DescribeBudgetActionsForBudget", e))?;
        if !actions.actions().is_empty() {
            return Ok(());
        }
        let role = self.ensure_execution_role().await?;
        let policy = self.deny_policy_arn().await?;
        let definition = Definition::builder()
            .iam_action_definition(
                IamActionDefinition::builder()
                    .policy_arn(policy)
                    .users(unit.user_name())
                    .build()
                    .map_err(invalid)?,
            )
            .build();
        budgets
            .create_budget_action()
            .account_id(account)
            .budget_name(name)
            .notification_type(NotificationType::Actual)
            .action_type(ActionType::Iam)
            .action_threshold(
                ActionThreshold::builder()
                    .action_threshold_value(100.0)
                    .action_threshold_type(ThresholdType::Percentage)
                    .build()
                    .map_err(invalid)?,
            )
            .definition(definition)
            .execution_role_arn(role)
            .approval_model(ApprovalModel::Auto)
            .subscribers(
                Subscriber::builder()
                    .subscription_type(SubscriptionType::Email)
                    .address(email)
                    .build()
                    .map_err(invalid)?,
            )
            .send()
            .await
            .map_err(|e| sdk_error("budgets:CreateBudgetAction", e))?;
        Ok(())
    }

    /// The execution role: trusted by Budgets, allowed to attach and detach the deny policy only.
    async fn ensure_execution_role(&self) -> Result<String> {
        let caller = self.caller().await?.clone();
        let path = self.settings().iam_path.clone();
        let policy = self.deny_policy().await?;
        let iam = &self.clients().await.iam;
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "budgets.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": caller.account}}}]});
        ignore_exists(
            iam.create_role()
                .role_name(EXECUTION_ROLE)
                .path(&path)
                .assume_role_policy_document(trust.to_string())
                .send()
                .await
                .map_err(|e| sdk_error("iam:CreateRole", e)),
        )?;
        let allow = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["iam:AttachUserPolicy", "iam:DetachUserPolicy"], "Resource": "*",
            "Condition": {"ArnEquals": {"iam:PolicyARN": policy}}}]});
        iam.put_role_policy()
            .role_name(EXECUTION_ROLE)
            .policy_name("apply-spend-cap-deny")
            .policy_document(allow.to_string())
            .send()
            .await
            .map_err(|e| sdk_error("iam:PutRolePolicy", e))?;
        Ok(format!(
            "arn:{}:iam::{}:role{path}{EXECUTION_ROLE}",
            caller.partition, caller.account
        ))
    }

    /// Each unit whose backstop action has attached the deny (status `EXECUTION_SUCCESS`), and whether for
    /// this month (the budget's actual spend of the current period reached its limit) or an earlier one.
    pub(crate) async fn backstops(
        &self,
        _period: &str,
    ) -> Result<std::collections::HashMap<String, Backstop>> {
        let account = self.caller().await?.account.clone();
        let budgets = &self.clients().await.budgets;
        let out = budgets
            .describe_budget_actions_for_account()
            .account_id(&account)
            .send()
            .await
            .map_err(|e| sdk_error("budgets:DescribeBudgetActionsForAccount", e))?;
        let mut fired = std::collections::HashMap::new();
        for action in out
            .actions()
            .iter()
            .filter(|a| a.status() == &ActionStatus::ExecutionSuccess)
        {
            let Some(unit) = action
                .budget_name()
                .strip_prefix("bedrock-")
                .and_then(|n| n.strip_suffix("-spend-cap"))
            else {
                continue;
            };
            let budget = budgets
                .describe_budget()
                .account_id(&account)
                .budget_name(action.budget_name())
                .send()
                .await
                .map_err(|e| sdk_error("budgets:DescribeBudget", e))?;
            let this_month = budget.budget().is_some_and(|b| {
                let amount = |s: Option<&Spend>| s.and_then(|s| s.amount().parse::<f64>().ok());
                let actual = amount(b.calculated_spend().and_then(|c| c.actual_spend()));
                let limit = amount(b.budget_limit());
                matches!((actual, limit), (Some(a), Some(l)) if a >= l)
            });
            fired.insert(
                unit.to_owned(),
                if this_month {
                    Backstop::FiredThisMonth
                } else {
                    Backstop::FiredEarlier
                },
            );
        }
        Ok(fired)
    }

    /// Reverse and reset the unit's backstop action, so it can fire again next month.
    pub(crate) async fn reset_backstop(&self, unit: &str) -> Result<()> {
        let account = self.caller().await?.account.clone();
        let name = budget_name(unit);
        let budgets = &self.clients().await.budgets;
        let actions = match found(
            budgets
                .describe_budget_actions_for_budget()
                .account_id(&account)
                .budget_name(&name)
                .send()
                .await
                .map_err(|e| sdk_error("budgets:DescribeBudgetActionsForBudget", e)),
        )? {
            Some(out) => out.actions().to_vec(),
            None => return Ok(()),
        };
        for action in actions {
            let steps: &[ExecutionType] = match action.status() {
                ActionStatus::ExecutionSuccess => &[
                    ExecutionType::ReverseBudgetAction,
                    ExecutionType::ResetBudgetAction,
                ],
                ActionStatus::ReverseSuccess
                | ActionStatus::Pending
                | ActionStatus::ExecutionFailure => &[ExecutionType::ResetBudgetAction],
                _ => &[],
            };
            for step in steps {
                budgets
                    .execute_budget_action()
                    .account_id(&account)
                    .budget_name(&name)
                    .action_id(action.action_id())
                    .execution_type(step.clone())
                    .send()
                    .await
                    .map_err(|e| sdk_error("budgets:ExecuteBudgetAction", e))?;
            }
        }
        Ok(())
    }
}
