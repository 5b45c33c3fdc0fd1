"""The AWS Price List Query API (``pricing``, signing name ``pricing``, JSON protocol, target prefix
``AWSPriceListService``): ``GetProducts``, ``DescribeServices``, ``GetAttributeValues``, over the prices of the
Claude models the emulator's catalog offers. moto has no Price List service, so the emulator answers it itself.

Written from the botocore ``pricing`` model (2017-10-15) and the API reference
(https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html):
``ServiceCode`` required; ``Filters`` (``TERM_MATCH`` and ``EQUALS``: the attribute equals the value; ``CONTAINS``;
``ANY_OF``/``NONE_OF``: a comma-separated list), on any product attribute or ``ServiceCode``; ``FormatVersion``
``aws_v1`` (the only documented value; another is ``InvalidParameterException``); ``MaxResults`` (1-100, default
100) and an opaque ``NextToken`` (one not issued here is ``InvalidNextTokenException``). ``PriceList`` is a list
of JSON documents, each a string. A service code without products answers an empty list.

Claude on Bedrock is billed through AWS Marketplace, service code ``AmazonBedrockFoundationModels``. No AWS page
shows a whole Claude product document; the format here follows real documents as public code that reads them
quotes them (test fixtures of Price List readers, and a published inspection of the Sonnet 4.6 offer file listing
its attributes and usage types; see the contract test): ``servicename`` is the model's name (``Claude Sonnet 4.5
(Amazon Bedrock Edition)``; no attribute holds the model id), ``usagetype`` is ``<P>-MP:<P>_<Dimension>-Units``
with the region's billing prefix ``<P>`` (``USE1``, ``USW2``, ``EU`` for eu-west-1, ``EUC1``, ...) and dimension
``InputTokenCount``, ``OutputTokenCount``, ``CacheReadInputTokenCount``, ``CacheWriteInputTokenCount``, each also
``..._Global`` (global cross-Region inference); the other attributes are ``location``, ``locationType`` (``AWS
Region``), ``operation`` (empty), ``regionCode`` and ``servicecode``. One OnDemand term (offer term code
``JRTCKXETXF``) with one price dimension (rate code ``SKU.JRTCKXETXF.6YS6EN2CT7``), ``unit`` ``Units`` and a
description ``AWS Marketplace software usage|<region>|Million Input Tokens Regional``: **the price is USD per
million tokens**. (Readers quote the unit both as ``Units`` and as ``1M tokens``; the control can set either.)

Seeded prices, USD per million tokens, global / regional (the regional rows of the Claude 4.5 models 10% above
global, as AWS bills in-Region and geographic cross-Region inference: $3.30/$16.50 for Sonnet 4.5 as a third-party
report measured on its own bill, and the same 10% in the Sonnet 4.6 offer file): Sonnet 4.5 input 3 / 3.30, output
15 / 16.50, cache read 0.30 / 0.33, cache write 3.75 / 4.125; Haiku 4.5 1 / 1.10, 5 / 5.50, 0.10 / 0.11,
1.25 / 1.375; Opus 4.5 5 / 5.50, 25 / 27.50, 0.50 / 0.55, 6.25 / 6.875; Claude 3 Haiku (regional rows only, no
cache) 0.25 and 1.25. In every region of :data:`REGIONS` for the models its catalog (:mod:`bpemu.bedrock_ext`)
offers (regions outside the catalog: the three Claude 4.5 models).

Control API:

- ``POST /_emulator/pricing/products`` ``{"products": [...], "account": optional}`` replaces the products (for
  requests signed by that account only, when given) -> ``{"products": N}``. An item is a whole Price List
  document (an object with ``product`` and ``terms``), or ``{"servicename", "region", "usagetype", "usd",
  "unit": optional, "description": optional}``, where ``usagetype`` is a whole usage type or a dimension
  (``InputTokenCount_Global``), which gets the region's prefix.
- ``DELETE /_emulator/pricing/products`` (``?account=``) goes back to the seeded products.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import threading
from urllib.parse import parse_qs

from . import access_ext, bedrock_ext
from .protocol import RequestInfo, error_response

SERVICE_CODE = "AmazonBedrockFoundationModels"
FORMAT = "aws_v1"
OFFER_TERM = "JRTCKXETXF"
RATE_SUFFIX = "6YS6EN2CT7"
VERSION, PUBLISHED, EFFECTIVE = "20260911124410", "2026-09-11T12:44:10Z", "2026-09-01T00:00:00Z"
DEFAULT_PAGE = 100
ATTRIBUTES = ("location", "locationType", "operation", "regionCode", "servicecode", "servicename", "usagetype")

# Region -> (usage-type prefix, Price List location).
REGIONS = {
    "us-east-1": ("USE1", "US East (N. Virginia)"),
    "us-east-2": ("USE2", "US East (Ohio)"),
    "us-west-2": ("USW2", "US West (Oregon)"),
    "eu-central-1": ("EUC1", "EU (Frankfurt)"),
    "eu-west-1": ("EU", "EU (Ireland)"),
    "eu-west-3": ("EUW3", "EU (Paris)"),
    "eu-north-1": ("EUN1", "EU (Stockholm)"),
    "ap-northeast-1": ("APN1", "Asia Pacific (Tokyo)"),
    "ap-southeast-1": ("APS1", "Asia Pacific (Singapore)"),
    "ap-southeast-2": ("APS2", "Asia Pacific (Sydney)"),
}
# Model id -> global USD per million tokens: input, output, cache read, cache write (None: no global rows).
PRICES = {
    "anthropic.claude-sonnet-4-5-20250929-v1:0": (3.0, 15.0, 0.30, 3.75),
    "anthropic.claude-haiku-4-5-20251001-v1:0": (1.0, 5.0, 0.10, 1.25),
    "anthropic.claude-opus-4-5-20251101-v1:0": (5.0, 25.0, 0.50, 6.25),
}
LEGACY_PRICES = {"anthropic.claude-3-haiku-20240307-v1:0": (0.25, 1.25)}
REGIONAL_PREMIUM = 1.1
_DIMENSIONS = (("InputTokenCount", "Input Tokens"), ("OutputTokenCount", "Response Tokens"),
               ("CacheReadInputTokenCount", "Cache Read Input Tokens"),
               ("CacheWriteInputTokenCount", "Cache Write Input Tokens"))

_lock = threading.Lock()
_products: dict[str, list[str]] = {}  # account (or "*") -> documents, when replaced


def handles(info: RequestInfo) -> bool:
    return info.service == "pricing"


def reset() -> None:
    with _lock:
        _products.clear()


def control(command: str, method: str, environ, read_body):
    if command != "pricing/products":
        return None
    if method == "DELETE":
        account = parse_qs(environ.get("QUERY_STRING", "")).get("account", ["*"])[0]
        with _lock:
            _products.pop(account, None)
        return {"products": len(_documents(account))}
    if method == "POST":
        data = json.loads(read_body(environ) or b"{}")
        documents = [json.dumps(_item(item)) for item in data["products"]]
        with _lock:
            _products[data.get("account", "*")] = documents
        return {"products": len(documents)}
    return None


def _item(item: dict) -> dict:
    if "product" in item and "terms" in item:
        return item
    region = item["region"]
    prefix = REGIONS.get(region, (region.upper().replace("-", ""), region))[0]
    usage = item["usagetype"] if "-MP:" in item["usagetype"] else f"{prefix}-MP:{prefix}_{item['usagetype']}-Units"
    description = item.get("description") or f"AWS Marketplace software usage|{region}|{usage}"
    return _document(item["servicename"], region, usage, float(item["usd"]), description, item.get("unit", "Units"))


# -- the seeded documents -------------------------------------------------------------------------------------


@functools.cache
def seeded() -> tuple[str, ...]:
    """The default Price List documents, as JSON strings."""
    documents = []
    for region in REGIONS:
        offered = bedrock_ext._DEFAULT_CATALOG.get(region) or [*PRICES]
        for model_id in offered:
            documents += [json.dumps(d) for d in _model_documents(model_id, region)]
    return tuple(documents)


def _model_documents(model_id: str, region: str) -> list[dict]:
    if model_id not in PRICES and model_id not in LEGACY_PRICES:
        return []
    name = f"{bedrock_ext._MODELS[model_id][0]} (Amazon Bedrock Edition)"
    prefix = REGIONS[region][0]
    if model_id in LEGACY_PRICES:
        rates = zip(_DIMENSIONS[:2], LEGACY_PRICES[model_id])
        return [_document(name, region, f"{prefix}-MP:{prefix}_{dim}-Units", usd, _said(region, label, "Regional"))
                for (dim, label), usd in rates]
    documents = []
    for (dim, label), usd in zip(_DIMENSIONS, PRICES[model_id]):
        documents.append(_document(name, region, f"{prefix}-MP:{prefix}_{dim}_Global-Units", usd,
                                   _said(region, label, "Global")))
        documents.append(_document(name, region, f"{prefix}-MP:{prefix}_{dim}-Units",
                                   round(usd * REGIONAL_PREMIUM, 6), _said(region, label, "Regional")))
    return documents


def _said(region: str, label: str, scope: str) -> str:
    return f"AWS Marketplace software usage|{region}|Million {label} {scope}"


def _document(servicename: str, region: str, usagetype: str, usd: float, description: str, unit: str = "Units"):
    """One product with its OnDemand price, in the ``aws_v1`` format."""
    sku = base64.b32encode(hashlib.sha256(f"{servicename}|{usagetype}".encode()).digest()).decode()[:16]
    location = REGIONS.get(region, ("", region))[1]
    attributes = {"location": location, "locationType": "AWS Region", "operation": "", "regionCode": region,
                  "servicecode": SERVICE_CODE, "servicename": servicename, "usagetype": usagetype}
    rate = f"{sku}.{OFFER_TERM}.{RATE_SUFFIX}"
    dimension = {"unit": unit, "endRange": "Inf", "description": description, "appliesTo": [], "rateCode": rate,
                 "beginRange": "0", "pricePerUnit": {"USD": f"{usd:.10f}"}}
    term = {"priceDimensions": {rate: dimension}, "sku": sku, "effectiveDate": EFFECTIVE, "offerTermCode": OFFER_TERM,
            "termAttributes": {}}
    return {"product": {"attributes": attributes, "sku": sku}, "serviceCode": SERVICE_CODE,
            "terms": {"OnDemand": {f"{sku}.{OFFER_TERM}": term}}, "version": VERSION, "publicationDate": PUBLISHED}


def _documents(account: str) -> list[str]:
    with _lock:
        replaced = _products.get(account, _products.get("*"))
    return list(replaced if replaced is not None else seeded())


# -- serving --------------------------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def serve(environ, start_response, info: RequestInfo, body: bytes):
    """Answer one Price List request (WSGI); the request already passed its input shape."""
    try:
        params = json.loads(body or b"{}")
        handler = _ACTIONS.get(info.action)
        if handler is None:
            raise _Refused("InvalidParameterException", f"The emulator does not serve {info.action}.")
        status, payload = "200 OK", json.dumps(handler(_account(info), params)).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1")]
    except _Refused as refused:
        status, headers, payload = error_response(info.service, 400, refused.code, refused.message)
    start_response(status, headers + [("Content-Length", str(len(payload)))])
    return [payload]


def _account(info: RequestInfo) -> str:
    key = info.access_key or ""
    return key if key.isdigit() and len(key) == 12 else access_ext.account_of(key)


def _page(items: list, params: dict, default: int = DEFAULT_PAGE) -> tuple[list, dict]:
    """One page of `items` and the ``NextToken`` member when more remain."""
    start = _offset(params.get("NextToken"))
    if start is None or start > len(items):
        raise _Refused("InvalidNextTokenException", "The pagination token is invalid. Try again without a "
                       "pagination token.")
    end = start + int(params.get("MaxResults") or default)
    more = {"NextToken": base64.urlsafe_b64encode(f"pricing:{end}".encode()).decode()} if end < len(items) else {}
    return items[start:end], more


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        return int(offset) if kind == "pricing" else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _format(params: dict) -> None:
    if params.get("FormatVersion", FORMAT) != FORMAT:
        raise _Refused("InvalidParameterException", f"Invalid FormatVersion {params['FormatVersion']}: the valid "
                       f"value is {FORMAT}.")


def get_products(account: str, params: dict) -> dict:
    _format(params)
    filters = params.get("Filters") or []
    matching = [d for d in _documents(account) if _matches(json.loads(d), params["ServiceCode"], filters)]
    page, more = _page(matching, params)
    return {"FormatVersion": FORMAT, "PriceList": page} | more


def _matches(document: dict, service_code: str, filters: list[dict]) -> bool:
    attributes = dict(document["product"]["attributes"]) | {"ServiceCode": document["serviceCode"]}
    return document["serviceCode"] == service_code and all(_holds(attributes.get(f["Field"]), f) for f in filters)


def _holds(actual: str | None, condition: dict) -> bool:
    wanted, kind = condition["Value"], condition["Type"]
    if kind in ("TERM_MATCH", "EQUALS"):
        return actual == wanted
    if kind == "CONTAINS":
        return actual is not None and wanted in actual
    listed = [value.strip() for value in wanted.split(",")]
    return (actual in listed) if kind == "ANY_OF" else (actual not in listed)


def describe_services(account: str, params: dict) -> dict:
    _format(params)
    services = [{"ServiceCode": SERVICE_CODE, "AttributeNames": list(ATTRIBUTES)}]
    wanted = params.get("ServiceCode")
    page, more = _page([s for s in services if wanted in (None, s["ServiceCode"])], params)
    return {"Services": page, "FormatVersion": FORMAT} | more


def get_attribute_values(account: str, params: dict) -> dict:
    name = params["AttributeName"]
    values = sorted({json.loads(d)["product"]["attributes"].get(name) for d in _documents(account)
                     if json.loads(d)["serviceCode"] == params["ServiceCode"]} - {None})
    page, more = _page([{"Value": v} for v in values], params, default=10000)
    return {"AttributeValues": page} | more


_ACTIONS = {"GetProducts": get_products, "DescribeServices": describe_services,
            "GetAttributeValues": get_attribute_values}
