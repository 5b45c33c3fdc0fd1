//! IAM reads several capabilities share: the unit's user, the policies attached to it, tags.

use aws_sdk_iam::types::{Tag, User};

use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result, found},
    domain::names::{TagKey, TagValue},
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

/// An IAM tag, held to IAM's rules for tag keys and values (`tagKeyType`, `tagValueType`: no comma, no
/// semicolon) whatever writes it, the project's own bookkeeping tags included.
pub(crate) fn tag(key: &str, value: &str) -> Result<Tag> {
    let invalid = |e: Error| Error::Aws {
        action: "iam:TagUser",
        code: "InvalidTag".to_owned(),
        message: format!("the project built an invalid tag {key}: {e}"),
    };
    TagKey::parse("tag key", key).map_err(invalid)?;
    TagValue::parse("tag value", value).map_err(invalid)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_written_tag_is_held_to_iams_pattern() {
        assert!(
            tag(
                "bedrock-provisioner:key-operation",
                "v1 a 1 create inline ACCA1+ACCA2 -"
            )
            .is_ok()
        );
        assert!(
            tag("k", "ACCA1,ACCA2").is_err(),
            "IAM refuses a comma in a tag value"
        );
        assert!(tag("k", "a;b").is_err());
        assert!(tag("aws:k", "v").is_err());
    }
}
