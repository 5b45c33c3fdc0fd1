//! Reads of the unit's user and its keys, and the health flags of a key.

use std::collections::HashMap;

use aws_sdk_iam::types::{ServiceSpecificCredentialMetadata, StatusType};

use super::{ApiKeySummary, BEDROCK_SERVICE, DAY, KeyFlag, intent::LEASE_TAG, not_owned, rfc3339};
use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result},
    domain::names::{BusinessUnit, same_tag_key},
    is_managed,
};

/// A user this tool manages, with its tags.
pub(crate) struct ManagedUser {
    /// The IAM user name.
    pub(crate) name: String,
    /// Its ARN.
    pub(crate) arn: String,
    /// Its tags (the key lease's excepted: it is no tag of the unit's).
    pub(crate) tags: HashMap<String, String>,
    /// The key lease's tag value, when a key operation holds one.
    pub(crate) lease: Option<String>,
}

/// The credential ids of `keys`.
pub(super) fn key_ids(keys: &[ServiceSpecificCredentialMetadata]) -> Vec<String> {
    keys.iter()
        .map(|k| k.service_specific_credential_id().to_owned())
        .collect()
}

impl Provisioner {
    /// The user of a business unit this tool manages.
    pub(crate) async fn managed_user(&self, unit: &BusinessUnit) -> Result<ManagedUser> {
        let user_name = unit.user_name();
        let Some(user) = self.find_user(&user_name).await? else {
            return Err(Error::NotProvisioned {
                business_unit: unit.to_string(),
                user_name,
            });
        };
        if !is_managed(&user) {
            return Err(Error::ForeignUser { user_name });
        }
        let is_lease = |key: &str| same_tag_key(key, LEASE_TAG);
        Ok(ManagedUser {
            name: user_name,
            arn: user.arn().to_owned(),
            tags: user
                .tags()
                .iter()
                .filter(|t| !is_lease(t.key()))
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
            lease: user
                .tags()
                .iter()
                .find(|t| is_lease(t.key()))
                .map(|t| t.value().to_owned()),
        })
    }

    /// The user's Bedrock API keys, oldest first.
    pub(super) async fn user_keys(
        &self,
        user_name: &str,
    ) -> Result<Vec<ServiceSpecificCredentialMetadata>> {
        self.list_keys(Some(user_name)).await
    }

    /// The Bedrock API keys of every user of the account, in pages (`AllUsers`): one listing for a fleet
    /// instead of one per unit.
    pub(super) async fn all_keys(&self) -> Result<Vec<ServiceSpecificCredentialMetadata>> {
        self.list_keys(None).await
    }

    /// Every page of the Bedrock API keys of one user, or (`None`) of every user; oldest first.
    async fn list_keys(
        &self,
        user_name: Option<&str>,
    ) -> Result<Vec<ServiceSpecificCredentialMetadata>> {
        let iam = &self.clients().await.iam;
        let mut keys = Vec::new();
        let mut marker = None;
        loop {
            let page = iam
                .list_service_specific_credentials()
                .set_user_name(user_name.map(str::to_owned))
                .set_all_users(user_name.is_none().then_some(true))
                .service_name(BEDROCK_SERVICE)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| sdk_error("iam:ListServiceSpecificCredentials", e))?;
            keys.extend(page.service_specific_credentials().iter().cloned());
            marker = page.marker().map(str::to_owned);
            if !page.is_truncated() || marker.is_none() {
                break;
            }
        }
        keys.sort_by_key(|k| k.create_date().secs());
        Ok(keys)
    }

    /// The key of that id, when it is one of the user's.
    pub(super) async fn owned_key(
        &self,
        unit: &BusinessUnit,
        user_name: &str,
        credential_id: &str,
    ) -> Result<ServiceSpecificCredentialMetadata> {
        self.user_keys(user_name)
            .await?
            .into_iter()
            .find(|k| k.service_specific_credential_id() == credential_id)
            .ok_or_else(|| not_owned(unit, credential_id))
    }

    /// A key without its secret, with its health flags as of `now`.
    pub(super) fn summarize(
        &self,
        unit: &str,
        key: &ServiceSpecificCredentialMetadata,
        now: i64,
    ) -> ApiKeySummary {
        let settings = self.settings();
        let days_left = key
            .expiration_date()
            .map(|e| (e.secs() - now).div_euclid(DAY));
        let age_days = (now - key.create_date().secs()).div_euclid(DAY);
        let expired = key.status() == &StatusType::Expired || days_left.is_some_and(|d| d < 0);
        let mut flags = Vec::new();
        if expired {
            flags.push(KeyFlag::Expired);
        } else if days_left.is_some_and(|d| d < i64::from(settings.expiring_soon_days)) {
            flags.push(KeyFlag::ExpiringSoon);
        }
        if age_days >= i64::from(settings.rotation_days) {
            flags.push(KeyFlag::RotationDue);
        }
        if key.status() == &StatusType::Inactive {
            flags.push(KeyFlag::Inactive);
        }
        ApiKeySummary {
            business_unit: unit.to_owned(),
            user_name: key.user_name().to_owned(),
            credential_id: key.service_specific_credential_id().to_owned(),
            alias: key.service_credential_alias().map(str::to_owned),
            status: if expired {
                "Expired".to_owned()
            } else {
                key.status().as_str().to_owned()
            },
            created: rfc3339(key.create_date()),
            expires: key.expiration_date().map(rfc3339),
            days_left,
            age_days,
            flags,
            account: None,
        }
    }
}
