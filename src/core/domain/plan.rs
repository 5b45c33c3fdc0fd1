//! The shape every mutation shares: read the current state, compute a plan with a pure function, then apply
//! it step by step. A dry run renders the plan and never reaches `apply`, so it makes no mutating call by
//! construction. A change that needs the user's agreement passes [`Confirmation::gate`] with its plan in
//! words ([`Plan::confirmation`]): what is applied is the plan the user agreed to, or nothing.

use std::hash::{Hash, Hasher};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::domain::error::{Error, Result};

/// What happened to one resource.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr,
)]
#[cfg_attr(test, derive(strum::VariantArray))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ChangeStatus {
    /// It did not exist and was created.
    Created,
    /// It existed and was changed to match.
    Updated,
    /// It already matched.
    Unchanged,
    /// A dry run: it would be created or updated.
    Planned,
    /// It differs from what this tool keeps (e.g. another policy attached to the unit's user) and was left
    /// in place; the detail says how to fix it.
    Drift,
}

/// The fingerprint of a plan: a hash of its summary, the words the user is shown. Two plans with one
/// summary do the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanDigest(u64);

impl PlanDigest {
    /// The digest of the plan `summary` describes.
    pub fn of(summary: &str) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        summary.hash(&mut hasher);
        Self(hasher.finish())
    }

    /// A digest as given back by a caller (`field` names it in the error): 16 hex digits.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let refused = || {
            Error::invalid(
                field,
                "must be the 16 hex digits a confirmation request gave",
            )
        };
        if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refused());
        }
        u64::from_str_radix(text, 16)
            .map(Self)
            .map_err(|_| refused())
    }
}

impl std::fmt::Display for PlanDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What the caller agreed to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Confirmation {
    /// Nothing yet: a change is refused with its plan.
    #[default]
    No,
    /// Whatever the plan is now (`confirm: true`, `--yes`).
    AnyPlan,
    /// The plan with this digest, and no other (`confirm: true` with `plan_digest`).
    Plan(PlanDigest),
}

impl Confirmation {
    /// From an input's `confirm` and `plan_digest` (a digest without `confirm` confirms nothing).
    pub fn of(confirm: bool, plan_digest: Option<&str>) -> Result<Self> {
        match (confirm, plan_digest) {
            (false, _) => Ok(Self::No),
            (true, None) => Ok(Self::AnyPlan),
            (true, Some(text)) => PlanDigest::parse("plan_digest", text).map(Self::Plan),
        }
    }

    /// The gate of a change, given its plan in words. Unconfirmed, it is refused with the plan and its
    /// digest (nothing changed). Confirmed for another plan (AWS changed since the user saw theirs), it is
    /// refused with the new plan, to be shown again. Otherwise it passes.
    pub fn gate(self, summary: String) -> Result<()> {
        let digest = PlanDigest::of(&summary);
        match self {
            Self::No => Err(Error::ConfirmationRequired {
                summary,
                plan_digest: digest.to_string(),
            }),
            Self::Plan(seen) if seen != digest => Err(Error::PlanChanged {
                summary,
                plan_digest: digest.to_string(),
            }),
            Self::AnyPlan | Self::Plan(_) => Ok(()),
        }
    }
}

/// What a mutation will do, decided from what AWS holds with no mutating call: a dry run reports it as it
/// is ([`Plan::render`]); otherwise an adapter has it confirmed when [`Plan::confirmation`] asks, and
/// the core applies this plan, not a new one. The core never reads `confirm`: the adapters do.
pub trait Plan: Send {
    /// The report of the mutation.
    type Report;
    /// The plan in the words the user agrees to (a confirmation names the digest of these words), or
    /// `None` when applying it needs no agreement (it changes nothing).
    fn confirmation(&self) -> Option<String>;
    /// The plan as a dry run reports it.
    fn render(self) -> Self::Report;
}

/// The words to confirm of a plan that `tool` makes of `changes` (each in words), or `None` when its
/// `status` says it changes nothing.
pub fn changes_to_confirm(tool: &str, status: ChangeStatus, changes: &[String]) -> Option<String> {
    (status != ChangeStatus::Unchanged).then(|| format!("{tool} would {}", changes.join("; ")))
}

/// What a plan does to one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect<S> {
    /// It already matches: nothing to do.
    Keep,
    /// It differs from what this tool keeps and is left in place; the change's reason says how to fix it.
    Drift,
    /// This step makes it match.
    Apply(S),
}

/// One resource of a plan: which, what the plan does to it, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change<R, S> {
    /// The kind of resource.
    pub resource: R,
    /// Its name or ARN.
    pub id: String,
    /// Why the plan does what it does, in words.
    pub why: String,
    /// What the plan does.
    pub effect: Effect<S>,
}

impl<R, S> Change<R, S> {
    /// A resource that already matches.
    pub fn keep(resource: R, id: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(resource, id, why, Effect::Keep)
    }

    /// A resource left in place although it differs.
    pub fn drift(resource: R, id: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(resource, id, why, Effect::Drift)
    }

    /// A resource `step` changes.
    pub fn apply(resource: R, id: impl Into<String>, why: impl Into<String>, step: S) -> Self {
        Self::new(resource, id, why, Effect::Apply(step))
    }

    fn new(resource: R, id: impl Into<String>, why: impl Into<String>, effect: Effect<S>) -> Self {
        Self {
            resource,
            id: id.into(),
            why: why.into(),
            effect,
        }
    }

    /// The step, when the plan changes this resource.
    pub fn step(&self) -> Option<&S> {
        match &self.effect {
            Effect::Apply(step) => Some(step),
            Effect::Keep | Effect::Drift => None,
        }
    }
}

/// Whether applying the plan would change anything.
pub fn changes_anything<R, S>(plan: &[Change<R, S>]) -> bool {
    plan.iter().any(|change| change.step().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_plan_confirmed_passes() {
        let plan =
            "delete user `a-bedrock-user` and 1 attached item(s): access key AKIA1".to_owned();
        let digest = PlanDigest::of(&plan).to_string();
        let refused = Confirmation::No.gate(plan.clone()).unwrap_err();
        assert!(
            matches!(&refused, Error::ConfirmationRequired { plan_digest, .. } if *plan_digest == digest)
        );
        let same = Confirmation::of(true, Some(&digest)).unwrap();
        assert!(same.gate(plan.clone()).is_ok());
        let grown = format!("{plan}; access key AKIA2");
        let changed = same.gate(grown.clone()).unwrap_err();
        assert!(
            matches!(&changed, Error::PlanChanged { summary, plan_digest }
            if *summary == grown && *plan_digest != digest)
        );
        assert!(Confirmation::AnyPlan.gate(grown).is_ok());
        assert!(Confirmation::of(true, Some("xyz")).is_err());
        assert!(Confirmation::of(true, Some("+123456789abcdef")).is_err());
        assert_eq!(
            Confirmation::of(false, Some(&digest)).unwrap(),
            Confirmation::No
        );
    }
}
