//! Fleets: every business unit of a manifest in one plan and one apply. The plan is each unit's dry run
//! (`provision_user`, its budget and its key), run a few units at a time; apply runs them for real.
//! Managed units of an account that the manifest does not place there are listed, and removed only when
//! asked to (`prune`, confirmed).

mod absent;
mod accounts;
pub mod manifest;
mod pace;
pub mod sweep;
mod unit_key;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Provisioner,
    error::{Error, Result},
    label,
    provision::{ChangeStatus, ProvisionReport, ResourceKind},
};
pub use absent::AbsentUnit;
pub use accounts::in_accounts;
use manifest::{Manifest, UnitSpec};
pub use pace::{Pace, Progress};

/// Input of `plan_fleet` and `apply_fleet`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetInput {
    /// The manifest, as TOML text (the format of `fleet.example.toml`): `[defaults]` and one `[[unit]]`
    /// per business unit with `name`, `purpose`, `owner`, and optionally `account` (12 digits), `role`,
    /// `tags` (a table), `budget = { monthly_usd = 500, emails = ["finops@example.com"] }` and
    /// `key = { max_age_days = 30, deliver = "secrets_manager" }`.
    pub manifest: String,
    /// Units in flight at once (1-64, default 8).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Also remove the managed units the manifest does not name (their keys, policies and user).
    /// Destructive: only a server in admin mode accepts it, and applying needs `confirm: true`.
    #[serde(default)]
    pub prune: bool,
    /// Must be true to apply with `prune` (removals cannot be undone): confirms the plan's removals.
    #[serde(default)]
    pub confirm: bool,
}

/// Input of `sweep_keys`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepInput {
    /// Only say which keys would be rotated; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Where new keys go: `secrets_manager` or `file` (default: the unit's `key.deliver` in the
    /// manifest, else the server's configured delivery; never `inline`).
    #[serde(default)]
    pub deliver: Option<crate::core::deliver::Delivery>,
    /// A fleet manifest (TOML text, as for `plan_fleet`): its units' `key.max_age_days` and
    /// `key.deliver` apply, and the managed units of its accounts are swept too.
    #[serde(default)]
    pub manifest: Option<String>,
    /// Units in flight at once (1-64, default 8).
    #[serde(default)]
    pub concurrency: Option<u32>,
}

/// Units in flight at once, from an input's `concurrency`.
pub fn concurrency(given: Option<u32>) -> Result<usize> {
    match given.unwrap_or(8) {
        n @ 1..=64 => Ok(n as usize),
        n => Err(Error::invalid(
            "concurrency",
            format!("must be 1-64; got {n}"),
        )),
    }
}

/// What a fleet run does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetAction {
    /// Make the changes (else only plan them).
    pub apply: bool,
    /// Also remove managed units the manifest does not name.
    pub prune: bool,
    /// The removals are confirmed.
    pub confirm: bool,
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

impl UnitOutcome {
    fn new(unit: &UnitSpec) -> Self {
        Self {
            business_unit: unit.name().to_owned(),
            line: unit.line,
            changes: Vec::new(),
            drift: Vec::new(),
            error: None,
        }
    }

    /// One line for a progress report.
    fn summary(&self) -> String {
        match &self.error {
            Some(_) => format!("{}: failed", self.business_unit),
            None => format!("{}: {} change(s)", self.business_unit, self.changes.len()),
        }
    }
}

/// The result of planning or applying a fleet.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FleetReport {
    /// Whether this is a plan (nothing changed).
    pub plan: bool,
    /// Each unit, in manifest order.
    pub units: Vec<UnitOutcome>,
    /// Managed units of the manifest's accounts that the manifest does not place there: left alone, or
    /// with `prune` removed.
    pub absent: Vec<AbsentUnit>,
    /// Whether the run was cancelled: units not started say so; run it again to finish them.
    #[serde(default)]
    pub cancelled: bool,
}

impl FleetReport {
    /// Whether any unit has changes (planned or made), removals included.
    pub fn has_changes(&self) -> bool {
        self.units.iter().any(|u| !u.changes.is_empty()) || self.absent.iter().any(|a| a.removes)
    }

    /// Whether any unit failed or was not started.
    pub fn has_errors(&self) -> bool {
        self.units.iter().any(|u| u.error.is_some())
            || self.absent.iter().any(|a| a.error.is_some())
    }
}

impl Provisioner {
    /// `plan_fleet` (`apply: false`) and `apply_fleet`: the manifest validated first, then every unit;
    /// `progress` hears of each finished unit, and `stop` keeps further units from starting.
    pub async fn fleet(
        &self,
        input: &FleetInput,
        apply: bool,
        progress: &Progress<'_>,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<FleetReport> {
        let pace = Pace::new(concurrency(input.concurrency)?, progress, stop);
        let manifest =
            manifest::parse("manifest", &input.manifest, &self.settings().default_policy)?;
        let action = FleetAction {
            apply,
            prune: input.prune,
            confirm: input.confirm,
        };
        self.run_fleet(&manifest, action, &pace).await
    }

    /// Plan or apply every unit of `manifest` at `pace`; with `prune`, the managed units it does not name
    /// are removed once every unit applied (a removal needs `confirm`, asked before anything changes).
    /// Account-wide reads happen once per account for the whole run.
    pub async fn run_fleet(
        &self,
        manifest: &Manifest,
        action: FleetAction,
        pace: &Pace<'_>,
    ) -> Result<FleetReport> {
        self.for_run().fleet_run(manifest, action, pace).await
    }

    async fn fleet_run(
        &self,
        manifest: &Manifest,
        action: FleetAction,
        pace: &Pace<'_>,
    ) -> Result<FleetReport> {
        let account = self.caller().await?.account.clone();
        let accounts = self.reach_accounts(manifest).await?;
        let mut absent = self
            .absent_units(manifest, &account, &accounts, action)
            .await?;
        if action.apply && action.prune && !action.confirm && !absent.is_empty() {
            return Err(Error::ConfirmationRequired {
                summary: absent::removal_summary(&absent),
            });
        }
        let (account, accounts) = (&account, &accounts);
        let ran = pace::each(
            &manifest.units,
            1,
            pace,
            |unit| self.run_unit(unit, account, accounts, action.apply),
            UnitOutcome::summary,
            |unit| UnitOutcome {
                error: Some(
                    "not started: the run was cancelled; run it again to finish".to_owned(),
                ),
                ..UnitOutcome::new(unit)
            },
        )
        .await;
        if action.apply && action.prune {
            let held = absent::held_back(&ran.results, ran.stopped);
            self.prune(&mut absent, held, account, accounts).await;
        }
        Ok(FleetReport {
            plan: !action.apply,
            units: ran.results,
            absent,
            cancelled: ran.stopped,
        })
    }

    /// One unit, in its own account: its user, tags, policy and attachment, then its budget and key.
    async fn run_unit(
        &self,
        unit: &UnitSpec,
        account: &str,
        accounts: &accounts::Accounts,
        apply: bool,
    ) -> UnitOutcome {
        let mut outcome = UnitOutcome::new(unit);
        let place = unit
            .account
            .clone()
            .filter(|a| a != account)
            .map(|a| (a, unit.role.clone()));
        let done = match self.acting_in(place.as_ref(), accounts) {
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

    /// The unit's user (and then its key) beside its budget, which needs nothing of the user.
    async fn unit_changes(
        &self,
        unit: &UnitSpec,
        apply: bool,
        outcome: &mut UnitOutcome,
    ) -> Result<()> {
        let (user, budget) = tokio::join!(
            self.unit_user_and_key(unit, apply),
            self.unit_budget(unit, apply)
        );
        let (user, budget) = (user?, budget?);
        record(&user.0, outcome);
        outcome.changes.extend(user.1);
        outcome.changes.extend(budget);
        Ok(())
    }

    /// `provision_user`, then the unit's key when the manifest asks for one.
    async fn unit_user_and_key(
        &self,
        unit: &UnitSpec,
        apply: bool,
    ) -> Result<(ProvisionReport, Option<String>)> {
        let mut provision = unit.provision.clone();
        provision.dry_run = !apply;
        let report = self.provision_user(&provision).await?;
        let Some(key) = unit.key else {
            return Ok((report, None));
        };
        // A user this call created has no key yet: no need to look before taking the key lease.
        let created = report
            .resources
            .iter()
            .any(|r| r.resource == ResourceKind::IamUser && r.status == ChangeStatus::Created);
        let change = self.unit_key(unit.name(), key, apply, created).await?;
        Ok((report, change))
    }

    /// The unit's budget change, one line each (none without a budget in the manifest).
    async fn unit_budget(&self, unit: &UnitSpec, apply: bool) -> Result<Vec<String>> {
        let Some(budget) = &unit.budget else {
            return Ok(Vec::new());
        };
        let mut budget = budget.clone();
        budget.dry_run = !apply;
        // Writing the manifest and running apply is the confirmation.
        budget.confirm = apply;
        let report = self.create_budget_alert(&budget).await?;
        if report.status == ChangeStatus::Unchanged {
            return Ok(Vec::new());
        }
        Ok(report
            .changes
            .iter()
            .map(|c| format!("budget {}: {c}", report.budget_name))
            .collect())
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
