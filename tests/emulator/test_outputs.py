"""Contract tests: every answer the project reads, moto's own included, is within its botocore output shape
(pinned botocore 1.44.8 models; :mod:`bpemu.outputs`), and an answer that is not is a loud failure: HTTP 501
``EmulatorOutputShapeViolation`` (no SDK retries a 501) and an entry in ``GET /_emulator/output-problems``.

The calls are the moto-native actions the Rust code makes (IAM, STS, Secrets Manager, Budgets), each with the
members the project sends; the extension actions have their own cases in ``test_shapes.py``.
"""

import json

import botocore.exceptions
import pytest

POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}]})
NOTIFICATION = {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0,
                "ThresholdType": "PERCENTAGE"}


def _iam_calls(iam, account: str) -> None:
    iam.create_user(UserName="bu-user", Path="/bedrock/", Tags=[{"Key": "managed-by", "Value": "bedrock-provisioner"}])
    iam.get_user(UserName="bu-user")
    iam.tag_user(UserName="bu-user", Tags=[{"Key": "business-unit", "Value": "marketing"}])
    iam.list_user_tags(UserName="bu-user")
    iam.untag_user(UserName="bu-user", TagKeys=["business-unit"])
    arn = iam.create_policy(PolicyName="bu-policy", PolicyDocument=POLICY, Path="/bedrock/",
                            Description="Bedrock access")["Policy"]["Arn"]
    iam.get_policy(PolicyArn=arn)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY, SetAsDefault=True)
    iam.list_policy_versions(PolicyArn=arn)
    iam.get_policy_version(PolicyArn=arn, VersionId="v2")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    iam.list_policies(Scope="Local", MaxItems=100)
    iam.attach_user_policy(UserName="bu-user", PolicyArn=arn)
    iam.list_attached_user_policies(UserName="bu-user")
    iam.detach_user_policy(UserName="bu-user", PolicyArn=arn)
    iam.put_user_policy(UserName="bu-user", PolicyName="inline", PolicyDocument=POLICY)
    iam.list_user_policies(UserName="bu-user")
    iam.delete_user_policy(UserName="bu-user", PolicyName="inline")
    iam.create_group(GroupName="bu-group")
    iam.add_user_to_group(GroupName="bu-group", UserName="bu-user")
    iam.list_groups_for_user(UserName="bu-user")
    iam.remove_user_from_group(GroupName="bu-group", UserName="bu-user")
    key = iam.create_access_key(UserName="bu-user")["AccessKey"]["AccessKeyId"]
    iam.list_access_keys(UserName="bu-user")
    iam.delete_access_key(UserName="bu-user", AccessKeyId=key)
    iam.create_login_profile(UserName="bu-user", Password="Correct-horse-battery-1")
    iam.get_login_profile(UserName="bu-user")
    iam.delete_login_profile(UserName="bu-user")
    iam.list_mfa_devices(UserName="bu-user")
    iam.list_ssh_public_keys(UserName="bu-user")
    iam.list_signing_certificates(UserName="bu-user")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="provisioner", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="provisioner", PolicyName="p", PolicyDocument=POLICY)
    iam.get_role(RoleName="provisioner")
    iam.delete_user(UserName="bu-user")


def test_moto_native_answers_are_within_their_output_shapes(emulator, account):
    """IAM (https://docs.aws.amazon.com/IAM/latest/APIReference/), STS GetCallerIdentity/AssumeRole, Secrets
    Manager, Budgets: each answer is checked by the emulator as it is served; none breaks its shape."""
    _iam_calls(emulator.client("iam", account, retry=False), account)
    sts = emulator.client("sts", account, retry=False)
    sts.get_caller_identity()
    sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/provisioner", RoleSessionName="provisioner")
    secrets = emulator.client("secretsmanager", account, retry=False)
    secrets.create_secret(Name="bedrock/marketing", SecretString="ABSK-not-a-real-key", Description="key",
                          Tags=[{"Key": "managed-by", "Value": "bedrock-provisioner"}])
    secrets.describe_secret(SecretId="bedrock/marketing")
    secrets.get_secret_value(SecretId="bedrock/marketing")
    secrets.update_secret(SecretId="bedrock/marketing", SecretString="ABSK-another")
    secrets.put_resource_policy(SecretId="bedrock/marketing", ResourcePolicy=POLICY.replace("bedrock:InvokeModel",
                                                                                            "secretsmanager:*"))
    secrets.get_resource_policy(SecretId="bedrock/marketing")
    budgets = emulator.client("budgets", account, retry=False)
    budgets.create_budget(AccountId=account, Budget={
        "BudgetName": "bedrock-marketing", "BudgetLimit": {"Amount": "100", "Unit": "USD"}, "TimeUnit": "MONTHLY",
        "BudgetType": "COST", "Metrics": ["UnblendedCost"],
        "FilterExpression": {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}}})
    budgets.create_notification(AccountId=account, BudgetName="bedrock-marketing", Notification=NOTIFICATION,
                                Subscribers=[{"SubscriptionType": "EMAIL", "Address": "finops@example.com"}])
    budgets.describe_notifications_for_budget(AccountId=account, BudgetName="bedrock-marketing")
    budgets.delete_notification(AccountId=account, BudgetName="bedrock-marketing", Notification=NOTIFICATION)
    assert emulator.control("GET", f"output-problems?access_key={account}")["problems"] == []
    assert not [r for r in emulator.control("GET", f"requests?access_key={account}")["requests"]
                if "output_problems" in r]


def test_an_answer_that_breaks_its_shape_is_a_loud_failure(emulator, account):
    """A ListCostAllocationTags answer whose ``Status`` is outside the model's enum (``Active``/``Inactive``,
    botocore ``ce``) never reaches the client in "fail" mode; in "log" mode it does, and is recorded."""
    emulator.control("POST", "ce/tags", {"account": account, "tags": [{"key": "business-unit", "status": "Sometimes"}]})
    ce = emulator.client("ce", account, retry=False)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        ce.list_cost_allocation_tags()
    response = raised.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (
        501, "EmulatorOutputShapeViolation")
    assert "CostAllocationTags.1.member.Status: Member must satisfy enum value set" in response["Error"]["Message"]
    [problem] = emulator.control("GET", f"output-problems?access_key={account}")["problems"]
    assert (problem["service"], problem["operation"], problem["status"]) == ("ce", "ListCostAllocationTags", 200)
    [entry] = [r for r in emulator.control("GET", f"requests?access_key={account}")["requests"]
               if r["action"] == "ListCostAllocationTags"]
    assert entry["status"] == 501 and entry["output_problems"] == problem["problems"]
    try:
        assert emulator.control("POST", "output-check", {"mode": "log"}) == {"mode": "log"}
        assert ce.list_cost_allocation_tags()["CostAllocationTags"][0]["Status"] == "Sometimes"
        assert len(emulator.control("GET", f"output-problems?access_key={account}")["problems"]) == 2
    finally:
        emulator.control("POST", "output-check", {"mode": "fail"})
