"""Contract tests: AssumeRole sessions expire on the emulator's clock (:mod:`bpemu.sessions_ext`).

STS API reference, AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html):
``DurationSeconds`` "By default, the value is set to 3600 seconds"; AWS's Common Errors
(https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html): ``ExpiredTokenException``, "The
security token included in the request is expired", HTTP 403, which IAM and STS (query protocol) answer with
the code ``ExpiredToken``.
"""

import datetime
import json

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

EXPIRED = "The security token included in the request is expired"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "ACCOUNT"},
                                                  "Action": "sts:AssumeRole"}]}
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def session(emulator, account: str, **assume) -> dict:
    """Credentials of a session of a new role of `account` allowed everything."""
    iam = emulator.client("iam", account)
    name = f"role-{len(iam.list_roles()['Roles'])}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST).replace("ACCOUNT", account),
                          MaxSessionDuration=7200)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=ALLOW_ALL)
    return emulator.client("sts", account).assume_role(RoleArn=arn, RoleSessionName="provisioner", **assume)[
        "Credentials"]


def signed(emulator, service: str, credentials: dict):
    return boto3.client(service, endpoint_url=emulator.endpoint, region_name="us-east-1",
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"], config=Config(retries={"total_max_attempts": 1}))


def refused(call, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


@pytest.fixture
def clock(emulator, account):
    """Moves `account`'s emulator clock; put back afterwards."""
    yield lambda seconds: emulator.control("POST", "clock", {"offset_seconds": seconds, "account": account})
    emulator.control("POST", "clock", {"offset_seconds": 0, "account": account})


def test_a_session_expires_after_an_hour_on_the_emulator_clock(emulator, account, clock):
    credentials = session(emulator, account)
    sts, iam, ce = (signed(emulator, s, credentials) for s in ("sts", "iam", "ce"))
    runtime = signed(emulator, "bedrock-runtime", credentials)
    assert sts.get_caller_identity()["Arn"].endswith(":assumed-role/role-0/provisioner")
    assert iam.list_users()["Users"] == []
    clock(59 * 60)
    assert sts.get_caller_identity()["Account"] == account, "still valid after 59 minutes"
    clock(61 * 60)
    assert refused(sts.get_caller_identity) == (403, "ExpiredToken", EXPIRED)
    assert refused(iam.list_users) == (403, "ExpiredToken", EXPIRED)
    assert refused(iam.create_user, UserName="late") == (403, "ExpiredToken", EXPIRED)
    assert refused(ce.list_cost_allocation_tags) == (403, "ExpiredTokenException", EXPIRED)
    assert refused(runtime.count_tokens, modelId="anthropic.claude-sonnet-4-5-20250929-v1:0",
                   input={"converse": {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}}) == (
        403, "ExpiredTokenException", EXPIRED)
    assert "late" not in [u["UserName"] for u in emulator.client("iam", account).list_users()["Users"]]
    seen = emulator.control("GET", f"requests?access_key={credentials['AccessKeyId']}")["requests"]
    assert [r["status"] for r in seen][-5:] == [403] * 5


def test_duration_seconds_sets_the_end(emulator, account, clock):
    longer = session(emulator, account, DurationSeconds=7200)
    clock(61 * 60)
    assert signed(emulator, "sts", longer).get_caller_identity()["Account"] == account
    clock(121 * 60)
    assert refused(signed(emulator, "sts", longer).get_caller_identity)[1] == "ExpiredToken"


def test_a_session_starts_on_the_emulator_clock(emulator, account, clock):
    """An account whose clock is ahead gets a session of an hour from the emulator's now, not an expired one."""
    clock(2 * 86_400)
    credentials = session(emulator, account)
    now = emulator.control("POST", "clock", {"offset_seconds": 2 * 86_400, "account": account})["now"]
    lasts = credentials["Expiration"] - datetime.datetime.fromisoformat(now)
    assert datetime.timedelta(minutes=59) < lasts <= datetime.timedelta(minutes=60), lasts
    assert signed(emulator, "sts", credentials).get_caller_identity()["Account"] == account
    clock(2 * 86_400 + 61 * 60)
    assert refused(signed(emulator, "sts", credentials).get_caller_identity)[1] == "ExpiredToken"
