//! The `credentials` and `permissions` checks: who the server runs as, and whether it may do its job.

use aws_sdk_iam::types::PolicyEvaluationDecisionType;

use super::{
    CheckId, CheckResult,
    needed::{NEEDED, Place},
};
use crate::core::{
    Provisioner,
    aws::sdk_error,
    aws::simulation::{CallContext, context_entries, requested_region},
    domain::error::Error,
};

impl Provisioner {
    pub(super) async fn check_credentials(&self) -> CheckResult {
        let id = CheckId::Credentials;
        match self.caller().await {
            Ok(caller) => {
                let mut result = CheckResult::pass(id, format!("authenticated as {}", caller.arn))
                    .evidence(format!("account {}", caller.account));
                if caller.arn.ends_with(":root") {
                    result = CheckResult::warn(id, "running as the account's root user")
                        .evidence(format!("caller {}", caller.arn))
                        .fix("Do not run automation as root: create an IAM role or user with the policy from the permissions check, and use its profile (AWS_PROFILE).");
                }
                result
            }
            Err(error) => {
                let mut result = CheckResult::fail(id, error.to_string());
                for source in credential_sources() {
                    result = result.evidence(source);
                }
                result.fix(error.remediation(&crate::core::ToolDialect)).fix(
                    "Then run diagnose again; the checks that need AWS run once credentials work.",
                )
            }
        }
    }

    pub(super) async fn check_permissions(&self) -> CheckResult {
        let id = CheckId::Permissions;
        let caller = match self.caller().await {
            Ok(caller) => caller.clone(),
            Err(error) => return CheckResult::from_error(id, &error),
        };
        if caller.arn.ends_with(":root") {
            return CheckResult::pass(id, "the root user may do everything").evidence(caller.arn);
        }
        let (principal, role_lookup_failed) = self.simulatable_principal(&caller.arn).await;
        let region = self.clients().await.region.clone();
        let place = Place {
            caller: &caller,
            principal: &principal,
            region: &region,
            iam_path: &self.settings().iam_path,
        };
        let denied = match self.denied_actions(&place).await {
            Ok(denied) => denied,
            Err(Error::AccessDenied { .. }) => {
                return CheckResult::warn(
                    id,
                    "could not verify: the caller may not run iam:SimulatePrincipalPolicy",
                )
                .evidence(format!("principal {principal}"))
                .fix(format!(
                    "Allow iam:SimulatePrincipalPolicy on {principal} so diagnose can verify permissions, or check them by hand against: {}",
                    place.policy(&all_actions())
                ));
            }
            Err(Error::NotFound { .. }) if role_lookup_failed => {
                return CheckResult::warn(
                    id,
                    "could not verify: the role's full ARN is unknown (iam:GetRole failed), and a role with a path is only found by its full ARN",
                )
                .evidence(format!("caller {}", caller.arn))
                .fix(format!(
                    "Allow iam:GetRole on the role so diagnose can find its path, or check its permissions by hand against: {}",
                    place.policy(&all_actions())
                ));
            }
            Err(error) => return CheckResult::from_error(id, &error),
        };
        judge_permissions(&place, &denied)
    }

    /// The principal to simulate: the caller, or for an assumed role the role's exact ARN (its path
    /// included, which the session ARN omits); and whether looking the role up failed.
    async fn simulatable_principal(&self, caller_arn: &str) -> (String, bool) {
        let principal = principal_arn(caller_arn);
        let Some(role) = principal
            .split_once(":role/")
            .map(|(_, name)| name.to_owned())
        else {
            return (principal, false);
        };
        let iam = &self.clients().await.iam;
        match iam
            .get_role()
            .role_name(&role)
            .send()
            .await
            .map_err(|e| sdk_error("iam:GetRole", e))
        {
            Ok(out) => (out.role().map_or(principal, |r| r.arn().to_owned()), false),
            Err(_) => (principal, true),
        }
    }

    /// Simulate every needed action on the resources it acts on; the denied actions with their resource.
    async fn denied_actions(&self, place: &Place<'_>) -> Result<Vec<(String, String)>, Error> {
        let iam = &self.clients().await.iam;
        let context = CallContext {
            principal_arn: place.principal,
            account: &place.caller.account,
            region: place.region,
            bearer_token_type: None,
            principal_tags: Vec::new(),
        };
        let mut denied = Vec::new();
        for (resource, actions) in by_requested_region(place) {
            let out = iam
                .simulate_principal_policy()
                .policy_source_arn(place.principal)
                .set_action_names(Some(actions.iter().map(|a| (*a).to_owned()).collect()))
                .set_resource_arns(resource.clone().map(|r| vec![r]))
                .set_context_entries(Some(context_entries(&context, actions[0])))
                .send()
                .await
                .map_err(|e| sdk_error("iam:SimulatePrincipalPolicy", e))?;
            denied.extend(
                out.evaluation_results()
                    .iter()
                    .filter(|r| r.eval_decision() != &PolicyEvaluationDecisionType::Allowed)
                    .map(|r| {
                        let on = resource.clone().unwrap_or_else(|| "*".to_owned());
                        (r.eval_action_name().to_owned(), on)
                    }),
            );
        }
        Ok(denied)
    }
}

/// The simulations to run: each resource's actions, split by the region their calls are made in (a global
/// service's calls are `us-east-1`'s), since one simulation carries one request context.
fn by_requested_region(place: &Place<'_>) -> Vec<(Option<String>, Vec<&'static str>)> {
    let mut groups: Vec<(Option<String>, Vec<&'static str>)> = Vec::new();
    for (resource, actions) in place.asks() {
        let mut split: std::collections::BTreeMap<&str, Vec<&'static str>> = Default::default();
        for action in actions {
            split
                .entry(requested_region(action, place.region))
                .or_default()
                .push(action);
        }
        groups.extend(split.into_values().map(|a| (resource.clone(), a)));
    }
    groups
}

/// Every IAM action the server may need.
fn all_actions() -> Vec<&'static str> {
    let mut actions: Vec<&str> = NEEDED
        .iter()
        .flat_map(|(_, calls)| calls.iter().map(|c| c.action))
        .collect();
    actions.dedup();
    actions
}

/// The check's result from the denied (action, resource) pairs.
fn judge_permissions(place: &Place<'_>, denied: &[(String, String)]) -> CheckResult {
    let id = CheckId::Permissions;
    let principal = place.principal;
    let asked: usize = place.asks().values().map(Vec::len).sum();
    if denied.is_empty() {
        return CheckResult::pass(
            id,
            format!(
                "{principal} may perform all {asked} actions this server uses, on the resources it touches"
            ),
        );
    }
    let denied_actions: Vec<&str> = denied.iter().map(|(a, _)| a.as_str()).collect();
    let core_missing = NEEDED[0]
        .1
        .iter()
        .any(|c| denied_actions.contains(&c.action));
    let mut result = if core_missing {
        CheckResult::fail(
            id,
            format!(
                "{principal} lacks {} action(s) the core workflow needs",
                denied.len()
            ),
        )
    } else {
        CheckResult::warn(
            id,
            format!(
                "{principal} lacks {} action(s) of optional tools",
                denied.len()
            ),
        )
    };
    for (capability, calls) in NEEDED {
        let mut missing: Vec<String> = denied
            .iter()
            .filter_map(|(action, on)| {
                let needed_by: Vec<&str> = calls
                    .iter()
                    .filter(|c| c.action == action)
                    .map(|c| c.label)
                    .collect();
                (!needed_by.is_empty())
                    .then(|| format!("{action} on {on} (for {})", needed_by.join(", ")))
            })
            .collect();
        missing.dedup();
        if !missing.is_empty() {
            result = result.evidence(format!("{capability}: missing {}", missing.join(", ")));
        }
    }
    result
        .fix(format!(
            "Attach this policy to {principal} (or run the server as a principal that has it): {}",
            place.policy(&denied_actions)
        ))
        .fix("Or use an administrator profile for provisioning: AWS_PROFILE=admin in the server's environment.")
}

/// The IAM principal to simulate for a caller ARN: an assumed-role session maps to its role, an STS
/// user form to the IAM user.
pub(crate) fn principal_arn(caller: &str) -> String {
    let parts: Vec<&str> = caller.splitn(6, ':').collect();
    if parts.len() < 6 {
        return caller.to_owned();
    }
    let (partition, account, resource) = (parts[1], parts[4], parts[5]);
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let role = rest.split('/').next().unwrap_or_default();
        return format!("arn:{partition}:iam::{account}:role/{role}");
    }
    if let Some(user) = resource.strip_prefix("user/") {
        return format!("arn:{partition}:iam::{account}:user/{user}");
    }
    caller.to_owned()
}

/// Which sources of the default credential chain are present (names only, never values).
fn credential_sources() -> Vec<String> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |relative: &str| home.as_ref().is_some_and(|h| h.join(relative).is_file());
    let mut sources = vec![format!(
        "environment: AWS_ACCESS_KEY_ID {}, AWS_SECRET_ACCESS_KEY {}, AWS_SESSION_TOKEN {}",
        presence(set("AWS_ACCESS_KEY_ID")),
        presence(set("AWS_SECRET_ACCESS_KEY")),
        presence(set("AWS_SESSION_TOKEN"))
    )];
    sources.push(format!(
        "profile: AWS_PROFILE {}; ~/.aws/credentials {}; ~/.aws/config {}",
        std::env::var("AWS_PROFILE").map_or_else(
            |_| "not set (default profile)".to_owned(),
            |p| format!("= {p}")
        ),
        if file(".aws/credentials") {
            "present"
        } else {
            "missing"
        },
        if file(".aws/config") {
            "present"
        } else {
            "missing"
        }
    ));
    sources.push(format!(
        "web identity (AWS_WEB_IDENTITY_TOKEN_FILE) {}; container credentials {}; EC2 instance metadata tried last",
        presence(set("AWS_WEB_IDENTITY_TOKEN_FILE")),
        presence(set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || set("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
    ));
    sources
}

fn presence(set: bool) -> &'static str {
    if set { "set" } else { "not set" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_arns_map_to_simulatable_principals() {
        assert_eq!(
            principal_arn("arn:aws:sts::123456789012:assumed-role/Admin/jane"),
            "arn:aws:iam::123456789012:role/Admin"
        );
        assert_eq!(
            principal_arn("arn:aws:iam::123456789012:user/ops/john"),
            "arn:aws:iam::123456789012:user/ops/john"
        );
        assert_eq!(
            principal_arn("arn:aws-us-gov:sts::123456789012:user/moto"),
            "arn:aws-us-gov:iam::123456789012:user/moto"
        );
    }
}
