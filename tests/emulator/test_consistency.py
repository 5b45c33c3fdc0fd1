"""Contract tests of IAM's eventual consistency on demand (:mod:`bpemu.consistency`).

IAM User Guide, "Troubleshoot IAM: Changes that I make are not always immediately visible"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency):
IAM "is eventually consistent ... changes that you make are not always immediately visible", so a client must
not assume that a read right after a write sees it. ``POST /_emulator/consistency {"stale_ms", "account"}`` makes
the emulator's IAM answer reads, for that long after a write, with the state before the write.
"""

import time

import pytest

STALE_MS = 1500
BEDROCK_KEYS = "bedrock.amazonaws.com"


@pytest.fixture
def stale(emulator, account):
    """`account` reads IAM as of STALE_MS ago (only that account), until the test ends."""
    assert emulator.control("POST", "consistency", {"stale_ms": STALE_MS, "account": account}) == {
        "stale_ms": STALE_MS, "account": account}
    yield emulator.client("iam", account, retry=False)
    emulator.control("POST", "consistency", {"stale_ms": 0, "account": account})


def eventually(check, timeout_s: float = STALE_MS / 1000 + 10):
    """Wait until `check()` is true (the write has become visible)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the write never became visible"
        time.sleep(0.1)


def code_of(call, **kwargs) -> str | None:
    try:
        call(**kwargs)
    except Exception as error:  # noqa: BLE001 - botocore's ClientError subclasses per code
        return error.response["Error"]["Code"]
    return None


def tags(iam, user: str) -> dict:
    return {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}


def test_reads_are_consistent_by_default(emulator, account):
    iam = emulator.client("iam", account, retry=False)
    iam.create_user(UserName="u", Tags=[{"Key": "a", "Value": "1"}])
    assert iam.get_user(UserName="u")["User"]["Tags"] == [{"Key": "a", "Value": "1"}]
    assert emulator.control("GET", "consistency")["stale_ms"].get(account, 0) == 0


def test_a_just_created_user_is_not_found_yet(emulator, account, other_account, stale):
    """GetUser, ListUserTags and ListServiceSpecificCredentials answer NoSuchEntity, TagUser and AttachUserPolicy
    too; ListUsers and GetAccountAuthorizationDetails leave the user out; then the user appears. Another account
    reads fresh."""
    iam = stale
    iam.create_user(UserName="new", Tags=[{"Key": "a", "Value": "1"}])
    assert code_of(iam.get_user, UserName="new") == "NoSuchEntity"
    assert code_of(iam.list_user_tags, UserName="new") == "NoSuchEntity"
    assert code_of(iam.list_service_specific_credentials, UserName="new") == "NoSuchEntity"
    assert code_of(iam.tag_user, UserName="new", Tags=[{"Key": "b", "Value": "2"}]) == "NoSuchEntity"
    assert code_of(iam.attach_user_policy, UserName="new",
                   PolicyArn="arn:aws:iam::aws:policy/AmazonBedrockLimitedAccess") == "NoSuchEntity"
    assert iam.list_users()["Users"] == []
    assert iam.get_account_authorization_details(Filter=["User"])["UserDetailList"] == []
    other = emulator.client("iam", other_account, retry=False)
    other.create_user(UserName="new")
    assert other.get_user(UserName="new")["User"]["UserName"] == "new", "only the chosen account reads stale"
    eventually(lambda: code_of(iam.get_user, UserName="new") is None)
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["new"]
    assert tags(iam, "new") == {"a": "1"}, "the refused TagUser changed nothing"


def test_tags_and_credentials_read_as_they_were(emulator, account):
    iam = emulator.client("iam", account, retry=False)
    iam.create_user(UserName="u", Tags=[{"Key": "a", "Value": "1"}])
    emulator.control("POST", "consistency", {"stale_ms": STALE_MS, "account": account})
    try:
        iam.tag_user(UserName="u", Tags=[{"Key": "b", "Value": "2"}])
        assert tags(iam, "u") == {"a": "1"}
        assert iam.get_user(UserName="u")["User"]["Tags"] == [{"Key": "a", "Value": "1"}]
        [detail] = iam.get_account_authorization_details(Filter=["User"])["UserDetailList"]
        assert detail["Tags"] == [{"Key": "a", "Value": "1"}]
        eventually(lambda: tags(iam, "u") == {"a": "1", "b": "2"})

        created = iam.create_service_specific_credential(UserName="u", ServiceName=BEDROCK_KEYS)
        credential_id = created["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
        assert iam.list_service_specific_credentials(UserName="u")["ServiceSpecificCredentials"] == []
        assert iam.list_service_specific_credentials(AllUsers=True)["ServiceSpecificCredentials"] == []
        listed = lambda: iam.list_service_specific_credentials(UserName="u")["ServiceSpecificCredentials"]  # noqa: E731
        eventually(lambda: [c["Status"] for c in listed()] == ["Active"])

        iam.update_service_specific_credential(UserName="u", ServiceSpecificCredentialId=credential_id,
                                               Status="Inactive")
        assert [c["Status"] for c in listed()] == ["Active"]
        eventually(lambda: [c["Status"] for c in listed()] == ["Inactive"])
        iam.delete_service_specific_credential(UserName="u", ServiceSpecificCredentialId=credential_id)
        assert [c["ServiceSpecificCredentialId"] for c in listed()] == [credential_id]
        eventually(lambda: listed() == [])
        iam.untag_user(UserName="u", TagKeys=["a"])
        assert tags(iam, "u") == {"a": "1", "b": "2"}
        eventually(lambda: tags(iam, "u") == {"b": "2"})
    finally:
        emulator.control("POST", "consistency", {"stale_ms": 0, "account": account})
    iam.tag_user(UserName="u", Tags=[{"Key": "c", "Value": "3"}])
    assert tags(iam, "u") == {"b": "2", "c": "3"}, "off again: reads are fresh"


def test_reset_turns_stale_reads_off(emulator, account):
    emulator.control("POST", "consistency", {"stale_ms": STALE_MS})
    emulator.control("POST", "reset")
    assert emulator.control("GET", "consistency") == {"stale_ms": {}}
    iam = emulator.client("iam", account, retry=False)
    iam.create_user(UserName="u")
    assert iam.get_user(UserName="u")["User"]["UserName"] == "u"
