//! `list_business_units`: the business units this project provisioned, read from IAM: users and their tags
//! in pages (`GetAccountAuthorizationDetails`), or, for a caller not allowed that, the users and then each
//! one's tags.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use aws_sdk_iam::types::{EntityType, Tag};
use futures::{StreamExt, TryStreamExt, stream};

use crate::core::{
    MANAGED_BY_KEY, MANAGED_BY_VALUE, Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result},
    domain::names::{USER_SUFFIX, same_tag_key},
    spend::{
        caps::{CAP_TAG, CAPPED_TAG},
        usage::by_unit,
        window::month_start,
    },
};

/// How many `ListUserTags` calls run at once, when tags cannot come with the listing.
const CONCURRENCY: usize = 8;
/// Users per page of `GetAccountAuthorizationDetails` (IAM's maximum).
const PAGE_SIZE: i32 = 1000;

/// Input of `list_business_units`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBusinessUnitsInput {
    /// Also list `*-bedrock-user` users this tool did not create, to adopt or rename.
    #[serde(default)]
    pub include_unmanaged: bool,
    /// A fleet manifest: also its accounts, through their roles.
    #[serde(default)]
    pub manifest: Option<String>,
}

/// One business unit's user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// The account, when listed across a manifest's accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The unit's monthly spend cap in USD (set_spend_cap), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_cap_usd: Option<f64>,
    /// Why the unit is capped (`<YYYY-MM> spent <X> of <cap> USD`), while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capped: Option<String>,
    /// The unit's estimated spend this month in USD, from the invocation logs (when logging is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month_to_date_usd: Option<f64>,
}

/// Result of `list_business_units`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct BusinessUnitList {
    /// The business units, by name.
    pub business_units: Vec<BusinessUnitSummary>,
    /// Accounts of the manifest that could not be reached, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
}

/// An IAM user as a listing returns it, with its tags.
struct ListedUser {
    name: String,
    arn: String,
    created: Option<aws_smithy_types::DateTime>,
    tags: Vec<Tag>,
}

impl Provisioner {
    /// The units of this provisioner's account with each one's month-to-date estimate: what the tool shows.
    /// (Internal listings use [`Self::units_here`], so a fleet run or a key listing makes no usage query.)
    pub(crate) async fn units_with_spend(
        &self,
        include_unmanaged: bool,
    ) -> Result<BusinessUnitList> {
        let mut list = self.units_here(include_unmanaged).await?;
        if let Some(spent) = self.month_to_date().await {
            for unit in &mut list.business_units {
                unit.month_to_date_usd =
                    Some(spent.get(&unit.business_unit).copied().unwrap_or(0.0));
            }
        }
        Ok(list)
    }

    /// The units of this provisioner's account.
    pub(crate) async fn units_here(&self, include_unmanaged: bool) -> Result<BusinessUnitList> {
        let users = match self.users_with_tags().await {
            Err(Error::AccessDenied { .. }) => self.users_then_tags().await?,
            listed => listed?,
        };
        let mut summaries: Vec<BusinessUnitSummary> = users
            .into_iter()
            .filter_map(|user| summary(user, include_unmanaged))
            .collect();
        summaries.sort_by(|a, b| a.user_name.cmp(&b.user_name));
        Ok(BusinessUnitList {
            business_units: summaries,
            unreachable: Vec::new(),
        })
    }

    /// Each unit's estimated spend this month, when invocation logging is on (one query); `None` when it is
    /// off or cannot be read (the listing does not fail for it).
    async fn month_to_date(&self) -> Option<BTreeMap<String, f64>> {
        let group = self.logging_configuration().await.ok()??.log_group?;
        let now = self.now();
        let region = self.clients().await.region.clone();
        match self
            .priced_usage(&group, month_start(now), now, &region)
            .await
        {
            Ok((rows, _)) => Some(by_unit(&rows)),
            Err(error) => {
                tracing::warn!(%error, "month-to-date usage unavailable");
                None
            }
        }
    }

    /// Every user of the account with its tags, in pages of up to 1,000 (`GetAccountAuthorizationDetails`
    /// returns tags with the users, where `ListUsers` does not): the cost of a listing grows with pages,
    /// not with units.
    async fn users_with_tags(&self) -> Result<Vec<ListedUser>> {
        let iam = &self.clients().await.iam;
        let mut users = Vec::new();
        let mut marker = None;
        loop {
            let page = iam
                .get_account_authorization_details()
                .filter(EntityType::User)
                .max_items(PAGE_SIZE)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| sdk_error("iam:GetAccountAuthorizationDetails", e))?;
            users.extend(
                page.user_detail_list()
                    .iter()
                    .filter(|u| u.user_name().is_some_and(|n| n.ends_with(USER_SUFFIX)))
                    .map(|u| ListedUser {
                        name: u.user_name().unwrap_or_default().to_owned(),
                        arn: u.arn().unwrap_or_default().to_owned(),
                        created: u.create_date().copied(),
                        tags: u.tags().to_vec(),
                    }),
            );
            marker = page.marker().map(str::to_owned);
            if !page.is_truncated() || marker.is_none() {
                return Ok(users);
            }
        }
    }

    /// Every user named like a unit's, then each one's tags (`ListUserTags`, a few at once): for a caller
    /// not allowed `iam:GetAccountAuthorizationDetails`.
    async fn users_then_tags(&self) -> Result<Vec<ListedUser>> {
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
        stream::iter(users)
            .map(|user| async move {
                let tags = iam
                    .list_user_tags()
                    .user_name(user.user_name())
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .await
                    .map_err(|e| sdk_error("iam:ListUserTags", e))?;
                Ok(ListedUser {
                    name: user.user_name,
                    arn: user.arn,
                    created: Some(user.create_date),
                    tags,
                })
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await
    }
}

/// The unit of a user and its tags; `None` for a user this tool does not manage, unless `include_unmanaged`.
fn summary(user: ListedUser, include_unmanaged: bool) -> Option<BusinessUnitSummary> {
    let tags: BTreeMap<String, String> = user.tags.into_iter().map(|t| (t.key, t.value)).collect();
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
        business_unit: user
            .name
            .strip_suffix(USER_SUFFIX)
            .unwrap_or(&user.name)
            .to_owned(),
        created: user
            .created
            .and_then(|c| c.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
            .unwrap_or_default(),
        user_name: user.name,
        user_arn: user.arn,
        managed,
        monthly_cap_usd: tag(CAP_TAG).and_then(|v| v.parse().ok()),
        capped: tag(CAPPED_TAG).map(str::to_owned),
        tags,
        missing_tags,
        account: None,
        month_to_date_usd: None,
    })
}

#[cfg(test)]
mod tests {
    //! Against the fake AWS ([`crate::core::aws::fake_aws`]): paging, the fallback for a caller without
    //! `iam:GetAccountAuthorizationDetails`, and throttling with the retry settings users get.

    use crate::core::{Error, aws::fake_aws::FakeAws};

    fn user(name: &str, managed: bool) -> String {
        let tag = if managed {
            "<member><Key>managed-by</Key><Value>bedrock-provisioner</Value></member>"
        } else {
            ""
        };
        format!(
            "<member><UserName>{name}</UserName><Path>/</Path><UserId>AIDA{n}</UserId>\
             <Arn>arn:aws:iam::123456789012:user/{name}</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate>\
             <Tags>{tag}</Tags></member>",
            n = name.len()
        )
    }

    fn details(users: &[String], marker: Option<&str>) -> String {
        let truncated = marker.map_or_else(
            || "<IsTruncated>false</IsTruncated>".to_owned(),
            |m| format!("<IsTruncated>true</IsTruncated><Marker>{m}</Marker>"),
        );
        format!(
            "<UserDetailList>{}</UserDetailList><GroupDetailList/><RoleDetailList/><Policies/>{truncated}",
            users.concat()
        )
    }

    fn names(list: &super::BusinessUnitList) -> Vec<&str> {
        list.business_units
            .iter()
            .map(|u| u.business_unit.as_str())
            .collect()
    }

    #[tokio::test]
    async fn every_page_is_read_and_only_managed_units_are_listed() {
        let fake = FakeAws::default();
        let action = "GetAccountAuthorizationDetails";
        fake.iam_ok(
            action,
            &details(
                &[user("web-bedrock-user", true), user("alice", true)],
                Some("m1"),
            ),
        )
        .iam_ok(
            action,
            &details(
                &[
                    user("ops-bedrock-user", true),
                    user("old-bedrock-user", false),
                ],
                None,
            ),
        );
        let listed = fake.provisioner().units_here(false).await.unwrap();
        assert_eq!(names(&listed), ["ops", "web"]);
        assert_eq!(fake.calls(), [action, action]);
    }

    #[tokio::test]
    async fn without_the_bulk_read_users_then_their_tags_are_listed() {
        let fake = FakeAws::default();
        fake.iam_error("GetAccountAuthorizationDetails", 403, "AccessDenied")
            .iam_ok(
                "ListUsers",
                "<Users><member><UserName>web-bedrock-user</UserName><Path>/</Path><UserId>AIDA1</UserId>\
                 <Arn>arn:aws:iam::123456789012:user/web-bedrock-user</Arn>\
                 <CreateDate>2026-01-01T00:00:00Z</CreateDate></member></Users><IsTruncated>false</IsTruncated>",
            )
            .iam_ok(
                "ListUserTags",
                "<Tags><member><Key>managed-by</Key><Value>bedrock-provisioner</Value></member></Tags>\
                 <IsTruncated>false</IsTruncated>",
            );
        let listed = fake.provisioner().units_here(false).await.unwrap();
        assert_eq!(names(&listed), ["web"]);
        assert_eq!(
            fake.calls(),
            [
                "GetAccountAuthorizationDetails",
                "ListUsers",
                "ListUserTags"
            ]
        );
    }

    #[tokio::test]
    async fn throttling_is_retried_with_the_default_attempts_then_reported() {
        let action = "GetAccountAuthorizationDetails";
        let fake = FakeAws::default();
        fake.iam_error(action, 400, "Throttling")
            .iam_error(action, 400, "Throttling")
            .iam_ok(action, &details(&[user("web-bedrock-user", true)], None));
        let listed = fake.provisioner().units_here(false).await.unwrap();
        assert_eq!(names(&listed), ["web"]);
        assert_eq!(fake.calls().len(), 3);

        let fake = FakeAws::default();
        fake.iam_error(action, 400, "Throttling");
        let refused = fake.provisioner().units_here(false).await.unwrap_err();
        assert!(matches!(refused, Error::Throttled { .. }), "{refused:?}");
        assert_eq!(fake.calls().len(), 5, "the default of 5 attempts");
    }
}
