//! The spend-control commands: `enable-usage-logging`, `query-usage`, `set-spend-cap` and `enforce`
//! (once, or `--every 5m` as a long-lived process for a scheduler or a container).

use std::{fmt, process::ExitCode, time::Duration};

use clap::Args;

use super::{
    args::{Confirm, Unit},
    setup::Context,
};
use crate::core::spend::{
    caps::{CapAction, EnforceInput, EnforceReport},
    logging::{EnableUsageLoggingInput, UsageLoggingReport},
    set_cap::{SetSpendCapInput, SpendCapReport},
    usage::{QueryUsageInput, UsageReport},
};

/// `enable-usage-logging`.
#[derive(Debug, Args)]
pub struct EnableUsageLoggingArgs {
    /// Days the log group keeps records (one of CloudWatch Logs' retentions) [default: 400].
    #[arg(long)]
    retention_days: Option<u32>,
    #[command(flatten)]
    confirm: Confirm,
}

impl From<EnableUsageLoggingArgs> for EnableUsageLoggingInput {
    fn from(args: EnableUsageLoggingArgs) -> Self {
        Self {
            retention_days: args.retention_days,
            dry_run: args.confirm.dry_run,
            confirm: args.confirm.yes,
            plan_digest: args.confirm.plan_digest,
        }
    }
}

/// `query-usage`.
#[derive(Debug, Args)]
pub struct QueryUsageArgs {
    /// A business unit to include; repeatable [default: every caller].
    #[arg(long = "business-unit")]
    business_units: Vec<String>,
    /// The window: 15m, 6h, 7d back from now, or month (month to date, UTC).
    #[arg(long, default_value = "month")]
    since: String,
    /// Also read every account a fleet manifest names (through its role).
    #[arg(long, value_name = "FILE", value_parser = super::args::read_manifest)]
    manifest: Option<String>,
}

impl From<QueryUsageArgs> for QueryUsageInput {
    fn from(args: QueryUsageArgs) -> Self {
        Self {
            business_units: (!args.business_units.is_empty()).then_some(args.business_units),
            since: Some(args.since),
            manifest: args.manifest,
        }
    }
}

/// `set-spend-cap`.
#[derive(Debug, Args)]
pub struct SetSpendCapArgs {
    #[command(flatten)]
    unit: Unit,
    /// The monthly cap in USD.
    #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
    monthly_cap_usd: Option<f64>,
    /// Remove the unit's cap.
    #[arg(long)]
    remove: bool,
    #[command(flatten)]
    confirm: Confirm,
}

impl From<SetSpendCapArgs> for SetSpendCapInput {
    fn from(args: SetSpendCapArgs) -> Self {
        Self {
            business_unit: args.unit.business_unit,
            monthly_cap_usd: args.monthly_cap_usd,
            dry_run: args.confirm.dry_run,
            confirm: args.confirm.yes,
            plan_digest: args.confirm.plan_digest,
        }
    }
}

/// `enforce`.
#[derive(Debug, Args)]
pub struct EnforceArgs {
    /// Show what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Keep running, enforcing every INTERVAL (e.g. 5m, 1h; at least 1m): for a container or a service.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    every: Option<Duration>,
}

/// `5m`, `1h`, `90s`: at least a minute, at most a day.
pub fn parse_interval(value: &str) -> Result<Duration, String> {
    let split = value.len().saturating_sub(1);
    let (number, unit) = value.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{value}` is not an interval like 5m or 1h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{value}` is not an interval like 5m or 1h")),
    };
    if !(60..=86_400).contains(&seconds) {
        return Err("the interval must be between 1m and 24h".to_owned());
    }
    Ok(Duration::from_secs(seconds))
}

impl Context {
    /// `enforce`: once (exit 1 on failure), or every INTERVAL until SIGTERM/SIGINT (a failed round is
    /// logged and the next one runs).
    pub(super) async fn enforce(&self, args: EnforceArgs) -> ExitCode {
        let input = EnforceInput {
            dry_run: args.dry_run,
        };
        let Some(every) = args.every else {
            let result = crate::operations::mutate(&self.core, &input).await;
            return self.audited("enforce_spend_caps", &input, result).await;
        };
        tracing::info!(
            every_secs = every.as_secs(),
            "enforcing spend caps until stopped"
        );
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let result = crate::operations::mutate(&self.core, &input).await;
                    self.audited("enforce_spend_caps", &input, result).await;
                }
                _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
            }
        }
    }
}

/// Enforce the caps every `every` beside a server (`serve --enforce-every`), each round audited; a failed
/// round is logged and the next one runs. Runs until the process ends.
pub async fn enforce_in_background(
    core: std::sync::Arc<crate::core::Provisioner>,
    audit: std::sync::Arc<crate::audit::AuditLog>,
    every: Duration,
) {
    let input = EnforceInput { dry_run: false };
    let arguments = crate::audit::sanitize(
        serde_json::to_value(&input)
            .ok()
            .as_ref()
            .and_then(|v| v.as_object()),
    );
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let result = crate::operations::mutate(core.as_ref(), &input).await;
        let value = match &result {
            Ok(report) => serde_json::to_value(report).ok(),
            Err(error) => {
                tracing::warn!(%error, "enforcing spend caps failed; the next round runs in {} s", every.as_secs());
                None
            }
        };
        let outcome = result.as_ref().map_or_else(
            |e| crate::audit::Outcome::Error(e.kind().to_owned()),
            |_| crate::audit::Outcome::Ok,
        );
        let call = crate::audit::Call {
            client: format!(
                "serve --enforce-every {} {}",
                every.as_secs(),
                env!("CARGO_PKG_VERSION")
            ),
            tool: "enforce_spend_caps",
            arguments: arguments.clone(),
            outcome,
            result: value.as_ref(),
            effects: result.as_ref().map_or_else(
                crate::audit::Effects::of_error,
                crate::audit::Audited::effects,
            ),
            elicited: false,
            peer: None,
            stream_peer: None,
        };
        audit.record_call(&core, call).await;
    }
}

/// The logging set-up.
impl fmt::Display for UsageLoggingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        writeln!(
            f,
            "invocation logging in {} [{}]",
            report.region,
            <&str>::from(report.status)
        )?;
        for change in &report.changes {
            writeln!(f, "  {change}")?;
        }
        writeln!(
            f,
            "  log group {} ({} days), role {}",
            report.log_group, report.retention_days, report.role_arn
        )?;
        writeln!(f, "  prompts and answers stored: no")?;
        Ok(())
    }
}

/// Usage per unit and model.
impl fmt::Display for UsageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        writeln!(
            f,
            "usage since {} ({} to {}), from {}",
            report.since, report.start, report.end, report.log_group
        )?;
        for row in &report.rows {
            let unit = row.business_unit.as_deref().unwrap_or("(not a unit)");
            let usd = row
                .estimated_usd
                .map_or_else(|| "no price".to_owned(), |u| format!("~{u:.4} USD"));
            writeln!(
                f,
                "  {unit:<24} {:<48} {:>6} calls {:>10} in {:>9} out  {usd}",
                row.model_id, row.invocations, row.input_tokens, row.output_tokens
            )?;
        }
        for (unit, usd) in &report.estimated_usd_by_business_unit {
            writeln!(f, "  total {unit:<24} ~{usd:.4} USD (estimate)")?;
        }
        for note in &report.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

/// A cap change.
impl fmt::Display for SpendCapReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        let cap = |c: Option<f64>| c.map_or_else(|| "none".to_owned(), |c| format!("{c:.2} USD"));
        writeln!(
            f,
            "{}: monthly cap {} (was {}) [{}]",
            report.business_unit,
            cap(report.cap_usd),
            cap(report.previous_cap_usd),
            <&str>::from(report.status)
        )?;
        for step in &report.next_steps {
            writeln!(f, "  next: {step}")?;
        }
        Ok(())
    }
}

/// What enforcing did.
impl fmt::Display for EnforceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self;
        let verb = if report.dry_run { " (dry run)" } else { "" };
        writeln!(
            f,
            "spend caps, {}{verb}, checked at {}",
            report.period, report.checked_at
        )?;
        for unit in &report.units {
            let flag = match unit.action {
                CapAction::Capped => "CAPPED",
                CapAction::Lifted => "lifted",
                CapAction::StillCapped => "capped",
                CapAction::WithinCap | CapAction::NoCap => "ok",
            };
            writeln!(f, "  {:<24} {flag:<7} {}", unit.business_unit, unit.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_interval;

    #[test]
    fn intervals_are_minutes_to_a_day() {
        assert_eq!(parse_interval("5m").unwrap().as_secs(), 300);
        assert_eq!(parse_interval("1h").unwrap().as_secs(), 3600);
        for bad in ["", "5", "30s", "25h", "m", "-5m", "5 m"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
