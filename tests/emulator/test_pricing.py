"""Contract tests of the Price List Query API in the emulator (botocore ``pricing`` 2017-10-15: ``GetProducts``,
``DescribeServices``, ``GetAttributeValues``), over the seeded prices of Claude on Bedrock.

Sources: the API reference
(https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html: ``Filters`` of
``TERM_MATCH``/``EQUALS``/``CONTAINS``/``ANY_OF``/``NONE_OF``, ``FormatVersion`` "Valid values are: aws_v1",
``MaxResults`` 1-100, ``NextToken``; ``PriceList`` "The list of products that match your filters. The list
contains both the product metadata and the price information", each a JSON string). The document of a Claude
product, service code ``AmazonBedrockFoundationModels`` (Claude is sold through AWS Marketplace): attributes
``location``, ``locationType``, ``operation``, ``regionCode``, ``servicename`` ("Claude Sonnet 4.5 (Amazon Bedrock
Edition)"), ``usagetype`` (``USE1-MP:USE1_InputTokenCount-Units``, ``..._Global-Units``, ``EU-MP:EU_...`` in
eu-west-1), one OnDemand term ``JRTCKXETXF`` whose dimension's ``unit`` is ``Units`` and ``description``
"AWS Marketplace software usage|us-east-1|Million Input Tokens Regional": USD per million tokens. These follow
real documents as quoted by public code that parses them (no AWS page shows a whole Bedrock product); the prices
are AWS's published ones (Sonnet 4.5 global $3/$15 per million input/output tokens, cache read $0.30, cache write
$3.75; regional 10% more, $3.30/$16.50 as billed).
"""

import json

import botocore.exceptions
import pytest

SERVICE = "AmazonBedrockFoundationModels"
SONNET_NAME = "Claude Sonnet 4.5 (Amazon Bedrock Edition)"


def products(pricing, *filters: tuple[str, str, str], page: int = 100) -> list[dict]:
    """Every product matching `filters` ((type, field, value)), following ``NextToken``."""
    found, token = [], None
    while True:
        answer = pricing.get_products(ServiceCode=SERVICE, FormatVersion="aws_v1", MaxResults=page,
                                      Filters=[{"Type": t, "Field": f, "Value": v} for t, f, v in filters],
                                      **({"NextToken": token} if token else {}))
        assert answer["FormatVersion"] == "aws_v1"
        assert len(answer["PriceList"]) <= page
        found += [json.loads(document) for document in answer["PriceList"]]
        token = answer.get("NextToken")
        if token is None:
            return found


def per_million(document: dict) -> tuple[str, float]:
    (term,) = document["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    return dimension["unit"], float(dimension["pricePerUnit"]["USD"])


def test_claude_prices_per_region_in_the_price_list_format(emulator, account):
    """Sonnet 4.5 in us-east-1: eight products (input, output, cache read, cache write; global and regional),
    USD per million tokens; the document's members as AWS's."""
    pricing = emulator.client("pricing", account)
    found = products(pricing, ("TERM_MATCH", "regionCode", "us-east-1"), ("TERM_MATCH", "servicename", SONNET_NAME))
    prices = {d["product"]["attributes"]["usagetype"]: per_million(d) for d in found}
    assert prices == {
        "USE1-MP:USE1_InputTokenCount_Global-Units": ("Units", 3.0),
        "USE1-MP:USE1_InputTokenCount-Units": ("Units", 3.3),
        "USE1-MP:USE1_OutputTokenCount_Global-Units": ("Units", 15.0),
        "USE1-MP:USE1_OutputTokenCount-Units": ("Units", 16.5),
        "USE1-MP:USE1_CacheReadInputTokenCount_Global-Units": ("Units", 0.3),
        "USE1-MP:USE1_CacheReadInputTokenCount-Units": ("Units", 0.33),
        "USE1-MP:USE1_CacheWriteInputTokenCount_Global-Units": ("Units", 3.75),
        "USE1-MP:USE1_CacheWriteInputTokenCount-Units": ("Units", 4.125),
    }
    document = next(d for d in found if d["product"]["attributes"]["usagetype"].endswith("_InputTokenCount-Units"))
    assert set(document) == {"product", "serviceCode", "terms", "version", "publicationDate"}
    assert document["product"]["attributes"] == {
        "location": "US East (N. Virginia)", "locationType": "AWS Region", "operation": "",
        "regionCode": "us-east-1", "servicecode": SERVICE, "servicename": SONNET_NAME,
        "usagetype": "USE1-MP:USE1_InputTokenCount-Units"}
    sku = document["product"]["sku"]
    term = document["terms"]["OnDemand"][f"{sku}.JRTCKXETXF"]
    dimension = term["priceDimensions"][f"{sku}.JRTCKXETXF.6YS6EN2CT7"]
    assert dimension["description"] == "AWS Marketplace software usage|us-east-1|Million Input Tokens Regional"
    assert (dimension["pricePerUnit"], dimension["beginRange"], dimension["endRange"]) == (
        {"USD": "3.3000000000"}, "0", "Inf")
    europe = products(pricing, ("TERM_MATCH", "regionCode", "eu-west-1"),
                      ("CONTAINS", "usagetype", "_OutputTokenCount_Global"))
    assert {d["product"]["attributes"]["servicename"]: per_million(d)[1] for d in europe} == {
        SONNET_NAME: 15.0, "Claude Haiku 4.5 (Amazon Bedrock Edition)": 5.0}, "eu-west-1 offers no Opus 4.5"
    assert {d["product"]["attributes"]["usagetype"] for d in europe} == {"EU-MP:EU_OutputTokenCount_Global-Units"}


def test_filters_and_paging(emulator, account):
    """ANY_OF/NONE_OF take comma-separated values; pages of at most MaxResults follow NextToken; the same
    products whatever the page size; a token not issued by the service is refused."""
    pricing = emulator.client("pricing", account, retry=False)
    west = products(pricing, ("EQUALS", "regionCode", "us-west-2"))
    assert {d["product"]["attributes"]["servicename"] for d in west} == {
        SONNET_NAME, "Claude Haiku 4.5 (Amazon Bedrock Edition)", "Claude Opus 4.5 (Amazon Bedrock Edition)",
        "Claude 3 Haiku (Amazon Bedrock Edition)"}
    assert products(pricing, ("EQUALS", "regionCode", "us-west-2"), page=3) == west
    haiku3 = products(pricing, ("ANY_OF", "regionCode", "us-west-2, us-east-1"),
                      ("TERM_MATCH", "servicename", "Claude 3 Haiku (Amazon Bedrock Edition)"))
    assert sorted(per_million(d)[1] for d in haiku3) == [0.25, 0.25, 1.25, 1.25], "no global, no cache rows"
    assert all(d["product"]["attributes"]["regionCode"] != "us-east-1"
               for d in products(pricing, ("NONE_OF", "regionCode", "us-east-1")))
    assert products(pricing, ("TERM_MATCH", "ServiceCode", "AmazonEC2")) == []
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        pricing.get_products(ServiceCode=SERVICE, NextToken="not-ours")
    assert raised.value.response["Error"]["Code"] == "InvalidNextTokenException"
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        pricing.get_products(ServiceCode=SERVICE, FormatVersion="aws_v2")
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"


def test_services_and_attribute_values(emulator, account):
    """DescribeServices names the service code and its attribute names; GetAttributeValues lists the values."""
    pricing = emulator.client("pricing", account)
    (service,) = pricing.describe_services(ServiceCode=SERVICE)["Services"]
    assert service["ServiceCode"] == SERVICE and "usagetype" in service["AttributeNames"]
    names = pricing.get_attribute_values(ServiceCode=SERVICE, AttributeName="servicename")["AttributeValues"]
    assert {v["Value"] for v in names} == {SONNET_NAME, "Claude Haiku 4.5 (Amazon Bedrock Edition)",
                                           "Claude Opus 4.5 (Amazon Bedrock Edition)",
                                           "Claude 3 Haiku (Amazon Bedrock Edition)"}
    first = pricing.get_attribute_values(ServiceCode=SERVICE, AttributeName="regionCode", MaxResults=2)
    rest = pricing.get_attribute_values(ServiceCode=SERVICE, AttributeName="regionCode", NextToken=first["NextToken"])
    assert "us-east-1" in {v["Value"] for v in first["AttributeValues"] + rest["AttributeValues"]}


def test_the_control_replaces_the_products(emulator, account, other_account):
    """``pricing/products`` replaces the products for one account (short items or whole documents); DELETE
    brings the seeded ones back."""
    whole = json.loads(emulator.client("pricing", other_account).get_products(
        ServiceCode=SERVICE, MaxResults=1)["PriceList"][0])
    answer = emulator.control("POST", "pricing/products", {"account": account, "products": [
        {"servicename": SONNET_NAME, "region": "us-east-1", "usagetype": "InputTokenCount", "usd": "6"},
        {"servicename": SONNET_NAME, "region": "us-east-1", "usagetype": "USE1-MP:USE1_OutputTokenCount-Units",
         "usd": 0.03, "unit": "1K tokens"},
        whole]})
    assert answer == {"products": 3}
    try:
        replaced = products(emulator.client("pricing", account))
        assert [(d["product"]["attributes"]["usagetype"], per_million(d)) for d in replaced[:2]] == [
            ("USE1-MP:USE1_InputTokenCount-Units", ("Units", 6.0)),
            ("USE1-MP:USE1_OutputTokenCount-Units", ("1K tokens", 0.03))]
        assert replaced[2] == whole
        assert len(products(emulator.client("pricing", other_account))) > 3, "other accounts keep the seeded ones"
    finally:
        emulator.control("DELETE", f"pricing/products?account={account}")
    assert len(products(emulator.client("pricing", account))) > 3
