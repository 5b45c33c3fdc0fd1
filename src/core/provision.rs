//! `provision_user`: create or reconcile a business unit's IAM user, its tags, the Bedrock policy and
//! the attachment, idempotently.

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Caller, MANAGED_BY_KEY, MANAGED_BY_VALUE, Provisioner,
    aws::sdk_error,
    error::{Error, Result, found},
    is_managed,
    names::{BusinessUnit, PolicyArn, TagKey, TagValue, Tags, same_tag_key},
    policy::{
        BEDROCK_LIMITED_ACCESS, POLICY_NAME, PolicyChoice, least_privilege_document,
        parse_returned_document,
    },
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
/// IAM keeps at most five versions of a managed policy.
const MAX_POLICY_VERSIONS: usize = 5;

/// Input of `provision_user`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionUserInput {
    /// The business unit, e.g. `marketing`: 1-51 lowercase letters, digits, `.`, `_` or `-`, starting
    /// and ending with a letter or digit. The IAM user is named `<business_unit>-bedrock-user`.
    pub business_unit: String,
    /// What the business unit uses Claude for (the `purpose` tag), e.g. `campaign copywriting`.
    pub purpose: String,
    /// Who is accountable for this access (the `owner` tag), e.g. an e-mail address or team name.
    pub owner: String,
    /// Extra tags for the user, e.g. `{"cost-center": "cc-1234"}`. The keys `business-unit`, `purpose`,
    /// `owner` and `managed-by` are set by the tool and cannot be given here.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Which managed policy to attach. Default: the server's configured default (normally this
    /// project's least-privilege policy).
    #[serde(default)]
    pub policy: Option<PolicyInput>,
    /// Take over an existing IAM user of that name that bedrock-provisioner did not create.
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
    /// This project's least-privilege policy: invoke Anthropic models, read model and inference-profile
    /// metadata, use Bedrock API keys. Recommended.
    #[default]
    LeastPrivilege,
    /// AWS's `AmazonBedrockLimitedAccess`, what the Bedrock console attaches. Broader; a warning is returned.
    AmazonBedrockLimitedAccess,
    /// An existing managed policy, by ARN. Attached as given; a warning is returned.
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
    /// Change nothing.
    pub dry_run: bool,
}

impl ProvisionUserInput {
    /// Check every field; the first broken rule is returned, naming the field.
    pub fn validate(&self, default_policy: &PolicyInput) -> Result<ProvisionRequest> {
        let business_unit = BusinessUnit::parse("business_unit", &self.business_unit)?;
        let purpose = TagValue::parse_required("purpose", &self.purpose)?;
        let owner = TagValue::parse_required("owner", &self.owner)?;
        let mut tags = Tags::new();
        for (key, value) in &self.tags {
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
            dry_run: self.dry_run,
        })
    }
}

/// What happened to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    /// It did not exist and was created.
    Created,
    /// It existed and was changed to match.
    Updated,
    /// It already matched.
    Unchanged,
    /// A dry run: it would be created or updated.
    Planned,
    /// It differs from what this tool keeps (e.g. another policy attached to the unit's user) and was left
    /// in place; the detail says how to fix it.
    Drift,
}

/// Which kind of resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
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
        let request = input.validate(&self.settings().default_policy)?;
        self.settings()
            .governance
            .check_unit("business_unit", &request.business_unit)?;
        self.settings().governance.check_tags(&input.tags)?;
        if let PolicyChoice::Arn(arn) = &request.policy {
            self.settings().governance.check_policy(arn)?;
        }
        let user_name = request.business_unit.user_name();
        let iam = &self.clients().await.iam;
        let caller = self.caller().await?;
        let dry_run = request.dry_run;
        let mut resources = Vec::new();
        let mut warnings: Vec<String> = request.policy.warning().into_iter().collect();

        // 1. The user: read first, so a foreign user is refused before anything changes.
        let existing = self.find_user(&user_name).await?;
        if existing.as_ref().is_some_and(|user| !is_managed(user)) && !request.adopt {
            return Err(Error::ForeignUser { user_name });
        }

        // 2. The policy.
        let (policy_arn, policy_change) =
            self.ensure_policy(&request.policy, caller, dry_run).await?;
        resources.extend(policy_change);

        // 3. The user and its tags.
        let wanted: Vec<Tag> = request
            .tags
            .iter()
            .map(|(key, value)| tag(key.as_str(), value.as_str()))
            .collect::<Result<_>>()?;
        let user_arn = match &existing {
            None if dry_run => {
                resources.push(planned(
                    ResourceKind::IamUser,
                    &user_name,
                    "would create the IAM user",
                ));
                format!(
                    "arn:{}:iam::{}:user{}{user_name}",
                    caller.partition,
                    caller.account,
                    self.settings().iam_path
                )
            }
            None => {
                let created = iam
                    .create_user()
                    .user_name(&user_name)
                    .path(&self.settings().iam_path)
                    .set_tags(Some(wanted.clone()))
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:CreateUser", e))?;
                let arn = created.user.map(|u| u.arn).unwrap_or_default();
                tracing::info!(user = %user_name, "created IAM user");
                resources.push(change(
                    ResourceKind::IamUser,
                    &user_name,
                    ChangeStatus::Created,
                    "created the IAM user",
                ));
                resources.push(change(
                    ResourceKind::UserTags,
                    &user_name,
                    ChangeStatus::Created,
                    &format!("set {}", describe_tags(&wanted)),
                ));
                arn
            }
            Some(user) => {
                resources.push(change(
                    ResourceKind::IamUser,
                    &user_name,
                    ChangeStatus::Unchanged,
                    "the IAM user exists",
                ));
                let drifted: Vec<Tag> = wanted
                    .iter()
                    .filter(|want| {
                        !user.tags().iter().any(|have| {
                            same_tag_key(have.key(), want.key()) && have.value() == want.value()
                        })
                    })
                    .cloned()
                    .collect();
                if drifted.is_empty() {
                    resources.push(change(
                        ResourceKind::UserTags,
                        &user_name,
                        ChangeStatus::Unchanged,
                        "all tags match",
                    ));
                } else if dry_run {
                    resources.push(planned(
                        ResourceKind::UserTags,
                        &user_name,
                        &format!("would set {}", describe_tags(&drifted)),
                    ));
                } else {
                    iam.tag_user()
                        .user_name(&user_name)
                        .set_tags(Some(drifted.clone()))
                        .send()
                        .await
                        .map_err(|e| sdk_error("iam:TagUser", e))?;
                    tracing::info!(user = %user_name, "repaired user tags");
                    resources.push(change(
                        ResourceKind::UserTags,
                        &user_name,
                        ChangeStatus::Updated,
                        &format!("set {}", describe_tags(&drifted)),
                    ));
                }
                user.arn.clone()
            }
        };

        // 4. The attachment.
        let attached = if existing.is_none() && dry_run {
            Vec::new()
        } else {
            self.retry_while_propagating(|| attached_policies(iam, &user_name))
                .await?
        };
        let attachment_id = format!("{user_name} <- {}", policy_arn.as_str());
        if attached.iter().any(|arn| arn == policy_arn.as_str()) {
            resources.push(change(
                ResourceKind::PolicyAttachment,
                &attachment_id,
                ChangeStatus::Unchanged,
                "the policy is attached",
            ));
        } else if dry_run {
            resources.push(planned(
                ResourceKind::PolicyAttachment,
                &attachment_id,
                "would attach the policy to the user",
            ));
        } else {
            self.retry_while_propagating(|| async {
                iam.attach_user_policy()
                    .user_name(&user_name)
                    .policy_arn(policy_arn.as_str())
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:AttachUserPolicy", e))
            })
            .await?;
            tracing::info!(user = %user_name, policy = policy_arn.as_str(), "attached policy");
            resources.push(change(
                ResourceKind::PolicyAttachment,
                &attachment_id,
                ChangeStatus::Created,
                "attached the policy to the user",
            ));
        }
        let drift = other_policies(&user_name, &attached, &policy_arn);
        if !drift.is_empty() {
            warnings.push(format!(
                "{} other managed polic{} attached to {user_name}: the unit may do more than call Claude; \
                 see the `drift` entries for the fix",
                drift.len(),
                if drift.len() == 1 { "y is" } else { "ies are" }
            ));
        }
        resources.extend(drift);

        let changed = resources.iter().any(|r| {
            matches!(
                r.status,
                ChangeStatus::Created | ChangeStatus::Updated | ChangeStatus::Planned
            )
        });
        let next_steps = if dry_run {
            vec![
                "Call provision_user again without dry_run to apply the planned changes."
                    .to_owned(),
            ]
        } else {
            vec![format!(
                "Create a Bedrock API key for `{}` (create_api_key) and hand it to the business unit's owner.",
                request.business_unit
            )]
        };
        Ok(ProvisionReport {
            business_unit: request.business_unit.to_string(),
            user_name,
            user_arn,
            policy_arn: policy_arn.as_str().to_owned(),
            dry_run,
            changed,
            resources,
            warnings,
            next_steps,
        })
    }

    /// The IAM user of that name, or `None` when it does not exist.
    pub(crate) async fn find_user(
        &self,
        user_name: &str,
    ) -> Result<Option<aws_sdk_iam::types::User>> {
        let iam = &self.clients().await.iam;
        let output = found(
            iam.get_user()
                .user_name(user_name)
                .send()
                .await
                .map_err(|e| sdk_error("iam:GetUser", e)),
        )?;
        Ok(output.and_then(|o| o.user))
    }

    /// Resolve the policy ARN; create or version this project's policy when that is the choice.
    async fn ensure_policy(
        &self,
        choice: &PolicyChoice,
        caller: &Caller,
        dry_run: bool,
    ) -> Result<(PolicyArn, Option<ResourceChange>)> {
        let iam = &self.clients().await.iam;
        match choice {
            PolicyChoice::AmazonBedrockLimitedAccess => Ok((
                PolicyArn::from_parts(&caller.partition, "aws", "/", BEDROCK_LIMITED_ACCESS),
                None,
            )),
            PolicyChoice::Arn(arn) => {
                iam.get_policy()
                    .policy_arn(arn.as_str())
                    .send()
                    .await
                    .map_err(|e| match sdk_error("iam:GetPolicy", e) {
                        Error::NotFound { .. } => Error::refused(
                            "policy.arn",
                            format!("no managed policy {} exists in this account", arn.as_str()),
                        ),
                        other => other,
                    })?;
                Ok((arn.clone(), None))
            }
            PolicyChoice::LeastPrivilege => {
                let path = &self.settings().iam_path;
                let arn =
                    PolicyArn::from_parts(&caller.partition, &caller.account, path, POLICY_NAME);
                let report = |status, detail: &str| {
                    Ok((
                        arn.clone(),
                        Some(change(
                            ResourceKind::ManagedPolicy,
                            arn.as_str(),
                            status,
                            detail,
                        )),
                    ))
                };
                let document = least_privilege_document(&caller.partition, &caller.account);
                let existing = found(
                    iam.get_policy()
                        .policy_arn(arn.as_str())
                        .send()
                        .await
                        .map_err(|e| sdk_error("iam:GetPolicy", e)),
                )?
                .and_then(|output| output.policy);
                let Some(policy) = existing else {
                    if dry_run {
                        return report(
                            ChangeStatus::Planned,
                            "would create the least-privilege policy",
                        );
                    }
                    let created = iam.create_policy()
                        .policy_name(POLICY_NAME)
                        .path(path)
                        .policy_document(document.to_string())
                        .description("Invoke Anthropic models on Amazon Bedrock and use Bedrock API keys (managed by bedrock-provisioner)")
                        .tags(tag(MANAGED_BY_KEY, MANAGED_BY_VALUE)?)
                        .send()
                        .await
                        .map_err(|e| sdk_error("iam:CreatePolicy", e));
                    return match created {
                        Ok(_) => {
                            tracing::info!(policy = arn.as_str(), "created policy");
                            report(ChangeStatus::Created, "created the least-privilege policy")
                        }
                        // Another call (a parallel provision_user, another server) created it between our
                        // read and our create: the policy exists, which is what was wanted. A document that
                        // differs is re-versioned by the next run, as any drift.
                        Err(Error::Aws { code, .. }) if code == "EntityAlreadyExists" => {
                            tracing::info!(policy = arn.as_str(), "policy created concurrently");
                            report(
                                ChangeStatus::Unchanged,
                                "another call created the policy at the same moment; it is used as is",
                            )
                        }
                        Err(error) => Err(error),
                    };
                };
                let default_version = policy.default_version_id().unwrap_or("v1");
                let current = iam
                    .get_policy_version()
                    .policy_arn(arn.as_str())
                    .version_id(default_version)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:GetPolicyVersion", e))?;
                let current_document = current
                    .policy_version()
                    .and_then(|v| v.document())
                    .and_then(parse_returned_document);
                if current_document.as_ref() == Some(&document) {
                    return report(ChangeStatus::Unchanged, "the policy document is current");
                }
                if dry_run {
                    return report(
                        ChangeStatus::Planned,
                        "would publish a new default version of the policy document",
                    );
                }
                self.make_room_for_policy_version(&arn).await?;
                let created = iam
                    .create_policy_version()
                    .policy_arn(arn.as_str())
                    .policy_document(document.to_string())
                    .set_as_default(true)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:CreatePolicyVersion", e))?;
                let version = created
                    .policy_version()
                    .and_then(|v| v.version_id())
                    .unwrap_or("?")
                    .to_owned();
                tracing::info!(policy = arn.as_str(), %version, "published new policy version");
                report(
                    ChangeStatus::Updated,
                    &format!(
                        "the document differed from the current one; published it as default version {version}"
                    ),
                )
            }
        }
    }

    /// Delete the oldest non-default version when the policy has IAM's maximum of five.
    async fn make_room_for_policy_version(&self, arn: &PolicyArn) -> Result<()> {
        let iam = &self.clients().await.iam;
        let versions = iam
            .list_policy_versions()
            .policy_arn(arn.as_str())
            .send()
            .await
            .map_err(|e| sdk_error("iam:ListPolicyVersions", e))?;
        let versions = versions.versions();
        if versions.len() < MAX_POLICY_VERSIONS {
            return Ok(());
        }
        let oldest = versions
            .iter()
            .filter(|v| !v.is_default_version())
            .min_by_key(|v| v.create_date().map(|d| d.secs()));
        if let Some(version_id) = oldest.and_then(|v| v.version_id()) {
            iam.delete_policy_version()
                .policy_arn(arn.as_str())
                .version_id(version_id)
                .send()
                .await
                .map_err(|e| sdk_error("iam:DeletePolicyVersion", e))?;
        }
        Ok(())
    }
}

/// ARNs of the managed policies attached to a user.
async fn attached_policies(iam: &aws_sdk_iam::Client, user_name: &str) -> Result<Vec<String>> {
    let policies: Vec<_> = iam
        .list_attached_user_policies()
        .user_name(user_name)
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<_, _>>()
        .await
        .map_err(|e| sdk_error("iam:ListAttachedUserPolicies", e))?;
    Ok(policies.into_iter().filter_map(|p| p.policy_arn).collect())
}

/// Managed policies attached to the unit's user besides its own: drift this tool reports and leaves in place.
fn other_policies(user_name: &str, attached: &[String], own: &PolicyArn) -> Vec<ResourceChange> {
    attached
        .iter()
        .filter(|arn| *arn != own.as_str())
        .map(|arn| {
            change(
                ResourceKind::PolicyAttachment,
                &format!("{user_name} <- {arn}"),
                ChangeStatus::Drift,
                &format!(
                    "also attached, and not by bedrock-provisioner's choice: it may grant more than Bedrock. \
                     Fix, if the unit should only call Claude: aws iam detach-user-policy --user-name \
                     {user_name} --policy-arn {arn}"
                ),
            )
        })
        .collect()
}

fn tag(key: &str, value: &str) -> Result<Tag> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| Error::Aws {
            action: "iam:TagUser",
            code: "InvalidTag".to_owned(),
            message: e.to_string(),
        })
}

fn describe_tags(tags: &[Tag]) -> String {
    let pairs: Vec<String> = tags
        .iter()
        .map(|t| format!("{}={}", t.key(), t.value()))
        .collect();
    format!("tags {}", pairs.join(", "))
}

fn change(resource: ResourceKind, id: &str, status: ChangeStatus, detail: &str) -> ResourceChange {
    ResourceChange {
        resource,
        id: id.to_owned(),
        status,
        detail: detail.to_owned(),
    }
}

fn planned(resource: ResourceKind, id: &str, detail: &str) -> ResourceChange {
    change(resource, id, ChangeStatus::Planned, detail)
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
