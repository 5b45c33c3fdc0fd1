"""Contract tests of AWS Budgets actions in the emulator (botocore ``budgets`` 2016-10-20: ``CreateBudgetAction``,
``DescribeBudgetAction``, ``DescribeBudgetActionsForBudget``, ``DescribeBudgetActionsForAccount``,
``UpdateBudgetAction``, ``DeleteBudgetAction``, ``ExecuteBudgetAction``, ``DescribeBudgetActionHistories``) and of
Budgets' evaluation (the ``budgets/evaluate`` and ``budgets/spend`` controls).

Sources: the API reference
(https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateBudgetAction.html: "Roles
and actions must be in the same account", the ``Definition`` follows the ``ActionType``;
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_ExecuteBudgetAction.html:
``APPROVE_BUDGET_ACTION``, ``RETRY_BUDGET_ACTION``, ``REVERSE_BUDGET_ACTION``, ``RESET_BUDGET_ACTION``), the
``ActionStatus`` enum of the model, and the Cost Management user guide's "Configuring a budget action" (actions run
when actual or forecasted spend exceeds the threshold, automatically or after approval; an executed action stays
in force until it is reversed, also across budget periods). The execution role is trusted by
``budgets.amazonaws.com`` and needs ``iam:AttachUserPolicy``/``iam:DetachUserPolicy``.
"""

import datetime
import json

import botocore.exceptions
import pytest

from test_runtime import HELLO, SONNET, bearer_client, unit  # noqa: F401

BUDGET = "bedrock-marketing-monthly"
DENY = "arn:aws:iam::aws:policy/AWSDenyAll"
SUBSCRIBERS = [{"SubscriptionType": "EMAIL", "Address": "finance@example.com"}]


def execution_role(emulator, account: str, name: str = "budgets-actions", service: str = "budgets.amazonaws.com",
                   actions=("iam:AttachUserPolicy", "iam:DetachUserPolicy")) -> str:
    iam = emulator.client("iam", account)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="apply", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}))
    return arn


def create_budget(emulator, account: str, limit: str = "100") -> None:
    emulator.client("budgets", account).create_budget(AccountId=account, Budget={
        "BudgetName": BUDGET, "BudgetLimit": {"Amount": limit, "Unit": "USD"}, "TimeUnit": "MONTHLY",
        "BudgetType": "COST", "Metrics": ["UnblendedCost"],
        "FilterExpression": {"Tags": {"Key": "iamPrincipal/business-unit", "Values": ["marketing"]}}})


def create_action(emulator, account: str, role: str, approval: str = "AUTOMATIC", threshold: float = 100,
                  kind: str = "PERCENTAGE") -> str:
    return emulator.client("budgets", account).create_budget_action(
        AccountId=account, BudgetName=BUDGET, NotificationType="ACTUAL", ActionType="APPLY_IAM_POLICY",
        ActionThreshold={"ActionThresholdValue": threshold, "ActionThresholdType": kind},
        Definition={"IamActionDefinition": {"PolicyArn": DENY, "Users": ["marketing"]}},
        ExecutionRoleArn=role, ApprovalModel=approval, Subscribers=SUBSCRIBERS)["ActionId"]


def status(emulator, account: str, action_id: str) -> str:
    return emulator.client("budgets", account).describe_budget_action(
        AccountId=account, BudgetName=BUDGET, ActionId=action_id)["Action"]["Status"]


def attached(emulator, account: str) -> list[str]:
    return [p["PolicyArn"] for p in emulator.client("iam", account).list_attached_user_policies(
        UserName="marketing")["AttachedPolicies"]]


def execute(emulator, account: str, action_id: str, kind: str):
    return emulator.client("budgets", account, retry=False).execute_budget_action(
        AccountId=account, BudgetName=BUDGET, ActionId=action_id, ExecutionType=kind)


def line_items(emulator, account: str, *costs: tuple[str, str, float]) -> None:
    """Cost Explorer line items (date, business unit, cost) of Claude Sonnet 4.5 in us-east-1."""
    emulator.control("POST", "ce/line-items", {"account": account, "items": [
        {"date": date, "service": "Claude Sonnet 4.5 (Amazon Bedrock Edition)",
         "usage_type": "USE1-MP:USE1_InputTokenCount-Units", "region": "us-east-1",
         "tags": {"iamPrincipal/business-unit": unit_tag}, "cost": cost} for date, unit_tag, cost in costs]})


def test_an_automatic_action_stops_the_units_key_when_spend_exceeds_the_limit(emulator, account, unit):  # noqa: F811
    """Evaluation sums the unit's line items of this month (another unit's and last month's do not count), keeps
    it as the budget's calculated spend, and at more than 100% runs the action: AWSDenyAll is attached to the
    unit's user and its long-term key is refused; reversing detaches it, resetting arms it again."""
    _, credential = unit
    runtime = bearer_client(emulator, credential["ServiceCredentialSecret"])
    create_budget(emulator, account)
    action_id = create_action(emulator, account, execution_role(emulator, account))
    assert status(emulator, account, action_id) == "STANDBY"
    today = datetime.datetime.now(datetime.timezone.utc).date()
    last_month = (today.replace(day=1) - datetime.timedelta(days=1)).isoformat()
    line_items(emulator, account, (today.isoformat(), "marketing", 60.0), (today.isoformat(), "sales", 500.0),
               (last_month, "marketing", 500.0))
    (report,) = emulator.control("POST", "budgets/evaluate", {"account": account})["budgets"]
    assert (report["budget"], report["actual"], report["limit"]) == (BUDGET, 60.0, 100.0)
    assert report["actions"] == [{"ActionId": action_id, "Status": "STANDBY"}], "60% does not trigger"
    spend = emulator.client("budgets", account).describe_budget(AccountId=account, BudgetName=BUDGET)["Budget"]
    assert spend["CalculatedSpend"]["ActualSpend"] == {"Amount": "60", "Unit": "USD"}
    assert runtime.converse(modelId=f"us.{SONNET}", messages=HELLO)["stopReason"] == "end_turn"

    line_items(emulator, account, (today.isoformat(), "marketing", 60.0), (today.isoformat(), "marketing", 45.5))
    emulator.control("POST", "budgets/evaluate", {"account": account})
    assert (status(emulator, account, action_id), attached(emulator, account)) == ("EXECUTION_SUCCESS", [DENY])
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        runtime.converse(modelId=f"us.{SONNET}", messages=HELLO)
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"

    execute(emulator, account, action_id, "REVERSE_BUDGET_ACTION")
    assert (status(emulator, account, action_id), attached(emulator, account)) == ("REVERSE_SUCCESS", [])
    emulator.control("POST", "budgets/evaluate", {"account": account})
    assert status(emulator, account, action_id) == "REVERSE_SUCCESS", "not run again until reset"
    execute(emulator, account, action_id, "RESET_BUDGET_ACTION")
    emulator.control("POST", "budgets/evaluate", {"account": account})
    assert (status(emulator, account, action_id), attached(emulator, account)) == ("EXECUTION_SUCCESS", [DENY])


def test_a_manual_action_waits_for_approval_and_survives_the_period(emulator, account):
    """MANUAL: the threshold makes the action PENDING; APPROVE runs it. The next month (the emulator clock moved)
    does not reverse it, and the spend set for last month no longer counts."""
    emulator.client("iam", account).create_user(UserName="marketing")
    create_budget(emulator, account)
    action_id = create_action(emulator, account, execution_role(emulator, account), approval="MANUAL",
                              threshold=50, kind="ABSOLUTE_VALUE")
    assert emulator.control("POST", "budgets/spend", {"account": account, "budget": BUDGET, "amount": 75})[
        "actual"] == 75
    emulator.control("POST", "budgets/evaluate", {"account": account})
    assert (status(emulator, account, action_id), attached(emulator, account)) == ("PENDING", [])
    execute(emulator, account, action_id, "APPROVE_BUDGET_ACTION")
    assert (status(emulator, account, action_id), attached(emulator, account)) == ("EXECUTION_SUCCESS", [DENY])
    emulator.control("POST", "clock", {"account": account, "advance_days": 35})
    try:
        (report,) = emulator.control("POST", "budgets/evaluate", {"account": account})["budgets"]
    finally:
        emulator.control("POST", "clock", {"account": account, "offset_seconds": 0})
    assert report["actual"] == 0, "a new period: the override was for the last one, no line items"
    assert (status(emulator, account, action_id), attached(emulator, account)) == ("EXECUTION_SUCCESS", [DENY])


def test_execution_needs_a_role_budgets_can_use_and_retry_runs_again(emulator, account):
    """A role not trusted by budgets.amazonaws.com leaves EXECUTION_FAILURE with nothing attached; once the role
    is fixed, RETRY runs the action."""
    iam = emulator.client("iam", account)
    iam.create_user(UserName="marketing")
    create_budget(emulator, account)
    role = execution_role(emulator, account, service="lambda.amazonaws.com")
    action_id = create_action(emulator, account, role)
    emulator.control("POST", "budgets/spend", {"account": account, "budget": BUDGET, "amount": 101})
    emulator.control("POST", "budgets/evaluate", {"account": account})
    assert (status(emulator, account, action_id), attached(emulator, account)) == ("EXECUTION_FAILURE", [])
    iam.update_assume_role_policy(RoleName="budgets-actions", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "budgets.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    execute(emulator, account, action_id, "RETRY_BUDGET_ACTION")
    assert (status(emulator, account, action_id), attached(emulator, account)) == ("EXECUTION_SUCCESS", [DENY])
    histories = emulator.client("budgets", account).describe_budget_action_histories(
        AccountId=account, BudgetName=BUDGET, ActionId=action_id)["ActionHistories"]
    assert [(h["EventType"], h["Status"]) for h in histories] == [
        ("EXECUTE_ACTION", "EXECUTION_SUCCESS"), ("SYSTEM", "EXECUTION_FAILURE"), ("CREATE_ACTION", "STANDBY")]
    assert "cannot assume" in histories[1]["ActionHistoryDetails"]["Message"]


def test_transitions_outside_the_lifecycle_are_refused(emulator, account):
    """APPROVE needs PENDING, REVERSE needs EXECUTION_SUCCESS, RESET a state with nothing applied."""
    create_budget(emulator, account)
    action_id = create_action(emulator, account, execution_role(emulator, account))
    for kind in ("APPROVE_BUDGET_ACTION", "REVERSE_BUDGET_ACTION", "RESET_BUDGET_ACTION", "RETRY_BUDGET_ACTION"):
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            execute(emulator, account, action_id, kind)
        assert raised.value.response["Error"]["Code"] == "ResourceLockedException", kind
    assert status(emulator, account, action_id) == "STANDBY"


def test_create_describe_update_delete_and_list(emulator, account):
    """The action's members as created; a definition of another type, a role of another account and a missing
    budget are refused; Update answers the old and new action; the lists page; Delete answers the action;
    DeleteBudget takes the budget's actions with it."""
    budgets = emulator.client("budgets", account, retry=False)
    role = execution_role(emulator, account)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        create_action(emulator, account, role)
    assert raised.value.response["Error"]["Code"] == "NotFoundException"
    create_budget(emulator, account)
    first, second = create_action(emulator, account, role), create_action(emulator, account, role)
    action = budgets.describe_budget_action(AccountId=account, BudgetName=BUDGET, ActionId=first)["Action"]
    assert action == {"ActionId": first, "BudgetName": BUDGET, "NotificationType": "ACTUAL",
                      "ActionType": "APPLY_IAM_POLICY",
                      "ActionThreshold": {"ActionThresholdValue": 100.0, "ActionThresholdType": "PERCENTAGE"},
                      "Definition": {"IamActionDefinition": {"PolicyArn": DENY, "Users": ["marketing"]}},
                      "ExecutionRoleArn": role, "ApprovalModel": "AUTOMATIC", "Status": "STANDBY",
                      "Subscribers": SUBSCRIBERS}
    for definition, role_arn in (({"ScpActionDefinition": {"PolicyId": "p-12345678", "TargetIds": [account]}}, role),
                                 ({"IamActionDefinition": {"PolicyArn": DENY, "Users": ["marketing"]}},
                                  role.replace(account, "1" * 12))):
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            budgets.create_budget_action(
                AccountId=account, BudgetName=BUDGET, NotificationType="ACTUAL", ActionType="APPLY_IAM_POLICY",
                ActionThreshold={"ActionThresholdValue": 80, "ActionThresholdType": "PERCENTAGE"},
                Definition=definition, ExecutionRoleArn=role_arn, ApprovalModel="MANUAL", Subscribers=SUBSCRIBERS)
        assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    updated = budgets.update_budget_action(AccountId=account, BudgetName=BUDGET, ActionId=first,
                                           ApprovalModel="MANUAL")
    assert (updated["OldAction"]["ApprovalModel"], updated["NewAction"]["ApprovalModel"]) == ("AUTOMATIC", "MANUAL")
    page = budgets.describe_budget_actions_for_budget(AccountId=account, BudgetName=BUDGET, MaxResults=1)
    rest = budgets.describe_budget_actions_for_budget(AccountId=account, BudgetName=BUDGET,
                                                      NextToken=page["NextToken"])
    assert [a["ActionId"] for a in page["Actions"] + rest["Actions"]] == [first, second]
    assert len(budgets.describe_budget_actions_for_account(AccountId=account)["Actions"]) == 2
    deleted = budgets.delete_budget_action(AccountId=account, BudgetName=BUDGET, ActionId=second)
    assert deleted["Action"]["ActionId"] == second
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        budgets.describe_budget_action(AccountId=account, BudgetName=BUDGET, ActionId=second)
    assert raised.value.response["Error"]["Code"] == "NotFoundException"
    budgets.delete_budget(AccountId=account, BudgetName=BUDGET)
    create_budget(emulator, account)
    assert budgets.describe_budget_actions_for_account(AccountId=account)["Actions"] == [], "gone with the budget"
