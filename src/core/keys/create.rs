//! Creating a Bedrock API key so that a lost answer never leaves an orphan: the SDK does not retry the
//! call by itself (a retry after an answer was lost would create a second key, whose secret is gone); this
//! module retries instead, after deleting any key the lost attempt created. The unit's lease keeps other
//! processes from creating keys meanwhile, so a key that was not there before is this call's.

use std::time::Duration;

use aws_sdk_iam::types::ServiceSpecificCredential;
use aws_smithy_types::retry::RetryConfig;

use super::{BEDROCK_SERVICE, lease::Lease, read::key_ids};
use crate::core::{
    Provisioner,
    aws::sdk_error,
    error::{Error, Result},
};

/// AWS error codes of a failure on AWS's side: the call may have been carried out.
const SERVER_SIDE: [&str; 4] = [
    "InternalFailure",
    "ServiceFailure",
    "ServiceUnavailable",
    "InternalError",
];

/// Whether a failed call may have reached AWS and been carried out before its answer was lost.
fn maybe_done(error: &Error) -> bool {
    match error {
        Error::Unreachable { .. } => true,
        Error::Aws { code, .. } => SERVER_SIDE.contains(&code.as_str()),
        _ => false,
    }
}

/// Whether trying again may succeed.
fn transient(error: &Error) -> bool {
    maybe_done(error) || matches!(error, Error::Throttled { .. })
}

impl Provisioner {
    /// Create one key on the lease's user. Retries throttling and server-side failures as the SDK would
    /// (`max_attempts`), deleting first any key a failed attempt created.
    pub(super) async fn create_credential(
        &self,
        lease: &Lease,
        age: u32,
    ) -> Result<ServiceSpecificCredential> {
        let attempts = self.settings().aws.max_attempts.max(1);
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            let error = match self.create_once(&lease.user_name, age).await {
                Ok(credential) => return Ok(credential),
                Err(error) => error,
            };
            if maybe_done(&error) {
                self.delete_unknown_keys(lease).await?;
            }
            if !transient(&error) || attempt >= attempts {
                return Err(error);
            }
            tracing::debug!(%error, attempt, "creating the key failed; trying again");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
            attempt += 1;
        }
    }

    /// One `CreateServiceSpecificCredential`, without the SDK's retries.
    async fn create_once(&self, user_name: &str, age: u32) -> Result<ServiceSpecificCredential> {
        let created = self
            .clients()
            .await
            .iam
            .create_service_specific_credential()
            .user_name(user_name)
            .service_name(BEDROCK_SERVICE)
            .credential_age_days(i32::try_from(age).unwrap_or(i32::MAX))
            .customize()
            .config_override(
                aws_sdk_iam::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| sdk_error("iam:CreateServiceSpecificCredential", e));
        // IAM is the arbiter between processes that ignore the lease (an older version): IAM's
        // LimitExceeded is answered as a full user would be.
        let created = match created {
            Err(Error::Aws { code, .. }) if code == "LimitExceeded" => {
                return Err(self.key_limit(user_name).await);
            }
            other => other?,
        };
        created
            .service_specific_credential
            .ok_or_else(|| Error::Aws {
                action: "iam:CreateServiceSpecificCredential",
                code: "EmptyResponse".to_owned(),
                message: "AWS returned no credential".to_owned(),
            })
    }

    /// Delete the keys that were not there when the lease was taken: created by an attempt whose answer
    /// was lost, so nobody has their secret.
    async fn delete_unknown_keys(&self, lease: &Lease) -> Result<()> {
        let keys = key_ids(&self.user_keys(&lease.user_name).await?);
        for id in keys.iter().filter(|id| !lease.intent.before.contains(id)) {
            tracing::warn!(credential_id = %id, "a failed attempt created this key; deleting it");
            self.delete_key(&lease.user_name, id).await?;
        }
        Ok(())
    }
}
