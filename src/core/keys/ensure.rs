//! "Every unit has a working key", as a fleet apply keeps it: a long-term key is created only when the unit
//! has no active one, decided under the unit's key lease, after any interrupted key operation is finished
//! (so a re-run after a crash neither leaves an undelivered key nor adds a second one).

use aws_sdk_iam::types::{ServiceSpecificCredentialMetadata, StatusType};

use super::{CreatedApiKey, MAX_KEYS_PER_USER, key_limit, lease::Operation};
use crate::core::{
    Provisioner,
    domain::error::{Error, Result},
    domain::names::BusinessUnit,
    keys::deliver::Delivery,
};

/// Whether one of the keys works: active and not past its expiry.
fn any_active(keys: &[ServiceSpecificCredentialMetadata], now: i64) -> bool {
    keys.iter().any(|k| {
        k.status() == &StatusType::Active && k.expiration_date().is_none_or(|e| e.secs() > now)
    })
}

impl Provisioner {
    /// A new key for `unit`, delivered to `deliver`, unless it has an active key (`None`). `keyless`: the
    /// caller knows the user has no key (it just created it), so the keys are read only under the lease.
    pub(crate) async fn ensure_api_key(
        &self,
        unit: &BusinessUnit,
        deliver: Delivery,
        keyless: bool,
    ) -> Result<Option<CreatedApiKey>> {
        let user = if keyless {
            // Just created: IAM may not show the user to every reader yet.
            self.retry_while_propagating(|| async {
                self.managed_user(unit).await.map_err(|error| match error {
                    Error::NotProvisioned { user_name, .. } => Error::NotFound {
                        what: format!("IAM user {user_name}"),
                        message: "not visible yet after it was created".to_owned(),
                    },
                    other => other,
                })
            })
            .await?
        } else {
            self.managed_user(unit).await?
        };
        // Without a lease the keys as listed decide, and a unit with a key costs one read.
        if !keyless
            && user.lease.is_none()
            && any_active(&self.user_keys(&user.name).await?, self.now().timestamp())
        {
            return Ok(None);
        }
        let region = self.key_region(None).await?;
        let age = self.key_age(None)?;
        let destination = self.destination(unit, Some(deliver), None)?;
        self.check_destination(unit, &destination).await?;
        let _guard = self.lock_user(&user.name).await;
        let (lease, needed) = self
            .claim(unit, &user, &destination, |keys, held| {
                // A key the destination got from another run just now counts, listed by IAM or not yet.
                if any_active(keys, self.now().timestamp()) || held.is_some_and(|h| h.live(keys)) {
                    return Ok((Operation::Create, false));
                }
                if keys.len() >= MAX_KEYS_PER_USER {
                    return Err(key_limit(&user.name, keys));
                }
                Ok((Operation::Create, true))
            })
            .await?;
        if !needed {
            self.settle(&lease, &Ok::<(), Error>(())).await;
            return Ok(None);
        }
        let result = self
            .issue_key(&lease, unit, &user, age, &region, &destination)
            .await;
        self.settle(&lease, &result).await;
        result.map(Some)
    }
}
