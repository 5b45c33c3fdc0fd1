//! The pure half of `create_budget_alert`: the budget as wanted, and the changes from the budget as it is.

use aws_sdk_budgets::types::{
    Budget, BudgetType, ComparisonOperator, Dimension, Expression, ExpressionDimensionValues,
    Metric, Notification, NotificationType, Spend, TagValues, ThresholdType, TimeUnit,
};

use super::{BudgetRequest, SpendKind, Threshold};
use crate::core::{
    domain::error::{Error, Result},
    domain::plan,
};

/// Which part of the budget a change is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetPart {
    /// The budget itself: limit and filters.
    Budget,
    /// One alert (notification and its subscribers).
    Alert,
}

/// One change of a budget plan.
pub type Change = plan::Change<BudgetPart, Step>;

/// What `apply` does for one change.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Create the budget with every alert.
    CreateBudget,
    /// Replace the budget's limit and filters (`UpdateBudget` replaces the whole budget).
    UpdateBudget,
    /// Delete an alert.
    DeleteAlert(Notification),
    /// Delete an alert and create it again with the wanted subscribers.
    ResendAlert(Notification),
    /// Create an alert.
    CreateAlert(Notification),
}

/// The budget as it must be.
#[derive(Clone, Debug)]
pub struct Wanted {
    /// `bedrock-<unit>-monthly`.
    pub name: String,
    /// The budget, filters included.
    pub budget: Budget,
    /// The limit as AWS writes it back (`500.00`).
    pub limit: String,
    /// The alerts.
    pub alerts: Vec<Notification>,
    /// Subscribers of every alert, sorted.
    pub emails: Vec<String>,
}

/// The budget as it is.
#[derive(Clone, Debug)]
pub struct Current {
    /// Its limit in USD, when readable.
    pub limit: Option<f64>,
    /// Its filter expression.
    pub filter: Option<Expression>,
    /// Its cost metrics (AWS requires them beside a filter expression).
    pub metrics: Vec<Metric>,
    /// Each alert with its subscribers' addresses, sorted.
    pub alerts: Vec<(Notification, Vec<String>)>,
}

/// The budget's name: `bedrock-<unit>-monthly`.
pub fn budget_name(unit: &crate::core::domain::names::BusinessUnit) -> String {
    format!("bedrock-{unit}-monthly")
}

/// The metric the budget counts: `UnblendedCost`, what Cost Explorer shows by default. AWS's
/// `CreateBudget`/`UpdateBudget`: "Either FilterExpression and Metrics or CostFilters and CostTypes, not both
/// or a different combination" (a filter without metrics makes a malformed budget, terraform-provider-aws
/// #46866).
pub const METRIC: Metric = Metric::UnblendedCost;

/// The billing services a budget on a resource tag counts: those it counts already and those seen now. The
/// list only grows, so the sliding window of recent services never rewrites the budget (`UpdateBudget`
/// resets its calculated spend).
pub fn services_to_count(current: Option<&Current>, seen: &[String]) -> Vec<String> {
    let mut services = FilterSummary::of(current.and_then(|c| c.filter.as_ref())).services;
    services.extend(seen.iter().cloned());
    services.insert("Amazon Bedrock".to_owned());
    services.into_iter().collect()
}

/// The wanted budget of `request`: monthly cost of the unit's tag, restricted to `services` when any are
/// given (an IAM-principal tag needs none: the unit's user can only call Bedrock, so every model counts).
pub fn wanted(request: &BudgetRequest, services: &[String], tag_key: &str) -> Result<Wanted> {
    let name = budget_name(&request.unit);
    let refused =
        |e: aws_sdk_budgets::error::BuildError| Error::refused("business_unit", e.to_string());
    let tag = Expression::builder()
        .tags(
            TagValues::builder()
                .key(tag_key)
                .values(request.unit.to_string())
                .build(),
        )
        .build();
    let filter = if services.is_empty() {
        tag
    } else {
        let services = ExpressionDimensionValues::builder()
            .key(Dimension::Service)
            .set_values(Some(services.to_vec()))
            .build()
            .map_err(refused)?;
        Expression::builder()
            .and(Expression::builder().dimensions(services).build())
            .and(tag)
            .build()
    };
    let budget = Budget::builder()
        .budget_name(&name)
        .budget_limit(
            Spend::builder()
                .amount(&request.limit)
                .unit("USD")
                .build()
                .map_err(|e| Error::refused("monthly_limit_usd", e.to_string()))?,
        )
        .time_unit(TimeUnit::Monthly)
        .budget_type(BudgetType::Cost)
        .filter_expression(filter)
        .metrics(METRIC)
        .build()
        .map_err(refused)?;
    Ok(Wanted {
        name,
        budget,
        limit: request.limit.clone(),
        alerts: request
            .thresholds
            .iter()
            .map(notification)
            .collect::<Result<_>>()?,
        emails: request.emails.clone(),
    })
}

/// The changes that take `current` (`None`: no budget of that name) to `wanted`, in the order they must be
/// applied: the budget, removed alerts, re-sent alerts, new alerts.
pub fn plan(current: Option<&Current>, wanted: &Wanted) -> Vec<Change> {
    let Some(current) = current else {
        return vec![Change::apply(
            BudgetPart::Budget,
            &wanted.name,
            format!(
                "create budget {}: {} USD per month, {} alert(s) to {}",
                wanted.name,
                wanted.limit,
                wanted.alerts.len(),
                wanted.emails.join(", ")
            ),
            Step::CreateBudget,
        )];
    };
    let mut changes = Vec::new();
    if current
        .limit
        .is_none_or(|l| format!("{l:.2}") != wanted.limit)
    {
        let why = format!("set the limit to {} USD", wanted.limit);
        changes.push(Change::apply(
            BudgetPart::Budget,
            &wanted.name,
            why,
            Step::UpdateBudget,
        ));
    }
    if FilterSummary::of(current.filter.as_ref())
        != FilterSummary::of(wanted.budget.filter_expression())
    {
        let why = "set the filters to the business-unit tag (and the Bedrock services for a resource tag)";
        changes.push(Change::apply(
            BudgetPart::Budget,
            &wanted.name,
            why,
            Step::UpdateBudget,
        ));
    }
    if current.metrics != wanted.budget.metrics() {
        let why = format!(
            "set the cost metric to {} (AWS needs Metrics beside a filter expression)",
            METRIC.as_str()
        );
        changes.push(Change::apply(
            BudgetPart::Budget,
            &wanted.name,
            why,
            Step::UpdateBudget,
        ));
    }
    changes.extend(alert_changes(current, wanted));
    changes
}

/// Alerts to remove, to send to other addresses, and to add, in that order.
fn alert_changes(current: &Current, wanted: &Wanted) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut resends = Vec::new();
    for (alert, addresses) in &current.alerts {
        let label = label(alert);
        if !wanted.alerts.iter().any(|w| same_notification(w, alert)) {
            let why = format!("remove the alert at {label}");
            changes.push(Change::apply(
                BudgetPart::Alert,
                label,
                why,
                Step::DeleteAlert(alert.clone()),
            ));
        } else if addresses != &wanted.emails {
            let why = format!("send the alert at {label} to {}", wanted.emails.join(", "));
            resends.push(Change::apply(
                BudgetPart::Alert,
                label,
                why,
                Step::ResendAlert(alert.clone()),
            ));
        }
    }
    changes.extend(resends);
    for alert in &wanted.alerts {
        if !current
            .alerts
            .iter()
            .any(|(have, _)| same_notification(have, alert))
        {
            let label = label(alert);
            let why = format!("add an alert at {label}");
            changes.push(Change::apply(
                BudgetPart::Alert,
                label,
                why,
                Step::CreateAlert(alert.clone()),
            ));
        }
    }
    changes
}

/// `80% ACTUAL`.
fn label(alert: &Notification) -> String {
    format!(
        "{}% {}",
        alert.threshold(),
        alert.notification_type().as_str()
    )
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

    fn request() -> BudgetRequest {
        BudgetRequest {
            unit: crate::core::domain::names::BusinessUnit::parse("business_unit", "marketing")
                .unwrap(),
            limit: "500.00".into(),
            emails: vec!["a@example.com".into()],
            thresholds: vec![
                Threshold {
                    percent: 80.0,
                    kind: SpendKind::Actual,
                },
                Threshold {
                    percent: 100.0,
                    kind: SpendKind::Forecasted,
                },
            ],
        }
    }

    fn wanted_budget() -> Wanted {
        wanted(&request(), &["Amazon Bedrock".into()], "business-unit").unwrap()
    }

    fn current_matching(wanted: &Wanted) -> Current {
        Current {
            limit: Some(500.0),
            filter: wanted.budget.filter_expression().cloned(),
            metrics: wanted.budget.metrics().to_vec(),
            alerts: wanted
                .alerts
                .iter()
                .map(|a| (a.clone(), wanted.emails.clone()))
                .collect(),
        }
    }

    fn steps(changes: &[Change]) -> Vec<&Step> {
        changes.iter().filter_map(Change::step).collect()
    }

    #[test]
    fn no_budget_plans_one_create_with_every_alert() {
        let wanted = wanted_budget();
        let changes = plan(None, &wanted);
        assert_eq!(steps(&changes), vec![&Step::CreateBudget]);
        assert_eq!(
            changes[0].why,
            "create budget bedrock-marketing-monthly: 500.00 USD per month, 2 alert(s) to a@example.com"
        );
    }

    #[test]
    fn a_budget_with_a_filter_always_has_metrics() {
        let wanted = wanted_budget();
        assert!(wanted.budget.filter_expression().is_some());
        assert_eq!(wanted.budget.metrics(), [METRIC]);
        let mut current = current_matching(&wanted);
        current.metrics.clear();
        let whys: Vec<String> = plan(Some(&current), &wanted)
            .into_iter()
            .map(|c| c.why)
            .collect();
        assert_eq!(
            whys,
            ["set the cost metric to UnblendedCost (AWS needs Metrics beside a filter expression)"]
        );
    }

    #[test]
    fn a_principal_tag_budget_filters_on_the_tag_alone() {
        let wanted = wanted(&request(), &[], "iamPrincipal/business-unit").unwrap();
        let filter = wanted.budget.filter_expression().unwrap();
        assert!(filter.and().is_empty() && filter.dimensions().is_none());
        assert_eq!(
            filter.tags().unwrap().key(),
            Some("iamPrincipal/business-unit")
        );
    }

    #[test]
    fn counted_services_only_grow() {
        let wanted = wanted(
            &request(),
            &[
                "Amazon Bedrock".into(),
                "Claude Sonnet 4.5 (Amazon Bedrock Edition)".into(),
            ],
            "business-unit",
        )
        .unwrap();
        let current = current_matching(&wanted);
        let seen_now = ["Claude Opus 4.5 (Amazon Bedrock Edition)".to_owned()];
        assert_eq!(
            services_to_count(Some(&current), &seen_now),
            [
                "Amazon Bedrock",
                "Claude Opus 4.5 (Amazon Bedrock Edition)",
                "Claude Sonnet 4.5 (Amazon Bedrock Edition)"
            ],
            "a service that left the three-month window stays counted"
        );
        assert_eq!(services_to_count(None, &[]), ["Amazon Bedrock"]);
    }

    #[test]
    fn a_matching_budget_plans_nothing() {
        let wanted = wanted_budget();
        assert!(plan(Some(&current_matching(&wanted)), &wanted).is_empty());
    }

    #[test]
    fn limit_filter_and_alert_diffs_in_apply_order() {
        let wanted = wanted_budget();
        let mut current = current_matching(&wanted);
        current.limit = Some(100.0);
        current.filter = Some(service_and_tag(&["Amazon Bedrock"], "sales"));
        let stale = notification(&Threshold {
            percent: 50.0,
            kind: SpendKind::Actual,
        })
        .unwrap();
        current.alerts[0].1 = vec!["old@example.com".into()];
        current.alerts[1] = (stale.clone(), wanted.emails.clone());
        let changes = plan(Some(&current), &wanted);
        let whys: Vec<&str> = changes.iter().map(|c| c.why.as_str()).collect();
        assert_eq!(
            whys,
            [
                "set the limit to 500.00 USD",
                "set the filters to the business-unit tag (and the Bedrock services for a resource tag)",
                "remove the alert at 50% ACTUAL",
                "send the alert at 80% ACTUAL to a@example.com",
                "add an alert at 100% FORECASTED",
            ]
        );
        assert_eq!(steps(&changes)[2], &Step::DeleteAlert(stale));
        assert!(matches!(steps(&changes)[3], Step::ResendAlert(_)));
    }
}
