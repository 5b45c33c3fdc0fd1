//! The sweep: the guide's "rotate keys every 30 days" for every managed unit at once. A unit whose keys are
//! all expired, expiring or older than its maximum age gets a new key delivered to its destination and the
//! due key replaced (the unit ends with one fresh key); a unit with a fresh working key, or with no key, is
//! left, saying why. Each rotation holds the unit's key lease, so an interrupted sweep is finished by the
//! next. With a manifest, its units' `key` settings apply and its other accounts are swept too.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    accounts::{self, Accounts},
    manifest::{KeySpec, Manifest},
    pace::{self, Pace},
};
use crate::core::{
    Provisioner,
    domain::error::{Error, Result},
    domain::names::BusinessUnit,
    keys::deliver::Delivery,
    keys::{ApiKeySummary, KeyFlag, RotateKeyInput, RotateMode},
};

/// What the sweep does for one unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SweepAction {
    /// Replace this key with a new one.
    Rotate(String),
    /// Leave the unit alone, for this reason.
    Leave(String),
}

/// One unit of a sweep's report.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SweptUnit {
    /// The business unit.
    pub business_unit: String,
    /// The account it is in.
    pub account: String,
    /// The key replaced (or, on a dry run, to replace), if any.
    pub replaced: Option<String>,
    /// The new key's id, once rotated.
    pub new_key: Option<String>,
    /// The keys the rotation deleted (the replaced one, and any it made room with or displaced).
    #[serde(default)]
    pub deleted: Vec<String>,
    /// Why the unit was left alone, or what the rotation did.
    pub detail: String,
    /// Why the rotation failed, or that it never started (a cancelled sweep).
    pub error: Option<String>,
}

/// The result of a sweep.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SweepReport {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Each managed unit.
    pub units: Vec<SweptUnit>,
    /// Whether the sweep was cancelled: units not started say so; run it again to finish them.
    #[serde(default)]
    pub cancelled: bool,
    /// Accounts of the manifest that could not be reached (their keys were not swept), with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
}

/// Whether a key needs replacing: expired, expiring within the window, or `max_age_days` old.
fn due(key: &ApiKeySummary, max_age_days: u32) -> bool {
    key.age_days >= i64::from(max_age_days)
        || key
            .flags
            .iter()
            .any(|f| matches!(f, KeyFlag::Expired | KeyFlag::ExpiringSoon))
}

/// What to do for a unit with these keys (oldest first), replaced once `max_age_days` old.
pub fn sweep_action(keys: &[ApiKeySummary], max_age_days: u32) -> SweepAction {
    let Some(first) = keys.first() else {
        return SweepAction::Leave("no key (create_api_key gives it one)".to_owned());
    };
    let due = |k: &&ApiKeySummary| due(k, max_age_days);
    let working = |k: &&ApiKeySummary| k.status == "Active";
    if let Some(fresh) = keys.iter().filter(working).find(|k| !due(k)) {
        return SweepAction::Leave(format!("key {} is fresh", fresh.credential_id));
    }
    let target = keys
        .iter()
        .filter(working)
        .find(due)
        .or_else(|| keys.iter().find(due))
        .unwrap_or(first);
    SweepAction::Rotate(target.credential_id.clone())
}

/// One unit to sweep: where, what to do, and where its new key goes.
struct Due<'a> {
    provisioner: &'a Provisioner,
    account: String,
    unit: String,
    action: SweepAction,
    deliver: Delivery,
    max_age_days: u32,
}

/// What the sweep was asked: the manifest's key settings per (account, unit), and the fallbacks.
struct Wanted<'a> {
    manifest: Option<&'a Manifest>,
    caller: &'a str,
    deliver: Option<Delivery>,
    fallback: Delivery,
    max_age_days: u32,
}

impl Wanted<'_> {
    /// The unit's key settings: the manifest's where it names the unit in this account.
    fn key(&self, account: &str, unit: &str) -> KeySpec {
        let named = self.manifest.and_then(|m| {
            m.units.iter().find(|u| {
                u.name() == unit && u.account.as_deref().unwrap_or(self.caller) == account
            })
        });
        let spec = named.and_then(|u| u.key);
        KeySpec {
            max_age_days: spec.map_or(self.max_age_days, |k| k.max_age_days),
            deliver: self
                .deliver
                .or(spec.map(|k| k.deliver))
                .unwrap_or(self.fallback),
        }
    }
}

impl Provisioner {
    /// Rotate the due keys of every managed unit (`dry_run`: only say which), in the caller's account
    /// and the accounts of `manifest`, delivering new keys to `deliver`, else the unit's manifest setting,
    /// else the configured delivery (never inline, which would print many keys).
    pub async fn sweep_keys(
        &self,
        dry_run: bool,
        deliver: Option<Delivery>,
        manifest: Option<&Manifest>,
        pace: &Pace<'_>,
    ) -> Result<SweepReport> {
        if deliver == Some(Delivery::Inline) {
            return Err(inline_refused());
        }
        let caller = self.caller().await?.account.clone();
        let accounts = match manifest {
            Some(manifest) => self.reach_accounts(manifest).await?,
            None => Accounts::new(),
        };
        let wanted = Wanted {
            manifest,
            caller: &caller,
            deliver,
            fallback: self.settings().default_delivery,
            max_age_days: self.settings().rotation_days,
        };
        let due = self.due_units(&wanted, &accounts).await?;
        // Read, nothing changed yet: a unit whose new key would go inline (no `deliver`, no `key.deliver`
        // in the manifest, and an inline default) stops the sweep here.
        if due
            .iter()
            .any(|d| d.deliver == Delivery::Inline && matches!(d.action, SweepAction::Rotate(_)))
        {
            return Err(Error::Refused {
                field: "deliver".to_owned(),
                rule: inline_refused().to_string(),
            });
        }
        let ran = pace::each(
            &due,
            0,
            pace,
            |due| due.provisioner.sweep_unit(due, dry_run),
            |swept| format!("{}: {}", swept.business_unit, swept.detail),
            |due| SweptUnit {
                error: Some("not started: the sweep was cancelled; run it again to finish".into()),
                ..swept(due)
            },
        )
        .await;
        Ok(SweepReport {
            dry_run,
            units: ran.results,
            cancelled: ran.stopped || pace.stop.is_cancelled(),
            unreachable: accounts::unreachable(&accounts),
        })
    }

    /// Every managed unit of the caller's account and of each reached account, with what to do.
    async fn due_units<'a>(
        &'a self,
        wanted: &Wanted<'a>,
        accounts: &'a Accounts,
    ) -> Result<Vec<Due<'a>>> {
        let mut due = Vec::new();
        for (account, provisioner) in self.places(wanted.caller, accounts) {
            for (unit, keys) in provisioner.keys_by_unit().await? {
                let key = wanted.key(account, &unit);
                due.push(Due {
                    provisioner,
                    account: account.to_owned(),
                    action: sweep_action(&keys, key.max_age_days),
                    unit,
                    deliver: key.deliver,
                    max_age_days: key.max_age_days,
                });
            }
        }
        due.sort_by(|a, b| (&a.account, &a.unit).cmp(&(&b.account, &b.unit)));
        Ok(due)
    }

    async fn sweep_unit(&self, due: &Due<'_>, dry_run: bool) -> SweptUnit {
        let mut swept = swept(due);
        let mut old = match &due.action {
            SweepAction::Leave(why) => {
                swept.detail.clone_from(why);
                return swept;
            }
            SweepAction::Rotate(old) => old.clone(),
        };
        // Another run (a second sweep, a rotation) may replace the key between the listing and this
        // rotation: the unit is read again and the truth reported, or its new due key rotated, once.
        for attempt in 0..2 {
            let input = RotateKeyInput {
                business_unit: due.unit.clone(),
                credential_id: Some(old.clone()),
                mode: RotateMode::Replace,
                deliver: Some(due.deliver),
                dry_run,
                ..RotateKeyInput::default()
            };
            let error = match self.rotate_key(&input).await {
                Ok(report) => {
                    swept.replaced = Some(old);
                    swept.new_key = report.new_key.credential_id;
                    if !dry_run {
                        swept.deleted = report.deleted_credential_ids;
                    }
                    swept.detail = report.instruction;
                    return swept;
                }
                Err(error) => error,
            };
            match self.replaced_meanwhile(due, &old).await {
                Some(SweepAction::Leave(why)) => {
                    swept.replaced = None;
                    swept.detail = format!(
                        "nothing to do: key {old} was already replaced by another run ({why})"
                    );
                    return swept;
                }
                Some(SweepAction::Rotate(next)) if attempt == 0 => old = next,
                _ => {
                    swept.error = Some(error.to_string());
                    return swept;
                }
            }
        }
        swept
    }

    /// After a failed rotation of `old`: when the key is gone (another run replaced it), what to do now
    /// for the unit's keys as they are; `None` when the key is still there (the failure stands) or the
    /// keys cannot be read.
    async fn replaced_meanwhile(&self, due: &Due<'_>, old: &str) -> Option<SweepAction> {
        let user_name = BusinessUnit::parse("business_unit", &due.unit)
            .ok()?
            .user_name();
        let keys = self.unit_key_summaries(&due.unit, &user_name).await.ok()?;
        if keys.iter().any(|k| k.credential_id == old) {
            return None;
        }
        Some(sweep_action(&keys, due.max_age_days))
    }
}

/// The refusal of inline delivery: a sweep rotates many keys.
fn inline_refused() -> Error {
    Error::invalid(
        "deliver",
        "a sweep rotates many keys: deliver them to `secrets_manager` or `file` (here or as the manifest's \
         `key.deliver`), not inline",
    )
}

/// The report entry of a unit, before it ran.
fn swept(due: &Due<'_>) -> SweptUnit {
    SweptUnit {
        business_unit: due.unit.clone(),
        account: due.account.clone(),
        replaced: match &due.action {
            SweepAction::Rotate(old) => Some(old.clone()),
            SweepAction::Leave(_) => None,
        },
        new_key: None,
        deleted: Vec::new(),
        detail: String::new(),
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, status: &str, flags: &[KeyFlag]) -> ApiKeySummary {
        ApiKeySummary {
            business_unit: "u".into(),
            user_name: "u-bedrock-user".into(),
            credential_id: id.into(),
            alias: None,
            status: status.into(),
            created: String::new(),
            expires: None,
            days_left: None,
            age_days: if flags.contains(&KeyFlag::RotationDue) {
                30
            } else {
                1
            },
            flags: flags.to_vec(),
            account: None,
        }
    }

    #[test]
    fn only_units_without_a_fresh_working_key_are_rotated() {
        assert!(matches!(sweep_action(&[], 30), SweepAction::Leave(_)));
        assert!(matches!(
            sweep_action(&[key("ACCAFRESH", "Active", &[])], 30),
            SweepAction::Leave(why) if why.contains("ACCAFRESH")
        ));
        assert_eq!(
            sweep_action(&[key("ACCAOLD", "Active", &[KeyFlag::RotationDue])], 30),
            SweepAction::Rotate("ACCAOLD".into())
        );
        assert_eq!(
            sweep_action(&[key("ACCADEAD", "Expired", &[KeyFlag::Expired])], 30),
            SweepAction::Rotate("ACCADEAD".into())
        );
        assert_eq!(
            sweep_action(
                &[
                    key("ACCADEAD", "Expired", &[KeyFlag::Expired]),
                    key("ACCASOON", "Active", &[KeyFlag::ExpiringSoon]),
                ],
                30
            ),
            SweepAction::Rotate("ACCASOON".into()),
            "the working key is replaced; the dead one makes room"
        );
        assert!(matches!(
            sweep_action(
                &[
                    key("ACCADEAD", "Expired", &[KeyFlag::Expired]),
                    key("ACCAFRESH", "Active", &[]),
                ],
                30
            ),
            SweepAction::Leave(_)
        ));
    }

    #[test]
    fn a_manifest_s_max_age_decides_when_a_key_is_due() {
        let ten_days_old = ApiKeySummary {
            age_days: 10,
            ..key("ACCATEN", "Active", &[])
        };
        assert_eq!(
            sweep_action(std::slice::from_ref(&ten_days_old), 7),
            SweepAction::Rotate("ACCATEN".into())
        );
        assert!(matches!(
            sweep_action(&[ten_days_old], 14),
            SweepAction::Leave(_)
        ));
    }
}
