"""IAM policy evaluation for restricted principals, and ``SimulatePrincipalPolicy``, both on moto's own
policy evaluator (``moto.iam.access_control.IAMPolicy``).

- Requests signed with an access key that moto IAM issued to a user (``AKIA...``) are checked against that
  user's policies (inline, attached, and through groups), and requests signed with an ``ASIA...`` key from
  ``AssumeRole`` against the role's policies: a denied action answers ``AccessDenied`` (IAM, STS) or
  ``AccessDeniedException`` (JSON services) with AWS's message. ``sts:GetCallerIdentity`` is always
  allowed, as in AWS. The emulator's own 12-digit account keys act as the account's administrator.
- Finding the account of a key looks only at IAM backends that exist. moto's own lookup indexes
  every account by every partition, which creates (and fills with the AWS managed policies) an IAM backend
  per account and partition: with a hundred test accounts one lookup took over ten seconds.
- ``SimulatePrincipalPolicy`` evaluates ``ActionNames`` for a user or role ARN the same way. The ARN must be
  the entity's own, path included, as in IAM: a role's ARN without its path answers ``NoSuchEntity``. A
  principal that is not an IAM user or role of the account (the emulator's administrator) is allowed
  everything.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.iam.access_control import IAMPolicy, PermissionResult
import moto.iam.models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.iam.responses import IamResponse
from moto.sts.models import sts_backends

from .protocol import RequestInfo, error_response

# Signing name -> IAM action prefix, where they differ.
_PREFIX = {"ce": "ce", "monitoring": "cloudwatch"}


def _backend(account: str):
    return iam_backends[account]["aws"]


def _user_policies(account: str, user_name: str) -> list:
    backend = _backend(account)
    policies = [backend.get_user_policy(user_name, n) for n in backend.list_user_policies(user_name)]
    policies += backend.list_attached_user_policies(user_name)[0]
    for group in backend.get_groups_for_user(user_name):
        policies += [backend.get_group_policy(group.name, n) for n in backend.list_group_policies(group.name)]
        policies += backend.list_attached_group_policies(group.name)[0]
    return policies


def _role_policies(account: str, role_name: str) -> list:
    backend = _backend(account)
    role = backend.get_role(role_name)
    policies = [{"policy_document": doc} for doc in role.policies.values()]
    policies += list(role.managed_policies.values())
    return policies


def _decision(policies: list, action: str) -> str:
    allowed = False
    for policy in policies:
        result = IAMPolicy(policy).is_action_permitted(action)
        if result == PermissionResult.DENIED:
            return "explicitDeny"
        if result == PermissionResult.PERMITTED:
            allowed = True
    return "allowed" if allowed else "implicitDeny"


def account_of(access_key: str) -> str:
    """The account whose IAM issued ``access_key``, else moto's default account; creates no backend."""
    for account_id, account in list(iam_backends.items()):
        # dict.values: the partitions' backends that exist, without AccountSpecificBackend's lazy creation.
        for backend in list(dict.values(account)):
            if access_key in backend.access_keys:
                return account_id
    return DEFAULT_ACCOUNT_ID


def _key_owner(access_key: str) -> tuple[str, str, list] | None:
    """(account, principal ARN as AWS names it in errors, policies) of a key moto issued, if any."""
    account = account_of(access_key)
    backend = _backend(account)
    for user in backend.users.values():
        if any(key.access_key_id == access_key for key in user.access_keys):
            return account, user.arn, _user_policies(account, user.name)
    for session in sts_backends[account]["aws"].assumed_roles:
        if session.access_key_id == access_key:
            role = next((r for r in backend.roles.values() if r.arn == session.role_arn), None)
            if role is None:
                return None
            return account, session.arn, _role_policies(account, role.name)
    return None


def enforce(info: RequestInfo):
    """An AccessDenied response when a restricted principal may not call this action, else None."""
    if not info.access_key or not info.access_key.startswith(("AKIA", "ASIA")) or not info.action:
        return None
    if (info.service, info.action) == ("sts", "GetCallerIdentity"):
        return None
    owner = _key_owner(info.access_key)
    if owner is None:
        return None
    _, principal, policies = owner
    action = f"{_PREFIX.get(info.service, info.service)}:{info.action}"
    if _decision(policies, action) == "allowed":
        return None
    code = "AccessDenied" if info.service in ("iam", "sts") else "AccessDeniedException"
    message = (
        f"User: {principal} is not authorized to perform: {action} on resource: * "
        "because no identity-based policy allows the {action} action"
    ).replace("{action}", action)
    return error_response(info.service, 403, code, message)


def simulate_principal_policy(self):
    arn = self._get_param("PolicySourceArn")
    actions = self._get_param("ActionNames", [])
    account = self.current_account
    kind_and_name = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
    kind, _, name = kind_and_name.partition("/")
    name = name.rsplit("/", 1)[-1]
    backend = _backend(account)
    if kind == "user" and name in backend.users:
        if backend.users[name].arn != arn:
            raise NotFoundException(f"The user with ARN {arn} cannot be found.")
        policies = _user_policies(account, name)
    elif kind == "role" and any(r.name == name for r in backend.roles.values()):
        if backend.get_role(name).arn != arn:
            raise NotFoundException(f"The role with ARN {arn} cannot be found.")
        policies = _role_policies(account, name)
    else:
        policies = None  # the emulator's administrator
    results = [
        {
            "EvalActionName": action,
            "EvalResourceName": "*",
            "EvalDecision": "allowed" if policies is None else _decision(policies, action),
            "MatchedStatements": [],
            "MissingContextValues": [],
        }
        for action in actions
    ]
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def install() -> None:
    moto.iam.models.get_account_id_from = account_of
    IamResponse.simulate_principal_policy = simulate_principal_policy
