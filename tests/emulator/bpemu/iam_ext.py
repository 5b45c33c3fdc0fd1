"""IAM service-specific credentials (Bedrock API keys among them), written against botocore's IAM model.

Actions: CreateServiceSpecificCredential, ListServiceSpecificCredentials, UpdateServiceSpecificCredential,
ResetServiceSpecificCredential, DeleteServiceSpecificCredential, with AWS's errors (NoSuchEntity 404,
LimitExceeded 409 on a third credential for one service, NotSupportedService 404; ValidationError 400 for
an age outside 1-36600 days comes from :mod:`bpemu.validation_ext`, like every input-shape violation).
A credential reads ``Expired`` once the emulator clock passes its expiration.

ListUsers is moto's (``PathPrefix`` honoured) made to page as AWS does: ``MaxItems`` (default 100) and an opaque
``Marker``, with ``IsTruncated``; moto 5.2.5 ignores both and answers every user at once.

GetAccountAuthorizationDetails is moto's (users with their tags, groups, roles, managed policies, ``Filter``
honoured) made to page as AWS does: ``MaxItems`` (1-1000, default 100; out of range is ``ValidationError`` 400
from :mod:`bpemu.validation_ext`) and ``Marker``; moto 5.2.5 ignores both and answers everything at once.

A user's Bedrock credentials share one alias, ``<UserName>-at-<AccountId>``, as on AWS; the key is
``ABSK`` + base64(``alias:secret``), so a key value tells the user and account, not which credential it is.

Clock control: ``POST /_emulator/clock`` with ``{"advance_days": N}`` or ``{"offset_seconds": S}`` moves the
emulator's notion of now (for expiry) relative to real time; with ``"account": "<12 digits>"`` only for that
account (so parallel tests do not disturb each other); ``reset`` puts every clock back.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import secrets
import string
import threading

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.iam.responses import IamResponse

SUPPORTED_SERVICES = {"bedrock.amazonaws.com", "codecommit.amazonaws.com", "cassandra.amazonaws.com"}
MAX_PER_SERVICE = 2

_lock = threading.Lock()
# account id (or "*" for all accounts) -> offset from real time
_offsets: dict[str, datetime.timedelta] = {}
# (account id, user name) -> list of credentials (dicts)
_credentials: dict[tuple[str, str], list[dict]] = {}


def visible_credentials(account: str, user_name: str, current: list[dict]) -> list[dict]:
    """A user's credentials as the request being served sees them: `current`, unless :mod:`bpemu.consistency`
    (which replaces this function) makes the read stale."""
    return current


class NoSuchEntity(ServiceException):
    code = "NoSuchEntity"


class LimitExceeded(ServiceException):
    code = "LimitExceeded"


class NotSupportedService(ServiceException):
    code = "NotSupportedService"


class ValidationError(ServiceException):
    code = "ValidationError"


def offset(account: str = "*") -> datetime.timedelta:
    """How far `account`'s emulator clock is from real time."""
    return _offsets.get(account, _offsets.get("*", datetime.timedelta()))


def now(account: str = "*") -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) + offset(account)


def reset() -> None:
    with _lock:
        _offsets.clear()
        _credentials.clear()


def control(command: str, method: str, environ, read_body):
    if command == "clock" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        account = data.get("account", "*")
        with _lock:
            offset = _offsets.get(account, datetime.timedelta())
            if "offset_seconds" in data:
                offset = datetime.timedelta(seconds=float(data["offset_seconds"]))
            if "advance_days" in data:
                offset += datetime.timedelta(days=float(data["advance_days"]))
            _offsets[account] = offset
        return {"now": now(account).isoformat()}
    if command == "clock" and method == "GET":
        return {"now": now().isoformat()}
    return None


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _status(credential: dict) -> str:
    expiration = credential.get("ExpirationDate")
    if expiration is not None and now(credential["Account"]) >= expiration:
        return "Expired"
    return credential["Status"]


def _public(credential: dict, with_secret: bool = False) -> dict:
    hidden = ("ServiceCredentialSecret", "ServicePassword", "Account")
    shown = {k: v for k, v in credential.items() if k not in hidden}
    shown["Status"] = _status(credential)
    if with_secret:
        for key in ("ServiceCredentialSecret", "ServicePassword"):
            if key in credential:
                shown[key] = credential[key]
    return shown


def _user(self, name: str | None):
    if not name:
        raise ValidationError("UserName is required.")
    try:
        return self.backend.get_user(name)
    except Exception:
        raise NoSuchEntity(f"The user with name {name} cannot be found.") from None


def _find(self, user_name: str, credential_id: str) -> dict:
    for credential in _credentials.get((self.current_account, user_name), []):
        if credential["ServiceSpecificCredentialId"] == credential_id:
            return credential
    raise NoSuchEntity(f"No such credential {credential_id} for user {user_name}.")


def _new_secret(credential: dict) -> None:
    if credential["ServiceName"] == "bedrock.amazonaws.com":
        secret = _random(string.ascii_letters + string.digits + "+/", 40)
        raw = f"{credential['ServiceCredentialAlias']}:{secret}".encode()
        credential["ServiceCredentialSecret"] = "ABSK" + base64.b64encode(raw).decode()
    else:
        credential["ServicePassword"] = _random(string.ascii_letters + string.digits + "+/=", 44)


def create_service_specific_credential(self):
    user = _user(self, self._get_param("UserName"))
    service = self._get_param("ServiceName")
    age = self._get_param("CredentialAgeDays")
    if service not in SUPPORTED_SERVICES:
        raise NotSupportedService(f"The service {service} is not supported for service-specific credentials.")
    with _lock:
        existing = _credentials.setdefault((self.current_account, user.name), [])
        if sum(1 for c in existing if c["ServiceName"] == service) >= MAX_PER_SERVICE:
            raise LimitExceeded(
                f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {MAX_PER_SERVICE}"
            )
        created = now(self.current_account)
        credential = {
            "Account": self.current_account,
            "UserName": user.name,
            "ServiceName": service,
            "ServiceSpecificCredentialId": "ACCA" + _random(string.ascii_uppercase + string.digits, 17),
            "Status": "Active",
            "CreateDate": created,
        }
        alias_key = "ServiceCredentialAlias" if service == "bedrock.amazonaws.com" else "ServiceUserName"
        credential[alias_key] = f"{user.name}-at-{self.current_account}"
        if age is not None:
            credential["ExpirationDate"] = created + datetime.timedelta(days=int(age))
        _new_secret(credential)
        existing.append(credential)
        return ActionResult({"ServiceSpecificCredential": _public(credential, with_secret=True)})


def list_service_specific_credentials(self):
    user_name = self._get_param("UserName")
    service = self._get_param("ServiceName")
    all_users = str(self._get_param("AllUsers")).lower() == "true"
    marker = self._get_param("Marker")
    max_items = int(self._get_param("MaxItems") or 100)
    if service is not None and service not in SUPPORTED_SERVICES:
        raise NotSupportedService(f"The service {service} is not supported for service-specific credentials.")
    with _lock:
        if all_users:
            found = [c for (account, user), creds in _credentials.items() if account == self.current_account
                     for c in visible_credentials(account, user, creds)]
        else:
            if user_name:
                _user(self, user_name)
            name = user_name or ""
            mine = _credentials.get((self.current_account, name), [])
            found = list(visible_credentials(self.current_account, name, mine))
        found = [c for c in found if service is None or c["ServiceName"] == service]
        found.sort(key=lambda c: (c["UserName"], c["CreateDate"], c["ServiceSpecificCredentialId"]))
        start = int(marker) if marker else 0
        page = found[start : start + max_items]
        result = {"ServiceSpecificCredentials": [_public(c) for c in page], "IsTruncated": False}
        if start + max_items < len(found):
            result["IsTruncated"] = True
            result["Marker"] = str(start + max_items)
        return ActionResult(result)


def update_service_specific_credential(self):
    user_name = self._get_param("UserName")
    _user(self, user_name)
    status = self._get_param("Status")
    if status not in ("Active", "Inactive"):
        raise ValidationError("Status must be Active or Inactive.")
    with _lock:
        _find(self, user_name, self._get_param("ServiceSpecificCredentialId"))["Status"] = status
    return EmptyResult()


def reset_service_specific_credential(self):
    user_name = self._get_param("UserName")
    _user(self, user_name)
    with _lock:
        credential = _find(self, user_name, self._get_param("ServiceSpecificCredentialId"))
        _new_secret(credential)
        return ActionResult({"ServiceSpecificCredential": _public(credential, with_secret=True)})


def delete_service_specific_credential(self):
    user_name = self._get_param("UserName")
    _user(self, user_name)
    credential_id = self._get_param("ServiceSpecificCredentialId")
    with _lock:
        credential = _find(self, user_name, credential_id)
        _credentials[(self.current_account, user_name)].remove(credential)
    return EmptyResult()


# GetAccountAuthorizationDetails (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html)
DEFAULT_MAX_ITEMS = 100  # "If you do not include this parameter, the number of items defaults to 100."
_SECTIONS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
_MARKER_PREFIX = "bpemu-aad:"


def _aad_marker(offset: int, prefix: str = _MARKER_PREFIX) -> str:
    return base64.urlsafe_b64encode(f"{prefix}{offset}".encode()).decode()


def _aad_offset(marker: str | None, prefix: str = _MARKER_PREFIX,
                operation: str = "GetAccountAuthorizationDetails") -> int:
    if not marker:
        return 0
    try:
        text = base64.urlsafe_b64decode(marker.encode()).decode()
        if text.startswith(prefix) and text[len(prefix):].isdigit():
            return int(text[len(prefix):])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    # The text is the emulator's: AWS's answer to a marker it did not issue is not documented.
    raise ValidationError(f"Invalid Marker: it was not returned by {operation}.")


def list_users(self):
    """ListUsers (https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListUsers.html): moto's users, paged
    by ``MaxItems`` (1-1000, default 100) and ``Marker``, in moto's order (creation)."""
    users = list(self.backend.list_users(self._get_param("PathPrefix"), None, None))
    start = _aad_offset(self._get_param("Marker"), "bpemu-users:", "ListUsers")
    end = start + int(self._get_param("MaxItems") or DEFAULT_MAX_ITEMS)
    result = {"Users": users[start:end], "IsTruncated": end < len(users)}
    if result["IsTruncated"]:
        result["Marker"] = _aad_marker(end, "bpemu-users:")
    return ActionResult(result)


def get_account_authorization_details(self):
    """moto's answer, paged. ``MaxItems`` counts the items of the four lists together, as botocore's
    paginator for this operation models it (its ``result_key`` is all four lists, merged across pages): the
    entities of the account, filtered, are taken in one sequence - users, then groups, roles and managed
    policies - and each page is the next ``MaxItems`` of it, so a page may end in the users and the next go on
    into the groups. AWS documents the paging and the default of 100 but neither the order of the entities nor
    how a page splits between the lists, and says IAM "might return fewer results, even when there are more
    results available": a client must follow ``IsTruncated``/``Marker``, never count items. The order here is
    moto's (creation order) for users, groups and roles, and policy ARN for the policies (moto's set-based
    ``LocalManagedPolicy`` filter has no stable order). The ``Marker`` is opaque, an offset into that sequence,
    so an entity created or deleted between two pages can shift what the next page starts with (as with
    ListServiceSpecificCredentials here)."""
    found = self.backend.get_account_authorization_details(self._get_param("Filter", []))
    everything = zip(_SECTIONS, (list(found["users"]), list(found["groups"]), list(found["roles"]),
                                 sorted(found["managed_policies"], key=lambda p: p.arn)))
    max_items = int(self._get_param("MaxItems") or DEFAULT_MAX_ITEMS)
    start = _aad_offset(self._get_param("Marker"))
    end = start + max_items
    result: dict = {}
    position = 0
    for section, items in everything:
        result[section] = items[max(start - position, 0) : max(end - position, 0)]
        position += len(items)
    result["IsTruncated"] = end < position
    if result["IsTruncated"]:
        result["Marker"] = _aad_marker(end)
    return ActionResult(result)


def install() -> None:
    """Register the actions on moto's IAM response class."""
    IamResponse.create_service_specific_credential = create_service_specific_credential
    IamResponse.list_service_specific_credentials = list_service_specific_credentials
    IamResponse.update_service_specific_credential = update_service_specific_credential
    IamResponse.reset_service_specific_credential = reset_service_specific_credential
    IamResponse.delete_service_specific_credential = delete_service_specific_credential
    IamResponse.get_account_authorization_details = get_account_authorization_details
    IamResponse.list_users = list_users
