//! `rotate_key`: issue a new key and retire an old one without downtime. The plan (which key makes room,
//! which is replaced) is a pure function of the user's keys; `apply` runs it, and a failed deletion after
//! the new key exists never loses the new key.

use aws_sdk_iam::types::{ServiceSpecificCredentialMetadata, StatusType};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    ApiKeyKind, CreatedApiKey, MAX_KEYS_PER_USER,
    issue::planned_key,
    lease::{Held, Lease, Operation},
    not_owned, parse_credential_id,
    read::ManagedUser,
};
use crate::core::{
    Provisioner,
    domain::error::{Error, Result},
    domain::names::BusinessUnit,
    domain::plan,
    keys::deliver::{Delivery, Destination},
};

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
    /// The business unit.
    pub business_unit: String,
    /// The key to replace (required with two active keys).
    #[serde(default)]
    pub credential_id: Option<String>,
    /// Whether the old key stays.
    #[serde(default)]
    pub mode: RotateMode,
    /// Days to expiry (default 30, at most 90 unless configured).
    #[serde(default)]
    pub credential_age_days: Option<u32>,
    /// Region of the client settings (default: the server's).
    #[serde(default)]
    pub region: Option<String>,
    /// Where the new key goes (default: the server's, normally `inline`).
    #[serde(default)]
    pub deliver: Option<Delivery>,
    /// With `deliver: file`: a file name in the unit's own directory of the key directory.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Check everything; change nothing.
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

/// A key as the rotation plan sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyState {
    /// Its credential id.
    pub id: String,
    /// Whether it is active (not inactive, not expired).
    pub working: bool,
    /// When it was created (seconds since the epoch).
    pub created: i64,
}

impl From<&ServiceSpecificCredentialMetadata> for KeyState {
    fn from(key: &ServiceSpecificCredentialMetadata) -> Self {
        Self {
            id: key.service_specific_credential_id().to_owned(),
            working: key.status() == &StatusType::Active,
            created: key.create_date().secs(),
        }
    }
}

/// The resource a rotation changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiKey;

/// What `apply` does for one change of a rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationStep {
    /// Delete this key first: IAM allows two keys per user.
    MakeRoom,
    /// Issue and deliver the new key.
    Issue,
    /// Delete the replaced key, once the new one is delivered.
    DeleteOld,
}

/// One change of a rotation plan.
pub type Change = plan::Change<ApiKey, RotationStep>;

/// A rotation: the key it replaces and the changes, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The key being replaced: the one named, else the only active key.
    pub old: Option<String>,
    /// When finishing an earlier rotation: its new key, which stays (no key is issued).
    pub resumed: Option<String>,
    /// Make room, issue, delete the old key.
    pub changes: Vec<Change>,
}

/// Plan a rotation of `keys` (oldest first). With two keys, an expired or inactive one (oldest first)
/// makes room, else the key named; two active keys and none named is refused.
pub fn plan_rotation(
    user_name: &str,
    keys: &[KeyState],
    named: Option<&str>,
    mode: RotateMode,
    delivered: Option<&str>,
) -> Result<Rotation> {
    let active: Vec<&KeyState> = keys.iter().filter(|k| k.working).collect();
    if let Some(resumed) = resumable(&active, named, mode, delivered) {
        return Ok(resumed);
    }
    let old = named
        .map(str::to_owned)
        .or_else(|| (active.len() == 1).then(|| active[0].id.clone()));
    let mut changes: Vec<Change> = make_room(user_name, keys, named)?.into_iter().collect();
    changes.push(Change::apply(
        ApiKey,
        "(new key)",
        "the new key",
        RotationStep::Issue,
    ));
    if let Some(id) = old
        .as_ref()
        .filter(|id| mode == RotateMode::Replace && changes[0].id != **id)
    {
        changes.push(Change::apply(
            ApiKey,
            id,
            "replaced by the new key (mode replace)",
            RotationStep::DeleteOld,
        ));
    }
    Ok(Rotation {
        old,
        resumed: None,
        changes,
    })
}

/// With IAM's two keys, the key deleted first: an expired or inactive one (oldest first), else the one
/// named; two active keys and none named is refused.
fn make_room(user_name: &str, keys: &[KeyState], named: Option<&str>) -> Result<Option<Change>> {
    if keys.len() < MAX_KEYS_PER_USER {
        return Ok(None);
    }
    let mut idle: Vec<&KeyState> = keys.iter().filter(|k| !k.working).collect();
    idle.sort_by_key(|k| k.created);
    let (victim, why) = match (idle.first(), named) {
        (Some(key), _) => (
            key.id.clone(),
            "expired or inactive; deleted to make room (IAM allows two keys)",
        ),
        (None, Some(id)) => (
            id.to_owned(),
            "the key named; deleted first to make room (IAM allows two keys)",
        ),
        (None, None) => {
            let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
            return Err(Error::refused(
                "credential_id",
                format!(
                    "`{user_name}` has two active keys ({}); name the one to replace",
                    ids.join(", ")
                ),
            ));
        }
    };
    Ok(Some(Change::apply(
        ApiKey,
        victim,
        why,
        RotationStep::MakeRoom,
    )))
}

/// An earlier `replace` rotation whose last step (deleting the old key) failed: two active keys, none
/// named, and the unit's destination holds the newer one. Finishing it deletes the older key and issues
/// no third.
fn resumable(
    active: &[&KeyState],
    named: Option<&str>,
    mode: RotateMode,
    delivered: Option<&str>,
) -> Option<Rotation> {
    let [older, newer] = active else { return None };
    let (older, newer) = if older.created <= newer.created {
        (older, newer)
    } else {
        (newer, older)
    };
    if named.is_some() || mode != RotateMode::Replace || delivered != Some(newer.id.as_str()) {
        return None;
    }
    let why = format!(
        "finishing an earlier rotation: its new key {} is in place (the unit's destination holds it)",
        newer.id
    );
    Some(Rotation {
        old: Some(older.id.clone()),
        resumed: Some(newer.id.clone()),
        changes: vec![Change::apply(
            ApiKey,
            &older.id,
            why,
            RotationStep::DeleteOld,
        )],
    })
}

/// Where and how the new key of a rotation is made.
#[derive(Clone, Copy)]
struct Target<'a> {
    unit: &'a BusinessUnit,
    user: &'a ManagedUser,
    age: u32,
    region: &'a str,
    destination: &'a Destination,
}

/// What applying a rotation did.
struct Rotated {
    new_key: CreatedApiKey,
    deleted: Vec<String>,
    left_in_place: Option<String>,
}

impl Provisioner {
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
        let _guard = self.lock_user(&user.name).await;
        let decide = |keys: &[ServiceSpecificCredentialMetadata], held: Option<&Held>| {
            let keys: Vec<KeyState> = keys.iter().map(KeyState::from).collect();
            if let Some(id) = named
                .as_ref()
                .filter(|id| !keys.iter().any(|k| &k.id == *id))
            {
                return Err(not_owned(&unit, id));
            }
            let rotation = plan_rotation(
                &user.name,
                &keys,
                named.as_deref(),
                input.mode,
                held.map(|h| h.id.as_str()),
            )?;
            let operation = Operation::Rotate {
                old: rotation.old.clone(),
                replace: input.mode == RotateMode::Replace,
            };
            Ok((operation, rotation))
        };
        if input.dry_run {
            let held = self.held(&unit, &destination).await?;
            let (_, rotation) = decide(&self.user_keys(&user.name).await?, held.as_ref())?;
            let new_key = planned_key(&unit, &user, ApiKeyKind::LongTerm, &region, &destination);
            return Ok(planned(&unit, input.mode, rotation, new_key));
        }
        let (lease, rotation) = self.claim(&unit, &user, &destination, decide).await?;
        let target = Target {
            unit: &unit,
            user: &user,
            age,
            region: &region,
            destination: &destination,
        };
        let result = self.apply_rotation(&lease, &target, &rotation).await;
        self.settle(&lease, &result).await;
        let mut rotated = result?;
        rotated.new_key.warnings.extend(lease.recovered);
        Ok(report(&unit, input.mode, rotation.old, rotated))
    }
}

impl Provisioner {
    /// Run the rotation's steps in order. Deleting the replaced key comes last; if it fails, the new key
    /// stays and the report says how to finish.
    async fn apply_rotation(
        &self,
        lease: &Lease,
        target: &Target<'_>,
        rotation: &Rotation,
    ) -> Result<Rotated> {
        let Target {
            unit,
            user,
            age,
            region,
            destination,
        } = *target;
        let mut new_key = match &rotation.resumed {
            Some(id) => Some(
                self.resumed_key(unit, user, id, region, destination)
                    .await?,
            ),
            None => None,
        };
        let mut deleted = Vec::new();
        let mut left_in_place = None;
        let mut displaced = None;
        for change in &rotation.changes {
            match change.step() {
                Some(RotationStep::MakeRoom) => {
                    self.delete_key(&user.name, &change.id).await?;
                    deleted.push(change.id.clone());
                }
                Some(RotationStep::Issue) => {
                    // What the destination holds just before the new key goes there: the key this
                    // rotation displaces (another run's, when one rotated meanwhile).
                    displaced = self.delivered_id(unit, destination).await?;
                    new_key = Some(
                        self.issue_key(lease, unit, user, age, region, destination)
                            .await?,
                    );
                }
                // The new key exists (and, inline, is in this answer): a failed deletion of the old one
                // must not lose it. Report it, and say how to finish.
                Some(RotationStep::DeleteOld) => {
                    let at = (displaced.as_deref(), change.id.as_str());
                    left_in_place = self
                        .retire_old(target, &mut new_key, rotation, at, &mut deleted)
                        .await?;
                }
                None => {}
            }
        }
        let new_key =
            new_key.ok_or_else(|| Error::invalid("mode", "the rotation issued no key"))?;
        Ok(Rotated {
            new_key,
            deleted,
            left_in_place,
        })
    }
}

impl Provisioner {
    /// Delete the replaced key once the destination holds the new one (and the key the new one displaced).
    /// The new key exists (and, inline, is in this answer): a failed deletion of the old one must not lose
    /// it; it is reported, with how to finish, and named as left in place.
    async fn retire_old(
        &self,
        target: &Target<'_>,
        new_key: &mut Option<CreatedApiKey>,
        rotation: &Rotation,
        (displaced, old): (Option<&str>, &str),
        deleted: &mut Vec<String>,
    ) -> Result<Option<String>> {
        self.before_deleting_old(
            target,
            new_key.as_ref(),
            rotation,
            (displaced, old),
            deleted,
        )
        .await?;
        match self.delete_key(&target.user.name, old).await {
            Ok(()) => {
                deleted.push(old.to_owned());
                Ok(None)
            }
            Err(error) => {
                if let Some(key) = new_key.as_mut() {
                    key.warnings.push(format!("The new key is in place, but deleting the old key {old} failed: {error}. The old key is still active."));
                }
                Ok(Some(old.to_owned()))
            }
        }
    }

    /// Before the replaced key goes: the destination must hold the new key, and the key the new one
    /// displaced there (`displaced`: that key, and the planned old one) goes too.
    async fn before_deleting_old(
        &self,
        target: &Target<'_>,
        new_key: Option<&CreatedApiKey>,
        rotation: &Rotation,
        (displaced, old): (Option<&str>, &str),
        deleted: &mut Vec<String>,
    ) -> Result<()> {
        let (unit, user, destination) = (target.unit, target.user, target.destination);
        self.confirm_handed_off(unit, user, destination, new_key, rotation)
            .await?;
        self.delete_displaced(user, displaced, old, new_key, deleted)
            .await;
        Ok(())
    }

    /// A `replace` also retires the key its new key displaced from the destination, when that is not the
    /// planned old key: another run's key that rotated in meanwhile (the unit would otherwise keep two).
    /// Best effort: a failure leaves that key working, which is never worse than before.
    async fn delete_displaced(
        &self,
        user: &ManagedUser,
        displaced: Option<&str>,
        old: &str,
        new_key: Option<&CreatedApiKey>,
        deleted: &mut Vec<String>,
    ) {
        let new = new_key.and_then(|k| k.credential_id.as_deref());
        let Some(id) = displaced.filter(|d| *d != old && Some(*d) != new) else {
            return;
        };
        match self.delete_key(&user.name, id).await {
            Ok(()) => deleted.push(id.to_owned()),
            Err(error) => {
                tracing::warn!(credential_id = %id, %error, "could not delete the key the new one displaced")
            }
        }
    }

    /// Before the replaced key goes, read the destination back: it must hold the new key. When another run
    /// put its own key there meanwhile, the old key is left to that run, the new key of this one (which no
    /// one holds) is deleted, and the rotation answers `in_flight`.
    async fn confirm_handed_off(
        &self,
        unit: &BusinessUnit,
        user: &ManagedUser,
        destination: &Destination,
        new_key: Option<&CreatedApiKey>,
        rotation: &Rotation,
    ) -> Result<()> {
        let Some(new_id) = new_key.and_then(|k| k.credential_id.as_deref()) else {
            return Ok(());
        };
        if matches!(destination, Destination::Inline)
            || self.delivered_id(unit, destination).await?.as_deref() == Some(new_id)
        {
            return Ok(());
        }
        tracing::warn!(user = %user.name, credential_id = %new_id, "the destination no longer holds the new key: another run replaced it; deleting this run's key and keeping the old one");
        if rotation.resumed.as_deref() != Some(new_id) {
            self.delete_key(&user.name, new_id).await?;
        }
        Err(Error::InFlight {
            business_unit: unit.to_string(),
            started_secs_ago: 0,
            retry_after_secs: self.settings().key_lease.as_secs(),
        })
    }
}

/// The report of a dry run: the keys the plan would delete, and the key it would issue.
fn planned(
    unit: &BusinessUnit,
    mode: RotateMode,
    rotation: Rotation,
    new_key: CreatedApiKey,
) -> RotateReport {
    let rotated = Rotated {
        new_key,
        deleted: rotation
            .changes
            .iter()
            .filter(|c| c.step() != Some(&RotationStep::Issue))
            .map(|c| c.id.clone())
            .collect(),
        left_in_place: None,
    };
    report(unit, mode, rotation.old, rotated)
}

fn report(
    unit: &BusinessUnit,
    mode: RotateMode,
    old: Option<String>,
    rotated: Rotated,
) -> RotateReport {
    let deleted = rotated.deleted;
    let instruction = match (&old, mode, &rotated.left_in_place) {
        (_, _, Some(id)) => format!(
            "Hand the new key to the business unit's owner, then finish the rotation: revoke_key business_unit `{unit}` credential_id `{id}` action `delete` (the new key stays)."
        ),
        (Some(id), RotateMode::KeepOld, None) if !deleted.contains(id) => format!(
            "Move clients to the new key, then revoke the old one: revoke_key business_unit `{unit}` credential_id `{id}`."
        ),
        _ => "Hand the new key to the business unit's owner; it replaces the old one.".to_owned(),
    };
    RotateReport {
        new_key: rotated.new_key,
        old_credential_id: old,
        deleted_credential_ids: deleted,
        instruction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, working: bool, created: i64) -> KeyState {
        KeyState {
            id: id.into(),
            working,
            created,
        }
    }

    fn steps(rotation: &Rotation) -> Vec<(&str, RotationStep)> {
        rotation
            .changes
            .iter()
            .filter_map(|c| c.step().map(|s| (c.id.as_str(), *s)))
            .collect()
    }

    #[test]
    fn one_active_key_is_kept_or_replaced_after_the_new_one() {
        let keys = [key("ACCAOLD", true, 1)];
        let keep = plan_rotation("u", &keys, None, RotateMode::KeepOld, None).unwrap();
        assert_eq!(keep.old.as_deref(), Some("ACCAOLD"));
        assert_eq!(steps(&keep), [("(new key)", RotationStep::Issue)]);
        let replace = plan_rotation("u", &keys, None, RotateMode::Replace, None).unwrap();
        assert_eq!(
            steps(&replace),
            [
                ("(new key)", RotationStep::Issue),
                ("ACCAOLD", RotationStep::DeleteOld)
            ]
        );
    }

    #[test]
    fn a_full_user_makes_room_with_an_idle_key_first_oldest_first() {
        let keys = [key("ACCAB", false, 2), key("ACCAA", false, 1)];
        let rotation = plan_rotation("u", &keys, None, RotateMode::Replace, None).unwrap();
        assert_eq!(rotation.old, None, "no active key to replace");
        assert_eq!(steps(&rotation)[0], ("ACCAA", RotationStep::MakeRoom));
        let mixed = [key("ACCAOLD", true, 1), key("ACCADEAD", false, 2)];
        let rotation = plan_rotation("u", &mixed, None, RotateMode::Replace, None).unwrap();
        assert_eq!(
            steps(&rotation),
            [
                ("ACCADEAD", RotationStep::MakeRoom),
                ("(new key)", RotationStep::Issue),
                ("ACCAOLD", RotationStep::DeleteOld)
            ],
            "the working key goes only after the new one exists"
        );
    }

    #[test]
    fn two_active_keys_need_a_name_and_the_named_one_makes_room() {
        let keys = [key("ACCAA", true, 1), key("ACCAB", true, 2)];
        let refused = plan_rotation("u", &keys, None, RotateMode::KeepOld, None).unwrap_err();
        assert!(
            refused.to_string().contains("name the one to replace"),
            "{refused}"
        );
        let named = plan_rotation("u", &keys, Some("ACCAB"), RotateMode::Replace, None).unwrap();
        assert_eq!(
            steps(&named),
            [
                ("ACCAB", RotationStep::MakeRoom),
                ("(new key)", RotationStep::Issue)
            ],
            "the named key is deleted once, to make room"
        );
    }

    #[test]
    fn a_replace_whose_old_key_survived_is_finished_not_repeated() {
        let keys = [key("ACCAOLD", true, 1), key("ACCANEW", true, 2)];
        let resumed =
            plan_rotation("u", &keys, None, RotateMode::Replace, Some("ACCANEW")).unwrap();
        assert_eq!(resumed.resumed.as_deref(), Some("ACCANEW"));
        assert_eq!(steps(&resumed), [("ACCAOLD", RotationStep::DeleteOld)]);
        assert!(
            plan_rotation("u", &keys, None, RotateMode::Replace, Some("ACCAOLD")).is_err(),
            "the destination holds the older key: nothing says which to replace"
        );
        assert!(
            plan_rotation("u", &keys, None, RotateMode::KeepOld, Some("ACCANEW")).is_err(),
            "keep_old never deletes a working key it was not told to"
        );
    }
}
