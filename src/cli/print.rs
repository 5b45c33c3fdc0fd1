//! Text output for people: one function per result. `--output json` prints the result as the MCP tool
//! returns it instead.

use crate::core::{
    budgets::BudgetReport,
    cost_tags::CostTagsReport,
    costs::CostReport,
    deliver::Delivered,
    deprovision::DeprovisionReport,
    diagnose::{CheckStatus, DiagnoseReport},
    inventory::BusinessUnitList,
    keys::{ApiKeyList, CreatedApiKey, RevokeReport, RotateReport},
    provision::ProvisionReport,
    verify::AccessReport,
};

/// Verify-access result.
pub fn print_access(report: &AccessReport) {
    println!("{}", report.summary);
    println!("  user:   {}", report.user_arn);
    println!("  model:  {} in {}", report.model_id, report.region);
    for check in &report.permissions {
        println!(
            "  {:<13} {} on {}",
            check.decision, check.action, check.resource
        );
    }
    if let Some(test) = &report.key_test {
        println!(
            "  key:    {} {} ({}); cost: {}",
            test.call,
            <&str>::from(test.outcome),
            test.detail,
            test.cost
        );
    }
    for note in &report.notes {
        println!("  note:   {note}");
    }
    for step in &report.remediation {
        println!("  fix:    {step}");
    }
}

/// Provision result or plan.
pub fn print_provision(report: &ProvisionReport) {
    let heading = if report.dry_run { "Plan" } else { "Result" };
    println!("{heading} for business unit `{}`", report.business_unit);
    println!("  user:   {}", report.user_arn);
    println!("  policy: {}", report.policy_arn);
    for resource in &report.resources {
        let status = <&str>::from(resource.status);
        println!("  [{status:>9}] {}: {}", resource.id, resource.detail);
    }
    for warning in &report.warnings {
        println!("  warning: {warning}");
    }
    for step in &report.next_steps {
        println!("  next: {step}");
    }
}

/// Business units.
pub fn print_units(list: &BusinessUnitList) {
    if list.business_units.is_empty() {
        println!("No business units provisioned yet (provision-user creates one).");
    }
    for unit in &list.business_units {
        let owner = unit.tags.get("owner").map_or("-", String::as_str);
        let managed = if unit.managed {
            ""
        } else {
            "  (not managed by bedrock-provisioner)"
        };
        println!(
            "{:<24} owner {owner:<28} {}{managed}",
            unit.business_unit, unit.user_arn
        );
        if !unit.missing_tags.is_empty() {
            println!("{:<24} missing tags: {}", "", unit.missing_tags.join(", "));
        }
        if let Some(spend) = spend_line(unit) {
            println!("{:<24} {spend}", "");
        }
    }
    for why in &list.unreachable {
        println!("not listed: {why}");
    }
}

/// `cap 100.00 USD, ~12.34 USD this month, CAPPED (…)`, when the unit has any of them.
fn spend_line(unit: &crate::core::inventory::BusinessUnitSummary) -> Option<String> {
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
pub fn print_key(key: &CreatedApiKey) {
    let id = key.credential_id.as_deref().unwrap_or("short-term");
    println!(
        "New Bedrock API key for `{}` ({id}), expires {}",
        key.business_unit,
        key.expires.as_deref().unwrap_or("never")
    );
    match &key.delivery {
        Delivered::Inline {
            client_settings, ..
        } => {
            println!(
                "  export AWS_BEARER_TOKEN_BEDROCK={}",
                client_settings.aws_bearer_token_bedrock.expose()
            );
            println!("  export AWS_REGION={}", client_settings.aws_region);
            println!(
                "  export CLAUDE_CODE_USE_BEDROCK={}",
                client_settings.claude_code_use_bedrock
            );
        }
        Delivered::SecretsManager { secret_arn, .. } => {
            println!("  stored in Secrets Manager: {secret_arn}");
        }
        Delivered::File { path } => println!("  written to {path} (mode 0600)"),
        Delivered::Planned { destination } => println!("  dry run: would go to {destination}"),
    }
    for warning in &key.warnings {
        println!("  warning: {warning}");
    }
}

/// Keys with their flags.
pub fn print_keys(list: &ApiKeyList) {
    if list.keys.is_empty() {
        println!("No Bedrock API keys.");
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
        println!(
            "{unit:<20} {:<24} {:<8} expires {:<22} {}",
            key.credential_id,
            key.status,
            key.expires.as_deref().unwrap_or("never"),
            flags.join(",")
        );
    }
    for why in &list.unreachable {
        println!("not listed: {why}");
    }
}

/// A rotation.
pub fn print_rotation(report: &RotateReport) {
    print_key(&report.new_key);
    for id in &report.deleted_credential_ids {
        println!("  deleted {id}");
    }
    println!("  next: {}", report.instruction);
}

/// A revocation.
pub fn print_revocation(report: &RevokeReport) {
    println!(
        "{} {}: {}",
        report.business_unit,
        report.credential_id,
        <&str>::from(report.outcome)
    );
}

/// A deprovisioning plan or result.
pub fn print_deprovision(report: &DeprovisionReport) {
    let heading = if report.dry_run { "Plan" } else { "Done" };
    println!("{heading}: remove `{}`", report.user_name);
    for step in &report.steps {
        let action = <&str>::from(step.action);
        println!("  {action:<34} {}", step.resource);
    }
}

/// A diagnosis.
pub fn print_diagnosis(report: &DiagnoseReport) {
    println!("Diagnosis in {} ({} ms)", report.region, report.elapsed_ms);
    for check in &report.checks {
        let mark = match check.status {
            CheckStatus::Pass => "PASS",
            CheckStatus::Warn => "WARN",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Skipped => "SKIP",
        };
        println!("  {mark:<4}  {:<16} {}", check.id.as_str(), check.summary);
        if check.status != CheckStatus::Pass {
            for line in &check.evidence {
                println!("{:24}· {line}", "");
            }
            for step in &check.remediation {
                println!("{:24}→ {step}", "");
            }
        }
    }
    println!("\n{}", report.summary);
}

/// Spend rows and totals.
pub fn print_costs(report: &CostReport) {
    println!(
        "Bedrock spend {} to {} (exclusive), {:?}, tag `{}`",
        report.start, report.end, report.metric, report.tag_key
    );
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
        println!(
            "  {} {:<40} {:>12.2} {}{estimated}",
            row.start,
            group.join(" / "),
            row.amount,
            report.currency
        );
    }
    for (unit, total) in &report.totals_by_business_unit {
        println!("  total {unit:<34} {total:>12.2} {}", report.currency);
    }
    println!(
        "  total {:<34} {:>12.2} {}",
        "all", report.total, report.currency
    );
    for note in &report.notes {
        println!("  note: {note}");
    }
}

/// Cost allocation tags.
pub fn print_cost_tags(report: &CostTagsReport) {
    let verb = if report.dry_run {
        "would activate"
    } else {
        "activated"
    };
    println!("{verb}: {}", report.activated.join(", "));
    println!("already active: {}", report.already_active.join(", "));
    println!(
        "not yet known to billing: {}",
        report.not_yet_known.join(", ")
    );
    for note in &report.notes {
        println!("note: {note}");
    }
}

/// A budget alert.
pub fn print_budget(report: &BudgetReport) {
    println!("{} [{}]", report.budget_name, <&str>::from(report.status));
    for change in &report.changes {
        println!("  {change}");
    }
    println!(
        "  counts {} for {}",
        report.services.join(", "),
        report.tag_filter
    );
    for note in &report.notes {
        println!("  note: {note}");
    }
}
