//! The AWS half of `provision_user`: read the unit's resources, and apply a plan's steps in order.

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use super::{
    ChangeStatus, ProvisionRequest, ResourceChange, ResourceKind,
    plan::{Change, Current, CurrentUser, Step, Wanted},
};
use crate::core::{
    Caller, MANAGED_BY_KEY, MANAGED_BY_VALUE, Provisioner,
    aws::iam::{attached_policies, describe_tags, tag},
    aws::sdk_error,
    domain::error::{Error, Result, found},
    domain::names::PolicyArn,
    domain::plan::Effect,
    domain::policy::{
        BEDROCK_LIMITED_ACCESS, POLICY_NAME, PolicyChoice, least_privilege_document,
        parse_returned_document,
    },
    is_managed,
};

/// IAM keeps at most five versions of a managed policy.
const MAX_POLICY_VERSIONS: usize = 5;

/// What applying a plan did (so far, when it failed part way).
#[derive(Default)]
pub struct Applied {
    /// Each resource with what happened to it.
    pub resources: Vec<ResourceChange>,
    /// The ARN of the user, when `apply` created it.
    pub created_user_arn: Option<String>,
}

impl Provisioner {
    /// What the request wants, with the policy ARN resolved for the caller's account.
    pub(super) fn provision_wanted(
        &self,
        request: &ProvisionRequest,
        caller: &Caller,
    ) -> Result<Wanted> {
        let (policy_arn, own_document) = match &request.policy {
            PolicyChoice::AmazonBedrockLimitedAccess => (
                PolicyArn::from_parts(&caller.partition, "aws", "/", BEDROCK_LIMITED_ACCESS),
                None,
            ),
            PolicyChoice::Arn(arn) => (arn.clone(), None),
            PolicyChoice::LeastPrivilege => (
                self.own_policy_arn(caller),
                Some(least_privilege_document(&caller.partition, &caller.account)),
            ),
        };
        Ok(Wanted {
            user_name: request.business_unit.user_name(),
            tags: request
                .tags
                .iter()
                .map(|(key, value)| tag(key.as_str(), value.as_str()))
                .collect::<Result<_>>()?,
            policy_arn,
            own_document,
            adopt: request.adopt,
        })
    }

    fn own_policy_arn(&self, caller: &Caller) -> PolicyArn {
        let path = &self.settings().iam_path;
        PolicyArn::from_parts(&caller.partition, &caller.account, path, POLICY_NAME)
    }

    /// The unit's user, this project's policy document (when it is the one wanted) and the attachments.
    /// A policy ARN of the caller's choice must exist.
    pub(super) async fn provision_current(
        &self,
        choice: &PolicyChoice,
        wanted: &Wanted,
    ) -> Result<(Current, Option<String>)> {
        let user = self.find_user(&wanted.user_name).await?;
        let own_policy = match choice {
            PolicyChoice::LeastPrivilege => self.own_policy_document(&wanted.policy_arn).await?,
            PolicyChoice::Arn(arn) => {
                self.require_policy(arn).await?;
                None
            }
            PolicyChoice::AmazonBedrockLimitedAccess => None,
        };
        let attached = match user {
            Some(_) => {
                let iam = &self.clients().await.iam;
                self.retry_while_propagating(|| attached_policies(iam, &wanted.user_name))
                    .await?
            }
            None => Vec::new(),
        };
        let arn = user.as_ref().map(|u| u.arn.clone());
        let user = user.map(|u| CurrentUser {
            managed: is_managed(&u),
            tags: u.tags.unwrap_or_default(),
        });
        Ok((
            Current {
                user,
                own_policy,
                attached,
            },
            arn,
        ))
    }

    /// The default version's document of this project's policy: `None` when the policy does not exist.
    async fn own_policy_document(&self, arn: &PolicyArn) -> Result<Option<Option<Value>>> {
        if let Some(document) = self.remembered_policy(arn.as_str()) {
            return Ok(Some(Some(document)));
        }
        let iam = &self.clients().await.iam;
        let policy = found(
            iam.get_policy()
                .policy_arn(arn.as_str())
                .send()
                .await
                .map_err(|e| sdk_error("iam:GetPolicy", e)),
        )?
        .and_then(|output| output.policy);
        let Some(policy) = policy else {
            return Ok(None);
        };
        let current = iam
            .get_policy_version()
            .policy_arn(arn.as_str())
            .version_id(policy.default_version_id().unwrap_or("v1"))
            .send()
            .await
            .map_err(|e| sdk_error("iam:GetPolicyVersion", e))?;
        let document = current
            .policy_version()
            .and_then(|v| v.document())
            .and_then(parse_returned_document);
        if let Some(document) = &document {
            self.remember_policy(arn.as_str(), document);
        }
        Ok(Some(document))
    }

    async fn require_policy(&self, arn: &PolicyArn) -> Result<()> {
        let iam = &self.clients().await.iam;
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
        Ok(())
    }

    /// Execute the plan's steps in order; an unchanged or drifted resource is reported as planned.
    pub(super) async fn apply_provision(
        &self,
        wanted: &Wanted,
        plan: Vec<Change>,
        applied: &mut Applied,
    ) -> Result<()> {
        for change in plan {
            let step = match change.effect {
                Effect::Keep => {
                    applied
                        .resources
                        .push(report(&change, ChangeStatus::Unchanged, &change.why));
                    continue;
                }
                Effect::Drift => {
                    applied
                        .resources
                        .push(report(&change, ChangeStatus::Drift, &change.why));
                    continue;
                }
                Effect::Apply(ref step) => step,
            };
            let (status, detail) = self.provision_step(wanted, step, applied).await?;
            applied.resources.push(report(&change, status, &detail));
        }
        Ok(())
    }

    async fn provision_step(
        &self,
        wanted: &Wanted,
        step: &Step,
        applied: &mut Applied,
    ) -> Result<(ChangeStatus, String)> {
        let user_name = &wanted.user_name;
        match step {
            Step::CreatePolicy(document) => self.create_policy(&wanted.policy_arn, document).await,
            Step::PublishPolicyVersion(document) => {
                self.publish_policy_version(&wanted.policy_arn, document)
                    .await
            }
            Step::CreateUser(tags) => {
                applied.created_user_arn = Some(self.create_user(user_name, tags).await?);
                applied.resources.push(ResourceChange {
                    resource: ResourceKind::UserTags,
                    id: user_name.clone(),
                    status: ChangeStatus::Created,
                    detail: format!("set {}", describe_tags(tags)),
                });
                Ok((ChangeStatus::Created, "created the IAM user".to_owned()))
            }
            Step::TagUser(tags) => {
                self.tag_user(user_name, tags).await?;
                Ok((
                    ChangeStatus::Updated,
                    format!("set {}", describe_tags(tags)),
                ))
            }
            Step::AttachPolicy => {
                self.attach_policy(user_name, &wanted.policy_arn).await?;
                Ok((
                    ChangeStatus::Created,
                    "attached the policy to the user".to_owned(),
                ))
            }
        }
    }

    async fn create_user(&self, user_name: &str, tags: &[Tag]) -> Result<String> {
        let created = self
            .clients()
            .await
            .iam
            .create_user()
            .user_name(user_name)
            .path(&self.settings().iam_path)
            .set_tags(Some(tags.to_vec()))
            .send()
            .await
            .map_err(|e| sdk_error("iam:CreateUser", e))?;
        tracing::info!(user = %user_name, "created IAM user");
        Ok(created.user.map(|u| u.arn).unwrap_or_default())
    }

    async fn tag_user(&self, user_name: &str, tags: &[Tag]) -> Result<()> {
        self.clients()
            .await
            .iam
            .tag_user()
            .user_name(user_name)
            .set_tags(Some(tags.to_vec()))
            .send()
            .await
            .map_err(|e| sdk_error("iam:TagUser", e))?;
        tracing::info!(user = %user_name, "repaired user tags");
        Ok(())
    }

    async fn attach_policy(&self, user_name: &str, arn: &PolicyArn) -> Result<()> {
        let iam = &self.clients().await.iam;
        self.retry_while_propagating(|| async {
            iam.attach_user_policy()
                .user_name(user_name)
                .policy_arn(arn.as_str())
                .send()
                .await
                .map_err(|e| sdk_error("iam:AttachUserPolicy", e))
        })
        .await?;
        tracing::info!(user = %user_name, policy = arn.as_str(), "attached policy");
        Ok(())
    }

    async fn create_policy(
        &self,
        arn: &PolicyArn,
        document: &Value,
    ) -> Result<(ChangeStatus, String)> {
        let created = self.clients().await.iam.create_policy()
            .policy_name(POLICY_NAME)
            .path(&self.settings().iam_path)
            .policy_document(document.to_string())
            .description("Invoke Anthropic models on Amazon Bedrock and use Bedrock API keys (managed by bedrock-provisioner)")
            .tags(tag(MANAGED_BY_KEY, MANAGED_BY_VALUE)?)
            .send()
            .await
            .map_err(|e| sdk_error("iam:CreatePolicy", e));
        match created {
            Ok(_) => {
                self.remember_policy(arn.as_str(), document);
                tracing::info!(policy = arn.as_str(), "created policy");
                Ok((
                    ChangeStatus::Created,
                    "created the least-privilege policy".to_owned(),
                ))
            }
            // Another call (a parallel provision_user, another server) created it between our read and
            // our create: the policy exists, which is what was wanted. A document that differs is
            // re-versioned by the next run, as any drift.
            Err(Error::Aws { code, .. }) if code == "EntityAlreadyExists" => {
                tracing::info!(policy = arn.as_str(), "policy created concurrently");
                Ok((
                    ChangeStatus::Unchanged,
                    "another call created the policy at the same moment; it is used as is"
                        .to_owned(),
                ))
            }
            Err(error) => Err(error),
        }
    }

    async fn publish_policy_version(
        &self,
        arn: &PolicyArn,
        document: &Value,
    ) -> Result<(ChangeStatus, String)> {
        self.make_room_for_policy_version(arn).await?;
        let created = self
            .clients()
            .await
            .iam
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
        self.remember_policy(arn.as_str(), document);
        tracing::info!(policy = arn.as_str(), %version, "published new policy version");
        Ok((
            ChangeStatus::Updated,
            format!(
                "the document differed from the current one; published it as default version {version}"
            ),
        ))
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

/// One resource of the report, from its change.
pub(super) fn report(change: &Change, status: ChangeStatus, detail: &str) -> ResourceChange {
    ResourceChange {
        resource: change.resource,
        id: change.id.clone(),
        status,
        detail: detail.to_owned(),
    }
}
