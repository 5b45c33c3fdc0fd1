"""Contract tests of IAM GetAccountAuthorizationDetails paging, with boto3: every user of an account, with its
tags, in pages.

Follows https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html and the
operation in botocore's iam 2010-05-08 model (service-2.json, paginators-1.json): ``Filter.member.N`` (User |
Role | Group | LocalManagedPolicy | AWSManagedPolicy), ``MaxItems`` (1-1000; "If you do not include this
parameter, the number of items defaults to 100"), ``Marker``; the answer's ``UserDetailList`` (each
``UserDetail`` with its ``Tags``), ``GroupDetailList``, ``RoleDetailList``, ``Policies``, ``IsTruncated`` and,
exactly when truncated, ``Marker``. The paginator's ``result_key`` is all four lists, so ``MaxItems`` counts
their items together. A ``MaxItems`` out of range is ``ValidationError`` (HTTP 400,
https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html).
"""

import json

import boto3
import pytest
from botocore.config import Config

USERS = 250


def _tags(i: int) -> list[dict]:
    return [{"Key": "business-unit", "Value": f"bu-{i % 7}"}, {"Key": "Managed-By", "Value": "bedrock-provisioner"}]


def _name(i: int) -> str:
    return f"user-{i:03d}"


@pytest.fixture
def iam(emulator, account):
    return emulator.client("iam", account, retry=False)


@pytest.fixture
def fleet(iam):
    """`iam`, whose account has USERS users, each with two tags."""
    for i in range(USERS):
        iam.create_user(UserName=_name(i), Tags=_tags(i))
    return iam


def _unvalidated(emulator, account):
    """A client that sends what it is given, so the emulator's own validation answers."""
    return boto3.client("iam", endpoint_url=emulator.endpoint, region_name="us-east-1", aws_access_key_id=account,
                        aws_secret_access_key="x",
                        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))


def test_users_with_tags_come_in_pages_of_max_items(fleet):
    pages, marker = [], None
    while True:
        page = fleet.get_account_authorization_details(
            Filter=["User"], MaxItems=100, **({"Marker": marker} if marker else {}))
        pages.append(page)
        assert ("Marker" in page) == page["IsTruncated"], "Marker is present exactly when IsTruncated"
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert [len(p["UserDetailList"]) for p in pages] == [100, 100, 50]
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert all(p["GroupDetailList"] == [] and p["RoleDetailList"] == [] and p["Policies"] == [] for p in pages)
    users = [u for p in pages for u in p["UserDetailList"]]
    assert sorted(u["UserName"] for u in users) == [_name(i) for i in range(USERS)], "every user exactly once"
    for user in users:
        i = int(user["UserName"].removeprefix("user-"))
        assert user["Tags"] == _tags(i)
        assert user["Arn"].endswith(f":user/{user['UserName']}")


def test_without_max_items_a_page_holds_100_items(fleet):
    first = fleet.get_account_authorization_details(Filter=["User"])
    assert len(first["UserDetailList"]) == 100
    assert first["IsTruncated"] is True and first["Marker"]
    second = fleet.get_account_authorization_details(Filter=["User"], Marker=first["Marker"])
    assert len(second["UserDetailList"]) == 100
    assert not {u["UserName"] for u in first["UserDetailList"]} & {u["UserName"] for u in second["UserDetailList"]}


def test_the_boto3_paginator_collects_every_user_with_tags(fleet):
    paginator = fleet.get_paginator("get_account_authorization_details")
    for config in ({}, {"PageSize": 100}, {"PageSize": 1000}):
        merged = paginator.paginate(Filter=["User"], PaginationConfig=config).build_full_result()
        assert sorted(u["UserName"] for u in merged["UserDetailList"]) == [_name(i) for i in range(USERS)]
        assert all(u["Tags"] == _tags(int(u["UserName"][5:])) for u in merged["UserDetailList"])
    pages = list(paginator.paginate(Filter=["User"], PaginationConfig={"PageSize": 1000}))
    assert len(pages) == 1 and pages[0]["IsTruncated"] is False and "Marker" not in pages[0]


@pytest.mark.parametrize("max_items, bound", [(0, "greater than or equal to 1"), (1001, "less than or equal to 1000")])
def test_max_items_out_of_range_is_a_validation_error(emulator, account, iam, max_items, bound):
    iam.create_user(UserName="u")
    unvalidated = _unvalidated(emulator, account)
    with pytest.raises(unvalidated.exceptions.ClientError) as raised:
        unvalidated.get_account_authorization_details(Filter=["User"], MaxItems=max_items)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert raised.value.response["Error"]["Message"] == (
        f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy constraint: "
        f"Member must have value {bound}")


def test_an_unknown_filter_or_marker_is_a_validation_error(emulator, account, iam):
    unvalidated = _unvalidated(emulator, account)
    with pytest.raises(unvalidated.exceptions.ClientError) as raised:
        unvalidated.get_account_authorization_details(Filter=["Users"])
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "Member must satisfy enum value set" in raised.value.response["Error"]["Message"]
    with pytest.raises(iam.exceptions.ClientError) as raised:
        iam.get_account_authorization_details(Filter=["User"], Marker="not-a-marker")
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_max_items_counts_the_items_of_all_requested_lists(iam, account):
    """A page may end inside one list and the next go on into another; the paginator merges them."""
    for i in range(3):
        iam.create_user(UserName=_name(i), Tags=_tags(i))
    iam.create_group(GroupName="marketing")
    iam.add_user_to_group(GroupName="marketing", UserName=_name(0))
    iam.create_role(RoleName="bedrock-invoker", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    iam.create_policy(PolicyName="bedrock-invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}]}))
    kinds = ["User", "Group", "Role", "LocalManagedPolicy"]
    whole = iam.get_account_authorization_details(Filter=kinds, MaxItems=1000)
    assert whole["IsTruncated"] is False
    assert [len(whole[k]) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")] == [3, 1, 1, 1]
    assert whole["UserDetailList"][0]["GroupList"] == ["marketing"]
    assert whole["Policies"][0]["Arn"] == f"arn:aws:iam::{account}:policy/bedrock-invoke"

    pages = list(iam.get_paginator("get_account_authorization_details").paginate(
        Filter=kinds, PaginationConfig={"PageSize": 2}))
    sizes = [sum(len(p[k]) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"))
             for p in pages]
    assert sizes == [2, 2, 2]
    assert [u["UserName"] for u in pages[1]["UserDetailList"]] == [_name(2)]
    assert [g["GroupName"] for g in pages[1]["GroupDetailList"]] == ["marketing"]
    merged = iam.get_paginator("get_account_authorization_details").paginate(
        Filter=kinds, PaginationConfig={"PageSize": 2}).build_full_result()
    for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"):
        assert merged[key] == whole[key]


def test_each_account_lists_only_its_own_users(emulator, iam, other_account):
    iam.create_user(UserName="mine", Tags=_tags(1))
    other = emulator.client("iam", other_account, retry=False)
    other.create_user(UserName="theirs")
    assert [u["UserName"] for u in iam.get_account_authorization_details(Filter=["User"])["UserDetailList"]] == [
        "mine"]
    assert [u["UserName"] for u in other.get_account_authorization_details(Filter=["User"])["UserDetailList"]] == [
        "theirs"]
