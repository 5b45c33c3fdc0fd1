"""Contract tests of Bedrock model invocation logging in the emulator: the configuration (botocore ``bedrock``
2023-04-20 ``PutModelInvocationLoggingConfiguration``/``Get``/``Delete``, ``PUT|GET|DELETE
/logging/modelinvocations``) and the records bedrock-runtime writes to CloudWatch Logs.

Source: Bedrock user guide, "Monitor model invocation using CloudWatch Logs and Amazon S3"
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html): destinations "from the same
account and Region"; a CloudWatch Logs destination needs the log group and a role trusted by
``bedrock.amazonaws.com`` (conditions on ``aws:SourceAccount``/``aws:SourceArn``) allowed
``logs:CreateLogStream`` and ``logs:PutLogEvents`` on the stream ``aws/bedrock/modelinvocations``; the operations
that log are Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream; the record schema 1.0
(``schemaType``, ``schemaVersion``, ``timestamp``, ``accountId``, ``identity.arn``, ``region``, ``requestId``,
``operation``, ``modelId``, ``input``/``output`` with the token counts, bodies only with data delivery on). AWS's
refusal for a role it cannot use, "Failed to validate permissions for log group: ..., with role: .... Verify the
IAM role permissions are correct." (alphagov/govuk-infrastructure#2440).
"""

import datetime
import json
import re
import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from test_runtime import HELLO, SONNET, bearer_client, least_privilege, short_term, unit  # noqa: F401

GROUP = "bedrock-provisioner/model-invocations"
STREAM = "aws/bedrock/modelinvocations"
PROFILE = f"us.{SONNET}"


def trust_policy(account: str, region: str = "us-east-1", source_account: str | None = None) -> str:
    """The documented trust policy of the logging role."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": source_account or account},
                      "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:{region}:{account}:*"}}}]})


def write_policy(account: str, region: str = "us-east-1", group: str = GROUP) -> str:
    """The documented permissions of the logging role."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{STREAM}"}]})


def logging_role(emulator, account: str, name: str = "invocation-logging", trust: str | None = None,
                 permissions: str | None = None) -> str:
    iam = emulator.client("iam", account)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust or trust_policy(account))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="write", PolicyDocument=permissions or write_policy(account))
    return arn


def enable_logging(emulator, account: str, region: str = "us-east-1", **flags) -> None:
    """A log group, the logging role, and the account and region's configuration."""
    emulator.client("logs", account, region).create_log_group(logGroupName=GROUP)
    role = logging_role(emulator, account, f"invocation-logging-{region}", trust_policy(account, region),
                        write_policy(account, region))
    emulator.client("bedrock", account, region).put_model_invocation_logging_configuration(loggingConfig={
        "cloudWatchConfig": {"logGroupName": GROUP, "roleArn": role}, "textDataDeliveryEnabled": False,
        "imageDataDeliveryEnabled": False, "embeddingDataDeliveryEnabled": False, **flags})


def records(emulator, account: str, region: str = "us-east-1") -> list[dict]:
    logs = emulator.client("logs", account, region)
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    if not streams:
        return []
    assert [s["logStreamName"] for s in streams] == [STREAM]
    events = logs.get_log_events(logGroupName=GROUP, logStreamName=STREAM, startFromHead=True)["events"]
    return [{**json.loads(e["message"]), "@timestamp": e["timestamp"]} for e in events]


def refused(call, **kwargs) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**kwargs)
    return {"status": raised.value.response["ResponseMetadata"]["HTTPStatusCode"], **raised.value.response["Error"]}


def test_configuration_is_checked_as_the_user_guide_requires(emulator, account, other_account):
    """A missing log group, a role Bedrock may not assume or that may not write, and a role of another account
    are refused with ValidationException; ``cloudWatchConfig`` without ``roleArn`` breaks the input shape."""
    bedrock = emulator.client("bedrock", account, retry=False)
    emulator.client("logs", account).create_log_group(logGroupName=GROUP)

    def put(role_arn: str, group: str = GROUP) -> dict:
        return refused(bedrock.put_model_invocation_logging_configuration,
                       loggingConfig={"cloudWatchConfig": {"logGroupName": group, "roleArn": role_arn}})

    good = logging_role(emulator, account)
    assert put(good, "no-such-group") == {"status": 400, "Code": "ValidationException",
                                          "Message": "The specified log group does not exist."}
    untrusted = logging_role(emulator, account, "untrusted", trust=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}]}))
    wrong_account = logging_role(emulator, account, "conditioned", trust=trust_policy(account, source_account="1" * 12))
    cannot_write = logging_role(emulator, account, "no-write", permissions=write_policy(account, group="other"))
    foreign = logging_role(emulator, other_account, "foreign", trust_policy(account), write_policy(account))
    for role_arn in (untrusted, wrong_account, cannot_write, foreign, f"arn:aws:iam::{account}:role/missing"):
        assert put(role_arn)["Message"] == (f"Failed to validate permissions for log group: {GROUP}, with role: "
                                            f"{role_arn}. Verify the IAM role permissions are correct.")
    unchecked = boto3.client("bedrock", endpoint_url=emulator.endpoint, region_name="us-east-1",
                             aws_access_key_id=account, aws_secret_access_key="x",
                             config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))
    shape = refused(unchecked.put_model_invocation_logging_configuration,
                    loggingConfig={"cloudWatchConfig": {"logGroupName": GROUP}})
    assert (shape["Code"], "roleArn" in shape["Message"]) == ("ValidationException", True)
    assert "loggingConfig" not in bedrock.get_model_invocation_logging_configuration(), "nothing was stored"
    bedrock.put_model_invocation_logging_configuration(
        loggingConfig={"cloudWatchConfig": {"logGroupName": GROUP, "roleArn": good}})


def test_configuration_is_per_account_and_region(emulator, account, other_account):
    """Get answers without ``loggingConfig`` where none is set, the configuration where it is; Delete removes
    it."""
    enable_logging(emulator, account)
    config = emulator.client("bedrock", account).get_model_invocation_logging_configuration()["loggingConfig"]
    assert config["cloudWatchConfig"]["logGroupName"] == GROUP
    assert config["textDataDeliveryEnabled"] is False
    for elsewhere in (emulator.client("bedrock", account, "us-west-2"), emulator.client("bedrock", other_account)):
        assert "loggingConfig" not in elsewhere.get_model_invocation_logging_configuration()
    emulator.client("bedrock", account).delete_model_invocation_logging_configuration()
    assert "loggingConfig" not in emulator.client("bedrock", account).get_model_invocation_logging_configuration()
    emulator.client("bedrock-runtime", account).converse(modelId=PROFILE, messages=HELLO)
    assert records(emulator, account) == [], "no configuration: nothing is logged"


def test_every_successful_invocation_is_one_record(emulator, account, unit):  # noqa: F811
    """A long-term key's calls of the four operations: one schema 1.0 record each, under the response's request
    id, the IAM user as ``identity.arn``, the profile's ARN as ``modelId``, the token counts of the answer and no
    bodies; refused calls and CountTokens write nothing."""
    enable_logging(emulator, account)
    iam, credential = unit
    runtime = bearer_client(emulator, credential["ServiceCredentialSecret"])
    converse = runtime.converse(modelId=PROFILE, messages=HELLO)
    native = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 32, "messages": [
        {"role": "user", "content": "How many tokens is this?"}]})
    invoked = runtime.invoke_model(modelId=f"global.{SONNET}", body=native)
    list(runtime.converse_stream(modelId=PROFILE, messages=HELLO)["stream"])
    list(runtime.invoke_model_with_response_stream(modelId=PROFILE, body=native)["body"])
    runtime.count_tokens(modelId=SONNET, input={"converse": {"messages": HELLO}})
    with pytest.raises(botocore.exceptions.ClientError):
        runtime.converse(modelId="amazon.nova-lite-v1:0", messages=HELLO)  # not allowed by the unit's policy
    found = records(emulator, account)
    assert [r["operation"] for r in found] == ["Converse", "InvokeModel", "ConverseStream",
                                              "InvokeModelWithResponseStream"]
    first = found[0]
    assert set(first) - {"@timestamp"} == {"schemaType", "schemaVersion", "timestamp", "accountId", "identity",
                                           "region", "requestId", "operation", "modelId", "input", "output"}
    assert (first["schemaType"], first["schemaVersion"], first["accountId"], first["region"]) == (
        "ModelInvocationLog", "1.0", account, "us-east-1")
    assert first["identity"] == {"arn": f"arn:aws:iam::{account}:user/marketing"}
    assert first["requestId"] == converse["ResponseMetadata"]["RequestId"]
    assert first["modelId"] == f"arn:aws:bedrock:us-east-1:{account}:inference-profile/{PROFILE}"
    assert first["input"] == {"inputContentType": "application/json",
                              "inputTokenCount": converse["usage"]["inputTokens"],
                              "cacheReadInputTokenCount": 0, "cacheWriteInputTokenCount": 0}
    assert first["output"] == {"outputContentType": "application/json",
                               "outputTokenCount": converse["usage"]["outputTokens"]}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["timestamp"])
    headers = invoked["ResponseMetadata"]["HTTPHeaders"]
    assert found[1]["input"]["inputTokenCount"] == int(headers["x-amzn-bedrock-input-token-count"])
    assert found[1]["modelId"].endswith(f":inference-profile/global.{SONNET}")


def test_identity_is_the_caller(emulator, account, unit):  # noqa: F811
    """``identity.arn``: the IAM user for its access key and for a short-term key it signed, the assumed-role
    session for an AssumeRole session, the account for its own (root) key; a foundation model called by id is
    logged by that id."""
    enable_logging(emulator, account)
    iam, _ = unit
    access = iam.create_access_key(UserName="marketing")["AccessKey"]
    as_user = boto3.client("bedrock-runtime", endpoint_url=emulator.endpoint, region_name="us-east-1",
                           aws_access_key_id=access["AccessKeyId"], aws_secret_access_key=access["SecretAccessKey"])
    as_user.converse(modelId=PROFILE, messages=HELLO)
    bearer_client(emulator, short_term(access)).converse(modelId=PROFILE, messages=HELLO)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="ci", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="ci", PolicyName="bedrock", PolicyDocument=least_privilege(account))
    session = emulator.client("sts", account).assume_role(RoleArn=f"arn:aws:iam::{account}:role/ci",
                                                          RoleSessionName="nightly")["Credentials"]
    boto3.client("bedrock-runtime", endpoint_url=emulator.endpoint, region_name="us-east-1",
                 aws_access_key_id=session["AccessKeyId"], aws_secret_access_key=session["SecretAccessKey"],
                 aws_session_token=session["SessionToken"]).converse(modelId=PROFILE, messages=HELLO)
    emulator.client("bedrock-runtime", account).converse(modelId="anthropic.claude-3-haiku-20240307-v1:0",
                                                         messages=HELLO)
    found = records(emulator, account)
    assert [r["identity"]["arn"] for r in found] == [
        f"arn:aws:iam::{account}:user/marketing", f"arn:aws:iam::{account}:user/marketing",
        f"arn:aws:sts::{account}:assumed-role/ci/nightly", f"arn:aws:iam::{account}:root"]
    assert found[-1]["modelId"] == "anthropic.claude-3-haiku-20240307-v1:0"


def test_bodies_only_with_text_data_delivery_and_model_id_as_called(emulator, account):
    """With ``textDataDeliveryEnabled`` the record holds ``inputBodyJson`` and ``outputBodyJson``; the control
    ``log-model-id`` ``{"profile": "id"}`` logs a profile by the id the caller used."""
    enable_logging(emulator, account, textDataDeliveryEnabled=True)
    runtime = emulator.client("bedrock-runtime", account)
    answer = runtime.converse(modelId=PROFILE, messages=HELLO)
    assert emulator.control("POST", "bedrock-runtime/log-model-id", {"profile": "id"}) == {"profile": "id"}
    try:
        runtime.converse(modelId=PROFILE, messages=HELLO)
    finally:
        emulator.control("POST", "bedrock-runtime/log-model-id", {"profile": "arn"})
    first, second = records(emulator, account)
    assert first["input"]["inputBodyJson"] == {"messages": HELLO}
    assert first["output"]["outputBodyJson"]["output"] == answer["output"]
    assert first["output"]["outputBodyJson"]["usage"] == answer["usage"]
    assert second["modelId"] == PROFILE


def test_delivery_delay_and_the_emulator_clock(emulator, account):
    """Records arrive after ``log-delay`` ms, not before; their timestamps are the account's emulator clock (the
    month turning is the clock moved)."""
    enable_logging(emulator, account)
    emulator.control("POST", "clock", {"account": account, "advance_days": 40})
    assert emulator.control("POST", "bedrock-runtime/log-delay", {"account": account, "ms": 400}) == {"ms": 400}
    try:
        emulator.client("bedrock-runtime", account).converse(modelId=PROFILE, messages=HELLO)
        assert records(emulator, account) == [], "not delivered yet"
        deadline = time.monotonic() + 5
        while not records(emulator, account) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        emulator.control("POST", "bedrock-runtime/log-delay", {"account": account, "ms": 0})
        emulator.control("POST", "clock", {"account": account, "offset_seconds": 0})
    (found,) = records(emulator, account)
    logged = datetime.datetime.fromtimestamp(found["@timestamp"] / 1000, datetime.timezone.utc)
    expected = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=40)
    assert abs((logged - expected).total_seconds()) < 60
    assert found["timestamp"] == logged.strftime("%Y-%m-%dT%H:%M:%SZ")
