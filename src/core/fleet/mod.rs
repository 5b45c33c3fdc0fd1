//! Fleets: every business unit of a manifest in one plan and one apply. The plan is each unit's dry run
//! (`provision_user`, its budget and its key), run a few units at a time; apply runs them for real.
//! Managed units of an account that the manifest does not place there are listed, and removed only when
//! asked to (`prune`, confirmed).

mod absent;
mod accounts;
mod listing;
pub mod manifest;
mod pace;
pub mod sweep;
mod unit_key;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::{
    Provisioner,
    domain::error::{Error, Result},
    domain::plan::{Confirmation, Plan},
    units::provision::{ChangeStatus, ResourceChange, ResourceKind},
};
pub use absent::AbsentUnit;
pub use accounts::in_accounts;
use manifest::{Manifest, UnitSpec};
pub use pace::{Pace, Progress};

/// Input of `plan_fleet` and `apply_fleet`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetInput {
    /// The manifest (TOML): `[defaults]`, then a `[[unit]]` per unit with `name`, `purpose`, `owner`;
    /// optional `account`, `role`, `tags`, `budget = { monthly_usd, emails }`, `key = { max_age_days,
    /// deliver }`.
    pub manifest: String,
    /// Units in flight at once (1-64, default 8).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Also remove managed units the manifest does not name (admin; needs `confirm: true`).
    #[serde(default)]
    pub prune: bool,
    /// Must be true to apply `prune`'s removals.
    #[serde(default)]
    pub confirm: bool,
    /// The digest of the plan the user agreed to (a confirmation request gives it): a plan that no longer
    /// matches is refused with the new one instead of applied. Not in the tool's schema: the request names it.
    #[serde(default)]
    #[schemars(skip)]
    pub plan_digest: Option<String>,
}

/// Input of `sweep_keys`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepInput {
    /// Only list the keys it would rotate.
    #[serde(default)]
    pub dry_run: bool,
    /// Where new keys go (never `inline`; default: the manifest's, else the server's).
    #[serde(default)]
    pub deliver: Option<crate::core::keys::deliver::Delivery>,
    /// A fleet manifest: its `key` settings apply, and its accounts are swept too.
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
    /// What the caller confirmed of the removals.
    pub confirm: Confirmation,
}

/// One unit of a fleet plan or apply.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct UnitOutcome {
    /// The business unit.
    pub business_unit: String,
    /// The account it is in (the manifest's `account`, else the caller's).
    #[serde(default)]
    pub account: String,
    /// The line of its entry in the manifest.
    pub line: usize,
    /// What changes (plan) or changed (apply), one line each.
    pub changes: Vec<String>,
    /// What differs from what this tool keeps and is left in place, with the fix.
    pub drift: Vec<String>,
    /// What an apply created, by id (the user, the key, the budget): for the audit log.
    #[serde(default)]
    pub created: Vec<String>,
    /// Why the unit could not be planned or applied.
    pub error: Option<String>,
}

/// What one step of a unit changed: report lines, and the ids it created.
#[derive(Debug, Default)]
struct Changes {
    lines: Vec<String>,
    created: Vec<String>,
}

impl UnitOutcome {
    fn new(unit: &UnitSpec, caller: &str) -> Self {
        Self {
            business_unit: unit.name().to_owned(),
            account: unit.account.as_deref().unwrap_or(caller).to_owned(),
            line: unit.line,
            changes: Vec::new(),
            drift: Vec::new(),
            created: Vec::new(),
            error: None,
        }
    }

    fn add(&mut self, changes: Changes) {
        self.changes.extend(changes.lines);
        self.created.extend(changes.created);
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
    /// `plan_fleet` (`apply: None`) and `apply_fleet` (`apply`: what the caller confirmed of the
    /// removals `prune` makes): the manifest validated first, then every unit; `progress` hears of each
    /// finished unit, and `stop` keeps further units from starting.
    pub async fn fleet(
        &self,
        input: &FleetInput,
        apply: Option<Confirmation>,
        progress: &Progress<'_>,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<FleetReport> {
        let pace = Pace::new(concurrency(input.concurrency)?, progress, stop);
        let policy = &self.settings().default_policy;
        let manifest = manifest::parse_off_runtime("manifest", &input.manifest, policy).await?;
        let action = FleetAction {
            apply: apply.is_some(),
            prune: input.prune,
            confirm: apply.unwrap_or_default(),
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
        if action.apply && action.prune && !absent.is_empty() {
            action.confirm.gate(absent::removal_summary(&absent))?;
        }
        let (account, accounts) = (&account, &accounts);
        // The first unit of each account runs alone, before the others: it creates or updates what the
        // account's units share (the policy) instead of all of them racing to.
        let (units, leads) = leads_first(manifest, account);
        let ran = pace::each(
            &units,
            leads,
            pace,
            |unit| self.run_unit(unit, account, accounts, action.apply),
            UnitOutcome::summary,
            |unit| UnitOutcome {
                error: Some(
                    "not started: the run was cancelled; run it again to finish".to_owned(),
                ),
                ..UnitOutcome::new(unit, account)
            },
        )
        .await;
        // A stop that came while the last units were in flight still counts: nothing is pruned after it.
        let cancelled = ran.stopped || pace.stop.is_cancelled();
        if action.apply && action.prune {
            let held = absent::held_back(&ran.results, cancelled);
            self.prune(&mut absent, held, account, accounts, &pace.stop)
                .await;
        }
        let mut units = ran.results;
        units.sort_by_key(|u| u.line);
        Ok(FleetReport {
            plan: !action.apply,
            units,
            absent,
            cancelled,
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
        let mut outcome = UnitOutcome::new(unit, account);
        let place = unit
            .account
            .clone()
            .filter(|a| a != account)
            .map(|a| (a, unit.role.clone()));
        let done = match self.acting_in(place.as_ref(), accounts) {
            Ok(provisioner) => provisioner
                .unit_with_retries(unit, apply, &mut outcome)
                .await
                .map_err(|e| {
                    if passes(&e) {
                        format!("{e} (after {UNIT_ATTEMPTS} attempts of the unit); run the fleet again: it picks up where this run stopped")
                    } else {
                        e.to_string()
                    }
                }),
            Err(why) => Err(why),
        };
        outcome.error = done.err();
        tracing::info!(unit = %outcome.business_unit, changes = outcome.changes.len(), error = ?outcome.error, "fleet unit done");
        outcome
    }

    /// The unit's changes, run again (up to [`UNIT_ATTEMPTS`] times, after a growing pause) while they fail
    /// for a reason that passes (throttling once the SDK's own retries are spent, a 5xx, a timeout, another
    /// run's key lease): every step converges, so a second attempt picks up where the first stopped. The
    /// changes of every attempt are kept; a unit that still fails says to run the fleet again.
    async fn unit_with_retries(
        &self,
        unit: &UnitSpec,
        apply: bool,
        outcome: &mut UnitOutcome,
    ) -> Result<()> {
        let mut attempt = 1;
        loop {
            let error = match self.unit_changes(unit, apply, outcome).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            if attempt >= UNIT_ATTEMPTS || !passes(&error) {
                return Err(error);
            }
            let pause = UNIT_PAUSE * 2u32.pow(attempt - 1);
            tracing::info!(unit = %unit.name(), attempt, %error, ?pause, "fleet unit failed; trying it again");
            tokio::time::sleep(pause).await;
            // The next attempt reads the unit again and reports its drift anew.
            outcome.drift.clear();
            attempt += 1;
        }
    }

    /// The unit's user first (a refused user stops the unit), then its key beside its budget, which
    /// needs nothing of the key. A half that fails does not hide what the other half changed.
    async fn unit_changes(
        &self,
        unit: &UnitSpec,
        apply: bool,
        outcome: &mut UnitOutcome,
    ) -> Result<()> {
        let plan = self.plan_provision_user(&unit.provision).await?;
        let mut made = Vec::new();
        let applied = if apply {
            self.apply_provision_noting(plan, &mut made).await
        } else {
            Ok(plan.render())
        };
        let report = match applied {
            Ok(report) => report,
            Err(error) => {
                // What exists now (a user created before its policy attach failed) is listed, so the
                // report and the audit name it and the next attempt or run finds it unchanged.
                record(&made, outcome);
                return Err(error);
            }
        };
        record(&report.resources, outcome);
        // A user this call created has no key yet: no need to look before taking the key lease.
        let keyless = report
            .resources
            .iter()
            .any(|r| r.resource == ResourceKind::IamUser && r.status == ChangeStatus::Created);
        let new_user = report.resources.iter().any(|r| {
            r.resource == ResourceKind::IamUser
                && matches!(r.status, ChangeStatus::Created | ChangeStatus::Planned)
        });
        outcome.add(self.unit_cap(unit, apply, new_user).await?);
        let key = async {
            match unit.key {
                Some(key) => self.unit_key(unit.name(), key, apply, keyless).await,
                None => Ok(Changes::default()),
            }
        };
        let (key, budget) = tokio::join!(key, self.unit_budget(unit, apply));
        let key = key.map(|changes| outcome.add(changes));
        let budget = budget.map(|changes| outcome.add(changes));
        key.and(budget)
    }

    /// The unit's spend cap (none without `cap_usd` in the manifest); a user a plan would create has none yet.
    async fn unit_cap(&self, unit: &UnitSpec, apply: bool, new_user: bool) -> Result<Changes> {
        let Some(cap) = unit.cap_usd else {
            return Ok(Changes::default());
        };
        if !apply && new_user {
            let lines = vec![format!("spend cap: set to {cap:.2} USD a month")];
            return Ok(Changes {
                lines,
                created: Vec::new(),
            });
        }
        let input = crate::core::spend::set_cap::SetSpendCapInput {
            business_unit: unit.name().to_owned(),
            monthly_cap_usd: Some(cap),
            ..Default::default()
        };
        let plan = self.plan_spend_cap(&input).await?;
        // Writing the manifest and running apply is the confirmation.
        let report = if apply {
            self.apply_spend_cap(plan).await?
        } else {
            plan.render()
        };
        if report.status == ChangeStatus::Unchanged {
            return Ok(Changes::default());
        }
        let was = report
            .previous_cap_usd
            .map_or_else(|| "none".to_owned(), |p| format!("{p:.2} USD"));
        let lines = vec![format!("spend cap: {was} -> {cap:.2} USD a month")];
        Ok(Changes {
            lines,
            created: Vec::new(),
        })
    }

    /// The unit's budget change, one line each (none without a budget in the manifest).
    async fn unit_budget(&self, unit: &UnitSpec, apply: bool) -> Result<Changes> {
        let Some(budget) = &unit.budget else {
            return Ok(Changes::default());
        };
        let plan = self.plan_budget_alert(budget).await?;
        // Writing the manifest and running apply is the confirmation.
        let report = if apply {
            self.apply_budget_alert(plan).await?
        } else {
            plan.render()
        };
        let lines = report
            .changes
            .iter()
            .map(|c| format!("budget {}: {c}", report.budget_name))
            .collect();
        let created = match report.status {
            ChangeStatus::Unchanged => return Ok(Changes::default()),
            ChangeStatus::Created => vec![report.budget_name],
            _ => Vec::new(),
        };
        Ok(Changes { lines, created })
    }
}

/// The units with the first unit of each account first; how many those leads are.
/// Attempts of one unit within a run, when it fails for a reason that passes.
const UNIT_ATTEMPTS: u32 = 4;
/// The pause before a unit's second attempt (doubling after each).
const UNIT_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// Whether a unit's failure may pass by itself: throttling, AWS's own failures, the network, a lease.
fn passes(error: &Error) -> bool {
    match error {
        Error::Throttled { .. } | Error::Unreachable { .. } | Error::InFlight { .. } => true,
        // A role session that ended between signing and arriving: the next attempt renews it.
        Error::Credentials { detail } => detail.starts_with("ExpiredToken"),
        Error::Aws { code, .. } => [
            "InternalFailure",
            "ServiceFailure",
            "ServiceUnavailable",
            "InternalError",
            "ConcurrentModification",
        ]
        .contains(&code.as_str()),
        _ => false,
    }
}

fn leads_first<'m>(manifest: &'m Manifest, caller: &str) -> (Vec<&'m UnitSpec>, usize) {
    let mut seen = std::collections::HashSet::new();
    let (leads, rest): (Vec<&UnitSpec>, Vec<&UnitSpec>) = manifest
        .units
        .iter()
        .partition(|u| seen.insert(u.account.as_deref().unwrap_or(caller)));
    let count = leads.len();
    (leads.into_iter().chain(rest).collect(), count)
}

/// The changed and drifted resources of a provision report, one line each.
fn record(resources: &[ResourceChange], outcome: &mut UnitOutcome) {
    for resource in resources {
        let line = format!(
            "{} {}: {}",
            <&str>::from(resource.resource).replace('_', " "),
            resource.id,
            resource.detail
        );
        match resource.status {
            ChangeStatus::Created => {
                outcome.changes.push(line);
                if matches!(
                    resource.resource,
                    ResourceKind::IamUser | ResourceKind::ManagedPolicy
                ) {
                    outcome.created.push(resource.id.clone());
                }
            }
            ChangeStatus::Planned | ChangeStatus::Updated => outcome.changes.push(line),
            ChangeStatus::Drift => outcome.drift.push(line),
            ChangeStatus::Unchanged => {}
        }
    }
}
