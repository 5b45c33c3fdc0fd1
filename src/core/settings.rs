//! The settings of the core: how to reach AWS, naming, key lifetimes, delivery and governance. Built by
//! the adapters from flags, environment and the configuration file.

use std::time::Duration;

use crate::core::{AwsSettings, domain::governance, keys::deliver, units::provision};

/// Settings of the core.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How to reach AWS.
    pub aws: AwsSettings,
    /// IAM path for the users and the policy this project creates.
    pub iam_path: String,
    /// Attempts for a call that may hit IAM's eventual consistency right after a create.
    pub propagation_attempts: u32,
    /// First wait between those attempts (doubles each time, capped at 5 s).
    pub propagation_delay: Duration,
    /// Lifetime of a new Bedrock API key when the caller gives none.
    pub default_key_age_days: u32,
    /// Longest lifetime a caller may ask for (refused above, not clamped).
    pub max_key_age_days: u32,
    /// A key expiring within this many days is flagged `expiring_soon`.
    pub expiring_soon_days: u32,
    /// A key older than this many days is flagged `rotation_due`.
    pub rotation_days: u32,
    /// How long a key operation's lease on a unit lasts: another operation on the unit waits that long
    /// for it, then finishes it as interrupted.
    pub key_lease: Duration,
    /// Pause between writing a lease and reading it back (two processes that raced both wrote; the read
    /// tells each whether it won).
    pub lease_settle: Duration,
    /// Directory for `deliver: file` (absolute); `None` disables file delivery.
    pub key_dir: Option<std::path::PathBuf>,
    /// Longest time one diagnose check may take.
    pub check_timeout: Duration,
    /// Where new keys go when the caller does not say.
    pub default_delivery: deliver::Delivery,
    /// The policy `provision_user` attaches when the caller does not say.
    pub default_policy: provision::PolicyInput,
    /// Which business units may be provisioned, and required tags.
    pub governance: governance::Governance,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            aws: AwsSettings::default(),
            iam_path: "/bedrock-provisioner/".to_owned(),
            propagation_attempts: 8,
            propagation_delay: Duration::from_millis(250),
            default_key_age_days: 30,
            max_key_age_days: 90,
            expiring_soon_days: 7,
            rotation_days: 30,
            key_lease: Duration::from_secs(120),
            lease_settle: Duration::from_millis(250),
            key_dir: None,
            check_timeout: Duration::from_secs(10),
            default_delivery: deliver::Delivery::default(),
            default_policy: provision::PolicyInput::default(),
            governance: governance::Governance::default(),
        }
    }
}
