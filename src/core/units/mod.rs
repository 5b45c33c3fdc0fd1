//! Business units: each unit's IAM user, created or repaired, listed, and removed.

pub mod deprovision;
pub mod inventory;
pub mod provision;
