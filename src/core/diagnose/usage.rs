//! The `usage_logging` check: is Bedrock's invocation logging on (usage within minutes and spend caps need
//! it), does it store prompts, and, for a business unit, its cap and whether it is capped, since when, by
//! what, and when that lifts.

use super::{CheckId, CheckResult, Request};
use crate::core::{
    Provisioner,
    aws::iam::attached_policies,
    domain::names::{BusinessUnit, same_tag_key},
    spend::{
        caps::{CAP_TAG, CAPPED_TAG, DENY_POLICY_NAME},
        window::next_month_start,
    },
};

impl Provisioner {
    pub(super) async fn check_usage_logging(&self, request: &Request) -> CheckResult {
        let id = CheckId::UsageLogging;
        let region = &request.region;
        let mut result = match self.logging_configuration().await {
            Err(error) => return CheckResult::from_error(id, &error),
            Ok(None) => CheckResult::pass(id, format!("model invocation logging is off in {region} (optional: usage within minutes and spend caps need it)"))
                .fix("To see usage within minutes and enforce spend caps: run enable_usage_logging (admin) once per account and region; no prompt or answer is stored."),
            Ok(Some(config)) => match (&config.log_group, config.delivers_data) {
                (None, _) => CheckResult::warn(id, format!("invocation logging in {region} goes to S3 only"))
                    .fix("query_usage reads CloudWatch Logs: add a CloudWatch destination to the existing configuration."),
                (Some(group), true) => CheckResult::warn(id, format!("invocation logging in {region} stores prompts or answers in {group}"))
                    .fix("Turn the data-delivery flags off unless prompts must be kept (enable_usage_logging refuses to overwrite a configuration it did not make)."),
                (Some(group), false) => CheckResult::pass(id, format!("invocation logging in {region} goes to {group}, without prompts or answers")),
            },
        };
        if let Some(unit) = &request.unit {
            let (lines, capped) = self.cap_evidence(unit).await;
            if capped && result.status != super::CheckStatus::Warn {
                result = CheckResult::warn(id, format!("business unit `{unit}` is capped: its monthly spend cap is spent"))
                    .fix(format!("Raise the cap (set_spend_cap business_unit `{unit}`) and run enforce_spend_caps, or wait for the month to turn."));
            } else if lines.iter().any(|l| l.contains("monthly cap of"))
                && result.summary.contains("is off")
            {
                result = CheckResult::fail(id, format!("business unit `{unit}` has a spend cap, but invocation logging is off in {region}: the cap is never enforced"))
                    .fix("Run enable_usage_logging (admin), then enforce_spend_caps on a schedule.");
            }
            for line in lines {
                result = result.evidence(line);
            }
        }
        result
    }

    /// The unit's cap, and when it is capped: since when, by what, when it lifts; whether it is capped.
    async fn cap_evidence(&self, unit: &BusinessUnit) -> (Vec<String>, bool) {
        let Ok(user) = self.managed_user(unit).await else {
            return (Vec::new(), false);
        };
        let tag = |key: &str| {
            user.tags
                .iter()
                .find(|(k, _)| same_tag_key(k, key))
                .map(|(_, v)| v.clone())
        };
        let mut lines = vec![match tag(CAP_TAG) {
            Some(cap) => format!("`{unit}` has a monthly cap of {cap} USD"),
            None => format!("`{unit}` has no monthly spend cap"),
        }];
        let iam = &self.clients().await.iam;
        let denied = attached_policies(iam, &user.name)
            .await
            .unwrap_or_default()
            .iter()
            .any(|arn| arn.ends_with(&format!("/{DENY_POLICY_NAME}")));
        if denied {
            let next = next_month_start(self.now()).to_rfc3339();
            lines.push(format!(
                "`{unit}` is capped: every key is denied by {DENY_POLICY_NAME} ({}); enforce_spend_caps lifts it when the month turns ({next}) or the cap is raised",
                tag(CAPPED_TAG).unwrap_or_else(|| "attached by a Budgets action or by hand".to_owned())
            ));
        }
        (lines, denied)
    }
}
