"""IAM's eventual consistency, on demand: for a while after a write, reads see the state before it.

IAM "is eventually consistent ... changes that you make are not always immediately visible"; "we recommend that
you do not include such IAM changes in the critical, high-availability code paths of your application" and
"verify that the changes have been propagated before production workflows depend on them" (IAM User Guide,
"Troubleshoot IAM: Changes that I make are not always immediately visible",
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
moto is always consistent, so code that reads right after it writes passes against moto and fails on AWS.

Off by default. ``POST /_emulator/consistency`` with ``{"stale_ms": N}`` (every account) or ``{"stale_ms": N,
"account": "<12 digits>"}`` (one account; it wins over the every-account setting) makes IAM answer, for N
milliseconds (real time) after a write, as if the write had not happened yet; ``"stale_ms": 0`` turns it off
again; ``GET /_emulator/consistency`` -> ``{"stale_ms": {"*": N, "<account>": N}}``; ``reset`` turns it off.

What is stale, per IAM user, as of N ms ago (the state before the oldest write of the last N ms):

- writes remembered: ``CreateUser``, ``TagUser``, ``UntagUser``, ``CreateServiceSpecificCredential``,
  ``UpdateServiceSpecificCredential``, ``ResetServiceSpecificCredential``, ``DeleteServiceSpecificCredential``;
- reads that see the old state (:data:`READS`): ``GetUser`` (existence and tags), ``ListUsers``,
  ``ListUserTags``, ``ListServiceSpecificCredentials`` (its user's existence and credentials),
  ``GetAccountAuthorizationDetails`` (users and their tags);
- writes that look the user up and may not find a just-created one (:data:`LOOKUPS`): ``TagUser``,
  ``UntagUser``, ``AttachUserPolicy`` answer ``NoSuchEntity`` ("The user with name X cannot be found.", moto's
  text) as a read would.

Writes always act on the current state; ``DeleteUser`` is not made stale.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import time

from moto.iam.exceptions import NoSuchEntity
from moto.iam.models import IAMBackend, User
from moto.iam.responses import IamResponse

from . import access_ext, iam_ext
from .protocol import RequestInfo

READS = frozenset({"GetUser", "ListUsers", "ListUserTags", "ListServiceSpecificCredentials",
                   "GetAccountAuthorizationDetails"})
LOOKUPS = frozenset({"TagUser", "UntagUser", "AttachUserPolicy"})
_CREDENTIAL_WRITES = ("create_service_specific_credential", "update_service_specific_credential",
                      "reset_service_specific_credential", "delete_service_specific_credential")

_lock = threading.Lock()
_stale: dict[str, float] = {}  # account (or "*") -> seconds
_history: dict[tuple[str, str], list[tuple[float, dict]]] = {}  # (account, user) -> [(when, state before)]
_view = threading.local()  # .at: monotonic time of the request being served when it reads stale, else None


def reset() -> None:
    with _lock:
        _stale.clear()
        _history.clear()


def control(command: str, method: str, environ, read_body):
    if command == "consistency" and method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        stale_ms, account = float(data["stale_ms"]), str(data.get("account", "*"))
        if stale_ms < 0:
            raise ValueError("stale_ms must be 0 (consistent) or more")
        with _lock:
            _stale[account] = stale_ms / 1000
        return {"stale_ms": stale_ms, "account": account}
    if command == "consistency" and method == "GET":
        with _lock:
            return {"stale_ms": {account: seconds * 1000 for account, seconds in _stale.items()}}
    return None


def _seconds(account: str) -> float:
    with _lock:
        return _stale.get(account, _stale.get("*", 0.0))


def enforce(info: RequestInfo, environ=None):
    """Mark the request (thread) as reading stale when it is a read or lookup of an account that reads stale.
    Every served request passes here (the server runs each request on its own thread), so the mark is fresh."""
    stale = info.service == "iam" and info.action in READS | LOOKUPS and bool(info.access_key)
    account = _account(info.access_key) if stale else None
    _view.at = time.monotonic() if account is not None and _seconds(account) > 0 else None
    return None


def _account(access_key: str) -> str:
    return access_key if access_key.isdigit() and len(access_key) == 12 else access_ext.account_of(access_key)


def visible(account: str, user_name: str) -> dict | None:
    """The user's state as the request being served sees it, when that is not the current one: ``{"exists",
    "tags", "credentials"}`` before the oldest write within the stale window; else None."""
    at = getattr(_view, "at", None)
    if at is None:
        return None
    horizon = at - _seconds(account)
    with _lock:
        return next((before for when, before in _history.get((account, user_name), []) if when > horizon), None)


def _snapshot(backend, user_name: str) -> dict:
    user = backend.users.get(user_name)
    with iam_ext._lock:
        credentials = copy.deepcopy(iam_ext._credentials.get((backend.account_id, user_name), []))
    tags = dict(backend.tagger.tags.get(user.arn, {})) if user is not None else {}
    return {"exists": user is not None, "tags": tags, "credentials": credentials}


def _remember(account: str, user_name: str, before: dict) -> None:
    now = time.monotonic()
    horizon = now - _seconds(account)
    with _lock:
        kept = [entry for entry in _history.get((account, user_name), []) if entry[0] > horizon]
        _history[(account, user_name)] = kept + [(now, before)]


def _remembering(write, user_name_of):
    """`write` (a backend method or a response handler), remembering the user's state before it succeeds."""

    @functools.wraps(write)
    def wrapper(self, *args, **kwargs):
        backend = getattr(self, "backend", self)
        name = user_name_of(self, args, kwargs)
        before = _snapshot(backend, name) if name and _seconds(backend.account_id) > 0 else None
        result = write(self, *args, **kwargs)
        if before is not None:
            _remember(backend.account_id, name, before)
        return result

    wrapper.bpemu_consistency = True
    return wrapper


# -- reads, as the request sees them ------------------------------------------------------------------------


def _get_user(original):
    @functools.wraps(original)
    def get_user(self, name: str):
        before = visible(self.account_id, name)
        if before is not None and not before["exists"]:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
        return original(self, name)

    return get_user


def _without_hidden(original, key: str | None):
    """A backend listing of users (the result, or its `key`) without the users the request cannot see yet."""

    @functools.wraps(original)
    def listing(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        users = result if key is None else result[key]
        shown = [u for u in users if (visible(self.account_id, u.name) or {"exists": True})["exists"]]
        return shown if key is None else {**result, key: shown}

    return listing


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _list_user_tags(original):
    @functools.wraps(original)
    def list_user_tags(self, user_name: str):
        self.get_user(user_name)
        before = visible(self.account_id, user_name)
        return _tag_list(before["tags"]) if before is not None else original(self, user_name)

    return list_user_tags


def _user_tags(original: property) -> property:
    def tags(self):
        before = visible(self.account_id, self.name)
        if before is not None and before["exists"]:
            return _tag_list(before["tags"]) or None
        return original.fget(self)

    return property(tags)


def credentials(account: str, user_name: str, current: list[dict]) -> list[dict]:
    """A user's service-specific credentials as the request sees them (:mod:`bpemu.iam_ext` calls this)."""
    before = visible(account, user_name)
    return before["credentials"] if before is not None else current


def install() -> None:
    """Wrap moto's IAM backend and the credential actions (once, however often this runs; after tags_ext)."""
    if getattr(IAMBackend.get_user, "bpemu_consistency", False):
        return
    by_name = lambda self, args, kwargs: kwargs.get("name", args[0] if args else None)  # noqa: E731
    IAMBackend.create_user = _remembering(
        IAMBackend.create_user, lambda self, args, kwargs: kwargs.get("user_name", args[1] if len(args) > 1 else None))
    IAMBackend.tag_user = _remembering(IAMBackend.tag_user, by_name)
    IAMBackend.untag_user = _remembering(IAMBackend.untag_user, by_name)
    for name in _CREDENTIAL_WRITES:
        setattr(IamResponse, name, _remembering(getattr(IamResponse, name),
                                                lambda self, args, kwargs: self._get_param("UserName")))
    IAMBackend.get_user = _get_user(IAMBackend.get_user)
    IAMBackend.get_user.bpemu_consistency = True
    IAMBackend.list_users = _without_hidden(IAMBackend.list_users, None)
    IAMBackend.get_account_authorization_details = _without_hidden(IAMBackend.get_account_authorization_details,
                                                                   "users")
    IAMBackend.list_user_tags = _list_user_tags(IAMBackend.list_user_tags)
    User.tags = _user_tags(User.tags)
    iam_ext.visible_credentials = credentials
