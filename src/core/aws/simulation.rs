//! The request context a real call carries, for IAM's policy simulator. `SimulatePrincipalPolicy` sees only
//! the context it is given (`ContextEntries`; IAM API reference: "values for condition keys that are used
//! in the policy ... if you don't provide them, the simulator reports them in MissingContextValues"), so a
//! policy or SCP conditioned on `aws:RequestedRegion` would be judged on a request that names no region: a
//! false deny. Every simulation of this project passes what the call it stands for would carry.

use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum};

/// Global services whose calls AWS signs for `us-east-1` (their `aws:RequestedRegion`).
const GLOBAL_PREFIXES: [&str; 5] = ["iam:", "budgets:", "ce:", "organizations:", "pricing:"];

/// What the simulated call's principal and target are.
#[derive(Clone, Debug)]
pub struct CallContext<'a> {
    /// The principal's IAM ARN (a user's or a role's).
    pub principal_arn: &'a str,
    /// Its account.
    pub account: &'a str,
    /// The region the call targets (ignored for global services).
    pub region: &'a str,
    /// `bedrock:bearerTokenType` of a call made with an API key (`LONG_TERM` or `SHORT_TERM`).
    pub bearer_token_type: Option<&'a str>,
    /// The principal's tags that policies may read as `aws:PrincipalTag/<key>`.
    pub principal_tags: Vec<(&'a str, &'a str)>,
}

/// The region an action's call is made in: `us-east-1` for the global services, else `region`.
pub fn requested_region<'a>(action: &str, region: &'a str) -> &'a str {
    if GLOBAL_PREFIXES.iter().any(|p| action.starts_with(p)) {
        "us-east-1"
    } else {
        region
    }
}

/// The context entries of a call of `action` (actions of one simulation must share a requested region).
pub fn context_entries(call: &CallContext<'_>, action: &str) -> Vec<ContextEntry> {
    let now = chrono::Utc::now();
    let is_user = call.principal_arn.contains(":user/");
    let mut entries = vec![
        entry(
            "aws:RequestedRegion",
            requested_region(action, call.region),
            ContextKeyTypeEnum::String,
        ),
        entry("aws:SecureTransport", "true", ContextKeyTypeEnum::Boolean),
        entry(
            "aws:CurrentTime",
            &now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ContextKeyTypeEnum::Date,
        ),
        entry(
            "aws:EpochTime",
            &now.timestamp().to_string(),
            ContextKeyTypeEnum::Numeric,
        ),
        entry(
            "aws:PrincipalArn",
            call.principal_arn,
            ContextKeyTypeEnum::String,
        ),
        entry(
            "aws:PrincipalAccount",
            call.account,
            ContextKeyTypeEnum::String,
        ),
        entry(
            "aws:PrincipalType",
            if is_user { "User" } else { "AssumedRole" },
            ContextKeyTypeEnum::String,
        ),
    ];
    if is_user && let Some((_, name)) = call.principal_arn.rsplit_once('/') {
        entries.push(entry("aws:username", name, ContextKeyTypeEnum::String));
    }
    for (key, value) in &call.principal_tags {
        entries.push(entry(
            &format!("aws:PrincipalTag/{key}"),
            value,
            ContextKeyTypeEnum::String,
        ));
    }
    if let Some(kind) = call
        .bearer_token_type
        .filter(|_| action.starts_with("bedrock:"))
    {
        entries.push(entry(
            "bedrock:bearerTokenType",
            kind,
            ContextKeyTypeEnum::String,
        ));
    }
    entries
}

fn entry(key: &str, value: &str, kind: ContextKeyTypeEnum) -> ContextEntry {
    ContextEntry::builder()
        .context_key_name(key)
        .context_key_values(value)
        .context_key_type(kind)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(entries: &[ContextEntry], key: &str) -> Vec<String> {
        entries
            .iter()
            .filter(|e| e.context_key_name() == Some(key))
            .flat_map(|e| e.context_key_values().to_vec())
            .collect()
    }

    #[test]
    fn a_call_carries_its_region_principal_and_key_kind() {
        let call = CallContext {
            principal_arn: "arn:aws:iam::111122223333:user/bedrock/marketing-bedrock-user",
            account: "111122223333",
            region: "eu-west-1",
            bearer_token_type: Some("LONG_TERM"),
            principal_tags: vec![("business-unit", "marketing")],
        };
        let invoke = context_entries(&call, "bedrock:InvokeModel");
        assert_eq!(values(&invoke, "aws:RequestedRegion"), ["eu-west-1"]);
        assert_eq!(values(&invoke, "aws:username"), ["marketing-bedrock-user"]);
        assert_eq!(values(&invoke, "aws:PrincipalType"), ["User"]);
        assert_eq!(values(&invoke, "bedrock:bearerTokenType"), ["LONG_TERM"]);
        assert_eq!(
            values(&invoke, "aws:PrincipalTag/business-unit"),
            ["marketing"]
        );
        let iam = context_entries(&call, "iam:CreateUser");
        assert_eq!(values(&iam, "aws:RequestedRegion"), ["us-east-1"]);
        assert!(values(&iam, "bedrock:bearerTokenType").is_empty());
    }
}
