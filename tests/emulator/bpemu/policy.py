"""IAM identity-policy evaluation: which statements apply to (action, resource, context), and the decision.

Written against the IAM User Guide's "Policy evaluation logic" and "IAM JSON policy elements" pages, because
moto's evaluator (``moto.iam.access_control.IAMPolicyStatement``, moto 5.2.5) gets several rules wrong:

- an Allow statement whose Condition does not hold answers *DENIED* (an explicit deny), and so does a Deny
  statement whose Condition does not hold; in IAM such a statement simply does not apply;
- wildcards become regular expressions without escaping (``.`` in an ARN matches any character, ``?`` makes
  the previous character optional) and action names compare case-sensitively;
- ``NotResource``, ``IfExists``, ``ForAnyValue:``/``ForAllValues:``, ``Null`` and policy variables in
  resources (``${aws:username}``) are not supported.

Rules here:

- Actions match case-insensitively with ``*`` and ``?``. Resources match case-sensitively; a ``*`` or ``?``
  stays within one colon-separated ARN segment, except a ``*`` that ends a segment, which may run past colons
  ("IAM JSON policy elements: Resource"). So ``arn:aws:bedrock:*::foundation-model/anthropic.*`` matches the
  empty region of ``arn:aws:bedrock:::foundation-model/anthropic.x``, and
  ``inference-profile/*anthropic.*`` matches ``inference-profile/us.anthropic.x`` and ``global.anthropic.x``.
- An explicit Deny wins; otherwise any applicable Allow allows; otherwise the request is implicitly denied.
- Conditions: the String, Arn, Numeric, Date, Bool and Null operators, with ``IfExists`` and the
  ``ForAnyValue:``/``ForAllValues:`` qualifiers. A key absent from the request context makes a positive
  operator false and a negated one (``StringNotEquals``, ...) true, as IAM documents.
- Keys the emulator does not model: ``decide`` takes the set of keys whose absence is meaningful (``modelled``).
  A condition on any other key, or with an operator this module does not know, cannot be decided: such an
  Allow statement does not apply and such a Deny statement does (fail closed). ``SimulatePrincipalPolicy``
  passes ``modelled=None``: there the caller's ``ContextEntries`` are the whole truth, and a key the
  policies need but the caller did not give is reported in ``MissingContextValues``.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"

_NEGATED = {
    "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike",
    "NumericNotEquals", "DateNotEquals",
}
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_LITERALS = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class Policy:
    """One policy document and where it came from (``SourcePolicyId`` / ``SourcePolicyType`` of the IAM API)."""

    source_id: str
    source_type: str  # user | group | role | aws-managed | user-managed | none
    statements: tuple[dict, ...]

    @staticmethod
    def parse(source_id: str, source_type: str, document: str | dict) -> "Policy":
        parsed = json.loads(document) if isinstance(document, str) else document
        statements = parsed.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        return Policy(source_id, source_type, tuple(statements))


@dataclass(frozen=True)
class Decision:
    """The outcome for one (action, resource): the decision, the statements that made it, missing keys."""

    decision: str
    matched: tuple[tuple[Policy, dict], ...]
    missing_keys: tuple[str, ...]


def decide(
    policies: list[Policy],
    action: str,
    resource: str,
    context: dict[str, list[str]],
    modelled: frozenset[str] | None = None,
) -> Decision:
    """Evaluate identity policies for one action on one resource.

    `context` maps condition keys (any case) to their values; `modelled` is the set of lower-case keys whose
    absence from `context` is known to be right (None: every key).
    """
    context = {key.lower(): values for key, values in context.items()}
    allows, denies, missing = [], [], set()
    for policy in policies:
        for statement in policy.statements:
            if not _applies(statement, action, resource, context):
                continue
            missing |= _missing_keys(statement, context)
            holds = _conditions_hold(statement.get("Condition") or {}, context, modelled)
            if statement.get("Effect") == "Deny" and holds is not False:
                denies.append((policy, statement))
            elif statement.get("Effect") == "Allow" and holds is True:
                allows.append((policy, statement))
    if denies:
        return Decision(EXPLICIT_DENY, tuple(denies), tuple(sorted(missing)))
    if allows:
        return Decision(ALLOWED, tuple(allows), tuple(sorted(missing)))
    return Decision(IMPLICIT_DENY, (), tuple(sorted(missing)))


def _applies(statement: dict, action: str, resource: str, context: dict) -> bool:
    """Whether the statement's Action/NotAction and Resource/NotResource cover this request."""
    if "NotAction" in statement:
        if any(_action_matches(p, action) for p in _as_list(statement["NotAction"])):
            return False
    elif not any(_action_matches(p, action) for p in _as_list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        return not any(_resource_matches(p, resource, context) for p in _as_list(statement["NotResource"]))
    return any(_resource_matches(p, resource, context) for p in _as_list(statement.get("Resource")))


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _action_matches(pattern: str, action: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, action, re.IGNORECASE) is not None


def _resource_matches(pattern: str, resource: str, context: dict) -> bool:
    pattern = _substitute(pattern, context)
    return pattern is not None and arn_like(pattern, resource)


def arn_like(pattern: str, value: str) -> bool:
    """ARN wildcard matching: ``*``/``?`` within a segment; a segment-final ``*`` may run past colons."""
    parts = []
    for index, char in enumerate(pattern):
        if char == "*":
            ends_segment = index + 1 == len(pattern) or pattern[index + 1] == ":"
            parts.append(".*" if ends_segment else "[^:]*")
        elif char == "?":
            parts.append("[^:]")
        else:
            parts.append(re.escape(char))
    return re.fullmatch("".join(parts), value) is not None


def _string_like(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _substitute(text: str, context: dict) -> str | None:
    """Replace policy variables (``${aws:username}``); None when one of them has no value in the context."""
    unresolved = False

    def value(match: re.Match) -> str:
        nonlocal unresolved
        name = match.group(1)
        if name in _LITERALS:
            return _LITERALS[name]
        values = context.get(name.lower())
        if not values:
            unresolved = True
            return ""
        return values[0]

    result = _VARIABLE.sub(value, text)
    return None if unresolved else result


def _missing_keys(statement: dict, context: dict) -> set[str]:
    """The condition keys the statement names that the context lacks."""
    return {
        key
        for block in (statement.get("Condition") or {}).values()
        for key in block
        if key.lower() not in context
    }


def _conditions_hold(conditions: dict, context: dict, modelled: frozenset[str] | None) -> bool | None:
    """True or False when decided; None when an unknown operator or unmodelled key leaves it undecided."""
    undecided = False
    for operator, block in conditions.items():
        for key, expected in block.items():
            if modelled is not None and key.lower() not in context and key.lower() not in modelled:
                undecided = True
                continue
            holds = _condition(operator, context.get(key.lower()), [str(v) for v in _as_list(expected)])
            if holds is None:
                undecided = True
            elif not holds:
                return False
    return None if undecided else True


def _condition(operator: str, actual: list[str] | None, expected: list[str]) -> bool | None:
    """One condition operator applied to the context values of one key (None: operator unknown)."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base == "Null":
        return (actual is None) == (expected[0].lower() == "true")
    compare = _COMPARATORS.get(base.replace("Not", ""))
    if compare is None or qualifier not in ("", "ForAnyValue", "ForAllValues"):
        return None
    negated = base in _NEGATED
    if actual is None:
        return if_exists or negated or qualifier == "ForAllValues"

    def one(value: str) -> bool:
        matched = any(compare(value, e) for e in expected)
        return not matched if negated else matched

    if qualifier == "ForAllValues":
        return all(one(v) for v in actual)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in actual)
    matched = any(compare(v, e) for v in actual for e in expected)
    return not matched if negated else matched


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> datetime.datetime:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return datetime.datetime.fromtimestamp(float(text), datetime.timezone.utc)
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _ordered(convert, test):
    def compare(actual: str, expected: str) -> bool:
        try:
            return test(convert(actual), convert(expected))
        except ValueError:
            return False

    return compare


# Base operator name (the "Not" taken out) -> comparison of one context value with one policy value.
_COMPARATORS = {
    "StringEquals": lambda a, e: a == e,
    "StringEqualsIgnoreCase": lambda a, e: a.lower() == e.lower(),
    "StringLike": lambda a, e: _string_like(e, a),
    "ArnEquals": lambda a, e: arn_like(e, a),
    "ArnLike": lambda a, e: arn_like(e, a),
    "Bool": lambda a, e: a.lower() == e.lower(),
    "NumericEquals": _ordered(_number, lambda a, e: a == e),
    "NumericLessThan": _ordered(_number, lambda a, e: a < e),
    "NumericLessThanEquals": _ordered(_number, lambda a, e: a <= e),
    "NumericGreaterThan": _ordered(_number, lambda a, e: a > e),
    "NumericGreaterThanEquals": _ordered(_number, lambda a, e: a >= e),
    "DateEquals": _ordered(_date, lambda a, e: a == e),
    "DateLessThan": _ordered(_date, lambda a, e: a < e),
    "DateLessThanEquals": _ordered(_date, lambda a, e: a <= e),
    "DateGreaterThan": _ordered(_date, lambda a, e: a > e),
    "DateGreaterThanEquals": _ordered(_date, lambda a, e: a >= e),
}
