//! Managed units a manifest does not name: every account the manifest places units in is listed, and what
//! it holds that the manifest does not place there is reported, then removed only with `prune`, once every
//! unit of the manifest applied, and confirmed. An account the manifest places no unit in is not its to
//! prune, the caller's included.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FleetAction, UnitOutcome, accounts::Accounts, manifest::Manifest};
use crate::core::{
    MANAGED_BY_KEY, MANAGED_BY_VALUE, Provisioner,
    aws::sdk_error,
    costs::budgets::plan::budget_name,
    domain::error::{Error, Result},
    domain::names::{BusinessUnit, same_tag_key},
    keys::deliver::secret_name,
    spend::backstop,
    units::deprovision::{DeprovisionReport, DeprovisionUserInput},
};

/// A managed unit of a reached account that the manifest does not place there.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AbsentUnit {
    /// The business unit.
    pub business_unit: String,
    /// The account it is in.
    pub account: String,
    /// Its IAM user.
    pub user_name: String,
    /// Whether this run removes it (a plan: would remove it).
    pub removes: bool,
    /// What happens to it.
    pub detail: String,
    /// Why removing it failed.
    pub error: Option<String>,
    /// The unit's key secret and budgets in that account, deleted with it.
    #[serde(default)]
    pub deleted_with: Vec<String>,
}

/// What an apply with `prune` would remove, for its confirmation.
pub(super) fn removal_summary(absent: &[AbsentUnit]) -> String {
    let units: Vec<String> = absent
        .iter()
        .map(|a| format!("`{}` (account {})", a.business_unit, a.account))
        .collect();
    format!(
        "apply_fleet with prune would remove {} managed unit(s) that the manifest does not place in their \
         account, with their keys, policies, users, key secrets and budgets: {}",
        units.len(),
        units.join(", ")
    )
}

/// Why removals are held back: a stopped run, or a unit of the manifest that failed.
pub(super) fn held_back(units: &[UnitOutcome], stopped: bool) -> Option<&'static str> {
    if stopped {
        Some("not removed: the run was cancelled")
    } else if units.iter().any(|u| u.error.is_some()) {
        Some("not removed: a unit of the manifest failed; fix it and apply again")
    } else {
        None
    }
}

impl Provisioner {
    /// The managed units of each account the manifest places units in (the caller's, or a reached one)
    /// that it does not place there, sorted by account and name.
    pub(super) async fn absent_units(
        &self,
        manifest: &Manifest,
        caller: &str,
        accounts: &Accounts,
        action: FleetAction,
    ) -> Result<Vec<AbsentUnit>> {
        let detail = match (action.prune, action.apply) {
            (false, _) => "not in the manifest: left alone",
            (true, false) => "not in the manifest: would be removed (prune)",
            (true, true) => "not in the manifest: to be removed (prune)",
        };
        let mut absent = Vec::new();
        for (account, provisioner) in self.places(caller, accounts) {
            let named: HashSet<&str> = manifest
                .units
                .iter()
                .filter(|u| u.account.as_deref().unwrap_or(caller) == account)
                .map(|u| u.name())
                .collect();
            if named.is_empty() {
                continue;
            }
            let listed = provisioner.units_here(false).await?;
            let path = format!(":user{}", self.settings().iam_path);
            absent.extend(
                listed
                    .business_units
                    .into_iter()
                    .filter(|u| !named.contains(u.business_unit.as_str()))
                    .map(|u| {
                        // Only a user this tool could have made is removed: under its IAM path, named for a
                        // valid business unit. A `managed-by` tag alone is anyone's to write.
                        let prunable = u.user_arn.contains(&path)
                            && BusinessUnit::parse("business_unit", &u.business_unit).is_ok();
                        AbsentUnit {
                            business_unit: u.business_unit,
                            account: account.to_owned(),
                            user_name: u.user_name,
                            removes: action.prune && prunable,
                            detail: if prunable || !action.prune {
                                detail.to_owned()
                            } else {
                                format!("not in the manifest: left alone (not under the IAM path {} or not a business-unit name this tool creates)", self.settings().iam_path)
                            },
                            error: None,
                            deleted_with: Vec::new(),
                        }
                    }),
            );
        }
        absent.sort_by(|a, b| (&a.account, &a.business_unit).cmp(&(&b.account, &b.business_unit)));
        Ok(absent)
    }

    /// Remove each absent unit (its keys, policies and user), unless `held` says why not; a stop keeps
    /// the removals not yet started from starting.
    pub(super) async fn prune(
        &self,
        absent: &mut [AbsentUnit],
        held: Option<&str>,
        caller: &str,
        accounts: &Accounts,
        stop: &tokio_util::sync::CancellationToken,
    ) {
        for unit in absent.iter_mut().filter(|u| u.removes) {
            let held = held.or(stop
                .is_cancelled()
                .then_some("not removed: the run was cancelled"));
            if let Some(why) = held {
                unit.removes = false;
                unit.detail = why.to_owned();
                continue;
            }
            let place = accounts
                .keys()
                .find(|(account, _)| *account == unit.account && unit.account != caller);
            let removed = match self.acting_in(place, accounts) {
                Ok(provisioner) => provisioner
                    .remove_unit(&unit.business_unit, &mut unit.deleted_with)
                    .await
                    .map_err(|e| e.to_string()),
                Err(why) => Err(why),
            };
            match removed {
                Ok(report) => {
                    let with = if unit.deleted_with.is_empty() {
                        String::new()
                    } else {
                        format!("; deleted {}", unit.deleted_with.join(", "))
                    };
                    unit.detail = format!(
                        "removed: user {} and {} attached item(s){with}",
                        report.user_name,
                        report.steps.len().saturating_sub(1)
                    );
                }
                Err(why) => {
                    unit.removes = false;
                    unit.error = Some(why);
                }
            }
        }
    }
}

impl Provisioner {
    /// Remove a unit from this account: its key secret (when the tool's) and its budgets first, then its
    /// user with its keys and policies. `deleted` hears of each secret and budget deleted. A failure keeps
    /// the user, so the next run with `prune` finds the unit again and finishes.
    async fn remove_unit(
        &self,
        unit: &str,
        deleted: &mut Vec<String>,
    ) -> Result<DeprovisionReport> {
        let parsed = BusinessUnit::parse("business_unit", unit)?;
        self.managed_user(&parsed).await?;
        if let Some(secret) = self.delete_unit_secret(&parsed).await? {
            deleted.push(secret);
        }
        let account = self.caller().await?.account.clone();
        for name in [budget_name(&parsed), backstop::budget_name(unit)] {
            if self.delete_budget_if_any(&account, &name).await? {
                deleted.push(name);
            }
        }
        let plan = self
            .plan_deprovision_user(&DeprovisionUserInput {
                business_unit: unit.to_owned(),
                ..DeprovisionUserInput::default()
            })
            .await?;
        // The removals were confirmed before the run began (see `removal_summary`).
        self.apply_deprovision_user(plan).await
    }

    /// Delete the unit's key secret, at once (the keys it can hold go with the user): its name when there
    /// was one; a secret the tool does not own (no `managed-by` tag) is refused, and one already scheduled
    /// for deletion counts as gone.
    async fn delete_unit_secret(&self, unit: &BusinessUnit) -> Result<Option<String>> {
        let name = secret_name(unit);
        let Some(secret) = self.describe_secret(&name).await? else {
            return Ok(None);
        };
        if secret.deleted_date().is_some() {
            return Ok(None);
        }
        let owned = secret.tags().iter().any(|t| {
            t.key().is_some_and(|k| same_tag_key(k, MANAGED_BY_KEY))
                && t.value() == Some(MANAGED_BY_VALUE)
        });
        if !owned {
            return Err(Error::refused(
                "prune",
                format!(
                    "the secret {name} is not this tool's (no managed-by tag): delete or move it yourself, then apply again"
                ),
            ));
        }
        let deleted = self
            .clients()
            .await
            .secrets_manager
            .delete_secret()
            .secret_id(&name)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map_err(|e| sdk_error("secretsmanager:DeleteSecret", e));
        match deleted {
            Ok(_) => Ok(Some(name)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Delete the budget `name` of `account` when it exists; whether it did.
    async fn delete_budget_if_any(&self, account: &str, name: &str) -> Result<bool> {
        let deleted = self
            .clients()
            .await
            .budgets
            .delete_budget()
            .account_id(account)
            .budget_name(name)
            .send()
            .await
            .map_err(|e| sdk_error("budgets:DeleteBudget", e));
        match deleted {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }
}
