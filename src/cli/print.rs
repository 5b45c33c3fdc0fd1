//! Text output for people: every report prints itself (`Display`), so what a person reads is tested like
//! any other value. `--output json` prints the result as the MCP tool returns it instead.

use std::fmt;

use crate::core::{
    costs::CostReport,
    costs::budgets::BudgetReport,
    costs::tags::CostTagsReport,
    diagnose::verify::AccessReport,
    diagnose::{CheckStatus, DiagnoseReport},
    keys::deliver::Delivered,
    keys::{ApiKeyList, CreatedApiKey, RevokeReport, RotateReport},
    units::deprovision::DeprovisionReport,
    units::inventory::BusinessUnitList,
    units::provision::ProvisionReport,
};

/// Verify-access result.
impl fmt::Display for AccessReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        writeln!(f, "{}", report.summary)?;
        writeln!(f, "  user:   {}", report.user_arn)?;
        writeln!(f, "  model:  {} in {}", report.model_id, report.region)?;
        for check in &report.permissions {
            writeln!(
                f,
                "  {:<13} {} on {}",
                check.decision, check.action, check.resource
            )?;
        }
        if let Some(test) = &report.key_test {
            writeln!(
                f,
                "  key:    {} {} ({}); cost: {}",
                test.call,
                <&str>::from(test.outcome),
                test.detail,
                test.cost
            )?;
        }
        for note in &report.notes {
            writeln!(f, "  note:   {note}")?;
        }
        for step in &report.remediation {
            writeln!(f, "  fix:    {step}")?;
        }
        Ok(())
    }
}

/// Provision result or plan.
impl fmt::Display for ProvisionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        let heading = if report.dry_run { "Plan" } else { "Result" };
        writeln!(f, "{heading} for business unit `{}`", report.business_unit)?;
        writeln!(f, "  user:   {}", report.user_arn)?;
        writeln!(f, "  policy: {}", report.policy_arn)?;
        for resource in &report.resources {
            let status = <&str>::from(resource.status);
            writeln!(f, "  [{status:>9}] {}: {}", resource.id, resource.detail)?;
        }
        for warning in &report.warnings {
            writeln!(f, "  warning: {warning}")?;
        }
        for step in &report.next_steps {
            writeln!(f, "  next: {step}")?;
        }
        Ok(())
    }
}

/// Business units.
impl fmt::Display for BusinessUnitList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = self;
        if list.business_units.is_empty() {
            writeln!(
                f,
                "No business units provisioned yet (provision-user creates one)."
            )?;
        }
        for unit in &list.business_units {
            let owner = unit.tags.get("owner").map_or("-", String::as_str);
            let managed = if unit.managed {
                ""
            } else {
                "  (not managed by bedrock-provisioner)"
            };
            writeln!(
                f,
                "{:<24} owner {owner:<28} {}{managed}",
                unit.business_unit, unit.user_arn
            )?;
            if !unit.missing_tags.is_empty() {
                writeln!(
                    f,
                    "{:<24} missing tags: {}",
                    "",
                    unit.missing_tags.join(", ")
                )?;
            }
            if let Some(spend) = spend_line(unit) {
                writeln!(f, "{:<24} {spend}", "")?;
            }
        }
        for why in &list.unreachable {
            writeln!(f, "not listed: {why}")?;
        }
        Ok(())
    }
}

/// `cap 100.00 USD, ~12.34 USD this month, CAPPED (…)`, when the unit has any of them.
fn spend_line(unit: &crate::core::units::inventory::BusinessUnitSummary) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(cap) = unit.monthly_cap_usd {
        parts.push(format!("cap {cap:.2} USD"));
    }
    if let Some(spent) = unit.month_to_date_usd {
        parts.push(format!("~{spent:.2} USD this month (estimate)"));
    }
    if let Some(capped) = &unit.capped {
        parts.push(format!("CAPPED ({capped})"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A new key (its value only when delivered inline).
impl fmt::Display for CreatedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self;
        let id = key.credential_id.as_deref().unwrap_or("short-term");
        writeln!(
            f,
            "New Bedrock API key for `{}` ({id}), expires {}",
            key.business_unit,
            key.expires.as_deref().unwrap_or("never")
        )?;
        match &key.delivery {
            Delivered::Inline {
                client_settings, ..
            } => {
                writeln!(
                    f,
                    "  export AWS_BEARER_TOKEN_BEDROCK={}",
                    client_settings.aws_bearer_token_bedrock.expose()
                )?;
                writeln!(f, "  export AWS_REGION={}", client_settings.aws_region)?;
                writeln!(
                    f,
                    "  export CLAUDE_CODE_USE_BEDROCK={}",
                    client_settings.claude_code_use_bedrock
                )?;
            }
            Delivered::SecretsManager { secret_arn, .. } => {
                writeln!(f, "  stored in Secrets Manager: {secret_arn}")?;
            }
            Delivered::File { path } => writeln!(f, "  written to {path} (mode 0600)")?,
            Delivered::Planned { destination } => {
                writeln!(f, "  dry run: would go to {destination}")?
            }
        }
        for warning in &key.warnings {
            writeln!(f, "  warning: {warning}")?;
        }
        Ok(())
    }
}

/// Keys with their flags.
impl fmt::Display for ApiKeyList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = self;
        if list.keys.is_empty() {
            writeln!(f, "No Bedrock API keys.")?;
        }
        for key in &list.keys {
            let flags: Vec<String> = key
                .flags
                .iter()
                .map(|f| <&str>::from(*f).to_owned())
                .collect();
            let unit = match &key.account {
                Some(account) => format!("{account}:{}", key.business_unit),
                None => key.business_unit.clone(),
            };
            writeln!(
                f,
                "{unit:<20} {:<24} {:<8} expires {:<22} {}",
                key.credential_id,
                key.status,
                key.expires.as_deref().unwrap_or("never"),
                flags.join(",")
            )?;
        }
        for why in &list.unreachable {
            writeln!(f, "not listed: {why}")?;
        }
        Ok(())
    }
}

/// A rotation.
impl fmt::Display for RotateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        write!(f, "{}", report.new_key)?;
        for id in &report.deleted_credential_ids {
            writeln!(f, "  deleted {id}")?;
        }
        writeln!(f, "  next: {}", report.instruction)?;
        Ok(())
    }
}

/// A revocation.
impl fmt::Display for RevokeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        writeln!(
            f,
            "{} {}: {}",
            report.business_unit,
            report.credential_id,
            <&str>::from(report.outcome)
        )?;
        Ok(())
    }
}

/// A deprovisioning plan or result.
impl fmt::Display for DeprovisionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        let heading = if report.dry_run { "Plan" } else { "Done" };
        writeln!(f, "{heading}: remove `{}`", report.user_name)?;
        for step in &report.steps {
            let action = <&str>::from(step.action);
            writeln!(f, "  {action:<34} {}", step.resource)?;
        }
        Ok(())
    }
}

/// A diagnosis.
impl fmt::Display for DiagnoseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        writeln!(
            f,
            "Diagnosis in {} ({} ms)",
            report.region, report.elapsed_ms
        )?;
        for check in &report.checks {
            let mark = match check.status {
                CheckStatus::Pass => "PASS",
                CheckStatus::Warn => "WARN",
                CheckStatus::Fail => "FAIL",
                CheckStatus::Skipped => "SKIP",
            };
            writeln!(
                f,
                "  {mark:<4}  {:<16} {}",
                check.id.as_str(),
                check.summary
            )?;
            if check.status != CheckStatus::Pass {
                for line in &check.evidence {
                    writeln!(f, "{:24}· {line}", "")?;
                }
                for step in &check.remediation {
                    writeln!(f, "{:24}→ {step}", "")?;
                }
            }
        }
        writeln!(f, "\n{}", report.summary)?;
        Ok(())
    }
}

/// Spend rows and totals.
impl fmt::Display for CostReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        writeln!(
            f,
            "Bedrock spend {} to {} (exclusive), {:?}, tag `{}`",
            report.start, report.end, report.metric, report.tag_key
        )?;
        for row in &report.rows {
            let group: Vec<&str> = [
                &row.business_unit,
                &row.service,
                &row.usage_type,
                &row.model,
            ]
            .into_iter()
            .filter_map(|v| v.as_deref())
            .collect();
            let estimated = if row.estimated { " (estimated)" } else { "" };
            writeln!(
                f,
                "  {} {:<40} {:>12.2} {}{estimated}",
                row.start,
                group.join(" / "),
                row.amount,
                report.currency
            )?;
        }
        for (unit, total) in &report.totals_by_business_unit {
            writeln!(f, "  total {unit:<34} {total:>12.2} {}", report.currency)?;
        }
        writeln!(
            f,
            "  total {:<34} {:>12.2} {}",
            "all", report.total, report.currency
        )?;
        for note in &report.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}

/// Cost allocation tags.
impl fmt::Display for CostTagsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        let verb = if report.dry_run {
            "would activate"
        } else {
            "activated"
        };
        writeln!(f, "{verb}: {}", report.activated.join(", "))?;
        writeln!(f, "already active: {}", report.already_active.join(", "))?;
        writeln!(
            f,
            "not yet known to billing: {}",
            report.not_yet_known.join(", ")
        )?;
        for note in &report.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

/// A budget alert.
impl fmt::Display for BudgetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        writeln!(
            f,
            "{} [{}]",
            report.budget_name,
            <&str>::from(report.status)
        )?;
        for change in &report.changes {
            writeln!(f, "  {change}")?;
        }
        writeln!(
            f,
            "  counts {} for {}",
            report.services.join(", "),
            report.tag_filter
        )?;
        for note in &report.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}

/// `config check`.
impl fmt::Display for crate::config::EffectiveSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "configuration is valid; effective settings:")?;
        match toml::to_string(self) {
            Ok(text) => write!(f, "{text}"),
            Err(error) => writeln!(f, "(cannot show: {error})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_prints_itself() {
        let report: ProvisionReport = serde_json::from_value(serde_json::json!({
            "business_unit": "web", "user_name": "web-bedrock-user", "user_arn": "arn:aws:iam::1:user/web",
            "policy_arn": "arn:aws:iam::1:policy/p", "dry_run": true, "changed": true,
            "resources": [{"resource": "iam_user", "id": "web-bedrock-user", "status": "planned",
                           "detail": "create the user"}],
            "warnings": [], "next_steps": ["create_api_key"]}))
        .unwrap();
        assert_eq!(
            report.to_string(),
            "Plan for business unit `web`\n  user:   arn:aws:iam::1:user/web\n  policy: \
             arn:aws:iam::1:policy/p\n  [  planned] web-bedrock-user: create the user\n  next: \
             create_api_key\n"
        );
    }
}
