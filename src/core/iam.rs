//! IAM reads several capabilities share: the unit's user, the policies attached to it, tags.

use aws_sdk_iam::types::{Tag, User};

use super::{
    Provisioner,
    aws::sdk_error,
    error::{Error, Result, found},
};

impl Provisioner {
    /// The IAM user of that name, or `None` when it does not exist.
    pub(crate) async fn find_user(&self, user_name: &str) -> Result<Option<User>> {
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
}

/// ARNs of the managed policies attached to a user (every page).
pub(crate) async fn attached_policies(
    iam: &aws_sdk_iam::Client,
    user_name: &str,
) -> Result<Vec<String>> {
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

/// An IAM tag.
pub(crate) fn tag(key: &str, value: &str) -> Result<Tag> {
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

/// `tags k=v, k2=v2`, for reports.
pub(crate) fn describe_tags(tags: &[Tag]) -> String {
    let pairs: Vec<String> = tags
        .iter()
        .map(|t| format!("{}={}", t.key(), t.value()))
        .collect();
    format!("tags {}", pairs.join(", "))
}
