"""Every successful answer, moto's and the extensions' alike, is checked against its operation's output shape.

An answer that breaks the pinned botocore output shape (:func:`bpemu.shapes.check_output`: unknown members,
wrong types, enums, missing required members, paging tokens that disagree) is a bug of the emulator, and a
client tested against it learns something AWS never says. So by default such an answer never reaches the
client: it is replaced by HTTP 501 ``EmulatorOutputShapeViolation`` naming each problem (501, because neither
botocore nor the AWS SDK for Rust retries it: their transient status codes are 500, 502, 503 and 504). Either
way the problems are added to the request's log entry (``"output_problems"``) and kept for
``GET /_emulator/output-problems``.

Before the check, a JSON answer loses its ``null`` members: moto 5.2.5 serializes absent members of JSON
answers as ``null`` (Secrets Manager ``DescribeSecret``'s ``DeletedDate``, Budgets'
``DescribeNotificationsForBudget``'s ``NextToken``), where AWS leaves them out. What moto answers that
legitimately breaks a shape is in :data:`ALLOWED`, each entry with its reason. Operations whose output is a
payload (``InvokeModel``'s body) or an event stream are not checked.

Control API:

* ``POST /_emulator/output-check`` with ``{"mode": "fail"}`` (default: 501 instead of the answer) or
  ``{"mode": "log"}`` (the answer goes out; the problems are only recorded) -> ``{"mode": ...}``.
* ``GET /_emulator/output-problems`` (``?access_key=K`` for one caller) ->
  ``{"problems": [{"service", "operation", "access_key", "status", "problems": ["path: constraint ...", ...]}]}``.

``reset`` forgets the problems and goes back to "fail".
"""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from urllib.parse import parse_qs

from . import shapes
from .protocol import RequestInfo, error_response
from .validation_ext import PARSED

CODE = "EmulatorOutputShapeViolation"
MODES = ("fail", "log")


@dataclass(frozen=True)
class Allowance:
    """A problem moto's answer has that is accepted, and why."""

    service: str
    operation: str
    path: str  # the problem's dotted path starts with this
    constraint: str  # and its constraint contains this
    reason: str

    def covers(self, service: str, operation: str, problem: shapes.Problem) -> bool:
        return ((self.service, self.operation) == (service, operation)
                and ".".join(problem.path).startswith(self.path) and self.constraint in problem.constraint)


ALLOWED: tuple[Allowance, ...] = (
    Allowance("secretsmanager", "DescribeSecret", "SecretVersionsToStages", "is not part of",
              "moto 5.2.5's Secret.to_dict serves both DescribeSecret and ListSecrets and adds ListSecrets' "
              "SecretVersionsToStages beside DescribeSecret's VersionIdsToStages (same value); clients ignore a "
              "member the model does not name"),
)

_lock = threading.Lock()
_state = {"mode": "fail"}
_found: list[dict] = []


def reset() -> None:
    with _lock:
        _state["mode"] = "fail"
        _found.clear()


def control(command: str, method: str, environ, read_body):
    if command == "output-check" and method == "POST":
        mode = json.loads(read_body(environ) or b"{}").get("mode")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}")
        with _lock:
            _state["mode"] = mode
        return {"mode": mode}
    if command == "output-problems" and method == "GET":
        wanted = parse_qs(environ.get("QUERY_STRING", "")).get("access_key", [None])[0]
        with _lock:
            return {"problems": [p for p in _found if wanted is None or p["access_key"] == wanted]}
    return None


def checked(environ, info: RequestInfo, answer: tuple[str, list, bytes]) -> tuple[str, list, bytes]:
    """`answer`, or in "fail" mode the emulator's 501 when it breaks the operation's output shape."""
    parsed = environ.get(PARSED)
    status = int(answer[0].split(" ", 1)[0])
    if parsed is None or not 200 <= status < 300 or not _checkable(parsed.service, parsed.operation):
        return answer
    answer = answer[0], answer[1], without_nulls(parsed.service, parsed.operation, answer[2])
    problems = [str(p) for p in problems_of(parsed, answer[2])]
    if not problems:
        return answer
    environ.get("bpemu.log_entry", {})["output_problems"] = problems
    record = {"service": parsed.service, "operation": parsed.operation, "access_key": info.access_key,
              "status": status, "problems": problems}
    with _lock:
        _found.append(record)
        failing = _state["mode"] == "fail"
    if not failing:
        return answer
    message = (f"The emulator's answer to {parsed.service}:{parsed.operation} breaks the botocore output shape "
               f"(an emulator bug; see GET /_emulator/output-problems): {'; '.join(problems)}")
    return error_response(info.service, 501, CODE, message[:4000])


def problems_of(parsed, body: bytes) -> list[shapes.Problem]:
    """The problems of a successful answer's `body` that no :data:`ALLOWED` entry covers."""
    try:
        found = shapes.check_output(parsed.service, parsed.operation, body, parsed.params)
    except (ElementTree.ParseError, ValueError) as error:
        return [shapes.Problem((), body[:200].decode("utf-8", "replace"), f"The body does not parse: {error}")]
    return [p for p in found if not any(a.covers(parsed.service, parsed.operation, p) for a in ALLOWED)]


def without_nulls(service: str, operation: str, body: bytes) -> bytes:
    """A JSON answer's `body` without ``null`` structure members (documents are left as they are)."""
    output = shapes.operation_model(service, operation).output_shape
    if output is None or shapes.service_model(service).protocol == "query" or b"null" not in body:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    return json.dumps(_dropped(output, data)).encode()


def _dropped(shape, value):
    if value is None or shape.metadata.get("document"):
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        return {k: _dropped(members[k], v) if k in members else v for k, v in value.items() if v is not None}
    if shape.type_name == "list" and isinstance(value, list):
        return [_dropped(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _dropped(shape.value, v) for k, v in value.items()}
    return value


def _checkable(service: str, operation: str) -> bool:
    """Whether the operation's answer is a document to check (not a payload or an event stream)."""
    output = shapes.operation_model(service, operation).output_shape
    return output is None or "payload" not in output.serialization
