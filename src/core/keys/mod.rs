//! Bedrock API keys (long-term): IAM service-specific credentials for `bedrock.amazonaws.com` on a business
//! unit's user. Create, list with health flags, revoke, and rotate without downtime.

use std::{collections::BTreeMap, sync::LazyLock};

use aws_smithy_types::{DateTime, date_time::Format};
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod create;
pub mod deliver;
mod ensure;
pub mod inspect;
mod intent;
mod issue;
pub mod lease;
mod read;
mod revoke;
mod rotate;
pub mod short_term;

pub use revoke::{RevokeAction, RevokeKeyInput, RevokeOutcome, RevokePlan, RevokeReport};
pub use rotate::{KeyState, RotateKeyInput, RotateMode, RotateReport, Rotation, plan_rotation};

use aws_sdk_iam::types::ServiceSpecificCredentialMetadata;
use issue::planned_key;
use lease::{Held, Operation};

use crate::core::{
    Provisioner,
    domain::error::{Error, Result},
    domain::names::{BusinessUnit, parse_region, same_tag_key},
    keys::deliver::{Delivered, Delivery, Destination},
    keys::short_term::MAX_DURATION_SECONDS,
    spend::caps::CAP_TAG,
};

/// The IAM service name of Bedrock API keys.
pub const BEDROCK_SERVICE: &str = "bedrock.amazonaws.com";
/// IAM's limit of keys per user and service.
pub const MAX_KEYS_PER_USER: usize = 2;
const DAY: i64 = 86_400;

static CREDENTIAL_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^ACCA[A-Z0-9]{16,124}$").unwrap_or_else(|_| unreachable!("static regex"))
});

/// Which kind of Bedrock API key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyKind {
    /// An IAM service-specific credential of the business unit's user (1-36600 days; two per user).
    #[default]
    LongTerm,
    /// A presigned token (at most 12 hours, one region) signed with the server's own credentials.
    ShortTerm,
}

/// Input of `create_api_key`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyInput {
    /// The business unit (provisioned).
    pub business_unit: String,
    /// Key kind.
    #[serde(default)]
    pub kind: ApiKeyKind,
    /// Long-term: days to expiry (default 30, at most 90 unless configured).
    #[serde(default)]
    pub credential_age_days: Option<u32>,
    /// Short-term: seconds to expiry, 1-43200 (default 43200).
    #[serde(default)]
    pub duration_seconds: Option<u32>,
    /// Region the key is used in (default: the server's).
    #[serde(default)]
    pub region: Option<String>,
    /// Where the key goes (default: the server's, normally `inline`).
    #[serde(default)]
    pub deliver: Option<Delivery>,
    /// With `deliver: file`: a file name in the unit's own directory of the key directory.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Check everything; create nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A newly created key.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CreatedApiKey {
    /// The business unit.
    pub business_unit: String,
    /// The IAM user the key is for.
    pub user_name: String,
    /// `long_term` or `short_term`.
    pub kind: ApiKeyKind,
    /// Long-term keys: the id (`ACCA...`), used to rotate or revoke it.
    pub credential_id: Option<String>,
    /// Long-term keys: the public alias.
    pub alias: Option<String>,
    /// `Active`.
    pub status: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// When it expires (RFC 3339).
    pub expires: Option<String>,
    /// The region the client settings name.
    pub region: String,
    /// Where the key went: inline (the key is here, once), Secrets Manager (ARN) or a file (path).
    pub delivery: Delivered,
    /// Handling advice.
    pub warnings: Vec<String>,
    /// What to do next.
    pub next_steps: Vec<String>,
}

/// Input of `list_api_keys`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListApiKeysInput {
    /// One business unit (default: every managed one).
    #[serde(default)]
    pub business_unit: Option<String>,
    /// A fleet manifest: also its accounts, through their roles. Not with `business_unit`.
    #[serde(default)]
    pub manifest: Option<String>,
}

/// Health flags of a key.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr,
)]
#[cfg_attr(test, derive(strum::VariantArray))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum KeyFlag {
    /// Past its expiration date: it no longer works.
    Expired,
    /// Expires within the configured window (default 7 days).
    ExpiringSoon,
    /// Older than the rotation period (default 30 days).
    RotationDue,
    /// Deactivated: it does not work until reactivated.
    Inactive,
}

/// One key, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeySummary {
    /// The business unit.
    pub business_unit: String,
    /// The IAM user.
    pub user_name: String,
    /// The key's id.
    pub credential_id: String,
    /// The key's public alias.
    pub alias: Option<String>,
    /// `Active`, `Inactive` or `Expired`.
    pub status: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// When it expires (RFC 3339), if it does.
    pub expires: Option<String>,
    /// Whole days left before expiry (negative once expired).
    pub days_left: Option<i64>,
    /// Whole days since it was created.
    pub age_days: i64,
    /// Health flags.
    pub flags: Vec<KeyFlag>,
    /// The account, when listed across a manifest's accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// Result of `list_api_keys`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyList {
    /// The keys, by user and creation date.
    pub keys: Vec<ApiKeySummary>,
    /// Accounts of the manifest that could not be reached, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
}

impl Provisioner {
    /// Create a Bedrock API key for the business unit and hand it to its destination.
    pub async fn create_api_key(&self, input: &CreateApiKeyInput) -> Result<CreatedApiKey> {
        let unit = BusinessUnit::parse("business_unit", &input.business_unit)?;
        self.settings()
            .governance
            .check_unit("business_unit", &unit)?;
        let region = self.key_region(input.region.as_deref()).await?;
        let destination = self.destination(&unit, input.deliver, input.file_name.as_deref())?;
        match input.kind {
            ApiKeyKind::LongTerm => {
                self.create_long_term_key(input, &unit, &region, &destination)
                    .await
            }
            ApiKeyKind::ShortTerm => {
                self.create_short_term_key(input, &unit, &region, &destination)
                    .await
            }
        }
    }

    async fn create_long_term_key(
        &self,
        input: &CreateApiKeyInput,
        unit: &BusinessUnit,
        region: &str,
        destination: &Destination,
    ) -> Result<CreatedApiKey> {
        if input.duration_seconds.is_some() {
            return Err(Error::invalid(
                "duration_seconds",
                "applies to `kind: short_term` only; long-term keys take credential_age_days",
            ));
        }
        let age = self.key_age(input.credential_age_days)?;
        let user = self.managed_user(unit).await?;
        self.check_destination(unit, destination).await?;
        let _guard = self.lock_user(&user.name).await;
        let room = |keys: &[ServiceSpecificCredentialMetadata], held: Option<&Held>| {
            if let Some(held) = held.filter(|h| h.live(keys)).map(|h| &h.id) {
                return Err(Error::refused(
                    "deliver",
                    format!(
                        "{} already holds the active key {held}: a new key there would leave {held} working with no stored copy. Replace it with rotate_key (mode replace), or deliver the new key elsewhere",
                        destination.describe(unit)
                    ),
                ));
            }
            if keys.len() >= MAX_KEYS_PER_USER {
                return Err(key_limit(&user.name, keys));
            }
            Ok((Operation::Create, ()))
        };
        if input.dry_run {
            let held = self.held(unit, destination).await?;
            room(&self.user_keys(&user.name).await?, held.as_ref())?;
            return Ok(planned_key(
                unit,
                &user,
                ApiKeyKind::LongTerm,
                region,
                destination,
            ));
        }
        let (lease, ()) = self.claim(unit, &user, destination, room).await?;
        let result = self
            .issue_key(&lease, unit, &user, age, region, destination)
            .await;
        self.settle(&lease, &result).await;
        let mut key = result?;
        key.warnings.extend(lease.recovered);
        Ok(key)
    }

    async fn create_short_term_key(
        &self,
        input: &CreateApiKeyInput,
        unit: &BusinessUnit,
        region: &str,
        destination: &Destination,
    ) -> Result<CreatedApiKey> {
        if input.credential_age_days.is_some() {
            return Err(Error::invalid(
                "credential_age_days",
                "applies to `kind: long_term` only; short-term keys take duration_seconds",
            ));
        }
        let seconds = input.duration_seconds.unwrap_or(MAX_DURATION_SECONDS);
        if seconds == 0 || seconds > MAX_DURATION_SECONDS {
            return Err(Error::invalid(
                "duration_seconds",
                format!("must be between 1 and {MAX_DURATION_SECONDS} (12 hours); got {seconds}"),
            ));
        }
        let user = self.managed_user(unit).await?;
        if user.tags.keys().any(|k| same_tag_key(k, CAP_TAG)) {
            return Err(Error::refused(
                "kind",
                format!(
                    "business unit `{unit}` has a monthly spend cap: a short-term key is signed with the server's own credentials, so its calls would neither count toward the unit's usage nor stop when the cap denies the unit's user. Use a long-term key (kind: long_term), which the cap stops"
                ),
            ));
        }
        self.check_destination(unit, destination).await?;
        if input.dry_run {
            return Ok(planned_key(
                unit,
                &user,
                ApiKeyKind::ShortTerm,
                region,
                destination,
            ));
        }
        self.sign_short_term_key(unit, &user, seconds, region, destination)
            .await
    }

    /// The business unit's keys, or the keys of every user this tool manages, in this account (a
    /// manifest's accounts are `fleet`'s).
    pub(crate) async fn list_api_keys_here(
        &self,
        business_unit: Option<&str>,
    ) -> Result<ApiKeyList> {
        let by_unit = match business_unit {
            Some(raw) => {
                let unit = BusinessUnit::parse("business_unit", raw)?;
                let user = self.managed_user(&unit).await?;
                let keys = self.user_keys(&user.name).await?;
                self.summarize_units(vec![(unit.to_string(), user.name)], &keys)
            }
            None => self.keys_by_unit().await?,
        };
        Ok(ApiKeyList {
            keys: by_unit.into_values().flatten().collect(),
            unreachable: Vec::new(),
        })
    }

    /// Every managed unit (those without keys included) with its keys' summaries, from one listing of the
    /// units and one paged listing of every user's keys (`AllUsers`).
    pub(crate) async fn keys_by_unit(&self) -> Result<BTreeMap<String, Vec<ApiKeySummary>>> {
        let units = self
            .units_here(false)
            .await?
            .business_units
            .into_iter()
            .map(|u| (u.business_unit, u.user_name))
            .collect();
        Ok(self.summarize_units(units, &self.all_keys().await?))
    }

    /// One unit's keys with their flags, oldest first; none when its user does not exist (yet).
    pub(crate) async fn unit_key_summaries(
        &self,
        unit: &str,
        user_name: &str,
    ) -> Result<Vec<ApiKeySummary>> {
        if self.find_user(user_name).await?.is_none() {
            return Ok(Vec::new());
        }
        let keys = self.user_keys(user_name).await?;
        let by_unit = self.summarize_units(vec![(unit.to_owned(), user_name.to_owned())], &keys);
        Ok(by_unit.into_values().flatten().collect())
    }

    /// Each (unit, user) with the summaries of its keys among `keys`.
    fn summarize_units(
        &self,
        units: Vec<(String, String)>,
        keys: &[ServiceSpecificCredentialMetadata],
    ) -> BTreeMap<String, Vec<ApiKeySummary>> {
        let now = self.now().timestamp();
        units
            .into_iter()
            .map(|(unit, user)| {
                let summaries = keys
                    .iter()
                    .filter(|k| k.user_name() == user)
                    .map(|k| self.summarize(&unit, k, now))
                    .collect();
                (unit, summaries)
            })
            .collect()
    }

    fn key_age(&self, requested: Option<u32>) -> Result<u32> {
        let max = self.settings().max_key_age_days;
        let age = requested.unwrap_or(self.settings().default_key_age_days);
        if age == 0 || age > max {
            return Err(Error::invalid(
                "credential_age_days",
                format!("must be between 1 and {max} days (the configured maximum; got {age})"),
            ));
        }
        Ok(age)
    }

    /// The region a key is for: the caller's choice or the server's.
    async fn key_region(&self, requested: Option<&str>) -> Result<String> {
        match requested {
            Some(region) => parse_region("region", region),
            None => Ok(self.clients().await.region.clone()),
        }
    }
}

fn parse_credential_id(field: &str, value: &str) -> Result<String> {
    if CREDENTIAL_ID.is_match(value) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            field,
            "must be a service-specific credential id: `ACCA` followed by 16-124 uppercase letters or \
             digits (see list_api_keys)",
        ))
    }
}

/// The user already has IAM's two keys: name them, so the caller can choose one to replace.
fn key_limit(user_name: &str, keys: &[ServiceSpecificCredentialMetadata]) -> Error {
    Error::KeyLimit {
        user_name: user_name.to_owned(),
        credential_ids: read::key_ids(keys),
    }
}

fn not_owned(unit: &BusinessUnit, credential_id: &str) -> Error {
    Error::invalid(
        "credential_id",
        format!(
            "no Bedrock API key `{credential_id}` belongs to business unit `{unit}` (see list_api_keys)"
        ),
    )
}

fn rfc3339(time: &DateTime) -> String {
    time.fmt(Format::DateTime).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_ids() {
        assert!(parse_credential_id("credential_id", "ACCA1234567890ABCDEFG").is_ok());
        for bad in [
            "",
            "ACCA",
            "acca1234567890abcdefg",
            "AKIA1234567890ABCDEFG",
            "ACCA1234567890ABCDEF;",
        ] {
            assert!(parse_credential_id("credential_id", bad).is_err(), "{bad}");
        }
    }
}
