"""What a raw AWS request is: which service, which action, which caller, how it is authenticated."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")

# Services that speak the AWS query protocol (Action=... in the query or form body, XML errors).
QUERY_SERVICES = {"iam", "sts"}
# Query-protocol parameters that name the resource a request acts on (never a secret; not logged).
RESOURCE_PARAMS = ("UserName", "RoleName", "GroupName", "PolicyArn", "PolicyName", "Path", "PolicySourceArn",
                   "RoleArn", "SourceIdentity")
# Services that speak restJson1 (errors as application/json with x-amzn-ErrorType).
REST_JSON_SERVICES = {"bedrock", "bedrock-runtime"}

# Bedrock control plane (restJson1): method and path pattern (a group: the id the request names) -> action.
_BEDROCK_ROUTES = [
    ("GET", re.compile(r"^/foundation-models/?$"), "ListFoundationModels"),
    ("GET", re.compile(r"^/foundation-models/([^/]+)/?$"), "GetFoundationModel"),
    ("GET", re.compile(r"^/foundation-model-availability/([^/]+)/?$"), "GetFoundationModelAvailability"),
    ("GET", re.compile(r"^/inference-profiles/?$"), "ListInferenceProfiles"),
    ("GET", re.compile(r"^/inference-profiles/([^/]+)/?$"), "GetInferenceProfile"),
    ("GET", re.compile(r"^/use-case-for-model-access/?$"), "GetUseCaseForModelAccess"),
    ("GET", re.compile(r"^/logging/modelinvocations/?$"), "GetModelInvocationLoggingConfiguration"),
    ("PUT", re.compile(r"^/logging/modelinvocations/?$"), "PutModelInvocationLoggingConfiguration"),
    ("DELETE", re.compile(r"^/logging/modelinvocations/?$"), "DeleteModelInvocationLoggingConfiguration"),
]

# Bedrock runtime (restJson1, botocore ``bedrock-runtime`` model, signing name ``bedrock``): the last path
# segment after ``/model/{modelId}/`` -> action name. The model id may itself contain ``/`` (an ARN).
_RUNTIME = re.compile(r"^/model/(.+)/(converse|converse-stream|invoke|invoke-with-response-stream|count-tokens)$")
RUNTIME_ACTIONS = {
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
    "count-tokens": "CountTokens",
}

# Bearer tokens: long-term Bedrock API keys and short-term ones (a presigned URL, base64).
LONG_TERM_PREFIX = "ABSK"
SHORT_TERM_PREFIX = "bedrock-api-key-"
# A Host that names its region, as AWS endpoints do: bedrock-runtime.us-west-2.amazonaws.com
_REGIONAL_HOST = re.compile(r"^bedrock-runtime(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.")


@dataclass(frozen=True)
class RequestInfo:
    """The identifying facts of one AWS request (never a secret)."""

    service: str
    action: str
    access_key: str | None
    region: str | None
    auth_scheme: str  # "sigv4" | "bearer" | "none"
    target: str | None = None  # the model, profile or resource id in the path, where there is one
    token_type: str | None = None  # bearer requests: "LONG_TERM" | "SHORT_TERM" | None (not a Bedrock key)
    names: tuple[tuple[str, str], ...] = ()  # query requests: the parameters that name the resource acted on

    def as_json(self) -> dict:
        """The request log entry; ``target`` and ``token_type`` only where the request has them."""
        entry = {
            "service": self.service,
            "action": self.action,
            "access_key": self.access_key,
            "region": self.region,
            "auth": self.auth_scheme,
        }
        optional = {"target": self.target, "token_type": self.token_type}
        return entry | {key: value for key, value in optional.items() if value is not None}


def describe(environ: dict, body: bytes) -> RequestInfo:
    """Classify a WSGI request. `body` is the already-read request body."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    access_key = region = None
    service = ""
    if auth.startswith("AWS4-HMAC-SHA256"):
        scheme = "sigv4"
        match = _CREDENTIAL.search(auth)
        if match:
            access_key, region, service = match.group(1), match.group(2), match.group(3)
    elif auth.lower().startswith("bearer "):
        scheme = "bearer"
        service = "bedrock"
    else:
        scheme = "none"
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    runtime = _RUNTIME.match(path) if method == "POST" else None
    if runtime is not None:
        return _runtime_request(environ, scheme, access_key, region, runtime)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    action = ""
    path_id = None
    names: tuple[tuple[str, str], ...] = ()
    if target:
        action = target.rsplit(".", 1)[-1]
    elif service in QUERY_SERVICES or (not service and method == "POST"):
        params = parse_qs(environ.get("QUERY_STRING", ""))
        if "Action" not in params and body:
            params = parse_qs(body.decode("utf-8", "replace"))
        action = params.get("Action", [""])[0]
        names = tuple((key, params[key][0]) for key in RESOURCE_PARAMS if key in params)
    elif service == "bedrock":
        for want_method, pattern, name in _BEDROCK_ROUTES:
            match = pattern.match(path)
            if method == want_method and match:
                action, path_id = name, (match.group(1) if match.groups() else None)
                break
    return RequestInfo(service or "unknown", action, access_key, region, scheme, path_id, names=names)


def _runtime_request(environ: dict, scheme: str, access_key, region, match: re.Match) -> RequestInfo:
    """A bedrock-runtime request. Bearer requests carry no region: it comes from a Host that names one
    (``bedrock-runtime.REGION.amazonaws.com``), else from a short-term key's credential scope, else None."""
    token_type = None
    if scheme == "bearer":
        token = bearer_token(environ)
        host = _REGIONAL_HOST.match(environ.get("HTTP_HOST", ""))
        region = host.group(1) if host else None
        if token.startswith(LONG_TERM_PREFIX):
            token_type = "LONG_TERM"
        elif token.startswith(SHORT_TERM_PREFIX):
            token_type = "SHORT_TERM"
            access_key, scope_region = short_term_scope(token)
            region = region or scope_region
    action = RUNTIME_ACTIONS[match.group(2)]
    return RequestInfo("bedrock-runtime", action, access_key, region, scheme, match.group(1), token_type)


def bearer_token(environ: dict) -> str:
    """The token of an ``Authorization: Bearer`` header ("" when there is none)."""
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def short_term_url(token: str) -> str | None:
    """The presigned URL a short-term Bedrock API key wraps (``bedrock.amazonaws.com/?Action=...&Version=1``)."""
    try:
        return base64.b64decode(token[len(SHORT_TERM_PREFIX) :], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def short_term_scope(token: str) -> tuple[str | None, str | None]:
    """(access key id, region) of a short-term key's ``X-Amz-Credential``, or (None, None)."""
    url = short_term_url(token) or ""
    credential = parse_qs(url.partition("?")[2]).get("X-Amz-Credential", [""])[0].split("/")
    return (credential[0], credential[2]) if len(credential) == 5 else (None, None)


def handler_error(code: str, message: str, status: int = 400) -> tuple[int, dict, str]:
    """An AWS error returned from a moto response handler of a JSON or REST-JSON service."""
    headers = {"status": status, "x-amzn-ErrorType": code}
    return status, headers, json.dumps({"__type": code, "message": message, "Message": message})


def error_response(service: str, status: int, code: str, message: str) -> tuple[str, list, bytes]:
    """An AWS error in the wire format of `service`: (status line, headers, body)."""
    status_line = f"{status} {_REASONS.get(status, 'Error')}"
    request_id = f"emulator-fault-{uuid.uuid4()}"
    if service in QUERY_SERVICES:
        namespace = {
            "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
            "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
        }[service]
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return status_line, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body
    body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
    content_type = "application/json" if service in REST_JSON_SERVICES else "application/x-amz-json-1.1"
    headers = [("Content-Type", content_type), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    return status_line, headers, body


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
