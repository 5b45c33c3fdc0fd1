"""Bedrock model invocation logging: the configuration (moto's, validated as AWS validates it) and the records
the emulated bedrock-runtime writes to CloudWatch Logs.

Source: Bedrock user guide, "Monitor model invocation using CloudWatch Logs and Amazon S3"
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html), and the botocore
``bedrock`` model (``PutModelInvocationLoggingConfiguration`` ``PUT /logging/modelinvocations``, ``Get``, ``Delete``;
``CloudWatchConfig`` requires ``logGroupName`` and ``roleArn``, checked by :mod:`bpemu.validation_ext`).

Configuration (moto 5.2.5 stores it per account and region; served over HTTP as is):

- ``PutModelInvocationLoggingConfiguration`` with a ``cloudWatchConfig`` is refused with ``ValidationException``
  (HTTP 400) unless the destination works, as the guide requires ("Only destinations from the same account and
  Region are supported"; "Create a CloudWatch log group"; a role trusted by ``bedrock.amazonaws.com`` allowed
  ``logs:CreateLogStream`` and ``logs:PutLogEvents`` on
  ``arn:aws:logs:REGION:ACCOUNT:log-group:GROUP:log-stream:aws/bedrock/modelinvocations``). A log group that does
  not exist in the account and region answers "The specified log group does not exist." (what the console
  shows, https://elliotrodriguez.me/understanding-aws-bedrock-model-invocation-logging); a role that is missing,
  in another account, not trusted by Bedrock (context ``aws:SourceAccount`` = the account, ``aws:SourceArn`` =
  ``arn:aws:bedrock:REGION:ACCOUNT:*``, the emulator's value) or not allowed to write answers AWS's message
  "Failed to validate permissions for log group: GROUP, with role: ROLE. Verify the IAM role permissions are
  correct." (as AWS answered in alphagov/govuk-infrastructure#2440). ``s3Config`` is stored unchecked.
- ``GetModelInvocationLoggingConfiguration`` without a configuration answers ``{}`` (moto answers an empty
  ``loggingConfig``; AWS leaves the member out, which is what AWS's samples test with ``'loggingConfig' in
  response``).

Records: :func:`record` is called by :mod:`bpemu.runtime_ext` for each ``Converse``, ``ConverseStream``,
``InvokeModel`` and ``InvokeModelWithResponseStream`` call that succeeded. When the account and region have a
configuration with ``cloudWatchConfig``, one event is put into that log group, stream
``aws/bedrock/modelinvocations`` (created when missing), through moto's logs backend, so CloudWatch Logs' own
APIs (``GetLogEvents``, ``FilterLogEvents``, Logs Insights) read it. The message is schema 1.0 (the guide's
"log schema"; real records e.g. dheerajoruganty/aws-bedrock-logs-mcp-server ``setup.md``): ``schemaType``,
``schemaVersion``, ``timestamp`` (ISO 8601, seconds, ``Z``), ``accountId``, ``identity.arn``, ``region``,
``requestId``, ``operation``, ``modelId``, ``input`` (``inputContentType``, ``inputTokenCount``,
``cacheReadInputTokenCount``, ``cacheWriteInputTokenCount``), ``output`` (``outputContentType``,
``outputTokenCount``); with ``textDataDeliveryEnabled`` also ``input.inputBodyJson`` and
``output.outputBodyJson``. The record's ``timestamp`` and the event's timestamp are the account's emulator clock
(:func:`bpemu.iam_ext.now`) at the call.

``modelId`` is the identifier as called for a foundation model; for a system-defined inference profile called by
its id it is the profile's ARN (``arn:aws:bedrock:REGION:ACCOUNT:inference-profile/us.anthropic...``), as
records of Claude Code's calls quoted in public repositories show (third-party notes, not an AWS page: AWS does not
document the field's form); ``POST /_emulator/bedrock-runtime/log-model-id`` ``{"profile": "id"}`` logs the id
as called instead (``"arn"`` is the default), so a reader can be tested against both.

Delivery takes about a minute on AWS: ``POST /_emulator/bedrock-runtime/log-delay`` ``{"ms": N}`` (optionally
``"account"``) writes each record N ms after the call, from a timer thread; before then no read sees it. 0 (the
default) writes it before the call answers. ``reset`` cancels pending records and restores the defaults.
"""

from __future__ import annotations

import datetime
import json
import threading
from dataclasses import dataclass

from moto.bedrock.models import bedrock_backends
from moto.bedrock.responses import BedrockResponse
from moto.logs.models import logs_backends

from . import iam_ext, service_roles
from .protocol import handler_error

LOG_STREAM = "aws/bedrock/modelinvocations"
BEDROCK = "bedrock.amazonaws.com"
NO_GROUP = "The specified log group does not exist."

_lock = threading.Lock()
_delay_ms: dict[str, int] = {}  # account (or "*") -> delivery delay
_settings = {"profile": "arn"}
_timers: list[threading.Timer] = []


@dataclass(frozen=True)
class Invocation:
    """One successful bedrock-runtime call, as a log record needs it."""

    account: str
    region: str
    caller_arn: str
    request_id: str
    operation: str
    model_id: str  # as called
    profile_arn: str | None  # the system-defined profile's ARN when called through one
    input_tokens: int
    output_tokens: int
    input_body: object = None
    output_body: object = None


def install() -> None:
    BedrockResponse.put_model_invocation_logging_configuration = put_model_invocation_logging_configuration
    BedrockResponse.get_model_invocation_logging_configuration = get_model_invocation_logging_configuration


def reset() -> None:
    with _lock:
        for timer in _timers:
            timer.cancel()
        _timers.clear()
        _delay_ms.clear()
        _settings["profile"] = "arn"


def control(command: str, method: str, environ, read_body):
    if command == "bedrock-runtime/log-delay" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        ms = data.get("ms")
        if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
            raise ValueError("ms must be a whole number of milliseconds, 0 or more")
        with _lock:
            _delay_ms[data.get("account", "*")] = ms
        return {"ms": ms}
    if command == "bedrock-runtime/log-model-id" and method == "POST":
        profile = json.loads(read_body(environ) or b"{}").get("profile")
        if profile not in ("arn", "id"):
            raise ValueError('profile must be "arn" or "id"')
        _settings["profile"] = profile
        return {"profile": profile}
    return None


# -- the configuration ----------------------------------------------------------------------------------------


def get_model_invocation_logging_configuration(self):
    config = self.bedrock_backend.get_model_invocation_logging_configuration()
    return json.dumps({"loggingConfig": config} if config else {})


def put_model_invocation_logging_configuration(self):
    config = json.loads(self.body or "{}").get("loggingConfig") or {}
    refusal = _cloudwatch_refusal(self.current_account, self.region, config.get("cloudWatchConfig"))
    if refusal is not None:
        return handler_error("ValidationException", refusal)
    self.bedrock_backend.put_model_invocation_logging_configuration(logging_config=config)
    return json.dumps({})


def _cloudwatch_refusal(account: str, region: str, cloudwatch: dict | None) -> str | None:
    """None when Bedrock can write to the CloudWatch destination, else AWS's ValidationException message."""
    if not cloudwatch:
        return None
    group, role_arn = cloudwatch["logGroupName"], cloudwatch["roleArn"]
    if group not in logs_backends[account][region].groups:
        return NO_GROUP
    role = service_roles.role(role_arn)
    stream = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{LOG_STREAM}"
    context = service_roles.service_context(account, f"arn:aws:bedrock:{region}:{account}:*")
    usable = (
        role is not None
        and role_arn.split(":")[4] == account
        and service_roles.trusts(role, BEDROCK, context)
        and all(service_roles.allows(role, action, stream, context)
                for action in ("logs:CreateLogStream", "logs:PutLogEvents"))
    )
    if usable:
        return None
    return (f"Failed to validate permissions for log group: {group}, with role: {role_arn}. "
            "Verify the IAM role permissions are correct.")


# -- the records ----------------------------------------------------------------------------------------------


def record(invocation: Invocation) -> None:
    """Log `invocation` where the account and region's configuration says, now or after the delivery delay."""
    config = _config(invocation.account, invocation.region)
    group = (config.get("cloudWatchConfig") or {}).get("logGroupName")
    if not group:
        return
    at = iam_ext.now(invocation.account)
    message = json.dumps(_record(invocation, config, at))
    event = {"timestamp": int(at.timestamp() * 1000), "message": message}
    with _lock:
        delay = _delay_ms.get(invocation.account, _delay_ms.get("*", 0))
        if delay == 0:
            _write(invocation.account, invocation.region, group, event)
            return
        timer = threading.Timer(delay / 1000, _write, (invocation.account, invocation.region, group, event))
        timer.daemon = True
        _timers.append(timer)
        timer.start()


def _config(account: str, region: str) -> dict:
    backend = dict.get(bedrock_backends, account)
    regional = dict.get(backend, region) if backend is not None else None
    return (regional.get_model_invocation_logging_configuration() or {}) if regional is not None else {}


def _record(invocation: Invocation, config: dict, at: datetime.datetime) -> dict:
    """The schema 1.0 record; bodies only with ``textDataDeliveryEnabled``."""
    model_id = invocation.model_id
    if invocation.profile_arn is not None and _settings["profile"] == "arn":
        model_id = invocation.profile_arn
    record_input = {"inputContentType": "application/json", "inputTokenCount": invocation.input_tokens,
                    "cacheReadInputTokenCount": 0, "cacheWriteInputTokenCount": 0}
    record_output = {"outputContentType": "application/json", "outputTokenCount": invocation.output_tokens}
    if config.get("textDataDeliveryEnabled"):
        record_input["inputBodyJson"] = invocation.input_body
        record_output["outputBodyJson"] = invocation.output_body
    return {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountId": invocation.account,
        "identity": {"arn": invocation.caller_arn},
        "region": invocation.region,
        "requestId": invocation.request_id,
        "operation": invocation.operation,
        "modelId": model_id,
        "input": record_input,
        "output": record_output,
    }


def _write(account: str, region: str, group_name: str, event: dict) -> None:
    """Put `event` into the group's Bedrock stream (moto's stream directly: moto's ``PutLogEvents`` refuses
    events more than 2 hours ahead of real time, and the emulator clock may be ahead). A group deleted since
    loses the record, as delivery to a missing destination does."""
    group = logs_backends[account][region].groups.get(group_name)
    if group is None:
        return
    if LOG_STREAM not in group.streams:
        group.create_log_stream(LOG_STREAM)
    group.streams[LOG_STREAM].put_log_events([event])
