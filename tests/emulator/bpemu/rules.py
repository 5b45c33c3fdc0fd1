"""AWS's documented rules across a request's members, which the botocore shapes cannot express: one table.

Each :class:`Rule` names the operations it applies to, the error AWS answers (code and HTTP status), the page
that documents the rule, and a check of the request's members (as :mod:`bpemu.validation_ext` parsed them) that
returns the message of a refusal or None. Rules are checked after the input shape and after authorisation
(``enforce`` runs late in ``bpemu.server.EXTENSIONS``), so a request that breaks its shape gets the shape's
``ValidationError``/``ValidationException`` first. Where AWS's exact message is not known the message is the
emulator's (the rule's ``message_known`` is False); the code is the one the operation's model lists for
invalid parameters.

Control API: ``GET /_emulator/rules`` lists the table: ``{"rules": [{"service", "operations", "code",
"status", "source", "summary"}]}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .protocol import RequestInfo, error_response
from .validation_ext import PARSED

BUDGETS_CREATE = "https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateBudget.html"
BUDGETS_UPDATE = "https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_UpdateBudget.html"
CE_EXPRESSION = "https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_Expression.html"
CE_COST_AND_USAGE = "https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html"
IAM_LIST_SSC = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListServiceSpecificCredentials.html"
IAM_CREATE_SSC = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateServiceSpecificCredential.html"
LOGS_RETENTION = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html"
# PutRetentionPolicy ``retentionInDays``: "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400,
# 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653" (the botocore ``logs`` model; its ``Days`` shape is a
# plain integer, so the input-shape check alone accepts any number).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)


@dataclass(frozen=True)
class Rule:
    service: str  # botocore's service name
    operations: tuple[str, ...]
    code: str
    status: int
    source: str
    summary: str
    check: Callable[[str, dict], str | None]  # (operation, members) -> the refusal's message, or None
    message_known: bool = False  # whether the message is AWS's own text


def _budget(operation: str, params: dict) -> dict:
    """The budget a CreateBudget (``Budget``) or UpdateBudget (``NewBudget``) request sets."""
    budget = params.get("NewBudget" if operation == "UpdateBudget" else "Budget")
    return budget if isinstance(budget, dict) else {}


def budget_filters_and_metrics(operation: str, params: dict) -> str | None:
    """CreateBudget/UpdateBudget: "only one set of filter and metric selections can be present in the syntax at
    one time. Either FilterExpression and Metrics or CostFilters and CostTypes, not both or a different
    combination" (the botocore ``budgets`` model's CreateBudget documentation, and the API reference pages).
    Refused: a budget that mixes the two sets, or sets ``FilterExpression`` without ``Metrics`` (the malformed
    budget of hashicorp/terraform-provider-aws#46866, whose spend AWS then cannot compute: "ValidationException -
    Selected metrics cannot be null"). A budget without any of the four, or with only legacy members, is kept."""
    present = {key for key in ("FilterExpression", "Metrics", "CostFilters", "CostTypes")
               if _budget(operation, params).get(key) is not None}
    new, legacy = present & {"FilterExpression", "Metrics"}, present & {"CostFilters", "CostTypes"}
    if (new and legacy) or ("FilterExpression" in present and "Metrics" not in present):
        return (f"Unable to {'update' if operation == 'UpdateBudget' else 'create'} budget: either FilterExpression "
                f"and Metrics or CostFilters and CostTypes can be set, not both or a different combination "
                f"(the request sets {', '.join(sorted(present))}).")
    return None


def budget_one_limit(operation: str, params: dict) -> str | None:
    """CreateBudget/UpdateBudget: "Only one of BudgetLimit or PlannedBudgetLimits can be present in the syntax at
    one time" (the botocore ``budgets`` model's CreateBudget documentation)."""
    budget = _budget(operation, params)
    if budget.get("BudgetLimit") is not None and budget.get("PlannedBudgetLimits") is not None:
        return "Only one of BudgetLimit or PlannedBudgetLimits can be present in a budget."
    return None


def expression_roots(operation: str, params: dict) -> str | None:
    """Cost Explorer ``Expression``: "Because each Expression can have only one operator, the service returns an
    error if more than one is specified ... 'Expression has more than one roots. Only one root operator is
    allowed for each expression: And, Or, Not, Dimensions, Tags, CostCategories'" (the botocore ``ce`` model's
    Expression documentation). Checked in ``Filter`` at every depth."""
    return _roots(params.get("Filter"))


def _roots(expression) -> str | None:
    if not isinstance(expression, dict):
        return None
    if len([value for value in expression.values() if value is not None]) > 1:
        return ("Expression has more than one roots. Only one root operator is allowed for each expression: And, "
                "Or, Not, Dimensions, Tags, CostCategories")
    nested = list(expression.get("And") or []) + list(expression.get("Or") or []) + [expression.get("Not")]
    return next((found for found in map(_roots, nested) if found is not None), None)


def group_by_two(operation: str, params: dict) -> str | None:
    """GetCostAndUsage ``GroupBy``: "You can group Amazon Web Services costs using up to two different groups"
    (the botocore ``ce`` model; the list shape itself has no maximum)."""
    if len(params.get("GroupBy") or []) > 2:
        return "GroupBy supports at most two keys"
    return None


def all_users_or_user_name(operation: str, params: dict) -> str | None:
    """ListServiceSpecificCredentials ``AllUsers``: "This parameter cannot be specified together with UserName"
    (the botocore ``iam`` model)."""
    if str(params.get("AllUsers", "")).lower() == "true" and params.get("UserName") is not None:
        return "AllUsers cannot be specified together with UserName."
    return None


def age_for_api_keys(operation: str, params: dict) -> str | None:
    """CreateServiceSpecificCredential ``CredentialAgeDays``: "This field is only valid for services that support
    long-term API keys" (the botocore ``iam`` model): Amazon Bedrock's (``bedrock.amazonaws.com``) among the
    services the emulator supports (IAM User Guide, "API keys for AWS services")."""
    if params.get("CredentialAgeDays") is not None and params.get("ServiceName") != "bedrock.amazonaws.com":
        return f"CredentialAgeDays is not supported for the service {params.get('ServiceName')}."
    return None


def retention_days(operation: str, params: dict) -> str | None:
    """PutRetentionPolicy: ``retentionInDays`` must be one of :data:`RETENTION_DAYS`. The message is the one AWS's
    validation layer words for an enum ("Member must satisfy enum value set"), as other emulators of CloudWatch
    Logs quote it."""
    days = params.get("retentionInDays")
    if isinstance(days, bool) or not isinstance(days, int) or days in RETENTION_DAYS:
        return None
    return (f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]")


RULES: tuple[Rule, ...] = (
    Rule("budgets", ("CreateBudget",), "InvalidParameterException", 400, BUDGETS_CREATE,
         "FilterExpression and Metrics, or CostFilters and CostTypes, never both sets", budget_filters_and_metrics),
    Rule("budgets", ("UpdateBudget",), "InvalidParameterException", 400, BUDGETS_UPDATE,
         "FilterExpression and Metrics, or CostFilters and CostTypes, never both sets", budget_filters_and_metrics),
    Rule("budgets", ("CreateBudget", "UpdateBudget"), "InvalidParameterException", 400, BUDGETS_CREATE,
         "BudgetLimit or PlannedBudgetLimits, not both", budget_one_limit),
    Rule("ce", ("GetCostAndUsage", "GetDimensionValues"), "ValidationException", 400, CE_EXPRESSION,
         "one root operator per Expression", expression_roots, message_known=True),
    Rule("ce", ("GetCostAndUsage",), "ValidationException", 400, CE_COST_AND_USAGE,
         "GroupBy has at most two groups", group_by_two),
    Rule("iam", ("ListServiceSpecificCredentials",), "ValidationError", 400, IAM_LIST_SSC,
         "AllUsers cannot be specified together with UserName", all_users_or_user_name),
    Rule("iam", ("CreateServiceSpecificCredential",), "ValidationError", 400, IAM_CREATE_SSC,
         "CredentialAgeDays only for services with long-term API keys", age_for_api_keys),
    Rule("logs", ("PutRetentionPolicy",), "InvalidParameterException", 400, LOGS_RETENTION,
         "retentionInDays is one of the documented retention periods", retention_days),
)


def enforce(info: RequestInfo, environ):
    """The first rule's refusal the request breaks, else None."""
    parsed = environ.get(PARSED)
    if parsed is None:
        return None
    for rule in RULES:
        if rule.service == parsed.service and parsed.operation in rule.operations:
            message = rule.check(parsed.operation, parsed.params)
            if message is not None:
                return error_response(info.service, rule.status, rule.code, message)
    return None


def control(command: str, method: str, environ, read_body):
    if command == "rules" and method == "GET":
        return {"rules": [{"service": r.service, "operations": list(r.operations), "code": r.code,
                           "status": r.status, "source": r.source, "summary": r.summary} for r in RULES]}
    return None
