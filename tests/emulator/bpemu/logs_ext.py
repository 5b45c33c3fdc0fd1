"""CloudWatch Logs Insights: ``StartQuery`` and ``GetQueryResults`` over moto's log groups, evaluated by
:mod:`bpemu.insights` (moto 5.2.5 ignores ``filter`` and ``stats``).

Written from the botocore ``logs`` model (2014-03-28) and the CloudWatch Logs API reference
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html,
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetQueryResults.html):

- ``StartQuery`` takes exactly one of ``logGroupName``, ``logGroupNames`` or ``logGroupIdentifiers`` (names, or
  ARNs of this account's groups); otherwise ``InvalidParameterException``. A group that does not exist answers
  ``ResourceNotFoundException`` "The specified log group does not exist.". ``startTime`` and ``endTime`` are
  epoch seconds, "inclusive": an event counts when ``startTime`` <= its timestamp < ``endTime`` + 1 s (the whole
  end second); ``startTime`` after ``endTime`` is ``InvalidParameterException``. ``queryLanguage`` other than
  ``CWLI`` (Logs Insights QL) and a query the subset does not compile answer ``MalformedQueryException`` with
  ``queryCompileError`` (``location.startCharOffset``/``endCharOffset``, ``message``). ``limit`` caps the rows.
- Retention: an event older than the group's ``retentionInDays`` on the account's emulator clock
  (:func:`bpemu.iam_ext.now`) is gone, so a time range beyond retention answers no rows (AWS deletes expired
  events "typically" within 72 hours of expiry, per ``PutRetentionPolicy``'s documentation; the emulator at once).
- ``GetQueryResults``: ``status`` (``Scheduled``, ``Running``, ``Complete``), ``results`` (rows of
  ``{"field", "value"}``, every value a string), ``statistics`` (``recordsMatched``, ``recordsScanned``,
  ``bytesScanned``, ``logGroupsScanned``), ``queryLanguage`` ``CWLI``; ``maxItems``/``nextToken`` page the rows.
  The query is evaluated when it starts. An unknown ``queryId`` (or another account's) answers
  ``ResourceNotFoundException``.

Control API: ``POST /_emulator/logs/query-polls`` ``{"polls": N}`` (optionally ``"account"``): each query
started afterwards answers its first N ``GetQueryResults`` with no rows, ``Scheduled`` then ``Running``, as a
real query does while it runs (default 0: ``Complete`` at once) -> ``{"polls": N}``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import threading
import uuid
from dataclasses import dataclass

from moto.logs.models import logs_backends
from moto.logs.responses import LogsResponse

from . import iam_ext, insights

NO_GROUP = "The specified log group does not exist."
PAGE = 10_000  # GetQueryResults: "The maximum is 10,000 log events per request"

_lock = threading.Lock()
_polls: dict[str, int] = {}  # account (or "*") -> GetQueryResults answered Scheduled/Running before Complete
_queries: dict[str, "_Query"] = {}


@dataclass
class _Query:
    account: str
    result: insights.Result
    groups: int
    polls_left: int
    polls_done: int = 0


def install() -> None:
    LogsResponse.start_query = start_query
    LogsResponse.get_query_results = get_query_results


def reset() -> None:
    with _lock:
        _polls.clear()
        _queries.clear()


def control(command: str, method: str, environ, read_body):
    if command == "logs/query-polls" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        polls = data.get("polls")
        if not isinstance(polls, int) or isinstance(polls, bool) or polls < 0:
            raise ValueError("polls must be a whole number, 0 or more")
        with _lock:
            _polls[data.get("account", "*")] = polls
        return {"polls": polls}
    return None


def _error(code: str, message: str, extra: dict | None = None):
    body = {"__type": code, "message": message} | (extra or {})
    return 400, {"status": 400, "x-amzn-ErrorType": code}, json.dumps(body)


def start_query(self):
    params = json.loads(self.body or "{}")
    names = _group_names(params, self.current_account)
    if names is None:
        return _error("InvalidParameterException", "Exactly one of logGroupName, logGroupNames or "
                      "logGroupIdentifiers must be specified.")
    backend = logs_backends[self.current_account][self.region]
    if any(name not in backend.groups for name in names):
        return _error("ResourceNotFoundException", NO_GROUP)
    if params["startTime"] > params["endTime"]:
        return _error("InvalidParameterException", "endTime must not be earlier than startTime.")
    if params.get("queryLanguage", "CWLI") != "CWLI":
        return _error("MalformedQueryException", f"The emulator runs Logs Insights QL only, not "
                      f"{params['queryLanguage']}.")
    events = [e for name in names for e in _events(backend.groups[name], self.current_account, params)]
    try:
        result = insights.run(params["queryString"], events, params.get("limit"))
    except insights.MalformedQuery as malformed:
        location = {"startCharOffset": malformed.start, "endCharOffset": malformed.end}
        compile_error = {"location": location, "message": str(malformed)}
        return _error("MalformedQueryException", str(malformed), {"queryCompileError": compile_error})
    query_id = str(uuid.uuid4())
    with _lock:
        polls = _polls.get(self.current_account, _polls.get("*", 0))
        _queries[query_id] = _Query(self.current_account, result, len(names), polls)
    return json.dumps({"queryId": query_id})


def _group_names(params: dict, account: str) -> list[str] | None:
    """The queried groups' names: exactly one of the three members, identifiers as names or this account's ARNs."""
    given = [key for key in ("logGroupName", "logGroupNames", "logGroupIdentifiers") if params.get(key)]
    if len(given) != 1:
        return None
    value = params[given[0]]
    names = [value] if isinstance(value, str) else list(value)
    if given[0] == "logGroupIdentifiers":
        names = [_identifier_name(identifier, account) for identifier in names]
    return names


def _identifier_name(identifier: str, account: str) -> str:
    if not identifier.startswith("arn:"):
        return identifier
    parts = identifier.split(":", 6)
    return parts[6] if len(parts) == 7 and parts[4] == account and parts[5] == "log-group" else identifier


def _events(group, account: str, params: dict) -> list[insights.Event]:
    """The group's events in the time range that its retention still keeps."""
    start, end = params["startTime"] * 1000, (params["endTime"] + 1) * 1000
    if group.retention_in_days:
        kept = iam_ext.now(account) - datetime.timedelta(days=int(group.retention_in_days))
        start = max(start, int(kept.timestamp() * 1000))
    return [
        insights.Event(e.timestamp, e.message, stream.log_stream_name, group.name, account, e.ingestion_time,
                       e.event_id)
        for stream in list(group.streams.values())
        for e in list(stream.events)
        if start <= e.timestamp < end
    ]


def get_query_results(self):
    params = json.loads(self.body or "{}")
    with _lock:
        query = _queries.get(params["queryId"])
        if query is None or query.account != self.current_account:
            return _error("ResourceNotFoundException", f"Query {params['queryId']} does not exist.")
        if query.polls_left > 0:
            query.polls_left -= 1
            query.polls_done += 1
            status = "Scheduled" if query.polls_done == 1 else "Running"
            return json.dumps({"queryLanguage": "CWLI", "results": [], "status": status,
                               "statistics": _statistics(query, 0.0)})
    start = _offset(params.get("nextToken"))
    if start is None:
        return _error("InvalidParameterException", "The nextToken is invalid.")
    end = start + int(params.get("maxItems") or PAGE)
    answer = {"queryLanguage": "CWLI", "results": query.result.rows[start:end], "status": "Complete",
              "statistics": _statistics(query, 1.0)}
    if end < len(query.result.rows):
        answer["nextToken"] = base64.urlsafe_b64encode(f"rows:{end}".encode()).decode()
    return json.dumps(answer)


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        return int(offset) if kind == "rows" else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _statistics(query: _Query, done: float) -> dict:
    result = query.result
    return {"recordsMatched": float(result.matched) * done, "recordsScanned": float(result.scanned) * done,
            "bytesScanned": float(result.bytes_scanned) * done, "logGroupsScanned": float(query.groups)}
