//! A lease on a unit's keys, recorded as a tag on its IAM user before a key is created and removed once the
//! key is handed off. It tells every process (a second server, a CLI beside it) that a key operation is in
//! flight, and it tells the next operation what an interrupted one was doing: which keys existed before it,
//! where the new key was to go and which key it replaced.
//!
//! IAM has no compare-and-set and anyone allowed `iam:TagUser` can write the tag, so the lease is a hint,
//! never an authority to delete: an operation deletes only the key its own create returned (when it was not
//! handed off) or the old key it replaces once its new key is read back from the destination; recovering an
//! interrupted operation deletes at most one key, one that no destination of the unit holds (its secret, its
//! key files) and that IAM created within the lease's window, never a key that existed before it. A lease
//! whose holder is malformed is ignored, and one dated in the future is not believed (it would otherwise
//! block the unit for good).

use std::time::{Duration, SystemTime};

use aws_sdk_iam::types::ServiceSpecificCredentialMetadata;

pub use super::intent::{
    CLOCK_SKEW_SECS, Intent, KeySeen, Operation, Recovery, Target, plan_recovery,
};
use super::{
    Provisioner,
    read::{ManagedUser, key_ids},
};
use crate::core::{
    aws::iam::tag,
    aws::sdk_error,
    domain::error::{Error, Result},
    domain::names::{BusinessUnit, same_tag_key},
    keys::deliver::Destination,
};

pub use super::intent::LEASE_TAG;

/// How long an operation waits for another's lease before it gives up (a key operation takes about a
/// second; an interrupted one is finished only once its lease expires).
const MAX_WAIT: Duration = Duration::from_secs(10);
/// How often it looks again.
const POLL: Duration = Duration::from_millis(200);

/// The key the unit's destination holds, as a claim decides with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// Its credential id.
    pub id: String,
    /// Written there within the lease period: a key IAM does not list yet may be this new (IAM is
    /// eventually consistent), so it is not taken for a deleted one.
    pub recent: bool,
}

impl Held {
    /// Whether the destination holds a key that works or may: listed active, or too recent to be judged by
    /// its absence from `keys`.
    pub fn live(&self, keys: &[ServiceSpecificCredentialMetadata]) -> bool {
        match keys
            .iter()
            .find(|k| k.service_specific_credential_id() == self.id)
        {
            Some(key) => key.status() == &aws_sdk_iam::types::StatusType::Active,
            None => self.recent,
        }
    }
}

/// The lease this operation holds.
#[derive(Debug)]
pub struct Lease {
    /// The user it is on.
    pub user_name: String,
    /// What it records.
    pub intent: Intent,
    /// What finishing an earlier, interrupted operation did, for the report.
    pub recovered: Option<String>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn nanos() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// This process among the servers and CLIs of one account: its id and start time (nanoseconds).
fn process_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| format!("{:x}.{:x}", std::process::id(), nanos()))
}

/// A holder id: this process's token and the operation's start.
fn holder() -> String {
    format!("{}-{:x}", process_token(), nanos())
}

/// Whether this process wrote the lease. It holds the unit's in-process lock while it looks, so a lease of
/// its own is left by an earlier operation that failed to remove it: finished at once, not waited for.
fn ours(intent: &Intent) -> bool {
    intent
        .holder
        .split_once('-')
        .is_some_and(|(token, _)| token == process_token())
}

impl Provisioner {
    /// The key `destination` holds now, if any (see [`Held`]).
    pub(super) async fn held(
        &self,
        unit: &BusinessUnit,
        destination: &Destination,
    ) -> Result<Option<Held>> {
        let lease = self.settings().key_lease;
        Ok(self
            .delivered_key(unit, destination)
            .await?
            .map(|(id, written)| Held {
                id,
                recent: written.is_none_or(|w| w.elapsed().map_or(true, |age| age < lease)),
            }))
    }

    /// Take the unit's lease: wait for no one (a fresh lease of another holder is refused with when to
    /// retry), finish an expired one, let `decide` choose the operation from the user's keys and the key its
    /// destination holds as they are then (its refusal leaves no lease), and record the intent on the user.
    /// Once the lease reads back as this operation's, `decide` runs again on what is there now: another run
    /// may have finished meanwhile (its key delivered), and a refusal then gives the lease back.
    pub(super) async fn claim<T>(
        &self,
        unit: &BusinessUnit,
        user: &ManagedUser,
        destination: &Destination,
        decide: impl Fn(&[ServiceSpecificCredentialMetadata], Option<&Held>) -> Result<(Operation, T)>,
    ) -> Result<(Lease, T)> {
        let started = std::time::Instant::now();
        let mut seen = user.lease.clone();
        loop {
            let recovered = self.await_lease(unit, &user.name, seen, started).await?;
            let keys = self.user_keys(&user.name).await?;
            let held = self.held(unit, destination).await?;
            let (operation, _) = decide(&keys, held.as_ref())?;
            let intent = Intent {
                holder: holder(),
                started: now_secs(),
                operation,
                target: Target::of(destination),
                before: key_ids(&keys),
                abandoned: false,
            };
            self.write_lease(&user.name, &intent.to_tag_value()).await?;
            // IAM has no compare-and-set: processes that all saw no lease all write one. The last write
            // wins; reading back after a pause tells each whether it was theirs. The others wait for it.
            tokio::time::sleep(self.settings().lease_settle).await;
            match self.current_lease(&user.name).await? {
                // Another process's lease. (One of this process's own earlier leases is a stale read of
                // IAM after our own write: this process holds the unit's lock, so it is no other operation.)
                Some(other) if other.holder != intent.holder && !ours(&other) => {
                    if started.elapsed() >= MAX_WAIT {
                        return Err(Error::InFlight {
                            business_unit: unit.to_string(),
                            started_secs_ago: now_secs().saturating_sub(other.started),
                            retry_after_secs: self.settings().key_lease.as_secs(),
                        });
                    }
                    seen = Some(other.to_tag_value());
                }
                _ => {
                    let lease = Lease {
                        user_name: user.name.clone(),
                        intent,
                        recovered,
                    };
                    match self
                        .decide_again(unit, destination, &lease, &decide)
                        .await?
                    {
                        Some(decided) => return Ok((lease, decided)),
                        // Decided otherwise now: record that instead (the lease is ours, nothing to wait for).
                        None => seen = None,
                    }
                }
            }
        }
    }

    /// `decide` again under `lease`, now that it is this operation's: the decision when it is the one the
    /// lease records, `None` when it changed; a refusal gives the lease back.
    async fn decide_again<T>(
        &self,
        unit: &BusinessUnit,
        destination: &Destination,
        lease: &Lease,
        decide: impl Fn(&[ServiceSpecificCredentialMetadata], Option<&Held>) -> Result<(Operation, T)>,
    ) -> Result<Option<T>> {
        let keys = self.user_keys(&lease.user_name).await?;
        let held = self.held(unit, destination).await?;
        match decide(&keys, held.as_ref()) {
            Ok((now, decided)) => Ok((now == lease.intent.operation).then_some(decided)),
            Err(error) => {
                self.release(lease).await;
                Err(error)
            }
        }
    }

    /// End the lease after the operation. The operation cleaned up after itself (a key it created and could
    /// not hand off was deleted by it), so the lease is given back, unless the failure may have left a key
    /// this operation cannot name (its create's answer was lost and the clean-up failed, or deleting its own
    /// key failed): then it is marked abandoned, for the next operation to finish at once. Never recovers
    /// here: a failure caused by another run (IAM's two-key limit reached by its new key) must not delete
    /// that run's key.
    pub(super) async fn settle<T>(&self, lease: &Lease, result: &Result<T>) {
        match result {
            Err(error) if may_leave_a_key(error) => self.abandon(lease).await,
            _ => self.release(lease).await,
        }
    }

    /// Wait (a few seconds at most) while another operation holds a fresh lease on the user; finish an
    /// expired or abandoned one. A lease that is not believable (dated in the future) is set aside. Says
    /// what finishing it did.
    async fn await_lease(
        &self,
        unit: &BusinessUnit,
        user_name: &str,
        mut value: Option<String>,
        waited: std::time::Instant,
    ) -> Result<Option<String>> {
        let lease = self.settings().key_lease.as_secs();
        loop {
            let Some(earlier) = value.as_deref().and_then(Intent::parse) else {
                return Ok(None);
            };
            let now = now_secs();
            if !earlier.believable(now) {
                tracing::warn!(user = %user_name, started = earlier.started, "set aside a key lease dated in the future");
                return Ok(Some(format!(
                    "A key lease on this unit was dated {} s in the future; it was set aside, not believed.",
                    earlier.started - now
                )));
            }
            let age = now.saturating_sub(earlier.started);
            if earlier.abandoned || age >= lease || ours(&earlier) {
                return Ok(Some(self.recover(unit, user_name, &earlier).await?));
            }
            if waited.elapsed() >= MAX_WAIT.min(Duration::from_secs(lease - age)) {
                return Err(Error::InFlight {
                    business_unit: unit.to_string(),
                    started_secs_ago: age,
                    retry_after_secs: lease - age,
                });
            }
            tokio::time::sleep(POLL).await;
            value = self
                .current_lease(user_name)
                .await?
                .map(|intent| intent.to_tag_value());
        }
    }

    /// The lease on the user now, read from IAM.
    async fn current_lease(&self, user_name: &str) -> Result<Option<Intent>> {
        Ok(self.find_user(user_name).await?.and_then(|u| {
            u.tags()
                .iter()
                .find(|t| same_tag_key(t.key(), LEASE_TAG))
                .and_then(|t| Intent::parse(t.value()))
        }))
    }

    /// Finish an interrupted operation: delete the key it created that no destination of the unit holds (see
    /// [`plan_recovery`]), keep the rest, then remove its lease. Says what it did.
    async fn recover(
        &self,
        unit: &BusinessUnit,
        user_name: &str,
        intent: &Intent,
    ) -> Result<String> {
        let delivered = self.delivered_anywhere(unit).await?;
        let keys: Vec<KeySeen> = self
            .user_keys(user_name)
            .await?
            .iter()
            .map(|k| KeySeen {
                id: k.service_specific_credential_id().to_owned(),
                created: u64::try_from(k.create_date().secs()).unwrap_or(0),
            })
            .collect();
        let lease_secs = self.settings().key_lease.as_secs();
        let recovery = plan_recovery(intent, &keys, &delivered, lease_secs);
        for id in &recovery.delete {
            self.delete_key(user_name, id).await?;
        }
        self.remove_lease(user_name).await?;
        tracing::info!(user = %user_name, deleted = ?recovery.delete, kept = ?recovery.kept, spared = ?recovery.spared, "finished an interrupted key operation");
        Ok(format!(
            "An earlier key operation on this unit was interrupted (started {} s ago) and is now finished: {}.",
            now_secs().saturating_sub(intent.started),
            describe(intent, &recovery)
        ))
    }

    /// Give the lease back if it is still this operation's (another run may have written its own since).
    async fn release(&self, lease: &Lease) {
        let current = match self.current_lease(&lease.user_name).await {
            Ok(current) => current,
            Err(error) => {
                tracing::warn!(user = %lease.user_name, %error, "could not read the key lease back; leaving it to expire");
                return;
            }
        };
        if current.is_none_or(|c| c.holder != lease.intent.holder) {
            return;
        }
        if let Err(error) = self.remove_lease(&lease.user_name).await {
            tracing::warn!(user = %lease.user_name, %error, "could not remove the key lease; marking it abandoned");
            self.abandon(lease).await;
        }
    }

    /// Leave the lease for the next operation to finish at once: this one failed after a key it cannot name
    /// may have been created.
    async fn abandon(&self, lease: &Lease) {
        let abandoned = Intent {
            abandoned: true,
            ..lease.intent.clone()
        };
        if let Err(error) = self
            .write_lease(&lease.user_name, &abandoned.to_tag_value())
            .await
        {
            tracing::warn!(user = %lease.user_name, %error, "could not mark the key lease for recovery; it expires after the lease time");
        }
    }

    async fn write_lease(&self, user_name: &str, value: &str) -> Result<()> {
        self.clients()
            .await
            .iam
            .tag_user()
            .user_name(user_name)
            .tags(tag(LEASE_TAG, value)?)
            .send()
            .await
            .map_err(|e| sdk_error("iam:TagUser", e))?;
        Ok(())
    }

    async fn remove_lease(&self, user_name: &str) -> Result<()> {
        self.clients()
            .await
            .iam
            .untag_user()
            .user_name(user_name)
            .tag_keys(LEASE_TAG)
            .send()
            .await
            .map_err(|e| sdk_error("iam:UntagUser", e))?;
        Ok(())
    }
}

/// Whether a failed operation may have left a key it cannot name (so the lease must stay for recovery).
fn may_leave_a_key(error: &Error) -> bool {
    !matches!(
        error,
        Error::KeyLimit { .. }
            | Error::InvalidInput { .. }
            | Error::Refused { .. }
            | Error::AccessDenied { .. }
            | Error::InFlight { .. }
            | Error::NotFound { .. }
            | Error::NotProvisioned { .. }
            | Error::ForeignUser { .. }
            | Error::Cancelled
    )
}

fn describe(intent: &Intent, recovery: &Recovery) -> String {
    let mut parts = vec![recovery.kept.as_deref().map_or_else(
        || "no key of it had been handed off".to_owned(),
        |id| format!("its key {id} had been handed off and stays"),
    )];
    if !recovery.delete.is_empty() {
        parts.push(format!("deleted {}", recovery.delete.join(", ")));
    }
    if !recovery.spared.is_empty() {
        parts.push(format!(
            "kept {} (not proven to be its own)",
            recovery.spared.join(", ")
        ));
    }
    if let Operation::Rotate {
        old: Some(old),
        replace: true,
    } = &intent.operation
        && recovery.kept.is_some()
    {
        parts.push(format!(
            "the replaced key {old} is still active: this rotation finishes the replacement"
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    //! Finishing an abandoned key operation, against the fake AWS ([`crate::core::aws::fake_aws`]): the key it
    //! created and no destination holds is deleted, the keys from before are kept, the lease is removed.

    use aws_smithy_types::{DateTime, date_time::Format};

    use super::*;
    use crate::core::aws::fake_aws::FakeAws;

    fn key(id: &str, created: u64) -> String {
        let created = DateTime::from_secs(i64::try_from(created).unwrap())
            .fmt(Format::DateTime)
            .unwrap();
        format!(
            "<member><UserName>web-bedrock-user</UserName><Status>Active</Status>\
             <ServiceUserName>web-bedrock-user-at-123456789012</ServiceUserName><CreateDate>{created}</CreateDate>\
             <ServiceSpecificCredentialId>{id}</ServiceSpecificCredentialId>\
             <ServiceName>bedrock.amazonaws.com</ServiceName></member>"
        )
    }

    #[tokio::test]
    async fn an_abandoned_create_is_finished_by_deleting_its_undelivered_key() {
        let now = now_secs();
        let intent = Intent {
            // Another process's operation (a holder is `<pid>.<start>-<operation>`, in hex).
            holder: "1f.2a-3b".to_owned(),
            started: now - 60,
            operation: Operation::Create,
            target: Target::SecretsManager,
            before: vec!["ACCAOLDKEY0000000001".to_owned()],
            abandoned: true,
        };
        let fake = FakeAws::default();
        fake.answer(
            "DescribeSecret",
            400,
            r#"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#,
        )
        .iam_ok(
            "ListServiceSpecificCredentials",
            &format!(
                "<ServiceSpecificCredentials>{}{}</ServiceSpecificCredentials><IsTruncated>false</IsTruncated>",
                key("ACCAOLDKEY0000000001", now - 86_400),
                key("ACCANEWKEY0000000002", now - 30)
            ),
        )
        .iam_ok("DeleteServiceSpecificCredential", "")
        .iam_ok("UntagUser", "");
        let unit = BusinessUnit::parse("business_unit", "web").unwrap();
        let said = fake
            .provisioner()
            .await_lease(
                &unit,
                "web-bedrock-user",
                Some(intent.to_tag_value()),
                std::time::Instant::now(),
            )
            .await
            .unwrap();
        assert!(said.is_some_and(|s| s.contains("interrupted")));
        let deleted = fake.bodies("DeleteServiceSpecificCredential");
        assert_eq!(deleted.len(), 1, "{:?}", fake.calls());
        assert!(
            deleted[0].contains("ServiceSpecificCredentialId=ACCANEWKEY0000000002"),
            "{deleted:?}"
        );
        assert_eq!(fake.calls().last().map(String::as_str), Some("UntagUser"));
    }
}
