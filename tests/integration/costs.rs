//! Costs against the emulator's Cost Explorer over seeded line items: totals per business unit equal an
//! independent sum over the items, across pages, for both granularities and both tag-key variants;
//! cost tags and budget alerts are idempotent.

use crate::common;

use std::collections::BTreeMap;

use bedrock_provisioner::{
    core::{
        costs::{CostReport, budgets::BudgetReport, tags::CostTagsReport},
        domain::plan::ChangeStatus,
    },
    mode::AccessMode,
};
use chrono::{Datelike, Months, NaiveDate};
use common::{Account, call, emulator, is_mutation, ok, text};
use rmcp::{RoleClient, service::RunningService};
use serde_json::{Value, json};

const SERVICES: [&str; 5] = [
    "Amazon Bedrock",
    "Claude Sonnet 4.5 (Amazon Bedrock Edition)",
    "Claude Haiku 4.5 (Amazon Bedrock Edition)",
    "Amazon EC2",
    "Amazon Simple Storage Service",
];
const UNITS: [Option<&str>; 4] = [Some("marketing"), Some("sales"), Some("research"), None];

/// The day every test here runs on, on the server's clock and the emulator's (the first of a month, the
/// day a month to date holds least).
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

/// `create_budget_alert`'s report for `arguments`.
async fn budget_alert(client: &RunningService<RoleClient, ()>, arguments: Value) -> BudgetReport {
    common::report(&call(client, "create_budget_alert", arguments).await)
}

/// A client of a server whose clock, like the account's emulator clock, reads [`today`] at noon.
async fn client_on_today(account: &Account, mode: AccessMode) -> RunningService<RoleClient, ()> {
    let noon = today().and_hms_opt(12, 0, 0).unwrap().and_utc();
    account.mcp_with(mode, account.settings_at(noon)).await
}

/// Line items over the last three months, every combination of service and business unit.
fn items(tag_key: &str) -> Vec<Value> {
    let first = today().with_day(1).unwrap() - Months::new(2);
    let mut items = Vec::new();
    let mut n = 0u32;
    let mut date = first;
    while date <= today() {
        for service in SERVICES {
            for unit in UNITS {
                n += 1;
                if !n.is_multiple_of(3) {
                    continue;
                }
                let cost = f64::from(n % 97) / 7.0 + 0.01;
                let tags = unit.map_or_else(|| json!({}), |u| json!({tag_key: u, "owner": "x"}));
                items.push(json!({"date": date.to_string(), "service": service,
                                  "usage_type": format!("USE1-{}", n % 4), "region": "us-east-1",
                                  "tags": tags, "cost": cost, "metrics": {"AmortizedCost": cost / 2.0}}));
            }
        }
        date = date.succ_opt().unwrap();
    }
    items
}

/// The independent answer: Bedrock spend per business unit in [start, end).
fn expected(
    items: &[Value],
    tag_key: &str,
    start: NaiveDate,
    end: NaiveDate,
    metric: &str,
) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for item in items {
        let date = NaiveDate::parse_from_str(item["date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        if date < start || date >= end || !item["service"].as_str().unwrap().contains("Bedrock") {
            continue;
        }
        let unit = item["tags"][tag_key]
            .as_str()
            .unwrap_or("(untagged)")
            .to_owned();
        let cost = item["metrics"][metric]
            .as_f64()
            .unwrap_or_else(|| item["cost"].as_f64().unwrap());
        *sums.entry(unit).or_insert(0.0) += cost;
    }
    sums
}

fn seed(
    account: &Account,
    tag_key: &str,
    plain_status: &str,
    principal_status: Option<&str>,
) -> Vec<Value> {
    let items = items(tag_key);
    emulator().control(
        "POST",
        "ce/line-items",
        &json!({"account": account.id, "items": items, "page_size": 3}).to_string(),
    );
    let mut tags = vec![json!({"key": "business-unit", "status": plain_status})];
    if let Some(status) = principal_status {
        tags.push(json!({"key": "iamPrincipal/business-unit", "status": status}));
    }
    tags.push(json!({"key": "owner", "status": "Inactive"}));
    emulator().control(
        "POST",
        "ce/tags",
        &json!({"account": account.id, "tags": tags}).to_string(),
    );
    items
}

fn assert_totals(report: &CostReport, expected: &BTreeMap<String, f64>) {
    let got = &report.totals_by_business_unit;
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{report:#?}"
    );
    for (unit, want) in expected {
        assert!(
            (got[unit] - want).abs() < 1e-6,
            "{unit}: {} vs {want}",
            got[unit]
        );
    }
    let total: f64 = expected.values().sum();
    assert!((report.total - total).abs() < 1e-6);
}

#[tokio::test]
async fn totals_match_an_independent_sum_for_both_tag_keys_and_granularities() {
    for (tag_key, plain, principal) in [
        ("business-unit", "Active", None),
        ("iamPrincipal/business-unit", "Inactive", Some("Active")),
    ] {
        let account = Account::new();
        let items = seed(&account, tag_key, plain, principal);
        let client = client_on_today(&account, AccessMode::ReadOnly).await;
        let start = today().with_day(1).unwrap() - Months::new(2);
        let end = today().succ_opt().unwrap();
        for granularity in ["DAILY", "MONTHLY"] {
            let report: CostReport = common::report(&call(
                &client,
                "query_costs",
                json!({"start": start.to_string(), "end": end.to_string(), "granularity": granularity}),
            )
            .await);
            assert_eq!(report.tag_key, tag_key);
            assert_totals(
                &report,
                &expected(&items, tag_key, start, end, "UnblendedCost"),
            );
            assert_eq!(
                report.services,
                [SERVICES[0], SERVICES[2], SERVICES[1]],
                "Marketplace services included, EC2 and S3 not"
            );
            assert!(report.estimated, "the current month is estimated");
            if granularity == "MONTHLY" {
                let periods: std::collections::BTreeSet<&str> =
                    report.rows.iter().map(|r| r.start.as_str()).collect();
                assert_eq!(periods.len(), 3, "three months");
            }
        }
        let pages = account
            .actions()
            .iter()
            .filter(|a| *a == "GetCostAndUsage")
            .count();
        assert!(pages > 10, "every page was followed ({pages} calls)");
    }
}

#[tokio::test]
/// A whole past month, so the data never depends on the day the suite runs (month to date on the 1st holds one
/// day's sparse line items).
async fn one_business_unit_last_month_by_model_with_amortized_cost() {
    let account = Account::new();
    let items = seed(&account, "business-unit", "Active", None);
    let client = client_on_today(&account, AccessMode::ReadOnly).await;
    let end = today().with_day(1).unwrap();
    let start = end - Months::new(1);
    let report: CostReport = common::report(&call(
        &client,
        "query_costs",
        json!({"business_units": ["marketing"], "group_by": ["business_unit", "model"], "metric": "AmortizedCost",
               "start": start.to_string(), "end": end.to_string()}),
    )
    .await);
    let mut want = expected(&items, "business-unit", start, end, "AmortizedCost");
    want.retain(|unit, _| unit == "marketing");
    assert_totals(&report, &want);
    let models: std::collections::BTreeSet<&str> = report
        .rows
        .iter()
        .filter_map(|r| r.model.as_deref())
        .collect();
    assert!(models.contains("Claude Sonnet 4.5"), "{models:?}");
    assert!(
        models.contains("Amazon Bedrock (first-party billing)"),
        "{models:?}"
    );
}

#[tokio::test]
async fn inactive_tag_and_empty_ranges_are_explained() {
    let account = Account::new();
    seed(&account, "business-unit", "Inactive", None);
    let client = client_on_today(&account, AccessMode::ReadOnly).await;
    let report: CostReport = common::report(&call(&client, "query_costs", json!({})).await);
    assert_eq!(
        (report.start.as_str(), report.end.as_str()),
        ("2026-12-01", "2026-12-02"),
        "this month to date, on the server's clock"
    );
    assert!(
        report.notes.iter().any(|n| n.contains("not active")),
        "{:?}",
        report.notes
    );
    let empty = Account::new();
    let client = client_on_today(&empty, AccessMode::ReadOnly).await;
    let report: CostReport = common::report(&call(&client, "query_costs", json!({})).await);
    assert_eq!(report.total, 0.0);
    assert!(
        report.notes.iter().any(|n| n.contains("No Bedrock spend")),
        "{:?}",
        report.notes
    );
}

#[tokio::test]
async fn bad_dates_and_group_keys_are_refused_before_any_aws_call() {
    let account = Account::new();
    let client = client_on_today(&account, AccessMode::ReadOnly).await;
    let tomorrow = today().succ_opt().unwrap().to_string();
    for (args, expected) in [
        (json!({"start": "2026-02-30"}), "invalid `start`"),
        (json!({"start": tomorrow}), "in the future"),
        (json!({"start": "2020-01-01"}), "months of history"),
        (
            json!({"start": today().to_string(), "end": today().to_string()}),
            "must be after start",
        ),
        (
            json!({"group_by": ["business_unit", "service", "usage_type"]}),
            "at most two",
        ),
        (json!({"group_by": ["region"]}), "region"),
        (
            json!({"business_units": ["Bad Unit"]}),
            "invalid `business_units`",
        ),
        (json!({"metric": "BlendedCost"}), "BlendedCost"),
    ] {
        let result = call(&client, "query_costs", args.clone()).await;
        assert_eq!(result.is_error, Some(true), "{args}");
        assert!(
            text(&result).contains(expected),
            "{args}: {}",
            text(&result)
        );
    }
    assert!(account.actions().is_empty(), "{:?}", account.actions());
}

#[tokio::test]
async fn enable_cost_tags_twice_changes_nothing_the_second_time() {
    let account = Account::new();
    seed(
        &account,
        "iamPrincipal/business-unit",
        "Inactive",
        Some("Inactive"),
    );
    let client = client_on_today(&account, AccessMode::Admin).await;
    let plan: CostTagsReport =
        common::report(&call(&client, "enable_cost_tags", json!({"dry_run": true})).await);
    assert_eq!(
        plan.activated,
        ["business-unit", "iamPrincipal/business-unit", "owner"]
    );
    assert_eq!(plan.not_yet_known, ["purpose"]);
    let unconfirmed = call(&client, "enable_cost_tags", json!({})).await;
    assert!(text(&unconfirmed).contains("confirm: true"));
    assert!(account.actions().iter().all(|a| !a.starts_with("Update")));
    let first: CostTagsReport =
        common::report(&call(&client, "enable_cost_tags", json!({"confirm": true})).await);
    assert_eq!(first.activated.len(), 3);
    let second: CostTagsReport =
        common::report(&call(&client, "enable_cost_tags", json!({"confirm": true})).await);
    assert!(second.activated.is_empty());
    assert_eq!(second.already_active.len(), 3);
    assert_eq!(
        account
            .actions()
            .iter()
            .filter(|a| *a == "UpdateCostAllocationTagsStatus")
            .count(),
        1
    );
    let tags = aws_sdk_costexplorer::Client::new(&account.sdk_config().await)
        .list_cost_allocation_tags()
        .status(aws_sdk_costexplorer::types::CostAllocationTagStatus::Active)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.cost_allocation_tags().len(), 3);
}

#[tokio::test]
async fn budget_alert_is_created_then_unchanged_then_updated() {
    let account = Account::new();
    seed(&account, "business-unit", "Active", None);
    let client = client_on_today(&account, AccessMode::Admin).await;
    let args = json!({"business_unit": "marketing", "monthly_limit_usd": 500, "emails": ["finops@example.com"], "confirm": true});
    let mut unconfirmed = args.clone();
    unconfirmed["confirm"] = json!(false);
    let refused = call(&client, "create_budget_alert", unconfirmed).await;
    assert!(
        text(&refused).contains("confirm: true"),
        "{}",
        text(&refused)
    );
    let mut plan = args.clone();
    plan["dry_run"] = json!(true);
    assert_eq!(
        budget_alert(&client, plan).await.status,
        ChangeStatus::Planned
    );
    assert!(
        account.actions().iter().all(|a| !is_mutation(a)),
        "{:?}",
        account.actions()
    );
    let created = budget_alert(&client, args.clone()).await;
    assert_eq!(created.status, ChangeStatus::Created);
    assert!(
        created
            .notes
            .iter()
            .any(|n| n.contains("is a resource tag")),
        "a plain tag restricts the budget to the services seen so far, and says so: {created:#?}"
    );
    let budgets = aws_sdk_budgets::Client::new(&account.sdk_config().await);
    let budget = budgets
        .describe_budget()
        .account_id(&account.id)
        .budget_name("bedrock-marketing-monthly")
        .show_filter_expression(true)
        .send()
        .await
        .unwrap()
        .budget
        .unwrap();
    assert_eq!(budget.budget_limit().unwrap().amount(), "500.00");
    assert_eq!(
        budget.metrics(),
        [aws_sdk_budgets::types::Metric::UnblendedCost],
        "AWS needs Metrics beside a FilterExpression (terraform-provider-aws #46866)"
    );
    let filter = format!("{:?}", budget.filter_expression().unwrap());
    assert!(
        filter.contains("Claude Sonnet 4.5 (Amazon Bedrock Edition)")
            && filter.contains("marketing"),
        "{filter}"
    );
    let notifications = budgets
        .describe_notifications_for_budget()
        .account_id(&account.id)
        .budget_name("bedrock-marketing-monthly")
        .send()
        .await
        .unwrap();
    assert_eq!(notifications.notifications().len(), 3);

    let before = account.actions().len();
    let again = budget_alert(&client, args.clone()).await;
    assert_eq!(again.status, ChangeStatus::Unchanged, "{again:#?}");
    assert!(
        account.actions()[before..].iter().all(|a| !is_mutation(a)),
        "{:?}",
        &account.actions()[before..]
    );

    let mut raised = args.clone();
    raised["monthly_limit_usd"] = json!(750);
    raised["emails"] = json!(["finops@example.com", "cto@example.com"]);
    let updated = budget_alert(&client, raised.clone()).await;
    assert_eq!(updated.status, ChangeStatus::Updated);
    assert_eq!(
        budget_alert(&client, raised).await.status,
        ChangeStatus::Unchanged
    );

    let bad = call(
        &client,
        "create_budget_alert",
        json!({"business_unit": "marketing", "monthly_limit_usd": 0, "emails": ["x"]}),
    )
    .await;
    assert!(
        text(&bad).contains("invalid `monthly_limit_usd`"),
        "{}",
        text(&bad)
    );
}

#[tokio::test]
async fn budget_on_an_iam_principal_tag_says_what_to_check() {
    let account = Account::new();
    seed(
        &account,
        "iamPrincipal/business-unit",
        "Inactive",
        Some("Active"),
    );
    let client = client_on_today(&account, AccessMode::Admin).await;
    let args = json!({"business_unit": "marketing", "monthly_limit_usd": 100,
                      "emails": ["finops@example.com"], "dry_run": true, "confirm": true});
    let plan = budget_alert(&client, args.clone()).await;
    assert_eq!(plan.tag_filter, "iamPrincipal/business-unit=marketing");
    assert!(
        plan.services.is_empty(),
        "no service list to go stale: {plan:#?}"
    );
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("alone: the unit's user can only call Bedrock")),
        "{plan:#?}"
    );
    let mut apply = args;
    apply["dry_run"] = json!(false);
    assert_eq!(
        budget_alert(&client, apply.clone()).await.status,
        ChangeStatus::Created
    );
    let budget = aws_sdk_budgets::Client::new(&account.sdk_config().await)
        .describe_budget()
        .account_id(&account.id)
        .budget_name("bedrock-marketing-monthly")
        .show_filter_expression(true)
        .send()
        .await
        .unwrap()
        .budget
        .unwrap();
    let filter = budget.filter_expression().unwrap();
    assert!(
        filter.dimensions().is_none() && filter.and().is_empty(),
        "{filter:?}"
    );
    assert_eq!(
        filter.tags().unwrap().key(),
        Some("iamPrincipal/business-unit")
    );
    assert_eq!(
        budget.metrics(),
        [aws_sdk_budgets::types::Metric::UnblendedCost]
    );
    assert_eq!(
        ok(&call(&client, "create_budget_alert", apply).await)["status"],
        "unchanged",
        "a second run never rewrites the budget (UpdateBudget resets its calculated spend)"
    );
}
