//! The least-privilege Bedrock policy this project attaches to each business unit's user, and the
//! alternatives a caller may choose instead.

use serde_json::{Value, json};

use crate::core::{domain::cost_tags::BUSINESS_UNIT_TAG as UNIT_TAG, domain::names::PolicyArn};

/// Name of the customer-managed policy created once per account.
pub const POLICY_NAME: &str = "BedrockProvisionerClaudeAccess";
/// Name of the AWS-managed policy the Bedrock console attaches to API-key users.
pub const BEDROCK_LIMITED_ACCESS: &str = "AmazonBedrockLimitedAccess";
/// The deny policy attached to the user of a unit whose spend cap is spent (see `spend::caps`).
pub const DENY_POLICY_NAME: &str = "BedrockProvisionerSpendCapDeny";

/// Which managed policy the business unit's user gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyChoice {
    /// This project's least-privilege policy (the default).
    LeastPrivilege,
    /// AWS's `AmazonBedrockLimitedAccess` (broader: also lists and manages many Bedrock resources).
    AmazonBedrockLimitedAccess,
    /// Any existing managed policy, by ARN.
    Arn(PolicyArn),
}

impl PolicyChoice {
    /// The warning to show when the choice is broader than, or unknown to, this project.
    pub fn warning(&self) -> Option<String> {
        match self {
            Self::LeastPrivilege => None,
            Self::AmazonBedrockLimitedAccess => Some(format!(
                "{BEDROCK_LIMITED_ACCESS} grants far more than invoking Claude (it includes \
                 read access across Bedrock and management of some Bedrock resources, and \
                 iam:CreateServiceSpecificCredential on the user itself); prefer the default \
                 least-privilege policy unless the business unit needs it"
            )),
            Self::Arn(arn) => Some(format!(
                "the custom policy {} was attached as given; bedrock-provisioner did not check \
                 what it allows. The user also needs bedrock:CallWithBearerToken to use API keys",
                arn.as_str()
            )),
        }
    }
}

/// The least-privilege policy document for `account` in `partition`: invoke Anthropic models (directly
/// or through the account's inference profiles) within the account's Bedrock projects, count tokens, read
/// what a client needs to discover models, let Bedrock subscribe to a newly available Anthropic model through
/// AWS Marketplace on the unit's first call, and use Bedrock API keys.
///
/// Per the bedrock-runtime model, `InvokeModel`/`Converse` need `bedrock:InvokeModel` "on both the inference
/// target and the project", the default project when none is named (`project/default`); a cross-region
/// profile needs the profile and the foundation model in every destination region (a `global.` profile's
/// model ARNs have an empty region, which the `*` region matches). Application inference profiles are the
/// account's taggable, billable targets: a unit may invoke only those tagged with its own business unit
/// (`aws:ResourceTag/business-unit` = `${aws:PrincipalTag/business-unit}`; the Service Authorization
/// Reference lists `aws:ResourceTag/${TagKey}` for the `application-inference-profile` resource type; where it
/// is not honoured the statement allows nothing, so one unit can never run up another's profile). The
/// Marketplace statement is the one AWS's `AmazonBedrockLimitedAccess` uses
/// (`MarketplaceOperationsFromBedrockFor3pModels`: `Subscribe`, `Unsubscribe`, `ViewSubscriptions`), only when
/// Bedrock makes the call on the unit's behalf (`aws:CalledViaLast`). `bedrock-mantle:CallWithBearerToken` (keys on the OpenAI-compatible Mantle endpoint)
/// is not granted: Claude is invoked through bedrock-runtime, and a unit that needs Mantle gets it through a
/// policy of its own.
pub fn least_privilege_document(partition: &str, account: &str) -> Value {
    let anthropic_models = format!("arn:{partition}:bedrock:*::foundation-model/anthropic.*");
    let profiles = format!("arn:{partition}:bedrock:*:{account}:inference-profile/*");
    let mut statements = invoke_statements(partition, account, &anthropic_models, &profiles);
    statements.extend([
        json!({
            "Sid": "ReadAnthropicModels",
            "Effect": "Allow",
            "Action": ["bedrock:GetFoundationModel"],
            "Resource": [anthropic_models]
        }),
        json!({
            "Sid": "ReadInferenceProfiles",
            "Effect": "Allow",
            "Action": ["bedrock:GetInferenceProfile"],
            "Resource": [profiles]
        }),
        json!({
            "Sid": "ListModelsAndProfiles",
            "Effect": "Allow",
            "Action": ["bedrock:ListFoundationModels", "bedrock:ListInferenceProfiles"],
            "Resource": "*"
        }),
        json!({
            "Sid": "SubscribeToModelsThroughBedrock",
            "Effect": "Allow",
            "Action": [
                "aws-marketplace:ViewSubscriptions",
                "aws-marketplace:Subscribe",
                "aws-marketplace:Unsubscribe"
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:CalledViaLast": "bedrock.amazonaws.com"}}
        }),
        json!({
            "Sid": "UseBedrockApiKeys",
            "Effect": "Allow",
            "Action": ["bedrock:CallWithBearerToken"],
            "Resource": "*"
        }),
    ]);
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The statements that invoke: models, system profiles and projects; the unit's own application inference
/// profiles; counting tokens.
fn invoke_statements(
    partition: &str,
    account: &str,
    anthropic_models: &str,
    profiles: &str,
) -> Vec<Value> {
    let own_profiles =
        format!("arn:{partition}:bedrock:*:{account}:application-inference-profile/*");
    let projects = format!("arn:{partition}:bedrock:*:{account}:project/*");
    vec![
        json!({
            "Sid": "InvokeAnthropicModels",
            "Effect": "Allow",
            "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
            "Resource": [anthropic_models, profiles, projects]
        }),
        json!({
            "Sid": "InvokeTheUnitsApplicationInferenceProfiles",
            "Effect": "Allow",
            "Action": [
                "bedrock:InvokeModel",
                "bedrock:InvokeModelWithResponseStream",
                "bedrock:GetInferenceProfile"
            ],
            "Resource": [own_profiles],
            "Condition": {"StringEquals": {
                format!("aws:ResourceTag/{UNIT_TAG}"): format!("${{aws:PrincipalTag/{UNIT_TAG}}}")
            }}
        }),
        json!({
            "Sid": "CountTokensOfAnthropicModels",
            "Effect": "Allow",
            "Action": ["bedrock:CountTokens"],
            "Resource": [anthropic_models]
        }),
    ]
}

/// Parse a policy document as IAM returns it (URL-encoded JSON, or plain JSON from some endpoints).
pub fn parse_returned_document(raw: &str) -> Option<Value> {
    serde_json::from_str(raw).ok().or_else(|| {
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .ok()?;
        serde_json::from_str(&decoded).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_scoped_to_anthropic_and_the_account() {
        let doc = least_privilege_document("aws", "123456789012");
        let text = doc.to_string();
        for action in [
            "bedrock:InvokeModel",
            "bedrock:InvokeModelWithResponseStream",
            "bedrock:CallWithBearerToken",
            "bedrock:CountTokens",
            "aws-marketplace:Subscribe",
            "aws-marketplace:ViewSubscriptions",
            "bedrock:ListFoundationModels",
            "bedrock:GetFoundationModel",
            "bedrock:ListInferenceProfiles",
            "bedrock:GetInferenceProfile",
        ] {
            assert!(text.contains(&format!("\"{action}\"")), "{action} missing");
        }
        let actions: Vec<&str> = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap())
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            actions.iter().all(|a| !a.contains('*')),
            "no wildcard actions: {actions:?}"
        );
        let invoke = &doc["Statement"][0]["Resource"];
        assert_eq!(invoke[0], "arn:aws:bedrock:*::foundation-model/anthropic.*");
        assert_eq!(
            invoke[1],
            "arn:aws:bedrock:*:123456789012:inference-profile/*"
        );
        assert_eq!(invoke[2], "arn:aws:bedrock:*:123456789012:project/*");
        assert!(
            !text.contains("application-inference-profile/*\",\"arn"),
            "application inference profiles only in their own, tag-scoped statement"
        );
        let own = &doc["Statement"][1];
        assert_eq!(
            own["Resource"][0],
            "arn:aws:bedrock:*:123456789012:application-inference-profile/*"
        );
        assert_eq!(
            own["Condition"]["StringEquals"]["aws:ResourceTag/business-unit"],
            "${aws:PrincipalTag/business-unit}",
            "a unit invokes only the application inference profiles of its own unit"
        );
        let marketplace = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "SubscribeToModelsThroughBedrock")
            .unwrap();
        assert_eq!(
            marketplace["Condition"]["StringEquals"]["aws:CalledViaLast"], "bedrock.amazonaws.com",
            "Marketplace only when Bedrock calls it for the unit"
        );
        assert_eq!(
            marketplace["Action"],
            json!([
                "aws-marketplace:ViewSubscriptions",
                "aws-marketplace:Subscribe",
                "aws-marketplace:Unsubscribe"
            ]),
            "the actions of AmazonBedrockLimitedAccess's Marketplace statement"
        );
    }

    #[test]
    fn returned_documents_parse_encoded_or_plain() {
        let doc = least_privilege_document("aws", "123456789012");
        let plain = doc.to_string();
        let encoded =
            percent_encoding::utf8_percent_encode(&plain, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(parse_returned_document(&plain), Some(doc.clone()));
        assert_eq!(parse_returned_document(&encoded), Some(doc));
        assert_eq!(parse_returned_document("%7Bbroken"), None);
    }
}
