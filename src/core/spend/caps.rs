//! Monthly spend caps. A unit's cap is a tag on its IAM user (so every machine running the tool agrees);
//! `enforce_spend_caps` compares each unit's month-to-date estimate with its cap and, once it is spent,
//! attaches this project's deny policy to the unit's user (every long-term key of the unit is that user, so
//! every key stops), recording why on the user; it lifts the deny when the month turns or the cap is raised.

use std::collections::BTreeMap;

use aws_sdk_iam::types::EntityType;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{usage::by_unit, window};
use crate::core::{
    MANAGED_BY_KEY, MANAGED_BY_VALUE, Provisioner,
    aws::iam::tag,
    aws::sdk_error,
    domain::error::{Error, Result},
    domain::names::{USER_SUFFIX, same_tag_key},
    domain::plan::Plan,
};

/// The tag holding a unit's monthly cap in USD.
pub const CAP_TAG: &str = "bedrock-provisioner:monthly-cap-usd";
/// The tag recording why the unit is capped: `<YYYY-MM> spent <X> of <cap> USD`.
pub const CAPPED_TAG: &str = "bedrock-provisioner:capped";
/// The deny policy attached to a capped unit's user.
pub use crate::core::domain::policy::DENY_POLICY_NAME;
/// The largest cap accepted, in USD.
pub const MAX_CAP_USD: f64 = 1_000_000.0;

/// The deny policy: every action a Claude call (or a key) needs.
pub fn deny_document() -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "MonthlySpendCapReached",
        "Effect": "Deny",
        "Action": [
            "bedrock:InvokeModel",
            "bedrock:InvokeModelWithResponseStream",
            "bedrock:CallWithBearerToken",
            "bedrock-mantle:CallWithBearerToken"
        ],
        "Resource": "*"
    }]})
}

/// Parse a cap as given (`monthly_cap_usd`): more than 0, at most [`MAX_CAP_USD`], cents.
pub fn parse_cap(field: &str, value: f64) -> Result<f64> {
    if !(value.is_finite() && value > 0.0 && value <= MAX_CAP_USD) {
        return Err(Error::invalid(
            field,
            format!("must be more than 0 and at most {MAX_CAP_USD:.0} USD (got {value})"),
        ));
    }
    Ok((value * 100.0).round() / 100.0)
}

/// What enforcing did (or would do) to one unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapAction {
    /// The cap is spent: the deny was attached.
    Capped,
    /// Already capped this period.
    StillCapped,
    /// The deny was lifted: the month turned, or the cap was raised or removed.
    Lifted,
    /// Under its cap.
    WithinCap,
    /// No cap.
    NoCap,
}

/// One unit's enforcement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CapDecision {
    /// The business unit.
    pub business_unit: String,
    /// Its monthly cap in USD.
    pub cap_usd: Option<f64>,
    /// Its estimated spend this month in USD.
    pub spent_usd: f64,
    /// What was (or, in a dry run, would be) done.
    pub action: CapAction,
    /// Why, in words.
    pub reason: String,
}

/// Input of `enforce_spend_caps`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnforceInput {
    /// Only report what would change.
    #[serde(default)]
    pub dry_run: bool,
}

/// An `enforce_spend_caps` plan: for each unit with a cap (or a deny to lift), its decision and the steps
/// that carry it out.
#[derive(Debug)]
pub struct EnforcePlan {
    /// The report, its units filled in as they are applied (all at once for a dry run).
    report: EnforceReport,
    /// (the unit's user, its decision, its steps).
    units: Vec<(String, CapDecision, Vec<CapStep>)>,
}

impl Plan for EnforcePlan {
    type Report = EnforceReport;

    /// None: enforcement only carries out caps the user set (`set_spend_cap` asked then).
    fn confirmation(&self) -> Option<String> {
        None
    }

    fn render(self) -> EnforceReport {
        let mut report = self.report;
        report.units = self
            .units
            .into_iter()
            .map(|(_, decision, _)| decision)
            .collect();
        report
    }
}

/// Result of `enforce_spend_caps`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EnforceReport {
    /// The period: `YYYY-MM` (UTC).
    pub period: String,
    /// When the spend was read (RFC 3339).
    pub checked_at: String,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// Every managed unit with a cap, or capped.
    pub units: Vec<CapDecision>,
    /// What to know.
    pub notes: Vec<String>,
}

/// A managed unit's user as enforcement sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitState {
    /// The business unit.
    pub unit: String,
    /// Its user.
    pub user_name: String,
    /// Its cap.
    pub cap: Option<f64>,
    /// Whether the deny policy is attached.
    pub denied: bool,
    /// The `capped` tag's value.
    pub capped: Option<String>,
    /// Whether its Budgets backstop attached the deny for billed spend of this month.
    pub backstop: Backstop,
}

/// The unit's Budgets backstop action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backstop {
    /// None, or not fired.
    #[default]
    Idle,
    /// It attached the deny, for this month's billed spend.
    FiredThisMonth,
    /// It attached the deny in an earlier month: to reverse and reset.
    FiredEarlier,
}

/// What to do to one unit: its decision, and the IAM changes (attach, tag) it needs.
pub fn decide(state: &UnitState, spent: f64, period: &str) -> (CapDecision, Vec<CapStep>) {
    let by_budgets = state.backstop == Backstop::FiredThisMonth;
    let over = state.cap.is_some_and(|cap| spent >= cap) || by_budgets;
    let record = record(state, spent, period);
    let same_period = state
        .capped
        .as_deref()
        .is_some_and(|v| v.starts_with(period));
    let (action, steps, reason) = match (over, state.denied) {
        (true, false) => (
            CapAction::Capped,
            vec![CapStep::Attach, CapStep::Tag(record.clone())],
            format!("cap spent: {record}"),
        ),
        (true, true) if same_period => (
            CapAction::StillCapped,
            Vec::new(),
            format!("capped since {}", state.capped.clone().unwrap_or_default()),
        ),
        (true, true) => (
            CapAction::StillCapped,
            vec![CapStep::Tag(record.clone())],
            format!("cap spent again: {record}"),
        ),
        (false, true) => {
            let why = if !same_period {
                "the month turned"
            } else if state.cap.is_none() {
                "the cap was removed"
            } else {
                "the cap was raised"
            };
            (
                CapAction::Lifted,
                vec![CapStep::Detach, CapStep::Untag],
                format!("{why}: {record}"),
            )
        }
        (false, false) if state.cap.is_some() => {
            (CapAction::WithinCap, stale_tag(state), record.clone())
        }
        (false, false) => (CapAction::NoCap, stale_tag(state), "no cap".to_owned()),
    };
    let mut steps = steps;
    steps.extend((state.backstop == Backstop::FiredEarlier).then_some(CapStep::ResetBackstop));
    let decision = CapDecision {
        business_unit: state.unit.clone(),
        cap_usd: state.cap,
        spent_usd: (spent * 100.0).round() / 100.0,
        action,
        reason,
    };
    (decision, steps)
}

/// What the `capped` tag records: the month, and the estimate against the cap, or the backstop.
fn record(state: &UnitState, spent: f64, period: &str) -> String {
    let cap = state.cap.unwrap_or(0.0);
    if state.backstop == Backstop::FiredThisMonth && spent < cap {
        format!("{period} billed spend reached the cap by the Budgets backstop")
    } else {
        format!("{period} spent {spent:.2} of {cap:.2} USD")
    }
}

fn stale_tag(state: &UnitState) -> Vec<CapStep> {
    state.capped.iter().map(|_| CapStep::Untag).collect()
}

/// One IAM change of enforcement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CapStep {
    /// Attach the deny policy.
    Attach,
    /// Detach it.
    Detach,
    /// Record why (the `capped` tag).
    Tag(String),
    /// Remove the record.
    Untag,
    /// Reverse and reset the unit's Budgets backstop action (it attached last month's deny).
    ResetBackstop,
}

impl Provisioner {
    /// The plan of enforcing every cap: each unit's state, spend this month and decision.
    pub async fn plan_enforce(&self, _input: &EnforceInput) -> Result<EnforcePlan> {
        let now = self.now();
        let period = window::period(now);
        let mut states = self.cap_states().await?;
        let mut notes = Vec::new();
        let capped_any = states
            .iter()
            .any(|s| s.cap.is_some() || s.denied || s.capped.is_some());
        if capped_any {
            self.read_backstops(&mut states, &period, &mut notes).await;
        }
        let spent = if capped_any {
            self.month_spend(now, &mut notes).await?
        } else {
            BTreeMap::new()
        };
        let units = states
            .iter()
            .map(|state| {
                let spent = spent.get(&state.unit).copied().unwrap_or(0.0);
                let (decision, steps) = decide(state, spent, &period);
                (state.user_name.clone(), decision, steps)
            })
            .filter(|(_, decision, steps)| decision.action != CapAction::NoCap || !steps.is_empty())
            .collect();
        Ok(EnforcePlan {
            report: EnforceReport {
                period,
                checked_at: now.to_rfc3339(),
                dry_run: true,
                units: Vec::new(),
                notes,
            },
            units,
        })
    }

    /// Apply an enforcement plan: each unit's steps, in order.
    pub async fn apply_enforce(&self, plan: EnforcePlan) -> Result<EnforceReport> {
        let EnforcePlan { mut report, units } = plan;
        for (user_name, decision, steps) in units {
            for step in &steps {
                self.cap_step(&user_name, step).await?;
            }
            if !steps.is_empty() {
                tracing::info!(unit = %decision.business_unit, action = ?decision.action, reason = %decision.reason, "spend cap");
            }
            report.units.push(decision);
        }
        report.dry_run = false;
        Ok(report)
    }

    /// Each unit's Budgets backstop, from the account's actions and the unit's own record.
    async fn read_backstops(
        &self,
        states: &mut [UnitState],
        period: &str,
        notes: &mut Vec<String>,
    ) {
        let fired = match self.backstops(period).await {
            Ok(fired) => fired,
            Err(error) => {
                notes.push(format!("The Budgets backstops could not be read ({error}); caps were enforced from usage alone."));
                return;
            }
        };
        for state in states {
            state.backstop = match (fired.get(&state.unit), &state.capped) {
                (None, _) => Backstop::Idle,
                // The record says when it was capped; Budgets' calculated spend may still show last
                // month's figure for hours after the month turns.
                (Some(_), Some(record)) if record.starts_with(period) => Backstop::FiredThisMonth,
                (Some(_), Some(_)) => Backstop::FiredEarlier,
                (Some(by_spend), None) => *by_spend,
            };
        }
    }

    /// Every unit's estimated spend this month (one query); none when invocation logging is off.
    async fn month_spend(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        notes: &mut Vec<String>,
    ) -> Result<BTreeMap<String, f64>> {
        let Some(log_group) = self
            .logging_configuration()
            .await?
            .and_then(|c| c.log_group)
        else {
            notes.push("Invocation logging is off (enable_usage_logging): no usage is read, so caps are enforced only where a Budgets backstop fired.".to_owned());
            return Ok(BTreeMap::new());
        };
        let region = self.clients().await.region.clone();
        let (rows, usage_notes) = self
            .priced_usage(&log_group, window::month_start(now), now, &region)
            .await?;
        notes.extend(usage_notes);
        Ok(by_unit(&rows))
    }

    async fn cap_step(&self, user_name: &str, step: &CapStep) -> Result<()> {
        let iam = &self.clients().await.iam;
        match step {
            CapStep::Attach => {
                let arn = self.deny_policy().await?;
                iam.attach_user_policy()
                    .user_name(user_name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:AttachUserPolicy", e))?;
            }
            CapStep::Detach => {
                let arn = self.deny_policy_arn().await?;
                let detached = iam
                    .detach_user_policy()
                    .user_name(user_name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:DetachUserPolicy", e));
                match detached {
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
            CapStep::Tag(value) => {
                iam.tag_user()
                    .user_name(user_name)
                    .tags(tag(CAPPED_TAG, value)?)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:TagUser", e))?;
            }
            CapStep::ResetBackstop => {
                let unit = user_name.strip_suffix(USER_SUFFIX).unwrap_or(user_name);
                self.reset_backstop(unit).await?;
            }
            CapStep::Untag => {
                iam.untag_user()
                    .user_name(user_name)
                    .tag_keys(CAPPED_TAG)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam:UntagUser", e))?;
            }
        }
        Ok(())
    }

    /// The deny policy's ARN in the caller's account.
    pub(crate) async fn deny_policy_arn(&self) -> Result<String> {
        let caller = self.caller().await?;
        Ok(format!(
            "arn:{}:iam::{}:policy{}{DENY_POLICY_NAME}",
            caller.partition,
            caller.account,
            self.settings().iam_path
        ))
    }

    /// The deny policy's ARN, created when it does not exist yet.
    pub(crate) async fn deny_policy(&self) -> Result<String> {
        let arn = self.deny_policy_arn().await?;
        let iam = &self.clients().await.iam;
        let created = iam
            .create_policy()
            .policy_name(DENY_POLICY_NAME)
            .path(&self.settings().iam_path)
            .policy_document(deny_document().to_string())
            .description("bedrock-provisioner: attached to a business unit's user while its monthly spend cap is spent")
            .tags(tag(MANAGED_BY_KEY, MANAGED_BY_VALUE)?)
            .send()
            .await
            .map_err(|e| sdk_error("iam:CreatePolicy", e));
        super::logging::ignore_exists(created)?;
        Ok(arn)
    }

    /// Every managed unit's cap, deny and record, from one paged listing.
    pub(crate) async fn cap_states(&self) -> Result<Vec<UnitState>> {
        let iam = &self.clients().await.iam;
        let mut states = Vec::new();
        let mut marker = None;
        loop {
            let page = iam
                .get_account_authorization_details()
                .filter(EntityType::User)
                .max_items(1000)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| sdk_error("iam:GetAccountAuthorizationDetails", e))?;
            states.extend(page.user_detail_list().iter().filter_map(state_of));
            marker = page.marker().map(str::to_owned);
            if !page.is_truncated() || marker.is_none() {
                return Ok(states);
            }
        }
    }
}

/// A managed unit's state from its listing; `None` for other users.
fn state_of(user: &aws_sdk_iam::types::UserDetail) -> Option<UnitState> {
    let name = user.user_name()?;
    let unit = name.strip_suffix(USER_SUFFIX)?;
    let tag = |key: &str| {
        user.tags()
            .iter()
            .find(|t| same_tag_key(t.key(), key))
            .map(|t| t.value().to_owned())
    };
    if tag(MANAGED_BY_KEY).as_deref() != Some(MANAGED_BY_VALUE) {
        return None;
    }
    Some(UnitState {
        unit: unit.to_owned(),
        user_name: name.to_owned(),
        cap: tag(CAP_TAG).and_then(|v| v.parse().ok()),
        denied: user
            .attached_managed_policies()
            .iter()
            .any(|p| p.policy_name() == Some(DENY_POLICY_NAME)),
        capped: tag(CAPPED_TAG),
        backstop: Backstop::Idle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(cap: Option<f64>, denied: bool, capped: Option<&str>) -> UnitState {
        UnitState {
            unit: "a".into(),
            user_name: "a-bedrock-user".into(),
            cap,
            denied,
            capped: capped.map(str::to_owned),
            backstop: Backstop::Idle,
        }
    }

    #[test]
    fn the_budgets_backstop_holds_this_month_and_is_reset_after() {
        let fired = UnitState {
            backstop: Backstop::FiredThisMonth,
            ..state(Some(5.0), true, None)
        };
        let (d, steps) = decide(&fired, 0.0, "2026-12");
        assert_eq!(
            d.action,
            CapAction::StillCapped,
            "billed spend outranks the estimate"
        );
        assert_eq!(
            steps,
            [CapStep::Tag(
                "2026-12 billed spend reached the cap by the Budgets backstop".into()
            )]
        );
        let earlier = UnitState {
            backstop: Backstop::FiredEarlier,
            ..state(
                Some(5.0),
                true,
                Some("2026-11 billed spend reached the cap by the Budgets backstop"),
            )
        };
        let (d, steps) = decide(&earlier, 0.0, "2026-12");
        assert_eq!(d.action, CapAction::Lifted);
        assert_eq!(
            steps,
            [CapStep::Detach, CapStep::Untag, CapStep::ResetBackstop]
        );
    }

    #[test]
    fn a_spent_cap_denies_and_the_next_month_lifts() {
        let (d, steps) = decide(&state(Some(1.0), false, None), 1.2, "2026-12");
        assert_eq!(d.action, CapAction::Capped);
        assert_eq!(
            steps,
            [
                CapStep::Attach,
                CapStep::Tag("2026-12 spent 1.20 of 1.00 USD".into())
            ]
        );
        let capped = state(Some(1.0), true, Some("2026-12 spent 1.20 of 1.00 USD"));
        assert_eq!(
            decide(&capped, 1.5, "2026-12"),
            (
                CapDecision {
                    business_unit: "a".into(),
                    cap_usd: Some(1.0),
                    spent_usd: 1.5,
                    action: CapAction::StillCapped,
                    reason: "capped since 2026-12 spent 1.20 of 1.00 USD".into()
                },
                vec![]
            )
        );
        let (d, steps) = decide(&capped, 0.0, "2027-01");
        assert_eq!(d.action, CapAction::Lifted);
        assert!(d.reason.starts_with("the month turned"));
        assert_eq!(steps, [CapStep::Detach, CapStep::Untag]);
    }

    #[test]
    fn a_raised_or_removed_cap_lifts_and_an_untouched_unit_has_no_steps() {
        let capped = |cap| state(cap, true, Some("2026-12 spent 1.20 of 1.00 USD"));
        assert!(
            decide(&capped(Some(5.0)), 1.2, "2026-12")
                .0
                .reason
                .starts_with("the cap was raised")
        );
        assert!(
            decide(&capped(None), 1.2, "2026-12")
                .0
                .reason
                .starts_with("the cap was removed")
        );
        assert_eq!(
            decide(&state(Some(100.0), false, None), 3.0, "2026-12").1,
            vec![]
        );
        assert_eq!(
            decide(&state(None, false, None), 3.0, "2026-12").0.action,
            CapAction::NoCap
        );
    }

    #[test]
    fn caps_are_bounded_and_in_cents() {
        assert_eq!(parse_cap("monthly_cap_usd", 1.234).unwrap(), 1.23);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e12] {
            assert!(
                parse_cap("monthly_cap_usd", bad)
                    .unwrap_err()
                    .to_string()
                    .contains("monthly_cap_usd"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_deny_covers_every_way_to_call() {
        let text = deny_document().to_string();
        for action in [
            "bedrock:InvokeModel",
            "bedrock:InvokeModelWithResponseStream",
            "bedrock:CallWithBearerToken",
        ] {
            assert!(text.contains(action), "{action}");
        }
    }
}
