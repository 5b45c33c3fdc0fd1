//! The `provision_user` request: its input, and the validation that turns it into a [`ProvisionRequest`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::{
    MANAGED_BY_KEY, MANAGED_BY_VALUE,
    domain::error::{Error, Result},
    domain::names::{BusinessUnit, PolicyArn, TagKey, TagValue, Tags, same_tag_key},
    domain::policy::PolicyChoice,
};

/// Most tags IAM allows on a user.
const MAX_TAGS: usize = 50;
/// Tag keys bedrock-provisioner sets itself; callers cannot pass them as extra tags.
pub const RESERVED_KEYS: [&str; 4] = ["business-unit", "purpose", "owner", MANAGED_BY_KEY];

/// The reserved key `key` names, in any case (IAM tag keys are case-insensitive: `Managed-By` would
/// overwrite the tool's own `managed-by`).
pub fn reserved_key(key: &str) -> Option<&'static str> {
    RESERVED_KEYS
        .into_iter()
        .find(|reserved| same_tag_key(reserved, key))
}
/// Input of `provision_user`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionUserInput {
    /// The unit, e.g. `marketing`: 1-51 of `a-z 0-9 . _ -`, a letter or digit at each end.
    pub business_unit: String,
    /// What the unit uses Claude for (the `purpose` tag).
    pub purpose: String,
    /// Who is accountable (the `owner` tag), e.g. an e-mail address.
    pub owner: String,
    /// Extra tags, e.g. `{"cost-center": "cc-1"}`, not the four this tool sets.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Default: the server's, normally `least_privilege`.
    #[serde(default)]
    pub policy: Option<PolicyInput>,
    /// Take over a same-named user this tool did not create.
    #[serde(default)]
    pub adopt: bool,
    /// Only report what would change; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// The managed policy to attach, as given by the caller.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PolicyInput {
    /// This project's least-privilege policy (recommended).
    #[default]
    LeastPrivilege,
    /// AWS's `AmazonBedrockLimitedAccess` (broader; warns).
    AmazonBedrockLimitedAccess,
    /// A managed policy by ARN (warns).
    Arn(String),
}

/// A validated `provision_user` request.
#[derive(Clone, Debug)]
pub struct ProvisionRequest {
    /// The business unit.
    pub business_unit: BusinessUnit,
    /// Every tag the user must carry, the project's own included.
    pub tags: Tags,
    /// The policy to attach.
    pub policy: PolicyChoice,
    /// Take over a user this project did not create.
    pub adopt: bool,
}

/// The caller's extra tags, checked as IAM would: no reserved key in any case, one key per name ignoring
/// case, valid keys and values, and room left for the tool's own tags.
fn extra_tags(given: &BTreeMap<String, String>) -> Result<Tags> {
    let mut tags = Tags::new();
    for (key, value) in given {
        if let Some(reserved) = reserved_key(key) {
            return Err(Error::invalid(
                format!("tags.{key}"),
                format!(
                    "`{key}` is `{reserved}` to IAM (tag keys are case-insensitive), which \
                         bedrock-provisioner sets; use the `{}` field instead",
                    reserved.replace('-', "_")
                ),
            ));
        }
        let key = TagKey::parse(&format!("tags.{key}"), key)?;
        let value = TagValue::parse(&format!("tags.{}", key.as_str()), value)?;
        if let Some((earlier, _)) = tags.get_key_value(&key) {
            return Err(Error::invalid(
                format!("tags.{}", key.as_str()),
                format!(
                    "`{}` and `{}` are one tag key to IAM (keys are case-insensitive); keep one",
                    earlier.as_str(),
                    key.as_str()
                ),
            ));
        }
        tags.insert(key, value);
    }
    if tags.len() + RESERVED_KEYS.len() > MAX_TAGS {
        return Err(Error::invalid(
            "tags",
            format!(
                "at most {} extra tags (IAM allows {MAX_TAGS} per user and the tool sets {})",
                MAX_TAGS - RESERVED_KEYS.len(),
                RESERVED_KEYS.len()
            ),
        ));
    }
    Ok(tags)
}

impl ProvisionUserInput {
    /// Check every field; the first broken rule is returned, naming the field.
    pub fn validate(&self, default_policy: &PolicyInput) -> Result<ProvisionRequest> {
        let business_unit = BusinessUnit::parse("business_unit", &self.business_unit)?;
        let purpose = TagValue::parse_required("purpose", &self.purpose)?;
        let owner = TagValue::parse_required("owner", &self.owner)?;
        let mut tags = extra_tags(&self.tags)?;
        tags.insert(
            TagKey::from_static("business-unit"),
            TagValue::parse("business_unit", business_unit.as_str())?,
        );
        tags.insert(TagKey::from_static("purpose"), purpose);
        tags.insert(TagKey::from_static("owner"), owner);
        tags.insert(
            TagKey::from_static(MANAGED_BY_KEY),
            TagValue::from_static(MANAGED_BY_VALUE),
        );
        let policy = match self.policy.as_ref().unwrap_or(default_policy) {
            PolicyInput::LeastPrivilege => PolicyChoice::LeastPrivilege,
            PolicyInput::AmazonBedrockLimitedAccess => PolicyChoice::AmazonBedrockLimitedAccess,
            PolicyInput::Arn(arn) => PolicyChoice::Arn(PolicyArn::parse("policy.arn", arn)?),
        };
        Ok(ProvisionRequest {
            business_unit,
            tags,
            policy,
            adopt: self.adopt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProvisionUserInput {
        ProvisionUserInput {
            business_unit: "marketing".into(),
            purpose: "campaign copy".into(),
            owner: "jane@example.com".into(),
            ..Default::default()
        }
    }

    fn field_of(input: &ProvisionUserInput) -> String {
        match input.validate(&PolicyInput::default()) {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn valid_input_carries_the_projects_tags() {
        let request = input().validate(&PolicyInput::default()).unwrap();
        let tags: BTreeMap<&str, &str> = request
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(tags["business-unit"], "marketing");
        assert_eq!(tags["purpose"], "campaign copy");
        assert_eq!(tags["owner"], "jane@example.com");
        assert_eq!(tags["managed-by"], "bedrock-provisioner");
        assert_eq!(request.policy, PolicyChoice::LeastPrivilege);
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(
            field_of(&ProvisionUserInput {
                owner: String::new(),
                ..input()
            }),
            "owner"
        );
        assert_eq!(
            field_of(&ProvisionUserInput {
                purpose: " ".into(),
                ..input()
            }),
            "purpose"
        );
        assert_eq!(
            field_of(&ProvisionUserInput {
                business_unit: "Sales Team".into(),
                ..input()
            }),
            "business_unit"
        );
        let reserved = ProvisionUserInput {
            tags: [("owner".into(), "x".into())].into(),
            ..input()
        };
        assert_eq!(field_of(&reserved), "tags.owner");
        for key in ["Managed-By", "BUSINESS-UNIT", "Owner"] {
            let reserved = ProvisionUserInput {
                tags: [(key.into(), "x".into())].into(),
                ..input()
            };
            assert_eq!(
                field_of(&reserved),
                format!("tags.{key}"),
                "IAM keys are case-insensitive"
            );
        }
        let twice = ProvisionUserInput {
            tags: [("Team".into(), "a".into()), ("team".into(), "b".into())].into(),
            ..input()
        };
        assert!(
            twice
                .validate(&PolicyInput::LeastPrivilege)
                .unwrap_err()
                .to_string()
                .contains("one tag key to IAM"),
            "a key given twice in two cases is refused"
        );
        let bad_value = ProvisionUserInput {
            tags: [("cost-center".into(), "a;b".into())].into(),
            ..input()
        };
        assert_eq!(field_of(&bad_value), "tags.cost-center");
        let too_many = ProvisionUserInput {
            tags: (0..47).map(|i| (format!("k{i}"), "v".to_owned())).collect(),
            ..input()
        };
        assert_eq!(field_of(&too_many), "tags");
        let bad_arn = ProvisionUserInput {
            policy: Some(PolicyInput::Arn("AmazonBedrockFullAccess".into())),
            ..input()
        };
        assert_eq!(field_of(&bad_arn), "policy.arn");
    }

    #[test]
    fn forty_six_extra_tags_fit() {
        let many = ProvisionUserInput {
            tags: (0..46).map(|i| (format!("k{i}"), "v".to_owned())).collect(),
            ..input()
        };
        assert_eq!(
            many.validate(&PolicyInput::default()).unwrap().tags.len(),
            50
        );
    }

    #[test]
    fn policy_input_wire_format() {
        let arn: PolicyInput =
            serde_json::from_str(r#"{"arn": "arn:aws:iam::aws:policy/X"}"#).unwrap();
        assert_eq!(arn, PolicyInput::Arn("arn:aws:iam::aws:policy/X".into()));
        let limited: PolicyInput =
            serde_json::from_str(r#""amazon_bedrock_limited_access""#).unwrap();
        assert_eq!(limited, PolicyInput::AmazonBedrockLimitedAccess);
        let unknown: std::result::Result<ProvisionUserInput, _> = serde_json::from_str(
            r#"{"business_unit":"a","purpose":"p","owner":"o","dryrun":true}"#,
        );
        assert!(unknown.unwrap_err().to_string().contains("dryrun"));
    }
}
