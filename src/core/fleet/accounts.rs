//! Reaching the accounts of a fleet: a unit whose `account` is not the caller's is served by a provisioner
//! acting as `role` in that account (STS `AssumeRole`, session `bedrock-provisioner`), assumed once per
//! account and role for the run. An account that cannot be reached fails its units only.

use std::{collections::HashMap, sync::Arc};

use aws_credential_types::Credentials;

use super::manifest::Manifest;
use crate::core::{AwsSettings, Provisioner, Settings, aws::sdk_error, error::Result};

/// The session name every assumed role carries (CloudTrail shows it).
const SESSION_NAME: &str = "bedrock-provisioner";

/// The provisioner of each (account, role) a manifest names besides the caller's account, or why it
/// could not be reached.
pub type Accounts = HashMap<(String, String), std::result::Result<Arc<Provisioner>, String>>;

impl Provisioner {
    /// Assume each distinct (account, role) of `manifest` outside the caller's account.
    pub(super) async fn reach_accounts(&self, manifest: &Manifest) -> Result<Accounts> {
        let caller = self.caller().await?.clone();
        let mut accounts = Accounts::new();
        for unit in &manifest.units {
            let Some(account) = unit.account.as_ref().filter(|a| **a != caller.account) else {
                continue;
            };
            let key = (account.clone(), unit.role.clone());
            if accounts.contains_key(&key) {
                continue;
            }
            let role_arn = format!("arn:{}:iam::{account}:role/{}", caller.partition, unit.role);
            let reached =
                self.assume(&role_arn).await.map(Arc::new).map_err(|error| {
                    format!("cannot reach account {account} as {role_arn}: {error}")
                });
            accounts.insert(key, reached);
        }
        Ok(accounts)
    }

    /// The provisioner acting in `place` (an account and role of `accounts`), or this one for `None`; the
    /// reason when that account could not be reached.
    pub(super) fn acting_in<'a>(
        &'a self,
        place: Option<&(String, String)>,
        accounts: &'a Accounts,
    ) -> std::result::Result<&'a Provisioner, String> {
        match place.and_then(|place| accounts.get(place)) {
            None => Ok(self),
            Some(Ok(other)) => Ok(other.as_ref()),
            Some(Err(why)) => Err(why.clone()),
        }
    }

    /// A provisioner with this one's settings, acting as `role_arn`.
    async fn assume(&self, role_arn: &str) -> Result<Provisioner> {
        let assumed = self
            .clients()
            .await
            .sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(SESSION_NAME)
            .send()
            .await
            .map_err(|e| sdk_error("sts:AssumeRole", e))?;
        let session = assumed.credentials.ok_or_else(|| crate::core::Error::Aws {
            action: "sts:AssumeRole",
            code: "EmptyResponse".to_owned(),
            message: "AWS returned no credentials".to_owned(),
        })?;
        let expiry = std::time::SystemTime::try_from(*session.expiration()).ok();
        let credentials = Credentials::new(
            session.access_key_id(),
            session.secret_access_key(),
            Some(session.session_token().to_owned()),
            expiry,
            "assume-role",
        );
        let settings = Settings {
            aws: AwsSettings {
                static_credentials: Some(credentials),
                ..self.settings().aws.clone()
            },
            ..self.settings().clone()
        };
        let mut reached = Provisioner::new(settings);
        if self.memo.is_some() {
            reached.memo = Some(Arc::default());
        }
        Ok(reached)
    }
}
