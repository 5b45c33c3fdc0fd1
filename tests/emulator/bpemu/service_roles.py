"""Roles an AWS service assumes on the account's behalf: does the service trust them, may they act?

Bedrock's invocation logging writes with a role "trusted by bedrock.amazonaws.com" (Bedrock user guide, "Monitor
model invocation using CloudWatch Logs and Amazon S3", section "Set up a CloudWatch Logs destination",
https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html: the trust policy's principal
is ``{"Service": "bedrock.amazonaws.com"}`` with conditions on ``aws:SourceAccount`` and ``aws:SourceArn``), and a
Budgets action runs with its ``ExecutionRoleArn``, which Budgets assumes (the role is trusted by
``budgets.amazonaws.com``; Cost Management user guide, "Best practices for AWS Budgets", "Using managed
policies"). A service is covered by a trust statement whose ``Principal`` is ``*`` or names it under
``Service`` (a string or a list); ``AWS`` and ``Federated`` principals never cover a service. Conditions are
decided by :mod:`bpemu.policy` with the context the service supplies (``aws:SourceAccount``, ``aws:SourceArn``);
a condition on any other key is undecided, so such an Allow does not apply (fail closed).
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from .access_ext import MODELLED_KEYS, _entity_policies
from .policy import ALLOWED, Policy, decide
from .trust_ext import find_role

SERVICE_KEYS = MODELLED_KEYS | {"aws:sourceaccount", "aws:sourcearn"}


def service_context(account: str, source_arn: str) -> dict[str, list[str]]:
    """The condition keys a service's ``AssumeRole`` on the account's behalf carries."""
    return {"aws:SourceAccount": [account], "aws:SourceArn": [source_arn]}


def trusts(role, service: str, context: dict) -> bool:
    """Whether `role`'s trust policy allows `service` (``bedrock.amazonaws.com``) to ``sts:AssumeRole``."""
    statements = []
    for statement in _trust_statements(role):
        if _names_service(statement.get("Principal"), service):
            kept = {k: v for k, v in statement.items() if k not in ("Principal", "NotPrincipal", "Resource")}
            statements.append(kept | {"Resource": "*"})
    decision = decide([Policy(role.name, "role-trust", tuple(statements))], "sts:AssumeRole", "*", context,
                      SERVICE_KEYS)
    return decision.decision == ALLOWED


def allows(role, action: str, resource: str, context: dict) -> bool:
    """Whether `role`'s own policies (inline and attached) allow `action` on `resource`."""
    decision = decide(_entity_policies(role, "role"), action, resource, context, SERVICE_KEYS)
    return decision.decision == ALLOWED


def role(role_arn: str):
    """The moto role whose ARN is `role_arn` exactly, or None."""
    return find_role(role_arn)


def _trust_statements(role) -> list[dict]:
    document = role.assume_role_policy_document or "{}"
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            document = json.loads(unquote(document))
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _names_service(principal, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    named = principal.get("Service", [])
    return service in (named if isinstance(named, list) else [named])
