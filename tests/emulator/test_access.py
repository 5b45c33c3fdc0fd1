"""Resource-aware IAM evaluation: ``SimulatePrincipalPolicy`` with ``ResourceArns`` and ``ContextEntries``
(contract tests with boto3), and the evaluator's matching rules (unit tests of :mod:`bpemu.policy`).

Follow the IAM API reference for SimulatePrincipalPolicy and the pinned botocore ``iam`` model
(``SimulatePrincipalPolicyRequest``: "Each API in the ActionNames parameter is evaluated for each resource in
this list"; ``EvaluationResult``: ``EvalResourceName`` "The ARN template for the simulated resource type ...
or * if no ARN format is defined", ``ResourceSpecificResults`` "The individual results of the simulation of
the API operation specified in EvalActionName on each resource"; ``MissingContextValues``), and the IAM User
Guide's "IAM JSON policy elements: Resource" (wildcards within ARN segments) and "Condition operators".
"""

import json

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from bpemu import policy, shapes

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def least_privilege(account: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:CountTokens"],
         "Resource": ["arn:aws:bedrock:*::foundation-model/anthropic.*",
                      f"arn:aws:bedrock:*:{account}:inference-profile/*anthropic.*",
                      f"arn:aws:bedrock:*:{account}:project/*"]},
        {"Effect": "Allow", "Action": ["aws-marketplace:Subscribe"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:CalledViaLast": "bedrock.amazonaws.com"}}},
    ]})


@pytest.fixture
def simulate(emulator, account):
    """SimulatePrincipalPolicy for a user with the least-privilege policy; returns (call, raw bodies)."""
    iam = emulator.client("iam", account, retry=False)
    iam.create_user(UserName="marketing")
    iam.put_user_policy(UserName="marketing", PolicyName="bedrock", PolicyDocument=least_privilege(account))
    bodies = []
    iam.meta.events.register("after-call.iam.SimulatePrincipalPolicy",
                             lambda http_response, **_: bodies.append(http_response.content))

    def call(**kwargs):
        return iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{account}:user/marketing", **kwargs)["EvaluationResults"]

    return iam, call, bodies


def test_resource_arns_give_one_result_per_action_and_one_per_resource(account, simulate):
    iam, call, bodies = simulate
    allowed = [f"arn:aws:bedrock:us-east-1:{account}:inference-profile/us.{SONNET}",
               f"arn:aws:bedrock:::foundation-model/{SONNET}",
               f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET}",
               f"arn:aws:bedrock:us-east-1:{account}:project/default"]
    nova = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
    results = call(ActionNames=["bedrock:InvokeModel", "bedrock:CreateModelCustomizationJob"],
                   ResourceArns=allowed + [nova])
    assert shapes.check_output("iam", "SimulatePrincipalPolicy", bodies[-1]) == []
    invoke, customize = results
    assert (invoke["EvalActionName"], invoke["EvalResourceName"]) == ("bedrock:InvokeModel", "*")
    assert invoke["EvalDecision"] == "implicitDeny", "allowed only if every resource is"
    assert {r["EvalResourceName"]: r["EvalResourceDecision"] for r in invoke["ResourceSpecificResults"]} == {
        **{arn: "allowed" for arn in allowed}, nova: "implicitDeny"}
    assert invoke["MatchedStatements"] == [{"SourcePolicyId": "bedrock", "SourcePolicyType": "user"}]
    assert {r["EvalResourceDecision"] for r in customize["ResourceSpecificResults"]} == {"implicitDeny"}
    assert call(ActionNames=["bedrock:InvokeModel"], ResourceArns=allowed)[0]["EvalDecision"] == "allowed"
    without = call(ActionNames=["bedrock:InvokeModel"])[0]
    assert without["EvalDecision"] == "implicitDeny", "* is not an Anthropic model ARN"
    assert "ResourceSpecificResults" not in without

    iam.put_user_policy(UserName="marketing", PolicyName="no-global", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "bedrock:*",
                                                "Resource": "arn:aws:bedrock:::foundation-model/*"}]}))
    denied = call(ActionNames=["bedrock:InvokeModel"], ResourceArns=allowed)[0]
    assert denied["EvalDecision"] == "explicitDeny"
    by_resource = {r["EvalResourceName"]: r for r in denied["ResourceSpecificResults"]}
    assert by_resource[allowed[1]]["EvalResourceDecision"] == "explicitDeny"
    assert by_resource[allowed[1]]["MatchedStatements"] == [{"SourcePolicyId": "no-global", "SourcePolicyType": "user"}]


def test_context_entries_decide_conditions(simulate):
    """A key the policy's condition needs and the caller did not give is missing; given, it decides."""
    _, call, bodies = simulate
    unknown = call(ActionNames=["aws-marketplace:Subscribe"])[0]
    assert (unknown["EvalDecision"], unknown["MissingContextValues"]) == ("implicitDeny", ["aws:CalledViaLast"])
    given = call(ActionNames=["aws-marketplace:Subscribe"], ContextEntries=[{
        "ContextKeyName": "aws:CalledViaLast", "ContextKeyValues": ["bedrock.amazonaws.com"],
        "ContextKeyType": "string"}])[0]
    assert (given["EvalDecision"], given["MissingContextValues"]) == ("allowed", [])
    assert shapes.check_output("iam", "SimulatePrincipalPolicy", bodies[-1]) == []


def test_policy_input_list_adds_policies(account, simulate):
    _, call, _ = simulate
    extra = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "bedrock:ListFoundationModels", "Resource": "*"}]})
    result = call(ActionNames=["bedrock:ListFoundationModels"], PolicyInputList=[extra])[0]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"] == [{"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "none"}]


def test_live_iam_calls_are_authorised_on_the_entity_they_name(emulator, account):
    """An operator allowed IAM only under a path may manage users there and nowhere else; AWS's denial names the
    resource (the service authorization reference: user actions act on ``arn:aws:iam::ACCOUNT:user/PATH/NAME``)."""
    iam = emulator.client("iam", account)
    iam.create_user(UserName="operator")
    iam.put_user_policy(UserName="operator", PolicyName="scoped", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:*", "Resource": [
                f"arn:aws:iam::{account}:user/bedrock-provisioner/*",
                f"arn:aws:iam::{account}:policy/bedrock-provisioner/*"]}]}))
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    operator = boto3.client("iam", endpoint_url=emulator.endpoint, region_name="us-east-1",
                            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                            config=Config(retries={"total_max_attempts": 1}))
    operator.create_user(UserName="marketing", Path="/bedrock-provisioner/")
    operator.tag_user(UserName="marketing", Tags=[{"Key": "purpose", "Value": "bedrock"}])
    operator.create_policy(PolicyName="Claude", Path="/bedrock-provisioner/", PolicyDocument=least_privilege(account))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        operator.create_user(UserName="elsewhere")
    assert raised.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{account}:user/operator is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::{account}:user/elsewhere because no identity-based policy allows the iam:CreateUser action")
    with pytest.raises(botocore.exceptions.ClientError):
        operator.list_users()


FOUNDATION = "arn:aws:bedrock:*::foundation-model/anthropic.*"
PROFILES = "arn:aws:bedrock:*:1:inference-profile/*anthropic.*"


@pytest.mark.parametrize("pattern, resource, matches", [
    (FOUNDATION, f"arn:aws:bedrock:::foundation-model/{SONNET}", True),
    (FOUNDATION, f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET}", True),
    (FOUNDATION, "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova", False),
    (PROFILES, f"arn:aws:bedrock:us-east-1:1:inference-profile/us.{SONNET}", True),
    (PROFILES, f"arn:aws:bedrock:x:1:inference-profile/global.{SONNET}", True),
    (PROFILES, "arn:aws:bedrock:x:2:inference-profile/us.anthropic.y", False),
    ("arn:aws:bedrock:us-east-?::foundation-model/*", "arn:aws:bedrock:us-east-1::foundation-model/m", True),
    ("arn:aws:bedrock:us-east-1::foundation-model/a.c*", "arn:aws:bedrock:us-east-1::foundation-model/aXc", False),
    ("arn:aws:bedrock:us*1::foundation-model/m", "arn:aws:bedrock:us:x:1::foundation-model/m", False),
    ("arn:aws:bedrock:*", "arn:aws:bedrock:us-east-1:1:project/default", True),
    ("*", "arn:aws:iam::1:user/x", True),
])
def test_resource_wildcards(pattern, resource, matches):
    """``*`` and ``?`` stay within an ARN segment unless a ``*`` ends one; ``.`` is literal."""
    assert policy.arn_like(pattern, resource) is matches


def decision(statements: list[dict], action="bedrock:InvokeModel", resource="*", context=None, modelled=None) -> str:
    document = policy.Policy.parse("p", "user", {"Version": "2012-10-17", "Statement": statements})
    return policy.decide([document], action, resource, context or {}, modelled).decision


def test_a_condition_that_does_not_hold_leaves_the_statement_out():
    """moto 5.2.5 turns an Allow whose condition fails into an explicit deny; IAM just skips the statement."""
    condition = {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}
    allow = {"Effect": "Allow", "Action": "bedrock:*", "Resource": "*", "Condition": condition}
    deny = {"Effect": "Deny", "Action": "bedrock:*", "Resource": "*", "Condition": condition}
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    us = {"aws:RequestedRegion": ["us-east-1"]}
    assert decision([allow], context=us) == "implicitDeny"
    assert decision([deny, everything], context=us) == "allowed"
    assert decision([deny, everything], context={"aws:requestedregion": ["eu-west-1"]}) == "explicitDeny"


@pytest.mark.parametrize("condition, context, expected", [
    ({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}, {}, "allowed"),
    ({"StringEqualsIfExists": {"aws:RequestedRegion": "eu-west-1"}}, {}, "allowed"),
    ({"StringLike": {"bedrock:InferenceProfileArn": "arn:aws:bedrock:*:*:inference-profile/us.*"}},
     {"bedrock:InferenceProfileArn": ["arn:aws:bedrock:us-east-1:1:inference-profile/us.x"]}, "allowed"),
    ({"ArnLike": {"bedrock:InferenceProfileArn": "arn:aws:bedrock:*:*:inference-profile/eu.*"}},
     {"bedrock:InferenceProfileArn": ["arn:aws:bedrock:us-east-1:1:inference-profile/us.x"]}, "implicitDeny"),
    ({"Null": {"bedrock:InferenceProfileArn": "true"}}, {}, "allowed"),
    ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, {"aws:MultiFactorAuthPresent": ["true"]}, "allowed"),
    ({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, {"aws:CurrentTime": ["2026-11-26T10:00:00Z"]},
     "allowed"),
    ({"NumericLessThan": {"aws:EpochTime": "100"}}, {"aws:EpochTime": ["200"]}, "implicitDeny"),
    ({"ForAnyValue:StringEquals": {"aws:CalledVia": ["bedrock.amazonaws.com"]}},
     {"aws:CalledVia": ["athena.amazonaws.com", "bedrock.amazonaws.com"]}, "allowed"),
    ({"StringEqualsAnything": {"aws:RequestedRegion": "x"}}, {"aws:RequestedRegion": ["x"]}, "implicitDeny"),
])
def test_condition_operators(condition, context, expected):
    statement = {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*", "Condition": condition}
    assert decision([statement], context=context) == expected


def test_unmodelled_keys_fail_closed():
    """A condition on a key the emulator does not supply: an Allow does not apply, a Deny does."""
    on_ip = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    modelled = frozenset({"aws:requestedregion"})
    allow = {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {
        "StringNotEquals": {"aws:SourceVpc": "vpc-1"}}}
    assert decision([allow], modelled=modelled) == "implicitDeny"
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": on_ip}
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    assert decision([deny, everything], modelled=modelled) == "explicitDeny"


def test_actions_ignore_case_and_resources_take_policy_variables():
    statement = {"Effect": "Allow", "Action": "BEDROCK:invoke*",
                 "Resource": "arn:aws:iam::1:user/${aws:username}"}
    assert decision([statement], resource="arn:aws:iam::1:user/ann", context={"aws:username": ["ann"]}) == "allowed"
    assert decision([statement], resource="arn:aws:iam::1:user/bob", context={"aws:username": ["ann"]}) == (
        "implicitDeny")
    assert decision([statement], resource="arn:aws:iam::1:user/ann") == "implicitDeny", "unresolved variable"
