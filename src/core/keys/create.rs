//! Creating a Bedrock API key so that a lost answer never leaves an orphan: the SDK does not retry the
//! call by itself (a retry after an answer was lost would create a second key, whose secret is gone); this
//! module retries instead, after deleting the key the lost attempt created. The unit's lease asks other
//! processes not to create keys meanwhile, but it is no lock: a key is taken for this call's only when it is
//! the one new, undelivered key created since the lease was taken.

use std::time::Duration;

use aws_sdk_iam::types::ServiceSpecificCredential;
use aws_smithy_types::retry::RetryConfig;

use super::{
    BEDROCK_SERVICE,
    lease::{CLOCK_SKEW_SECS, Lease},
};
use crate::core::{
    Provisioner,
    aws::sdk_error,
    domain::error::{Error, Result},
    domain::names::BusinessUnit,
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
        unit: &BusinessUnit,
        lease: &Lease,
        age: u32,
    ) -> Result<ServiceSpecificCredential> {
        let attempts = self.settings().aws.max_attempts.max(1);
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            let error = match self.create_once(&lease.user_name, age).await {
                Ok(credential) => return Ok(credential),
                Err(Error::KeyLimit { credential_ids, .. })
                    if credential_ids
                        .iter()
                        .any(|id| !lease.intent.before.contains(id)) =>
                {
                    // The user filled up while this run held what it took for the lease: another run made
                    // a key meanwhile. Nothing was created here; say so rather than "two keys already".
                    return Err(Error::InFlight {
                        business_unit: unit.to_string(),
                        started_secs_ago: 0,
                        retry_after_secs: self.settings().key_lease.as_secs(),
                    });
                }
                Err(error) => error,
            };
            if maybe_done(&error) {
                self.delete_unknown_keys(unit, lease).await?;
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

    /// Delete the key an attempt whose answer was lost created, so nobody has its secret: one that was not
    /// there when the lease was taken, was created since (IAM's clock, give or take the skew), and that no
    /// destination of the unit holds. Another run's key that is not yet handed off can look the same, so
    /// only a single such key is deleted; with more, none is, and the error stands.
    async fn delete_unknown_keys(&self, unit: &BusinessUnit, lease: &Lease) -> Result<()> {
        let keys = self.user_keys(&lease.user_name).await?;
        let delivered = self.delivered_anywhere(unit).await?;
        let since = lease.intent.started.saturating_sub(CLOCK_SKEW_SECS);
        let unknown: Vec<&str> = keys
            .iter()
            .filter(|k| u64::try_from(k.create_date().secs()).unwrap_or(0) >= since)
            .map(|k| k.service_specific_credential_id())
            .filter(|id| {
                !lease.intent.before.iter().any(|b| b == id) && !delivered.iter().any(|d| d == id)
            })
            .collect();
        if let [id] = unknown[..] {
            tracing::warn!(credential_id = %id, "a failed attempt created this key; deleting it");
            self.delete_key(&lease.user_name, id).await?;
        }
        Ok(())
    }
}
