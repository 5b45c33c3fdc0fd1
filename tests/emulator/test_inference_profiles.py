"""Contract tests of Bedrock's system-defined inference profiles, with boto3.

Follows https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html (source and
destination Regions of the ``us.``, ``eu.``, ``apac.``, ``jp.``, ``au.`` and ``global.`` profiles; "The destination
Regions for Global cross-Region inference profiles include all commercial Regions"), and botocore's bedrock
2023-04-20 model: ``ListInferenceProfiles`` (``maxResults`` 1-1000, ``nextToken``, ``type``) and
``InferenceProfileSummary.models`` ("A list of information about each model in the inference profile").
"""

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def every_profile(bedrock, **params) -> tuple[list[dict], int]:
    """All profiles, following nextToken, and how many pages that took."""
    profiles, pages, token = [], 0, None
    while True:
        page = bedrock.list_inference_profiles(**params, **({"nextToken": token} if token else {}))
        profiles += page["inferenceProfileSummaries"]
        pages += 1
        token = page.get("nextToken")
        if not token:
            return profiles, pages


def by_id(profiles: list[dict]) -> dict[str, list[str]]:
    return {p["inferenceProfileId"]: [m["modelArn"] for m in p["models"]] for p in profiles}


def test_pages_at_a_small_size_even_when_asked_for_1000(emulator, account):
    bedrock = emulator.client("bedrock", account)
    first = bedrock.list_inference_profiles(maxResults=1000)
    assert len(first["inferenceProfileSummaries"]) == 3 and first["nextToken"]
    profiles, pages = every_profile(bedrock, maxResults=1000)
    assert pages > 1 and len({p["inferenceProfileId"] for p in profiles}) == len(profiles) == 6
    one_by_one, pages = every_profile(bedrock, maxResults=1)
    assert pages == 6 and one_by_one == profiles
    emulator.control("POST", "bedrock/page-size", {"account": account, "page_size": 100})
    assert "nextToken" not in bedrock.list_inference_profiles()
    assert bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []


def test_max_results_and_next_token_are_validated(emulator, account):
    unvalidated = boto3.client("bedrock", endpoint_url=emulator.endpoint, region_name="us-east-1",
                               aws_access_key_id=account, aws_secret_access_key="contract-test",
                               config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))
    for bad in (0, 1001):
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            unvalidated.list_inference_profiles(maxResults=bad)
        assert raised.value.response["Error"]["Code"] == "ValidationException"
        assert "'maxResults'" in raised.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        unvalidated.list_inference_profiles(nextToken="not-ours")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize("region, geographies", [
    ("us-east-1", ["us", "global"]),
    ("us-west-2", ["us", "global"]),
    ("eu-west-1", ["eu", "global"]),
    ("eu-central-1", ["eu", "global"]),
    ("ap-northeast-1", ["jp", "apac", "global"]),
    ("ap-southeast-2", ["au", "apac", "global"]),
    ("ap-southeast-1", ["apac", "global"]),
])
def test_each_region_offers_its_geographies_and_global(emulator, account, region, geographies):
    bedrock = emulator.client("bedrock", account, region)
    profiles, _ = every_profile(bedrock)
    sonnet = sorted(i.split(".", 1)[0] for i in by_id(profiles) if i.endswith(SONNET))
    haiku = sorted(i.split(".", 1)[0] for i in by_id(profiles) if "haiku-4-5" in i)
    assert haiku == sorted(geographies)
    assert sonnet == (sorted(geographies) if region != "ap-southeast-1" else []), "only models the region has"
    assert all(p["inferenceProfileArn"] == f"arn:aws:bedrock:{region}:{account}:inference-profile/"
               f"{p['inferenceProfileId']}" and p["type"] == "SYSTEM_DEFINED" for p in profiles)


def test_models_name_every_destination_region(emulator, account):
    tokyo = by_id(every_profile(emulator.client("bedrock", account, "ap-northeast-1"))[0])
    arn = "arn:aws:bedrock:{}::foundation-model/" + SONNET
    assert tokyo[f"jp.{SONNET}"] == [arn.format(r) for r in ("ap-northeast-1", "ap-northeast-3")]
    assert tokyo[f"global.{SONNET}"] == [f"arn:aws:bedrock:::foundation-model/{SONNET}"]
    assert arn.format("ap-south-1") in tokyo[f"apac.{SONNET}"]
    virginia = by_id(every_profile(emulator.client("bedrock", account, "us-east-1"))[0])
    assert virginia[f"us.{SONNET}"] == [arn.format(r) for r in ("us-east-1", "us-east-2", "us-west-2")]
    sydney = emulator.client("bedrock", account, "ap-southeast-2")
    profile = sydney.get_inference_profile(inferenceProfileIdentifier=f"au.{SONNET}")
    assert [m["modelArn"] for m in profile["models"]] == [arn.format(r) for r in ("ap-southeast-2", "ap-southeast-4")]
    with pytest.raises(sydney.exceptions.ResourceNotFoundException):
        sydney.get_inference_profile(inferenceProfileIdentifier=f"us.{SONNET}")
