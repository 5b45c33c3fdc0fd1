"""IAM user tag keys, case-insensitive as in IAM.

The IAM User Guide, "Tagging IAM resources", Rules for tagging / Naming tags / Case sensitivity
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html; also awsdocs/iam-user-guide,
doc_source/id_tags.md): "Tag key values for IAM users and roles are not case sensitive, but case is
preserved. This means that you cannot have separate Department and department tag keys. If you have tagged a
user with the Department=finance tag and you add the department=hr tag, it replaces the first tag. A second
tag is not added." (Other IAM resource types - policies, instance profiles, OIDC/SAML providers, server
certificates, virtual MFA devices - keep case-sensitive keys; this module touches users only.)

moto 5.2.5 keeps a user's tags in ``IAMBackend.tagger`` (a ``TaggingService``: ARN -> {key: value}) and
compares keys exactly: ``TagUser`` with ``managed-by`` beside ``Managed-By`` adds a second tag, ``UntagUser``
misses the other case, and user tags have no checks at all. ``install()`` replaces the backend's
``tag_user`` and ``untag_user`` and wraps ``create_user`` (``ListUserTags`` and ``GetUser`` read the tagger,
so they follow; no action is added to a response class, so ``test_shapes.py`` has no case for this module):

- a key already present in another case is replaced: one tag remains, with the new value and the key as the
  request spells it. IAM keeps the newest spelling: ``tag-role Test=1`` then ``tag-role test=1`` lists only
  ``test`` (a CLI transcript against real IAM in aws/aws-cdk#26253; users follow the same rule per the guide);
- one ``CreateUser``/``TagUser`` request naming a key twice, in any case, is refused with moto's
  ``DuplicateTags``: ``InvalidInput`` (HTTP 400) "Duplicate tag keys found. Please note that Tag keys are case
  insensitive.", the text real IAM returns (seen in terraform-aws-modules/terraform-aws-rds-aurora#189);
  moto's role checks (``IAMBackend._tag_verification``) also refuse more than 50 tags in one request, a key
  over 128 characters or outside the key pattern, and a value over 256 characters;
- ``UntagUser`` removes a key named in any case;
- a user has at most 50 tags (IAM quotas), counted case-insensitively after the merge: more answers
  ``LimitExceeded`` (HTTP 409, one of TagUser's modelled errors) and changes nothing. The message is the
  emulator's, after IAM's "Cannot exceed quota for <Quota>: <n>" form; IAM's own text for this is not known.
"""

from __future__ import annotations

from moto.iam.exceptions import LimitExceededException
from moto.iam.models import IAMBackend

MAX_TAGS_PER_USER = 50

_original_create_user = None


def install() -> None:
    """Patch moto's IAM backend (once, however often this runs)."""
    global _original_create_user
    if _original_create_user is None:
        _original_create_user = IAMBackend.create_user
    IAMBackend.create_user = create_user
    IAMBackend.tag_user = tag_user
    IAMBackend.untag_user = untag_user


def merged(current: dict[str, str], tags: list[dict[str, str]]) -> dict[str, str]:
    """`current` with `tags` applied: a key present in another case is replaced in place by the request's."""
    result = dict(current)
    for tag in tags:
        key = tag["Key"]
        old = next((k for k in result if k.lower() == key.lower()), None)
        if old is not None and old != key:
            result = {key if k == old else k: v for k, v in result.items()}
        result[key] = tag.get("Value", "")
    return result


def create_user(self, region_name, user_name, path="/", tags=None):
    self._tag_verification(tags or [])  # before the user exists: a refused request creates nothing
    return _original_create_user(self, region_name, user_name, path=path, tags=tags)


def tag_user(self, name: str, tags: list[dict[str, str]]) -> None:
    user = self.get_user(name)
    self._tag_verification(tags)
    result = merged(self.tagger.tags.get(user.arn, {}), tags)
    if len(result) > MAX_TAGS_PER_USER:
        raise LimitExceededException(f"Cannot exceed quota for TagsPerUser: {MAX_TAGS_PER_USER}.")
    self.tagger.tags[user.arn] = result


def untag_user(self, name: str, tag_keys: list[str]) -> None:
    user = self.get_user(name)
    unwanted = {key.lower() for key in tag_keys}
    current = self.tagger.tags.get(user.arn, {})
    self.tagger.tags[user.arn] = {k: v for k, v in current.items() if k.lower() not in unwanted}
