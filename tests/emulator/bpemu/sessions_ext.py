"""Role sessions expire on the emulator's clock, as AWS's do.

An ``AssumeRole`` session lasts ``DurationSeconds`` (default 3600; the STS API reference for AssumeRole:
"By default, the value is set to 3600 seconds",
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). moto records the session's end but
never checks it. Here every request signed with a session's ``ASIA`` key after that end, on the emulator clock
of the session's account (:func:`bpemu.iam_ext.now`; ``POST /_emulator/clock`` with ``"account"`` moves it), is
refused before anything else, with HTTP 403 and "The security token included in the request is expired": code
``ExpiredTokenException`` from the JSON services (Cost Explorer, Budgets, Service Quotas, Secrets Manager,
Bedrock, bedrock-runtime), as AWS's "Common Errors" document it ("ExpiredTokenException: The security token
included in the request is expired. HTTP status code: 403",
https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html, and each service's Common Errors
page, e.g. https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html), and ``ExpiredToken`` in an
XML error from IAM and STS (query protocol), the code those services answer on the wire ("An error occurred
(ExpiredToken) when calling the GetCallerIdentity operation: The security token included in the request is
expired"; the STS model's own ``ExpiredTokenException`` is AssumeRoleWithWebIdentity's expired web identity
token, another error).

A session starts on the emulator clock too: moto dates a session's end from real time, so ``install()`` moves
it by the account's clock offset when the session is made (an account whose clock is two days ahead gets a
session that ends an hour after the emulator's now, and AssumeRole's ``Expiration`` says so).

A short-term Bedrock API key signed by a session ends with the session too; :mod:`bpemu.runtime_ext` answers
that one as Bedrock does (an invalid API key).
"""

from __future__ import annotations

import functools

from moto.sts.models import STSBackend

from . import access_ext, iam_ext
from .protocol import QUERY_SERVICES, RequestInfo, error_response

EXPIRED = "The security token included in the request is expired"


def install() -> None:
    """Date every new session on the emulator clock of its account (once, however often this runs)."""
    if not getattr(STSBackend.assume_role, "bpemu_clock", False):
        STSBackend.assume_role = _on_the_emulator_clock(STSBackend.assume_role)


def _on_the_emulator_clock(assume_role):
    @functools.wraps(assume_role)
    def wrapper(self, *args, **kwargs):
        session = assume_role(self, *args, **kwargs)
        session.expiration += iam_ext.offset(session.account_id)
        return session

    wrapper.bpemu_clock = True
    return wrapper


def enforce(info: RequestInfo, environ=None):
    """AWS's expired-token error for a request signed with a session that has ended, else None."""
    if not info.access_key or not info.access_key.startswith("ASIA"):
        return None
    key = access_ext.signing_key(info.access_key)
    if key is None or key.expires is None or iam_ext.now(key.principal.account) < key.expires:
        return None
    code = "ExpiredToken" if info.service in QUERY_SERVICES else "ExpiredTokenException"
    return error_response(info.service, 403, code, EXPIRED)
