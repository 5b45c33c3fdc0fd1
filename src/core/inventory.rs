//! `list_business_units`: the business units this project provisioned, read from IAM.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    MANAGED_BY_KEY, MANAGED_BY_VALUE, Provisioner,
    aws::sdk_error,
    error::Result,
    names::{USER_SUFFIX, same_tag_key},
};

/// How many `ListUserTags` calls run at once.
const CONCURRENCY: usize = 8;

/// Input of `list_business_units`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBusinessUnitsInput {
    /// Also list users named `*-bedrock-user` that bedrock-provisioner did not create (no `managed-by`
    /// tag), so they can be adopted or renamed.
    #[serde(default)]
    pub include_unmanaged: bool,
}

/// One business unit's user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BusinessUnitSummary {
    /// The business unit (from the user name).
    pub business_unit: String,
    /// The IAM user name.
    pub user_name: String,
    /// The IAM user's ARN.
    pub user_arn: String,
    /// Whether the user carries `managed-by=bedrock-provisioner`.
    pub managed: bool,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
    /// Required tags (`business-unit`, `purpose`, `owner`) that are missing or empty.
    pub missing_tags: Vec<String>,
    /// When the user was created (RFC 3339).
    pub created: String,
}

/// Result of `list_business_units`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct BusinessUnitList {
    /// The business units, by name.
    pub business_units: Vec<BusinessUnitSummary>,
}

impl Provisioner {
    /// The IAM users named `<business-unit>-bedrock-user`, with their tags.
    pub async fn list_business_units(
        &self,
        input: &ListBusinessUnitsInput,
    ) -> Result<BusinessUnitList> {
        let iam = &self.clients().await.iam;
        let users: Vec<_> = iam
            .list_users()
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk_error("iam:ListUsers", e))?
            .into_iter()
            .filter(|u| u.user_name().ends_with(USER_SUFFIX))
            .collect();
        let mut summaries = Vec::with_capacity(users.len());
        for chunk in users.chunks(CONCURRENCY) {
            let mut tasks = tokio::task::JoinSet::new();
            for user in chunk.iter().cloned() {
                let iam = iam.clone();
                tasks.spawn(async move {
                    let tags = iam
                        .list_user_tags()
                        .user_name(user.user_name())
                        .into_paginator()
                        .items()
                        .send()
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .await
                        .map_err(|e| sdk_error("iam:ListUserTags", e))?;
                    Ok::<_, super::Error>((user, tags))
                });
            }
            while let Some(joined) = tasks.join_next().await {
                let Ok(result) = joined else { continue };
                let (user, tags) = result?;
                summaries.extend(summary(&user, tags, input.include_unmanaged));
            }
        }
        summaries.sort_by(|a, b| a.user_name.cmp(&b.user_name));
        Ok(BusinessUnitList {
            business_units: summaries,
        })
    }
}

/// The unit of a user and its tags; `None` for a user this tool does not manage, unless `include_unmanaged`.
fn summary(
    user: &aws_sdk_iam::types::User,
    tags: Vec<aws_sdk_iam::types::Tag>,
    include_unmanaged: bool,
) -> Option<BusinessUnitSummary> {
    let tags: BTreeMap<String, String> = tags.into_iter().map(|t| (t.key, t.value)).collect();
    // IAM tag keys are case-insensitive: look them up that way.
    let tag = |key: &str| {
        tags.iter()
            .find(|(given, _)| same_tag_key(given, key))
            .map(|(_, value)| value.as_str())
    };
    let managed = tag(MANAGED_BY_KEY) == Some(MANAGED_BY_VALUE);
    if !managed && !include_unmanaged {
        return None;
    }
    let missing_tags = ["business-unit", "purpose", "owner"]
        .into_iter()
        .filter(|k| tag(k).is_none_or(|v| v.trim().is_empty()))
        .map(str::to_owned)
        .collect();
    Some(BusinessUnitSummary {
        business_unit: user.user_name().trim_end_matches(USER_SUFFIX).to_owned(),
        user_name: user.user_name().to_owned(),
        user_arn: user.arn().to_owned(),
        managed,
        tags,
        missing_tags,
        created: user
            .create_date()
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default(),
    })
}
