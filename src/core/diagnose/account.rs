//! Account checks: the business unit's `user`, its `api_key`s (and a given key value), whether that key
//! works (`key_works`), and `cost_tags`.

use aws_sdk_costexplorer::types::CostAllocationTagStatus;

use super::{CheckId, CheckResult, Request};
use crate::core::{
    Provisioner,
    aws::sdk_error,
    costs::tags::ACCOUNTING_TAGS,
    diagnose::verify::{Verdict, VerifyAccessInput},
    domain::cost_tags::carries_tag,
    domain::error::Error,
    domain::names::BusinessUnit,
    domain::policy::{BEDROCK_LIMITED_ACCESS, POLICY_NAME},
    is_managed,
    keys::inspect::{KeyInspection, KeyKind, alias_account, alias_names_user, inspect_key},
    keys::{ApiKeySummary, KeyFlag},
};

impl Provisioner {
    pub(super) async fn check_user(&self, request: &Request) -> CheckResult {
        let id = CheckId::User;
        let Some(unit) = &request.unit else {
            return CheckResult::skipped(id, "no business_unit given");
        };
        let user_name = unit.user_name();
        let user = match self.find_user(&user_name).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                return CheckResult::fail(id, format!("IAM user {user_name} does not exist"))
                    .fix(format!("Provision it: provision_user business_unit `{unit}` with purpose and owner."));
            }
            Err(error) => return CheckResult::from_error(id, &error),
        };
        if !is_managed(&user) {
            return CheckResult::fail(
                id,
                format!("IAM user {user_name} already exists but bedrock-provisioner did not create it"),
            )
            .evidence(format!("user {} created {}", user.arn(), user.create_date()))
            .fix(format!("To keep the user and its keys: provision_user business_unit `{unit}` with `adopt: true` (adds the tags and the Bedrock policy, removes nothing)."))
            .fix("To start clean instead: adopt it, then deprovision_user (deletes its keys, access keys, policies and the user in the right order), then provision_user.");
        }
        let mut problems = Vec::new();
        for key in ACCOUNTING_TAGS {
            match user
                .tags()
                .iter()
                .find(|t| crate::core::domain::names::same_tag_key(t.key(), key))
            {
                None => problems.push(format!("tag `{key}` is missing")),
                Some(tag) if tag.value().trim().is_empty() => {
                    problems.push(format!("tag `{key}` is empty"))
                }
                Some(_) => {}
            }
        }
        let attached = self
            .clients()
            .await
            .iam
            .list_attached_user_policies()
            .user_name(&user_name)
            .send()
            .await
            .map_err(|e| sdk_error("iam:ListAttachedUserPolicies", e));
        let names: Vec<String> = match attached {
            Ok(out) => out
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_name().map(str::to_owned))
                .collect(),
            Err(error) => return CheckResult::from_error(id, &error),
        };
        let has_policy = names
            .iter()
            .any(|n| n == POLICY_NAME || n == BEDROCK_LIMITED_ACCESS);
        if !has_policy {
            problems.push(format!("the Bedrock policy {POLICY_NAME} is not attached"));
        }
        let broad: Vec<&String> = names
            .iter()
            .filter(|n| {
                n.as_str() == "AmazonBedrockFullAccess" || n.as_str() == "AdministratorAccess"
            })
            .collect();
        let mut result = if problems.is_empty() && broad.is_empty() {
            CheckResult::pass(
                id,
                format!("{user_name} is managed, tagged and has {POLICY_NAME}"),
            )
        } else if !problems.is_empty() {
            CheckResult::fail(id, problems.join("; "))
                .fix(format!("Repair it: provision_user business_unit `{unit}` (adds missing tags and attaches the policy; idempotent)."))
        } else {
            CheckResult::warn(id, format!("{user_name} has broad policies attached"))
                .fix("Detach AmazonBedrockFullAccess/AdministratorAccess from the business unit's user; the least-privilege policy is enough to invoke Claude.")
        };
        result = result.evidence(format!("attached policies: {}", names.join(", ")));
        result
    }

    pub(super) async fn check_api_key(&self, request: &Request) -> CheckResult {
        let id = CheckId::ApiKey;
        let inspected = request
            .api_key
            .as_ref()
            .map(|key| inspect_key(key.expose(), self.now().timestamp()));
        let Some(unit) = &request.unit else {
            return match inspected {
                Some(report) => self.judge_key_alone(&report, request),
                None => CheckResult::skipped(id, "no business_unit or api_key given"),
            };
        };
        let keys = match self.list_api_keys_here(Some(unit.as_str())).await {
            Ok(list) => list.keys,
            Err(error @ (Error::NotProvisioned { .. } | Error::ForeignUser { .. })) => {
                return CheckResult::skipped(id, format!("no keys to check: {error}"));
            }
            Err(error) => return CheckResult::from_error(id, &error),
        };
        let result = judge_keys(unit, &keys);
        let Some(report) = inspected else {
            return result;
        };
        self.judge_given_key(unit, &report, keys.len(), result, request)
    }

    /// The unit's key check `result`, told whether the key given (`report`) is one of the unit's `count`
    /// keys.
    fn judge_given_key(
        &self,
        unit: &BusinessUnit,
        report: &KeyInspection,
        count: usize,
        result: CheckResult,
        request: &Request,
    ) -> CheckResult {
        let id = CheckId::ApiKey;
        match report.kind {
            Some(KeyKind::LongTerm) => {
                // Both keys of a user share the alias `<user>-at-<account>`: the value tells the user and
                // the account, never which of the user's credentials it is.
                let user_name = unit.user_name();
                let owner = report
                    .alias
                    .as_deref()
                    .and_then(|a| alias_owner(a, &user_name));
                let account = self.known_caller().map(|c| c.account.clone());
                match owner {
                    Some(key_account)
                        if key_account.is_none_or(|k| account.as_deref().is_none_or(|a| a == k)) =>
                    {
                        result.evidence(format!(
                            "the given key belongs to {user_name}{}; which of its {} key(s) it is cannot be told from the value (verify_access with the key proves it works)",
                            key_account.map(|a| format!(" in account {a}")).unwrap_or_default(),
                            count
                        ))
                    }
                    _ => CheckResult::fail(id, format!("the given key does not belong to business unit `{unit}`"))
                        .evidence(format!("the key's alias names {}", report.alias.as_deref().unwrap_or("nothing readable")))
                        .fix(format!("Use a key issued to {user_name} (list_api_keys shows its keys), or check which account and user the alias names.")),
                }
            }
            _ => {
                let judged = self.judge_key_alone(report, request);
                if judged.status == super::CheckStatus::Pass {
                    result.evidence(judged.summary)
                } else {
                    judged
                }
            }
        }
    }

    /// Prove a given key of the business unit works: one free CountTokens call, as verify_access.
    pub(super) async fn check_key_works(&self, request: &Request) -> CheckResult {
        let id = CheckId::KeyWorks;
        let (Some(unit), Some(key)) = (&request.unit, &request.api_key) else {
            return CheckResult::skipped(id, "needs both business_unit and api_key");
        };
        let input = VerifyAccessInput {
            business_unit: unit.to_string(),
            api_key: Some(key.expose().to_owned()),
            model_id: request.model_id.clone(),
            region: Some(request.region.clone()),
            invoke: false,
        };
        let report = match self.verify_access(&input).await {
            Ok(report) => report,
            Err(error) => return CheckResult::from_error(id, &error),
        };
        let mut result = match report.verdict {
            Verdict::CanCall => CheckResult::pass(id, report.summary),
            Verdict::CannotCall => CheckResult::fail(id, report.summary),
            Verdict::Unproven => CheckResult::warn(id, report.summary),
        };
        if let Some(test) = &report.key_test {
            result = result.evidence(format!("{}: {}", test.call, test.detail));
        }
        for step in report.remediation {
            result = result.fix(step);
        }
        result
    }

    /// Judge a key value on its own: format, expiry, region.
    fn judge_key_alone(
        &self,
        report: &crate::core::keys::inspect::KeyInspection,
        request: &Request,
    ) -> CheckResult {
        let id = CheckId::ApiKey;
        let mut result = match report.kind {
            Some(KeyKind::Unrecognized) | None => {
                CheckResult::fail(id, "the given value is not a Bedrock API key")
            }
            _ if report.expired == Some(true) => {
                CheckResult::fail(id, "the given short-term key has expired")
            }
            Some(KeyKind::ShortTerm)
                if report
                    .region
                    .as_deref()
                    .is_some_and(|r| r != request.region) =>
            {
                CheckResult::fail(
                    id,
                    format!(
                        "the given short-term key is valid in {} only, not in {}",
                        report.region.as_deref().unwrap_or_default(),
                        request.region
                    ),
                )
                .fix("Use the key in its region (AWS_REGION), or generate one for this region.")
            }
            Some(KeyKind::ShortTerm) => CheckResult::pass(
                id,
                format!(
                    "short-term key for {}, expires {}",
                    report.region.as_deref().unwrap_or("?"),
                    report.expires.as_deref().unwrap_or("?")
                ),
            ),
            Some(KeyKind::LongTerm) => CheckResult::pass(
                id,
                format!("long-term key {}", report.alias.as_deref().unwrap_or("?")),
            ),
        };
        for problem in &report.problems {
            result = result.fix(problem.clone());
        }
        if let Some(signer) = &report.signing_access_key_id {
            result = result.evidence(format!("signed by access key {signer}"));
        }
        if let Some(account) = &report.account_id {
            result = result.evidence(format!("account {account}"));
        }
        result
    }

    pub(super) async fn check_cost_tags(&self) -> CheckResult {
        let id = CheckId::CostTags;
        let tags = match self.cost_allocation_tags().await {
            Ok(tags) => tags,
            Err(Error::AccessDenied { message, .. }) => {
                return CheckResult::warn(id, "cost allocation tags are not readable")
                    .evidence(message)
                    .fix("Cost allocation tags are managed in the organization's management (payer) account: run this check there, or ask its administrator to activate business-unit, purpose and owner.");
            }
            Err(error) => return CheckResult::from_error(id, &error),
        };
        let mut inactive = Vec::new();
        let mut unknown = Vec::new();
        let mut result_evidence = Vec::new();
        for key in ACCOUNTING_TAGS {
            let matching: Vec<_> = tags
                .iter()
                .filter(|(tag_key, _)| carries_tag(tag_key, key))
                .collect();
            if matching.is_empty() {
                unknown.push(key);
            }
            for (tag_key, status) in matching {
                result_evidence.push(format!("{tag_key}: {}", status.as_str()));
                if status != &CostAllocationTagStatus::Active {
                    inactive.push(tag_key.clone());
                }
            }
        }
        let mut result = if !inactive.is_empty() {
            CheckResult::warn(id, format!("cost allocation tags not active: {}", inactive.join(", ")))
                .fix("Activate them: enable_cost_tags (or `aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey=business-unit,Status=Active ...`). Spend is grouped by them from activation on, after 24-48 hours; earlier spend stays untagged.")
        } else if !unknown.is_empty() {
            CheckResult::warn(id, format!("billing has not seen the tags {} yet", unknown.join(", ")))
                .fix("Tag keys reach billing only after tagged usage: invoke Claude with a business unit's key, wait up to 24 hours, then activate the keys (enable_cost_tags).")
        } else {
            CheckResult::pass(
                id,
                "business-unit, purpose and owner are active cost allocation tags",
            )
        };
        for line in result_evidence {
            result = result.evidence(line);
        }
        result
    }
}

/// The account a long-term key's alias names, when the alias names `user_name` (see
/// [`alias_names_user`]); `Some(None)` when it names the user but no account.
fn alias_owner<'a>(alias: &'a str, user_name: &str) -> Option<Option<&'a str>> {
    alias_names_user(alias, user_name).then(|| alias_account(alias))
}

/// The unit's keys judged: failing with none, or none working; warning when every working one expires
/// soon; each key as evidence.
fn judge_keys(unit: &BusinessUnit, keys: &[ApiKeySummary]) -> CheckResult {
    let id = CheckId::ApiKey;
    let working: Vec<_> = keys
        .iter()
        .filter(|k| {
            k.flags
                .iter()
                .all(|f| *f == KeyFlag::RotationDue || *f == KeyFlag::ExpiringSoon)
        })
        .collect();
    let mut result = if keys.is_empty() {
        CheckResult::fail(id, format!("business unit `{unit}` has no Bedrock API key"))
            .fix(format!("Create one: create_api_key business_unit `{unit}` (prefer deliver: secrets_manager or file)."))
    } else if working.is_empty() {
        CheckResult::fail(id, "every key of the business unit is expired or inactive")
            .fix(format!("Issue a fresh key: rotate_key business_unit `{unit}` (it removes an expired or inactive key first), then update AWS_BEARER_TOKEN_BEDROCK in the clients."))
    } else if working
        .iter()
        .all(|k| k.flags.contains(&KeyFlag::ExpiringSoon))
    {
        CheckResult::warn(id, "the business unit's working keys expire soon").fix(format!(
            "Rotate before expiry: rotate_key business_unit `{unit}`."
        ))
    } else {
        CheckResult::pass(id, format!("{} working key(s)", working.len()))
    };
    for key in keys {
        let flags: Vec<&str> = key.flags.iter().map(|&f| f.into()).collect();
        result = result.evidence(format!(
            "{} {} expires {} {}",
            key.credential_id,
            key.status,
            key.expires.as_deref().unwrap_or("never"),
            flags.join(",")
        ));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::alias_owner;

    #[test]
    fn an_alias_names_the_user_and_maybe_the_account() {
        let user = "team-at-home-bedrock-user";
        assert_eq!(
            alias_owner("team-at-home-bedrock-user-at-111122223333", user),
            Some(Some("111122223333"))
        );
        assert_eq!(
            alias_owner("team-at-home-bedrock-user-v2", user),
            Some(None)
        );
        assert_eq!(
            alias_owner("sales-bedrock-user-at-111122223333", user),
            None
        );
    }
}
