//! The shape every mutation shares: read the current state, compute a plan with a pure function, then apply
//! it step by step. A dry run renders the plan and never reaches `apply`, so it makes no mutating call by
//! construction.

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
