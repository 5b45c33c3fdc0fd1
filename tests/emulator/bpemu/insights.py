"""A faithful subset of the CloudWatch Logs Insights query language (Logs Insights QL), over log events.

Written from the CloudWatch Logs user guide's query syntax pages
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html and its ``fields``, ``filter``,
``stats``, ``sort`` and ``limit`` pages) and the botocore ``logs`` model (``StartQuery``, ``GetQueryResults``).
moto 5.2.5 understands ``fields``, ``sort`` and ``limit`` only and ignores everything else (a ``filter`` or
``stats`` query answers every event), so the emulator evaluates queries here.

Supported (anything else answers ``MalformedQueryException``, as AWS answers a query it cannot compile):

- Commands joined by ``|``; ``#`` starts a comment to the end of the line; command names any case.
- Fields: discovered from JSON events, nested objects flattened with dots (``identity.arn``,
  ``input.inputTokenCount``; list items as ``field.0``), a name in backticks for other characters; and
  ``@timestamp``, ``@message``, ``@logStream``, ``@log`` (``ACCOUNT:GROUP``), ``@ingestionTime``, ``@ptr``.
- ``fields f1, f2 as alias, ...``: the fields a row shows (several ``fields`` commands add up).
- ``filter <condition>``: ``=``/``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` against a string or number
  (numbers compare as numbers when both sides are numbers); ``like "text"`` (substring, case-sensitive),
  ``like /regex/`` and ``=~ /regex/`` (a regular expression; flag ``i``), ``not like``; ``in [v1, v2]``,
  ``not in [...]``; ``ispresent(field)``; ``and``, ``or``, ``not``, parentheses. A missing field never matches
  a comparison.
- ``stats agg(...) [as alias], ... [by field [as alias], ...]`` with ``count(*)``, ``count(field)``,
  ``sum``, ``avg``, ``min``, ``max``. A row shows the ``by`` fields first, then the aggregates, named by alias
  or by their text (``sum(input.inputTokenCount)``). Events without a ``by`` field are grouped under an
  absent value (the field is left out of the row).
- ``sort field [asc|desc], ...``: the documented "natural sort" (``CWL_QuerySyntax-Sort``: in ascending order
  non-number values come before number values; digits compare by length, then value). Without an order,
  ``desc`` (moto's reading; the guide's examples always name the order).
- ``limit N`` (1-100,000; without it, and without ``StartQuery``'s ``limit``, at most 10,000 rows, the guide's
  default; with both, the smaller).

Results, as ``GetQueryResults`` returns them: a list of rows, each a list of ``{"field", "value"}`` with every
value a string (numbers as ``"12"`` or ``"2.5"``, ``@timestamp`` as ``"2026-10-03 12:00:00.000"``); a field
without a value is left out of its row. A query without ``stats`` or ``fields`` shows ``@timestamp`` and
``@message``; rows of events (not of ``stats``) end with ``@ptr``; events enter the pipeline newest first (so
without ``sort``, ``limit N`` keeps the newest N, and ``stats`` groups come in the order of their newest event).
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_LIMIT = 10_000  # "If you omit limit, the query defaults to returning up to 10,000 log events"
MAX_LIMIT = 100_000  # "You can specify a limit value of up to 100,000"
AGGREGATES = ("count", "sum", "avg", "min", "max")

_TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<regex>/(?:[^/\\\n]|\\.)+/i?)
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<name>`[^`]+`|[@A-Za-z_][\w.@]*)
  | (?P<op>==|!=|<=|>=|=~|[=<>(),*|\[\]])
""", re.VERBOSE)
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


class MalformedQuery(ValueError):
    """A query the subset does not compile: AWS's ``MalformedQueryException`` with ``queryCompileError``."""

    def __init__(self, message: str, start: int = 0, end: int = 0):
        super().__init__(message)
        self.start, self.end = start, end


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "name" else ""


@dataclass
class Event:
    """One log event as the query sees it."""

    timestamp: int  # epoch milliseconds
    message: str
    stream: str
    group: str
    account: str
    ingestion: int
    event_id: int


@dataclass
class Result:
    rows: list[list[dict]]
    matched: int
    scanned: int
    bytes_scanned: int


@dataclass
class _State:
    rows: list[dict]
    shown: list[str] = field(default_factory=list)
    aggregated: bool = False
    sorted: bool = False
    limit: int | None = None


def tokens(query: str) -> list[Token]:
    found, position = [], 0
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None:
            raise MalformedQuery(f"unexpected symbol found {query[position]!r} at position {position + 1}",
                                 position, position)
        if match.lastgroup != "space":
            found.append(Token(match.lastgroup, match.group(), position))
        position = match.end()
    return found


def run(query: str, events: list[Event], limit: int | None = None) -> Result:
    """Evaluate `query` over `events` (already limited to the time range and the groups' retention)."""
    commands = _commands(tokens(query))
    newest_first = sorted(events, key=lambda e: (e.timestamp, e.event_id), reverse=True)
    state = _State([_record(event) for event in newest_first])
    scanned = len(state.rows)
    for name, arguments in commands:
        _COMMANDS[name](state, arguments)
    matched = len(state.rows) if not state.aggregated else sum(row.get("\0matched", 0) for row in state.rows)
    caps = [cap for cap in (state.limit, limit) if cap is not None] or [DEFAULT_LIMIT]
    shown = state.shown or ["@timestamp", "@message"]
    if not state.aggregated:
        shown = shown + ["@ptr"]
    rows = [_row(row, shown) for row in state.rows[: min(caps)]]
    return Result(rows, matched, scanned, sum(len(e.message.encode()) for e in events))


def _commands(found: list[Token]) -> list[tuple[str, list[Token]]]:
    """The pipeline: (command, its tokens) for each ``|``-separated part."""
    parts, current = [], []
    for token in found + [Token("op", "|", -1)]:
        if token.text == "|" and token.kind == "op":
            if not current:
                raise MalformedQuery("a command is missing around '|'", max(token.start, 0), max(token.start, 0))
            parts.append(current)
            current = []
        else:
            current.append(token)
    commands = []
    for part in parts:
        name = part[0].word
        if name not in _COMMANDS:
            raise MalformedQuery(f"unsupported command {part[0].text!r}", part[0].start,
                                 part[0].start + len(part[0].text))
        commands.append((name, part[1:]))
    return commands


# -- events as rows -------------------------------------------------------------------------------------------


def _record(event: Event) -> dict:
    row: dict = {}
    try:
        parsed = json.loads(event.message)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        _flatten(parsed, "", row)
    pointer = base64.b64encode(f"{event.group}|{event.stream}|{event.event_id}".encode()).decode()
    row.update({"@timestamp": event.timestamp, "@message": event.message, "@logStream": event.stream,
                "@log": f"{event.account}:{event.group}", "@ingestionTime": event.ingestion, "@ptr": pointer})
    return row


def _flatten(value, prefix: str, into: dict) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}.", into)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}{index}.", into)
    else:
        into[prefix[:-1]] = value


def _row(row: dict, shown: list[str]) -> list[dict]:
    return [{"field": name, "value": _text(name, row[name])} for name in shown if row.get(name) is not None]


def _text(name: str, value) -> str:
    if name in ("@timestamp", "@ingestionTime") and isinstance(value, int):
        moment = datetime.datetime.fromtimestamp(value / 1000, datetime.timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{value % 1000:03d}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _name(token: Token) -> str:
    if token.kind != "name":
        raise MalformedQuery(f"a field name was expected, not {token.text!r}", token.start,
                             token.start + len(token.text))
    return token.text[1:-1] if token.text.startswith("`") else token.text


# -- fields, sort, limit --------------------------------------------------------------------------------------


def _fields(state: _State, arguments: list[Token]) -> None:
    for item in _split(arguments, ","):
        name, alias = _aliased(item)
        for row in state.rows:
            if name in row:
                row[alias] = row[name]
        if alias not in state.shown:
            state.shown.append(alias)


def _aliased(item: list[Token]) -> tuple[str, str]:
    """``field`` or ``field as alias``."""
    if len(item) == 1:
        return _name(item[0]), _name(item[0])
    if len(item) == 3 and item[1].word == "as":
        return _name(item[0]), _name(item[2])
    token = item[1] if len(item) > 1 else item[0]
    raise MalformedQuery(f"unsupported expression at {token.text!r}", token.start, token.start + len(token.text))


def _split(arguments: list[Token], separator: str) -> list[list[Token]]:
    parts, current, depth = [], [], 0
    for token in arguments:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(token.text, 0) if token.kind == "op" else 0
        if token.kind == "op" and token.text == separator and depth == 0:
            parts.append(current)
            current = []
        else:
            current.append(token)
    parts.append(current)
    if any(not part for part in parts):
        raise MalformedQuery(f"an item is missing around {separator!r}")
    return parts


def _sort(state: _State, arguments: list[Token]) -> None:
    keys = []
    for item in _split(arguments, ","):
        order = item[1].word if len(item) == 2 else "desc"
        if len(item) > 2 or order not in ("asc", "desc"):
            raise MalformedQuery("sort takes a field and asc or desc", item[0].start)
        keys.append((_name(item[0]), order == "desc"))
    for name, descending in reversed(keys):
        present = [row for row in state.rows if row.get(name) is not None]
        absent = [row for row in state.rows if row.get(name) is None]
        present.sort(key=functools.cmp_to_key(lambda a, b: _natural(a[name], b[name])), reverse=descending)
        state.rows = present + absent
    state.sorted = True


def _natural(left, right) -> int:
    """The guide's natural order: non-numbers before numbers, numbers by value, digits by length then value."""
    a, b = _text("", left), _text("", right)
    a_number, b_number = _NUMBER.fullmatch(a) is not None, _NUMBER.fullmatch(b) is not None
    if a_number or b_number:
        return (float(a) > float(b)) - (float(a) < float(b)) if a_number and b_number else (1 if a_number else -1)
    for x, y in zip(re.findall(r"\d+|\D+", a), re.findall(r"\d+|\D+", b)):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return 1 if (len(x), int(x)) > (len(y), int(y)) else -1
        return 1 if x > y else -1
    return (len(a) > len(b)) - (len(a) < len(b))


def _limit(state: _State, arguments: list[Token]) -> None:
    if len(arguments) != 1 or arguments[0].kind != "number" or not arguments[0].text.isdigit():
        raise MalformedQuery("limit takes a whole number", arguments[0].start if arguments else 0)
    value = int(arguments[0].text)
    if not 1 <= value <= MAX_LIMIT:
        raise MalformedQuery(f"limit must be between 1 and {MAX_LIMIT}", arguments[0].start)
    state.limit = value if state.limit is None else min(state.limit, value)
    state.rows = state.rows[:value]


# -- filter ---------------------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over a filter condition's tokens."""

    def __init__(self, found: list[Token]):
        self.found, self.at = found, 0

    def peek(self) -> Token | None:
        return self.found[self.at] if self.at < len(self.found) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise MalformedQuery("the condition ends too early")
        self.at += 1
        return token

    def condition(self) -> Callable[[dict], bool]:
        parts = [self.conjunction()]
        while self.peek() is not None and self.peek().word == "or":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def conjunction(self) -> Callable[[dict], bool]:
        parts = [self.negation()]
        while self.peek() is not None and self.peek().word == "and":
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def negation(self) -> Callable[[dict], bool]:
        if self.peek() is not None and self.peek().word == "not":
            self.take()
            inner = self.negation()
            return lambda row: not inner(row)
        if self.peek() is not None and self.peek().text == "(":
            self.take()
            inner = self.condition()
            if self.take().text != ")":
                raise MalformedQuery("a ')' is missing")
            return inner
        return self.comparison()

    def comparison(self) -> Callable[[dict], bool]:
        first = self.take()
        if first.word == "ispresent":
            name = self._call_argument()
            return lambda row: row.get(name) is not None
        name = _name(first)
        operator = self.take()
        if operator.word == "not" and self.peek() is not None and self.peek().word in ("like", "in"):
            positive = self._operator(name, self.take())
            return lambda row: row.get(name) is not None and not positive(row)
        return self._operator(name, operator)

    def _call_argument(self) -> str:
        if self.take().text != "(":
            raise MalformedQuery("a '(' is missing")
        name = _name(self.take())
        if self.take().text != ")":
            raise MalformedQuery("a ')' is missing")
        return name

    def _operator(self, name: str, operator: Token) -> Callable[[dict], bool]:
        if operator.word == "like" or operator.text == "=~":
            return _matcher(name, self.take())
        if operator.word == "in":
            values = self._list()
            return lambda row: any(_equal(row.get(name), v) for v in values)
        compare = _COMPARISONS.get(operator.text) if operator.kind == "op" else None
        if compare is None:
            raise MalformedQuery(f"unsupported operator {operator.text!r}", operator.start,
                                 operator.start + len(operator.text))
        value = _literal(self.take())
        return lambda row: row.get(name) is not None and compare(row.get(name), value)

    def _list(self) -> list:
        if self.take().text != "[":
            raise MalformedQuery("in takes a list: [v1, v2]")
        values = [_literal(self.take())]
        while (token := self.take()).text == ",":
            values.append(_literal(self.take()))
        if token.text != "]":
            raise MalformedQuery("a ']' is missing")
        return values


def _literal(token: Token):
    if token.kind == "string":
        return re.sub(r"\\(.)", r"\1", token.text[1:-1])
    if token.kind == "number":
        return float(token.text) if "." in token.text else int(token.text)
    raise MalformedQuery(f"a string or number was expected, not {token.text!r}", token.start,
                         token.start + len(token.text))


def _matcher(name: str, pattern: Token) -> Callable[[dict], bool]:
    if pattern.kind == "regex":
        flags = re.IGNORECASE if pattern.text.endswith("i") else 0
        regex = re.compile(pattern.text[1:pattern.text.rindex("/")], flags)
        return lambda row: row.get(name) is not None and regex.search(_text(name, row[name])) is not None
    text = _literal(pattern)
    if not isinstance(text, str):
        raise MalformedQuery("like takes a string or a /regex/", pattern.start)
    return lambda row: row.get(name) is not None and text in _text(name, row[name])


def _numbers(left, right) -> tuple[float, float] | None:
    try:
        if isinstance(left, bool) or isinstance(right, bool):
            return None
        return float(left), float(right)
    except (TypeError, ValueError):
        return None


def _equal(left, right) -> bool:
    numbers = _numbers(left, right)
    return numbers[0] == numbers[1] if numbers is not None else _text("", left) == _text("", right)


def _ordered(test: Callable[[object, object], bool]) -> Callable[[object, object], bool]:
    def compare(left, right) -> bool:
        numbers = _numbers(left, right)
        return test(*numbers) if numbers is not None else test(_text("", left), _text("", right))

    return compare


_COMPARISONS = {
    "=": _equal, "==": _equal, "!=": lambda a, b: not _equal(a, b),
    "<": _ordered(lambda a, b: a < b), "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b), ">=": _ordered(lambda a, b: a >= b),
}


def _filter(state: _State, arguments: list[Token]) -> None:
    if not arguments:
        raise MalformedQuery("filter needs a condition")
    parser = _Parser(arguments)
    condition = parser.condition()
    if parser.peek() is not None:
        token = parser.peek()
        raise MalformedQuery(f"unexpected {token.text!r}", token.start, token.start + len(token.text))
    state.rows = [row for row in state.rows if condition(row)]


# -- stats ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Aggregate:
    function: str
    argument: str  # a field name, or "*"
    alias: str


def _stats(state: _State, arguments: list[Token]) -> None:
    by_at = next((i for i, t in enumerate(arguments) if t.word == "by"), len(arguments))
    aggregates = [_aggregate(item) for item in _split(arguments[:by_at], ",")]
    groups = [_aliased(item) for item in _split(arguments[by_at + 1:], ",")] if by_at < len(arguments) else []
    buckets: dict[tuple, list[dict]] = {}
    for row in state.rows:
        buckets.setdefault(tuple(row.get(name) for name, _ in groups), []).append(row)
    state.rows = [_group_row(key, rows, groups, aggregates) for key, rows in buckets.items()]
    state.shown = [alias for _, alias in groups] + [a.alias for a in aggregates]
    state.aggregated, state.sorted = True, False


def _aggregate(item: list[Token]) -> _Aggregate:
    text = "".join(t.text for t in item)
    if len(item) < 4 or item[0].word not in AGGREGATES or item[1].text != "(" or item[3].text != ")":
        raise MalformedQuery(f"unsupported stats expression {text!r}", item[0].start)
    argument = "*" if item[2].text == "*" else _name(item[2])
    if argument == "*" and item[0].word != "count":
        raise MalformedQuery(f"{item[0].text}(*) is not a function", item[0].start)
    rest = item[4:]
    if rest and not (len(rest) == 2 and rest[0].word == "as"):
        raise MalformedQuery(f"unsupported stats expression {text!r}", item[0].start)
    label = f"{item[0].text}({item[2].text})"
    return _Aggregate(item[0].word, argument, _name(rest[1]) if rest else label)


def _group_row(key: tuple, rows: list[dict], groups, aggregates: list[_Aggregate]) -> dict:
    row = {alias: value for (_, alias), value in zip(groups, key)}
    for aggregate in aggregates:
        row[aggregate.alias] = _compute(aggregate, rows)
    row["\0matched"] = len(rows)
    return row


def _compute(aggregate: _Aggregate, rows: list[dict]):
    if aggregate.argument == "*":
        return len(rows)
    values = [row[aggregate.argument] for row in rows if row.get(aggregate.argument) is not None]
    if aggregate.function == "count":
        return len(values)
    numbers = [v for v in values if not isinstance(v, bool) and isinstance(v, (int, float))]
    numbers += [float(v) for v in values if isinstance(v, str) and _NUMBER.fullmatch(v)]
    if not numbers:
        return None
    if aggregate.function == "sum":
        return sum(numbers)
    if aggregate.function == "avg":
        return sum(numbers) / len(numbers)
    return min(numbers) if aggregate.function == "min" else max(numbers)


_COMMANDS: dict[str, Callable[[_State, list[Token]], None]] = {
    "fields": _fields, "filter": _filter, "stats": _stats, "sort": _sort, "limit": _limit,
}
