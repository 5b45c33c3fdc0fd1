"""AWS Budgets actions (moto 5.2.5 has none), and Budgets' evaluation of spend against budgets, on the emulator's
clock and Cost Explorer line items.

Written from the botocore ``budgets`` model (2016-10-20: ``CreateBudgetAction``, ``DescribeBudgetAction``,
``DescribeBudgetActionsForBudget``, ``DescribeBudgetActionsForAccount``, ``UpdateBudgetAction``,
``DeleteBudgetAction``, ``ExecuteBudgetAction``, ``DescribeBudgetActionHistories``; ``ActionStatus``,
``ExecutionType``, ``EventType``) and the API reference
(https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateBudgetAction.html,
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_ExecuteBudgetAction.html).

- ``CreateBudgetAction`` needs the budget (``NotFoundException``), a ``Definition`` of the ``ActionType``
  ("This field also determines the format for definition": ``APPLY_IAM_POLICY`` takes ``IamActionDefinition``
  with at least one of ``Users``, ``Roles``, ``Groups``) and an ``ExecutionRoleArn`` of the budget's account
  ("Roles and actions must be in the same account"); else ``InvalidParameterException``. A new action is
  ``STANDBY``.
- Evaluation (AWS Budgets evaluates "several times a day"; here on ``POST /_emulator/budgets/evaluate``): the
  budget's actual spend in its current period (``TimeUnit`` on the account's emulator clock) is the
  ``POST /_emulator/budgets/spend`` amount set for this period, else the sum of the account's Cost Explorer line
  items (:mod:`bpemu.billing_ext`) dated in the period that match the budget's ``FilterExpression`` (metric:
  the budget's first ``Metrics`` entry, default ``UnblendedCost``). The forecast is the actual spend
  extrapolated linearly over the period. Both are kept as the budget's ``CalculatedSpend``. An action is
  triggered when the spend of its ``NotificationType`` exceeds its threshold (``PERCENTAGE`` of the budget's
  limit for the period, or ``ABSOLUTE_VALUE``; "exceeds", as the user guide words budget actions, so strictly
  greater) while it is ``STANDBY``: ``AUTOMATIC`` runs it, ``MANUAL`` makes it ``PENDING``. Nothing is reversed
  when a period ends (AWS does not reverse actions by itself).
- Running ``APPLY_IAM_POLICY``: Budgets assumes ``ExecutionRoleArn`` (the role must exist and trust
  ``budgets.amazonaws.com``, context ``aws:SourceAccount`` and ``aws:SourceArn`` =
  ``arn:aws:budgets::ACCOUNT:budget/NAME``; :mod:`bpemu.service_roles`), which must be allowed
  ``iam:Attach{User,Role,Group}Policy`` on each target (``iam:Detach...`` to reverse); then the managed policy
  is attached in moto's IAM to every user, role and group named (reversing detaches it). Any failure (role,
  permission, a missing policy or target, or the other action types, which the emulator does not run) leaves
  ``EXECUTION_FAILURE`` (``REVERSE_FAILURE``) and nothing half done is kept.
- ``ExecuteBudgetAction``: ``APPROVE_BUDGET_ACTION`` from ``PENDING``, ``RETRY_BUDGET_ACTION`` from
  ``EXECUTION_FAILURE`` (runs again) or ``REVERSE_FAILURE`` (reverses again), ``REVERSE_BUDGET_ACTION`` from
  ``EXECUTION_SUCCESS`` (-> ``REVERSE_SUCCESS``), ``RESET_BUDGET_ACTION`` from ``REVERSE_SUCCESS``, ``PENDING`` or
  ``EXECUTION_FAILURE`` (nothing applied; -> ``STANDBY``, so it can run again). Transitions complete at once (the
  ``*_IN_PROGRESS`` states are never seen). Another combination answers ``ResourceLockedException`` ("the
  server rejected that particular method for the requested resource"; AWS's answer there is not documented).
- ``DeleteBudget`` (moto's) also deletes the budget's actions and its set spend (the emulator's reading: AWS
  does not document what becomes of them).
- ``DescribeBudgetActionHistories``: one entry per change, newest first (``CREATE_ACTION``, ``UPDATE_ACTION``,
  ``EXECUTE_ACTION`` for ``ExecuteBudgetAction``, ``SYSTEM`` for what an evaluation did), ``TimePeriod`` filter.
- The lists page with ``MaxResults`` (default 100) and an opaque ``NextToken`` (``InvalidNextTokenException``).

Control API:

- ``POST /_emulator/budgets/evaluate`` ``{"account"}`` -> ``{"budgets": [{"budget", "period_start", "limit",
  "actual", "forecasted", "actions": [{"ActionId", "Status"}]}]}`` (amounts as numbers).
- ``POST /_emulator/budgets/spend`` ``{"account", "budget", "amount"}`` sets the budget's actual spend for its
  current period (it applies until the period ends) -> ``{"budget", "period_start", "actual"}``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import threading
import uuid

from moto.budgets.models import budgets_backends
from moto.budgets.responses import BudgetsResponse
from moto.iam.models import iam_backends

from . import billing_ext, iam_ext, service_roles
from .protocol import handler_error

BUDGETS = "budgets.amazonaws.com"
PAGE = 100
# ExecutionType -> {status it applies to: what it does}.
TRANSITIONS = {
    "APPROVE_BUDGET_ACTION": {"PENDING": "execute"},
    "RETRY_BUDGET_ACTION": {"EXECUTION_FAILURE": "execute", "REVERSE_FAILURE": "reverse"},
    "REVERSE_BUDGET_ACTION": {"EXECUTION_SUCCESS": "reverse"},
    "RESET_BUDGET_ACTION": {"REVERSE_SUCCESS": "reset", "PENDING": "reset", "EXECUTION_FAILURE": "reset"},
}
_TARGETS = (("Users", "User"), ("Roles", "Role"), ("Groups", "Group"))
_MEMBERS = ("NotificationType", "ActionThreshold", "Definition", "ExecutionRoleArn", "ApprovalModel", "Subscribers")

_lock = threading.RLock()
# (emulator account, budget account, budget name) -> action id -> action
_actions: dict[tuple[str, str, str], dict[str, dict]] = {}
_history: dict[str, list[dict]] = {}  # action id -> entries, oldest first
_spend: dict[tuple[str, str, str], tuple[str, float]] = {}  # budget key -> (period start, actual spend)


def install() -> None:
    for name in ("create_budget_action", "describe_budget_action", "describe_budget_actions_for_budget",
                 "describe_budget_actions_for_account", "update_budget_action", "delete_budget_action",
                 "execute_budget_action", "describe_budget_action_histories"):
        setattr(BudgetsResponse, name, globals()[name])
    moto_delete = BudgetsResponse.delete_budget

    def delete_budget(self):
        """moto's DeleteBudget, and the budget's actions and spend go with it."""
        answer = moto_delete(self)
        with _lock:
            _actions.pop(_key(self), None)
            _spend.pop(_key(self), None)
        return answer

    BudgetsResponse.delete_budget = delete_budget


def reset() -> None:
    with _lock:
        _actions.clear()
        _history.clear()
        _spend.clear()


def control(command: str, method: str, environ, read_body):
    if command == "budgets/evaluate" and method == "POST":
        return {"budgets": evaluate(json.loads(read_body(environ) or b"{}")["account"])}
    if command == "budgets/spend" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        return set_spend(data["account"], data.get("budget_account", data["account"]), data["budget"],
                         float(data["amount"]))
    return None


# -- the API --------------------------------------------------------------------------------------------------


def _budget(self, name: str | None = None):
    found = budgets_backends[self.current_account][self.partition].budgets[self._get_param("AccountId")]
    return found.get(name or self._get_param("BudgetName"))


def _key(self) -> tuple[str, str, str]:
    return self.current_account, self._get_param("AccountId"), self._get_param("BudgetName")


def _found(self) -> dict | None:
    """The action the request names, if it and its budget exist (a deleted budget's actions are gone)."""
    if _budget(self) is None:
        return None
    return _actions.get(_key(self), {}).get(self._get_param("ActionId"))


def _missing(self):
    return handler_error("NotFoundException", f"Unable to find action {self._get_param('ActionId')} of budget "
                         f"{self._get_param('BudgetName')}.")


def create_budget_action(self):
    if _budget(self) is None:
        return handler_error("NotFoundException", f"Unable to create action - budget "
                             f"{self._get_param('BudgetName')} doesn't exist.")
    params = json.loads(self.body)
    problem = _definition_problem(params)
    if problem is not None:
        return handler_error("InvalidParameterException", problem)
    action = {"ActionId": str(uuid.uuid4()), "BudgetName": params["BudgetName"], "ActionType": params["ActionType"],
              "Status": "STANDBY"}
    action |= {member: params[member] for member in _MEMBERS}
    with _lock:
        _actions.setdefault(_key(self), {})[action["ActionId"]] = action
        _note(self.current_account, action, "CREATE_ACTION", "Action created.")
    return json.dumps({"AccountId": params["AccountId"], "BudgetName": params["BudgetName"],
                       "ActionId": action["ActionId"]})


def _definition_problem(params: dict) -> str | None:
    """Why `params` (a whole or updated action) cannot be, per the model's documentation, or None."""
    role_arn, definition = params.get("ExecutionRoleArn"), params.get("Definition")
    if role_arn is not None and role_arn.split(":")[4] != params["AccountId"]:
        return "The execution role must be in the budget's account: roles and actions must be in the same account."
    if definition is None:
        return None
    wanted = {"APPLY_IAM_POLICY": "IamActionDefinition", "APPLY_SCP_POLICY": "ScpActionDefinition",
              "RUN_SSM_DOCUMENTS": "SsmActionDefinition"}[params["ActionType"]]
    if set(definition) != {wanted}:
        return f"An action of type {params['ActionType']} takes a Definition with {wanted} only."
    if wanted == "IamActionDefinition" and not any(definition[wanted].get(k) for k, _ in _TARGETS):
        return "IamActionDefinition needs at least one of Users, Roles or Groups."
    return None


def describe_budget_action(self):
    with _lock:
        action = _found(self)
        if action is None:
            return _missing(self)
        return json.dumps({"AccountId": self._get_param("AccountId"), "BudgetName": self._get_param("BudgetName"),
                           "Action": action})


def describe_budget_actions_for_budget(self):
    if _budget(self) is None:
        return handler_error("NotFoundException", f"Unable to get budget: {self._get_param('BudgetName')} - the "
                             "budget doesn't exist.")
    with _lock:
        actions = list(_actions.get(_key(self), {}).values())
    return _listed(self, "Actions", actions)


def describe_budget_actions_for_account(self):
    with _lock:
        actions = [action for (account, budget_account, _), found in _actions.items()
                   if (account, budget_account) == (self.current_account, self._get_param("AccountId"))
                   for action in found.values()]
    return _listed(self, "Actions", actions)


def _listed(self, member: str, items: list):
    start = _offset(self._get_param("NextToken"))
    if start is None or start > len(items):
        return handler_error("InvalidNextTokenException", "The pagination token is invalid.")
    end = start + int(self._get_param("MaxResults") or PAGE)
    answer: dict = {member: items[start:end]}
    if end < len(items):
        answer["NextToken"] = base64.urlsafe_b64encode(f"actions:{end}".encode()).decode()
    return json.dumps(answer, default=_seconds)


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        return int(offset) if kind == "actions" else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _seconds(value):
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    raise TypeError(f"{type(value)} is not JSON")


def update_budget_action(self):
    params = json.loads(self.body)
    with _lock:
        action = _found(self)
        if action is None:
            return _missing(self)
        problem = _definition_problem({"ActionType": action["ActionType"], **params})
        if problem is not None:
            return handler_error("InvalidParameterException", problem)
        old = json.loads(json.dumps(action))
        action.update({member: params[member] for member in _MEMBERS if member in params})
        _note(self.current_account, action, "UPDATE_ACTION", "Action updated.")
        return json.dumps({"AccountId": params["AccountId"], "BudgetName": params["BudgetName"], "OldAction": old,
                           "NewAction": action})


def delete_budget_action(self):
    with _lock:
        action = _found(self)
        if action is None:
            return _missing(self)
        del _actions[_key(self)][action["ActionId"]]
        _note(self.current_account, action, "DELETE_ACTION", "Action deleted.")
    return json.dumps({"AccountId": self._get_param("AccountId"), "BudgetName": self._get_param("BudgetName"),
                       "Action": action})


def execute_budget_action(self):
    kind = self._get_param("ExecutionType")
    with _lock:
        action = _found(self)
        if action is None:
            return _missing(self)
        step = TRANSITIONS[kind].get(action["Status"])
        if step is None:
            return handler_error("ResourceLockedException", f"The action cannot be {kind} while its status is "
                                 f"{action['Status']}.")
        outcome = _step(self.current_account, self._get_param("AccountId"), action, step)
        _note(self.current_account, action, "EXECUTE_ACTION", f"{kind}: {outcome}")
    return json.dumps({"AccountId": self._get_param("AccountId"), "BudgetName": self._get_param("BudgetName"),
                       "ActionId": action["ActionId"], "ExecutionType": kind})


def describe_budget_action_histories(self):
    with _lock:
        if _found(self) is None:
            return _missing(self)
        entries = list(reversed(_history.get(self._get_param("ActionId"), [])))
    period = self._get_param("TimePeriod") or {}
    start, end = (period.get(k) for k in ("Start", "End"))
    entries = [e for e in entries if (start is None or e["Timestamp"].timestamp() >= float(start))
               and (end is None or e["Timestamp"].timestamp() <= float(end))]
    return _listed(self, "ActionHistories", entries)


def _note(account: str, action: dict, event: str, message: str) -> None:
    """A history entry for `action` as it is now."""
    snapshot = json.loads(json.dumps(action))
    _history.setdefault(action["ActionId"], []).append({
        "Timestamp": iam_ext.now(account), "Status": action["Status"], "EventType": event,
        "ActionHistoryDetails": {"Message": message, "Action": snapshot}})


# -- running, reversing, resetting ----------------------------------------------------------------------------


def _step(account: str, budget_account: str, action: dict, step: str) -> str:
    """Run, reverse or reset `action`, setting its status; what happened, for the history."""
    if step == "reset":
        action["Status"] = "STANDBY"
        return "The action was reset."
    attach = step == "execute"
    failure = _apply(account, budget_account, action, attach)
    if attach:
        action["Status"] = "EXECUTION_SUCCESS" if failure is None else "EXECUTION_FAILURE"
    else:
        action["Status"] = "REVERSE_SUCCESS" if failure is None else "REVERSE_FAILURE"
    return failure or ("The policy was attached." if attach else "The policy was detached.")


def _apply(account: str, budget_account: str, action: dict, attach: bool) -> str | None:
    """Attach (or detach) the action's policy to its targets with its execution role; the failure, or None."""
    if action["ActionType"] != "APPLY_IAM_POLICY":
        return f"The emulator does not run {action['ActionType']} actions."
    definition = action["Definition"]["IamActionDefinition"]
    backend = iam_backends[account]["aws"]
    targets = _targets(backend, definition)
    if targets is None:
        return "A user, role or group of the action does not exist."
    denied = _role_refusal(account, action, targets, attach)
    if denied is not None:
        return denied
    policy = next((p for p in backend.managed_policies.values() if p.arn == definition["PolicyArn"]), None)
    if policy is None:
        return f"Policy {definition['PolicyArn']} does not exist or is not attachable."
    for _, entity in targets:
        if attach and policy.arn not in entity.managed_policies:
            policy.attach_to(entity)
        elif not attach and policy.arn in entity.managed_policies:
            policy.detach_from(entity)
    return None


def _targets(backend, definition: dict) -> list[tuple[str, object]] | None:
    """(kind, moto entity) of every user, role and group the definition names (a path prefix ignored)."""
    roles = {role.name: role for role in backend.roles.values()}
    found = []
    for member, kind in _TARGETS:
        by_name = {"User": backend.users, "Role": roles, "Group": backend.groups}[kind]
        for name in definition.get(member) or []:
            entity = by_name.get(name.rsplit("/", 1)[-1])
            if entity is None:
                return None
            found.append((kind, entity))
    return found


def _role_refusal(account: str, action: dict, targets, attach: bool) -> str | None:
    role = service_roles.role(action["ExecutionRoleArn"])
    source = f"arn:aws:budgets::{account}:budget/{action['BudgetName']}"
    context = service_roles.service_context(account, source)
    if role is None or not service_roles.trusts(role, BUDGETS, context):
        return f"Budgets cannot assume {action['ExecutionRoleArn']}."
    context["iam:PolicyARN"] = [action["Definition"]["IamActionDefinition"]["PolicyArn"]]
    verb = "Attach" if attach else "Detach"
    for kind, entity in targets:
        if not service_roles.allows(role, f"iam:{verb}{kind}Policy", entity.arn, context):
            return f"{action['ExecutionRoleArn']} is not allowed iam:{verb}{kind}Policy on {entity.arn}."
    return None


# -- evaluation -----------------------------------------------------------------------------------------------


def _period(budget: dict, now: datetime.datetime) -> tuple[datetime.date, datetime.date]:
    """The budget period containing `now` (UTC): DAILY, MONTHLY, QUARTERLY or ANNUALLY."""
    today = now.date()
    unit = budget.get("TimeUnit", "MONTHLY")
    if unit == "DAILY":
        return today, today + datetime.timedelta(days=1)
    if unit == "ANNUALLY":
        return today.replace(month=1, day=1), today.replace(year=today.year + 1, month=1, day=1)
    months = 3 if unit == "QUARTERLY" else 1
    first = today.replace(month=(today.month - 1) // months * months + 1, day=1)
    month = first.month - 1 + months
    return first, first.replace(year=first.year + month // 12, month=month % 12 + 1)


def _limit(budget: dict, start: datetime.date) -> float | None:
    planned = budget.get("PlannedBudgetLimits") or {}
    epoch = str(int(datetime.datetime(start.year, start.month, start.day, tzinfo=datetime.timezone.utc).timestamp()))
    spend = planned.get(epoch) or budget.get("BudgetLimit")
    return float(spend["Amount"]) if spend else None


def _actual(account: str, key: tuple[str, str, str], budget: dict, period, now) -> float:
    with _lock:
        override = _spend.get(key)
    if override is not None and override[0] == period[0].isoformat():
        return override[1]
    with billing_ext._lock:
        items = list(billing_ext._items.get(account, ([], 0))[0])
    metric = (budget.get("Metrics") or ["UnblendedCost"])[0]
    until = min(period[1], now.date() + datetime.timedelta(days=1)).isoformat()
    return sum(billing_ext._amount(item, metric) for item in items
               if period[0].isoformat() <= item["date"] < until
               and billing_ext._matches(item, budget.get("FilterExpression")))


def _forecast(actual: float, period, now: datetime.datetime) -> float:
    days = (period[1] - period[0]).days
    elapsed = max((now.date() - period[0]).days + 1, 1)
    return actual * days / elapsed


def evaluate(account: str) -> list[dict]:
    """Evaluate every budget of `account`'s Budgets: spend, then its actions."""
    now = iam_ext.now(account)
    report = []
    for budget_account, budgets in list(budgets_backends[account]["aws"].budgets.items()):
        for name, budget in list(budgets.items()):
            report.append(_evaluate_budget(account, (account, budget_account, name), budget, now))
    return report


def _evaluate_budget(account: str, key: tuple[str, str, str], budget, now) -> dict:
    period = _period(budget.budget, now)
    actual = _actual(account, key, budget.budget, period, now)
    forecast = _forecast(actual, period, now)
    budget.budget["CalculatedSpend"] = {"ActualSpend": _money(actual), "ForecastedSpend": _money(forecast)}
    limit = _limit(budget.budget, period[0])
    with _lock:
        actions = list(_actions.get(key, {}).values())
        for action in actions:
            spend = actual if action["NotificationType"] == "ACTUAL" else forecast
            if action["Status"] == "STANDBY" and _crossed(action["ActionThreshold"], spend, limit):
                _trigger(account, key[1], action)
    return {"budget": key[2], "period_start": period[0].isoformat(), "limit": limit, "actual": actual,
            "forecasted": forecast, "actions": [{"ActionId": a["ActionId"], "Status": a["Status"]} for a in actions]}


def _crossed(threshold: dict, spend: float, limit: float | None) -> bool:
    value = float(threshold["ActionThresholdValue"])
    if threshold["ActionThresholdType"] == "ABSOLUTE_VALUE":
        return spend > value
    return limit is not None and spend > limit * value / 100


def _trigger(account: str, budget_account: str, action: dict) -> None:
    if action["ApprovalModel"] == "MANUAL":
        action["Status"] = "PENDING"
        _note(account, action, "SYSTEM", "The threshold was exceeded: the action waits for approval.")
        return
    outcome = _step(account, budget_account, action, "execute")
    _note(account, action, "SYSTEM", f"The threshold was exceeded: {outcome}")


def _money(amount: float) -> dict:
    return {"Amount": f"{amount:.10f}".rstrip("0").rstrip(".") or "0", "Unit": "USD"}


def set_spend(account: str, budget_account: str, name: str, amount: float) -> dict:
    """The control: `name`'s actual spend for its current period."""
    budget = budgets_backends[account]["aws"].budgets[budget_account].get(name)
    if budget is None:
        raise KeyError(f"budget {name} of account {budget_account} does not exist")
    period = _period(budget.budget, iam_ext.now(account))
    with _lock:
        _spend[(account, budget_account, name)] = (period[0].isoformat(), amount)
    spend = budget.budget.get("CalculatedSpend") or {"ForecastedSpend": _money(0)}
    budget.budget["CalculatedSpend"] = spend | {"ActualSpend": _money(amount)}
    return {"budget": name, "period_start": period[0].isoformat(), "actual": amount}
