"""Amazon Bedrock Runtime: ``Converse``, ``InvokeModel`` and ``CountTokens`` with canned answers, behind the
authentication and authorisation AWS applies. Written against the botocore ``bedrock-runtime`` model
(2023-09-30; ``POST /model/{modelId}/converse``, ``/invoke``, ``/count-tokens``; signing name ``bedrock``;
auth ``aws.auth#sigv4`` or ``smithy.api#httpBearerAuth``) and the Bedrock user guide's "API keys" pages.

Authentication:

- SigV4: an access key moto IAM issued (a user's ``AKIA``, an AssumeRole ``ASIA``), or one of the emulator's
  12-digit account keys (the account's administrator). Another key, or an inactive one, answers 403
  ``UnrecognizedClientException`` "The security token included in the request is invalid.". (As for every
  other service of the emulator, a SigV4 request's signature itself is not verified.)
- ``Authorization: Bearer ABSK...``: a long-term key (an IAM service-specific credential for
  ``bedrock.amazonaws.com``, :mod:`bpemu.iam_ext`); it authenticates as its IAM user while Active and not
  expired (emulator clock).
- ``Authorization: Bearer bedrock-api-key-...``: a short-term key: base64 of a SigV4-presigned
  ``bedrock.amazonaws.com/?Action=CallWithBearerToken&...&Version=1``. Its signature is checked with the
  signing key's secret (botocore's SigV4 code; an AssumeRole session's token must be the one signed), except
  for the emulator's 12-digit account keys, whose secret is whatever the client chose. It is refused after
  ``X-Amz-Date`` + ``X-Amz-Expires`` (at most 43200 s) or the signing session's end (emulator clock), and in
  another region than the one it was signed for.
- A refused key answers 403, body ``{"Message":"Authentication failed: Please make sure your API Key is
  valid."}`` (AWS's wording for an invalid or expired key) with ``x-amzn-ErrorType: AccessDeniedException``, or
  without that header after ``POST /_emulator/bedrock-runtime/auth-errors`` ``{"error_type_header": false}``
  (Bedrock answers both ways; ``reset`` puts the header back); a bearer value with neither prefix
  ``AccessDeniedException`` "Invalid API Key format: Must start with pre-defined prefix"; no Authorization header
  "Authorization header is missing". A session whose time is over answers ``ExpiredTokenException``
  (:mod:`bpemu.sessions_ext`).

Region: SigV4 requests name it in their credential scope. A bearer request names none when the client's
endpoint is the emulator: it is the Host's (``bedrock-runtime.REGION.amazonaws.com``) when the Host names one,
else a short-term key's, else :data:`DEFAULT_REGION`.

Authorisation (the runtime model's operation docs, and the service authorization reference): ``Converse`` and
``InvokeModel`` need ``bedrock:InvokeModel`` (the streaming operations ``bedrock:InvokeModelWithResponseStream``)
"on both the inference target and the project": the target is a foundation model's ARN, or an inference
profile's ARN plus its foundation model in every destination region (``models`` of the profile,
:mod:`bpemu.bedrock_ext`; a ``global.`` profile's has an empty region); the project is
``arn:aws:bedrock:REGION:ACCOUNT:project/default`` unless ``projectIdentifier`` names another.
``CountTokens`` needs ``bedrock:CountTokens`` on the foundation model (it takes no project, and no profile).
A bearer call also needs ``bedrock:CallWithBearerToken`` (checked on ``arn:aws:bedrock:REGION:ACCOUNT:*``, the
resource AWS names for Bedrock actions without a resource type), with ``bedrock:bearerTokenType`` =
``LONG_TERM``/``SHORT_TERM`` in the context. A refusal is 403 ``AccessDeniedException`` with IAM's message.

Validation, as AWS answers it (400 ``ValidationException``): before authorisation, a request breaking the
input shape, with the model's "N validation error(s) detected: ..." message; after it, a model id the region
does not offer, "The provided model identifier is invalid."; the base id of a model only invocable through an
inference profile, "Invocation of model ID … with on-demand throughput isn’t supported. Retry your request with
the ID or ARN of an inference profile that contains this model."; ``CountTokens`` on a profile, on a model
without token counting (:data:`COUNTED_MODELS`) or in a region without it (:data:`COUNT_TOKENS_REGIONS`), "The
provided model doesn't support counting tokens.". The emulator has no projects but the default one: another
answers 404 ``ResourceNotFoundException``.

Answers are canned and valid for the output shapes: ``Converse`` a text message with ``stopReason``,
``usage`` and ``metrics``; ``InvokeModel`` the provider's native body (Anthropic Messages API, or Amazon
Nova's); ``ConverseStream`` and ``InvokeModelWithResponseStream`` the same content as an event stream
(:mod:`bpemu.eventstream`); ``CountTokens`` ``inputTokens``, the same count ``Converse`` and ``InvokeModel``
report for the same input (one token per four characters of text, rounded up). Every successful answer carries an
``x-amzn-RequestId``, and each successful invocation (not ``CountTokens``) is written to the account and region's
model invocation log, when one is configured, under that request id (:mod:`bpemu.logging_ext`).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import json
import math
import types
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.datastructures import EnvironHeaders

from . import access_ext, bedrock_ext, eventstream, iam_ext, logging_ext, shapes
from .access_ext import Principal
from .protocol import (
    LONG_TERM_PREFIX,
    SHORT_TERM_PREFIX,
    RequestInfo,
    bearer_token,
    error_response,
    short_term_url,
)

DEFAULT_REGION = "us-east-1"
MAX_SHORT_TERM_SECONDS = 43200
TOKEN_HOST = "bedrock.amazonaws.com"
BEDROCK_KEYS = "bedrock.amazonaws.com"  # the ServiceName of Bedrock API keys
# Prefixes of system-defined inference profile ids (geographies and ``global``).
PROFILE_PREFIXES = {"us", "us-gov", "eu", "apac", "jp", "au", "ca", "global"}
CANNED_REPLY = "Hello from the bedrock-provisioner emulator."

AUTH_FAILED = "Authentication failed: Please make sure your API Key is valid."
BAD_PREFIX = "Invalid API Key format: Must start with pre-defined prefix"
INVALID_MODEL = "The provided model identifier is invalid."
NO_TOKEN_COUNT = "The provided model doesn't support counting tokens."

# Token counting (Bedrock user guide, "Monitor your token usage by counting tokens before running inference",
# section "Supported models and Regions for token counting",
# https://docs.aws.amazon.com/bedrock/latest/userguide/count-tokens.html): "Count tokens API is supported in
# the following Regions": US East (N. Virginia), US East (Ohio), US West (Oregon), Asia Pacific (Tokyo), Asia
# Pacific (Mumbai), Asia Pacific (Singapore), Asia Pacific (Sydney), Europe (Frankfurt), Europe (Zurich), Europe
# (Ireland), Europe (London), South America (São Paulo). Elsewhere the emulator answers ValidationException with
# the model message (AWS's answer there is not documented).
COUNT_TOKENS_REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-2", "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
    "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "sa-east-1",
})
_COUNT_TOKENS_PAGE = "https://docs.aws.amazon.com/bedrock/latest/userguide/count-tokens.html"
# The foundation models CountTokens counts for, each with its source. The page's list ("Count tokens API is
# supported for the following foundation models"): Claude 3.5 Haiku, 3.5 Sonnet v2, 3.5 Sonnet, 3.7 Sonnet,
# Opus 4, Sonnet 4; its current version sends readers to each model card instead, and notes that "Some Anthropic
# Claude models - including those that launch with cross-Region inference (CRIS) only on bedrock-runtime - don't
# support CountTokens on bedrock-runtime". The Claude 4.5 entries are from clients that count with their base ids.
# Models not listed (Amazon Nova, Claude Opus 4.5) answer "The provided model doesn't support counting tokens.".
COUNTED_MODELS = {
    "anthropic.claude-3-5-haiku-20241022-v1:0": _COUNT_TOKENS_PAGE,
    "anthropic.claude-3-5-sonnet-20241022-v2:0": _COUNT_TOKENS_PAGE,
    "anthropic.claude-3-5-sonnet-20240620-v1:0": _COUNT_TOKENS_PAGE,
    "anthropic.claude-3-7-sonnet-20250219-v1:0": _COUNT_TOKENS_PAGE,
    "anthropic.claude-opus-4-20250514-v1:0": _COUNT_TOKENS_PAGE,
    "anthropic.claude-sonnet-4-20250514-v1:0": _COUNT_TOKENS_PAGE,
    "anthropic.claude-3-haiku-20240307-v1:0": _COUNT_TOKENS_PAGE + ' ("Example: count tokens ... with Anthropic '
                                                                   'Claude 3 Haiku")',
    "anthropic.claude-sonnet-4-5-20250929-v1:0": "Portkey-AI/gateway#1437 (Claude Code counts tokens on Bedrock "
                                                 "with the base id once the profile prefix is removed)",
    "anthropic.claude-haiku-4-5-20251001-v1:0": "https://alchemy.run/providers/aws/bedrock/counttokens (counting "
                                                "with the base id anthropic.claude-haiku-4-5-20251001-v1:0)",
}

# Invalid API keys: whether the 403 carries ``x-amzn-ErrorType``; the body is ``{"Message": "Authentication
# failed: Please make sure your API Key is valid."}`` either way (anomalyco/opencode#47073; clients also report it
# as a bare "Forbidden" with that body, ai4s-research/open-science#53, i.e. without an error type).
_auth_errors = {"error_type_header": True}

# Invocation -> the IAM action it needs on its target and project.
_IAM_ACTION = {
    "Converse": "bedrock:InvokeModel",
    "InvokeModel": "bedrock:InvokeModel",
    "ConverseStream": "bedrock:InvokeModelWithResponseStream",
    "InvokeModelWithResponseStream": "bedrock:InvokeModelWithResponseStream",
}


class Refusal(Exception):
    """An AWS error answer: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: who, in which region, and the key type of a bearer call (else None)."""

    principal: Principal
    region: str
    token_type: str | None


@dataclass(frozen=True)
class Target:
    """What a model identifier resolves to in a region: the foundation model, the ARNs to authorise on."""

    model_id: str | None  # None: nothing the region offers
    resources: list[str]
    profile_arn: str | None = None
    context: dict = field(default_factory=dict)


def handles(info: RequestInfo) -> bool:
    """Whether this module serves the request (every bedrock-runtime request)."""
    return info.service == "bedrock-runtime"


def serve(environ, start_response, info: RequestInfo, body: bytes):
    """Answer one bedrock-runtime request (WSGI)."""
    try:
        status_line, headers, payload = _answer(environ, info, body)
    except Refusal as refusal:
        status_line, headers, payload = _refusal_answer(info, refusal)
    start_response(status_line, headers + [("Content-Length", str(len(payload)))])
    return [payload]


def _refusal_answer(info: RequestInfo, refusal: Refusal) -> tuple[str, list, bytes]:
    """AWS's error; an invalid API key's is ``{"Message": ...}`` alone, with or without ``x-amzn-ErrorType``
    (:data:`_auth_errors`)."""
    status_line, headers, payload = error_response(info.service, refusal.status, refusal.code, refusal.message)
    if refusal.message != AUTH_FAILED:
        return status_line, headers, payload
    if not _auth_errors["error_type_header"]:
        headers = [(name, value) for name, value in headers if name.lower() != "x-amzn-errortype"]
    return status_line, headers, json.dumps({"Message": AUTH_FAILED}).encode()


def reset() -> None:
    _auth_errors["error_type_header"] = True


def control(command: str, method: str, environ, read_body):
    if command == "bedrock-runtime/auth-errors" and method == "POST":
        value = json.loads(read_body(environ) or b"{}").get("error_type_header")
        if not isinstance(value, bool):
            raise ValueError("error_type_header must be true or false")
        _auth_errors["error_type_header"] = value
        return {"error_type_header": value}
    return None


def _answer(environ, info: RequestInfo, body: bytes) -> tuple[str, list, bytes]:
    caller = _authenticate(environ, info)
    request = _input(environ, info, body)
    account, region = caller.principal.account, caller.region
    target = _target(info.target or "", region, account)
    if info.action == "CountTokens":
        _authorize(caller, "bedrock:CountTokens", target.resources, target.context)
        _counted_model(target, region)
        return _json({"inputTokens": _count_tokens(request)})
    project = _project(environ, info, request)
    resources = target.resources + [_project_arn(project, region, account)]
    _authorize(caller, _IAM_ACTION[info.action], resources, target.context)
    _check_project(project)
    model_id = _invocable_model(target)
    invoked = _invoke(info.action, model_id, request, body)
    request_id = str(uuid.uuid4())
    logging_ext.record(logging_ext.Invocation(
        account, region, caller.principal.arn, request_id, info.action, info.target or "", target.profile_arn,
        invoked.input_tokens, invoked.output_tokens, invoked.input_body, invoked.output_body))
    status_line, headers, payload = invoked.answer
    return status_line, headers + [("x-amzn-RequestId", request_id)], payload


@dataclass(frozen=True)
class Invoked:
    """A successful invocation's answer (status line, headers, body), its token counts and its bodies."""

    answer: tuple[str, list, bytes]
    input_tokens: int
    output_tokens: int
    input_body: object
    output_body: object


def _invoke(action: str, model_id: str, request: dict, body: bytes) -> Invoked:
    """Converse/ConverseStream on the Converse request, InvokeModel/InvokeModelWithResponseStream on the native
    body; the streaming operations answer the same content as an event stream (:mod:`bpemu.eventstream`)."""
    if action in ("Converse", "ConverseStream"):
        answer = _converse(request)
        usage = answer["usage"]
        if action == "Converse":
            wire = _json(answer)
        else:
            wire = ("200 OK", [("Content-Type", eventstream.CONTENT_TYPE)], eventstream.converse_stream(answer))
        return Invoked(wire, usage["inputTokens"], usage["outputTokens"], request, answer)
    native, answer, used, answered = _native_answer(model_id, body)
    if action == "InvokeModel":
        wire = _invoke_model_answer(answer, used, answered)
    else:
        stream = eventstream.invoke_stream(_provider(model_id), model_id, CANNED_REPLY, used, answered)
        wire = ("200 OK", [("Content-Type", eventstream.CONTENT_TYPE),
                           ("X-Amzn-Bedrock-Content-Type", "application/json")], stream)
    return Invoked(wire, used, answered, native, answer)


# -- authentication ------------------------------------------------------------------------------------------


def _authenticate(environ, info: RequestInfo) -> Caller:
    if info.auth_scheme == "sigv4":
        return Caller(_sigv4_principal(info.access_key or ""), info.region or DEFAULT_REGION, None)
    if info.auth_scheme != "bearer":
        raise Refusal(403, "AccessDeniedException", "Authorization header is missing")
    token = bearer_token(environ)
    if token.startswith(LONG_TERM_PREFIX):
        return Caller(_long_term_principal(token), info.region or DEFAULT_REGION, "LONG_TERM")
    if token.startswith(SHORT_TERM_PREFIX):
        principal, region = _short_term_principal(token)
        if info.region not in (None, region):
            raise Refusal(403, "AccessDeniedException", AUTH_FAILED)
        return Caller(principal, region, "SHORT_TERM")
    raise Refusal(403, "AccessDeniedException", BAD_PREFIX)


def _sigv4_principal(access_key: str) -> Principal:
    if access_key.isdigit() and len(access_key) == 12:
        return access_ext.administrator(access_key)
    key = access_ext.signing_key(access_key)
    if key is None or not key.active:
        raise Refusal(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    return key.principal


def _long_term_principal(token: str) -> Principal:
    """The IAM user of an Active, unexpired Bedrock service-specific credential whose secret is `token`."""
    with iam_ext._lock:
        credentials = [c for creds in iam_ext._credentials.values() for c in creds]
    found = next(
        (
            c
            for c in credentials
            if c["ServiceName"] == BEDROCK_KEYS
            and hmac.compare_digest(c.get("ServiceCredentialSecret", "").encode(), token.encode())
        ),
        None,
    )
    principal = None
    if found is not None and iam_ext._status(found) == "Active":
        principal = access_ext.user_principal(found["Account"], found["UserName"])
    if principal is None:
        raise Refusal(403, "AccessDeniedException", AUTH_FAILED)
    return principal


@dataclass(frozen=True)
class ShortTermKey:
    """The parts of a short-term key's presigned URL that matter."""

    access_key: str
    region: str
    signed_at: datetime.datetime
    lifetime: datetime.timedelta
    query: str  # as signed, X-Amz-Signature included
    params: dict[str, str]


def _short_term_principal(token: str) -> tuple[Principal, str]:
    """(signer, region) of a well-formed, correctly signed, unexpired short-term key."""
    key = _short_term_key(token)
    principal, session_end = _short_term_signer(key)
    expires = key.signed_at + key.lifetime
    if session_end is not None:
        expires = min(expires, session_end)
    if iam_ext.now(principal.account) >= expires:
        raise Refusal(403, "AccessDeniedException", AUTH_FAILED)
    return principal, key.region


def _short_term_key(token: str) -> ShortTermKey:
    """A short-term key's presigned URL, read; refused unless it presigns ``CallWithBearerToken`` for bedrock."""
    url = short_term_url(token) or ""
    signed = urlsplit("https://" + url.removesuffix("&Version=1"))
    params = {k: v[0] for k, v in parse_qs(signed.query, keep_blank_values=True).items()}
    access_key, date, region, service, terminator = (params.get("X-Amz-Credential", "").split("/") + [""] * 5)[:5]
    expires = params.get("X-Amz-Expires", "")
    well_formed = (
        url.endswith("&Version=1")
        and (signed.netloc, signed.path) == (TOKEN_HOST, "/")
        and params.get("Action") == "CallWithBearerToken"
        and params.get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256"
        and (service, terminator) == ("bedrock", "aws4_request")
        and expires.isdigit()
        and int(expires) <= MAX_SHORT_TERM_SECONDS
    )
    try:
        signed_at = datetime.datetime.strptime(params.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ")
    except ValueError:
        well_formed = False
    if not well_formed or params["X-Amz-Date"][:8] != date:
        raise Refusal(403, "AccessDeniedException", AUTH_FAILED)
    return ShortTermKey(access_key, region, signed_at.replace(tzinfo=datetime.timezone.utc),
                        datetime.timedelta(seconds=int(expires)), signed.query, params)


def _short_term_signer(key: ShortTermKey) -> tuple[Principal, datetime.datetime | None]:
    """(principal, end of its session or None) of the access key that signed `key`, signature checked."""
    if key.access_key.isdigit() and len(key.access_key) == 12:
        return access_ext.administrator(key.access_key), None
    signer = access_ext.signing_key(key.access_key)
    if signer is None or not signer.active or key.params.get("X-Amz-Security-Token") != signer.session_token:
        raise Refusal(403, "AccessDeniedException", AUTH_FAILED)
    credentials = Credentials(signer.access_key, signer.secret_key, signer.session_token)
    expected = _signature(credentials, key.region, key.query, key.params["X-Amz-Date"])
    if not hmac.compare_digest(expected.encode(), key.params.get("X-Amz-Signature", "").encode()):
        raise Refusal(403, "AccessDeniedException", AUTH_FAILED)
    return signer.principal, signer.expires


def _signature(credentials: Credentials, region: str, query: str, timestamp: str) -> str:
    """The SigV4 query signature of ``POST https://bedrock.amazonaws.com/?<query>`` (without its signature)."""
    unsigned = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))
    request = AWSRequest(method="POST", url=f"https://{TOKEN_HOST}/?{unsigned}", headers={"host": TOKEN_HOST})
    request.context["timestamp"] = timestamp
    auth = SigV4QueryAuth(credentials, "bedrock", region)
    return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


# -- authorisation -------------------------------------------------------------------------------------------


def _authorize(caller: Caller, action: str, resources: list[str], target_context: dict) -> None:
    """AccessDeniedException unless the caller may do `action` on every resource (and use its bearer key)."""
    principal = caller.principal
    extra = dict(target_context)
    checks = [(action, resources)]
    if caller.token_type is not None:
        extra["bedrock:bearerTokenType"] = [caller.token_type]
        checks.insert(0, ("bedrock:CallWithBearerToken", [f"arn:aws:bedrock:{caller.region}:{principal.account}:*"]))
    context = access_ext.request_context(principal, caller.region, extra)
    for needed, on in checks:
        message = access_ext.authorize(principal, needed, on, context)
        if message is not None:
            raise Refusal(403, "AccessDeniedException", message)


# -- the model, the profile and the project ------------------------------------------------------------------


def _target(identifier: str, region: str, account: str) -> Target:
    """The foundation model or system-defined inference profile `identifier` names (an id or an ARN)."""
    kind, name = _identifier_parts(identifier)
    if kind == "inference-profile":
        arn = f"arn:aws:bedrock:{region}:{account}:inference-profile/{name}"
        profile = next((p for p in _system_profiles(region, account) if p["inferenceProfileId"] == name), None)
        if profile is None:
            return Target(None, [arn])
        models = [m["modelArn"] for m in profile["models"]]
        model_id = models[0].rsplit("/", 1)[-1]
        return Target(model_id, [arn] + models, arn, {"bedrock:InferenceProfileArn": [arn]})
    if kind == "foundation-model":
        arn = f"arn:aws:bedrock:{region}::foundation-model/{name}"
        return Target(name if name in bedrock_ext._models_in(region, account) else None, [arn])
    return Target(None, [identifier])


def _identifier_parts(identifier: str) -> tuple[str, str]:
    """("foundation-model" | "inference-profile" | "other", id) of a model id, profile id or ARN."""
    if identifier.startswith("arn:"):
        resource = identifier.split(":", 5)[-1]
        kind, _, name = resource.partition("/")
        return (kind, name) if kind in ("foundation-model", "inference-profile") else ("other", identifier)
    if identifier.split(".", 1)[0] in PROFILE_PREFIXES:
        return "inference-profile", identifier
    return "foundation-model", identifier


def _system_profiles(region: str, account: str) -> list[dict]:
    """The system-defined inference profiles bedrock_ext offers in `region` to `account`."""
    return bedrock_ext._profiles(types.SimpleNamespace(region=region, current_account=account))


def _invocable_model(target: Target) -> str:
    """The model an invocation runs, or AWS's ValidationException for an unknown or profile-only model."""
    if target.model_id is None:
        raise Refusal(400, "ValidationException", INVALID_MODEL)
    if target.profile_arn is None and _inference_type(target.model_id) == "INFERENCE_PROFILE":
        raise Refusal(
            400,
            "ValidationException",
            f"Invocation of model ID {target.model_id} with on-demand throughput isn’t supported. Retry your "
            "request with the ID or ARN of an inference profile that contains this model.",
        )
    return target.model_id


def _counted_model(target: Target, region: str) -> str:
    """The foundation model `CountTokens` counts for: a base model the region offers, in a region and of a model
    that count tokens (:data:`COUNT_TOKENS_REGIONS`, :data:`COUNTED_MODELS`)."""
    if target.profile_arn is not None:
        raise Refusal(400, "ValidationException", NO_TOKEN_COUNT)
    if target.model_id is None:
        raise Refusal(400, "ValidationException", INVALID_MODEL)
    if region not in COUNT_TOKENS_REGIONS or target.model_id not in COUNTED_MODELS:
        raise Refusal(400, "ValidationException", NO_TOKEN_COUNT)
    return target.model_id


def _provider(model_id: str) -> str:
    return bedrock_ext._MODELS[model_id][1]


def _inference_type(model_id: str) -> str:
    return bedrock_ext._MODELS[model_id][2]


def _project(environ, info: RequestInfo, request: dict) -> str:
    """The project a call names: ``projectIdentifier`` (body) or ``X-Amzn-Bedrock-ProjectIdentifier``."""
    if info.action in ("InvokeModel", "InvokeModelWithResponseStream"):
        return environ.get("HTTP_X_AMZN_BEDROCK_PROJECTIDENTIFIER") or "default"
    return request.get("projectIdentifier") or "default"


def _project_arn(project: str, region: str, account: str) -> str:
    return project if project.startswith("arn:") else f"arn:aws:bedrock:{region}:{account}:project/{project}"


def _check_project(project: str) -> None:
    if project.rsplit("/", 1)[-1] != "default":
        raise Refusal(404, "ResourceNotFoundException", f"Project {project} not found.")


# -- requests and answers ------------------------------------------------------------------------------------


def _input(environ, info: RequestInfo, body: bytes) -> dict:
    """The request's JSON body (InvokeModel's is the model's own), after checking it against the input shape."""
    path = urlsplit(environ.get("RAW_URI") or environ.get("PATH_INFO", "")).path
    invoke = info.action in ("InvokeModel", "InvokeModelWithResponseStream")
    try:
        params = shapes.rest_params(
            "bedrock-runtime", info.action, path, {}, EnvironHeaders(environ), "" if invoke else body.decode()
        )
    except (UnicodeDecodeError, ValueError, TypeError):
        raise Refusal(400, "SerializationException", "Could not parse the request body as JSON.") from None
    problems = shapes.check_input("bedrock-runtime", info.action, params)
    if problems:
        count = len(problems)
        message = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(
            p.coral() for p in problems
        )
        raise Refusal(400, "ValidationException", message)
    return {} if invoke else json.loads(body or b"{}")


def _json(payload: dict) -> tuple[str, list, bytes]:
    return "200 OK", [("Content-Type", "application/json")], json.dumps(payload).encode()


def _tokens(texts: list[str]) -> int:
    return sum(math.ceil(len(text) / 4) for text in texts)


def _converse_texts(request: dict) -> list[str]:
    """The text of a Converse-shaped request: system blocks and message content blocks."""
    blocks = list(request.get("system") or [])
    for message in request.get("messages") or []:
        blocks += message.get("content") or []
    return [block["text"] for block in blocks if isinstance(block, dict) and isinstance(block.get("text"), str)]


def _native_texts(body: dict) -> list[str]:
    """The text of a native InvokeModel body: ``system`` and ``messages`` (strings or text blocks)."""
    system = body.get("system")
    parts = [system] if isinstance(system, str) else list(system or [])
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        parts += [content] if isinstance(content, str) else list(content or [])
    texts = [p if isinstance(p, str) else p.get("text") for p in parts if isinstance(p, (str, dict))]
    return [t for t in texts if isinstance(t, str)]


def _native_body(data) -> dict:
    """A native InvokeModel body (JSON object), or AWS's ValidationException for a malformed one."""
    try:
        native = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        native = None
    if not isinstance(native, dict):
        raise Refusal(400, "ValidationException", "Malformed input request, please reformat your input and try again.")
    return native


def _count_tokens(request: dict) -> int:
    """``CountTokens``: the input tokens of ``input.converse`` or ``input.invokeModel.body`` (base64)."""
    given = request.get("input") or {}
    if "converse" in given:
        return _tokens(_converse_texts(given["converse"]))
    try:
        data = base64.b64decode(given["invokeModel"]["body"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise Refusal(400, "ValidationException", "The provided request is not valid.") from None
    return _tokens(_native_texts(_native_body(data)))


def _converse(request: dict) -> dict:
    messages = request.get("messages") or []
    if not messages or messages[0].get("role") != "user":
        raise Refusal(
            400,
            "ValidationException",
            "A conversation must start with a user message. Try again with a conversation that starts with a "
            "user message.",
        )
    used, answered = _tokens(_converse_texts(request)), _tokens([CANNED_REPLY])
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": CANNED_REPLY}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": used, "outputTokens": answered, "totalTokens": used + answered},
        "metrics": {"latencyMs": 1},
    }


def _native_answer(model_id: str, body: bytes) -> tuple[dict, dict, int, int]:
    """InvokeModel's native request and answer (the provider's format) and the token counts."""
    native = _native_body(body)
    used, answered = _tokens(_native_texts(native)), _tokens([CANNED_REPLY])
    if _provider(model_id) == "Anthropic":
        answer = _anthropic_answer(model_id, native, used, answered)
    else:
        answer = {
            "output": {"message": {"role": "assistant", "content": [{"text": CANNED_REPLY}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": used, "outputTokens": answered, "totalTokens": used + answered},
        }
    return native, answer, used, answered


def _invoke_model_answer(answer: dict, used: int, answered: int) -> tuple[str, list, bytes]:
    """InvokeModel: the provider's native answer, with the token-count headers."""
    status, headers, payload = _json(answer)
    counts = [
        ("X-Amzn-Bedrock-Input-Token-Count", str(used)),
        ("X-Amzn-Bedrock-Output-Token-Count", str(answered)),
        ("X-Amzn-Bedrock-Invocation-Latency", "1"),
    ]
    return status, headers + counts, payload


def _anthropic_answer(model_id: str, native: dict, used: int, answered: int) -> dict:
    """The Anthropic Messages API answer (``bedrock-2023-05-31``), after its required request keys."""
    for key in ("anthropic_version", "max_tokens", "messages"):
        if key not in native:
            raise Refusal(
                400,
                "ValidationException",
                f"Malformed input request: #: required key [{key}] not found, please reformat your input and try "
                "again.",
            )
    return {
        "id": "msg_bdrk_emulator",
        "type": "message",
        "role": "assistant",
        "model": model_id,
        "content": [{"type": "text", "text": CANNED_REPLY}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": used, "output_tokens": answered},
    }
