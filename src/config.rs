//! The configuration file (TOML, `--config`): the platform team's policy for this server. Command-line
//! flags and environment variables win over it; it wins over the built-in defaults. See
//! `bedrock-provisioner.example.toml`.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::{
    core::{
        Settings,
        domain::governance::Governance,
        domain::names::{BusinessUnit, TagKey, parse_region},
        keys::deliver::Delivery,
        units::provision::{PolicyInput, reserved_key},
    },
    mode::AccessMode,
};

/// Keys of the configuration file. Every key is optional.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `read-only`, `provision` or `admin`.
    pub mode: Option<AccessMode>,
    /// AWS region.
    pub region: Option<String>,
    /// Audit log path.
    pub audit_log: Option<PathBuf>,
    /// Directory for `deliver: file`.
    pub key_dir: Option<PathBuf>,
    /// IAM path of users and the policy.
    pub iam_path: Option<String>,
    /// Lifetime of a new long-term key, in days.
    pub default_key_age_days: Option<u32>,
    /// Longest lifetime a caller may ask for, in days.
    pub max_key_age_days: Option<u32>,
    /// Keys older than this are `rotation_due`.
    pub rotation_days: Option<u32>,
    /// Keys expiring within this many days are `expiring_soon`.
    pub expiring_soon_days: Option<u32>,
    /// Seconds after which an unfinished key operation (an interrupted process) is finished by the next
    /// one; until then the next one waits for it.
    pub key_lease_seconds: Option<u32>,
    /// `inline`, `secrets_manager` or `file`.
    pub default_delivery: Option<Delivery>,
    /// `least_privilege`, `amazon_bedrock_limited_access` or `{ arn = "..." }`.
    pub default_policy: Option<PolicyInput>,
    /// Only these business units may be provisioned or get keys and budgets.
    pub allowed_business_units: Option<Vec<String>>,
    /// A regex every business unit must match.
    pub business_unit_pattern: Option<String>,
    /// Extra tags every business unit's user must carry.
    pub required_tags: Option<Vec<String>>,
    /// Managed policies `provision_user` may attach besides the least-privilege one and AWS's
    /// `AmazonBedrockLimitedAccess` (e.g. a company's own Bedrock policy); any other ARN is refused.
    pub allowed_policy_arns: Option<Vec<String>>,
}

/// A configuration file that cannot be used, with the key and the rule.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A value breaks a rule.
    #[error("{path}: `{key}` {rule}")]
    Invalid {
        /// The file.
        path: String,
        /// The key.
        key: &'static str,
        /// The rule.
        rule: String,
    },
}

impl ConfigFile {
    /// Read and validate a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let config: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        config.validate(&shown)?;
        Ok(config)
    }

    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, rule: String| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            rule,
        };
        if let Some(region) = &self.region {
            parse_region("region", region).map_err(|_| {
                invalid(
                    "region",
                    format!("must be a region code such as us-east-1, not `{region}`"),
                )
            })?;
        }
        if let Some(iam_path) = &self.iam_path {
            let valid = iam_path.starts_with('/')
                && iam_path.ends_with('/')
                && iam_path.len() <= 512
                && iam_path
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/+=,.@_-".contains(&b));
            if !valid {
                return Err(invalid(
                    "iam_path",
                    "must start and end with `/` and contain only letters, digits and +=,.@_-"
                        .to_owned(),
                ));
            }
        }
        let max = self.max_key_age_days.unwrap_or(90);
        if !(1..=36_600).contains(&max) {
            return Err(invalid(
                "max_key_age_days",
                "must be 1-36600 (IAM's range)".to_owned(),
            ));
        }
        let default = self.default_key_age_days.unwrap_or(30.min(max));
        if default == 0 || default > max {
            return Err(invalid(
                "default_key_age_days",
                format!("must be 1-{max} (max_key_age_days)"),
            ));
        }
        for (key, value) in [
            ("rotation_days", self.rotation_days),
            ("expiring_soon_days", self.expiring_soon_days),
            ("key_lease_seconds", self.key_lease_seconds),
        ] {
            if value == Some(0) {
                return Err(invalid(key, "must be at least 1".to_owned()));
            }
        }
        for unit in self.allowed_business_units.iter().flatten() {
            BusinessUnit::parse("allowed_business_units", unit)
                .map_err(|e| invalid("allowed_business_units", e.to_string()))?;
        }
        if let Some(pattern) = &self.business_unit_pattern {
            Regex::new(pattern).map_err(|e| {
                invalid(
                    "business_unit_pattern",
                    format!("is not a valid regex: {e}"),
                )
            })?;
        }
        for tag in self.required_tags.iter().flatten() {
            TagKey::parse("required_tags", tag)
                .map_err(|e| invalid("required_tags", e.to_string()))?;
            if reserved_key(tag).is_some() {
                return Err(invalid(
                    "required_tags",
                    format!("`{tag}` is always set by bedrock-provisioner; list only extra tags"),
                ));
            }
        }
        if let Some(PolicyInput::Arn(arn)) = &self.default_policy {
            crate::core::domain::names::PolicyArn::parse("default_policy.arn", arn)
                .map_err(|e| invalid("default_policy", e.to_string()))?;
        }
        for arn in self.allowed_policy_arns.iter().flatten() {
            crate::core::domain::names::PolicyArn::parse("allowed_policy_arns", arn)
                .map_err(|e| invalid("allowed_policy_arns", e.to_string()))?;
        }
        Ok(())
    }

    /// Apply the file to settings still at their defaults.
    pub fn apply(&self, settings: &mut Settings) {
        if let Some(path) = &self.iam_path {
            settings.iam_path.clone_from(path);
        }
        if let Some(max) = self.max_key_age_days {
            settings.max_key_age_days = max;
            settings.default_key_age_days = settings.default_key_age_days.min(max);
        }
        if let Some(days) = self.default_key_age_days {
            settings.default_key_age_days = days;
        }
        if let Some(days) = self.rotation_days {
            settings.rotation_days = days;
        }
        if let Some(days) = self.expiring_soon_days {
            settings.expiring_soon_days = days;
        }
        if let Some(seconds) = self.key_lease_seconds {
            settings.key_lease = std::time::Duration::from_secs(seconds.into());
        }
        if let Some(delivery) = self.default_delivery {
            settings.default_delivery = delivery;
        }
        if let Some(policy) = &self.default_policy {
            settings.default_policy = policy.clone();
        }
        settings.governance = Governance {
            allowed_business_units: self.allowed_business_units.clone().unwrap_or_default(),
            business_unit_pattern: self
                .business_unit_pattern
                .as_deref()
                .and_then(|p| Regex::new(p).ok()),
            required_tags: self.required_tags.clone().unwrap_or_default(),
            allowed_policy_arns: self
                .allowed_policy_arns
                .iter()
                .flatten()
                .cloned()
                .chain(match &self.default_policy {
                    Some(PolicyInput::Arn(arn)) => Some(arn.clone()),
                    _ => None,
                })
                .collect(),
        };
    }
}

/// The settings in effect, for `config check` (no secrets exist in them).
#[derive(Debug, Serialize)]
pub struct EffectiveSettings {
    /// Access mode.
    pub mode: &'static str,
    /// Region (`null`: from the AWS chain).
    pub region: Option<String>,
    /// Audit log path.
    pub audit_log: Option<PathBuf>,
    /// Key directory.
    pub key_dir: Option<PathBuf>,
    /// IAM path.
    pub iam_path: String,
    /// Default key age.
    pub default_key_age_days: u32,
    /// Maximum key age.
    pub max_key_age_days: u32,
    /// Rotation period.
    pub rotation_days: u32,
    /// Expiring-soon window.
    pub expiring_soon_days: u32,
    /// Default delivery.
    pub default_delivery: Delivery,
    /// Default policy.
    pub default_policy: PolicyInput,
    /// Allowed business units (empty: any).
    pub allowed_business_units: Vec<String>,
    /// Naming pattern.
    pub business_unit_pattern: Option<String>,
    /// Required extra tags.
    pub required_tags: Vec<String>,
}

impl EffectiveSettings {
    /// Describe `settings` as the server would run with them.
    pub fn new(mode: AccessMode, audit_log: Option<PathBuf>, settings: &Settings) -> Self {
        Self {
            mode: mode.as_str(),
            region: settings.aws.region.clone(),
            audit_log,
            key_dir: settings.key_dir.clone(),
            iam_path: settings.iam_path.clone(),
            default_key_age_days: settings.default_key_age_days,
            max_key_age_days: settings.max_key_age_days,
            rotation_days: settings.rotation_days,
            expiring_soon_days: settings.expiring_soon_days,
            default_delivery: settings.default_delivery,
            default_policy: settings.default_policy.clone(),
            allowed_business_units: settings.governance.allowed_business_units.clone(),
            business_unit_pattern: settings
                .governance
                .business_unit_pattern
                .as_ref()
                .map(|r| r.as_str().to_owned()),
            required_tags: settings.governance.required_tags.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        let config: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "t".into(),
            message: e.to_string(),
        })?;
        config.validate("t")?;
        Ok(config)
    }

    #[test]
    fn the_example_file_is_valid() {
        let example = include_str!("../bedrock-provisioner.example.toml");
        let config = parse(example).unwrap();
        let mut settings = Settings::default();
        config.apply(&mut settings);
        assert_eq!(settings.max_key_age_days, 60);
        assert_eq!(settings.default_delivery, Delivery::SecretsManager);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, key) in [
            ("max_key_age_days = 0", "max_key_age_days"),
            (
                "max_key_age_days = 10\ndefault_key_age_days = 30",
                "default_key_age_days",
            ),
            ("iam_path = \"no-slashes\"", "iam_path"),
            ("business_unit_pattern = \"([\"", "business_unit_pattern"),
            (
                "allowed_business_units = [\"Bad Name\"]",
                "allowed_business_units",
            ),
            ("required_tags = [\"owner\"]", "required_tags"),
            ("required_tags = [\"Managed-By\"]", "required_tags"),
            (
                "allowed_policy_arns = [\"AdministratorAccess\"]",
                "allowed_policy_arns",
            ),
            ("region = \"moon\"", "region"),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(&format!("`{key}`")), "{text}: {error}");
        }
        let typo = parse("max_key_age = 3").unwrap_err().to_string();
        assert!(typo.contains("max_key_age"), "{typo}");
        let mode = parse("mode = \"root\"").unwrap_err().to_string();
        assert!(mode.contains("root"), "{mode}");
    }
}
