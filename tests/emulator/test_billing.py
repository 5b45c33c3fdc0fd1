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
