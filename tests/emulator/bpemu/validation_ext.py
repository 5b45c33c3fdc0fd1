"""Every request to every service is checked against its botocore input shape before it is served.

moto serves what AWS refuses (a comma in an IAM tag value, a budget name with ``:``, a page size of 0), so the
emulator holds every request, moto's own actions included, to the pinned model first, as AWS's front end
does: a request with an unknown member, a missing required member, a value of the wrong type, or one outside
the model's enum, range, length or pattern (Java's dialect, ``\\p{L}`` classes included: see
:func:`bpemu.shapes.java_regex`) is refused with AWS's error, ``ValidationError`` (query protocol: IAM, STS;
https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html) or ``ValidationException`` (JSON
protocols; https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html), HTTP 400, with a
message naming each member (``1 validation error detected: Value '0' at 'maxResults' failed to satisfy
constraint: ...``). A body that is not JSON is ``SerializationException``.

A request is validated once, here, whoever serves it; bedrock-runtime is the exception: :mod:`bpemu.runtime_ext`
checks its input itself, after authenticating the caller, as Bedrock does. Requests to an operation the model
does not have are left to moto. The parsed request (:class:`Parsed`) is kept in the WSGI environ under
:data:`PARSED` for :mod:`bpemu.rules` and :mod:`bpemu.outputs`.

Control API: ``GET /_emulator/actions`` lists the actions this package's modules registered on moto:
``{"actions": [{"service", "operation", "module"}]}``.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import UnknownServiceError
from moto.core.responses import BaseResponse
from werkzeug.datastructures import EnvironHeaders

from . import shapes
from .protocol import RequestInfo, error_response

PARSED = "bpemu.parsed"
# Signing name (the credential scope's service) -> botocore's service name, where they differ.
SERVICE_OF_SIGNING_NAME = {"servicequotas": "service-quotas"}
# moto's package name -> botocore's service name, where they differ.
_SERVICE_OF_PACKAGE = {"servicequotas": "service-quotas"}
# This package's modules: their actions are listed by the control API.
_PACKAGE = __name__.rpartition(".")[0] + "."


@dataclass(frozen=True)
class Parsed:
    """A request read per its service's protocol: botocore service and operation names, members by wire name."""

    service: str
    operation: str
    params: dict


class Unreadable(ValueError):
    """The request body is not what the protocol carries (JSON that does not parse)."""


def enforce(info: RequestInfo, environ):
    """AWS's validation error for a request that breaks its input shape, else None (and the parsed request is
    kept in `environ`)."""
    if info.service == "bedrock-runtime":
        return None
    try:
        parsed = parse(info, environ)
    except Unreadable:
        return error_response(info.service, 400, "SerializationException", "The request body is not valid JSON.")
    if parsed is None:
        return None
    environ[PARSED] = parsed
    problems = shapes.check_input(parsed.service, parsed.operation, parsed.params)
    return _refusal(info.service, parsed.service, problems) if problems else None


def parse(info: RequestInfo, environ) -> Parsed | None:
    """The request's operation and members, or None when the model does not know the service or operation."""
    service = botocore_service(SERVICE_OF_SIGNING_NAME.get(info.service, info.service))
    if service is None:
        return None
    protocol = shapes.service_model(service).protocol
    body = environ.get("bpemu.body", b"")
    if protocol == "query":
        return _query(service, info.action, environ, body)
    if protocol == "json":
        return _json(service, environ, body)
    if protocol == "rest-json":
        return _rest_json(service, environ, body)
    return None


@functools.cache
def botocore_service(name: str) -> str | None:
    """`name` if botocore has a model of that service (pinned release), else None."""
    try:
        shapes.service_model(name)
    except UnknownServiceError:
        return None
    return name


def _query(service: str, action: str, environ, body: bytes) -> Parsed | None:
    """A query-protocol request: ``Action`` and its form members, from the query string and the body."""
    if action not in shapes.service_model(service).operation_names:
        return None
    flat = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if body:
        flat.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    return Parsed(service, action, shapes.query_params(service, action, flat))


def _json(service: str, environ, body: bytes) -> Parsed | None:
    """A JSON-protocol request: ``X-Amz-Target: <targetPrefix>.<Operation>`` and a JSON object body."""
    model = shapes.service_model(service)
    prefix, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")
    if prefix != model.metadata.get("targetPrefix") or operation not in model.operation_names:
        return None
    try:
        params = json.loads(body or b"{}")
    except (UnicodeDecodeError, ValueError):
        raise Unreadable() from None
    if not isinstance(params, dict):
        raise Unreadable()
    return Parsed(service, operation, params)


def _rest_json(service: str, environ, body: bytes) -> Parsed | None:
    """A REST-JSON request: the operation whose method and URI template match, members from the URI, query
    string, headers and body. The raw URI is read, so that a label holding an encoded ``/`` (an ARN) stays one."""
    raw = urlsplit(environ.get("RAW_URI") or environ.get("PATH_INFO", ""))
    operation = rest_operation(service, environ.get("REQUEST_METHOD", "GET"), raw.path)
    if operation is None:
        return None
    try:
        params = shapes.rest_params(service, operation, raw.path, parse_qs(raw.query, keep_blank_values=True),
                                    EnvironHeaders(environ), body.decode())
    except (UnicodeDecodeError, ValueError, TypeError):
        raise Unreadable() from None
    return Parsed(service, operation, params)


def rest_operation(service: str, method: str, path: str) -> str | None:
    """The operation of a REST service whose HTTP method and request URI template match (the most literal one)."""
    found = [(literal, name) for name, verb, pattern, literal in _routes(service)
             if verb == method and pattern.fullmatch(path)]
    return max(found)[1] if found else None


@functools.cache
def _routes(service: str) -> list[tuple[str, str, re.Pattern, int]]:
    """(operation, method, path regex, literal length) of every operation of a REST service's model."""
    model = shapes.service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        template = http["requestUri"].split("?", 1)[0].rstrip("/") or "/"
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", "(.+)", re.escape(template))
        pattern = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", pattern)
        literal = len(re.sub(r"\{[^}]+\}", "", template))
        routes.append((name, http["method"], re.compile(pattern + "/?"), literal))
    return routes


def _refusal(wire_service: str, service: str, problems: list[shapes.Problem]):
    """AWS's validation error naming every problem."""
    count = len(problems)
    message = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(
        p.coral() for p in problems)
    code = "ValidationError" if shapes.service_model(service).protocol == "query" else "ValidationException"
    return error_response(wire_service, 400, code, message)


# -- the control API: the actions this package registered ---------------------------------------------------


def control(command: str, method: str, environ, read_body):
    if command == "actions" and method == "GET":
        return {"actions": sorted(extension_actions(), key=lambda a: (a["service"], a["operation"]))}
    return None


def extension_actions() -> list[dict]:
    """``{"service", "operation", "module"}`` of each action a module of this package set on a moto response
    class; a method there that names no operation of the service is an error."""
    actions = []
    for cls in _response_classes(BaseResponse):
        service = _SERVICE_OF_PACKAGE.get(cls.__module__.split(".")[1], cls.__module__.split(".")[1])
        for name, handler in list(vars(cls).items()):
            if not callable(handler) or not str(getattr(handler, "__module__", "")).startswith(_PACKAGE):
                continue
            operation = shapes.operation_for(service, name)
            if operation is None:
                raise ValueError(f"{handler.__module__}.{name} is not an operation of {service}")
            actions.append({"service": service, "operation": operation, "module": handler.__module__})
    return actions


def _response_classes(cls) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub] + _response_classes(sub)
    return found
