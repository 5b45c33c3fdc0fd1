"""Fault injection: make chosen AWS actions slow, throttled or failing, for the next N calls or a share of calls.

A rule is posted as JSON to ``/_emulator/faults``::

    {"action": "CreateUser",          # AWS action name, or "*" for every action
     "service": "iam",                # optional: only this service
     "access_key": "111111111111",    # optional: only requests signed with this access key id
     "account": "111111111111",       # optional: only requests acting in this account, whatever the key
                                      # (an account key, a user's AKIA key, an AssumeRole session's ASIA key)
     "kind": "error",                 # "error" | "throttle" | "latency" | "reached" | "stall"
     "status": 503, "code": "ServiceUnavailable", "message": "...",   # for "error" and "reached"
     "latency_ms": 200,               # for "latency" and "stall" (also allowed with the other kinds)
     "drop": true,                    # "reached" only: close the connection instead of answering
     "count": 2,                      # optional: only the next N matching calls
     "percent": 50}                   # optional: only this share of matching calls

"error", "throttle" and "latency" act before the request is served: an error or throttle means AWS did
nothing, and ``latency_ms`` delays the request on its way in. "throttle" answers with the service's
throttling error, HTTP 400: ``Throttling`` for IAM/STS, ``LimitExceededException`` for Cost Explorer (its
documented rate-limit error: "You made too many calls in a short period of time"), ``ThrottlingException``
elsewhere.

"reached" models a call that reached AWS and took effect, whose answer the client never gets (a timeout, a
reset connection, a 5xx from a proxy after the backend succeeded): the request is served first (moto and the
extensions apply it), its answer is discarded, and then the client gets the rule's error (default HTTP 500
``InternalFailure``, as for "error"), or with ``"drop": true`` no answer at all: the server closes the
connection (an SDK reports a connection error, botocore's ``ConnectionClosedError``). ``latency_ms`` sleeps
*after* the request was served, so a client timeout shorter than it fires after the change was made. The
request log entry of such a request has ``"reached_status"``, the status AWS's answer had; a dropped one has
``"dropped": true`` and no ``"status"``. Every request a rule fired on has ``"fault"``, the rule's kind.

"stall" models a call AWS carried out whose answer comes late (a slow backend, a congested network): the
request is served first, then the answer is held for ``latency_ms`` and sent unchanged, success or error. A
client whose read timeout is shorter gives up after the change was made (and may retry it); a patient one gets
the real answer. Its log entry has ``"reached_status"`` too.

Rules are checked in the order they were added; the first match that fires applies.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from .protocol import RequestInfo


def _account_of(access_key: str | None) -> str | None:
    """The account a request acts in: an emulator account key is its account; other keys are looked up."""
    if not access_key:
        return None
    if access_key.isdigit() and len(access_key) == 12:
        return access_key
    from .access_ext import account_of

    return account_of(access_key)

KINDS = {"error", "throttle", "latency", "reached", "stall"}
# Services whose throttling error is not "ThrottlingException".
THROTTLE_CODES = {"iam": "Throttling", "sts": "Throttling", "ce": "LimitExceededException"}


@dataclass
class FaultRule:
    action: str
    kind: str
    service: str | None = None
    access_key: str | None = None
    account: str | None = None
    status: int = 500
    code: str = "InternalFailure"
    message: str = "Injected fault"
    latency_ms: int = 0
    drop: bool = False
    count: int | None = None
    percent: float | None = None

    @staticmethod
    def from_json(data: dict) -> "FaultRule":
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}")
        if not data.get("action"):
            raise ValueError("action is required (an AWS action name or '*')")
        rule = FaultRule(
            action=data["action"],
            kind=kind,
            service=data.get("service"),
            access_key=data.get("access_key"),
            account=data.get("account"),
            status=int(data.get("status", 500)),
            code=data.get("code", "InternalFailure"),
            message=data.get("message", "Injected fault"),
            latency_ms=int(data.get("latency_ms", 0)),
            drop=data.get("drop", False),
            count=data.get("count"),
            percent=data.get("percent"),
        )
        if not isinstance(rule.drop, bool):
            raise ValueError("drop must be true or false")
        if rule.drop and kind != "reached":
            raise ValueError('drop is only for kind "reached"')
        if rule.count is not None and int(rule.count) < 1:
            raise ValueError("count must be at least 1")
        if rule.percent is not None and not 0 < float(rule.percent) <= 100:
            raise ValueError("percent must be in (0, 100]")
        return rule

    def matches(self, request: RequestInfo) -> bool:
        return (
            (self.action == "*" or self.action == request.action)
            and (self.service is None or self.service == request.service)
            and (self.access_key is None or self.access_key == request.access_key)
            and (self.account is None or self.account == _account_of(request.access_key))
        )

    def error_for(self, service: str) -> tuple[int, str, str] | None:
        """The (status, code, message) this rule answers with, or None for latency only ("reached": the error
        the client gets instead of the real answer)."""
        if self.kind in ("latency", "stall"):
            return None
        if self.kind == "throttle":
            return 400, THROTTLE_CODES.get(service, "ThrottlingException"), "Rate exceeded"
        return self.status, self.code, self.message


class FaultTable:
    """The active rules; thread-safe, since the server handles requests on many threads."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self, access_key: str | None = None) -> None:
        """Remove every rule, or only the rules of one access key (``DELETE faults?access_key=…``), an
        account key clearing its account's rules too."""
        with self._lock:
            self._rules = [
                r
                for r in self._rules
                if access_key is not None and access_key not in (r.access_key, r.account)
            ]

    def take(self, request: RequestInfo) -> FaultRule | None:
        """The rule that fires for this request, consuming one of its `count` if it has one."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(request):
                    continue
                if rule.percent is not None and random.uniform(0, 100) >= float(rule.percent):
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                return rule
        return None
