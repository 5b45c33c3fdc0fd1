"""``sts:AssumeRole`` within and across the emulator's accounts, authorised as AWS authorises it.

moto 5.2.5 issues credentials for any role ARN, even of a role that does not exist, and never reads the
role's trust policy; the session it creates does act in the role's account (the ``ASIA`` key is kept by that
account's IAM, so :func:`bpemu.access_ext.account_of` and moto resolve it there, and ``GetCallerIdentity``
answers the role's account and ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``). This module refuses, before
moto sees it, every ``AssumeRole`` that AWS refuses, with ``AccessDenied`` (HTTP 403) and AWS's message
``User: <caller ARN> is not authorized to perform: sts:AssumeRole on resource: <role ARN>``.

Rules, from the STS API reference for AssumeRole ("To assume a role from a different account, your Amazon Web
Services account must be trusted by the role ... A user who wants to access a role in a different account must
also have permissions that are delegated from the account administrator ... To allow a user to assume a role in
the same account, you can do either of the following: Attach a policy to the user that allows the user to call
AssumeRole (as long as the role's trust policy trusts the account). Add the user as a principal directly in the
role's trust policy."; https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html, also the
botocore ``sts`` model's AssumeRole documentation), the IAM User Guide's "Cross-account policy evaluation logic"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html) and
"AWS JSON policy elements: Principal"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html):

- The role must exist in the account its ARN names, with that exact ARN (path included); else refused.
- Its trust policy (``AssumeRolePolicyDocument``) must allow ``sts:AssumeRole`` to the caller, and an explicit
  Deny there refuses. A statement's ``Principal`` covers the caller when its ``AWS`` entry is ``*``, the caller's
  account (``"111111111111"`` or ``arn:aws:iam::111111111111:root``), or the caller's ARN (an IAM user's ARN; for a
  role session the role's ARN or the session's ``assumed-role`` ARN); ``NotPrincipal`` is the complement.
  ``Service``/``Federated`` principals never cover an IAM caller. Role trust policies must always allow the
  caller explicitly; an identity policy alone is never enough.
- The caller's identity policies (``AKIA`` user keys, ``ASIA`` sessions: see :mod:`bpemu.access_ext`) must allow
  ``sts:AssumeRole`` on the role ARN; an explicit Deny there refuses. The one exception, as documented: in the
  same account, a trust policy that names the caller's ARN itself (not just its account) is enough.
- The emulator's 12-digit access keys are the account's administrator, ARN ``arn:aws:iam::ACCOUNT:root``, with
  every identity permission (real AWS refuses ``AssumeRole`` with root-user credentials; the emulator's account
  keys stand for an administrator, so they may). An unknown access key is the administrator of moto's default
  account.
- Conditions in the trust policy see the same keys as identity policies (``aws:PrincipalArn``,
  ``aws:PrincipalAccount``, ``aws:PrincipalType``, ``aws:username``, ``aws:RequestedRegion``, the time keys).
  Other keys, ``sts:ExternalId`` among them, are not modelled: an Allow conditioned on one does not apply (fail
  closed), as in :mod:`bpemu.policy`.

A test acting in account B from account A: create the role in B (sign with access key B) with a trust policy
allowing A and a permissions policy, call ``AssumeRole`` signed with key A (or a user key of A allowed
``sts:AssumeRole`` on the role), and sign with the returned ``AccessKeyId``/``SecretAccessKey``/``SessionToken``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from moto.iam.models import iam_backends

from . import access_ext
from .access_ext import MODELLED_KEYS, Principal
from .policy import ALLOWED, EXPLICIT_DENY, Policy, decide
from .protocol import RequestInfo, error_response

ACTION = "sts:AssumeRole"
SET_SOURCE_IDENTITY = "sts:SetSourceIdentity"
_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/")
_ACCOUNT = re.compile(r"^(?:(\d{12})|arn:aws:iam::(\d{12}):root)$")
# Marks a trust statement copy whose Principal names the caller's own ARN (not only its account).
_NAMED = "bpemu:named"


def enforce(info: RequestInfo, environ=None):
    """AWS's AccessDenied for an ``AssumeRole`` the caller may not make, else None (moto serves it)."""
    if (info.service, info.action) != ("sts", "AssumeRole") or not info.access_key:
        return None
    role_arn = dict(info.names).get("RoleArn")
    if not role_arn:
        return None  # a request without RoleArn: botocore-model validation answers it
    principal = caller(info.access_key)
    message = refusal(principal, role_arn, info.region)
    if message is None and "SourceIdentity" in dict(info.names):
        message = source_identity_refusal(principal, role_arn, info.region)
    return None if message is None else error_response("sts", 403, "AccessDenied", message)


def source_identity_refusal(principal: Principal, role_arn: str, region: str | None) -> str | None:
    """An ``AssumeRole`` with ``SourceIdentity`` also needs ``sts:SetSourceIdentity`` in the role's trust
    policy (IAM User Guide, "Monitor and control actions taken with assumed roles",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html: "the
    role trust policy must allow the sts:SetSourceIdentity action"); else AccessDenied naming that action."""
    role = find_role(role_arn)
    if role is None:
        return None
    context = access_ext.request_context(principal, region)
    trust = decide([_trust_policy(role, principal)], SET_SOURCE_IDENTITY, "*", context, MODELLED_KEYS)
    if trust.decision == ALLOWED:
        return None
    return f"User: {principal.arn} is not authorized to perform: {SET_SOURCE_IDENTITY} on resource: {role_arn}"


def caller(access_key: str) -> Principal:
    """Who signed with `access_key`: an emulator account key's administrator, a user, or a role session."""
    if access_key.isdigit() and len(access_key) == 12:
        return access_ext.administrator(access_key)
    key = access_ext.signing_key(access_key)
    return key.principal if key is not None else access_ext.administrator(access_ext.account_of(access_key))


def refusal(principal: Principal, role_arn: str, region: str | None) -> str | None:
    """None when `principal` may assume `role_arn`, else AWS's AccessDenied message."""
    plain = f"User: {principal.arn} is not authorized to perform: {ACTION} on resource: {role_arn}"
    context = access_ext.request_context(principal, region)
    identity = ALLOWED
    if principal.policies is not None:
        identity = decide(list(principal.policies), ACTION, role_arn, context, MODELLED_KEYS).decision
    if identity == EXPLICIT_DENY:
        return access_ext.authorize(principal, ACTION, [role_arn], context)
    role = find_role(role_arn)
    if role is None:
        return plain
    trust = decide([_trust_policy(role, principal)], ACTION, "*", context, MODELLED_KEYS)
    if trust.decision != ALLOWED:
        return plain
    if identity == ALLOWED:
        return None
    named = any(statement.get(_NAMED) for _, statement in trust.matched)
    if named and principal.account == _ROLE_ARN.match(role_arn).group(1):
        return None  # same account, trusted by ARN: the trust policy alone grants it
    return access_ext.authorize(principal, ACTION, [role_arn], context)


def find_role(role_arn: str):
    """The moto role whose ARN is exactly `role_arn`, if its account has one; creates no IAM backend."""
    match = _ROLE_ARN.match(role_arn)
    if match is None:
        return None
    account = dict.get(iam_backends, match.group(1))
    backend = dict.get(account, "aws") if account is not None else None
    if backend is None:
        return None
    return next((role for role in list(backend.roles.values()) if role.arn == role_arn), None)


def _trust_policy(role, principal: Principal) -> Policy:
    """The role's trust statements that cover `principal`, as a policy on resource ``*`` for :func:`decide`."""
    document = role.assume_role_policy_document or "{}"
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            document = json.loads(unquote(document))
    statements = document.get("Statement", [])
    covering = []
    for statement in statements if isinstance(statements, list) else [statements]:
        covers = _covers(statement, principal)
        if covers is None:
            continue
        copy = {k: v for k, v in statement.items() if k not in ("Principal", "NotPrincipal", "Resource")}
        covering.append(copy | {"Resource": "*", _NAMED: covers == "named"})
    return Policy(role.name, "role-trust", tuple(covering))


def _covers(statement: dict, principal: Principal) -> str | None:
    """How a trust statement's principal covers the caller: "named" (``*`` or its own ARN), "account", or None."""
    if "NotPrincipal" in statement:
        return None if _match(statement["NotPrincipal"], principal) else "account"
    return _match(statement.get("Principal"), principal)


def _match(element, principal: Principal) -> str | None:
    if element == "*":
        return "named"
    if not isinstance(element, dict):
        return None
    entries = element.get("AWS", [])
    found = None
    for entry in entries if isinstance(entries, list) else [entries]:
        if not isinstance(entry, str):
            continue
        account = _ACCOUNT.match(entry)
        if entry == "*" or entry in _arns(principal):
            return "named"
        if account is not None and principal.account in account.groups():
            found = "account"
    return found


def _arns(principal: Principal) -> set[str]:
    """The ARNs a trust policy may name the caller by: its own, and for a role session the role's."""
    return {principal.arn, *principal.context.get("aws:PrincipalArn", [])}
