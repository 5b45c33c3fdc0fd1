//! Issuing keys: a long-term key created in IAM, or a short-term key signed locally, each delivered to its
//! destination; and deleting a key.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_types::DateTime;

use super::{ApiKeyKind, CreatedApiKey, lease::Lease, read::ManagedUser, rfc3339};
use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result},
    domain::names::BusinessUnit,
    domain::secret::Secret,
    keys::deliver::{ClientSettings, Delivered, Destination},
    keys::short_term,
};

impl Provisioner {
    /// Create a long-term key under `lease` and deliver it; if delivery fails, the new key is deleted again.
    pub(super) async fn issue_key(
        &self,
        lease: &Lease,
        unit: &BusinessUnit,
        user: &ManagedUser,
        age: u32,
        region: &str,
        destination: &Destination,
    ) -> Result<CreatedApiKey> {
        let user_name = user.name.as_str();
        let credential = self.create_credential(unit, lease, age).await?;
        let credential_id = credential.service_specific_credential_id().to_owned();
        tracing::info!(user = %user_name, %credential_id, "created Bedrock API key");
        let secret = Secret::new(credential.service_credential_secret().unwrap_or_default());
        let settings = ClientSettings::new(secret, region);
        let delivery = self
            .deliver_or_delete(unit, user, destination, settings, &credential_id)
            .await?;
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

    /// The key an earlier rotation handed off, reported as the rotation's new key (its value is where it
    /// was delivered).
    pub(super) async fn resumed_key(
        &self,
        unit: &BusinessUnit,
        user: &ManagedUser,
        credential_id: &str,
        region: &str,
        destination: &Destination,
    ) -> Result<CreatedApiKey> {
        let key = self.owned_key(unit, &user.name, credential_id).await?;
        Ok(CreatedApiKey {
            business_unit: unit.to_string(),
            user_name: user.name.clone(),
            kind: ApiKeyKind::LongTerm,
            credential_id: Some(credential_id.to_owned()),
            alias: key.service_credential_alias().map(str::to_owned),
            status: key.status().as_str().to_owned(),
            created: rfc3339(key.create_date()),
            expires: key.expiration_date().map(rfc3339),
            region: region.to_owned(),
            delivery: self.handed_off(unit, destination).await?,
            warnings: vec![format!(
                "Finished an earlier rotation: its new key {credential_id} was already handed off; no \
                 key was issued."
            )],
            next_steps: verify_step(unit),
        })
    }

    /// The user is full: name its keys (as far as they can be read) so the caller can choose one to replace.
    pub(super) async fn key_limit(&self, user_name: &str) -> Error {
        let keys = self.user_keys(user_name).await.unwrap_or_default();
        super::key_limit(user_name, &keys)
    }

    /// Deliver a new long-term key; if the hand-off fails, delete the key again, and if that fails too,
    /// report both errors with the orphaned key's id.
    async fn deliver_or_delete(
        &self,
        unit: &BusinessUnit,
        user: &ManagedUser,
        destination: &Destination,
        settings: ClientSettings,
        credential_id: &str,
    ) -> Result<Delivered> {
        let delivered = self.deliver(unit, &user.tags, destination, settings, Some(credential_id));
        let error = match delivered.await {
            Ok(delivery) => return Ok(delivery),
            Err(error) => error,
        };
        // A hand-off whose answer was lost may have happened: the destination then holds the new key, and
        // deleting it would leave the destination with a dead key.
        if self
            .delivered_id(unit, destination)
            .await
            .ok()
            .flatten()
            .as_deref()
            == Some(credential_id)
        {
            tracing::warn!(%credential_id, %error, "the hand-off reported an error but the destination holds the new key");
            return self.handed_off(unit, destination).await;
        }
        tracing::warn!(%credential_id, %error, "delivery failed; deleting the new key");
        match self.delete_key(&user.name, credential_id).await {
            Ok(()) => Err(error),
            Err(cleanup) => Err(Error::OrphanedKey {
                credential_id: credential_id.to_owned(),
                delivery: error.to_string(),
                cleanup: cleanup.to_string(),
            }),
        }
    }

    /// Sign a short-term key with the server's own credentials and deliver it.
    pub(super) async fn sign_short_term_key(
        &self,
        unit: &BusinessUnit,
        user: &ManagedUser,
        seconds: u32,
        region: &str,
        destination: &Destination,
    ) -> Result<CreatedApiKey> {
        let credentials = self.own_credentials().await?;
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
                None,
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

    /// The server's own AWS credentials, which sign short-term keys.
    async fn own_credentials(&self) -> Result<aws_credential_types::Credentials> {
        let provider = self
            .clients()
            .await
            .config
            .credentials_provider()
            .ok_or_else(|| Error::Credentials {
                detail: "no credentials provider is configured".to_owned(),
            })?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| Error::Credentials {
                detail: crate::core::aws::error_chain(&e),
            })
    }

    /// Delete one key of the user.
    pub(super) async fn delete_key(&self, user_name: &str, credential_id: &str) -> Result<()> {
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
}

/// The report of a dry run: what would be issued, and where it would go.
pub(super) fn planned_key(
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

/// The step that proves a new key works.
pub(super) fn verify_step(unit: &BusinessUnit) -> Vec<String> {
    vec![format!(
        "Prove the key works: verify_access business_unit `{unit}` with the key as api_key (one free CountTokens call; the key is never echoed)."
    )]
}

#[cfg(test)]
mod tests {
    //! Orphan clean-up against the fake AWS ([`crate::core::aws::fake_aws`]): a key whose hand-off failed is
    //! deleted again, and when that fails too, the error names the key left behind.

    use std::collections::HashMap;

    use crate::core::{
        Error,
        aws::fake_aws::FakeAws,
        domain::names::BusinessUnit,
        domain::secret::Secret,
        keys::deliver::{ClientSettings, Destination},
        keys::read::ManagedUser,
    };

    async fn hand_off(fake: &FakeAws) -> Error {
        let unit = BusinessUnit::parse("business_unit", "web").unwrap();
        let user = ManagedUser {
            name: "web-bedrock-user".to_owned(),
            arn: "arn:aws:iam::123456789012:user/web-bedrock-user".to_owned(),
            tags: HashMap::new(),
            lease: None,
        };
        let settings = ClientSettings::new(Secret::new("ABSKfake"), "us-east-1");
        fake.provisioner()
            .deliver_or_delete(
                &unit,
                &user,
                &Destination::SecretsManager,
                settings,
                "ACCANEW",
            )
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn a_key_whose_hand_off_failed_is_deleted_again() {
        // Secrets Manager answers nothing the SDK accepts: the hand-off fails, and the secret cannot be
        // read back to show the key arrived after all.
        let fake = FakeAws::default();
        fake.iam_ok("DeleteServiceSpecificCredential", "");
        let error = hand_off(&fake).await;
        assert!(!matches!(error, Error::OrphanedKey { .. }), "{error:?}");
        assert_eq!(
            fake.calls().last().map(String::as_str),
            Some("DeleteServiceSpecificCredential")
        );
    }

    #[tokio::test]
    async fn a_key_that_cannot_be_deleted_again_is_named_as_orphaned() {
        let fake = FakeAws::default();
        fake.iam_error("DeleteServiceSpecificCredential", 500, "ServiceFailure");
        let error = hand_off(&fake).await;
        assert!(
            matches!(&error, Error::OrphanedKey { credential_id, .. } if credential_id == "ACCANEW"),
            "{error:?}"
        );
        let deletes = fake
            .calls()
            .iter()
            .filter(|c| *c == "DeleteServiceSpecificCredential")
            .count();
        assert_eq!(
            deletes, 5,
            "a server error is retried with the default attempts"
        );
    }
}
