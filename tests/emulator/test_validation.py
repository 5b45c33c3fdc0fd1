"""Contract tests: the emulator refuses what AWS refuses, moto's own actions included (issue 20).

Every request is held to its botocore input shape (pinned botocore 1.44.8 models; :mod:`bpemu.validation_ext`)
before moto serves it, with AWS's errors from "Common Errors": ``ValidationError`` for the query APIs
(https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html, "The input fails to satisfy the
constraints specified by an AWS service", HTTP 400) and ``ValidationException`` for the JSON ones
(https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/CommonErrors.html). The documented rules
across members that shapes cannot express are in one table (:mod:`bpemu.rules`), each row with its source.
"""

import json

import botocore.exceptions
import pytest

TAG_VALUE_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"
BEDROCK_FILTER = {"And": [{"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}},
                          {"Tags": {"Key": "business-unit", "Values": ["marketing"]}}]}
BUDGET = {"BudgetName": "bedrock-marketing", "BudgetLimit": {"Amount": "100", "Unit": "USD"},
          "TimeUnit": "MONTHLY", "BudgetType": "COST"}


def refused(call, **kwargs) -> dict:
    """The error of a call AWS refuses: HTTP status, code and message."""
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return {"status": response["ResponseMetadata"]["HTTPStatusCode"], **response["Error"]}


def unvalidated(emulator, service: str, account: str):
    """A client that sends what botocore's own parameter validation would stop (as other SDKs do)."""
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=emulator.endpoint, region_name="us-east-1", aws_access_key_id=account,
                        aws_secret_access_key="contract-test",
                        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))


# -- input shapes, moto's own actions included ----------------------------------------------------------------


def test_an_iam_tag_value_with_a_comma_is_refused(emulator, account):
    """IAM ``tagValueType``: pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`` (botocore ``iam`` model; IAM User Guide,
    "Tagging IAM resources": "Tag keys and values can include any combination of letters, numbers, spaces, and _ .
    : / = + - @ symbols", https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html). moto 5.2.5 accepts
    the comma; AWS answers ValidationError, and CreateUser creates nothing."""
    iam = emulator.client("iam", account, retry=False)
    iam.create_user(UserName="marketing")
    error = refused(iam.tag_user, UserName="marketing", Tags=[{"Key": "cost-center", "Value": "a,b"}])
    assert error == {"status": 400, "Type": "Sender", "Code": "ValidationError", "Message": (
        "1 validation error detected: Value 'a,b' at 'tags.1.member.value' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {TAG_VALUE_PATTERN}")}
    assert iam.list_user_tags(UserName="marketing")["Tags"] == []
    error = refused(iam.create_user, UserName="sales", Tags=[{"Key": "team", "Value": "x;y"}])
    assert error["Code"] == "ValidationError"
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["marketing"], "a refused CreateUser creates nothing"


def test_unicode_letters_numbers_and_spaces_are_tag_values(emulator, account):
    """``\\p{L}``, ``\\p{Z}`` and ``\\p{N}`` are Unicode categories (letters, separators, numbers in any script)."""
    iam = emulator.client("iam", account, retry=False)
    iam.create_user(UserName="marketing", Tags=[{"Key": "équipe", "Value": "Ünïcødé 東京 ٣ = x+y @ a/b:c"}])
    assert iam.list_user_tags(UserName="marketing")["Tags"] == [
        {"Key": "équipe", "Value": "Ünïcødé 東京 ٣ = x+y @ a/b:c"}]
    assert "failed to satisfy constraint" in refused(
        iam.tag_user, UserName="marketing", Tags=[{"Key": "k", "Value": "tab\there"}])["Message"], "a tab is not \\p{Z}"


def test_moto_native_query_and_json_requests_are_held_to_their_shapes(emulator, account):
    """Ranges, lengths, patterns, types and unknown members, for actions moto serves itself: STS AssumeRole
    ``DurationSeconds`` 900-43200 (botocore ``sts``), IAM ListUsers ``MaxItems`` an integer 1-1000, Budgets
    ``BudgetName`` (pattern ``^(?![^:\\\\]*/action/|(?i).*<script>.*</script>.*)[^:\\\\]+$``: "The : and \\
    characters, and the "/action/" substring, aren't allowed", botocore ``budgets``)."""
    sts, iam = unvalidated(emulator, "sts", account), unvalidated(emulator, "iam", account)
    role = f"arn:aws:iam::{account}:role/r"
    assert "Value '100' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than " \
           "or equal to 900" in refused(sts.assume_role, RoleArn=role, RoleSessionName="s1", DurationSeconds=100)[
               "Message"]
    error = refused(iam.list_users, MaxItems="ten")
    assert (error["status"], error["Code"]) == (400, "ValidationError"), "not moto's HTTP 500"
    budgets = unvalidated(emulator, "budgets", account)
    for name in ("a:b", "x/action/y", "<script>alert(1)</script>"):
        error = refused(budgets.create_budget, AccountId=account, Budget={**BUDGET, "BudgetName": name})
        assert (error["status"], error["Code"]) == (400, "ValidationException"), name
        assert "at 'budget.budgetName' failed to satisfy constraint: Member must satisfy regular expression" in \
            error["Message"]
    assert budgets.describe_budgets(AccountId=account).get("Budgets", []) == []

    def with_colour(request, **_):
        body = json.loads(request.data)
        request.data = json.dumps({**body, "Budget": {**body["Budget"], "Colour": "red"}}).encode()

    budgets.meta.events.register("before-sign.budgets.CreateBudget", with_colour)
    assert "Value 'red' at 'budget.colour' failed to satisfy constraint: Member is not part of Budget" in refused(
        budgets.create_budget, AccountId=account, Budget=BUDGET)["Message"]


def test_a_sensitive_value_is_never_echoed(emulator, account):
    """Secrets Manager ``SecretStringType`` is ``sensitive`` in the model (max 65536 characters): the error
    names the member, not its value ("Value at 'secretString' failed to satisfy constraint")."""
    secrets = unvalidated(emulator, "secretsmanager", account)
    secret = "s3cr3t-" + "x" * 65536
    error = refused(secrets.create_secret, Name="bp/too-long", SecretString=secret)
    assert error["Code"] == "ValidationException"
    assert error["Message"] == ("1 validation error detected: Value at 'secretString' failed to satisfy constraint: "
                                "Member must have length less than or equal to 65536")
    seen = json.dumps(emulator.control("GET", f"requests?access_key={account}"))
    assert "s3cr3t" not in seen


# -- AWS's documented rules across members: bpemu.rules ------------------------------------------------------


def test_budgets_take_filter_expression_with_metrics_or_cost_filters_with_cost_types(emulator, account):
    """CreateBudget/UpdateBudget: "Either FilterExpression and Metrics or CostFilters and CostTypes, not both or
    a different combination"; "Only one of BudgetLimit or PlannedBudgetLimits"
    (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateBudget.html, botocore
    ``budgets``); a FilterExpression without Metrics makes a budget AWS cannot compute
    (hashicorp/terraform-provider-aws#46866). Refused with InvalidParameterException, HTTP 400."""
    budgets = emulator.client("budgets", account, retry=False)
    for wrong in ({"FilterExpression": BEDROCK_FILTER},
                  {"FilterExpression": BEDROCK_FILTER, "Metrics": ["UnblendedCost"],
                   "CostTypes": {"UseBlended": False}},
                  {"Metrics": ["UnblendedCost"], "CostFilters": {"Service": ["Amazon Bedrock"]}},
                  {"PlannedBudgetLimits": {"1767225600": {"Amount": "100", "Unit": "USD"}}}):
        error = refused(budgets.create_budget, AccountId=account, Budget={**BUDGET, **wrong})
        assert (error["status"], error["Code"]) == (400, "InvalidParameterException"), wrong
    good = {**BUDGET, "FilterExpression": BEDROCK_FILTER, "Metrics": ["UnblendedCost"]}
    budgets.create_budget(AccountId=account, Budget=good)
    shown = budgets.describe_budget(AccountId=account, BudgetName=BUDGET["BudgetName"],
                                    ShowFilterExpression=True)["Budget"]
    assert (shown["FilterExpression"], shown["Metrics"]) == (BEDROCK_FILTER, ["UnblendedCost"]), "kept as sent"
    assert "CostTypes" not in shown, "moto's made-up CostTypes are not answered beside Metrics"
    error = refused(budgets.update_budget, AccountId=account, NewBudget={**BUDGET, "FilterExpression": BEDROCK_FILTER})
    assert error["Code"] == "InvalidParameterException"
    budgets.create_budget(AccountId=account, Budget={**BUDGET, "BudgetName": "legacy",
                                                     "CostFilters": {"Service": ["Amazon Bedrock"]}})


def test_cost_explorer_expressions_have_one_root(emulator, account):
    """Cost Explorer ``Expression``: "each Expression can have only one operator, the service returns an error if
    more than one is specified", with the message quoted (botocore ``ce`` model;
    https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_Expression.html), at any depth; and
    GetCostAndUsage groups by "up to two different groups"."""
    ce = emulator.client("ce", account, retry=False)
    period = {"Start": "2026-10-01", "End": "2026-11-01"}
    two_roots = {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]},
                 "Tags": {"Key": "business-unit", "Values": ["a"]}}
    for expression in (two_roots, {"And": [two_roots, {"Tags": {"Key": "k", "Values": ["v"]}}]}):
        error = refused(ce.get_cost_and_usage, TimePeriod=period, Granularity="MONTHLY", Metrics=["UnblendedCost"],
                        Filter=expression)
        assert error == {"status": 400, "Code": "ValidationException", "Message": (
            "Expression has more than one roots. Only one root operator is allowed for each expression: And, Or, "
            "Not, Dimensions, Tags, CostCategories")}
    groups = [{"Type": "DIMENSION", "Key": key} for key in ("SERVICE", "USAGE_TYPE", "REGION")]
    assert refused(ce.get_cost_and_usage, TimePeriod=period, Granularity="MONTHLY", Metrics=["UnblendedCost"],
                   GroupBy=groups)["Code"] == "ValidationException"


def test_iam_credential_rules(emulator, account):
    """ListServiceSpecificCredentials ``AllUsers``: "This parameter cannot be specified together with UserName";
    CreateServiceSpecificCredential ``CredentialAgeDays``: "only valid for services that support long-term API
    keys" (botocore ``iam`` model; the IAM API reference pages of both actions)."""
    iam = emulator.client("iam", account, retry=False)
    iam.create_user(UserName="u")
    error = refused(iam.list_service_specific_credentials, UserName="u", AllUsers=True)
    assert (error["status"], error["Code"]) == (400, "ValidationError")
    assert iam.list_service_specific_credentials(AllUsers=True)["ServiceSpecificCredentials"] == []
    error = refused(iam.create_service_specific_credential, UserName="u", ServiceName="codecommit.amazonaws.com",
                    CredentialAgeDays=30)
    assert error["Code"] == "ValidationError"
    assert iam.list_service_specific_credentials(UserName="u")["ServiceSpecificCredentials"] == []


def test_every_rule_cites_its_source(emulator):
    rules = emulator.control("GET", "rules")["rules"]
    assert {(r["service"], tuple(r["operations"])) for r in rules} >= {
        ("budgets", ("CreateBudget",)), ("budgets", ("UpdateBudget",)),
        ("ce", ("GetCostAndUsage", "GetDimensionValues"))}
    assert all(r["source"].startswith("https://docs.aws.amazon.com/") for r in rules)
