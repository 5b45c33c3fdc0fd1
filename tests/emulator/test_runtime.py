"""Contract tests of bedrock-runtime in the emulator (Converse, InvokeModel, CountTokens), with boto3.

Follow the pinned botocore model ``bedrock-runtime`` 2023-09-30 (operations ``Converse`` ``POST
/model/{modelId}/converse``, ``InvokeModel`` ``POST /model/{modelId}/invoke``, ``CountTokens`` ``POST
/model/{modelId}/count-tokens``; their docs: InvokeModel/Converse "requires permission for the
bedrock:InvokeModel action on both the inference target and the project"), the Bedrock user guide's "Generate
Amazon Bedrock API keys" and "Use an API key" pages (``Authorization: Bearer``, ``bedrock:CallWithBearerToken``,
``bedrock:bearerTokenType``), and the ``aws-bedrock-token-generator`` package for short-term keys.

botocore refuses bearer auth over plain HTTP ("Bearer authorization requires an HTTPS endpoint"), so the
bearer clients here add the header with an event hook on an unsigned client; the bytes on the wire are the
same as an SDK's.
"""

import base64
import json

import boto3
import botocore
import botocore.exceptions
import pytest
from aws_bedrock_token_generator import BedrockTokenGenerator
from botocore.config import Config
from botocore.credentials import Credentials

from bpemu import shapes

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_3 = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
HELLO = [{"role": "user", "content": [{"text": "Hello, Claude: how are you today?"}]}]
AUTH_FAILED = "Authentication failed: Please make sure your API Key is valid."


def least_privilege(account: str, projects: bool = True) -> str:
    """The shape of the product's default policy: Anthropic models, directly or through profiles, in projects."""
    resources = [
        "arn:aws:bedrock:*::foundation-model/anthropic.*",
        f"arn:aws:bedrock:*:{account}:inference-profile/*anthropic.*",
    ] + ([f"arn:aws:bedrock:*:{account}:project/*"] if projects else [])
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Invoke", "Effect": "Allow",
         "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:CountTokens"],
         "Resource": resources},
        {"Sid": "Subscribe", "Effect": "Allow",
         "Action": ["aws-marketplace:ViewSubscriptions", "aws-marketplace:Subscribe"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:CalledViaLast": "bedrock.amazonaws.com"}}},
        {"Sid": "Keys", "Effect": "Allow", "Action": "bedrock:CallWithBearerToken", "Resource": "*"},
    ]})


@pytest.fixture
def unit(emulator, account):
    """A business unit's IAM user with the least-privilege policy and a long-term Bedrock API key (30 days)."""
    iam = emulator.client("iam", account, retry=False)
    iam.create_user(UserName="marketing")
    iam.put_user_policy(UserName="marketing", PolicyName="bedrock", PolicyDocument=least_privilege(account))
    credential = iam.create_service_specific_credential(
        UserName="marketing", ServiceName="bedrock.amazonaws.com", CredentialAgeDays=30)["ServiceSpecificCredential"]
    return iam, credential


def bearer_client(emulator, token: str, region: str = "us-east-1", host: str | None = None):
    """A bedrock-runtime client that sends ``Authorization: Bearer <token>`` (and `host` as Host, if given)."""
    client = boto3.client("bedrock-runtime", endpoint_url=emulator.endpoint, region_name=region,
                          config=Config(signature_version=botocore.UNSIGNED, retries={"total_max_attempts": 1}))

    def add_bearer(request, **_):
        request.headers["Authorization"] = f"Bearer {token}"
        if host:
            request.headers["Host"] = host

    client.meta.events.register("before-send.bedrock-runtime.*", add_bearer)
    return client


def raw_bodies(client, *operations: str) -> list[bytes]:
    """The raw HTTP bodies of `client`'s answers to `operations`, in order (boto3's parser drops what it does
    not know). Not for InvokeModel, whose streaming body the caller reads."""
    bodies = []
    for operation in operations:
        client.meta.events.register(f"after-call.bedrock-runtime.{operation}",
                                    lambda http_response, **_: bodies.append(http_response.content))
    return bodies


def refusal(call, *args, **kwargs) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(*args, **kwargs)
    response = raised.value.response
    return {"status": response["ResponseMetadata"]["HTTPStatusCode"], **response["Error"]}


def test_converse_invoke_and_count_tokens_answer_the_output_shapes(emulator, account):
    """Canned answers, valid for ConverseResponse, InvokeModelResponse and CountTokensResponse; CountTokens
    counts what Converse and InvokeModel report as input tokens ("will match the token count that would be
    charged if the same input were sent to the model in an InvokeModel or Converse request")."""
    runtime = emulator.client("bedrock-runtime", account, retry=False)
    bodies = raw_bodies(runtime, "Converse", "CountTokens")
    answer = runtime.converse(modelId=f"us.{SONNET}", messages=HELLO, system=[{"text": "Be brief."}])
    assert answer["output"]["message"]["role"] == "assistant"
    assert answer["output"]["message"]["content"][0]["text"]
    assert answer["stopReason"] == "end_turn"
    usage = answer["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert shapes.check_output("bedrock-runtime", "Converse", bodies[-1]) == []

    counted = runtime.count_tokens(
        modelId=SONNET, input={"converse": {"messages": HELLO, "system": [{"text": "Be brief."}]}})
    assert counted["inputTokens"] == usage["inputTokens"]
    assert shapes.check_output("bedrock-runtime", "CountTokens", bodies[-1]) == []

    native = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "system": "Be brief.",
              "messages": [{"role": "user", "content": HELLO[0]["content"][0]["text"]}]}
    invoked = runtime.invoke_model(modelId=f"global.{SONNET}", body=json.dumps(native))
    assert invoked["contentType"] == "application/json"
    body = json.loads(invoked["body"].read())
    assert body["type"] == "message" and body["content"][0]["type"] == "text"
    assert body["usage"]["input_tokens"] == usage["inputTokens"]
    assert runtime.count_tokens(
        modelId=SONNET, input={"invokeModel": {"body": json.dumps(native)}})["inputTokens"] == usage["inputTokens"]

    nova = json.loads(runtime.invoke_model(modelId=NOVA, body=json.dumps({"messages": HELLO}))["body"].read())
    assert nova["output"]["message"]["content"][0]["text"]


def test_streaming_operations_answer_event_streams(emulator, account):
    """ConverseStream (``ConverseStreamOutput``: messageStart, contentBlockDelta, contentBlockStop, messageStop,
    metadata) and InvokeModelWithResponseStream (``chunk`` events carrying the Anthropic Messages API stream, the
    last with ``amazon-bedrock-invocationMetrics``), decoded by botocore's own event-stream parser; the same text
    and token counts as the non-streaming calls (botocore ``bedrock-runtime`` model; Anthropic's streaming
    format: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html)."""
    runtime = emulator.client("bedrock-runtime", account, retry=False)
    plain = runtime.converse(modelId=f"us.{SONNET}", messages=HELLO)
    events = list(runtime.converse_stream(modelId=f"us.{SONNET}", messages=HELLO)["stream"])
    assert [next(iter(e)) for e in events] == ["messageStart", "contentBlockDelta", "contentBlockStop",
                                              "messageStop", "metadata"]
    assert events[1]["contentBlockDelta"]["delta"]["text"] == plain["output"]["message"]["content"][0]["text"]
    assert events[-1]["metadata"]["usage"] == plain["usage"]
    native = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": [
        {"role": "user", "content": HELLO[0]["content"][0]["text"]}]}
    answer = runtime.invoke_model_with_response_stream(modelId=f"us.{SONNET}", body=json.dumps(native))
    chunks = [json.loads(event["chunk"]["bytes"]) for event in answer["body"]]
    assert [c["type"] for c in chunks] == ["message_start", "content_block_start", "content_block_delta",
                                          "content_block_stop", "message_delta", "message_stop"]
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["inputTokenCount"] == plain["usage"]["inputTokens"]
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == plain["usage"]["outputTokens"]
    nova = runtime.invoke_model_with_response_stream(modelId=NOVA, body=json.dumps({"messages": HELLO}))
    assert "metadata" in json.loads(list(nova["body"])[-1]["chunk"]["bytes"])


def test_model_errors_as_aws_answers_them(emulator, account):
    """ValidationException for a model the region does not offer, for the base id of a model only invocable
    through an inference profile (AWS's wording), for CountTokens on a profile or a model without token
    counting, and for a request that breaks the input shape; 404 for a project other than the default."""
    runtime = emulator.client("bedrock-runtime", account, retry=False)
    on_demand = refusal(runtime.converse, modelId=SONNET, messages=HELLO)
    assert (on_demand["status"], on_demand["Code"]) == (400, "ValidationException")
    assert on_demand["Message"] == (
        f"Invocation of model ID {SONNET} with on-demand throughput isn’t supported. Retry your request with the "
        "ID or ARN of an inference profile that contains this model.")
    assert runtime.converse(modelId=HAIKU_3, messages=HELLO)["stopReason"] == "end_turn", "on-demand model"
    for unknown in ("anthropic.claude-unknown-v1:0", "us.amazon.nova-lite-v1:0"):
        assert refusal(runtime.converse, modelId=unknown, messages=HELLO)["Message"] == (
            "The provided model identifier is invalid.")
    in_europe = emulator.client("bedrock-runtime", account, region="eu-west-1", retry=False)
    assert refusal(in_europe.converse, modelId="anthropic.claude-opus-4-5-20251101-v1:0", messages=HELLO)[
        "Message"] == "The provided model identifier is invalid.", "eu-west-1 offers no Opus 4.5"
    assert in_europe.converse(modelId=f"eu.{SONNET}", messages=HELLO)["stopReason"] == "end_turn"
    for uncounted in (f"us.{SONNET}", NOVA):
        error = refusal(runtime.count_tokens, modelId=uncounted, input={"converse": {"messages": HELLO}})
        assert (error["Code"], error["Message"]) == ("ValidationException",
                                                     "The provided model doesn't support counting tokens.")
    project = refusal(runtime.converse, modelId=f"us.{SONNET}", messages=HELLO, projectIdentifier="proj_123")
    assert (project["status"], project["Code"]) == (404, "ResourceNotFoundException")
    native = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8, "messages": []})
    in_header = refusal(runtime.invoke_model, modelId=f"us.{SONNET}", body=native, projectIdentifier="proj_123")
    assert in_header["Code"] == "ResourceNotFoundException", "InvokeModel names it in X-Amzn-Bedrock-ProjectIdentifier"
    first_turn = refusal(runtime.converse, modelId=f"us.{SONNET}", messages=[
        {"role": "assistant", "content": [{"text": "Hi"}]}])
    assert first_turn["Message"].startswith("A conversation must start with a user message.")
    unvalidated = boto3.client("bedrock-runtime", endpoint_url=emulator.endpoint, region_name="us-east-1",
                               aws_access_key_id=account, aws_secret_access_key="x",
                               config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))
    shape = refusal(unvalidated.converse, modelId=f"us.{SONNET}", messages=HELLO,
                    inferenceConfig={"maxTokens": 0})
    assert shape["Code"] == "ValidationException"
    assert shape["Message"].startswith("1 validation error detected: Value '0' at 'inferenceConfig.maxTokens'")


def test_long_term_key_calls_anthropic_models_through_profiles(emulator, account, unit):
    """The key authenticates as its IAM user; bedrock:InvokeModel is needed on the profile, the model in every
    destination region (a global. profile's with an empty region) and the project: the least-privilege
    policy allows Anthropic models through us. and global. profiles and denies Amazon Nova."""
    _, credential = unit
    runtime = bearer_client(emulator, credential["ServiceCredentialSecret"])
    for profile in (f"us.{SONNET}", f"global.{SONNET}"):
        assert runtime.converse(modelId=profile, messages=HELLO)["output"]["message"]["content"]
    assert runtime.count_tokens(modelId=SONNET, input={"converse": {"messages": HELLO}})["inputTokens"] > 0
    denied = refusal(runtime.converse, modelId=NOVA, messages=HELLO)
    assert (denied["status"], denied["Code"]) == (403, "AccessDeniedException")
    assert denied["Message"] == (
        f"User: arn:aws:iam::{account}:user/marketing is not authorized to perform: bedrock:InvokeModel on "
        f"resource: arn:aws:bedrock:us-east-1::foundation-model/{NOVA} because no identity-based policy allows "
        "the bedrock:InvokeModel action")
    log = emulator.control("GET", "requests")["requests"]
    mine = [r for r in log if r.get("token_type") == "LONG_TERM" and r["status"] == 200]
    assert {(r["service"], r["action"], r["auth"]) for r in mine} >= {
        ("bedrock-runtime", "Converse", "bearer"), ("bedrock-runtime", "CountTokens", "bearer")}
    assert all(credential["ServiceCredentialSecret"] not in json.dumps(r) for r in log), "no secret in the log"


def test_a_policy_without_the_project_denies_invocation(emulator, account, unit):
    iam, credential = unit
    iam.put_user_policy(UserName="marketing", PolicyName="bedrock",
                        PolicyDocument=least_privilege(account, projects=False))
    runtime = bearer_client(emulator, credential["ServiceCredentialSecret"])
    denied = refusal(runtime.converse, modelId=f"us.{SONNET}", messages=HELLO)
    assert denied["Code"] == "AccessDeniedException"
    assert f"on resource: arn:aws:bedrock:us-east-1:{account}:project/default" in denied["Message"]
    counted = runtime.count_tokens(modelId=SONNET, input={"converse": {"messages": HELLO}})
    assert counted["inputTokens"] > 0, "CountTokens names no project"


def test_long_term_key_refused_when_inactive_expired_or_deleted(emulator, account, unit):
    iam, credential = unit
    key, key_id = credential["ServiceCredentialSecret"], credential["ServiceSpecificCredentialId"]
    runtime = bearer_client(emulator, key)

    def refused() -> dict:
        return refusal(runtime.converse, modelId=f"us.{SONNET}", messages=HELLO)

    iam.update_service_specific_credential(UserName="marketing", ServiceSpecificCredentialId=key_id,
                                           Status="Inactive")
    assert refused() == {"status": 403, "Code": "AccessDeniedException", "Message": AUTH_FAILED}
    iam.update_service_specific_credential(UserName="marketing", ServiceSpecificCredentialId=key_id, Status="Active")
    runtime.converse(modelId=f"us.{SONNET}", messages=HELLO)
    emulator.control("POST", "clock", {"account": account, "advance_days": 31})
    assert refused()["Message"] == AUTH_FAILED, "expired after its 30 days"
    emulator.control("POST", "clock", {"account": account, "offset_seconds": 0})
    runtime.converse(modelId=f"us.{SONNET}", messages=HELLO)
    iam.delete_service_specific_credential(UserName="marketing", ServiceSpecificCredentialId=key_id)
    assert refused()["Message"] == AUTH_FAILED, "deleted"
    assert refusal(bearer_client(emulator, "bdk_v1_not-a-key").converse, modelId=f"us.{SONNET}", messages=HELLO)[
        "Message"] == "Invalid API Key format: Must start with pre-defined prefix"
    anonymous = boto3.client("bedrock-runtime", endpoint_url=emulator.endpoint, region_name="us-east-1",
                             config=Config(signature_version=botocore.UNSIGNED, retries={"total_max_attempts": 1}))
    assert refusal(anonymous.converse, modelId=f"us.{SONNET}", messages=HELLO) == {
        "status": 403, "Code": "AccessDeniedException", "Message": "Authorization header is missing"}


def test_bearer_calls_need_call_with_bearer_token(emulator, account, unit):
    """bedrock:CallWithBearerToken besides bedrock:InvokeModel; bedrock:bearerTokenType in conditions."""
    iam, credential = unit
    iam.put_user_policy(UserName="marketing", PolicyName="no-long-term-keys", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Action": "bedrock:CallWithBearerToken", "Resource": "*",
            "Condition": {"StringEquals": {"bedrock:bearerTokenType": "LONG_TERM"}}}]}))
    runtime = bearer_client(emulator, credential["ServiceCredentialSecret"])
    denied = refusal(runtime.converse, modelId=f"us.{SONNET}", messages=HELLO)
    assert denied["Message"] == (
        f"User: arn:aws:iam::{account}:user/marketing is not authorized to perform: bedrock:CallWithBearerToken "
        f"on resource: arn:aws:bedrock:us-east-1:{account}:* with an explicit deny in an identity-based policy")
    access = iam.create_access_key(UserName="marketing")["AccessKey"]
    short = BedrockTokenGenerator().get_token(
        Credentials(access["AccessKeyId"], access["SecretAccessKey"]), "us-east-1")
    assert bearer_client(emulator, short).converse(modelId=f"us.{SONNET}", messages=HELLO)["stopReason"]


def short_term(access: dict, region: str = "us-east-1") -> str:
    credentials = Credentials(access["AccessKeyId"], access["SecretAccessKey"], access.get("SessionToken"))
    return BedrockTokenGenerator().get_token(credentials, region)


def test_short_term_key_of_the_user(emulator, account, unit):
    """A token from aws-bedrock-token-generator with the user's access key authenticates as the user; a
    tampered signature, an expired token (12 hours by the emulator clock) and another region are refused."""
    iam, _ = unit
    access = iam.create_access_key(UserName="marketing")["AccessKey"]
    token = short_term(access)
    runtime = bearer_client(emulator, token)
    assert runtime.converse(modelId=f"us.{SONNET}", messages=HELLO)["stopReason"] == "end_turn"
    denied = refusal(runtime.converse, modelId=NOVA, messages=HELLO)
    assert "user/marketing is not authorized to perform: bedrock:InvokeModel on resource: " in denied["Message"]
    entry = emulator.control("GET", f"requests?access_key={access['AccessKeyId']}")["requests"][0]
    assert (entry["auth"], entry["token_type"], entry["region"]) == ("bearer", "SHORT_TERM", "us-east-1")

    decoded = base64.b64decode(token.removeprefix("bedrock-api-key-")).decode()
    signature = decoded.split("X-Amz-Signature=")[1].split("&")[0]
    forged = decoded.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    tampered = "bedrock-api-key-" + base64.b64encode(forged.encode()).decode()
    assert refusal(bearer_client(emulator, tampered).converse, modelId=f"us.{SONNET}", messages=HELLO)[
        "Message"] == AUTH_FAILED
    wrong_secret = short_term({**access, "SecretAccessKey": "not-the-secret"})
    assert refusal(bearer_client(emulator, wrong_secret).converse, modelId=f"us.{SONNET}", messages=HELLO)[
        "Message"] == AUTH_FAILED

    elsewhere = bearer_client(emulator, token, region="us-west-2", host="bedrock-runtime.us-west-2.amazonaws.com")
    assert refusal(elsewhere.converse, modelId=f"us.{SONNET}", messages=HELLO)["Message"] == AUTH_FAILED
    west = short_term(access, "us-west-2")
    assert bearer_client(emulator, west, "us-west-2", "bedrock-runtime.us-west-2.amazonaws.com").converse(
        modelId=f"us.{SONNET}", messages=HELLO)["stopReason"] == "end_turn"

    emulator.control("POST", "clock", {"account": account, "offset_seconds": 12 * 3600 + 60})
    assert refusal(runtime.converse, modelId=f"us.{SONNET}", messages=HELLO)["Message"] == AUTH_FAILED
    emulator.control("POST", "clock", {"account": account, "offset_seconds": 0})
    iam.update_access_key(UserName="marketing", AccessKeyId=access["AccessKeyId"], Status="Inactive")
    assert refusal(runtime.converse, modelId=f"us.{SONNET}", messages=HELLO)["Message"] == AUTH_FAILED


def test_short_term_keys_of_account_keys_and_role_sessions(emulator, account):
    """The emulator's 12-digit account keys sign with any secret (the administrator); an AssumeRole session's
    token must carry its session token and is held to the role's policies."""
    admin = short_term({"AccessKeyId": account, "SecretAccessKey": "whatever"})
    assert bearer_client(emulator, admin).converse(modelId=NOVA, messages=HELLO)["stopReason"] == "end_turn"
    iam = emulator.client("iam", account)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="ci", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName="ci", PolicyName="bedrock", PolicyDocument=least_privilege(account))
    session = emulator.client("sts", account).assume_role(RoleArn=role["Arn"], RoleSessionName="job")["Credentials"]
    runtime = bearer_client(emulator, short_term(session))
    assert runtime.converse(modelId=f"global.{SONNET}", messages=HELLO)["stopReason"] == "end_turn"
    denied = refusal(runtime.converse, modelId=NOVA, messages=HELLO)
    assert denied["Message"].startswith(f"User: arn:aws:sts::{account}:assumed-role/ci/job is not authorized")
    without_session = short_term({**session, "SessionToken": None})
    assert refusal(bearer_client(emulator, without_session).converse, modelId=f"us.{SONNET}", messages=HELLO)[
        "Message"] == AUTH_FAILED


def test_sigv4_callers_are_authorised_on_model_profile_and_project(emulator, account, unit):
    """The same resource-aware evaluation for a SigV4 caller (no bedrock:CallWithBearerToken needed)."""
    iam, _ = unit
    iam.delete_user_policy(UserName="marketing", PolicyName="bedrock")
    iam.put_user_policy(UserName="marketing", PolicyName="bedrock", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "bedrock:InvokeModel",
            "Resource": [f"arn:aws:bedrock:us-east-1:{account}:inference-profile/us.anthropic.*",
                         "arn:aws:bedrock:us-east-1::foundation-model/anthropic.*",
                         f"arn:aws:bedrock:us-east-1:{account}:project/default"]}]}))
    access = iam.create_access_key(UserName="marketing")["AccessKey"]
    runtime = boto3.client("bedrock-runtime", endpoint_url=emulator.endpoint, region_name="us-east-1",
                           aws_access_key_id=access["AccessKeyId"], aws_secret_access_key=access["SecretAccessKey"],
                           config=Config(retries={"total_max_attempts": 1}))
    denied = refusal(runtime.converse, modelId=f"us.{SONNET}", messages=HELLO)
    assert "on resource: arn:aws:bedrock:us-east-2::foundation-model/" in denied["Message"], (
        "a us. profile also needs the model in its other destination regions")
    assert runtime.converse(modelId=HAIKU_3, messages=HELLO)["stopReason"] == "end_turn"
    unknown = boto3.client("bedrock-runtime", endpoint_url=emulator.endpoint, region_name="us-east-1",
                           aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x",
                           config=Config(retries={"total_max_attempts": 1}))
    assert refusal(unknown.converse, modelId=HAIKU_3, messages=HELLO)["Code"] == "UnrecognizedClientException"


def test_faults_apply_to_runtime_actions(emulator, account):
    """Fault rules name bedrock-runtime actions like any other (service ``bedrock-runtime``)."""
    emulator.control("POST", "faults", {"action": "Converse", "service": "bedrock-runtime", "access_key": account,
                                        "kind": "throttle", "count": 1})
    runtime = emulator.client("bedrock-runtime", account, retry=False)
    throttled = refusal(runtime.converse, modelId=f"us.{SONNET}", messages=HELLO)
    assert (throttled["status"], throttled["Code"]) == (400, "ThrottlingException")
    assert runtime.converse(modelId=f"us.{SONNET}", messages=HELLO)["stopReason"] == "end_turn"


def test_count_tokens_only_for_documented_models_and_regions(emulator, account):
    """The Bedrock user guide's "Supported models and Regions for token counting"
    (https://docs.aws.amazon.com/bedrock/latest/userguide/count-tokens.html): twelve Regions (Canada (Central) is
    not one of them) and a list of Anthropic models; Amazon Nova and Claude Opus 4.5 are not counted. Elsewhere
    ValidationException, "The provided model doesn't support counting tokens."."""
    converse = {"converse": {"messages": HELLO}}
    us = emulator.client("bedrock-runtime", account, retry=False)
    assert us.count_tokens(modelId=HAIKU_3, input=converse)["inputTokens"] > 0
    for uncounted in (NOVA, "anthropic.claude-opus-4-5-20251101-v1:0"):
        error = refusal(us.count_tokens, modelId=uncounted, input=converse)
        assert (error["status"], error["Code"], error["Message"]) == (
            400, "ValidationException", "The provided model doesn't support counting tokens."), uncounted
    emulator.control("POST", "bedrock/catalog", {"account": account, "region": "ca-central-1", "models": [HAIKU_3]})
    canada = emulator.client("bedrock-runtime", account, region="ca-central-1", retry=False)
    assert canada.converse(modelId=HAIKU_3, messages=HELLO)["stopReason"] == "end_turn", "the region has the model"
    error = refusal(canada.count_tokens, modelId=HAIKU_3, input=converse)
    assert (error["Code"], error["Message"]) == ("ValidationException",
                                                 "The provided model doesn't support counting tokens.")


def test_an_invalid_api_key_is_answered_with_or_without_the_error_type_header(emulator):
    """Bedrock answers an invalid API key with 403 and ``{"Message":"Authentication failed: Please make sure your
    API Key is valid."}`` (quoted in anomalyco/opencode#47073; ai4s-research/open-science#53 shows a client that
    got it as a bare "Forbidden", without an error type), with ``x-amzn-ErrorType`` or without it;
    ``POST /_emulator/bedrock-runtime/auth-errors`` chooses, default with."""
    forged = "ABSK" + base64.b64encode(b"nobody-at-000000000000:not-a-secret").decode()
    runtime = bearer_client(emulator, forged)
    bodies = raw_bodies(runtime, "CountTokens")
    headers: list[dict] = []
    runtime.meta.events.register("after-call.bedrock-runtime.CountTokens",
                                 lambda http_response, **_: headers.append(dict(http_response.headers)))
    call = {"modelId": SONNET, "input": {"converse": {"messages": HELLO}}}
    error = refusal(runtime.count_tokens, **call)
    assert (error["status"], error["Code"], error["Message"]) == (403, "AccessDeniedException", AUTH_FAILED)
    assert json.loads(bodies[-1]) == {"Message": AUTH_FAILED}
    assert headers[-1]["x-amzn-ErrorType"] == "AccessDeniedException"
    try:
        assert emulator.control("POST", "bedrock-runtime/auth-errors", {"error_type_header": False}) == {
            "error_type_header": False}
        error = refusal(runtime.count_tokens, **call)
        assert (error["status"], error["Message"]) == (403, AUTH_FAILED)
        assert json.loads(bodies[-1]) == {"Message": AUTH_FAILED}
        assert "x-amzn-ErrorType" not in headers[-1]
    finally:
        emulator.control("POST", "bedrock-runtime/auth-errors", {"error_type_header": True})
