"""Contract tests of ``sts:AssumeRole`` within and across emulator accounts (:mod:`bpemu.trust_ext`), with boto3.

Follows the STS API reference for AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html,
also the pinned botocore ``sts`` model's documentation of AssumeRole): "To assume a role from a different account,
your Amazon Web Services account must be trusted by the role ... A user who wants to access a role in a different
account must also have permissions that are delegated from the account administrator", and in the same account
either an identity policy (when the trust policy trusts the account) or naming the user in the trust policy; and
the IAM User Guide's "AWS JSON policy elements: Principal"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html: an account principal is
``"AWS": "arn:aws:iam::123456789012:root"`` or ``"AWS": "123456789012"``) and "Cross-account policy evaluation logic"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
"""

import json

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

ROLE = "OrganizationAccountAccessRole"
LIST_USERS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["iam:ListUsers", "sts:AssumeRole"], "Resource": "*"}]}


def trust(*principals: str, effect: str = "Allow") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"}]})


def make_role(emulator, account: str, trust_policy: str, name: str = ROLE) -> str:
    """A role in `account` with `trust_policy` that may list IAM users; its ARN."""
    iam = emulator.client("iam", account)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="list-users", PolicyDocument=json.dumps(LIST_USERS))
    return arn


def signed(emulator, service: str, credentials: dict):
    """A one-attempt boto3 client signing with `credentials` (an AssumeRole ``Credentials`` or an access key)."""
    return boto3.client(
        service, endpoint_url=emulator.endpoint, region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"), config=Config(retries={"total_max_attempts": 1}))


def refused(call, **kwargs) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**kwargs)
    return raised.value.response


def user_key(emulator, account: str, name: str, policy: dict | None = None) -> dict:
    """An access key of a new IAM user of `account`, with `policy` inline if given."""
    iam = emulator.client("iam", account)
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return iam.create_access_key(UserName=name)["AccessKey"]


@pytest.mark.parametrize("principal", ["arn:aws:iam::{a}:root", "{a}"])
def test_assumed_credentials_act_in_the_roles_account(emulator, account, other_account, principal):
    """STS AssumeRole API reference: the temporary credentials "access resources in the account that owns the
    role"; GetCallerIdentity (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html)
    names the session ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``."""
    emulator.client("iam", account).create_user(UserName="in-a")
    emulator.client("iam", other_account).create_user(UserName="in-b")
    role_arn = make_role(emulator, other_account, trust(principal.format(a=account)))
    assert role_arn == f"arn:aws:iam::{other_account}:role/{ROLE}"
    answer = emulator.client("sts", account, retry=False).assume_role(RoleArn=role_arn, RoleSessionName="setup")
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    session_arn = f"arn:aws:sts::{other_account}:assumed-role/{ROLE}/setup"
    assert answer["AssumedRoleUser"]["Arn"] == session_arn
    assert [u["UserName"] for u in signed(emulator, "iam", credentials).list_users()["Users"]] == ["in-b"]
    identity = signed(emulator, "sts", credentials).get_caller_identity()
    assert (identity["Account"], identity["Arn"]) == (other_account, session_arn)


def test_a_role_that_does_not_exist_is_access_denied(emulator, account, other_account):
    """AWS answers a missing role like an untrusted one (AccessDenied, HTTP 403), so roles cannot be probed."""
    role_arn = f"arn:aws:iam::{other_account}:role/{ROLE}"
    response = refused(emulator.client("sts", account, retry=False).assume_role,
                       RoleArn=role_arn, RoleSessionName="setup")
    assert response["Error"]["Code"] == "AccessDenied"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Message"] == (
        f"User: arn:aws:iam::{account}:root is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
    seen = emulator.control("GET", f"requests?access_key={account}")["requests"]
    assert [(r["action"], r["status"]) for r in seen] == [("AssumeRole", 403)]


def test_a_role_trusting_another_account_is_access_denied(emulator, account, other_account):
    """Cross-account policy evaluation: the trusting account's role trust policy must name the caller's account."""
    sts = emulator.client("sts", account, retry=False)
    third = make_role(emulator, other_account, trust("arn:aws:iam::999999999999:root", "888888888888"))
    response = refused(sts.assume_role, RoleArn=third, RoleSessionName="setup")
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert response["Error"]["Message"] == (
        f"User: arn:aws:iam::{account}:root is not authorized to perform: sts:AssumeRole on resource: {third}")
    service = make_role(emulator, other_account, json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}), "ec2")
    assert refused(sts.assume_role, RoleArn=service, RoleSessionName="setup")["Error"]["Code"] == "AccessDenied"
    denied = make_role(emulator, other_account, json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}]}), "denied")
    assert refused(sts.assume_role, RoleArn=denied, RoleSessionName="setup")["Error"]["Code"] == "AccessDenied"


def test_a_user_needs_an_identity_policy_to_assume_a_role_of_another_account(emulator, account, other_account):
    """AssumeRole API reference: across accounts the user also needs permission delegated by its administrator."""
    role_arn = make_role(emulator, other_account, trust(f"arn:aws:iam::{account}:root"))
    plain = signed(emulator, "sts", user_key(emulator, account, "x"))
    response = refused(plain.assume_role, RoleArn=role_arn, RoleSessionName="setup")
    assert response["Error"]["Message"] == (
        f"User: arn:aws:iam::{account}:user/x is not authorized to perform: sts:AssumeRole on resource: {role_arn} "
        "because no identity-based policy allows the sts:AssumeRole action")
    allowed = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}
    delegated = signed(emulator, "sts", user_key(emulator, account, "y", allowed))
    credentials = delegated.assume_role(RoleArn=role_arn, RoleSessionName="setup")["Credentials"]
    assert signed(emulator, "sts", credentials).get_caller_identity()["Account"] == other_account


def test_in_one_account_naming_the_user_in_the_trust_policy_is_enough(emulator, account):
    """AssumeRole API reference, same account: "Add the user as a principal directly in the role's trust policy"
    (no identity policy needed), while a trust policy that names only the account needs the user's own policy."""
    key = user_key(emulator, account, "operator")
    sts = signed(emulator, "sts", key)
    by_name = make_role(emulator, account, trust(f"arn:aws:iam::{account}:user/operator"), "by-name")
    assert sts.assume_role(RoleArn=by_name, RoleSessionName="setup")["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{account}:assumed-role/by-name/setup")
    by_account = make_role(emulator, account, trust(f"arn:aws:iam::{account}:root"), "by-account")
    assert refused(sts.assume_role, RoleArn=by_account, RoleSessionName="setup")["Error"]["Code"] == "AccessDenied"


def test_a_role_session_is_trusted_by_its_role_arn(emulator, account, other_account):
    """Principal element: a role ARN in a trust policy covers that role's sessions (role chaining)."""
    first = make_role(emulator, account, trust(account), "first")
    second = make_role(emulator, other_account, trust(first), "second")
    session = emulator.client("sts", account).assume_role(RoleArn=first, RoleSessionName="hop")["Credentials"]
    chained = signed(emulator, "sts", session).assume_role(RoleArn=second, RoleSessionName="hop2")
    assert chained["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{other_account}:assumed-role/second/hop2"
    elsewhere = make_role(emulator, other_account, trust(f"arn:aws:iam::{account}:role/other"), "elsewhere")
    assert refused(signed(emulator, "sts", session).assume_role, RoleArn=elsewhere,
                   RoleSessionName="hop2")["Error"]["Code"] == "AccessDenied"


def test_a_source_identity_needs_set_source_identity_in_the_trust_policy(emulator, account, other_account):
    """IAM User Guide, "Monitor and control actions taken with assumed roles"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html): to set a
    source identity "the role trust policy must allow the sts:SetSourceIdentity action"; without it AssumeRole
    with ``SourceIdentity`` is AccessDenied, and without ``SourceIdentity`` the same role is assumed."""
    role_arn = make_role(emulator, other_account, trust(f"arn:aws:iam::{account}:root"))
    sts = emulator.client("sts", account, retry=False)
    answer = refused(sts.assume_role, RoleArn=role_arn, RoleSessionName="ops", SourceIdentity="jane@example.com")
    assert answer["Error"]["Code"] == "AccessDenied"
    assert "sts:SetSourceIdentity" in answer["Error"]["Message"]
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="ops")["Credentials"]["AccessKeyId"].startswith("ASIA")
    both = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}]})
    allowed = make_role(emulator, other_account, both, name="WithSourceIdentity")
    assert sts.assume_role(RoleArn=allowed, RoleSessionName="ops", SourceIdentity="jane@example.com")["Credentials"]
