"""Billing: Cost Explorer over a seeded dataset of line items, cost allocation tags, and the Budgets
actions moto lacks.

Cost Explorer:
- ``GetCostAndUsage`` really applies ``Filter`` (``And``/``Or``/``Not``, ``Dimensions``, ``Tags`` with match
  options), ``GroupBy`` (``DIMENSION`` or ``TAG``; tag groups read ``key$value``; at most two, a rule of
  :mod:`bpemu.rules`),
  ``Granularity`` (``DAILY``/``MONTHLY``), ``TimePeriod`` (end exclusive), ``Metrics``, and pages its
  (period, group) rows with ``NextPageToken`` at a small page size. Periods that end after today (on the
  account's emulator clock, :func:`bpemu.iam_ext.now`, so a test can fix the date) are ``Estimated``.
- ``GetDimensionValues`` over the same data (``SearchString`` is a case-insensitive substring match).
- ``ListCostAllocationTags`` / ``UpdateCostAllocationTagsStatus`` over a per-account set of tag keys known
  to billing; updating a key billing has not seen returns it in ``Errors``.

Budgets, on moto's budgets backend, with AWS's quirks:
- ``DescribeBudget`` / ``DescribeBudgets`` return a budget's ``FilterExpression`` only when the request sets
  ``ShowFilterExpression=true`` (moto always returns it); ``DescribeBudgets`` pages with ``NextToken``.
- ``UpdateBudget`` replaces the whole budget with ``NewBudget``: members it omits are gone, and the
  calculated spend starts again from zero. How often a caller updated a budget is in the request log
  (``GET /_emulator/requests?access_key=ACCOUNT``, action ``UpdateBudget``).
- ``DescribeSubscribersForNotification``, which moto lacks.

Control API:
- ``POST /_emulator/ce/line-items`` with ``{"account", "items": [{"date": "2026-10-03", "service",
  "usage_type", "region", "tags": {key: value}, "cost": 1.5, "metrics": {"AmortizedCost": 1.4}}],
  "page_size": 5}``: the account's line items (``cost`` is every metric unless ``metrics`` overrides one).
- ``POST /_emulator/ce/tags`` with ``{"account", "tags": [{"key", "status": "Active"|"Inactive",
  "type": "UserDefined"|"AWSGenerated"}]}`` sets which tag keys billing has seen.
"""

from __future__ import annotations

import datetime
import json
import threading

from moto.ce.responses import CostExplorerResponse

from . import iam_ext
from .protocol import handler_error


_lock = threading.Lock()
# account -> tag key -> tag
_tags: dict[str, dict[str, dict]] = {}
# account -> (line items, page size)
_items: dict[str, tuple[list[dict], int]] = {}
DEFAULT_PAGE_SIZE = 5
BUDGETS_PAGE_SIZE = 100  # DescribeBudgets' documented default MaxResults
METRICS = {"UnblendedCost", "NetUnblendedCost", "AmortizedCost", "BlendedCost", "NetAmortizedCost", "UsageQuantity"}
DIMENSION_FIELDS = {"SERVICE": "service", "USAGE_TYPE": "usage_type", "REGION": "region"}


def reset() -> None:
    with _lock:
        _tags.clear()
        _items.clear()


def control(command: str, method: str, environ, read_body):
    if command == "ce/tags" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        today = iam_ext.now(data["account"]).date().isoformat()
        with _lock:
            _tags[data["account"]] = {
                t["key"]: {
                    "TagKey": t["key"],
                    "Type": t.get("type", "UserDefined"),
                    "Status": t.get("status", "Inactive"),
                    "LastUsedDate": today,
                }
                for t in data["tags"]
            }
        return {"set": len(data["tags"])}
    if command == "ce/line-items" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        with _lock:
            _items[data["account"]] = (list(data["items"]), int(data.get("page_size", DEFAULT_PAGE_SIZE)))
        return {"set": len(data["items"])}
    return None


def list_cost_allocation_tags(self):
    status = self._get_param("Status")
    kind = self._get_param("Type")
    keys = self._get_param("TagKeys")
    with _lock:
        tags = [
            dict(t)
            for t in _tags.get(self.current_account, {}).values()
            if (status is None or t["Status"] == status)
            and (kind is None or t["Type"] == kind)
            and (not keys or t["TagKey"] in keys)
        ]
    return json.dumps({"CostAllocationTags": sorted(tags, key=lambda t: t["TagKey"])})


def update_cost_allocation_tags_status(self):
    # 1-20 entries: the model's bounds, enforced by bpemu.validation_ext.
    updates = self._get_param("CostAllocationTagsStatus")
    errors = []
    with _lock:
        known = _tags.setdefault(self.current_account, {})
        for update in updates:
            key, status = update["TagKey"], update["Status"]
            if key not in known:
                errors.append(
                    {"TagKey": key, "Code": "TagKeysNotFoundException", "Message": f"Tag key {key} not found"}
                )
                continue
            known[key]["Status"] = status
            known[key]["LastUpdatedDate"] = iam_ext.now(self.current_account).isoformat()
    return json.dumps({"Errors": errors})


def _match_values(actual: str | None, values: list[str], options: list[str]) -> bool:
    if "ABSENT" in options:
        return actual is None or actual == ""
    if actual is None:
        return False
    fold = "CASE_INSENSITIVE" in options
    a = actual.lower() if fold else actual
    wanted = [v.lower() if fold else v for v in values]
    if "STARTS_WITH" in options:
        return any(a.startswith(v) for v in wanted)
    if "ENDS_WITH" in options:
        return any(a.endswith(v) for v in wanted)
    if "CONTAINS" in options:
        return any(v in a for v in wanted)
    return a in wanted


def _matches(item: dict, expression: dict | None) -> bool:
    if not expression:
        return True
    if "And" in expression:
        return all(_matches(item, e) for e in expression["And"])
    if "Or" in expression:
        return any(_matches(item, e) for e in expression["Or"])
    if "Not" in expression:
        return not _matches(item, expression["Not"])
    if "Dimensions" in expression:
        d = expression["Dimensions"]
        field = DIMENSION_FIELDS.get(d["Key"])
        if field is None:
            raise ValueError(f"unsupported dimension {d['Key']}")
        return _match_values(item.get(field), d.get("Values", []), d.get("MatchOptions", []))
    if "Tags" in expression:
        t = expression["Tags"]
        return _match_values(item.get("tags", {}).get(t["Key"]), t.get("Values", []), t.get("MatchOptions", []))
    raise ValueError(f"unsupported expression {sorted(expression)}")


def _periods(start: str, end: str, granularity: str) -> list[tuple[str, str]]:
    first, last = datetime.date.fromisoformat(start), datetime.date.fromisoformat(end)
    periods = []
    cursor = first
    while cursor < last:
        if granularity == "DAILY":
            nxt = cursor + datetime.timedelta(days=1)
        else:
            nxt = (cursor.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
        nxt = min(nxt, last)
        periods.append((cursor.isoformat(), nxt.isoformat()))
        cursor = nxt
    return periods


def _group_key(item: dict, group: dict) -> str:
    if group["Type"] == "TAG":
        return f"{group['Key']}${item.get('tags', {}).get(group['Key'], '')}"
    field = DIMENSION_FIELDS.get(group["Key"])
    if field is None:
        raise ValueError(f"unsupported group dimension {group['Key']}")
    return item.get(field, "")


def _amount(item: dict, metric: str) -> float:
    return float(item.get("metrics", {}).get(metric, item.get("cost", 0.0)))


def _money(value: float) -> dict:
    return {"Amount": f"{value:.10f}".rstrip("0").rstrip(".") or "0", "Unit": "USD"}


def get_cost_and_usage(self):
    params = json.loads(self.body or "{}")
    period = params.get("TimePeriod") or {}
    start, end = period.get("Start"), period.get("End")
    granularity = params.get("Granularity")
    metrics = params.get("Metrics") or []
    groups = params.get("GroupBy") or []
    try:
        if not start or not end or start >= end:
            raise ValueError("Start date must be before end date")
        if granularity not in ("DAILY", "MONTHLY"):
            raise ValueError(f"Granularity {granularity} is not supported")
        if not metrics or any(m not in METRICS for m in metrics):
            raise ValueError(f"Metrics must be among {sorted(METRICS)}")
        with _lock:
            items, page_size = _items.get(self.current_account, ([], DEFAULT_PAGE_SIZE))
        selected = [i for i in items if start <= i["date"] < end and _matches(i, params.get("Filter"))]
        today = iam_ext.now(self.current_account).date().isoformat()
        rows = []  # (period index, group keys or None, {metric: amount})
        periods = _periods(start, end, granularity)
        for index, (p_start, p_end) in enumerate(periods):
            in_period = [i for i in selected if p_start <= i["date"] < p_end]
            if not groups:
                rows.append((index, None, {m: sum(_amount(i, m) for i in in_period) for m in metrics}))
                continue
            buckets: dict[tuple, dict] = {}
            for item in in_period:
                key = tuple(_group_key(item, g) for g in groups)
                bucket = buckets.setdefault(key, {m: 0.0 for m in metrics})
                for m in metrics:
                    bucket[m] += _amount(item, m)
            for key in sorted(buckets):
                rows.append((index, list(key), buckets[key]))
            if not buckets:
                rows.append((index, [], {}))
    except ValueError as error:
        return handler_error("ValidationException", str(error))
    offset = int(params.get("NextPageToken") or 0)
    page = rows[offset: offset + page_size]
    results: list[dict] = []
    for index, keys, amounts in page:
        p_start, p_end = periods[index]
        if not results or results[-1]["TimePeriod"]["Start"] != p_start:
            results.append({"TimePeriod": {"Start": p_start, "End": p_end}, "Total": {}, "Groups": [],
                            "Estimated": p_end > today})
        if keys is None:
            results[-1]["Total"] = {m: _money(v) for m, v in amounts.items()}
        elif keys:
            results[-1]["Groups"].append({"Keys": keys, "Metrics": {m: _money(v) for m, v in amounts.items()}})
    answer = {"ResultsByTime": results, "DimensionValueAttributes": [],
              "GroupDefinitions": [{"Type": g["Type"], "Key": g["Key"]} for g in groups]}
    if offset + page_size < len(rows):
        answer["NextPageToken"] = str(offset + page_size)
    return json.dumps(answer)


def get_dimension_values(self):
    params = json.loads(self.body or "{}")
    field = DIMENSION_FIELDS.get(params.get("Dimension"))
    if field is None:
        return handler_error("ValidationException", f"unsupported dimension {params.get('Dimension')}")
    period = params.get("TimePeriod") or {}
    search = (params.get("SearchString") or "").lower()
    with _lock:
        items, _ = _items.get(self.current_account, ([], DEFAULT_PAGE_SIZE))
    values = sorted({
        i.get(field, "") for i in items
        if period.get("Start", "") <= i["date"] < period.get("End", "9999") and search in i.get(field, "").lower()
    })
    return json.dumps({"DimensionValues": [{"Value": v, "Attributes": {}} for v in values],
                       "ReturnSize": len(values), "TotalSize": len(values)})


def _budgets(self) -> dict:
    """The budgets of the request's ``AccountId`` (name -> moto ``Budget``)."""
    from moto.budgets.models import budgets_backends

    return budgets_backends[self.current_account][self.partition].budgets[self._get_param("AccountId")]


def _described(budget, show_filter: bool) -> dict:
    """A budget as Describe* answers it: ``FilterExpression`` only when asked for; no ``CostTypes`` that moto
    made up for a budget set with ``FilterExpression``/``Metrics`` (moto 5.2.5 ``Budget.to_dict`` adds default
    ``CostTypes`` to every COST budget without them; AWS: "Either FilterExpression and Metrics or CostFilters and
    CostTypes, not both", CreateBudget in the botocore ``budgets`` model)."""
    shown = budget.to_dict()
    if "CostTypes" not in budget.budget and {"FilterExpression", "Metrics"} & set(budget.budget):
        shown.pop("CostTypes", None)
    if not show_filter:
        shown.pop("FilterExpression", None)
    return shown


def describe_budget(self):
    name = self._get_param("BudgetName")
    budget = _budgets(self).get(name)
    if budget is None:
        return handler_error("NotFoundException", f"Unable to get budget: {name} - the budget doesn't exist.")
    return json.dumps({"Budget": _described(budget, self._get_param("ShowFilterExpression") is True)})


def describe_budgets(self):
    budgets = list(_budgets(self).values())
    start = _offset(self._get_param("NextToken"))
    if start is None or start > len(budgets):
        return handler_error("InvalidNextTokenException", "The pagination token is invalid.")
    end = start + int(self._get_param("MaxResults") or BUDGETS_PAGE_SIZE)
    show = self._get_param("ShowFilterExpression") is True
    answer: dict = {"Budgets": [_described(b, show) for b in budgets[start:end]]}
    if end < len(budgets):
        answer["NextToken"] = str(end)
    return json.dumps(answer)


def _offset(token: str | None) -> int | None:
    """The list offset a ``NextToken`` stands for (0 without one), or None when it is not ours."""
    if not token:
        return 0
    return int(token) if token.isdigit() else None


def update_budget(self):
    from moto.budgets.models import Budget

    new = dict(self._get_param("NewBudget"))
    budgets = _budgets(self)
    name = new["BudgetName"]
    if name not in budgets:
        return handler_error("NotFoundException", f"Unable to update budget - {name} not found")
    new.pop("CalculatedSpend", None)  # "when you modify a budget, the calculatedSpend drops to zero"
    replacement = Budget(new, notifications=[])
    replacement.notifications = budgets[name].notifications
    budgets[name] = replacement
    return json.dumps({})


def describe_subscribers_for_notification(self):
    budget = _budgets(self).get(self._get_param("BudgetName"))
    wanted = self._get_param("Notification")
    for notification in budget.notifications if budget else []:
        if notification.details == wanted:
            return json.dumps({"Subscribers": notification.subscribers})
    return handler_error("NotFoundException", "Notification not found")


def install() -> None:
    from moto.budgets.responses import BudgetsResponse

    CostExplorerResponse.list_cost_allocation_tags = list_cost_allocation_tags
    CostExplorerResponse.update_cost_allocation_tags_status = update_cost_allocation_tags_status
    CostExplorerResponse.get_cost_and_usage = get_cost_and_usage
    CostExplorerResponse.get_dimension_values = get_dimension_values
    BudgetsResponse.describe_budget = describe_budget
    BudgetsResponse.describe_budgets = describe_budgets
    BudgetsResponse.update_budget = update_budget
    BudgetsResponse.describe_subscribers_for_notification = describe_subscribers_for_notification
