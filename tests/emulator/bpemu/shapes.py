"""Requests and responses checked against botocore's service models (``service-2.json``, pinned below).

- :func:`check_output` checks a raw response body (JSON, or the query protocol's XML) against an operation's
  output shape: every member is in the model, has the model's type, required members are present, enum
  values are documented ones (plus :data:`KNOWN_EXTRA_ENUM_VALUES`), and paging tokens agree with each other
  and with the request's page size. Output values are not held to the model's patterns or lengths: AWS
  returns values that break them (a ``global.`` profile's model ARN has an empty region, which
  ``FoundationModelArn``'s pattern refuses).
- :func:`check_input` checks a request's parameters against the input shape as AWS's front end does:
  unknown member, missing required member, wrong type, enum, range, length and pattern.

Values read from text (XML, query strings, URIs) are :class:`Text`: they are parsed by their shape's type.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from typing import Any

import botocore.session

# The botocore release whose models the emulator follows; tests fail when the venv holds another one.
PINNED_BOTOCORE = "1.44.8"

# Enum values AWS really returns that the model does not list. Each entry needs a reason.
KNOWN_EXTRA_ENUM_VALUES: dict[tuple[str, str], set[str]] = {
    # ListFoundationModels/GetFoundationModel report models that are only invocable through an inference
    # profile (Claude Sonnet 4.5 and later) with inferenceTypesSupported ["INFERENCE_PROFILE"].
    ("bedrock", "InferenceType"): {"INFERENCE_PROFILE"},
}

_DEFAULT_TIMESTAMP = {"json": "unixtimestamp", "rest-json": "unixtimestamp", "query": "iso8601",
                      "rest-xml": "iso8601", "ec2": "iso8601"}
_ISO8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
_INTEGER = re.compile(r"[+-]?\d+")
_NOT_IN_BODY = {"header", "headers", "statusCode"}


class Text(str):
    """A scalar read from text (XML, a query string, a URI, a header): valid when it parses as its type."""


@dataclass(frozen=True)
class Problem:
    """One way a value breaks its shape: where (wire names), the value, and the constraint it breaks."""

    path: tuple[str, ...]
    value: Any
    constraint: str
    sensitive: bool = False  # the model marks the member ``sensitive``: its value is never shown

    def __str__(self) -> str:
        shown = "hidden" if self.sensitive else _shown(self.value)
        return f"{'.'.join(self.path) or '<root>'}: {self.constraint} (value {shown})"

    def coral(self) -> str:
        """AWS's wording for an invalid request member (lowerCamelCase path, list items as ``N.member``); a
        sensitive member's value is left out ("Value at 'password' failed to satisfy constraint: ...", as AWS
        words it for members the model marks ``sensitive``)."""
        path = ".".join(p[:1].lower() + p[1:] if not p.isdigit() else p for p in self.path)
        if self.sensitive:
            return f"Value at '{path}' failed to satisfy constraint: {self.constraint}"
        value = "null" if self.value is None else f"'{_shown(self.value)}'"
        return f"Value {value} at '{path}' failed to satisfy constraint: {self.constraint}"


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@functools.cache
def _session():
    return botocore.session.get_session()


@functools.cache
def service_model(service: str):
    """botocore's model of `service` (its name as in ``botocore/data``, e.g. ``service-quotas``)."""
    return _session().get_service_model(service)


def operation_model(service: str, operation: str):
    return service_model(service).operation_model(operation)


@functools.cache
def operation_for(service: str, method_name: str) -> str | None:
    """The operation whose snake_case name (moto's handler method name) is `method_name`, if any."""
    from botocore import xform_name

    return {xform_name(op): op for op in service_model(service).operation_names}.get(method_name)


def paging(service: str, operation: str) -> dict:
    """The operation's paginator config (``input_token``, ``output_token``, ``more_results``, ``limit_key``,
    ``result_key``), or IAM's Marker/IsTruncated convention for IAM lists botocore has no paginator for."""
    try:
        return dict(_session().get_paginator_model(service).get_paginator(operation))
    except ValueError:
        output = operation_model(service, operation).output_shape
        members = output.members if output is not None else {}
        if "Marker" in members and "IsTruncated" in members:
            return {"input_token": "Marker", "output_token": "Marker", "more_results": "IsTruncated",
                    "limit_key": "MaxItems"}
        return {}


class _Walker:
    """Walks a value against a shape, collecting :class:`Problem` s."""

    def __init__(self, service: str, strict_input: bool):
        self.service = service
        self.strict_input = strict_input  # also check ranges, lengths and patterns
        self.timestamp_default = _DEFAULT_TIMESTAMP[service_model(service).protocol]
        self.problems: list[Problem] = []
        self.sensitive = 0  # depth of sensitive shapes being walked

    def problem(self, path, value, constraint: str) -> None:
        self.problems.append(Problem(tuple(path), value, constraint, self.sensitive > 0))

    def value(self, shape, value, path) -> None:
        if shape.metadata.get("document"):
            return
        secret = bool(shape.metadata.get("sensitive"))
        self.sensitive += secret
        try:
            self._value(shape, value, path)
        finally:
            self.sensitive -= secret

    def _value(self, shape, value, path) -> None:
        kind = shape.type_name
        if kind == "structure":
            self.structure(shape, value, path)
        elif kind == "list":
            self.list(shape, value, path)
        elif kind == "map":
            self.map(shape, value, path)
        else:
            self.scalar(shape, value, path)

    def structure(self, shape, value, path, skip_locations: set[str] = frozenset()) -> None:
        """A structure: known members only, each valid; required members present; a union has one member.
        Members in `skip_locations` (headers, status code) are not part of `value`."""
        if not isinstance(value, dict):
            self.problem(path, value, f"Member must be a structure ({shape.name})")
            return
        members = {_wire(name, member): member for name, member in shape.members.items()
                   if member.serialization.get("location") not in skip_locations}
        for key, item in value.items():
            if key not in members:
                self.problem(path + [key], item, f"Member is not part of {shape.name} in the model")
            elif item is not None:
                self.value(members[key], item, path + [key])
            elif not self.strict_input:
                self.problem(path + [key], item, "Member is null: AWS omits absent members")
        present = {key for key, item in value.items() if key in members and item is not None}
        required = {_wire(name, shape.members[name]) for name in shape.required_members} & set(members)
        for wire in sorted(required - present, key=list(members).index):
            self.problem(path + [wire], None, "Member must not be null")
        if shape.metadata.get("union") and len(present) != 1:
            self.problem(path, sorted(present), f"Exactly one member of union {shape.name} must be set")

    def list(self, shape, value, path) -> None:
        if not isinstance(value, list):
            self.problem(path, value, f"Member must be a list ({shape.name})")
            return
        self.length(shape, value, len(value), path)
        for index, item in enumerate(value, start=1):
            self.value(shape.member, item, path + [str(index), "member"])

    def map(self, shape, value, path) -> None:
        if not isinstance(value, dict):
            self.problem(path, value, f"Member must be a map ({shape.name})")
            return
        self.length(shape, value, len(value), path)
        for key, item in value.items():
            self.scalar(shape.key, key if isinstance(key, Text) else Text(key), path + [key, "key"])
            self.value(shape.value, item, path + [key])

    def scalar(self, shape, value, path) -> None:
        kind = shape.type_name
        if not _scalar_ok(kind, value, shape.serialization.get("timestampFormat", self.timestamp_default)):
            self.problem(path, value, f"Member must be of type {kind}")
            return
        if kind == "string":
            allowed = getattr(shape, "enum", None) or []
            extra = KNOWN_EXTRA_ENUM_VALUES.get((self.service, shape.name), set())
            if allowed and value not in allowed and value not in extra:
                self.problem(path, value, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
            self.length(shape, value, len(value), path)
            self.pattern(shape, value, path)
        elif kind in ("integer", "long", "double", "float"):
            self.range(shape, float(value), path, value)

    def length(self, shape, value, size: int, path) -> None:
        if not self.strict_input:
            return
        if "min" in shape.metadata and size < shape.metadata["min"]:
            self.problem(path, value, f"Member must have length greater than or equal to {shape.metadata['min']}")
        if "max" in shape.metadata and size > shape.metadata["max"]:
            self.problem(path, value, f"Member must have length less than or equal to {shape.metadata['max']}")

    def range(self, shape, number: float, path, value) -> None:
        if not self.strict_input:
            return
        if "min" in shape.metadata and number < shape.metadata["min"]:
            self.problem(path, value, f"Member must have value greater than or equal to {shape.metadata['min']}")
        if "max" in shape.metadata and number > shape.metadata["max"]:
            self.problem(path, value, f"Member must have value less than or equal to {shape.metadata['max']}")

    def pattern(self, shape, value: str, path) -> None:
        if not self.strict_input or "pattern" not in shape.metadata:
            return
        compiled = _pattern(shape.metadata["pattern"])
        if compiled is not None and compiled.fullmatch(value) is None:
            self.problem(path, value, f"Member must satisfy regular expression pattern: {shape.metadata['pattern']}")


def _wire(name: str, member) -> str:
    """A member's name on the wire (its ``locationName``, else its name)."""
    return member.serialization.get("name", name)


@functools.cache
def _pattern(source: str) -> re.Pattern | None:
    """The model's regular expression (Java's dialect: AWS's front end is Java) in Python's ``re``, or None where
    it cannot be translated. ``re.ASCII``: Java's ``\\w``, ``\\d``, ``\\s`` and ``(?i)`` are ASCII-only by default
    (``java.util.regex.Pattern``: "Predefined character classes", "UNICODE_CHARACTER_CLASS")."""
    try:
        return re.compile(java_regex(source), re.ASCII)
    except (re.error, ValueError):
        return None


_UNICODE_CLASS = re.compile(r"\\([pP])\{(?:Is|general_category=|gc=)?([A-Z][a-z]?)\}")
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]+)\)")


def java_regex(source: str) -> str:
    """`source`, a ``java.util.regex`` pattern, in Python's syntax: Unicode category classes (``\\p{L}``,
    ``\\P{N}``, also inside ``[...]``, where a ``-`` right after one is literal, as in Java) become explicit
    ranges, and inline flags after the start (``a|(?i)b``, which Java scopes to the end of the enclosing group)
    become a scoped group ``(?i:...)``. Java's documentation: "Unicode scripts, blocks, categories and binary
    properties" and "Special constructs (named-capturing and non-capturing)" in ``java.util.regex.Pattern``."""
    scan = _Scan(source)
    while scan.i < len(source):
        scan.step()
    return "".join(scan.out) + ")" * scan.closers[0]


class _Scan:
    """The state of :func:`java_regex` going through a pattern."""

    def __init__(self, source: str):
        self.source, self.i, self.out = source, 0, []
        self.closers = [0]  # per open group: how many scoped-flag groups to close with it
        self.in_class = False

    def step(self) -> None:
        source, i = self.source, self.i
        unicode_class = _UNICODE_CLASS.match(source, i)
        flags = None if self.in_class or i == 0 else _INLINE_FLAGS.match(source, i)
        if unicode_class is not None:
            self.category(unicode_class)
        elif flags is not None:
            self.out.append(f"(?{flags.group(1)}:")
            self.closers[-1] += 1
            self.i = flags.end()
        elif source[i] == "\\":
            self.out.append(source[i:i + 2])
            self.i += 2
        else:
            self.char(source[i])

    def category(self, match: re.Match) -> None:
        ranges = _category_ranges(match.group(2), match.group(1) == "P")
        self.out.append(ranges if self.in_class else f"[{ranges}]")
        self.i = match.end()
        after = self.source[self.i:self.i + 2]
        if self.in_class and after[:1] == "-" and after[1:] not in ("]", ""):
            self.out.append("\\-")
            self.i += 1

    def char(self, char: str) -> None:
        if self.in_class:
            self.in_class = char != "]"
        elif char == "[":
            self.in_class = True
        elif char == "(":
            self.closers.append(0)
        elif char == ")":
            self.out.append(")" * self.closers.pop())
        self.out.append(char)
        self.i += 1


@functools.cache
def _category_ranges(category: str, negated: bool) -> str:
    """The code points of Unicode general category `category` (``L``, ``Lu``, ``Z``, ...; negated: all others),
    as the inside of a character class (``\\u0041-\\u005A...``)."""
    import sys
    import unicodedata

    def wanted(code: int) -> bool:
        return unicodedata.category(chr(code)).startswith(category) != negated

    ranges, start = [], None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and wanted(code)
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append(_escaped(start) if start == code - 1 else f"{_escaped(start)}-{_escaped(code - 1)}")
            start = None
    if not ranges:
        raise ValueError(f"unknown Unicode category {category}")
    return "".join(ranges)


def _escaped(code: int) -> str:
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _scalar_ok(kind: str, value: Any, timestamp_format: str) -> bool:
    """Whether `value` is a valid `kind` scalar: native JSON types, or :class:`Text` that parses."""
    if isinstance(value, Text):
        return _text_ok(kind, value)
    if kind in ("string", "blob"):
        return isinstance(value, str) and (kind == "string" or _is_base64(value))
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("double", "float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "timestamp":
        if timestamp_format == "unixtimestamp":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        return isinstance(value, str) and _text_ok("timestamp", value)
    return False


def _text_ok(kind: str, text: str) -> bool:
    if kind == "string":
        return True
    if kind == "blob":
        return _is_base64(text)
    if kind in ("integer", "long"):
        return _INTEGER.fullmatch(text) is not None
    if kind in ("double", "float"):
        try:
            float(text)
            return True
        except ValueError:
            return False
    if kind == "boolean":
        return text in ("true", "false")
    if kind == "timestamp":
        return _ISO8601.fullmatch(text) is not None or _INTEGER.fullmatch(text) is not None
    return False


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


# -- responses ------------------------------------------------------------------------------------------------


def check_output(service: str, operation: str, body: bytes, request: dict | None = None) -> list[Problem]:
    """Problems of a successful raw response `body` of `operation`; `request`, the call's parameters, lets
    the page size be checked too."""
    model = operation_model(service, operation)
    protocol = service_model(service).protocol
    walker = _Walker(service, strict_input=False)
    if protocol == "query":
        parsed = _query_response(walker, model, body)
    else:
        parsed = json.loads(body) if body.strip() else {}
        if model.output_shape is None:
            if parsed:
                walker.problem([], parsed, "Operation has no output: the body must be empty")
            return walker.problems
        walker.structure(model.output_shape, parsed, [], skip_locations=_NOT_IN_BODY)
    if model.output_shape is not None and isinstance(parsed, dict):
        _check_paging(walker, service, operation, parsed, request or {})
    return walker.problems


def _check_paging(walker: _Walker, service: str, operation: str, parsed: dict, request: dict) -> None:
    config = paging(service, operation)
    token_key = config.get("output_token")
    if not isinstance(token_key, str) or "." in token_key:
        return
    token = parsed.get(token_key)
    if token is not None and token == "":
        walker.problem([token_key], token, "A paging token, when present, is not empty")
    more = config.get("more_results")
    if more:
        truncated = parsed.get(more) in (True, "true")
        if truncated != (token is not None):
            walker.problem([more], parsed.get(more), f"{more} must be true exactly when {token_key} is returned")
    # A paginator's result_key is one member or a list of them, whose items the limit counts together
    # (IAM GetAccountAuthorizationDetails: UserDetailList, GroupDetailList, RoleDetailList, Policies).
    keys = config.get("result_key")
    keys = keys if isinstance(keys, list) else [keys]
    pages = [parsed.get(key) for key in keys if isinstance(key, str)]
    limit, count = request.get(config.get("limit_key")), sum(len(p) for p in pages if isinstance(p, list))
    if isinstance(limit, Text) and _INTEGER.fullmatch(limit):
        limit = int(limit)
    if isinstance(limit, int) and count > limit:
        where = keys[0] if len(keys) == 1 else "+".join(keys)
        walker.problem([where], count, f"At most {limit} items a page were asked for")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _query_response(walker: _Walker, model, body: bytes) -> dict | None:
    """The query protocol's XML response as a dict of :class:`Text` leaves, checked on the way."""
    root = ElementTree.fromstring(body)
    name = model.name
    if _local(root.tag) != f"{name}Response":
        walker.problem([], _local(root.tag), f"The root element must be {name}Response")
        return None
    wrapper = model.output_shape.serialization.get("resultWrapper") if model.output_shape else None
    parsed = None
    for child in root:
        tag = _local(child.tag)
        if tag == "ResponseMetadata":
            continue
        if wrapper is not None and tag == wrapper:
            parsed = _from_xml(walker, child, model.output_shape, [])
            walker.structure(model.output_shape, parsed, [])
        else:
            walker.problem([tag], None, f"Unexpected element in {name}Response")
    if wrapper is not None and parsed is None:
        walker.problem([wrapper], None, "The result element is missing")
    return parsed


def _from_xml(walker: _Walker, element, shape, path):
    """`element` read per `shape` into dicts, lists and :class:`Text`; unknown elements are kept as text."""
    kind = shape.type_name
    if kind == "structure":
        return _xml_structure(walker, element, shape, path)
    if kind == "list":
        item_name = shape.member.serialization.get("name", "member")
        items = []
        for child in element:
            if _local(child.tag) != item_name:
                walker.problem(path + [_local(child.tag)], None, f"List items must be <{item_name}> elements")
                continue
            items.append(_from_xml(walker, child, shape.member, path + [str(len(items) + 1), "member"]))
        return items
    if kind == "map":
        return _xml_map(walker, element, shape, path)
    if len(element):
        walker.problem(path, None, f"Member must be of type {kind}, not an element with children")
    return Text(element.text or "")


def _xml_structure(walker: _Walker, element, shape, path) -> dict:
    members = {_wire(n, m): m for n, m in shape.members.items()}
    result: dict = {}
    for child in element:
        tag = _local(child.tag)
        member = members.get(tag)
        if member is not None and member.type_name == "list" and member.serialization.get("flattened"):
            result.setdefault(tag, []).append(_from_xml(walker, child, member.member, path + [tag]))
        elif tag in result:
            walker.problem(path + [tag], None, "Member appears more than once")
        else:
            result[tag] = _from_xml(walker, child, member, path + [tag]) if member else Text(child.text or "")
    return result


def _xml_map(walker: _Walker, element, shape, path) -> dict:
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    result: dict = {}
    for entry in element:
        parts = {_local(part.tag): part for part in entry}
        if _local(entry.tag) != "entry" or set(parts) != {key_name, value_name}:
            walker.problem(path, None, f"Map entries must be <entry><{key_name}/><{value_name}/></entry>")
            continue
        key = Text(parts[key_name].text or "")
        result[key] = _from_xml(walker, parts[value_name], shape.value, path + [key])
    return result


# -- requests -------------------------------------------------------------------------------------------------


def check_input(service: str, operation: str, params: dict) -> list[Problem]:
    """Problems of a request's parameters, keyed by wire name (JSON values, or :class:`Text` from text)."""
    shape = operation_model(service, operation).input_shape
    walker = _Walker(service, strict_input=True)
    if shape is None:
        for key, value in params.items():
            walker.problem([key], value, f"Member is not part of the input of {operation}")
    else:
        walker.structure(shape, params, [])
    return walker.problems


def query_params(service: str, operation: str, flat: dict[str, list[str]]) -> dict:
    """The query protocol's flat parameters (``ActionNames.member.1=...``) as nested values of :class:`Text`,
    read per the input shape (``Action`` and ``Version`` left out)."""
    tree: dict = {}
    for key, values in flat.items():
        if key in ("Action", "Version"):
            continue
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = Text(values[-1] if values else "")
    shape = operation_model(service, operation).input_shape
    return _from_query(tree, shape) if shape is not None else tree


def _from_query(node, shape):
    """A node of the flattened-key tree read per `shape`; what does not fit is kept for the walker to flag."""
    kind = shape.type_name
    if kind == "structure" and isinstance(node, dict):
        members = {_wire(n, m): m for n, m in shape.members.items()}
        return {k: _from_query(v, members[k]) if k in members else v for k, v in node.items()}
    if kind == "list":
        if node == "":
            return []
        items = node if shape.serialization.get("flattened") else (
            node.get(shape.member.serialization.get("name", "member")) if isinstance(node, dict) else None)
        return [_from_query(v, shape.member) for v in _numbered(items)] if items is not None else node
    if kind == "map" and isinstance(node, dict):
        entries = node if shape.serialization.get("flattened") else node.get("entry", {})
        return {e.get("key", Text("")): _from_query(e.get("value"), shape.value)
                for e in _numbered(entries) if isinstance(e, dict)}
    return node


def _numbered(node) -> list:
    """The values of a ``{"1": a, "2": b}`` node in index order (a non-dict yields nothing)."""
    if not isinstance(node, dict):
        return []
    return [node[k] for k in sorted(node, key=lambda k: int(k) if k.isdigit() else 0)]


def rest_params(service: str, operation: str, path: str, query: dict[str, list[str]], headers, body: str) -> dict:
    """A REST-JSON request's members, keyed by wire name: URI labels, query parameters and headers as
    :class:`Text`, body members as JSON. Query parameters the model does not name are kept (and flagged)."""
    model = operation_model(service, operation)
    params: dict = dict(_uri_labels(model.http["requestUri"], path))
    shape = model.input_shape
    members = shape.members if shape is not None else {}
    by_query_name = {_wire(n, m): m for n, m in members.items() if m.serialization.get("location") == "querystring"}
    for key, values in query.items():
        member = by_query_name.get(key)
        params[key] = [Text(v) for v in values] if member is not None and member.type_name == "list" else Text(
            values[-1])
    for name, member in members.items():
        if member.serialization.get("location") == "header" and headers.get(_wire(name, member)) is not None:
            params[_wire(name, member)] = Text(headers.get(_wire(name, member)))
    if body and body.strip():
        params.update(json.loads(body))
    return params


def _uri_labels(template: str, path: str) -> dict[str, Text]:
    from urllib.parse import unquote

    template = template.split("?", 1)[0].rstrip("/")
    names = re.findall(r"\{([^}+]+)\+?\}", template)
    pattern = re.escape(template)
    for name in names:
        pattern = pattern.replace(re.escape("{" + name + "+}"), "(.+)").replace(re.escape("{" + name + "}"), "([^/]+)")
    match = re.fullmatch(pattern + "/?", path)
    return {n: Text(unquote(v)) for n, v in zip(names, match.groups())} if match else {}
