"""Contract tests of IAM user tag keys, which IAM compares case-insensitively, with boto3.

IAM User Guide, "Tagging IAM resources" (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html),
Naming tags, Case sensitivity: "Tag key values for IAM users and roles are not case sensitive, but case is
preserved. This means that you cannot have separate Department and department tag keys. If you have tagged a
user with the Department=finance tag and you add the department=hr tag, it replaces the first tag. A second
tag is not added." Real IAM keeps the newest spelling of the key (aws/aws-cdk#26253: ``tag-role Test`` then
``tag-role test`` lists only ``test``) and refuses one request naming a key twice with ``InvalidInput``
"Duplicate tag keys found. Please note that Tag keys are case insensitive." (HTTP 400). A user has at most 50
tags (IAM and AWS STS quotas).
"""

import pytest

DUPLICATE = "Duplicate tag keys found. Please note that Tag keys are case insensitive."


@pytest.fixture
def iam(emulator, account):
    client = emulator.client("iam", account, retry=False)
    client.create_user(UserName="marketing", Tags=[{"Key": "Managed-By", "Value": "bedrock-provisioner"}])
    return client


def tags(iam, user="marketing"):
    return iam.list_user_tags(UserName=user)["Tags"]


def test_tag_in_another_case_replaces_the_tag_and_takes_the_new_spelling(iam):
    iam.tag_user(UserName="marketing", Tags=[{"Key": "managed-by", "Value": "someone-else"}])
    assert tags(iam) == [{"Key": "managed-by", "Value": "someone-else"}]
    assert iam.get_user(UserName="marketing")["User"]["Tags"] == [{"Key": "managed-by", "Value": "someone-else"}]


def test_replacing_keeps_the_other_tags_and_their_order(iam):
    iam.tag_user(UserName="marketing", Tags=[{"Key": "business-unit", "Value": "marketing"}])
    iam.tag_user(UserName="marketing", Tags=[{"Key": "MANAGED-BY", "Value": "x"}, {"Key": "Purpose", "Value": "y"}])
    assert tags(iam) == [
        {"Key": "MANAGED-BY", "Value": "x"},
        {"Key": "business-unit", "Value": "marketing"},
        {"Key": "Purpose", "Value": "y"},
    ]


@pytest.mark.parametrize("operation", ["create_user", "tag_user"])
def test_one_request_with_a_key_twice_in_any_case_is_invalid_input(iam, operation):
    twice = [{"Key": "Purpose", "Value": "a"}, {"Key": "purpose", "Value": "b"}]
    user = "newcomer" if operation == "create_user" else "marketing"
    with pytest.raises(iam.exceptions.InvalidInputException) as raised:
        getattr(iam, operation)(UserName=user, Tags=twice)
    assert raised.value.response["Error"]["Message"] == DUPLICATE
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert tags(iam) == [{"Key": "Managed-By", "Value": "bedrock-provisioner"}]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="newcomer")  # the refused CreateUser created nothing


def test_untag_in_any_case_removes_the_tag(iam):
    iam.tag_user(UserName="marketing", Tags=[{"Key": "Purpose", "Value": "bedrock"}])
    iam.untag_user(UserName="marketing", TagKeys=["MANAGED-by", "unknown"])
    assert tags(iam) == [{"Key": "Purpose", "Value": "bedrock"}]
    iam.untag_user(UserName="marketing", TagKeys=["purpose"])
    assert tags(iam) == []
    assert "Tags" not in iam.get_user(UserName="marketing")["User"]


def test_at_most_50_tags_counted_case_insensitively(iam):
    iam.tag_user(UserName="marketing", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    assert len(tags(iam)) == 50
    # Re-spelling existing keys adds nothing: a user at the limit can still be re-tagged.
    iam.tag_user(UserName="marketing", Tags=[{"Key": "MANAGED-BY", "Value": "v"}, {"Key": "K0", "Value": "w"}])
    assert len(tags(iam)) == 50
    with pytest.raises(iam.exceptions.LimitExceededException) as raised:
        iam.tag_user(UserName="marketing", Tags=[{"Key": "K1", "Value": "changed"}, {"Key": "one-more", "Value": "v"}])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert {"Key": "k1", "Value": "v"} in tags(iam)  # the refused request changed nothing
    assert len(tags(iam)) == 50


def test_create_user_with_more_than_50_tags_is_refused(iam):
    with pytest.raises(iam.exceptions.ClientError) as raised:
        iam.create_user(UserName="newcomer", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="newcomer")
