"""Contract tests of the emulator's control API and its account isolation, with boto3."""

import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config


def test_health_and_requests_log(emulator, account):
    assert emulator.control("GET", "health") == {"ok": True}
    emulator.client("sts", account).get_caller_identity()
    seen = emulator.control("GET", f"requests?access_key={account}")["requests"]
    assert seen == [
        {"service": "sts", "action": "GetCallerIdentity", "access_key": account, "region": "us-east-1", "auth": "sigv4",
         "status": 200}
    ]


def test_twelve_digit_access_keys_are_isolated_accounts(emulator, account):
    other = str(int(account) + 500_000)
    emulator.client("iam", account).create_user(UserName="alice")
    assert emulator.client("sts", account).get_caller_identity()["Account"] == account
    assert [u["UserName"] for u in emulator.client("iam", account).list_users()["Users"]] == ["alice"]
    assert emulator.client("iam", other).list_users()["Users"] == []


def test_throttle_for_the_next_n_calls(emulator, account):
    emulator.control("POST", "faults", {"action": "CreateUser", "kind": "throttle", "count": 2, "access_key": account})
    iam = emulator.client("iam", account)
    iam_no_retry = emulator.client("iam", account, retry=False)
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            iam_no_retry.create_user(UserName="bob")
        assert raised.value.response["Error"]["Code"] == "Throttling"
    iam.create_user(UserName="bob")


def test_error_with_chosen_status_and_code(emulator, account):
    emulator.control(
        "POST",
        "faults",
        {"action": "GetCallerIdentity", "kind": "error", "status": 503, "code": "ServiceUnavailable", "count": 1,
         "access_key": account},
    )
    no_retry = emulator.client("sts", account, retry=False)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        no_retry.get_caller_identity()
    assert raised.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert no_retry.get_caller_identity()["Account"] == account
    seen = emulator.control("GET", f"requests?access_key={account}")["requests"]
    assert [r["status"] for r in seen] == [503, 200], "the request log records each response status"


def test_every_answer_carries_a_request_id_header(emulator, account):
    """AWS answers every request with an ``x-amzn-RequestId`` header, errors included; the SDKs take an
    error's request id from it (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html,
    and aws-types' ``request_id.rs`` reads ``x-amzn-requestid``)."""
    iam = emulator.client("iam", account, retry=False)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        iam.get_user(UserName="nobody-here")
    assert raised.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")
    emulator.control("POST", "faults", {"action": "ListUsers", "kind": "error", "status": 400,
                                        "code": "ValidationError", "count": 1, "access_key": account})
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        iam.list_users()
    header = raised.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert header == raised.value.response["ResponseMetadata"]["RequestId"], "header and body agree"
    assert iam.list_users()["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")


def test_json_protocol_errors_and_latency(emulator, account):
    emulator.control(
        "POST", "faults",
        {"action": "ListFoundationModels", "kind": "latency", "latency_ms": 300, "count": 1, "access_key": account},
    )
    bedrock = emulator.client("bedrock", account)
    started = time.monotonic()
    bedrock.list_foundation_models()
    assert time.monotonic() - started >= 0.3
    emulator.control(
        "POST", "faults",
        {"action": "ListFoundationModels", "kind": "throttle", "count": 1, "access_key": account},
    )
    no_retry = emulator.client("bedrock", account, retry=False)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        no_retry.list_foundation_models()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


def test_faults_are_cleared_per_access_key(emulator, account):
    emulator.control("POST", "faults", {"action": "ListUsers", "kind": "throttle", "access_key": account})
    emulator.control("POST", "faults", {"action": "ListUsers", "kind": "throttle", "access_key": "999999999999"})
    emulator.control("DELETE", f"faults?access_key={account}")
    assert emulator.client("iam", account, retry=False).list_users()["Users"] == []
    with pytest.raises(botocore.exceptions.ClientError):
        emulator.client("iam", "999999999999", retry=False).list_users()
    emulator.control("DELETE", "faults?access_key=999999999999")


def test_percent_faults_hit_some_calls(emulator, account):
    emulator.control("POST", "faults", {"action": "ListUsers", "kind": "throttle", "percent": 50, "access_key": account})
    iam = emulator.client("iam", account, retry=False)
    failures = 0
    for _ in range(60):
        try:
            iam.list_users()
        except botocore.exceptions.ClientError:
            failures += 1
    assert 10 <= failures <= 50, failures


def test_account_faults_hit_every_key_acting_in_the_account(emulator, account, other_account):
    """A rule with "account" fires for any key acting there (here an IAM user's AKIA key), not for other
    accounts; clearing the account key's rules clears it."""
    iam = emulator.client("iam", account)
    iam.create_user(UserName="operator")
    iam.put_user_policy(UserName="operator", PolicyName="all", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'))
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    operator = boto3.client("iam", endpoint_url=emulator.endpoint, region_name="us-east-1",
                            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    emulator.control("POST", "faults", {"action": "ListUsers", "kind": "throttle", "account": account})
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        operator.list_users()
    assert raised.value.response["Error"]["Code"] == "Throttling"
    assert emulator.client("iam", other_account, retry=False).list_users()["Users"] == []
    emulator.control("DELETE", f"faults?access_key={account}")
    assert [u["UserName"] for u in operator.list_users()["Users"]] == ["operator"]


def test_bad_fault_rules_are_refused(emulator):
    import urllib.error

    for rule in ({"action": "X", "kind": "explode"}, {"action": "X", "kind": "error", "drop": True},
                 {"action": "X", "kind": "reached", "drop": "yes"}):
        with pytest.raises(urllib.error.HTTPError) as raised:
            emulator.control("POST", "faults", rule)
        assert raised.value.code == 400


# "reached": the call takes effect and its answer is lost. The AWS SDKs retry exactly these failures (the SDKs and
# Tools Reference Guide, "Retry behavior", https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html:
# transient errors include HTTP 500/502/503/504 and connections closed without a response), so a retried
# non-idempotent call meets its own first attempt. The default error is IAM's documented InternalFailure, HTTP 500
# (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html).
def test_reached_applies_the_call_and_loses_its_answer(emulator, account):
    emulator.control("POST", "faults", {"action": "CreateUser", "kind": "reached", "count": 1, "access_key": account})
    iam = emulator.client("iam", account, retry=False)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        iam.create_user(UserName="dana")
    assert raised.value.response["Error"]["Code"] == "InternalFailure"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert iam.get_user(UserName="dana")["User"]["UserName"] == "dana"
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName="dana")  # what a retry of the lost call meets
    seen = emulator.control("GET", f"requests?access_key={account}")["requests"]
    assert [(r["action"], r["status"], r.get("fault"), r.get("reached_status")) for r in seen] == [
        ("CreateUser", 500, "reached", 200), ("GetUser", 200, None, None), ("CreateUser", 409, None, None)]


def test_reached_with_a_chosen_error_and_a_dropped_connection(emulator, account):
    emulator.control("POST", "faults", {"action": "CreateUser", "kind": "reached", "status": 503,
                                        "code": "ServiceUnavailable", "count": 1, "access_key": account})
    emulator.control("POST", "faults", {"action": "CreateAccessKey", "kind": "reached", "drop": True, "count": 1,
                                        "access_key": account})
    iam = emulator.client("iam", account, retry=False)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        iam.create_user(UserName="erin")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert raised.value.response["Error"]["Code"] == "ServiceUnavailable"
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        iam.create_access_key(UserName="erin")
    assert len(iam.list_access_keys(UserName="erin")["AccessKeyMetadata"]) == 1, "the dropped call took effect"
    seen = emulator.control("GET", f"requests?access_key={account}")["requests"]
    dropped = next(r for r in seen if r["action"] == "CreateAccessKey")
    assert (dropped.get("status"), dropped["dropped"], dropped["reached_status"]) == (None, True, 200)


def test_reached_latency_comes_after_the_change(emulator, account):
    """A client timeout shorter than ``latency_ms`` fires after the call took effect."""
    emulator.control("POST", "faults", {"action": "CreateUser", "kind": "reached", "latency_ms": 1500, "count": 1,
                                        "access_key": account})
    impatient = boto3.client(
        "iam", endpoint_url=emulator.endpoint, region_name="us-east-1", aws_access_key_id=account,
        aws_secret_access_key="contract-test", config=Config(read_timeout=0.5, retries={"total_max_attempts": 1}))
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        impatient.create_user(UserName="finn")
    served = _log_entry(emulator, account, "CreateUser", "reached_status")
    assert served["reached_status"] == 200, "the change was made; only its answer is late"
    assert emulator.client("iam", account).get_user(UserName="finn")["User"]["UserName"] == "finn"


def test_stall_answers_late_after_the_change(emulator, account):
    """"stall": AWS carried the call out and its real answer comes ``latency_ms`` late: an impatient client times
    out after the change was made, a patient one gets the answer (:mod:`bpemu.faults`)."""
    emulator.control("POST", "faults", {"action": "CreateUser", "kind": "stall", "latency_ms": 1200, "count": 2,
                                        "access_key": account})
    impatient = boto3.client(
        "iam", endpoint_url=emulator.endpoint, region_name="us-east-1", aws_access_key_id=account,
        aws_secret_access_key="contract-test", config=Config(read_timeout=0.5, retries={"total_max_attempts": 1}))
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        impatient.create_user(UserName="gil")
    assert _log_entry(emulator, account, "CreateUser", "reached_status")["fault"] == "stall"
    patient = emulator.client("iam", account, retry=False)
    started = time.monotonic()
    assert patient.create_user(UserName="hana")["User"]["UserName"] == "hana", "the real answer, late"
    assert time.monotonic() - started >= 1.2
    assert {u["UserName"] for u in patient.list_users()["Users"]} == {"gil", "hana"}


def _log_entry(emulator, account: str, action: str, key: str, wait_s: float = 10.0) -> dict:
    """The request log entry of `account`'s `action` once it has `key` (a slow machine may serve a call after
    the client's read timeout fired)."""
    deadline = time.monotonic() + wait_s
    while True:
        seen = emulator.control("GET", f"requests?access_key={account}")["requests"]
        found = [r for r in seen if r["action"] == action and key in r]
        if found or time.monotonic() > deadline:
            assert found, f"no {action} entry with {key}: {seen}"
            return found[-1]
        time.sleep(0.05)


def test_bedrock_catalog_per_region(emulator, account):
    east = emulator.client("bedrock", account, "us-east-1")
    ids = [m["modelId"] for m in east.list_foundation_models(byProvider="Anthropic")["modelSummaries"]]
    assert "anthropic.claude-sonnet-4-5-20250929-v1:0" in ids
    assert all(i.startswith("anthropic.") for i in ids)
    model = east.get_foundation_model(modelIdentifier="anthropic.claude-sonnet-4-5-20250929-v1:0")["modelDetails"]
    assert model["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]
    profiles = east.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    assert "us.anthropic.claude-sonnet-4-5-20250929-v1:0" in [p["inferenceProfileId"] for p in profiles]
    assert east.get_inference_profile(inferenceProfileIdentifier="global.anthropic.claude-sonnet-4-5-20250929-v1:0")[
        "status"] == "ACTIVE"

    emulator.control("POST", "bedrock/catalog", {"account": account, "region": "eu-central-1", "models": []})
    central = emulator.client("bedrock", account, "eu-central-1")
    assert central.list_foundation_models(byProvider="Anthropic")["modelSummaries"] == []
    with pytest.raises(central.exceptions.ResourceNotFoundException):
        central.get_foundation_model(modelIdentifier="anthropic.claude-sonnet-4-5-20250929-v1:0")


def test_reset_forgets_everything(emulator, account):
    emulator.client("iam", account).create_user(UserName="carol")
    emulator.control("POST", "faults", {"action": "*", "kind": "latency", "latency_ms": 1, "access_key": account})
    emulator.control("POST", "reset")
    assert emulator.client("iam", account).list_users()["Users"] == []
    assert len(emulator.control("GET", f"requests?access_key={account}")["requests"]) == 1
