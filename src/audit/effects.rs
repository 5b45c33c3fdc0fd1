//! What a call created and deleted, from its typed report ([`Audited`]), not read back out of its JSON:
//! each operation's output says it, and a failure says what it left behind.

use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError},
};

use crate::core::{
    Error,
    costs::CostReport,
    costs::budgets::BudgetReport,
    costs::tags::CostTagsReport,
    diagnose::DiagnoseReport,
    diagnose::verify::AccessReport,
    domain::plan::ChangeStatus,
    fleet::{FleetReport, sweep::SweepReport},
    keys::{ApiKeyList, CreatedApiKey, RevokeOutcome, RevokeReport, RotateReport},
    spend::{
        caps::{CapAction, EnforceReport},
        logging::UsageLoggingReport,
        set_cap::SpendCapReport,
        usage::UsageReport,
    },
    units::deprovision::{DeprovisionReport, StepStatus},
    units::inventory::BusinessUnitList,
    units::provision::{ProvisionReport, ResourceKind},
};

/// What a call created and deleted (ids only), and how many of a fleet run's units failed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Created by the call, or left behind by its failure.
    pub created: Vec<String>,
    /// Deleted by the call.
    pub deleted: Vec<String>,
    /// For the fleet tools, which span accounts: each resource with the account it is in.
    pub placed: Vec<Placed>,
    /// For a fleet run or sweep: (units failed, units in the run).
    pub failed_units: Option<(usize, usize)>,
}

/// A resource a fleet tool created or deleted, in the account the report names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The account.
    pub account: String,
    /// The resource.
    pub id: String,
    /// Created (else deleted).
    pub created: bool,
}

impl Effects {
    /// What a failure left behind in AWS.
    pub fn of_error(error: &Error) -> Self {
        Self {
            created: error.resources(),
            ..Self::default()
        }
    }

    /// Record `id` as created or deleted in `account`.
    fn place(&mut self, account: &str, id: &str, created: bool) {
        let list = if created {
            &mut self.created
        } else {
            &mut self.deleted
        };
        list.push(id.to_owned());
        self.placed.push(Placed {
            account: account.to_owned(),
            id: id.to_owned(),
            created,
        });
    }
}

/// An operation's output, as the audit log reads it.
pub trait Audited {
    /// What the call created and deleted; nothing for a read.
    fn effects(&self) -> Effects {
        Effects::default()
    }
}

impl Audited for ProvisionReport {
    fn effects(&self) -> Effects {
        let created = self.resources.iter().filter(|change| {
            change.status == ChangeStatus::Created
                && change.resource != ResourceKind::PolicyAttachment
        });
        Effects {
            created: created.map(|change| change.id.clone()).collect(),
            ..Effects::default()
        }
    }
}

impl Audited for CreatedApiKey {
    fn effects(&self) -> Effects {
        Effects {
            created: self.credential_id.iter().cloned().collect(),
            ..Effects::default()
        }
    }
}

impl Audited for RotateReport {
    fn effects(&self) -> Effects {
        Effects {
            deleted: self.deleted_credential_ids.clone(),
            ..self.new_key.effects()
        }
    }
}

impl Audited for RevokeReport {
    fn effects(&self) -> Effects {
        let deleted = (self.outcome == RevokeOutcome::Deleted).then(|| self.credential_id.clone());
        Effects {
            deleted: deleted.into_iter().collect(),
            ..Effects::default()
        }
    }
}

impl Audited for DeprovisionReport {
    fn effects(&self) -> Effects {
        let done = self
            .steps
            .iter()
            .filter(|step| step.status == StepStatus::Done && step.action.deletes());
        Effects {
            deleted: done.map(|step| step.resource.clone()).collect(),
            ..Effects::default()
        }
    }
}

impl Audited for BudgetReport {
    fn effects(&self) -> Effects {
        let created = (self.status == ChangeStatus::Created).then(|| self.budget_name.clone());
        Effects {
            created: created.into_iter().collect(),
            ..Effects::default()
        }
    }
}

impl Audited for UsageLoggingReport {
    fn effects(&self) -> Effects {
        Effects {
            created: self.created.clone(),
            ..Effects::default()
        }
    }
}

impl Audited for EnforceReport {
    /// Every attach (created) and lift (deleted) of a spend-cap deny, by unit.
    fn effects(&self) -> Effects {
        let mut effects = Effects::default();
        for unit in self.units.iter().filter(|_| !self.dry_run) {
            let name = format!("spend-cap-deny:{}", unit.business_unit);
            match unit.action {
                CapAction::Capped => effects.created.push(name),
                CapAction::Lifted => effects.deleted.push(name),
                _ => {}
            }
        }
        effects
    }
}

impl Audited for FleetReport {
    /// An apply's users, keys and budgets, and what `prune` removed, by account.
    fn effects(&self) -> Effects {
        let mut effects = Effects::default();
        if self.plan {
            return effects;
        }
        for unit in &self.units {
            for id in &unit.created {
                effects.place(&unit.account, id, true);
            }
        }
        for absent in &self.absent {
            if absent.removes && absent.error.is_none() {
                effects.place(&absent.account, &absent.user_name, false);
            }
            // A removal that failed after deleting the unit's secret or budget still deleted them.
            for id in &absent.deleted_with {
                effects.place(&absent.account, id, false);
            }
        }
        effects.failed_units = failed_units(&self.units, |u| u.error.is_some());
        effects
    }
}

impl Audited for SweepReport {
    /// Each rotated unit's new key and the keys its rotation deleted, by account.
    fn effects(&self) -> Effects {
        let mut effects = Effects::default();
        for unit in self.units.iter().filter(|u| u.error.is_none()) {
            let Some(new_key) = &unit.new_key else {
                continue;
            };
            effects.place(&unit.account, new_key, true);
            let deleted = if unit.deleted.is_empty() {
                unit.replaced.iter().collect::<Vec<_>>()
            } else {
                unit.deleted.iter().collect()
            };
            for id in deleted {
                effects.place(&unit.account, id, false);
            }
        }
        effects.failed_units = failed_units(&self.units, |u| u.error.is_some());
        effects
    }
}

/// (units failed, units in the run), when any unit of a fleet run or sweep failed.
fn failed_units<T>(units: &[T], failed: impl Fn(&T) -> bool) -> Option<(usize, usize)> {
    let count = units.iter().filter(|unit| failed(unit)).count();
    (count > 0).then_some((count, units.len()))
}

/// Changes account-wide settings or tags only: no resource is created or deleted.
impl Audited for CostTagsReport {}
/// Changes a tag on the unit's user only.
impl Audited for SpendCapReport {}
impl Audited for BusinessUnitList {}
impl Audited for ApiKeyList {}
impl Audited for CostReport {}
impl Audited for UsageReport {}
impl Audited for DiagnoseReport {}
impl Audited for AccessReport {}

tokio::task_local! {
    /// Where the effects of the call an adapter is running go (see [`collect`]).
    static SLOT: Arc<Mutex<Effects>>;
}

/// Run `call`, and what [`offer`] was given during it.
pub async fn collect<T>(call: impl Future<Output = T>) -> (T, Effects) {
    let slot = Arc::new(Mutex::new(Effects::default()));
    let output = SLOT.scope(slot.clone(), call).await;
    let effects = std::mem::take(&mut *slot.lock().unwrap_or_else(PoisonError::into_inner));
    (output, effects)
}

/// Hand the effects of a finished operation to the [`collect`] around it (none: they are dropped).
pub fn offer(effects: Effects) {
    // Outside a `collect` (a read, which is not audited), there is nowhere to put them.
    let _ = SLOT.try_with(|slot| {
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = effects;
    });
}
