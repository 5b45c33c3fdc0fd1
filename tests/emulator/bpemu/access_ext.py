"""IAM authorisation of restricted principals, and ``SimulatePrincipalPolicy``, on the emulator's policy
evaluator (:mod:`bpemu.policy`; moto's own evaluator mis-handles conditions, see there).

- Requests signed with an access key that moto IAM issued to a user (``AKIA...``) are checked against that
  user's policies (inline, attached, and through groups), and requests signed with an ``ASIA...`` key from
  ``AssumeRole`` against the role's policies: a denied action answers ``AccessDenied`` (IAM, STS) or
  ``AccessDeniedException`` (JSON services) with AWS's message. ``sts:GetCallerIdentity`` is always
  allowed, as in AWS; ``sts:AssumeRole`` is decided by :mod:`bpemu.trust_ext` (caller's policies and the role's
  trust policy together). The emulator's own 12-digit account keys act as the account's administrator.
- The resource is the ARN the request acts on where the emulator knows it: for IAM the user, role, group or
  policy the request names (path included), for ``sts:AssumeRole`` the role, for ``bedrock:GetFoundationModel``
  and ``bedrock:GetInferenceProfile`` the model or profile (bedrock-runtime calls are authorised by
  :mod:`bpemu.runtime_ext` on the model, the inference profile and the project); else ``*``, so a statement
  scoped to other ARNs does not apply, as for an AWS action without resource-level permissions.
- Condition keys the emulator supplies: ``aws:username``, ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
  ``aws:PrincipalType``, ``aws:RequestedRegion``, ``aws:CurrentTime``/``aws:EpochTime`` (emulator clock), and
  from bedrock-runtime ``bedrock:bearerTokenType`` and ``bedrock:InferenceProfileArn``; ``aws:CalledVia*``
  are known to be absent (the emulator serves direct calls only). Conditions on other keys are undecided.
- Finding the account of a key looks only at IAM backends that exist. moto's own lookup indexes
  every account by every partition, which creates (and fills with the AWS managed policies) an IAM backend
  per account and partition: with a hundred test accounts one lookup took over ten seconds.
- ``SimulatePrincipalPolicy`` (IAM API reference, botocore ``iam`` model ``SimulatePrincipalPolicyRequest``
  and ``EvaluationResult``) evaluates every ``ActionNames`` entry on every ``ResourceArns`` entry (default
  ``*``), with ``ContextEntries`` as the request context and ``PolicyInputList`` as extra policies. One
  ``EvaluationResult`` per action: ``EvalResourceName`` is ``*`` (the emulator has no ARN templates),
  ``EvalDecision`` is ``allowed`` only when every resource is allowed (else ``explicitDeny`` if any
  resource is explicitly denied, else ``implicitDeny``), and with ``ResourceArns`` each resource's decision is
  in ``ResourceSpecificResults``. The ARN must be the entity's own, path included, as in IAM: a role's ARN
  without its path answers ``NoSuchEntity``. A principal that is not an IAM user or role of the account (the
  emulator's administrator) is allowed everything.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import moto.iam.models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.iam.exceptions import NotFoundException
from moto.iam.models import AWSManagedPolicy, iam_backends
from moto.iam.responses import IamResponse
from moto.sts.models import sts_backends

from . import iam_ext
from .policy import ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY, Decision, Policy, decide
from .protocol import RequestInfo, error_response

# Signing name -> IAM action prefix, where they differ.
_PREFIX = {"ce": "ce", "monitoring": "cloudwatch"}

# Lower-case condition keys whose presence or absence in a live request's context is right.
MODELLED_KEYS = frozenset(
    {
        "aws:username",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:requestedregion",
        "aws:currenttime",
        "aws:epochtime",
        "aws:calledvia",
        "aws:calledviafirst",
        "aws:calledvialast",
        "bedrock:bearertokentype",
        "bedrock:inferenceprofilearn",
    }
)


@dataclass(frozen=True)
class Principal:
    """Who makes a request: account, ARN as AWS names the caller in errors, identity policies, context keys."""

    account: str
    arn: str
    policies: tuple[Policy, ...] | None  # None: the account's administrator
    context: dict[str, list[str]]


@dataclass(frozen=True)
class SigningKey:
    """An access key moto issued, with what verifying a signature made with it needs."""

    access_key: str
    secret_key: str
    session_token: str | None
    expires: datetime.datetime | None
    active: bool
    principal: Principal


def administrator(account: str) -> Principal:
    """The account's administrator: who the emulator's 12-digit access keys are."""
    return Principal(account, f"arn:aws:iam::{account}:root", None, {"aws:PrincipalAccount": [account]})


def _backend(account: str):
    return iam_backends[account]["aws"]


def _managed(policy) -> Policy:
    document = next(v.document for v in policy.versions if v.is_default)
    kind = "aws-managed" if isinstance(policy, AWSManagedPolicy) else "user-managed"
    return Policy.parse(policy.name, kind, document)


def _entity_policies(entity, kind: str) -> list[Policy]:
    """The inline and attached policies of a moto user, group or role."""
    policies = [Policy.parse(name, kind, document) for name, document in entity.policies.items()]
    return policies + [_managed(p) for p in entity.managed_policies.values()]


def _user_principal(account: str, user) -> Principal:
    policies = _entity_policies(user, "user")
    for group in _backend(account).get_groups_for_user(user.name):
        policies += _entity_policies(group, "group")
    context = {
        "aws:username": [user.name],
        "aws:PrincipalArn": [user.arn],
        "aws:PrincipalAccount": [account],
        "aws:PrincipalType": ["User"],
    }
    return Principal(account, user.arn, tuple(policies), context)


def user_principal(account: str, user_name: str) -> Principal | None:
    """The IAM user `user_name` of `account`, if it exists."""
    user = _backend(account).users.get(user_name)
    return None if user is None else _user_principal(account, user)


def account_of(access_key: str) -> str:
    """The account whose IAM issued ``access_key``, else moto's default account; creates no backend."""
    for account_id, account in list(iam_backends.items()):
        # dict.values: the partitions' backends that exist, without AccountSpecificBackend's lazy creation.
        for backend in list(dict.values(account)):
            if access_key in backend.access_keys:
                return account_id
    return DEFAULT_ACCOUNT_ID


def signing_key(access_key: str) -> SigningKey | None:
    """The user key (``AKIA``) or AssumeRole session (``ASIA``) moto issued as `access_key`, if any."""
    account = account_of(access_key)
    backend = _backend(account)
    for user in backend.users.values():
        for key in user.access_keys:
            if key.access_key_id == access_key:
                principal = _user_principal(account, user)
                return SigningKey(access_key, key.secret_access_key, None, None, key.status == "Active", principal)
    for session in sts_backends[account]["aws"].assumed_roles:
        if session.access_key_id == access_key:
            role = next((r for r in backend.roles.values() if r.arn == session.role_arn), None)
            if role is None:
                return None
            context = {
                "aws:PrincipalArn": [role.arn],
                "aws:PrincipalAccount": [account],
                "aws:PrincipalType": ["AssumedRole"],
            }
            principal = Principal(account, session.arn, tuple(_entity_policies(role, "role")), context)
            expires = session.expiration.replace(tzinfo=datetime.timezone.utc)
            return SigningKey(access_key, session.secret_access_key, session.session_token, expires, True, principal)
    return None


def request_context(principal: Principal, region: str | None, extra: dict | None = None) -> dict:
    """The condition keys of a live request by `principal` in `region`, plus `extra`."""
    now = iam_ext.now(principal.account)
    context = dict(principal.context)
    context["aws:CurrentTime"] = [now.strftime("%Y-%m-%dT%H:%M:%SZ")]
    context["aws:EpochTime"] = [str(int(now.timestamp()))]
    if region:
        context["aws:RequestedRegion"] = [region]
    context.update(extra or {})
    return context


def authorize(principal: Principal, action: str, resources: list[str], context: dict) -> str | None:
    """None when `action` is allowed on every resource; else AWS's AccessDenied message for the first refused one."""
    if principal.policies is None:
        return None
    for resource in resources:
        decision = decide(list(principal.policies), action, resource, context, MODELLED_KEYS).decision
        if decision == EXPLICIT_DENY:
            return (
                f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource} "
                "with an explicit deny in an identity-based policy"
            )
        if decision == IMPLICIT_DENY:
            return (
                f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource} "
                f"because no identity-based policy allows the {action} action"
            )
    return None


def _resources(info: RequestInfo, account: str) -> list[str]:
    """The ARNs a request acts on, where the emulator knows them; else ``*``."""
    names = dict(info.names)
    if info.service == "iam":
        return [_iam_resource(names, info.action, account)]
    if info.service == "sts" and "RoleArn" in names:
        return [names["RoleArn"]]
    if info.service == "bedrock" and info.target:
        if info.target.startswith("arn:"):
            return [info.target]
        if info.action == "GetFoundationModel":
            return [f"arn:aws:bedrock:{info.region}::foundation-model/{info.target}"]
        if info.action == "GetInferenceProfile":
            return [f"arn:aws:bedrock:{info.region}:{account}:inference-profile/{info.target}"]
    return ["*"]


def _iam_resource(names: dict[str, str], action: str, account: str) -> str:
    """The user, role, group or policy an IAM request names (per the service authorization reference, a
    ``UserName`` makes the user the resource even beside a ``PolicyArn``, as in ``AttachUserPolicy``)."""
    backend = _backend(account)
    path = names.get("Path", "/")
    entities = (
        ("UserName", "user", backend.users),
        ("RoleName", "role", {r.name: r for r in backend.roles.values()}),
        ("GroupName", "group", backend.groups),
    )
    for key, kind, by_name in entities:
        if key in names:
            entity = by_name.get(names[key])
            return entity.arn if entity is not None else f"arn:aws:iam::{account}:{kind}{path}{names[key]}"
    if "PolicyArn" in names or "PolicySourceArn" in names:
        return names.get("PolicyArn") or names["PolicySourceArn"]
    if action == "CreatePolicy" and "PolicyName" in names:
        return f"arn:aws:iam::{account}:policy{path}{names['PolicyName']}"
    return "*"


def enforce(info: RequestInfo, environ=None):
    """An AccessDenied response when a restricted principal may not make this request, else None."""
    if not info.access_key or not info.access_key.startswith(("AKIA", "ASIA")) or not info.action:
        return None
    if (info.service, info.action) in (("sts", "GetCallerIdentity"), ("sts", "AssumeRole")):
        return None  # sts:AssumeRole: trust_ext authorises on the caller's policies and the role's trust policy
    if info.service == "bedrock-runtime":
        return None  # bedrock-runtime: runtime_ext authorises on the model, profile and project
    key = signing_key(info.access_key)
    if key is None:
        return None
    action = f"{_PREFIX.get(info.service, info.service)}:{info.action}"
    principal = key.principal
    message = authorize(principal, action, _resources(info, principal.account), request_context(principal, info.region))
    if message is None:
        return None
    code = "AccessDenied" if info.service in ("iam", "sts") else "AccessDeniedException"
    return error_response(info.service, 403, code, message)


def _simulated_policies(self, arn: str) -> list[Policy] | None:
    """The policies of the user or role `arn` names (None: the emulator's administrator)."""
    account = self.current_account
    kind_and_name = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
    kind, _, name = kind_and_name.partition("/")
    name = name.rsplit("/", 1)[-1]
    backend = _backend(account)
    if kind == "user" and name in backend.users:
        if backend.users[name].arn != arn:
            raise NotFoundException(f"The user with ARN {arn} cannot be found.")
        return list(_user_principal(account, backend.users[name]).policies)
    if kind == "role" and any(r.name == name for r in backend.roles.values()):
        role = backend.get_role(name)
        if role.arn != arn:
            raise NotFoundException(f"The role with ARN {arn} cannot be found.")
        return _entity_policies(role, "role")
    return None


def _context_entries(self) -> dict[str, list[str]]:
    return {
        entry["ContextKeyName"]: [str(v) for v in entry.get("ContextKeyValues", [])]
        for entry in self._get_param("ContextEntries", [])
    }


def _statements(decisions: list[Decision]) -> list[dict]:
    """``MatchedStatements``: the policies whose statements made the decisions, each once."""
    seen = {(policy.source_id, policy.source_type) for d in decisions for policy, _ in d.matched}
    return [{"SourcePolicyId": source, "SourcePolicyType": kind} for source, kind in sorted(seen)]


def _missing(decisions: list[Decision]) -> list[str]:
    return sorted({key for d in decisions for key in d.missing_keys})


def _overall(decisions: list[Decision]) -> str:
    """Allowed only if every resource is; an explicit deny anywhere wins."""
    kinds = {d.decision for d in decisions}
    for kind in (EXPLICIT_DENY, IMPLICIT_DENY):
        if kind in kinds:
            return kind
    return ALLOWED


def _evaluation(action: str, resources: list[str] | None, policies, context) -> dict:
    """One ``EvaluationResult``: `action` on each resource (``*`` when `resources` is None)."""
    wanted = resources or ["*"]
    if policies is None:
        decisions = [Decision(ALLOWED, (), ()) for _ in wanted]
    else:
        decisions = [decide(policies, action, resource, context) for resource in wanted]
    result = {
        "EvalActionName": action,
        "EvalResourceName": "*",
        "EvalDecision": _overall(decisions),
        "MatchedStatements": _statements(decisions),
        "MissingContextValues": _missing(decisions),
    }
    if resources:
        result["ResourceSpecificResults"] = [
            {
                "EvalResourceName": resource,
                "EvalResourceDecision": decision.decision,
                "MatchedStatements": _statements([decision]),
                "MissingContextValues": list(decision.missing_keys),
            }
            for resource, decision in zip(resources, decisions)
        ]
    return result


def simulate_principal_policy(self):
    policies = _simulated_policies(self, self._get_param("PolicySourceArn"))
    if policies is not None:
        extra = self._get_param("PolicyInputList", [])
        policies += [Policy.parse(f"PolicyInputList.{n}", "none", doc) for n, doc in enumerate(extra, 1)]
    resources = self._get_param("ResourceArns", []) or None
    context = _context_entries(self)
    results = [
        _evaluation(action, resources, policies, context) for action in self._get_param("ActionNames", [])
    ]
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def install() -> None:
    moto.iam.models.get_account_id_from = account_of
    IamResponse.simulate_principal_policy = simulate_principal_policy
