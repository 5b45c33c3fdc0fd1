//! Bedrock API keys (long-term): IAM service-specific credentials for `bedrock.amazonaws.com` on a business
//! unit's user. Create, list with health flags, revoke, and rotate without downtime.

use std::{
    collections::HashMap,
    sync::LazyLock,
    time::{Duration, SystemTime},
};

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_iam::types::{ServiceSpecificCredentialMetadata, StatusType};
use aws_smithy_types::{DateTime, date_time::Format};
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Provisioner,
    aws::sdk_error,
    deliver::{ClientSettings, Delivered, Delivery, Destination},
    error::{Error, Result},
    inventory::ListBusinessUnitsInput,
    is_managed,
    names::{BusinessUnit, parse_region},
    secret::Secret,
    short_term::{self, MAX_DURATION_SECONDS},
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
    /// The business unit whose user gets the key (provisioned with provision_user).
    pub business_unit: String,
    /// `long_term` (default) or `short_term`.
    #[serde(default)]
    pub kind: ApiKeyKind,
    /// Long-term keys: days until the key expires. Default 30; at most the configured maximum (default 90).
    #[serde(default)]
    pub credential_age_days: Option<u32>,
    /// Short-term keys: seconds until the key expires, 1-43200 (default 43200, 12 hours).
    #[serde(default)]
    pub duration_seconds: Option<u32>,
    /// Region the client calls Bedrock in (a short-term key works only there). Default: the server's.
    #[serde(default)]
    pub region: Option<String>,
    /// Where the key goes: `inline` (in this result), `secrets_manager` or `file`. Default: the
    /// server's configured default (normally `inline`).
    #[serde(default)]
    pub deliver: Option<Delivery>,
    /// With `deliver: file`: a file name of your choosing, written in the unit's own directory
    /// `<key_dir>/<business_unit>/` (default: `<key_dir>/<business_unit>.env`).
    #[serde(default)]
    pub file_name: Option<String>,
    /// Check everything and report what would be created; create nothing.
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

/// The step that proves a new key works.
fn verify_step(unit: &BusinessUnit) -> Vec<String> {
    vec![format!(
        "Prove the key works: verify_access business_unit `{unit}` with the key as api_key (one free CountTokens call; the key is never echoed)."
    )]
}

/// Input of `list_api_keys`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListApiKeysInput {
    /// One business unit; omit for every user this tool manages.
    #[serde(default)]
    pub business_unit: Option<String>,
}

/// Health flags of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
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
    /// Health flags.
    pub flags: Vec<KeyFlag>,
}

/// Result of `list_api_keys`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyList {
    /// The keys, by user and creation date.
    pub keys: Vec<ApiKeySummary>,
}

/// What `revoke_key` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevokeAction {
    /// Set the key `Inactive` (reversible).
    #[default]
    Deactivate,
    /// Delete the key (irreversible).
    Delete,
}

/// Input of `revoke_key`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeKeyInput {
    /// The business unit that owns the key.
    pub business_unit: String,
    /// The key's id (`ACCA...`), from list_api_keys.
    pub credential_id: String,
    /// `deactivate` (default, reversible) or `delete`.
    #[serde(default)]
    pub action: RevokeAction,
    /// Only report what would happen.
    #[serde(default)]
    pub dry_run: bool,
    /// Must be true to change the key: confirms that clients using it will stop working.
    #[serde(default)]
    pub confirm: bool,
}

/// Result of `revoke_key`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RevokeReport {
    /// The business unit.
    pub business_unit: String,
    /// The key's id.
    pub credential_id: String,
    /// What was done: `deactivated`, `deleted`, `unchanged` (already inactive) or `planned`.
    pub outcome: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// How `rotate_key` treats the old key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RotateMode {
    /// Create the new key and keep the old one active until clients moved (zero downtime).
    #[default]
    KeepOld,
    /// Create the new key, then delete the old one.
    Replace,
}

/// Input of `rotate_key`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyInput {
    /// The business unit whose key is rotated.
    pub business_unit: String,
    /// The key to replace. Required when the user has two active keys; otherwise the only active key.
    #[serde(default)]
    pub credential_id: Option<String>,
    /// `keep_old` (default: the old key stays active until you revoke it) or `replace`.
    #[serde(default)]
    pub mode: RotateMode,
    /// Days until the new key expires. Default 30; at most the configured maximum.
    #[serde(default)]
    pub credential_age_days: Option<u32>,
    /// Region the client settings name. Default: the server's.
    #[serde(default)]
    pub region: Option<String>,
    /// Where the new key goes: `inline`, `secrets_manager` or `file`. Default: the server's
    /// configured default (normally `inline`).
    #[serde(default)]
    pub deliver: Option<Delivery>,
    /// With `deliver: file`: a file name of your choosing, written in the unit's own directory
    /// `<key_dir>/<business_unit>/` (default: `<key_dir>/<business_unit>.env`).
    #[serde(default)]
    pub file_name: Option<String>,
    /// Check everything and report which keys would be created and deleted; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Result of `rotate_key`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RotateReport {
    /// The new key (returned once).
    pub new_key: CreatedApiKey,
    /// The key it replaces, if any.
    pub old_credential_id: Option<String>,
    /// Keys deleted to make room or because `mode` was `replace`.
    pub deleted_credential_ids: Vec<String>,
    /// What to do next.
    pub instruction: String,
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
                if input.duration_seconds.is_some() {
                    return Err(Error::invalid(
                        "duration_seconds",
                        "applies to `kind: short_term` only; long-term keys take credential_age_days",
                    ));
                }
                let age = self.key_age(input.credential_age_days)?;
                let user = self.managed_user(&unit).await?;
                self.check_destination(&unit, &destination).await?;
                let _guard = self.lock_user(&user.name).await;
                let keys = self.user_keys(&user.name).await?;
                if keys.len() >= MAX_KEYS_PER_USER {
                    return Err(Error::KeyLimit {
                        user_name: user.name,
                        credential_ids: keys
                            .iter()
                            .map(|k| k.service_specific_credential_id().to_owned())
                            .collect(),
                    });
                }
                if input.dry_run {
                    return Ok(planned_key(
                        &unit,
                        &user,
                        ApiKeyKind::LongTerm,
                        &region,
                        &destination,
                    ));
                }
                self.issue_key(&unit, &user, age, &region, &destination)
                    .await
            }
            ApiKeyKind::ShortTerm => {
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
                        format!(
                            "must be between 1 and {MAX_DURATION_SECONDS} (12 hours); got {seconds}"
                        ),
                    ));
                }
                let user = self.managed_user(&unit).await?;
                self.check_destination(&unit, &destination).await?;
                if input.dry_run {
                    return Ok(planned_key(
                        &unit,
                        &user,
                        ApiKeyKind::ShortTerm,
                        &region,
                        &destination,
                    ));
                }
                self.sign_short_term_key(&unit, &user, seconds, &region, &destination)
                    .await
            }
        }
    }

    /// The business unit's keys, or the keys of every user this tool manages.
    pub async fn list_api_keys(&self, input: &ListApiKeysInput) -> Result<ApiKeyList> {
        let users: Vec<(String, String)> = match &input.business_unit {
            Some(raw) => {
                let unit = BusinessUnit::parse("business_unit", raw)?;
                let user = self.managed_user(&unit).await?;
                vec![(unit.to_string(), user.name)]
            }
            None => self
                .list_business_units(&ListBusinessUnitsInput::default())
                .await?
                .business_units
                .into_iter()
                .map(|u| (u.business_unit, u.user_name))
                .collect(),
        };
        let now = DateTime::from(std::time::SystemTime::now()).secs();
        let mut keys = Vec::new();
        for (unit, user) in users {
            for key in self.user_keys(&user).await? {
                keys.push(self.summarize(&unit, &key, now));
            }
        }
        Ok(ApiKeyList { keys })
    }

    /// Deactivate (default) or delete one key of the business unit's user.
    pub async fn revoke_key(&self, input: &RevokeKeyInput) -> Result<RevokeReport> {
        let unit = BusinessUnit::parse("business_unit", &input.business_unit)?;
        let credential_id = parse_credential_id("credential_id", &input.credential_id)?;
        let user_name = self.managed_user(&unit).await?.name;
        let _guard = self.lock_user(&user_name).await;
        let key = self.owned_key(&unit, &user_name, &credential_id).await?;
        if !input.dry_run && !input.confirm {
            let verb = match input.action {
                RevokeAction::Deactivate => {
                    "deactivate (reversible with `aws iam update-service-specific-credential --status Active`)"
                }
                RevokeAction::Delete => "permanently delete",
            };
            return Err(Error::ConfirmationRequired {
                summary: format!(
                    "revoke_key would {verb} Bedrock API key `{credential_id}` of `{user_name}` \
                     (status {}); every client using it stops working",
                    key.status().as_str()
                ),
            });
        }
        let iam = &self.clients().await.iam;
        let outcome = match (input.action, input.dry_run) {
            (_, true) => "planned",
            (RevokeAction::Deactivate, false) if key.status() == &StatusType::Inactive => {
                "unchanged"
            }
            (RevokeAction::Deactivate, false) => {
                iam.update_service_specific_credential()
                    .user_name(&user_name)
                    .service_specific_credential_id(&credential_id)
                    .status(StatusType::Inactive)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:UpdateServiceSpecificCredential", e))?;
                "deactivated"
            }
            (RevokeAction::Delete, false) => {
                self.delete_key(&user_name, &credential_id).await?;
                "deleted"
            }
        };
        tracing::info!(user = %user_name, credential_id = %credential_id, outcome, "revoke_key");
        Ok(RevokeReport {
            business_unit: unit.to_string(),
            credential_id,
            outcome: outcome.to_owned(),
            dry_run: input.dry_run,
        })
    }

    /// Issue a new key and retire an old one, never leaving the user without a working key.
    pub async fn rotate_key(&self, input: &RotateKeyInput) -> Result<RotateReport> {
        let unit = BusinessUnit::parse("business_unit", &input.business_unit)?;
        let named = input
            .credential_id
            .as_deref()
            .map(|id| parse_credential_id("credential_id", id))
            .transpose()?;
        self.settings()
            .governance
            .check_unit("business_unit", &unit)?;
        let age = self.key_age(input.credential_age_days)?;
        let region = self.key_region(input.region.as_deref()).await?;
        let destination = self.destination(&unit, input.deliver, input.file_name.as_deref())?;
        let user = self.managed_user(&unit).await?;
        self.check_destination(&unit, &destination).await?;
        let user_name = user.name.clone();
        let _guard = self.lock_user(&user_name).await;
        let keys = self.user_keys(&user_name).await?;
        if let Some(id) = named.as_ref().filter(|id| {
            !keys
                .iter()
                .any(|k| k.service_specific_credential_id() == id.as_str())
        }) {
            return Err(not_owned(&unit, id));
        }
        let working = |k: &&ServiceSpecificCredentialMetadata| k.status() == &StatusType::Active;
        let old = named.clone().or_else(|| {
            let active: Vec<_> = keys.iter().filter(working).collect();
            (active.len() == 1).then(|| active[0].service_specific_credential_id().to_owned())
        });
        let mut deleted = Vec::new();
        if keys.len() >= MAX_KEYS_PER_USER {
            // Make room: an expired or inactive key first (oldest first), else the key the caller named.
            let mut idle: Vec<_> = keys.iter().filter(|k| !working(k)).collect();
            idle.sort_by_key(|k| k.create_date().secs());
            let victim = match (idle.first(), &named) {
                (Some(key), _) => key.service_specific_credential_id().to_owned(),
                (None, Some(id)) => id.clone(),
                (None, None) => {
                    return Err(Error::refused(
                        "credential_id",
                        format!(
                            "`{user_name}` has two active keys ({}); name the one to replace",
                            keys.iter()
                                .map(|k| k.service_specific_credential_id())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            };
            if !input.dry_run {
                self.delete_key(&user_name, &victim).await?;
            }
            deleted.push(victim);
        }
        let mut new_key = if input.dry_run {
            planned_key(&unit, &user, ApiKeyKind::LongTerm, &region, &destination)
        } else {
            self.issue_key(&unit, &user, age, &region, &destination)
                .await?
        };
        let mut left_in_place = None;
        if let Some(id) = old
            .as_ref()
            .filter(|id| input.mode == RotateMode::Replace && !deleted.contains(id))
        {
            // The new key exists (and, inline, is in this answer): a failed deletion of the old one must
            // not lose it. Report it, and say how to finish.
            match input.dry_run {
                true => deleted.push(id.clone()),
                false => match self.delete_key(&user_name, id).await {
                    Ok(()) => deleted.push(id.clone()),
                    Err(error) => {
                        new_key.warnings.push(format!(
                            "The new key is in place, but deleting the old key {id} failed: {error}. The old key is still active."
                        ));
                        left_in_place = Some(id.clone());
                    }
                },
            }
        }
        let instruction = match (&old, input.mode, &left_in_place) {
            (_, _, Some(id)) => format!(
                "Hand the new key to the business unit's owner, then finish the rotation: revoke_key business_unit `{unit}` credential_id `{id}` action `delete` (the new key stays)."
            ),
            (Some(id), RotateMode::KeepOld, None) if !deleted.contains(id) => format!(
                "Move clients to the new key, then revoke the old one: revoke_key business_unit `{unit}` credential_id `{id}`."
            ),
            _ => {
                "Hand the new key to the business unit's owner; it replaces the old one.".to_owned()
            }
        };
        Ok(RotateReport {
            new_key,
            old_credential_id: old,
            deleted_credential_ids: deleted,
            instruction,
        })
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
        Ok(ManagedUser {
            name: user_name,
            arn: user.arn().to_owned(),
            tags: user
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        })
    }

    /// The region a key is for: the caller's choice or the server's.
    async fn key_region(&self, requested: Option<&str>) -> Result<String> {
        match requested {
            Some(region) => parse_region("region", region),
            None => Ok(self.clients().await.region.clone()),
        }
    }

    async fn user_keys(&self, user_name: &str) -> Result<Vec<ServiceSpecificCredentialMetadata>> {
        let iam = &self.clients().await.iam;
        let mut keys = Vec::new();
        let mut marker = None;
        loop {
            let page = iam
                .list_service_specific_credentials()
                .user_name(user_name)
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

    async fn owned_key(
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

    /// Create a long-term key and deliver it; if delivery fails, the new key is deleted again.
    async fn issue_key(
        &self,
        unit: &BusinessUnit,
        user: &ManagedUser,
        age: u32,
        region: &str,
        destination: &Destination,
    ) -> Result<CreatedApiKey> {
        let user_name = user.name.as_str();
        let created = self
            .clients()
            .await
            .iam
            .create_service_specific_credential()
            .user_name(user_name)
            .service_name(BEDROCK_SERVICE)
            .credential_age_days(i32::try_from(age).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_error("iam:CreateServiceSpecificCredential", e));
        // IAM is the arbiter between processes (two replicas, a CLI beside a server): the lock of this
        // process cannot see another's key, but IAM's LimitExceeded does. Answer it as a full user would be.
        let created = match created {
            Err(Error::Aws { code, .. }) if code == "LimitExceeded" => {
                let keys = self.user_keys(user_name).await.unwrap_or_default();
                return Err(Error::KeyLimit {
                    user_name: user_name.to_owned(),
                    credential_ids: keys
                        .iter()
                        .map(|k| k.service_specific_credential_id().to_owned())
                        .collect(),
                });
            }
            other => other?,
        };
        let credential = created
            .service_specific_credential
            .ok_or_else(|| Error::Aws {
                action: "iam:CreateServiceSpecificCredential",
                code: "EmptyResponse".to_owned(),
                message: "AWS returned no credential".to_owned(),
            })?;
        let credential_id = credential.service_specific_credential_id().to_owned();
        tracing::info!(user = %user_name, %credential_id, "created Bedrock API key");
        let secret = Secret::new(credential.service_credential_secret().unwrap_or_default());
        let delivery = match self
            .deliver(
                unit,
                &user.tags,
                destination,
                ClientSettings::new(secret, region),
            )
            .await
        {
            Ok(delivery) => delivery,
            Err(error) => {
                tracing::warn!(%credential_id, %error, "delivery failed; deleting the new key");
                if let Err(cleanup) = self.delete_key(user_name, &credential_id).await {
                    return Err(Error::OrphanedKey {
                        credential_id,
                        delivery: error.to_string(),
                        cleanup: cleanup.to_string(),
                    });
                }
                return Err(error);
            }
        };
        Ok(CreatedApiKey {
            business_unit: unit.to_string(),
            user_name: user_name.to_owned(),
            kind: ApiKeyKind::LongTerm,
            credential_id: Some(credential_id),
            alias: credential.service_credential_alias().map(str::to_owned),
            status: credential.status().as_str().to_owned(),
            created: rfc3339(credential.create_date()),
            expires: credential.expiration_date().map(rfc3339),
            region: region.to_owned(),
            warnings: handling_warnings(&delivery),
            delivery,
            next_steps: verify_step(unit),
        })
    }

    /// Sign a short-term key with the server's own credentials and deliver it.
    async fn sign_short_term_key(
        &self,
        unit: &BusinessUnit,
        user: &ManagedUser,
        seconds: u32,
        region: &str,
        destination: &Destination,
    ) -> Result<CreatedApiKey> {
        let clients = self.clients().await;
        let provider = clients
            .config
            .credentials_provider()
            .ok_or_else(|| Error::Credentials {
                detail: "no credentials provider is configured".to_owned(),
            })?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| Error::Credentials {
                detail: super::aws::error_chain(&e),
            })?;
        // Whole seconds, as the token's X-Amz-Date records it.
        let now = SystemTime::UNIX_EPOCH
            + Duration::from_secs(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            );
        let lifetime = Duration::from_secs(u64::from(seconds));
        let key = short_term::generate(&credentials, region, lifetime, now)?;
        let mut expires = now + lifetime;
        let mut warnings = vec![format!(
            "This short-term key is signed with the server's own credentials (access key id {}): it \
             carries that identity's Bedrock permissions, and its usage is attributed to that \
             identity, not to `{}`. Prefer long-term keys for per-business-unit accounting.",
            credentials.access_key_id(),
            user.name
        )];
        if let Some(session_end) = credentials.expiry().filter(|end| *end < expires) {
            expires = session_end;
            warnings.push(
                "The server's credentials are temporary: the key stops working when their session \
                 ends, before the requested duration."
                    .to_owned(),
            );
        }
        let delivery = self
            .deliver(
                unit,
                &user.tags,
                destination,
                ClientSettings::new(key, region),
            )
            .await?;
        warnings.extend(handling_warnings(&delivery));
        tracing::info!(user = %user.name, %region, seconds, "signed a short-term Bedrock API key");
        Ok(CreatedApiKey {
            business_unit: unit.to_string(),
            user_name: user.name.clone(),
            kind: ApiKeyKind::ShortTerm,
            credential_id: None,
            alias: None,
            status: "Active".to_owned(),
            created: rfc3339(&DateTime::from(now)),
            expires: Some(rfc3339(&DateTime::from(expires))),
            region: region.to_owned(),
            delivery,
            warnings,
            next_steps: verify_step(unit),
        })
    }

    async fn delete_key(&self, user_name: &str, credential_id: &str) -> Result<()> {
        self.clients()
            .await
            .iam
            .delete_service_specific_credential()
            .user_name(user_name)
            .service_specific_credential_id(credential_id)
            .send()
            .await
            .map_err(|e| sdk_error("iam:DeleteServiceSpecificCredential", e))?;
        tracing::info!(user = %user_name, %credential_id, "deleted Bedrock API key");
        Ok(())
    }

    fn summarize(
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
            flags,
        }
    }
}

/// The report of a dry run: what would be issued, and where it would go.
fn planned_key(
    unit: &BusinessUnit,
    user: &ManagedUser,
    kind: ApiKeyKind,
    region: &str,
    destination: &Destination,
) -> CreatedApiKey {
    CreatedApiKey {
        business_unit: unit.to_string(),
        user_name: user.name.clone(),
        kind,
        credential_id: None,
        alias: None,
        status: "Planned".to_owned(),
        created: String::new(),
        expires: None,
        region: region.to_owned(),
        delivery: Delivered::Planned {
            destination: destination.describe(unit),
        },
        warnings: vec!["Dry run: no key was created and nothing was deleted.".to_owned()],
        next_steps: vec!["Call again without dry_run to create the key.".to_owned()],
    }
}

/// What to tell the caller about a delivered key.
fn handling_warnings(delivery: &Delivered) -> Vec<String> {
    match delivery {
        Delivered::Inline { .. } => vec![
            "This key is shown once and cannot be retrieved again. Store it in a secret manager \
             now; anyone holding it can invoke Claude as this business unit."
                .to_owned(),
        ],
        Delivered::SecretsManager { .. } | Delivered::File { .. } | Delivered::Planned { .. } => {
            Vec::new()
        }
    }
}

/// A user this tool manages, with its tags.
pub(crate) struct ManagedUser {
    /// The IAM user name.
    pub(crate) name: String,
    /// Its ARN.
    pub(crate) arn: String,
    /// Its tags.
    pub(crate) tags: HashMap<String, String>,
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
