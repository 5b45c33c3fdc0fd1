//! What this server may need to do in AWS: one row per call site label (the string each call passes to
//! `sdk_error`), the IAM action that authorizes it, and what it acts on. The `permissions` check simulates
//! these actions on those resources; a test fails when a call site's label is missing here.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::core::{
    Caller, domain::names::BusinessUnit, domain::policy::POLICY_NAME, keys::deliver::secret_name,
};

/// What a call acts on, so the simulation asks about the resources the tools really touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Scope {
    /// No resource type, or account-wide: `*`.
    Any,
    /// A business unit's IAM user, under the configured IAM path.
    User,
    /// This project's managed policy.
    Policy,
    /// A business unit's key secret in Secrets Manager.
    Secret,
    /// A business unit's budget.
    Budget,
    /// The caller's own role (diagnose reads its path); only asked for role callers.
    CallerRole,
    /// The role Bedrock writes invocation logs with.
    LoggingRole,
    /// This project's invocation log group.
    LogGroup,
    /// A business unit's spend-cap budget.
    CapBudget,
    /// The role AWS Budgets applies the spend-cap deny with.
    BudgetsRole,
}

/// One AWS call: its call-site label, the IAM action that authorizes it, what it acts on.
#[derive(Clone, Copy, Debug)]
pub(super) struct Call {
    /// The label the call site passes to `sdk_error` (`budgets:DescribeBudget`).
    pub label: &'static str,
    /// The IAM action (`budgets:ViewBudget`).
    pub action: &'static str,
    /// What it acts on.
    pub scope: Scope,
}

const fn call(label: &'static str, action: &'static str, scope: Scope) -> Call {
    Call {
        label,
        action,
        scope,
    }
}

/// Same label and action.
const fn same(action: &'static str, scope: Scope) -> Call {
    call(action, action, scope)
}

use Scope::{
    Any, Budget, BudgetsRole, CallerRole, CapBudget, LogGroup, LoggingRole, Policy, Secret, User,
};

/// The calls of each capability; the first group is the core workflow.
pub(super) const NEEDED: &[(&str, &[Call])] = &[
    (
        "provision_user and API keys",
        &[
            same("iam:GetUser", User),
            same("iam:CreateUser", User),
            same("iam:TagUser", User),
            same("iam:UntagUser", User),
            call("iam:CreateUser", "iam:TagUser", User),
            same("iam:ListUserTags", User),
            same("iam:ListUsers", Any),
            same("iam:GetPolicy", Policy),
            same("iam:GetPolicyVersion", Policy),
            same("iam:CreatePolicy", Policy),
            call("iam:CreatePolicy", "iam:TagPolicy", Policy),
            same("iam:CreatePolicyVersion", Policy),
            same("iam:ListPolicyVersions", Policy),
            same("iam:DeletePolicyVersion", Policy),
            same("iam:AttachUserPolicy", User),
            same("iam:ListAttachedUserPolicies", User),
            same("iam:CreateServiceSpecificCredential", User),
            same("iam:ListServiceSpecificCredentials", User),
            same("iam:UpdateServiceSpecificCredential", User),
            same("iam:DeleteServiceSpecificCredential", User),
        ],
    ),
    (
        "diagnose and verify_access",
        &[
            same("iam:SimulatePrincipalPolicy", Any),
            same("iam:GetRole", CallerRole),
            same("bedrock:ListFoundationModels", Any),
            same("bedrock:GetFoundationModelAvailability", Any),
            same("bedrock:ListInferenceProfiles", Any),
            same("bedrock:GetUseCaseForModelAccess", Any),
            same("ce:ListCostAllocationTags", Any),
            same("servicequotas:ListServiceQuotas", Any),
        ],
    ),
    (
        "deprovision_user",
        &[
            same("iam:ListAccessKeys", User),
            same("iam:DeleteAccessKey", User),
            same("iam:GetLoginProfile", User),
            same("iam:DeleteLoginProfile", User),
            same("iam:ListGroupsForUser", User),
            same("iam:RemoveUserFromGroup", Any),
            same("iam:ListUserPolicies", User),
            same("iam:DeleteUserPolicy", User),
            same("iam:DetachUserPolicy", User),
            same("iam:ListSigningCertificates", User),
            same("iam:DeleteSigningCertificate", User),
            same("iam:ListSSHPublicKeys", User),
            same("iam:DeleteSSHPublicKey", User),
            same("iam:ListMFADevices", User),
            same("iam:DeactivateMFADevice", User),
            same("iam:DeleteUser", User),
        ],
    ),
    (
        "fleets across accounts, and listings in pages (without GetAccountAuthorizationDetails, units are \
         listed with one ListUserTags call each)",
        &[
            same("sts:AssumeRole", Any),
            same("iam:GetAccountAuthorizationDetails", Any),
        ],
    ),
    (
        "secret hand-off",
        &[
            same("secretsmanager:DescribeSecret", Secret),
            same("secretsmanager:GetResourcePolicy", Secret),
            same("secretsmanager:CreateSecret", Secret),
            call(
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                Secret,
            ),
            same("secretsmanager:UpdateSecret", Secret),
            // A fleet prune removes the unit's key secret with its user.
            same("secretsmanager:DeleteSecret", Secret),
        ],
    ),
    (
        "costs and budgets",
        &[
            same("ce:GetCostAndUsage", Any),
            same("ce:GetDimensionValues", Any),
            same("ce:UpdateCostAllocationTagsStatus", Any),
            call("budgets:DescribeBudget", "budgets:ViewBudget", Budget),
            call(
                "budgets:DescribeNotificationsForBudget",
                "budgets:ViewBudget",
                Budget,
            ),
            call(
                "budgets:DescribeSubscribersForNotification",
                "budgets:ViewBudget",
                Budget,
            ),
            call("budgets:CreateBudget", "budgets:ModifyBudget", Budget),
            call("budgets:UpdateBudget", "budgets:ModifyBudget", Budget),
            call("budgets:CreateNotification", "budgets:ModifyBudget", Budget),
            call("budgets:DeleteNotification", "budgets:ModifyBudget", Budget),
            // A fleet prune removes the unit's budgets with its user.
            call("budgets:DeleteBudget", "budgets:ModifyBudget", Budget),
        ],
    ),
    (
        "usage within minutes and spend caps",
        &[
            same("bedrock:GetModelInvocationLoggingConfiguration", Any),
            same("bedrock:PutModelInvocationLoggingConfiguration", Any),
            call(
                "bedrock:PutModelInvocationLoggingConfiguration",
                "iam:PassRole",
                LoggingRole,
            ),
            same("iam:CreateRole", LoggingRole),
            same("iam:UpdateAssumeRolePolicy", LoggingRole),
            same("iam:PutRolePolicy", LoggingRole),
            same("iam:GetRolePolicy", LoggingRole),
            same("logs:CreateLogGroup", LogGroup),
            same("logs:PutRetentionPolicy", LogGroup),
            same("logs:DescribeLogGroups", Any),
            same("logs:StartQuery", LogGroup),
            same("logs:GetQueryResults", Any),
            same("pricing:GetProducts", Any),
            call("budgets:DeleteBudget", "budgets:ModifyBudget", CapBudget),
            call(
                "budgets:CreateBudgetAction",
                "budgets:CreateBudgetAction",
                CapBudget,
            ),
            call("budgets:CreateBudgetAction", "iam:PassRole", BudgetsRole),
            same("budgets:DescribeBudgetActionsForBudget", CapBudget),
            same("budgets:DescribeBudgetActionsForAccount", Any),
            same("budgets:ExecuteBudgetAction", CapBudget),
        ],
    ),
];

/// Where the representative resources live.
pub(super) struct Place<'a> {
    pub caller: &'a Caller,
    pub principal: &'a str,
    pub region: &'a str,
    pub iam_path: &'a str,
}

impl Place<'_> {
    /// The ARN the simulation asks about for `scope` (`None`: no resource, `*`). Unit resources are
    /// named for a representative business unit, `example`, so a policy scoped to the tool's naming
    /// (`user/bedrock-provisioner/*`, `secret:bedrock-provisioner/*`) shows no false gaps.
    pub(super) fn resource(&self, scope: Scope) -> Option<String> {
        let (partition, account) = (&self.caller.partition, &self.caller.account);
        let unit = BusinessUnit::parse("business_unit", "example").ok()?;
        match scope {
            Any => None,
            User => Some(format!(
                "arn:{partition}:iam::{account}:user{}{}",
                self.iam_path,
                unit.user_name()
            )),
            Policy => Some(format!(
                "arn:{partition}:iam::{account}:policy{}{POLICY_NAME}",
                self.iam_path
            )),
            Secret => Some(format!(
                "arn:{partition}:secretsmanager:{}:{account}:secret:{}-AbCdEf",
                self.region,
                secret_name(&unit)
            )),
            Budget => Some(format!(
                "arn:{partition}:budgets::{account}:budget/bedrock-{unit}-monthly"
            )),
            CallerRole => Some(self.principal.to_owned()),
            LoggingRole => Some(format!(
                "arn:{partition}:iam::{account}:role{}{}",
                self.iam_path,
                crate::core::spend::logging::ROLE_NAME
            )),
            CapBudget => Some(format!(
                "arn:{partition}:budgets::{account}:budget/{}",
                crate::core::spend::backstop::budget_name(unit.as_str())
            )),
            BudgetsRole => Some(format!(
                "arn:{partition}:iam::{account}:role{}{}",
                self.iam_path,
                crate::core::spend::backstop::EXECUTION_ROLE
            )),
            LogGroup => Some(format!(
                "arn:{partition}:logs:{}:{account}:log-group:{}",
                self.region,
                crate::core::spend::logging::LOG_GROUP
            )),
        }
    }

    /// The actions to simulate, grouped by the resource they act on.
    pub(super) fn asks(&self) -> BTreeMap<Option<String>, Vec<&'static str>> {
        let role_caller = self.principal.contains(":role/");
        let mut asks: BTreeMap<Option<String>, Vec<&'static str>> = BTreeMap::new();
        for call in NEEDED.iter().flat_map(|(_, calls)| calls.iter()) {
            if call.scope == CallerRole && !role_caller {
                continue;
            }
            let actions = asks.entry(self.resource(call.scope)).or_default();
            if !actions.contains(&call.action) {
                actions.push(call.action);
            }
        }
        asks
    }

    /// A policy granting `actions` on the resources they act on (one statement per resource).
    pub(super) fn policy(&self, actions: &[&str]) -> Value {
        let mut statements: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for call in NEEDED.iter().flat_map(|(_, calls)| calls.iter()) {
            if actions.contains(&call.action) {
                let resource = self.resource(call.scope).unwrap_or_else(|| "*".to_owned());
                let wanted = statements.entry(resource).or_default();
                if !wanted.contains(&call.action) {
                    wanted.push(call.action);
                }
            }
        }
        let statements: Vec<Value> = statements
            .into_iter()
            .map(|(resource, actions)| {
                let resource = generalize(&resource);
                json!({"Effect": "Allow", "Action": actions, "Resource": resource})
            })
            .collect();
        json!({"Version": "2012-10-17", "Statement": statements})
    }
}

/// The representative ARN widened to every business unit (`example` → `*`).
fn generalize(resource: &str) -> String {
    resource
        .replace("example-bedrock-user", "*-bedrock-user")
        .replace("/example/bedrock-api-key-AbCdEf", "/*")
        .replace("bedrock-example-monthly", "bedrock-*-monthly")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Calls that need no permission of the server's own: STS answers anyone, and the key test of
    /// `verify_access` is authorized by the unit's key, not by the server's principal.
    const NOT_THE_SERVERS: &[&str] = &[
        "sts:GetCallerIdentity",
        "bedrock:CountTokens",
        "bedrock:InvokeModel",
    ];

    /// Every call-site label (the first argument of `sdk_error`) in `src/`.
    fn call_site_labels() -> BTreeSet<String> {
        let pattern =
            regex::Regex::new(r#"(?:sdk|runtime)_error\(\s*"([a-z-]+:[A-Za-z]+)""#).unwrap();
        let mut labels = BTreeSet::new();
        let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    labels.extend(pattern.captures_iter(&text).map(|c| c[1].to_owned()));
                }
            }
        }
        labels
    }

    #[test]
    fn every_call_site_is_in_the_table_and_every_row_has_a_call_site() {
        let labels = call_site_labels();
        assert!(
            labels.len() > 40,
            "the scan found too few call sites: {labels:?}"
        );
        let table: BTreeSet<&str> = NEEDED
            .iter()
            .flat_map(|(_, calls)| calls.iter().map(|c| c.label))
            .chain(NOT_THE_SERVERS.iter().copied())
            .collect();
        let missing: Vec<&String> = labels
            .iter()
            .filter(|l| !table.contains(l.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "call sites missing from NEEDED: {missing:?}"
        );
        let stale: Vec<&&str> = table.iter().filter(|l| !labels.contains(**l)).collect();
        assert!(stale.is_empty(), "rows without a call site: {stale:?}");
    }

    #[test]
    fn resources_follow_the_tools_naming() {
        let caller = Caller {
            arn: "arn:aws:sts::111122223333:assumed-role/ops/me".into(),
            account: "111122223333".into(),
            partition: "aws".into(),
        };
        let place = Place {
            caller: &caller,
            principal: "arn:aws:iam::111122223333:role/platform/ops",
            region: "eu-west-1",
            iam_path: "/bedrock-provisioner/",
        };
        let asks = place.asks();
        let user = Some(
            "arn:aws:iam::111122223333:user/bedrock-provisioner/example-bedrock-user".to_owned(),
        );
        assert!(asks[&user].contains(&"iam:CreateServiceSpecificCredential"));
        let budget =
            Some("arn:aws:budgets::111122223333:budget/bedrock-example-monthly".to_owned());
        assert_eq!(
            asks[&budget],
            vec!["budgets:ViewBudget", "budgets:ModifyBudget"]
        );
        assert!(asks[&Some(place.principal.to_owned())].contains(&"iam:GetRole"));
        let policy = place
            .policy(&["iam:CreateUser", "secretsmanager:CreateSecret"])
            .to_string();
        assert!(
            policy.contains("user/bedrock-provisioner/*-bedrock-user"),
            "{policy}"
        );
        assert!(policy.contains("secret:bedrock-provisioner/*"), "{policy}");
    }
}
