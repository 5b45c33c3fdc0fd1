//! A lease on a unit's keys, recorded as a tag on its IAM user before a key is created and removed once the
//! key is handed off. It tells every process (a second server, a CLI beside it) that a key operation is in
//! flight, and it tells the next operation what an interrupted one was doing: which keys existed before it,
//! where the new key was to go and which key it replaced. Keys it created but never handed off are deleted;
//! a handed-off key is kept and an interrupted `replace` rotation is finished. IAM allows two keys per
//! user, so an orphan left by a lost answer would otherwise fill the second slot for good.

use std::time::{Duration, SystemTime};

use aws_sdk_iam::types::ServiceSpecificCredentialMetadata;

use super::{
    Provisioner,
    read::{ManagedUser, key_ids},
};
use crate::core::{
    aws::sdk_error,
    deliver::Destination,
    error::{Error, Result},
    iam::tag,
    names::{BusinessUnit, same_tag_key},
};

/// The tag on the unit's IAM user that holds the lease.
pub const LEASE_TAG: &str = "bedrock-provisioner:key-operation";

/// How long an operation waits for another's lease before it gives up (a key operation takes about a
/// second; an interrupted one is finished only once its lease expires).
const MAX_WAIT: Duration = Duration::from_secs(10);
/// How often it looks again.
const POLL: Duration = Duration::from_millis(200);

/// Joins the ids of the keys that existed before the operation: IAM's tag-value pattern allows `+`, not `,`.
const KEY_SEPARATOR: &str = "+";

/// What the lease holder is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Creating a key.
    Create,
    /// Rotating: a new key, then (with `replace`) deleting `old`.
    Rotate {
        /// The key being replaced.
        old: Option<String>,
        /// Whether `old` is deleted once the new key is handed off.
        replace: bool,
    },
}

/// Where the new key goes, as the lease records it (a file by its name inside the unit's directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// In the result: lost with the process.
    Inline,
    /// The unit's secret.
    SecretsManager,
    /// This file name.
    File(String),
}

impl Target {
    /// The target of a destination.
    pub fn of(destination: &Destination) -> Self {
        match destination {
            Destination::Inline => Self::Inline,
            Destination::SecretsManager => Self::SecretsManager,
            Destination::File(path) => Self::File(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        }
    }
}

/// A key operation in flight, as written in the lease tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// Who holds the lease (random per operation).
    pub holder: String,
    /// When it started, in seconds since the epoch (this machine's clock).
    pub started: u64,
    /// What it does.
    pub operation: Operation,
    /// Where its key goes.
    pub target: Target,
    /// The ids of the keys that existed before it.
    pub before: Vec<String>,
}

impl Intent {
    /// The tag value: `v1 <holder> <started> <op> <target> <before+…|-> <old|->`, within IAM's
    /// tag-value characters (`[\p{L}\p{Z}\p{N}_.:/=+\-@]*`: no comma, so key ids are joined with `+`).
    pub fn to_tag_value(&self) -> String {
        let (op, old) = match &self.operation {
            Operation::Create => ("create", None),
            Operation::Rotate { old, replace } => {
                (if *replace { "replace" } else { "rotate" }, old.as_deref())
            }
        };
        let target = match &self.target {
            Target::Inline => "inline".to_owned(),
            Target::SecretsManager => "secrets_manager".to_owned(),
            Target::File(name) => format!("file:{name}"),
        };
        let before = if self.before.is_empty() {
            "-".to_owned()
        } else {
            self.before.join(KEY_SEPARATOR)
        };
        format!(
            "v1 {} {} {op} {target} {before} {}",
            self.holder,
            self.started,
            old.unwrap_or("-")
        )
    }

    /// The intent a tag value records, if it is one.
    pub fn parse(value: &str) -> Option<Self> {
        let parts: Vec<&str> = value.split(' ').collect();
        let ["v1", holder, started, op, target, before, old] = parts[..] else {
            return None;
        };
        let old = (old != "-").then(|| old.to_owned());
        let operation = match op {
            "create" => Operation::Create,
            "rotate" => Operation::Rotate {
                old,
                replace: false,
            },
            "replace" => Operation::Rotate { old, replace: true },
            _ => return None,
        };
        let target = match target {
            "inline" => Target::Inline,
            "secrets_manager" => Target::SecretsManager,
            other => Target::File(other.strip_prefix("file:")?.to_owned()),
        };
        Some(Self {
            holder: holder.to_owned(),
            started: started.parse().ok()?,
            operation,
            target,
            before: before
                .split(KEY_SEPARATOR)
                .filter(|id| *id != "-" && !id.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// What finishing an interrupted operation does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Keys to delete: created by it and never handed off, or replaced by the key it handed off.
    pub delete: Vec<String>,
    /// The key it handed off, which stays.
    pub kept: Option<String>,
}

/// How to finish `intent`, given the user's keys now and the key its target holds now.
pub fn plan_recovery(intent: &Intent, keys: &[String], delivered: Option<&str>) -> Recovery {
    let created: Vec<&String> = keys.iter().filter(|k| !intent.before.contains(k)).collect();
    let kept = delivered
        .filter(|id| created.iter().any(|k| k == id))
        .map(str::to_owned);
    let mut delete: Vec<String> = created
        .into_iter()
        .filter(|k| Some(k.as_str()) != kept.as_deref())
        .cloned()
        .collect();
    if let Operation::Rotate {
        old: Some(old),
        replace: true,
    } = &intent.operation
        && kept.is_some()
        && keys.contains(old)
    {
        delete.push(old.clone());
    }
    Recovery { delete, kept }
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
    /// Take the unit's lease: wait for no one (a fresh lease of another holder is refused with when to
    /// retry), finish an expired one, let `decide` choose the operation from the user's keys as they are
    /// then (its refusal leaves no lease), and record the intent on the user.
    pub(super) async fn claim<T>(
        &self,
        unit: &BusinessUnit,
        user: &ManagedUser,
        destination: &Destination,
        decide: impl Fn(&[ServiceSpecificCredentialMetadata]) -> Result<(Operation, T)>,
    ) -> Result<(Lease, T)> {
        let started = std::time::Instant::now();
        let mut seen = user.lease.clone();
        loop {
            let recovered = self.await_lease(unit, &user.name, seen, started).await?;
            let keys = self.user_keys(&user.name).await?;
            let (operation, decided) = decide(&keys)?;
            let intent = Intent {
                holder: holder(),
                started: now_secs(),
                operation,
                target: Target::of(destination),
                before: key_ids(&keys),
            };
            self.write_lease(&user.name, &intent.to_tag_value()).await?;
            // IAM has no compare-and-set: processes that all saw no lease all write one. The last write
            // wins; reading back after a pause tells each whether it was theirs. The others wait for it.
            tokio::time::sleep(self.settings().lease_settle).await;
            match self.current_lease(&user.name).await? {
                Some(other) if other.holder != intent.holder => {
                    seen = Some(other.to_tag_value());
                }
                _ => {
                    let lease = Lease {
                        user_name: user.name.clone(),
                        intent,
                        recovered,
                    };
                    return Ok((lease, decided));
                }
            }
        }
    }

    /// End the lease after the operation: give it back on success; on failure, finish the operation as an
    /// interrupted one at once (a key created but not handed off is deleted), or, if that fails too,
    /// leave the lease expired for the next operation to finish.
    pub(super) async fn settle(&self, unit: &BusinessUnit, lease: &Lease, succeeded: bool) {
        if succeeded {
            self.release(lease).await;
            return;
        }
        if let Err(error) = self.recover(unit, &lease.user_name, &lease.intent).await {
            tracing::warn!(%error, "could not clean up after the failed key operation");
            self.abandon(lease).await;
        }
    }

    /// Wait (a few seconds at most) while another operation holds a fresh lease on the user; finish an
    /// expired one. Says what finishing it did.
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
            let age = now_secs().saturating_sub(earlier.started);
            if age >= lease || ours(&earlier) {
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

    /// Finish an interrupted operation: delete the keys it created but never handed off, keep the one it
    /// handed off (and delete the key a `replace` rotation replaced), then remove its lease. Says what it did.
    async fn recover(
        &self,
        unit: &BusinessUnit,
        user_name: &str,
        intent: &Intent,
    ) -> Result<String> {
        let destination = match &intent.target {
            Target::Inline => Destination::Inline,
            Target::SecretsManager => Destination::SecretsManager,
            Target::File(name) => self
                .destination(unit, Some(crate::core::deliver::Delivery::File), Some(name))
                .unwrap_or(Destination::Inline),
        };
        let delivered = self.delivered_id(unit, &destination).await?;
        let keys = key_ids(&self.user_keys(user_name).await?);
        let recovery = plan_recovery(intent, &keys, delivered.as_deref());
        for id in &recovery.delete {
            self.delete_key(user_name, id).await?;
        }
        self.remove_lease(user_name).await?;
        tracing::info!(user = %user_name, deleted = ?recovery.delete, kept = ?recovery.kept, "finished an interrupted key operation");
        Ok(format!(
            "An earlier key operation on this unit was interrupted (started {} s ago) and is now finished: {}.",
            now_secs().saturating_sub(intent.started),
            describe(&recovery)
        ))
    }

    /// Give the lease back: the operation finished, nothing is left to recover. If the lease cannot be
    /// removed, it is marked expired, so the next operation finishes it at once instead of waiting.
    async fn release(&self, lease: &Lease) {
        if let Err(error) = self.remove_lease(&lease.user_name).await {
            tracing::warn!(user = %lease.user_name, %error, "could not remove the key lease; marking it expired");
            self.abandon(lease).await;
        }
    }

    /// Leave the lease for the next operation to finish at once: this one failed after a key may have been
    /// created (its clean-up failed too, or its answer was lost).
    async fn abandon(&self, lease: &Lease) {
        let expired = Intent {
            started: 0,
            ..lease.intent.clone()
        };
        if let Err(error) = self
            .write_lease(&lease.user_name, &expired.to_tag_value())
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

fn describe(recovery: &Recovery) -> String {
    let kept = recovery.kept.as_deref().map_or_else(
        || "no key of it had been handed off".to_owned(),
        |id| format!("its key {id} had been handed off and stays"),
    );
    if recovery.delete.is_empty() {
        kept
    } else {
        format!("{kept}; deleted {}", recovery.delete.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(operation: Operation, before: &[&str]) -> Intent {
        Intent {
            holder: "00ff".into(),
            started: 1_700_000_000,
            operation,
            target: Target::File("web.env".into()),
            before: before.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_tag_value_round_trips_within_iams_characters() {
        let replace = Operation::Rotate {
            old: Some("ACCAOLD".into()),
            replace: true,
        };
        for i in [
            intent(Operation::Create, &[]),
            intent(replace, &["ACCAOLD", "ACCAB"]),
        ] {
            let value = i.to_tag_value();
            assert!(value.len() <= 256);
            assert!(
                value
                    .chars()
                    .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c)),
                "{value}"
            );
            assert_eq!(Intent::parse(&value), Some(i));
        }
        assert_eq!(Intent::parse("someone else's tag"), None);
    }

    #[test]
    fn undelivered_keys_go_and_the_delivered_one_stays() {
        let create = intent(Operation::Create, &["ACCAOLD"]);
        let keys = ["ACCAOLD".to_owned(), "ACCANEW".to_owned()];
        assert_eq!(
            plan_recovery(&create, &keys, None),
            Recovery {
                delete: vec!["ACCANEW".into()],
                kept: None
            },
            "created, never handed off: an orphan"
        );
        assert_eq!(
            plan_recovery(&create, &keys, Some("ACCANEW")),
            Recovery {
                delete: vec![],
                kept: Some("ACCANEW".into())
            }
        );
        assert_eq!(
            plan_recovery(&create, &keys, Some("ACCAOLD")),
            Recovery {
                delete: vec!["ACCANEW".into()],
                kept: None
            },
            "the destination still holds the old key: the new one never arrived"
        );
    }

    #[test]
    fn an_interrupted_replace_is_finished_only_once_its_key_was_handed_off() {
        let replace = intent(
            Operation::Rotate {
                old: Some("ACCAOLD".into()),
                replace: true,
            },
            &["ACCAOLD"],
        );
        let keys = ["ACCAOLD".to_owned(), "ACCANEW".to_owned()];
        assert_eq!(
            plan_recovery(&replace, &keys, Some("ACCANEW")).delete,
            ["ACCAOLD"]
        );
        assert_eq!(
            plan_recovery(&replace, &keys, Some("ACCAOLD")).delete,
            ["ACCANEW"],
            "the old key is the only working one: it stays"
        );
        let keep = intent(
            Operation::Rotate {
                old: Some("ACCAOLD".into()),
                replace: false,
            },
            &["ACCAOLD"],
        );
        assert!(
            plan_recovery(&keep, &keys, Some("ACCANEW"))
                .delete
                .is_empty()
        );
    }
}
