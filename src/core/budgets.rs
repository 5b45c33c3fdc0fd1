//! `create_budget_alert`: a monthly AWS Budgets cost budget per business unit, filtered to its tag and to
//! Bedrock's billing services, with e-mail alerts at thresholds. Idempotent: an existing budget of the
//! same name is updated to match, and a second identical call changes nothing.

use std::sync::LazyLock;

use aws_sdk_budgets::types::{
    Budget, BudgetType, ComparisonOperator, Dimension, Expression, ExpressionDimensionValues,
    Notification, NotificationType, NotificationWithSubscribers, Spend, Subscriber,
    SubscriptionType, TagValues, ThresholdType, TimeUnit,
};
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Provisioner,
    aws::sdk_error,
    cost_tags::carries_tag,
    costs::{BUSINESS_UNIT_TAG, today},
    error::{Error, Result, found},
    names::BusinessUnit,
    provision::ChangeStatus,
};

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[^@\s]+@[^@\s]+\.[^@\s]+$").unwrap_or_else(|_| unreachable!("static regex"))
});

/// Whether a threshold looks at actual or forecasted spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpendKind {
    /// Spend so far this month.
    Actual,
    /// Spend forecast for the month.
    Forecasted,
}

/// One alert threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Percent of the limit, 1-1000.
    pub percent: f64,
    /// `actual` or `forecasted`.
    pub kind: SpendKind,
}

/// Input of `create_budget_alert`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetAlertInput {
    /// The business unit.
    pub business_unit: String,
    /// Monthly limit in USD.
    pub monthly_limit_usd: f64,
    /// E-mail addresses alerted (1-10).
    pub emails: Vec<String>,
    /// Alert thresholds (default: 80 % and 100 % actual, 100 % forecasted).
    #[serde(default)]
    pub thresholds: Option<Vec<Threshold>>,
    /// The cost allocation tag key of business units (default: discovered, as query_costs does).
    #[serde(default)]
    pub tag_key: Option<String>,
    /// Only report what would change.
    #[serde(default)]
    pub dry_run: bool,
    /// Must be true to create or overwrite the budget.
    #[serde(default)]
    pub confirm: bool,
}

/// Result of `create_budget_alert`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct BudgetReport {
    /// The budget's name.
    pub budget_name: String,
    /// `created`, `updated`, `unchanged` or `planned`.
    pub status: ChangeStatus,
    /// What changed (or would).
    pub changes: Vec<String>,
    /// The billing services the budget counts.
    pub services: Vec<String>,
    /// The tag filter (`<tag key>=<business unit>`).
    pub tag_filter: String,
    /// What may keep the budget from counting the unit's spend (inactive tag, IAM-principal tag key).
    pub notes: Vec<String>,
}

/// A validated request.
struct BudgetRequest {
    unit: BusinessUnit,
    limit: String,
    emails: Vec<String>,
    thresholds: Vec<Threshold>,
}

impl BudgetAlertInput {
    fn validate(&self) -> Result<BudgetRequest> {
        let unit = BusinessUnit::parse("business_unit", &self.business_unit)?;
        if !(self.monthly_limit_usd > 0.0 && self.monthly_limit_usd <= 1e9) {
            return Err(Error::invalid(
                "monthly_limit_usd",
                "must be more than 0 and at most 1000000000",
            ));
        }
        if self.emails.is_empty() || self.emails.len() > 10 {
            return Err(Error::invalid(
                "emails",
                "needs 1-10 addresses (AWS Budgets' limit per notification)",
            ));
        }
        if let Some(bad) = self.emails.iter().find(|e| !EMAIL.is_match(e)) {
            return Err(Error::invalid(
                "emails",
                format!("`{bad}` is not an e-mail address"),
            ));
        }
        let thresholds = self.thresholds.clone().unwrap_or_else(|| {
            vec![
                Threshold {
                    percent: 80.0,
                    kind: SpendKind::Actual,
                },
                Threshold {
                    percent: 100.0,
                    kind: SpendKind::Actual,
                },
                Threshold {
                    percent: 100.0,
                    kind: SpendKind::Forecasted,
                },
            ]
        });
        if thresholds.is_empty() || thresholds.len() > 5 {
            return Err(Error::invalid(
                "thresholds",
                "needs 1-5 thresholds (AWS Budgets allows 5 notifications per budget)",
            ));
        }
        if let Some(bad) = thresholds
            .iter()
            .find(|t| !(t.percent > 0.0 && t.percent <= 1000.0))
        {
            return Err(Error::invalid(
                "thresholds",
                format!("percent must be in (0, 1000]; got {}", bad.percent),
            ));
        }
        let mut emails = self.emails.clone();
        emails.sort();
        emails.dedup();
        Ok(BudgetRequest {
            unit,
            limit: format!("{:.2}", self.monthly_limit_usd),
            emails,
            thresholds,
        })
    }
}

fn notification(threshold: &Threshold) -> Result<Notification> {
    Notification::builder()
        .notification_type(match threshold.kind {
            SpendKind::Actual => NotificationType::Actual,
            SpendKind::Forecasted => NotificationType::Forecasted,
        })
        .comparison_operator(ComparisonOperator::GreaterThan)
        .threshold(threshold.percent)
        .threshold_type(ThresholdType::Percentage)
        .build()
        .map_err(|e| Error::invalid("thresholds", e.to_string()))
}

fn same_notification(a: &Notification, b: &Notification) -> bool {
    a.notification_type() == b.notification_type()
        && a.comparison_operator() == b.comparison_operator()
        && (a.threshold() - b.threshold()).abs() < 1e-9
        && a.threshold_type().unwrap_or(&ThresholdType::Percentage)
            == b.threshold_type().unwrap_or(&ThresholdType::Percentage)
}

/// What a budget filter selects, independent of the order AWS returns services and values in.
#[derive(Debug, Default, PartialEq, Eq)]
struct FilterSummary {
    /// Billing services (`SERVICE` dimension).
    services: std::collections::BTreeSet<String>,
    /// Tag key -> values.
    tags: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Parts this tool never writes (other dimensions, `Or`, `Not`, cost categories): never equal.
    foreign: usize,
}

impl FilterSummary {
    /// The summary of `expression`; `None` (no filter) summarizes to nothing selected.
    fn of(expression: Option<&Expression>) -> Self {
        let mut summary = Self::default();
        if let Some(expression) = expression {
            summary.add(expression);
        }
        summary
    }

    fn add(&mut self, expression: &Expression) {
        for part in expression.and() {
            self.add(part);
        }
        if let Some(dimension) = expression.dimensions() {
            if dimension.key() == &Dimension::Service && dimension.match_options().is_empty() {
                self.services.extend(dimension.values().iter().cloned());
            } else {
                self.foreign += 1;
            }
        }
        if let Some(tags) = expression.tags() {
            let key = tags.key().unwrap_or_default().to_owned();
            let values = self.tags.entry(key).or_default();
            values.extend(tags.values().iter().cloned());
            self.foreign += tags.match_options().len();
        }
        let foreign = !expression.or().is_empty()
            || expression.not().is_some()
            || expression.cost_categories().is_some();
        self.foreign += usize::from(foreign);
    }
}

impl Provisioner {
    /// Create or update the business unit's monthly Bedrock budget and its alerts.
    pub async fn create_budget_alert(&self, input: &BudgetAlertInput) -> Result<BudgetReport> {
        let request = input.validate()?;
        self.settings()
            .governance
            .check_unit("business_unit", &request.unit)?;
        let caller = self.caller().await?.clone();
        let (tag_key, tag_note) = match &input.tag_key {
            Some(key) => (key.clone(), None),
            None => self.business_unit_tag_key().await?,
        };
        let mut notes: Vec<String> = tag_note.into_iter().collect();
        if tag_key != BUSINESS_UNIT_TAG && carries_tag(&tag_key, BUSINESS_UNIT_TAG) {
            notes.push(format!(
                "`{tag_key}` is an IAM-principal cost allocation tag. AWS documents these for Cost Explorer and CUR 2.0, not for Budgets: 24-48 h after the unit's first Bedrock calls, check that the budget's actual spend follows query_costs; if it stays at 0, pass tag_key `{BUSINESS_UNIT_TAG}` and tag the unit's application inference profiles instead."
            ));
        }
        let mut services = self.recent_bedrock_services().await?;
        if !services.iter().any(|s| s == "Amazon Bedrock") {
            services.push("Amazon Bedrock".to_owned());
            services.sort();
        }
        let budget_name = format!("bedrock-{}-monthly", request.unit);
        let tag_filter = format!("{tag_key}={}", request.unit);
        let budget = Budget::builder()
            .budget_name(&budget_name)
            .budget_limit(
                Spend::builder()
                    .amount(&request.limit)
                    .unit("USD")
                    .build()
                    .map_err(|e| Error::refused("monthly_limit_usd", e.to_string()))?,
            )
            .time_unit(TimeUnit::Monthly)
            .budget_type(BudgetType::Cost)
            .filter_expression(
                Expression::builder()
                    .and(
                        Expression::builder()
                            .dimensions(
                                ExpressionDimensionValues::builder()
                                    .key(Dimension::Service)
                                    .set_values(Some(services.clone()))
                                    .build()
                                    .map_err(|e| Error::refused("business_unit", e.to_string()))?,
                            )
                            .build(),
                    )
                    .and(
                        Expression::builder()
                            .tags(
                                TagValues::builder()
                                    .key(&tag_key)
                                    .values(request.unit.to_string())
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
            .map_err(|e| Error::refused("business_unit", e.to_string()))?;
        let wanted: Vec<Notification> = request
            .thresholds
            .iter()
            .map(notification)
            .collect::<Result<_>>()?;
        let subscribers: Vec<Subscriber> = request
            .emails
            .iter()
            .map(|address| {
                Subscriber::builder()
                    .subscription_type(SubscriptionType::Email)
                    .address(address)
                    .build()
                    .map_err(|e| Error::refused("emails", e.to_string()))
            })
            .collect::<Result<_>>()?;
        let budgets = &self.clients().await.budgets;
        let existing = found(
            budgets
                .describe_budget()
                .account_id(&caller.account)
                .budget_name(&budget_name)
                // AWS omits the filter unless asked: without this every rerun would see "no filter",
                // call UpdateBudget and reset the budget's calculated spend.
                .show_filter_expression(true)
                .send()
                .await
                .map_err(|e| sdk_error("budgets:DescribeBudget", e)),
        )?
        .and_then(|out| out.budget);
        let mut changes = Vec::new();
        let mut update_budget = false;
        let mut to_delete: Vec<Notification> = Vec::new();
        let mut to_create: Vec<Notification> = wanted.clone();
        if let Some(current) = &existing {
            let limit = current
                .budget_limit()
                .and_then(|l| l.amount().parse::<f64>().ok());
            if limit.is_none_or(|l| format!("{l:.2}") != request.limit) {
                changes.push(format!("set the limit to {} USD", request.limit));
                update_budget = true;
            }
            if FilterSummary::of(current.filter_expression())
                != FilterSummary::of(budget.filter_expression())
            {
                changes.push(
                    "set the filters to the Bedrock services and the business-unit tag".to_owned(),
                );
                update_budget = true;
            }
            let present = budgets
                .describe_notifications_for_budget()
                .account_id(&caller.account)
                .budget_name(&budget_name)
                .send()
                .await
                .map_err(|e| sdk_error("budgets:DescribeNotificationsForBudget", e))?
                .notifications
                .unwrap_or_default();
            for notification in present {
                let label = format!(
                    "{}% {}",
                    notification.threshold(),
                    notification.notification_type().as_str()
                );
                if !wanted.iter().any(|w| same_notification(w, &notification)) {
                    changes.push(format!("remove the alert at {label}"));
                    to_delete.push(notification);
                    continue;
                }
                let mut addresses: Vec<String> = budgets
                    .describe_subscribers_for_notification()
                    .account_id(&caller.account)
                    .budget_name(&budget_name)
                    .notification(notification.clone())
                    .send()
                    .await
                    .map_err(|e| sdk_error("budgets:DescribeSubscribersForNotification", e))?
                    .subscribers
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.address().to_owned())
                    .collect();
                addresses.sort();
                if addresses == request.emails {
                    to_create.retain(|w| !same_notification(w, &notification));
                } else {
                    changes.push(format!(
                        "send the alert at {label} to {}",
                        request.emails.join(", ")
                    ));
                    to_delete.push(notification);
                }
            }
            for w in &to_create {
                let label = format!("{}% {}", w.threshold(), w.notification_type().as_str());
                if !to_delete.iter().any(|d| same_notification(d, w)) {
                    changes.push(format!("add an alert at {label}"));
                }
            }
        } else {
            changes.push(format!(
                "create budget {budget_name}: {} USD per month, {} alert(s) to {}",
                request.limit,
                wanted.len(),
                request.emails.join(", ")
            ));
        }
        let status = match (&existing, changes.is_empty(), input.dry_run) {
            (_, true, _) => ChangeStatus::Unchanged,
            (_, false, true) => ChangeStatus::Planned,
            (None, false, false) => ChangeStatus::Created,
            (Some(_), false, false) => ChangeStatus::Updated,
        };
        let report = BudgetReport {
            budget_name: budget_name.clone(),
            status,
            changes,
            services,
            tag_filter,
            notes,
        };
        if matches!(status, ChangeStatus::Unchanged | ChangeStatus::Planned) {
            return Ok(report);
        }
        if !input.confirm {
            return Err(Error::ConfirmationRequired {
                summary: format!("create_budget_alert would {}", report.changes.join("; ")),
            });
        }
        match existing {
            None => {
                budgets
                    .create_budget()
                    .account_id(&caller.account)
                    .budget(budget)
                    .set_notifications_with_subscribers(Some(
                        wanted
                            .into_iter()
                            .map(|n| {
                                NotificationWithSubscribers::builder()
                                    .notification(n)
                                    .set_subscribers(Some(subscribers.clone()))
                                    .build()
                                    .map_err(|e| Error::refused("thresholds", e.to_string()))
                            })
                            .collect::<Result<_>>()?,
                    ))
                    .send()
                    .await
                    .map_err(|e| sdk_error("budgets:CreateBudget", e))?;
            }
            Some(_) => {
                if update_budget {
                    budgets
                        .update_budget()
                        .account_id(&caller.account)
                        .new_budget(budget)
                        .send()
                        .await
                        .map_err(|e| sdk_error("budgets:UpdateBudget", e))?;
                }
                for notification in to_delete {
                    budgets
                        .delete_notification()
                        .account_id(&caller.account)
                        .budget_name(&budget_name)
                        .notification(notification)
                        .send()
                        .await
                        .map_err(|e| sdk_error("budgets:DeleteNotification", e))?;
                }
                for notification in to_create {
                    budgets
                        .create_notification()
                        .account_id(&caller.account)
                        .budget_name(&budget_name)
                        .notification(notification)
                        .set_subscribers(Some(subscribers.clone()))
                        .send()
                        .await
                        .map_err(|e| sdk_error("budgets:CreateNotification", e))?;
                }
            }
        }
        tracing::info!(budget = %budget_name, ?status, "budget alert");
        Ok(report)
    }

    /// Bedrock billing services seen in the last three months.
    async fn recent_bedrock_services(&self) -> Result<Vec<String>> {
        let end = today().succ_opt().unwrap_or_else(today);
        let start = end - chrono::Months::new(3);
        let period = aws_sdk_costexplorer::types::DateInterval::builder()
            .start(start.to_string())
            .end(end.to_string())
            .build()
            .map_err(|e| Error::refused("business_unit", e.to_string()))?;
        self.bedrock_services(&period).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service_and_tag(services: &[&str], unit: &str) -> Expression {
        Expression::builder()
            .and(
                Expression::builder()
                    .dimensions(
                        ExpressionDimensionValues::builder()
                            .key(Dimension::Service)
                            .set_values(Some(services.iter().map(|s| (*s).to_owned()).collect()))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .and(
                Expression::builder()
                    .tags(
                        TagValues::builder()
                            .key("business-unit")
                            .values(unit)
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    #[test]
    fn filters_compare_by_what_they_select_not_by_order() {
        let wanted = service_and_tag(&["Amazon Bedrock", "Claude Sonnet 4.5"], "marketing");
        let reordered = service_and_tag(&["Claude Sonnet 4.5", "Amazon Bedrock"], "marketing");
        assert_eq!(
            FilterSummary::of(Some(&wanted)),
            FilterSummary::of(Some(&reordered))
        );
        let other_unit = service_and_tag(&["Amazon Bedrock", "Claude Sonnet 4.5"], "sales");
        assert_ne!(
            FilterSummary::of(Some(&wanted)),
            FilterSummary::of(Some(&other_unit))
        );
        let fewer = service_and_tag(&["Amazon Bedrock"], "marketing");
        assert_ne!(
            FilterSummary::of(Some(&wanted)),
            FilterSummary::of(Some(&fewer))
        );
        assert_ne!(FilterSummary::of(Some(&wanted)), FilterSummary::of(None));
        let negated = Expression::builder().not(wanted.clone()).build();
        assert_ne!(
            FilterSummary::of(Some(&negated)),
            FilterSummary::of(Some(&wanted))
        );
    }
}
