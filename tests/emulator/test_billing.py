"""Contract tests of the billing extension: Cost Explorer over seeded line items, and Budgets updates."""

import botocore.exceptions
import pytest

ITEMS = [
    {"date": "2026-09-30", "service": "Amazon Bedrock", "usage_type": "USE1-input", "tags": {"business-unit": "a"},
     "cost": 1.0},
    {"date": "2026-10-01", "service": "Amazon Bedrock", "usage_type": "USE1-input", "tags": {"business-unit": "a"},
     "cost": 2.0},
    {"date": "2026-10-01", "service": "Claude Sonnet 4.5 (Amazon Bedrock Edition)", "usage_type": "USE1-MP",
     "tags": {"business-unit": "b"}, "cost": 3.0},
    {"date": "2026-10-02", "service": "Claude Sonnet 4.5 (Amazon Bedrock Edition)", "usage_type": "USE1-MP",
     "tags": {}, "cost": 4.0},
    {"date": "2026-10-02", "service": "Amazon EC2", "usage_type": "BoxUsage", "tags": {"business-unit": "a"},
     "cost": 100.0},
    {"date": "2026-11-01", "service": "Amazon Bedrock", "usage_type": "USE1-input", "tags": {"business-unit": "b"},
     "cost": 5.0, "metrics": {"AmortizedCost": 4.5}},
]


def seed(emulator, account, page_size=2):
    emulator.control("POST", "ce/line-items", {"account": account, "items": ITEMS, "page_size": page_size})
    return emulator.client("ce", account)


def all_pages(ce, **params):
    results, token = [], None
    while True:
        page = ce.get_cost_and_usage(**params, **({"NextPageToken": token} if token else {}))
        results.extend(page["ResultsByTime"])
        token = page.get("NextPageToken")
        if not token:
            return results


def test_grouping_filtering_paging(emulator, account):
    ce = seed(emulator, account)
    bedrock = {"Or": [
        {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}},
        {"Dimensions": {"Key": "SERVICE", "Values": ["(Amazon Bedrock Edition)"], "MatchOptions": ["ENDS_WITH"]}},
    ]}
    results = all_pages(ce, TimePeriod={"Start": "2026-10-01", "End": "2026-12-01"}, Granularity="MONTHLY",
                        Metrics=["UnblendedCost"], Filter=bedrock, GroupBy=[{"Type": "TAG", "Key": "business-unit"}])
    sums = {}
    for period in results:
        for group in period["Groups"]:
            key = (period["TimePeriod"]["Start"], group["Keys"][0])
            sums[key] = sums.get(key, 0) + float(group["Metrics"]["UnblendedCost"]["Amount"])
    assert sums == {("2026-10-01", "business-unit$"): 4.0, ("2026-10-01", "business-unit$a"): 2.0,
                    ("2026-10-01", "business-unit$b"): 3.0, ("2026-11-01", "business-unit$b"): 5.0}
    first = ce.get_cost_and_usage(TimePeriod={"Start": "2026-10-01", "End": "2026-12-01"}, Granularity="MONTHLY",
                                  Metrics=["UnblendedCost"], Filter=bedrock,
                                  GroupBy=[{"Type": "TAG", "Key": "business-unit"}])
    assert first["NextPageToken"], "pages at the small page size"
    untagged_only = all_pages(
        ce, TimePeriod={"Start": "2026-10-01", "End": "2026-11-01"}, Granularity="DAILY", Metrics=["AmortizedCost"],
        Filter={"And": [bedrock, {"Tags": {"Key": "business-unit", "MatchOptions": ["ABSENT"]}}]})
    totals = {p["TimePeriod"]["Start"]: float(p["Total"]["AmortizedCost"]["Amount"]) for p in untagged_only}
    assert totals["2026-10-02"] == 4.0 and totals["2026-10-01"] == 0.0 and len(totals) == 31
    not_ec2 = all_pages(ce, TimePeriod={"Start": "2026-11-01", "End": "2026-11-02"}, Granularity="DAILY",
                        Metrics=["AmortizedCost"],
                        Filter={"Not": {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon EC2"]}}})
    assert float(not_ec2[0]["Total"]["AmortizedCost"]["Amount"]) == 4.5


def test_validation_and_dimension_values(emulator, account):
    ce = seed(emulator, account)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        ce.get_cost_and_usage(TimePeriod={"Start": "2026-10-02", "End": "2026-10-01"}, Granularity="DAILY",
                              Metrics=["UnblendedCost"])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    values = ce.get_dimension_values(TimePeriod={"Start": "2026-09-01", "End": "2026-12-01"}, Dimension="SERVICE",
                                     SearchString="bedrock")["DimensionValues"]
    assert [v["Value"] for v in values] == ["Amazon Bedrock", "Claude Sonnet 4.5 (Amazon Bedrock Edition)"]


def test_budget_update_and_subscribers(emulator, account):
    budgets = emulator.client("budgets", account)
    budget = {"BudgetName": "b", "BudgetLimit": {"Amount": "10", "Unit": "USD"}, "TimeUnit": "MONTHLY",
              "BudgetType": "COST"}
    notification = {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0,
                    "ThresholdType": "PERCENTAGE"}
    budgets.create_budget(AccountId=account, Budget=budget, NotificationsWithSubscribers=[
        {"Notification": notification, "Subscribers": [{"SubscriptionType": "EMAIL", "Address": "a@example.com"}]}])
    budgets.update_budget(AccountId=account, NewBudget={**budget, "BudgetLimit": {"Amount": "20", "Unit": "USD"}})
    assert budgets.describe_budget(AccountId=account, BudgetName="b")["Budget"]["BudgetLimit"]["Amount"] == "20"
    subscribers = budgets.describe_subscribers_for_notification(AccountId=account, BudgetName="b",
                                                                Notification=notification)["Subscribers"]
    assert subscribers == [{"SubscriptionType": "EMAIL", "Address": "a@example.com"}]


FILTERED = {"BudgetName": "bedrock-marketing-monthly", "BudgetLimit": {"Amount": "100", "Unit": "USD"},
            "TimeUnit": "MONTHLY", "BudgetType": "COST",
            "FilterExpression": {"And": [{"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}},
                                         {"Tags": {"Key": "business-unit", "Values": ["marketing"]}}]},
            "Metrics": ["UnblendedCost"]}


def test_describe_budget_shows_the_filter_expression_only_when_asked(emulator, account):
    """Follows https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_DescribeBudget.html
    and botocore's budgets 2016-10-20 model (``DescribeBudgetRequest.ShowFilterExpression``: "Specifies whether
    the response includes the filter expression associated with the budget"); the same for DescribeBudgets."""
    budgets = emulator.client("budgets", account)
    budgets.create_budget(AccountId=account, Budget=FILTERED)
    hidden = budgets.describe_budget(AccountId=account, BudgetName=FILTERED["BudgetName"])["Budget"]
    assert "FilterExpression" not in hidden
    shown = budgets.describe_budget(AccountId=account, BudgetName=FILTERED["BudgetName"],
                                    ShowFilterExpression=True)["Budget"]
    assert shown["FilterExpression"] == FILTERED["FilterExpression"]
    assert "FilterExpression" not in budgets.describe_budgets(AccountId=account)["Budgets"][0]
    assert budgets.describe_budgets(AccountId=account, ShowFilterExpression=True)["Budgets"][0]["FilterExpression"]


def test_update_budget_replaces_the_whole_budget(emulator, account):
    """Follows https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_UpdateBudget.html
    ("Updates a budget. You can change every part of a budget except for the budgetName and the
    calculatedSpend. When you modify a budget, the calculatedSpend drops to zero") and botocore's budgets
    2016-10-20 model (``UpdateBudgetRequest.NewBudget``: "The budget that you want to update your budget to"):
    what NewBudget omits is gone. Each call is in the request log, which is how tests count updates."""
    budgets = emulator.client("budgets", account)
    budgets.create_budget(AccountId=account, Budget=FILTERED)
    without_filter = {k: v for k, v in FILTERED.items() if k != "FilterExpression"}
    budgets.update_budget(AccountId=account, NewBudget={**without_filter, "BudgetLimit": {"Amount": "150",
                                                                                         "Unit": "USD"}})
    updated = budgets.describe_budget(AccountId=account, BudgetName=FILTERED["BudgetName"],
                                      ShowFilterExpression=True)["Budget"]
    assert updated["BudgetLimit"]["Amount"] == "150"
    assert "FilterExpression" not in updated, "UpdateBudget replaces; it does not merge"
    assert updated["CalculatedSpend"]["ActualSpend"]["Amount"] == "0"
    seen = emulator.control("GET", f"requests?access_key={account}")["requests"]
    assert [r["action"] for r in seen if r["service"] == "budgets"].count("UpdateBudget") == 1
    with pytest.raises(budgets.exceptions.NotFoundException):
        budgets.update_budget(AccountId=account, NewBudget={**without_filter, "BudgetName": "missing"})


def test_describe_budgets_pages(emulator, account):
    """Follows https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_DescribeBudgets.html
    (``MaxResults`` 1-1000, "The default is 100"; ``NextToken``) and botocore's budgets paginator for
    DescribeBudgets."""
    budgets = emulator.client("budgets", account)
    for name in ("a", "b", "c"):
        budgets.create_budget(AccountId=account, Budget={**FILTERED, "BudgetName": name})
    pages = budgets.get_paginator("describe_budgets").paginate(AccountId=account, PaginationConfig={"PageSize": 2})
    assert [[b["BudgetName"] for b in page["Budgets"]] for page in pages] == [["a", "b"], ["c"]]


def test_cost_explorer_throttles_with_limit_exceeded(emulator, account):
    """Follows botocore's ce 2017-10-25 model, whose ``LimitExceededException`` is Cost Explorer's rate limit
    ("You made too many calls in a short period of time. Try again later."), HTTP 400, listed on every
    operation (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html)."""
    emulator.control("POST", "faults", {"action": "GetCostAndUsage", "kind": "throttle", "count": 1,
                                        "access_key": account})
    ce = emulator.client("ce", account, retry=False)
    with pytest.raises(ce.exceptions.LimitExceededException) as raised:
        ce.get_cost_and_usage(TimePeriod={"Start": "2026-10-01", "End": "2026-11-01"}, Granularity="MONTHLY",
                              Metrics=["UnblendedCost"])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    ce.get_cost_and_usage(TimePeriod={"Start": "2026-10-01", "End": "2026-11-01"}, Granularity="MONTHLY",
                          Metrics=["UnblendedCost"])
