"""Contract tests of the IAM service-specific credential actions, with boto3."""

import base64
import datetime

import pytest

BEDROCK = "bedrock.amazonaws.com"


@pytest.fixture
def iam(emulator, account):
    client = emulator.client("iam", account, retry=False)
    client.create_user(UserName="marketing-bedrock-user")
    return client


def test_create_returns_the_bedrock_key_once(iam, account):
    created = iam.create_service_specific_credential(
        UserName="marketing-bedrock-user", ServiceName=BEDROCK, CredentialAgeDays=30
    )["ServiceSpecificCredential"]
    assert created["ServiceSpecificCredentialId"].startswith("ACCA")
    assert created["Status"] == "Active"
    assert created["ServiceCredentialSecret"].startswith("ABSK")
    alias = created["ServiceCredentialAlias"]
    assert alias == f"marketing-bedrock-user-at-{account}"
    decoded = base64.b64decode(created["ServiceCredentialSecret"][4:]).decode()
    assert decoded.startswith(alias + ":")
    age = created["ExpirationDate"] - created["CreateDate"]
    assert age == datetime.timedelta(days=30)
    listed = iam.list_service_specific_credentials(UserName="marketing-bedrock-user")["ServiceSpecificCredentials"]
    assert [c["ServiceSpecificCredentialId"] for c in listed] == [created["ServiceSpecificCredentialId"]]
    assert "ServiceCredentialSecret" not in listed[0]
    assert listed[0]["ServiceCredentialAlias"] == alias


def test_no_age_means_no_expiry(iam):
    created = iam.create_service_specific_credential(UserName="marketing-bedrock-user", ServiceName=BEDROCK)
    assert "ExpirationDate" not in created["ServiceSpecificCredential"]


def test_third_credential_for_one_service_is_limit_exceeded(iam):
    for _ in range(2):
        iam.create_service_specific_credential(UserName="marketing-bedrock-user", ServiceName=BEDROCK)
    with pytest.raises(iam.exceptions.LimitExceededException) as raised:
        iam.create_service_specific_credential(UserName="marketing-bedrock-user", ServiceName=BEDROCK)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    # Another service has its own two slots.
    iam.create_service_specific_credential(UserName="marketing-bedrock-user", ServiceName="codecommit.amazonaws.com")


def test_errors_unknown_user_unsupported_service_bad_age(emulator, account, iam):
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.create_service_specific_credential(UserName="nobody", ServiceName=BEDROCK)
    with pytest.raises(iam.exceptions.ServiceNotSupportedException) as raised:
        iam.create_service_specific_credential(UserName="marketing-bedrock-user", ServiceName="s3.amazonaws.com")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    import boto3
    from botocore.config import Config

    unvalidated = boto3.client(
        "iam", endpoint_url=emulator.endpoint, region_name="us-east-1", aws_access_key_id=account,
        aws_secret_access_key="x", config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    for age, bound in ((0, "greater than or equal to 1"), (36601, "less than or equal to 36600")):
        with pytest.raises(unvalidated.exceptions.ClientError) as raised:
            unvalidated.create_service_specific_credential(
                UserName="marketing-bedrock-user", ServiceName=BEDROCK, CredentialAgeDays=age
            )
        assert raised.value.response["Error"]["Code"] == "ValidationError"
        assert raised.value.response["Error"]["Message"] == (
            f"1 validation error detected: Value '{age}' at 'credentialAgeDays' failed to satisfy constraint: "
            f"Member must have value {bound}")


def test_list_all_users_by_service_with_paging(iam):
    iam.create_user(UserName="sales-bedrock-user")
    for user in ("marketing-bedrock-user", "sales-bedrock-user"):
        iam.create_service_specific_credential(UserName=user, ServiceName=BEDROCK)
        iam.create_service_specific_credential(UserName=user, ServiceName=BEDROCK)
    iam.create_service_specific_credential(UserName="sales-bedrock-user", ServiceName="codecommit.amazonaws.com")
    seen, marker = [], None
    while True:
        page = iam.list_service_specific_credentials(
            AllUsers=True, ServiceName=BEDROCK, MaxItems=3, **({"Marker": marker} if marker else {})
        )
        seen += page["ServiceSpecificCredentials"]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert len(seen) == 4
    assert {c["UserName"] for c in seen} == {"marketing-bedrock-user", "sales-bedrock-user"}
    assert all(c["ServiceName"] == BEDROCK for c in seen)


def test_update_reset_delete(iam):
    created = iam.create_service_specific_credential(UserName="marketing-bedrock-user", ServiceName=BEDROCK)
    credential = created["ServiceSpecificCredential"]
    cid = credential["ServiceSpecificCredentialId"]
    iam.update_service_specific_credential(UserName="marketing-bedrock-user", ServiceSpecificCredentialId=cid,
                                           Status="Inactive")
    listed = iam.list_service_specific_credentials(UserName="marketing-bedrock-user")["ServiceSpecificCredentials"]
    assert listed[0]["Status"] == "Inactive"
    reset = iam.reset_service_specific_credential(UserName="marketing-bedrock-user", ServiceSpecificCredentialId=cid)
    assert reset["ServiceSpecificCredential"]["ServiceCredentialSecret"] != credential["ServiceCredentialSecret"]
    iam.delete_service_specific_credential(UserName="marketing-bedrock-user", ServiceSpecificCredentialId=cid)
    assert iam.list_service_specific_credentials(UserName="marketing-bedrock-user")["ServiceSpecificCredentials"] == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_service_specific_credential(UserName="marketing-bedrock-user", ServiceSpecificCredentialId=cid)


def test_status_reads_expired_after_the_clock_moves(emulator, account, iam):
    iam.create_service_specific_credential(UserName="marketing-bedrock-user", ServiceName=BEDROCK, CredentialAgeDays=1)
    emulator.control("POST", "clock", {"advance_days": 2, "account": account})
    listed = iam.list_service_specific_credentials(UserName="marketing-bedrock-user")["ServiceSpecificCredentials"]
    assert listed[0]["Status"] == "Expired"
    # Other accounts keep real time.
    other = emulator.client("iam", str(int(account) + 700_000), retry=False)
    other.create_user(UserName="u")
    other.create_service_specific_credential(UserName="u", ServiceName=BEDROCK, CredentialAgeDays=1)
    assert other.list_service_specific_credentials(UserName="u")["ServiceSpecificCredentials"][0]["Status"] == "Active"


def test_both_bedrock_keys_of_a_user_share_one_alias(iam, account):
    """Follows https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_bedrock.html and the
    ``ServiceSpecificCredential`` shape of botocore's iam 2010-05-08 model: a long-term Bedrock key's alias is
    ``<UserName>-at-<AccountId>`` for every Bedrock credential of the user (as a real CreateServiceSpecificCredential
    answers, e.g. ``bedrock-api-user-at-637423213562``), and the key is ``ABSK`` + base64(``alias:secret``)."""
    keys = [iam.create_service_specific_credential(UserName="marketing-bedrock-user", ServiceName=BEDROCK)[
        "ServiceSpecificCredential"] for _ in range(2)]
    alias = f"marketing-bedrock-user-at-{account}"
    assert [k["ServiceCredentialAlias"] for k in keys] == [alias, alias]
    secrets = [base64.b64decode(k["ServiceCredentialSecret"].removeprefix("ABSK")).decode() for k in keys]
    assert all(s.startswith(alias + ":") for s in secrets)
    assert secrets[0] != secrets[1], "the keys differ only in their secret part"
    assert keys[0]["ServiceSpecificCredentialId"] != keys[1]["ServiceSpecificCredentialId"]
