"""Every request to an extension action is checked against the action's botocore input shape first.

Installed last (the last of ``bpemu.server.EXTENSIONS``), it wraps each action that a module of this package
registered on moto's response classes, so an extension's actions are validated by being installed, with no
second list of extensions to keep in step.
A request with an unknown member, a missing required member, a value of the wrong type, or one outside the
model's enum, range, length or pattern is refused as AWS's front end refuses it: ``ValidationError`` (query
protocol: IAM) or ``ValidationException`` (JSON protocols), HTTP 400, with a message naming each member
(``1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: ...``). So whatever
client talks to the emulator, its requests are held to the pinned model.

Control API: ``GET /_emulator/actions`` lists the validated actions: ``{"actions": [{"service",
"operation", "module"}]}``.
"""

from __future__ import annotations

import functools
import json
from urllib.parse import parse_qs

from moto.core.exceptions import ServiceException
from moto.core.responses import BaseResponse

from . import shapes
from .protocol import handler_error

# Actions registered by modules of this package are validated (and must each have a contract-test case).
_PACKAGE = __name__.rpartition(".")[0] + "."

# moto's package name -> botocore's service name, where they differ.
_SERVICE_OF_PACKAGE = {"servicequotas": "service-quotas"}

_actions: list[dict] = []


class ValidationError(ServiceException):
    code = "ValidationError"


def install() -> None:
    """Wrap every action this package's modules installed (once, however often this runs)."""
    _actions.clear()
    operations_of: dict[type, set[str]] = {}
    for cls, name, handler, service, operation in _extension_handlers():
        if not hasattr(handler, "bpemu_operation"):
            setattr(cls, name, _validated(service, operation, handler))
        operations_of.setdefault(cls, set()).add(operation)
        _actions.append({"service": service, "operation": operation, "module": handler.__module__})
    for cls, operations in operations_of.items():
        if not hasattr(vars(cls).get("parse_parameters"), "bpemu_operations"):
            cls.parse_parameters = _deferring(cls.parse_parameters, operations)


def _extension_handlers():
    """(response class, method name, handler, service, operation) of each action this package's modules installed."""
    for cls in _response_classes(BaseResponse):
        for name, handler in list(vars(cls).items()):
            if not str(getattr(handler, "__module__", "")).startswith(_PACKAGE) or not callable(handler):
                continue
            service = _service_of(cls)
            operation = shapes.operation_for(service, name)
            if operation is None:
                raise RuntimeError(f"{handler.__module__}.{name} is not an operation of {service}")
            yield cls, name, handler, service, operation


def control(command: str, method: str, environ, read_body):
    if command == "actions" and method == "GET":
        return {"actions": sorted(_actions, key=lambda a: (a["service"], a["operation"]))}
    return None


def _response_classes(cls) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub] + _response_classes(sub)
    return found


def _service_of(cls) -> str:
    package = cls.__module__.split(".")[1]
    return _SERVICE_OF_PACKAGE.get(package, package)


def _deferring(parse, operations: set[str]):
    """moto's model-driven parameter parsing, which fails (HTTP 500) on a value of the wrong type, made to
    leave that failure to the action's validation for the validated `operations`."""

    @functools.wraps(parse)
    def wrapper(self, request):
        try:
            parse(self, request)
        except (ValueError, TypeError) as error:
            if self._get_action() not in operations:
                raise
            self.params = {}
            self.bpemu_parse_error = error

    wrapper.bpemu_operations = operations
    return wrapper


def _validated(service: str, operation: str, handler):
    """`handler`, answering AWS's validation error instead when the request breaks the input shape."""

    @functools.wraps(handler)
    def wrapper(self):
        try:
            problems = shapes.check_input(service, operation, _request_params(self, service, operation))
        except json.JSONDecodeError:
            return handler_error("SerializationException", "The request body is not valid JSON.")
        if problems:
            return _refusal(service, problems)
        if getattr(self, "bpemu_parse_error", None) is not None:
            raise self.bpemu_parse_error
        return handler(self)

    wrapper.bpemu_operation = (service, operation)
    return wrapper


def _refusal(service: str, problems: list[shapes.Problem]):
    """AWS's validation error naming every problem: raised (query protocol) or returned (JSON protocols)."""
    count = len(problems)
    message = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(
        p.coral() for p in problems)
    if shapes.service_model(service).protocol == "query":
        raise ValidationError(message)
    return handler_error("ValidationException", message)


def _request_params(response: BaseResponse, service: str, operation: str) -> dict:
    """The request's members as sent, read the way the service's protocol carries them."""
    protocol = shapes.service_model(service).protocol
    if protocol == "query":
        return shapes.query_params(service, operation, response.querystring)
    if protocol == "json":
        return json.loads(response.body or "{}")
    url = response.parsed_url
    return shapes.rest_params(service, operation, url.path, parse_qs(url.query, keep_blank_values=True),
                              response.headers, response.body)
