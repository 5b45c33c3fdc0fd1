//! The sweep: the guide's "rotate keys every 30 days" for every managed unit at once. A unit whose keys are
//! all expired, expiring or due for rotation gets a new key delivered to its destination and the due key
//! replaced (the unit ends with one fresh key); a unit with a fresh working key, or with no key, is left,
//! saying why. Each rotation holds the unit's key lease, so an interrupted sweep is finished by the next.

use futures::{StreamExt, stream};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::{
    Provisioner,
    deliver::Delivery,
    error::{Error, Result},
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
    /// The key replaced (or, on a dry run, to replace), if any.
    pub replaced: Option<String>,
    /// The new key's id, once rotated.
    pub new_key: Option<String>,
    /// Why the unit was left alone, or what the rotation did.
    pub detail: String,
    /// Why the rotation failed, if it did.
    pub error: Option<String>,
}

/// The result of a sweep.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SweepReport {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Each managed unit.
    pub units: Vec<SweptUnit>,
}

/// Whether a key needs replacing: expired, expiring within the window, or past the rotation period.
fn due(key: &ApiKeySummary) -> bool {
    key.flags.iter().any(|f| {
        matches!(
            f,
            KeyFlag::Expired | KeyFlag::ExpiringSoon | KeyFlag::RotationDue
        )
    })
}

/// What to do for a unit with these keys (oldest first).
pub fn sweep_action(keys: &[ApiKeySummary]) -> SweepAction {
    if keys.is_empty() {
        return SweepAction::Leave("no key (create_api_key gives it one)".to_owned());
    }
    let working = |k: &&ApiKeySummary| k.status == "Active";
    if let Some(fresh) = keys.iter().filter(working).find(|k| !due(k)) {
        return SweepAction::Leave(format!("key {} is fresh", fresh.credential_id));
    }
    let target = keys
        .iter()
        .filter(working)
        .find(|k| due(k))
        .or_else(|| keys.iter().find(|k| due(k)))
        .unwrap_or(&keys[0]);
    SweepAction::Rotate(target.credential_id.clone())
}

impl Provisioner {
    /// Rotate the due keys of every managed unit (`dry_run`: only say which), delivering the new keys to
    /// `deliver` (default: the configured delivery; never inline, which would print many keys).
    pub async fn sweep_keys(
        &self,
        dry_run: bool,
        deliver: Option<Delivery>,
        concurrency: usize,
    ) -> Result<SweepReport> {
        let deliver = deliver.unwrap_or(self.settings().default_delivery);
        if deliver == Delivery::Inline {
            return Err(Error::invalid(
                "deliver",
                "a sweep rotates many keys: deliver them to `secrets_manager` or `file`, not inline",
            ));
        }
        let units: Vec<SweptUnit> = stream::iter(self.keys_by_unit().await?)
            .map(|(unit, keys)| self.sweep_unit(unit, sweep_action(&keys), dry_run, deliver))
            .buffered(concurrency.max(1))
            .collect()
            .await;
        Ok(SweepReport { dry_run, units })
    }

    async fn sweep_unit(
        &self,
        unit: String,
        action: SweepAction,
        dry_run: bool,
        deliver: Delivery,
    ) -> SweptUnit {
        let mut swept = SweptUnit {
            business_unit: unit.clone(),
            replaced: None,
            new_key: None,
            detail: String::new(),
            error: None,
        };
        let old = match action {
            SweepAction::Leave(why) => {
                swept.detail = why;
                return swept;
            }
            SweepAction::Rotate(old) => old,
        };
        swept.replaced = Some(old.clone());
        let input = RotateKeyInput {
            business_unit: unit,
            credential_id: Some(old),
            mode: RotateMode::Replace,
            deliver: Some(deliver),
            dry_run,
            ..RotateKeyInput::default()
        };
        match self.rotate_key(&input).await {
            Ok(report) => {
                swept.new_key = report.new_key.credential_id;
                swept.detail = report.instruction;
            }
            Err(error) => swept.error = Some(error.to_string()),
        }
        swept
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
            flags: flags.to_vec(),
        }
    }

    #[test]
    fn only_units_without_a_fresh_working_key_are_rotated() {
        assert!(matches!(sweep_action(&[]), SweepAction::Leave(_)));
        assert!(matches!(
            sweep_action(&[key("ACCAFRESH", "Active", &[])]),
            SweepAction::Leave(why) if why.contains("ACCAFRESH")
        ));
        assert_eq!(
            sweep_action(&[key("ACCAOLD", "Active", &[KeyFlag::RotationDue])]),
            SweepAction::Rotate("ACCAOLD".into())
        );
        assert_eq!(
            sweep_action(&[key("ACCADEAD", "Expired", &[KeyFlag::Expired])]),
            SweepAction::Rotate("ACCADEAD".into())
        );
        assert_eq!(
            sweep_action(&[
                key("ACCADEAD", "Expired", &[KeyFlag::Expired]),
                key("ACCASOON", "Active", &[KeyFlag::ExpiringSoon]),
            ]),
            SweepAction::Rotate("ACCASOON".into()),
            "the working key is replaced; the dead one makes room"
        );
        assert!(matches!(
            sweep_action(&[
                key("ACCADEAD", "Expired", &[KeyFlag::Expired]),
                key("ACCAFRESH", "Active", &[]),
            ]),
            SweepAction::Leave(_)
        ));
    }
}
