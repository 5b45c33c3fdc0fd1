"""What a raw AWS request is: which service, which action, which caller, how it is authenticated."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")

# Services that speak the AWS query protocol (Action=... in the query or form body, XML errors).
QUERY_SERVICES = {"iam", "sts"}

# Bedrock control plane (restJson1): method and path pattern -> action name.
_BEDROCK_ROUTES = [
    ("GET", re.compile(r"^/foundation-models/?$"), "ListFoundationModels"),
    ("GET", re.compile(r"^/foundation-models/[^/]+/?$"), "GetFoundationModel"),
    ("GET", re.compile(r"^/foundation-model-availability/[^/]+/?$"), "GetFoundationModelAvailability"),
    ("GET", re.compile(r"^/inference-profiles/?$"), "ListInferenceProfiles"),
    ("GET", re.compile(r"^/inference-profiles/[^/]+/?$"), "GetInferenceProfile"),
    ("GET", re.compile(r"^/use-case-for-model-access/?$"), "GetUseCaseForModelAccess"),
]


@dataclass(frozen=True)
class RequestInfo:
    """The identifying facts of one AWS request (never a secret)."""

    service: str
    action: str
    access_key: str | None
    region: str | None
    auth_scheme: str  # "sigv4" | "bearer" | "none"

    def as_json(self) -> dict:
        return {
            "service": self.service,
            "action": self.action,
            "access_key": self.access_key,
            "region": self.region,
            "auth": self.auth_scheme,
        }


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
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    action = ""
    if target:
        action = target.rsplit(".", 1)[-1]
    elif service in QUERY_SERVICES or (not service and method == "POST"):
        params = parse_qs(environ.get("QUERY_STRING", ""))
        if "Action" not in params and body:
            params = parse_qs(body.decode("utf-8", "replace"))
        action = params.get("Action", [""])[0]
    elif service == "bedrock":
        for want_method, pattern, name in _BEDROCK_ROUTES:
            if method == want_method and pattern.match(path):
                action = name
                break
    return RequestInfo(service or "unknown", action, access_key, region, scheme)


def handler_error(code: str, message: str, status: int = 400) -> tuple[int, dict, str]:
    """An AWS error returned from a moto response handler of a JSON or REST-JSON service."""
    import json

    headers = {"status": status, "x-amzn-ErrorType": code}
    return status, headers, json.dumps({"__type": code, "message": message, "Message": message})


def error_response(service: str, status: int, code: str, message: str) -> tuple[str, list, bytes]:
    """An AWS error in the wire format of `service`: (status line, headers, body)."""
    status_line = f"{status} {_REASONS.get(status, 'Error')}"
    if service in QUERY_SERVICES:
        namespace = {
            "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
            "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
        }[service]
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>emulator-fault</RequestId></ErrorResponse>"
        ).encode()
        return status_line, [("Content-Type", "text/xml")], body
    import json

    body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
    return status_line, headers, body


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
