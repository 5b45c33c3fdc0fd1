//! Fleets: every business unit of a manifest in one plan and one apply. The plan is each unit's dry run
//! (`provision_user` and its budget), run a few units at a time; apply runs them for real. Managed units of
//! the account that the manifest does not name are listed, never touched.

mod accounts;
pub mod manifest;
pub mod sweep;

use futures::{StreamExt, stream};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Provisioner,
    error::Result,
    inventory::ListBusinessUnitsInput,
    label,
    provision::{ChangeStatus, ProvisionReport},
};
use manifest::{Manifest, UnitSpec};

/// Input of `plan_fleet` and `apply_fleet`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetInput {
    /// The manifest, as TOML text (the format of `fleet.example.toml`): `[defaults]` and one `[[unit]]`
    /// per business unit with `name`, `purpose`, `owner`, and optionally `account` (12 digits), `role`,
    /// `tags` (a table) and `budget = { monthly_usd = 500, emails = ["finops@example.com"] }`.
    pub manifest: String,
    /// Units in flight at once (1-64, default 8).
    #[serde(default)]
    pub concurrency: Option<u32>,
}

/// Input of `sweep_keys`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepInput {
    /// Only say which keys would be rotated; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Where new keys go: `secrets_manager` or `file` (default: the server's configured delivery; never
    /// `inline`).
    #[serde(default)]
    pub deliver: Option<crate::core::deliver::Delivery>,
    /// Units in flight at once (1-64, default 8).
    #[serde(default)]
    pub concurrency: Option<u32>,
}

/// Told of each finished unit: how many are done, of how many, and that unit's outcome.
pub type Progress<'a> = dyn Fn(usize, usize, &UnitOutcome) + Sync + 'a;

/// Units in flight at once, from an input's `concurrency`.
pub fn concurrency(given: Option<u32>) -> Result<usize> {
    match given.unwrap_or(8) {
        n @ 1..=64 => Ok(n as usize),
        n => Err(crate::core::Error::invalid(
            "concurrency",
            format!("must be 1-64; got {n}"),
        )),
    }
}

/// One unit of a fleet plan or apply.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct UnitOutcome {
    /// The business unit.
    pub business_unit: String,
    /// The line of its entry in the manifest.
    pub line: usize,
    /// What changes (plan) or changed (apply), one line each.
    pub changes: Vec<String>,
    /// What differs from what this tool keeps and is left in place, with the fix.
    pub drift: Vec<String>,
    /// Why the unit could not be planned or applied.
    pub error: Option<String>,
}

/// The result of planning or applying a fleet.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FleetReport {
    /// Whether this is a plan (nothing changed).
    pub plan: bool,
    /// Each unit, in manifest order.
    pub units: Vec<UnitOutcome>,
    /// Units this tool manages in the account that the manifest does not name (left alone).
    pub absent: Vec<String>,
}

impl FleetReport {
    /// Whether any unit has changes (planned or made).
    pub fn has_changes(&self) -> bool {
        self.units.iter().any(|u| !u.changes.is_empty())
    }

    /// Whether any unit failed.
    pub fn has_errors(&self) -> bool {
        self.units.iter().any(|u| u.error.is_some())
    }
}

impl Provisioner {
    /// `plan_fleet` (`apply: false`) and `apply_fleet`: the manifest validated first, then every unit;
    /// `progress` hears of each finished unit.
    pub async fn fleet(
        &self,
        input: &FleetInput,
        apply: bool,
        progress: &Progress<'_>,
    ) -> Result<FleetReport> {
        let concurrency = concurrency(input.concurrency)?;
        let manifest =
            manifest::parse("manifest", &input.manifest, &self.settings().default_policy)?;
        self.run_fleet(&manifest, apply, concurrency, progress)
            .await
    }

    /// Plan (`apply: false`) or apply every unit of `manifest`, at most `concurrency` at a time, telling
    /// `progress` of each finished unit (how many are done, of how many).
    pub async fn run_fleet(
        &self,
        manifest: &Manifest,
        apply: bool,
        concurrency: usize,
        progress: &Progress<'_>,
    ) -> Result<FleetReport> {
        let account = self.caller().await?.account.clone();
        let accounts = self.reach_accounts(manifest).await?;
        let (account, accounts) = (&account, &accounts);
        let mut units: Vec<UnitOutcome> = stream::iter(manifest.units.iter().cloned())
            .map(|unit| async move { self.run_unit(&unit, account, accounts, apply).await })
            .buffer_unordered(concurrency.max(1))
            .enumerate()
            .map(|(done, unit)| {
                progress(done + 1, manifest.units.len(), &unit);
                unit
            })
            .collect()
            .await;
        units.sort_by_key(|u| u.line);
        let named: Vec<&str> = manifest.units.iter().map(UnitSpec::name).collect();
        let absent = self
            .list_business_units(&ListBusinessUnitsInput::default())
            .await?
            .business_units
            .into_iter()
            .map(|u| u.business_unit)
            .filter(|unit| !named.contains(&unit.as_str()))
            .collect();
        Ok(FleetReport {
            plan: !apply,
            units,
            absent,
        })
    }

    /// One unit, in its own account: its user, tags, policy and attachment, then its budget.
    async fn run_unit(
        &self,
        unit: &UnitSpec,
        account: &str,
        accounts: &accounts::Accounts,
        apply: bool,
    ) -> UnitOutcome {
        let mut outcome = UnitOutcome {
            business_unit: unit.name().to_owned(),
            line: unit.line,
            changes: Vec::new(),
            drift: Vec::new(),
            error: None,
        };
        let elsewhere = unit
            .account
            .clone()
            .filter(|a| a != account)
            .and_then(|a| accounts.get(&(a, unit.role.clone())));
        let provisioner = match elsewhere {
            None => Ok(self),
            Some(Ok(other)) => Ok(other.as_ref()),
            Some(Err(why)) => Err(why.clone()),
        };
        let done = match provisioner {
            Ok(provisioner) => provisioner
                .unit_changes(unit, apply, &mut outcome)
                .await
                .map_err(|e| e.to_string()),
            Err(why) => Err(why),
        };
        outcome.error = done.err();
        tracing::info!(unit = %outcome.business_unit, changes = outcome.changes.len(), error = ?outcome.error, "fleet unit done");
        outcome
    }

    async fn unit_changes(
        &self,
        unit: &UnitSpec,
        apply: bool,
        outcome: &mut UnitOutcome,
    ) -> Result<()> {
        let mut provision = unit.provision.clone();
        provision.dry_run = !apply;
        let report = self.provision_user(&provision).await?;
        record(&report, outcome);
        if let Some(budget) = &unit.budget {
            let mut budget = budget.clone();
            budget.dry_run = !apply;
            // Writing the manifest and running apply is the confirmation.
            budget.confirm = apply;
            let report = self.create_budget_alert(&budget).await?;
            if report.status != ChangeStatus::Unchanged {
                outcome.changes.extend(
                    report
                        .changes
                        .iter()
                        .map(|c| format!("budget {}: {c}", report.budget_name)),
                );
            }
        }
        Ok(())
    }
}

/// The changed and drifted resources of a provision report, one line each.
fn record(report: &ProvisionReport, outcome: &mut UnitOutcome) {
    for resource in &report.resources {
        let line = format!(
            "{} {}: {}",
            label(&resource.resource).replace('_', " "),
            resource.id,
            resource.detail
        );
        match resource.status {
            ChangeStatus::Planned | ChangeStatus::Created | ChangeStatus::Updated => {
                outcome.changes.push(line);
            }
            ChangeStatus::Drift => outcome.drift.push(line),
            ChangeStatus::Unchanged => {}
        }
    }
}
