"""Contract tests of what `diagnose` relies on: policy enforcement for restricted principals,
SimulatePrincipalPolicy, model availability, the use-case form, and cost allocation tags."""

import json

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

ADMIN_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "bedrock:List*"], "Resource": "*"}]})


def restricted(emulator, account, service):
    """A client for a new IAM user of `account` that may only read IAM and list Bedrock models."""
    iam = emulator.client("iam", account)
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=ADMIN_ONLY)
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    return boto3.client(
        service, endpoint_url=emulator.endpoint, region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    ), key["AccessKeyId"]


def test_restricted_principal_is_denied_by_policy_evaluation(emulator, account):
    iam, key_id = restricted(emulator, account, "iam")
    iam.list_users()
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        iam.create_user(UserName="x")
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert f"arn:aws:iam::{account}:user/reader is not authorized to perform: iam:CreateUser" in error["Message"]
    sts = boto3.client("sts", endpoint_url=emulator.endpoint, region_name="us-east-1",
                       aws_access_key_id=key_id, aws_secret_access_key="ignored")
    assert sts.get_caller_identity()["Arn"].endswith("user/reader"), "GetCallerIdentity is always allowed"


def test_json_services_deny_with_access_denied_exception(emulator, account):
    bedrock, _ = restricted(emulator, account, "bedrock")
    assert bedrock.list_foundation_models()["modelSummaries"]
    ce, _ = restricted_second(emulator, account)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        ce.list_cost_allocation_tags()
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"


def restricted_second(emulator, account):
    iam = emulator.client("iam", account)
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    return boto3.client("ce", endpoint_url=emulator.endpoint, region_name="us-east-1",
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=Config(retries={"total_max_attempts": 1})), key


def test_simulate_principal_policy(emulator, account):
    restricted(emulator, account, "iam")
    iam = emulator.client("iam", account)
    results = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{account}:user/reader",
        ActionNames=["iam:GetUser", "iam:CreateUser", "bedrock:ListFoundationModels"],
    )["EvaluationResults"]
    assert {r["EvalActionName"]: r["EvalDecision"] for r in results} == {
        "iam:GetUser": "allowed", "iam:CreateUser": "implicitDeny", "bedrock:ListFoundationModels": "allowed"}
    iam.put_user_policy(UserName="reader", PolicyName="deny", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:GetUser", "Resource": "*"}]}))
    results = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{account}:user/reader", ActionNames=["iam:GetUser"])["EvaluationResults"]
    assert results[0]["EvalDecision"] == "explicitDeny"


def role_session(emulator, account):
    """Credentials of an AssumeRole session on a role with a path, which may only read IAM."""
    iam = emulator.client("iam", account)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="automation", Path="/team/", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="automation", PolicyName="read", PolicyDocument=ADMIN_ONLY)
    sts = emulator.client("sts", account)
    session = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="ci")["Credentials"]
    return role["Role"]["Arn"], session


def test_assumed_role_sessions_are_held_to_the_role_policies(emulator, account):
    role_arn, session = role_session(emulator, account)
    assert role_arn == f"arn:aws:iam::{account}:role/team/automation"
    credentials = {"aws_access_key_id": session["AccessKeyId"], "aws_secret_access_key": session["SecretAccessKey"],
                   "aws_session_token": session["SessionToken"]}
    iam = boto3.client("iam", endpoint_url=emulator.endpoint, region_name="us-east-1",
                       config=Config(retries={"total_max_attempts": 1}), **credentials)
    sts = boto3.client("sts", endpoint_url=emulator.endpoint, region_name="us-east-1", **credentials)
    caller = sts.get_caller_identity()
    assert caller["Account"] == account
    assert caller["Arn"] == f"arn:aws:sts::{account}:assumed-role/automation/ci", "no path, as in AWS"
    assert iam.get_role(RoleName="automation")["Role"]["Arn"] == role_arn
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        iam.create_user(UserName="x")
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert f"User: {caller['Arn']} is not authorized to perform: iam:CreateUser" in error["Message"]


def test_simulate_principal_policy_needs_the_role_arn_with_its_path(emulator, account):
    role_arn, _ = role_session(emulator, account)
    iam = emulator.client("iam", account)
    results = iam.simulate_principal_policy(
        PolicySourceArn=role_arn, ActionNames=["iam:GetRole", "iam:CreateUser"])["EvaluationResults"]
    assert {r["EvalActionName"]: r["EvalDecision"] for r in results} == {
        "iam:GetRole": "allowed", "iam:CreateUser": "implicitDeny"}
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{account}:role/automation", ActionNames=["iam:GetRole"])
    assert raised.value.response["Error"]["Code"] == "NoSuchEntity"


def test_model_availability_and_use_case_form(emulator, account):
    bedrock = emulator.client("bedrock", account)
    model = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    answer = bedrock.get_foundation_model_availability(modelId=model)
    assert answer["agreementAvailability"]["status"] == "AVAILABLE"
    assert answer["authorizationStatus"] == "AUTHORIZED"
    assert answer["regionAvailability"] == "AVAILABLE"
    emulator.control("POST", "bedrock/availability",
                     {"account": account, "model": model, "agreement": "PENDING", "authorization": "NOT_AUTHORIZED"})
    answer = bedrock.get_foundation_model_availability(modelId=model)
    assert answer["agreementAvailability"]["status"] == "PENDING"
    assert answer["authorizationStatus"] == "NOT_AUTHORIZED"
    assert bedrock.get_use_case_for_model_access()["formData"]
    emulator.control("POST", "bedrock/use-case", {"account": account, "submitted": False})
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        bedrock.get_use_case_for_model_access()
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # A per-account catalog leaves other accounts alone.
    emulator.control("POST", "bedrock/catalog", {"account": account, "region": "us-east-1", "models": []})
    assert bedrock.list_foundation_models()["modelSummaries"] == []
    other = emulator.client("bedrock", str(int(account) + 777))
    assert other.list_foundation_models()["modelSummaries"]


def test_cost_allocation_tags(emulator, account):
    ce = emulator.client("ce", account)
    assert ce.list_cost_allocation_tags()["CostAllocationTags"] == []
    emulator.control("POST", "ce/tags", {"account": account, "tags": [
        {"key": "business-unit", "status": "Inactive"}, {"key": "owner", "status": "Active"}]})
    listed = ce.list_cost_allocation_tags(Status="Inactive")["CostAllocationTags"]
    assert [t["TagKey"] for t in listed] == ["business-unit"]
    errors = ce.update_cost_allocation_tags_status(CostAllocationTagsStatus=[
        {"TagKey": "business-unit", "Status": "Active"}, {"TagKey": "purpose", "Status": "Active"}])["Errors"]
    assert [e["TagKey"] for e in errors] == ["purpose"]
    assert {t["TagKey"]: t["Status"] for t in ce.list_cost_allocation_tags()["CostAllocationTags"]} == {
        "business-unit": "Active", "owner": "Active"}


def test_bedrock_service_quotas(emulator, account):
    quotas = emulator.client("service-quotas", account)
    listed = quotas.list_service_quotas(ServiceCode="bedrock", MaxResults=4)
    assert len(listed["Quotas"]) == 4 and listed["NextToken"]
    rest = quotas.list_service_quotas(ServiceCode="bedrock", NextToken=listed["NextToken"])["Quotas"]
    assert any("Anthropic Claude" in q["QuotaName"] for q in listed["Quotas"] + rest)
    emulator.control("POST", "servicequotas/bedrock",
                     {"account": account, "quotas": [{"name": "On-demand model inference tokens per minute for "
                                                              "Anthropic Claude Sonnet 4.5", "value": 1000}]})
    only = quotas.list_service_quotas(ServiceCode="bedrock")["Quotas"]
    assert [q["Value"] for q in only] == [1000.0]
