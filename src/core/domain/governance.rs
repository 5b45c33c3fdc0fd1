//! Organisation policy from the configuration file: which business units may be provisioned or get
//! keys and budgets, and which extra tags every business unit's user must carry.

use std::collections::BTreeMap;

use regex::Regex;

use crate::core::{
    domain::error::{Error, Result},
    domain::names::{BusinessUnit, PolicyArn},
};

/// Rules a platform team sets for the whole server.
#[derive(Clone, Debug, Default)]
pub struct Governance {
    /// Business units allowed (empty: any that matches the pattern).
    pub allowed_business_units: Vec<String>,
    /// A regex every business unit must match (anchored by the caller's pattern).
    pub business_unit_pattern: Option<Regex>,
    /// Extra tag keys `provision_user` must receive, non-empty.
    pub required_tags: Vec<String>,
    /// Managed policies a caller may attach by ARN (the configuration's `allowed_policy_arns` and its
    /// `default_policy`); empty: none.
    pub allowed_policy_arns: Vec<String>,
}

impl Governance {
    /// Whether the business unit may be provisioned or given keys and budgets.
    pub fn check_unit(&self, field: &str, unit: &BusinessUnit) -> Result<()> {
        let name = unit.to_string();
        if !self.allowed_business_units.is_empty() && !self.allowed_business_units.contains(&name) {
            return Err(Error::invalid(
                field,
                format!(
                    "`{name}` is not an allowed business unit on this server (allowed: {}); ask the \
                     platform team to add it to allowed_business_units in the configuration",
                    self.allowed_business_units.join(", ")
                ),
            ));
        }
        if let Some(pattern) = &self.business_unit_pattern
            && !pattern.is_match(&name)
        {
            return Err(Error::invalid(
                field,
                format!(
                    "`{name}` does not match this server's business unit naming pattern `{}`",
                    pattern.as_str()
                ),
            ));
        }
        Ok(())
    }

    /// Whether a caller may attach the managed policy `arn` to a business unit's user. Only the platform
    /// team widens what a unit may do: an agent in provision mode must not be able to attach, say,
    /// `AdministratorAccess`.
    pub fn check_policy(&self, arn: &PolicyArn) -> Result<()> {
        if self.allowed_policy_arns.iter().any(|a| a == arn.as_str()) {
            return Ok(());
        }
        Err(Error::invalid(
            "policy.arn",
            format!(
                "`{}` is not on this server's allow-list: a business unit's user gets the least-privilege \
                 Bedrock policy (or amazon_bedrock_limited_access); other policies only when the platform team \
                 lists them in allowed_policy_arns of the configuration file",
                arn.as_str()
            ),
        ))
    }

    /// Whether the extra tags hold every required key with a value.
    pub fn check_tags(&self, tags: &BTreeMap<String, String>) -> Result<()> {
        for key in &self.required_tags {
            let value = tags
                .iter()
                .find(|(given, _)| crate::core::domain::names::same_tag_key(given, key))
                .map(|(_, value)| value);
            if value.is_none_or(|v| v.trim().is_empty()) {
                return Err(Error::invalid(
                    format!("tags.{key}"),
                    format!(
                        "this server requires the tag `{key}` on every business unit's user (required_tags \
                         in the configuration); add it to `tags`"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_the_field_and_the_rule() {
        let governance = Governance {
            allowed_business_units: vec!["marketing".into()],
            business_unit_pattern: Some(Regex::new("^[a-z]+$").unwrap()),
            required_tags: vec!["cost-center".into()],
            allowed_policy_arns: vec!["arn:aws:iam::111122223333:policy/TeamBedrock".into()],
        };
        let ok = BusinessUnit::parse("u", "marketing").unwrap();
        let other = BusinessUnit::parse("u", "sales").unwrap();
        assert!(governance.check_unit("business_unit", &ok).is_ok());
        let error = governance
            .check_unit("business_unit", &other)
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid `business_unit`") && error.contains("allowed: marketing"));
        let error = governance
            .check_tags(&BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid `tags.cost-center`"), "{error}");
        let tagged = BTreeMap::from([("cost-center".to_owned(), "cc-1".to_owned())]);
        assert!(governance.check_tags(&tagged).is_ok());
        let other_case = BTreeMap::from([("Cost-Center".to_owned(), "cc-1".to_owned())]);
        assert!(
            governance.check_tags(&other_case).is_ok(),
            "IAM keys are case-insensitive"
        );
        let team = PolicyArn::parse("p", "arn:aws:iam::111122223333:policy/TeamBedrock").unwrap();
        assert!(governance.check_policy(&team).is_ok());
        let admin = PolicyArn::parse("p", "arn:aws:iam::aws:policy/AdministratorAccess").unwrap();
        let error = governance.check_policy(&admin).unwrap_err().to_string();
        assert!(
            error.contains("invalid `policy.arn`") && error.contains("allow-list"),
            "{error}"
        );
    }
}
